//! The air between boards that have no radio of their own: virtual boards
//! and Wokwi simulations send their frames as test-console messages, and the
//! relay decides, through the host link model, which board receives each
//! frame, when, and what the sender's send report says.
//!
//! Sans-IO: the caller owns the clock and the ports. It hands every
//! `Transmit` to [`Relay::transmit`] with the time since the run began, and
//! carries out the returned [`Action`]s when they fall due.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use nowcam_link::{Direction, Link, LinkConfig, LinkConfigError};
use nowcam_proto::MacAddress;
use nowcam_sim::setup::mix;

/// A board as the relay sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RelayNode {
    pub address: MacAddress,
    pub channel: u8,
}

/// Something the caller must do at `due_ns`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Hand `data` to board `to` as a received frame (`RadioDeliver`).
    Deliver { to: usize, source: MacAddress, destination: MacAddress, data: Vec<u8> },
    /// Tell board `to` how its send `handle` ended (`RadioReport`).
    Report { to: usize, handle: u32, acknowledged: bool },
}

#[derive(Debug, PartialEq, Eq)]
struct Scheduled {
    due_ns: u64,
    sequence: u64,
    action: Action,
}

impl Ord for Scheduled {
    /// Reversed, so that the max-heap pops the earliest; ties keep their order.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.due_ns, other.sequence).cmp(&(self.due_ns, self.sequence))
    }
}

impl PartialOrd for Scheduled {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Counters of everything the relay carried.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct RelayCounters {
    pub frames_sent: u64,
    pub frames_lost: u64,
    pub frames_duplicated: u64,
    /// Unicast frames to an address no linked board has.
    pub frames_unroutable: u64,
}

struct Pair {
    a: usize,
    b: usize,
    link: Link,
}

/// The link model between boards, one seeded [`Link`] per linked pair.
pub struct Relay {
    nodes: Vec<RelayNode>,
    pairs: Vec<Pair>,
    scheduled: BinaryHeap<Scheduled>,
    sequence: u64,
    /// When the air of each channel (index 1 to 14) is free again: frames of every
    /// board on a channel take it one after another, as on a half-duplex medium.
    air_free_ns: [u64; 15],
    counters: RelayCounters,
}

impl Relay {
    /// A relay between `nodes`; `pairs` lists (A, B) = (sender, receiver)
    /// index pairs, each linked with `config` and its own seed derived from `seed`.
    pub fn new(
        nodes: Vec<RelayNode>,
        pairs: &[(usize, usize)],
        config: LinkConfig,
        seed: u64,
    ) -> Result<Relay, LinkConfigError> {
        let mut linked = Vec::with_capacity(pairs.len());
        for (k, &(a, b)) in pairs.iter().enumerate() {
            let mut pair_config = config;
            pair_config.channel_a = nodes.get(a).map_or(1, |n| n.channel);
            pair_config.channel_b = nodes.get(b).map_or(1, |n| n.channel);
            let link = Link::new(pair_config, mix(seed, k as u64))?;
            linked.push(Pair { a, b, link });
        }
        Ok(Relay {
            nodes,
            pairs: linked,
            scheduled: BinaryHeap::new(),
            sequence: 0,
            air_free_ns: [0; 15],
            counters: RelayCounters::default(),
        })
    }

    pub fn counters(&self) -> RelayCounters {
        self.counters
    }

    /// Board `from` put a frame on its serial radio at `now_ns`.
    pub fn transmit(&mut self, now_ns: u64, from: usize, handle: u32, destination: MacAddress, data: &[u8]) {
        let Some(sender) = self.nodes.get(from).copied() else { return };
        let channel = usize::from(sender.channel).min(14);
        let start_ns = now_ns.max(self.air_free_ns[channel]);
        let broadcast = destination == MacAddress::BROADCAST;
        let mut acknowledged = broadcast;
        let mut end_ns = start_ns;
        let mut routed = false;
        let mut deliveries = Vec::new();
        self.counters.frames_sent += 1;
        for pair in &mut self.pairs {
            let (to, direction) = if pair.a == from {
                (pair.b, Direction::AToB)
            } else if pair.b == from {
                (pair.a, Direction::BToA)
            } else {
                continue;
            };
            let receiver = self.nodes[to];
            if !broadcast && receiver.address != destination {
                continue;
            }
            routed = true;
            let Ok(transmission) = pair.link.transmit(start_ns, direction, data.len(), broadcast) else {
                continue;
            };
            end_ns = end_ns.max(start_ns + transmission.airtime_ns);
            if !broadcast {
                acknowledged = transmission.acknowledged;
            }
            if !transmission.delivered() {
                self.counters.frames_lost += 1;
            }
            for delivery in transmission.deliveries() {
                if delivery.duplicate {
                    self.counters.frames_duplicated += 1;
                }
                let due = start_ns + transmission.airtime_ns + delivery.delay_ns;
                deliveries
                    .push((due, Action::Deliver { to, source: sender.address, destination, data: data.to_vec() }));
            }
        }
        for (due, action) in deliveries {
            self.schedule(due, action);
        }
        if !routed && !broadcast {
            self.counters.frames_unroutable += 1;
        }
        self.air_free_ns[channel] = end_ns;
        self.schedule(end_ns, Action::Report { to: from, handle, acknowledged });
    }

