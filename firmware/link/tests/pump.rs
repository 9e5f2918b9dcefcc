//! The radio pump's schedule over a fake ESP-NOW driver: a receive queue of
//! ten frames that drops the oldest when full (as esp-radio's does), sends
//! that take a while each, and a node whose send queue never runs dry (a
//! camera streaming chunks).

use std::collections::VecDeque;

use nowcam_link::{PumpSchedule, PumpStep};

/// esp-radio 1.0.0-beta.1's receive queue (`RECEIVE_QUEUE_SIZE`).
const DRIVER_QUEUE: usize = 10;

#[derive(Debug, Default, PartialEq, Eq)]
struct Outcome {
    sent: u32,
    forwarded: u32,
    dropped: u32,
    /// The most sends in a row while a received frame waited.
    longest_receive_wait_in_sends: u32,
    /// The most forwards in a row while a send waited.
    longest_send_wait_in_forwards: u32,
}

/// How long things take, in ticks of 100 µs.
struct Timing {
    arrival_every: u32,
    send: u32,
    forward: u32,
}

/// Runs a pump for `ticks` with `timing`; `decide` picks each step.
fn run(ticks: u32, timing: Timing, mut decide: impl FnMut(bool, bool) -> PumpStep) -> Outcome {
    let Timing { arrival_every, send: send_ticks, forward: forward_ticks } = timing;
    let mut queue: VecDeque<u32> = VecDeque::new();
    let mut outcome = Outcome::default();
    let mut now = 0;
    let mut next_arrival = 0;
    let (mut sends_in_a_row, mut forwards_in_a_row) = (0, 0);
    let mut arrive_until = |queue: &mut VecDeque<u32>, until: u32, dropped: &mut u32| {
        while next_arrival <= until {
            if queue.len() == DRIVER_QUEUE {
                queue.pop_front();
                *dropped += 1;
            }
            queue.push_back(next_arrival);
            next_arrival += arrival_every;
        }
    };
    while now < ticks {
        arrive_until(&mut queue, now, &mut outcome.dropped);
        match decide(!queue.is_empty(), true) {
            PumpStep::Forward => {
                queue.pop_front().expect("forwarded only what is waiting");
                outcome.forwarded += 1;
                forwards_in_a_row += 1;
                sends_in_a_row = 0;
                outcome.longest_send_wait_in_forwards = outcome.longest_send_wait_in_forwards.max(forwards_in_a_row);
                now += forward_ticks;
            }
            PumpStep::Send => {
                if !queue.is_empty() {
                    sends_in_a_row += 1;
                    outcome.longest_receive_wait_in_sends = outcome.longest_receive_wait_in_sends.max(sends_in_a_row);
                }
                forwards_in_a_row = 0;
                outcome.sent += 1;
                now += send_ticks;
            }
            PumpStep::Wait => now += 1,
        }
    }
    outcome
}

/// What the pump did before: `select` with the send queue polled first.
fn send_first(received_waiting: bool, send_waiting: bool) -> PumpStep {
    match (received_waiting, send_waiting) {
        (_, true) => PumpStep::Send,
        (true, false) => PumpStep::Forward,
        (false, false) => PumpStep::Wait,
    }
}

#[test]
fn status_answers_get_through_while_the_node_streams() {
    // A chunk takes 2 ms on the air (20 ticks of 100 µs); the receiver's
    // answers come every 10 ms; one second.
    let mut schedule = PumpSchedule::new(DRIVER_QUEUE as u32);
    let timing = || Timing { arrival_every: 100, send: 20, forward: 0 };
    let fair = run(10_000, timing(), |received, send| schedule.next(received, send));
    assert_eq!(fair.dropped, 0);
    assert_eq!(fair.forwarded, 100);
    assert_eq!(fair.sent, 500);
    assert!(fair.longest_receive_wait_in_sends <= 1, "{fair:?}");

    // Sending first never reads a frame while the node keeps its queue
    // full: the driver's queue overflows and every answer is lost.
    let old = run(10_000, timing(), send_first);
    assert_eq!(old.forwarded, 0);
    assert_eq!(old.dropped, 100 - DRIVER_QUEUE as u32);
}

