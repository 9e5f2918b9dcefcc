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

/// A PHY rate per peer, for up to `N` peers (the oldest entry gives way).
///
/// A driver such as esp-radio applies a peer's rate when a frame is handed
/// to it, not when the node queues the frame, so a rate set by the node
/// between two queued frames would reach frames queued before it. The chip
/// adapter keeps two tables: the node's side records the rate asked for
/// each peer and stamps it on every frame it queues; the pump's side records
/// the rate the driver has, and sets a frame's rate only when it differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerRates<const N: usize> {
    entries: [Option<(MacAddress, PhyRate)>; N],
    /// The entry replaced next when the table is full.
    oldest: usize,
}

impl<const N: usize> PeerRates<N> {
    pub const fn new() -> Self {
        PeerRates { entries: [None; N], oldest: 0 }
    }

    /// The rate recorded for `peer`, if any.
    pub fn get(&self, peer: MacAddress) -> Option<PhyRate> {
        self.entries.iter().flatten().find(|(address, _)| *address == peer).map(|(_, rate)| *rate)
    }

    /// Records `rate` for `peer`, in place of its earlier one or of the oldest entry.
    pub fn set(&mut self, peer: MacAddress, rate: PhyRate) {
        if N == 0 {
            return;
        }
        let slot = self
            .entries
            .iter()
            .position(|entry| entry.is_some_and(|(address, _)| address == peer))
            .or_else(|| self.entries.iter().position(Option::is_none));
        let slot = slot.unwrap_or_else(|| {
            let oldest = self.oldest;
            self.oldest = (oldest + 1) % N;
            oldest
        });
        self.entries[slot] = Some((peer, rate));
    }

    /// Forgets every peer's rate (the driver's peer table changed, and a
    /// peer added again has the driver's default rate).
    pub fn clear(&mut self) {
        *self = Self::new();
    }
}

impl<const N: usize> Default for PeerRates<N> {
    fn default() -> Self {
        Self::new()
    }
}