    /// The next action due at or before `now_ns`, earliest first.
    pub fn due(&mut self, now_ns: u64) -> Option<Action> {
        if self.scheduled.peek().is_some_and(|s| s.due_ns <= now_ns) {
            self.scheduled.pop().map(|s| s.action)
        } else {
            None
        }
    }

    /// When the next action falls due, if any is scheduled.
    pub fn next_due_ns(&self) -> Option<u64> {
        self.scheduled.peek().map(|s| s.due_ns)
    }

    fn schedule(&mut self, due_ns: u64, action: Action) {
        self.sequence += 1;
        self.scheduled.push(Scheduled { due_ns, sequence: self.sequence, action });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nowcam_link::{DirectionConfig, LossModel};

    fn nodes() -> Vec<RelayNode> {
        (0..3u8).map(|k| RelayNode { address: MacAddress([0x02, 0, 0, 0, 0, k]), channel: 1 }).collect()
    }

    fn drain(relay: &mut Relay) -> Vec<Action> {
        std::iter::from_fn(|| relay.due(u64::MAX)).collect()
    }

    #[test]
    fn a_lossless_unicast_frame_reaches_only_its_destination_and_is_acknowledged() {
        let mut relay = Relay::new(nodes(), &[(0, 2), (1, 2)], LinkConfig::default(), 7).unwrap();
        relay.transmit(0, 0, 5, MacAddress([0x02, 0, 0, 0, 0, 2]), b"frame");
        let actions = drain(&mut relay);
        assert_eq!(actions.len(), 2);
        assert!(matches!(&actions[0], Action::Deliver { to: 2, data, .. } if data == b"frame"));
        assert_eq!(actions[1], Action::Report { to: 0, handle: 5, acknowledged: true });
    }

    #[test]
    fn a_frame_to_an_unlinked_address_is_not_acknowledged() {
        let mut relay = Relay::new(nodes(), &[(0, 2)], LinkConfig::default(), 7).unwrap();
        relay.transmit(0, 0, 1, MacAddress([0x02, 0, 0, 0, 0, 1]), b"x");
        assert_eq!(drain(&mut relay), vec![Action::Report { to: 0, handle: 1, acknowledged: false }]);
        assert_eq!(relay.counters().frames_unroutable, 1);
    }

    #[test]
    fn a_broadcast_reaches_every_linked_board_on_the_channel() {
        let mut all = nodes();
        all[1].channel = 6;
        let mut relay = Relay::new(all, &[(0, 2), (1, 2)], LinkConfig::default(), 7).unwrap();
        relay.transmit(0, 2, 9, MacAddress::BROADCAST, b"probe");
        let delivered: Vec<usize> = drain(&mut relay)
            .into_iter()
            .filter_map(|a| match a {
                Action::Deliver { to, .. } => Some(to),
                _ => None,
            })
            .collect();
        assert_eq!(delivered, vec![0], "board 1 listens on channel 6");
    }

    #[test]
    fn a_total_loss_link_delivers_nothing_and_reports_failure() {
        let lossy =
            LinkConfig::symmetric(DirectionConfig { loss: LossModel::Bernoulli { p: 1.0 }, ..Default::default() });
        let mut relay = Relay::new(nodes(), &[(0, 2)], lossy, 7).unwrap();
        relay.transmit(0, 0, 3, MacAddress([0x02, 0, 0, 0, 0, 2]), b"x");
        assert_eq!(drain(&mut relay), vec![Action::Report { to: 0, handle: 3, acknowledged: false }]);
        assert_eq!(relay.counters().frames_lost, 1);
    }

    #[test]
    fn boards_on_one_channel_share_its_air() {
        let mut relay = Relay::new(nodes(), &[(0, 2), (1, 2)], LinkConfig::default(), 7).unwrap();
        let to = MacAddress([0x02, 0, 0, 0, 0, 2]);
        relay.transmit(0, 0, 1, to, &[0; 250]);
        relay.transmit(0, 1, 1, to, &[0; 250]);
        let mut reports = Vec::new();
        while let Some(due) = relay.next_due_ns() {
            if let Some(Action::Report { to, .. }) = relay.due(due) {
                reports.push((to, due));
            }
        }
        assert_eq!(reports.len(), 2);
        assert!(reports[1].1 >= 2 * reports[0].1 - 1, "the second board waits for the first: {reports:?}");
    }

    #[test]
    fn frames_of_one_board_take_the_air_one_after_another() {
        let mut relay = Relay::new(nodes(), &[(0, 2)], LinkConfig::default(), 7).unwrap();
        let to = MacAddress([0x02, 0, 0, 0, 0, 2]);
        relay.transmit(0, 0, 1, to, &[0; 250]);
        relay.transmit(0, 0, 2, to, &[0; 250]);
        let first = relay.next_due_ns().unwrap();
        assert!(first > 1_000_000, "a 250-byte frame at 1 Mbps holds the air for over 2 ms");
        let mut reports = Vec::new();
        while let Some(due) = relay.next_due_ns() {
            if let Some(Action::Report { handle, .. }) = relay.due(due) {
                reports.push((handle, due));
            }
        }
        assert_eq!(reports.len(), 2);
        assert!(reports[1].1 >= 2 * reports[0].1 - 1, "{reports:?}");
    }
}
