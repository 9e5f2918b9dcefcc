//! The order in which a radio pump serves the air.
//!
//! ESP-NOW drivers send one frame at a time and report each send from an
//! interrupt, while frames keep arriving into a small receive queue of the
//! driver's own (esp-radio: 10 frames, the oldest dropped when full). A pump
//! task moves frames between that driver and the node's queues. If it always
//! served sending first, a sender streaming chunks would keep it sending
//! while the status answers it waits for overflowed the driver's queue.
//!
//! [`PumpSchedule`] is the rule, kept apart from the driver so that the host
//! tests it (as is [`PeerRates`], the rate each peer's frames go at): received frames go first, but never more than `burst` of them
//! in a row while a frame waits to be sent, so a flood of incoming frames
//! cannot starve sending either. With `burst` at least the driver's queue
//! depth, a full driver queue is always drained before the next send.

use nowcam_ports::{MacAddress, PhyRate};

/// What the pump does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum PumpStep {
    /// Hand the oldest received frame to the node.
    Forward,
    /// Send the oldest frame the node queued.
    Send,
    /// Nothing waits: sleep until a frame arrives or the node queues one.
    Wait,
}

/// The pump's scheduling rule: receiving first, sending at least once every `burst + 1` steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PumpSchedule {
    burst: u32,
    forwarded_in_a_row: u32,
}

impl PumpSchedule {
    /// At most `burst` (at least one) received frames are forwarded in a row while a send waits.
    pub const fn new(burst: u32) -> Self {
        PumpSchedule { burst: if burst == 0 { 1 } else { burst }, forwarded_in_a_row: 0 }
    }

    /// The next step, given whether a received frame and a frame to send are waiting.
    pub fn next(&mut self, received_waiting: bool, send_waiting: bool) -> PumpStep {
        match (received_waiting, send_waiting) {
            (true, true) if self.forwarded_in_a_row >= self.burst => {
                self.forwarded_in_a_row = 0;
                PumpStep::Send
            }
            (true, _) => {
                self.forwarded_in_a_row = self.forwarded_in_a_row.saturating_add(1);
                PumpStep::Forward
            }
            (false, true) => {
                self.forwarded_in_a_row = 0;
                PumpStep::Send
            }
            (false, false) => PumpStep::Wait,
        }
    }
}

/// A PHY rate per peer, for up to `N` peers (the one set longest ago gives way).
///
/// A driver such as esp-radio keeps a rate per peer, set with
/// `set_peer_rate`; the chip adapter assumes it is read when a frame is
/// handed to the driver (`esp_now_send`), not when the node queues the
/// frame, so a rate set by the node between two queued frames would reach
/// frames queued before it. The adapter keeps two tables: the node's side
/// records the rate asked for each peer and stamps it on every frame it
/// queues; the pump's side, [`AppliedRates`], records what the driver has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerRates<const N: usize> {
    /// Each peer, its rate, and when it was set (by `clock`).
    entries: [Option<(MacAddress, PhyRate, u32)>; N],
    clock: u32,
}

impl<const N: usize> PeerRates<N> {
    pub const fn new() -> Self {
        PeerRates { entries: [None; N], clock: 0 }
    }

    /// The rate recorded for `peer`, if any.
    pub fn get(&self, peer: MacAddress) -> Option<PhyRate> {
        self.entries.iter().flatten().find(|(address, ..)| *address == peer).map(|(_, rate, _)| *rate)
    }

    /// Records `rate` for `peer`, in place of its earlier one, in a free
    /// entry, or in place of the entry set longest ago.
    pub fn set(&mut self, peer: MacAddress, rate: PhyRate) {
        let slot = self
            .entries
            .iter()
            .position(|entry| entry.is_some_and(|(address, ..)| address == peer))
            .or_else(|| self.entries.iter().position(Option::is_none))
            .or_else(|| (0..N).min_by_key(|&i| self.entries[i].map_or(0, |(.., set)| set)));
        let Some(slot) = slot else { return };
        self.clock = self.clock.wrapping_add(1);
        self.entries[slot] = Some((peer, rate, self.clock));
    }

    /// Forgets every peer's rate.
    pub fn clear(&mut self) {
        *self = Self::new();
    }
}

impl<const N: usize> Default for PeerRates<N> {
    fn default() -> Self {
        Self::new()
    }
}

/// The rates a driver holds for its peers, as the radio pump set them:
/// before handing the driver a frame, the pump asks [`AppliedRates::to_set`]
/// whether the frame's rate must be set first, and tells
/// [`AppliedRates::done`] when the driver took it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AppliedRates<const N: usize> {
    rates: PeerRates<N>,
    /// The driver's peer-table changes (removals) when `rates` was last true.
    peer_table: u32,
}

impl<const N: usize> AppliedRates<N> {
    pub const fn new() -> Self {
        AppliedRates { rates: PeerRates::new(), peer_table: 0 }
    }

    /// The rate to set for `peer` before handing it a frame queued with
    /// `asked` (`None`: the node never asked one), if the driver may not have
    /// it. `peer_table` counts the peers removed from the driver's table so
    /// far: a peer added again has the driver's default rate, so any change
    /// forgets what was set.
    pub fn to_set(&mut self, peer: MacAddress, asked: Option<PhyRate>, peer_table: u32) -> Option<PhyRate> {
        if peer_table != self.peer_table {
            self.rates.clear();
            self.peer_table = peer_table;
        }
        let asked = asked?;
        (self.rates.get(peer) != Some(asked)).then_some(asked)
    }

    /// The driver took `rate` for `peer` (a failed set leaves the entry as it
    /// was, so the next frame tries again).
    pub fn done(&mut self, peer: MacAddress, rate: PhyRate) {
        self.rates.set(peer, rate);
    }
}