#[test]
fn a_flood_of_received_frames_does_not_starve_sending() {
    // A frame arrives every tick, as fast as the pump hands them on: the
    // driver's queue never empties.
    let mut schedule = PumpSchedule::new(DRIVER_QUEUE as u32);
    let timing = Timing { arrival_every: 1, send: 5, forward: 1 };
    let outcome = run(15_000, timing, |received, send| schedule.next(received, send));
    assert_eq!(outcome.longest_send_wait_in_forwards, DRIVER_QUEUE as u32);
    // Ten forwards and one send every 15 ticks.
    assert_eq!(outcome.sent, 1_000);
    assert_eq!(outcome.forwarded, 10_000);
}

#[test]
fn a_burst_of_one_alternates_and_nothing_waiting_waits() {
    let mut schedule = PumpSchedule::new(0);
    let steps: Vec<PumpStep> = (0..4).map(|_| schedule.next(true, true)).collect();
    assert_eq!(steps, [PumpStep::Forward, PumpStep::Send, PumpStep::Forward, PumpStep::Send]);
    assert_eq!(schedule.next(false, false), PumpStep::Wait);
    assert_eq!(schedule.next(false, true), PumpStep::Send);
    assert_eq!(schedule.next(true, false), PumpStep::Forward);
}

/// A driver that applies a peer's rate when a frame is handed to it (as
/// the chip adapter assumes of esp-radio's `esp_now_send`), a node that
/// changes rates between queued frames (as the camera's rate controller does
/// per chunk), and the chip adapter's two tables between them: the node's
/// side stamps each queued frame with the rate asked for its destination
/// ([`PeerRates`]), the pump asks [`AppliedRates`] what to set before each
/// send, as `RadioPump::apply_rate` does. Every frame must go at the rate
/// asked when it was queued, with the driver's rate set only when it changes,
/// and set again after the driver's peer table changed or a set failed.
mod peer_rates {
    use std::collections::{HashMap, VecDeque};

    use nowcam_link::{AppliedRates, PeerRates};
    use nowcam_ports::{MacAddress, PhyRate};

    const RECEIVER: MacAddress = MacAddress::new([2, 0, 0, 0, 0, 1]);

    #[derive(Default)]
    struct Driver {
        rates: HashMap<MacAddress, PhyRate>,
        rate_sets: u32,
        /// Sets to refuse, counted down (as the blob refuses a rate it cannot use).
        refuse: u32,
        /// Each frame sent: its tag and the rate it went at.
        sent: Vec<(u32, PhyRate)>,
    }

    impl Driver {
        fn set_peer_rate(&mut self, peer: MacAddress, rate: PhyRate) -> Result<(), ()> {
            if self.refuse > 0 {
                self.refuse -= 1;
                return Err(());
            }
            self.rates.insert(peer, rate);
            self.rate_sets += 1;
            Ok(())
        }

        fn send(&mut self, destination: MacAddress, tag: u32) {
            let rate = self.rates.get(&destination).copied().unwrap_or(PhyRate::Dsss1Mbps);
            self.sent.push((tag, rate));
        }

        /// The adapter removed peers from the driver's table: they come back at the default rate.
        fn forget_peers(&mut self) {
            self.rates.clear();
        }
    }

    struct Adapter {
        wanted: PeerRates<4>,
        applied: AppliedRates<4>,
        /// `PEER_TABLE_CHANGES`: the node's side counts the peers it removed.
        peer_table: u32,
        queue: VecDeque<(MacAddress, u32, Option<PhyRate>)>,
        failures: u32,
    }

    impl Adapter {
        fn new() -> Self {
            Adapter {
                wanted: PeerRates::new(),
                applied: AppliedRates::new(),
                peer_table: 0,
                queue: VecDeque::new(),
                failures: 0,
            }
        }

        fn queue(&mut self, destination: MacAddress, tag: u32) {
            self.queue.push_back((destination, tag, self.wanted.get(destination)));
        }

        fn pump_one(&mut self, driver: &mut Driver) {
            let (destination, tag, asked) = self.queue.pop_front().expect("a queued frame");
            if let Some(rate) = self.applied.to_set(destination, asked, self.peer_table) {
                match driver.set_peer_rate(destination, rate) {
                    Ok(()) => self.applied.done(destination, rate),
                    Err(()) => self.failures += 1,
                }
            }
            driver.send(destination, tag);
        }
    }

