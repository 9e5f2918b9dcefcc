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