    #[test]
    fn every_frame_goes_at_the_rate_asked_when_it_was_queued() {
        let mut driver = Driver::default();
        let mut adapter = Adapter::new();
        let pattern = [PhyRate::Ofdm54Mbps, PhyRate::Ofdm54Mbps, PhyRate::Ofdm18Mbps, PhyRate::Ofdm54Mbps];
        let mut asked = Vec::new();
        for tag in 0..40u32 {
            let rate = pattern[tag as usize % pattern.len()];
            adapter.wanted.set(MacAddress::BROADCAST, rate);
            adapter.queue(MacAddress::BROADCAST, tag);
            asked.push((tag, rate));
            // The pump lags the node by up to four frames, as a send queue does.
            if adapter.queue.len() > 4 {
                adapter.pump_one(&mut driver);
            }
            if tag == 20 {
                // The node's side made room in the driver's peer table.
                driver.forget_peers();
                adapter.peer_table += 1;
            }
        }
        while !adapter.queue.is_empty() {
            adapter.pump_one(&mut driver);
        }
        assert_eq!(driver.sent, asked);
        // One set per change of rate, not one per frame: the first frame, two
        // changes in each of the ten patterns, and once more after the
        // driver forgot its peers.
        assert_eq!(driver.rate_sets, 1 + 2 * 10 + 1);
        assert_eq!(adapter.failures, 0);
    }

    #[test]
    fn a_refused_rate_is_counted_and_tried_again_with_the_next_frame() {
        let mut driver = Driver { refuse: 1, ..Driver::default() };
        let mut adapter = Adapter::new();
        adapter.wanted.set(RECEIVER, PhyRate::Ofdm24Mbps);
        for tag in 0..3 {
            adapter.queue(RECEIVER, tag);
        }
        for _ in 0..3 {
            adapter.pump_one(&mut driver);
        }
        // The refused frame went at the driver's rate; the next one set it.
        let expected = [(0, PhyRate::Dsss1Mbps), (1, PhyRate::Ofdm24Mbps), (2, PhyRate::Ofdm24Mbps)];
        assert_eq!(driver.sent, expected);
        assert_eq!((adapter.failures, driver.rate_sets), (1, 1));
    }

    #[test]
    fn a_frame_queued_before_any_rate_was_asked_leaves_the_driver_alone() {
        let mut applied = AppliedRates::<4>::new();
        assert_eq!(applied.to_set(RECEIVER, None, 0), None);
        assert_eq!(applied.to_set(RECEIVER, Some(PhyRate::Cck11Mbps), 0), Some(PhyRate::Cck11Mbps));
        applied.done(RECEIVER, PhyRate::Cck11Mbps);
        assert_eq!(applied.to_set(RECEIVER, Some(PhyRate::Cck11Mbps), 0), None);
        assert_eq!(applied.to_set(RECEIVER, Some(PhyRate::Cck11Mbps), 1), Some(PhyRate::Cck11Mbps), "peers removed");
    }

    #[test]
    fn peers_keep_their_own_rates_and_the_one_set_longest_ago_gives_way() {
        let mut rates = PeerRates::<2>::new();
        assert_eq!(rates.get(RECEIVER), None);
        rates.set(RECEIVER, PhyRate::Cck11Mbps);
        rates.set(MacAddress::BROADCAST, PhyRate::Ofdm54Mbps);
        rates.set(RECEIVER, PhyRate::Ofdm24Mbps);
        assert_eq!(rates.get(RECEIVER), Some(PhyRate::Ofdm24Mbps));
        assert_eq!(rates.get(MacAddress::BROADCAST), Some(PhyRate::Ofdm54Mbps));
        let third = MacAddress::new([2, 0, 0, 0, 0, 3]);
        rates.set(third, PhyRate::Ofdm6Mbps);
        assert_eq!(rates.get(third), Some(PhyRate::Ofdm6Mbps));
        assert_eq!(rates.get(MacAddress::BROADCAST), None, "the broadcast entry was set longest ago");
        assert_eq!(rates.get(RECEIVER), Some(PhyRate::Ofdm24Mbps), "the receiver's was set again since");
        rates.clear();
        assert_eq!(rates.get(third), None);
    }
}
