//! The PHY rate of the camera's frames: left alone, fixed, or adapted per
//! chunk by the protocol's Minstrel-style controller (`nowcam_proto::rate`).
//!
//! The controller knows the rates only by what a frame costs at each, which
//! the composition root computes (the link model's airtime tables, on the
//! host and on the chip alike) and hands over in [`RateCosts`]: the cost of a
//! 250-byte and of a 1470-byte frame at every rate of [`AUTO_RATES`]; a chunk
//! frame in between costs what the straight line between the two says
//! (airtime grows with the length by whole symbols, so the line is within a
//! symbol of the truth).
//!
//! Where the outcomes come from: chunks go to the broadcast address, which
//! the MAC never acknowledges, so the transfer records the rate each chunk
//! went at and the receiver's status answers tell which arrived
//! (`nowcam_proto::rate::ChunkRates`). The other frames go at the
//! controller's best rate once it is known to get through; offers, and
//! every frame while a poll is unanswered, go at 1 Mbps, so that a link that
//! fell below the best rate still carries the answer that tells the controller. Unicast send reports are not used: the
//! chip's MAC retries a unicast frame at least five times, so an
//! acknowledged report says little of one attempt at its rate, and counting
//! only the unacknowledged ones would bias every rate downwards.

use nowcam_ports::radio::V1_MAX_FRAME_LEN;
use nowcam_ports::{MacAddress, PhyRate, Radio, SendError};
use nowcam_proto::rate::{RateConfig, RateController, RateOutcome, RateStats, MAX_RATES};
use nowcam_proto::time::Instant;

/// How many rates the controller chooses among.
pub const AUTO_RATE_COUNT: usize = 12;

/// The rates the controller chooses among: the DSSS and CCK, then ERP-OFDM
/// rates of [`PhyRate::ALL`], each slowest first (the HT rates gain little
/// over 54 Mbps once the chip's per-send cost is counted, and every
/// candidate costs samples).
pub const AUTO_RATES: [PhyRate; AUTO_RATE_COUNT] = {
    let mut rates = [PhyRate::Dsss1Mbps; AUTO_RATE_COUNT];
    let mut i = 0;
    while i < AUTO_RATE_COUNT {
        rates[i] = PhyRate::ALL[i];
        i += 1;
    }
    rates
};
const _: () = assert!(
    !PhyRate::ALL[AUTO_RATE_COUNT - 1].is_ht() && PhyRate::ALL[AUTO_RATE_COUNT].is_ht(),
    "AUTO_RATES are every rate of PhyRate::ALL before the HT ones"
);

const _: () = assert!(AUTO_RATE_COUNT <= MAX_RATES);

/// Chunks between two status requests while the controller's best rate has
/// no outcome yet (see [`Rates::poll_interval`]). A status round
/// costs two short frames at 1 Mbps, about 1 ms; a 1470-byte chunk at 54
/// Mbps with the chip's per-send cost about 0.55 ms.
pub const LEARNING_POLL_INTERVAL: u16 = 8;

/// How often the camera's controller folds the outcomes it got into each
/// rate's delivery probability. Minstrel's 100 ms suits a driver that learns
/// from every frame's ACK; the camera learns a poll interval of chunks at
/// once, from each status answer, and a 100 KB image takes 0.1 to 0.2 s at
/// the faster rates, so a 100 ms interval would fold a transfer's samples
/// once or twice.
pub const CAMERA_UPDATE_INTERVAL: nowcam_proto::time::Duration = nowcam_proto::time::Duration::from_millis(20);

/// The largest frame the costs are given for (ESP-NOW v2).
const V2_FRAME_LEN: usize = 1470;

/// What one chunk frame costs at each of [`AUTO_RATES`], and how the controller learns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct RateCosts {
    /// A 250-byte frame at each rate, in nanoseconds.
    pub v1_frame_ns: [u32; AUTO_RATE_COUNT],
    /// A 1470-byte frame at each rate, in nanoseconds.
    pub v2_frame_ns: [u32; AUTO_RATE_COUNT],
    pub config: RateConfig,
}

impl RateCosts {
    /// The costs from `frame_ns(rate, frame_len)`, what one frame of
    /// `frame_len` bytes costs at `rate` (on the host and on the chip: the
    /// link model's broadcast airtime, or the chip's per-send time where
    /// that is longer).
    pub fn new(frame_ns: impl Fn(PhyRate, usize) -> u32, config: RateConfig) -> Self {
        RateCosts {
            v1_frame_ns: AUTO_RATES.map(|rate| frame_ns(rate, V1_MAX_FRAME_LEN)),
            v2_frame_ns: AUTO_RATES.map(|rate| frame_ns(rate, V2_FRAME_LEN)),
            config,
        }
    }

    /// The camera's controller, on the host and on the chip alike: costs
    /// from `frame_ns` (see [`RateCosts::new`]; the link model's
    /// `airtime::broadcast_send_ns`), starting at the fastest rate and
    /// folding outcomes every [`CAMERA_UPDATE_INTERVAL`].
    pub fn camera(frame_ns: impl Fn(PhyRate, usize) -> u32) -> Self {
        let config =
            RateConfig { start_fastest: true, update_interval: CAMERA_UPDATE_INTERVAL, ..RateConfig::default() };
        Self::new(frame_ns, config)
    }

    /// What a frame of `frame_len` bytes costs at each rate (see the module documentation).
    pub fn at(&self, frame_len: usize) -> [u32; AUTO_RATE_COUNT] {
        let len = frame_len.clamp(V1_MAX_FRAME_LEN, V2_FRAME_LEN) as u64;
        let span = (V2_FRAME_LEN - V1_MAX_FRAME_LEN) as u64;
        core::array::from_fn(|i| {
            let (short, long) = (u64::from(self.v1_frame_ns[i]), u64::from(self.v2_frame_ns[i]));
            let weight = len - V1_MAX_FRAME_LEN as u64;
            ((short * (span - weight) + long * weight) / span).max(1) as u32
        })
    }
}

/// The rate of the camera's frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum RateMode {
    /// The radio's own rate: the node never sets one (ESP-NOW's 1 Mbps on
    /// the chip; the link's configured rate in the simulator).
    #[default]
    Radio,
    /// Every frame at this rate, set once for the receiver and the broadcast address.
    Fixed(PhyRate),
    /// Each chunk at the rate the controller picks among [`AUTO_RATES`];
    /// the other transfer frames at its best rate, probes at 1 Mbps.
    Auto(RateCosts),
}

/// What the node keeps for its rates.
pub(crate) struct Rates {
    mode: RateMode,
    controller: Option<RateController<AUTO_RATE_COUNT>>,
    /// The frame length the controller's costs are for.
    costed_len: usize,
    /// The rate set for the broadcast address and for the receiver (ESP-NOW's default until set).
    broadcast: PhyRate,
    unicast: Option<(MacAddress, PhyRate)>,
    /// The radio refused to set a rate: frames stay at its own.
    unsupported: bool,
    /// Times the radio failed to set a rate it supports (the frames went at
    /// the rate it had): counted, so that a rate that never takes shows.
    pub(crate) set_failures: u32,
    /// Chunks sent at each of [`AUTO_RATES`] (auto mode).
    chunks: [u32; AUTO_RATE_COUNT],
}

impl Rates {
    pub(crate) fn new(mode: RateMode) -> Self {
        let controller = match mode {
            RateMode::Auto(costs) => RateController::new(costs.at(V1_MAX_FRAME_LEN), costs.config).ok(),
            _ => None,
        };
        Rates {
            mode,
            controller,
            costed_len: V1_MAX_FRAME_LEN,
            broadcast: PhyRate::Dsss1Mbps,
            unicast: None,
            unsupported: false,
            set_failures: 0,
            chunks: [0; AUTO_RATE_COUNT],
        }
    }

    pub(crate) fn controller(&self) -> Option<&RateController<AUTO_RATE_COUNT>> {
        self.controller.as_ref()
    }

    pub(crate) fn chunks(&self) -> [u32; AUTO_RATE_COUNT] {
        self.chunks
    }

    /// The chunk frames are now `frame_len` bytes: the controller's costs follow.
    pub(crate) fn set_frame_len(&mut self, frame_len: usize) {
        if frame_len == self.costed_len {
            return;
        }
        if let (RateMode::Auto(costs), Some(controller)) = (self.mode, &mut self.controller) {
            if controller.set_frame_ns(costs.at(frame_len)).is_ok() {
                self.costed_len = frame_len;
            }
        }
    }

    /// Hands the outcomes a transfer found to the controller.
    /// Whether a controller learns from the transfers' outcomes (auto mode).
    pub(crate) fn learns(&self) -> bool {
        self.controller.is_some()
    }

    pub(crate) fn report(&mut self, outcomes: &[RateOutcome; MAX_RATES]) {
        let Some(controller) = &mut self.controller else { return };
        for (index, outcome) in outcomes.iter().enumerate().take(AUTO_RATE_COUNT) {
            if outcome.attempts > 0 {
                controller.report_counts(index, u32::from(outcome.attempts), u32::from(outcome.delivered));
            }
        }
    }

    /// The rate for a chunk: the fixed one, or the controller's pick (sampling included).
    fn chunk_rate(&mut self, now: Instant) -> Option<PhyRate> {
        match self.mode {
            RateMode::Radio => None,
            RateMode::Fixed(rate) => Some(rate),
            RateMode::Auto(_) => {
                let index = self.controller.as_mut().map_or(0, |controller| controller.pick(now));
                Some(AUTO_RATES[index])
            }
        }
    }

    /// The rate for a frame that is not a chunk: the fixed one, or the
    /// controller's best once its delivery is known; 1 Mbps when `robust`
    /// (an offer, or the receiver has not answered a poll: if the best rate
    /// no longer gets through, a poll at it would never be answered and the
    /// controller never learn so).
    fn steady_rate(&self, robust: bool) -> Option<PhyRate> {
        match self.mode {
            RateMode::Radio => None,
            RateMode::Fixed(rate) => Some(rate),
            RateMode::Auto(_) => {
                // The best rate only once it is known to get through.
                let best = self.controller.as_ref().map(|c| c.best()).filter(|&best| {
                    self.controller.as_ref().is_some_and(|c| c.stats()[best].probability_ppm.is_some())
                });
                Some(best.filter(|_| !robust).map_or(PhyRate::Dsss1Mbps, |best| AUTO_RATES[best]))
            }
        }
    }

    /// The rate for probes: the fixed one, or the most robust while looking for a receiver.
    fn probe_rate(&self) -> Option<PhyRate> {
        match self.mode {
            RateMode::Radio => None,
            RateMode::Fixed(rate) => Some(rate),
            RateMode::Auto(_) => Some(PhyRate::Dsss1Mbps),
        }
    }

    /// The rate set for `peer` so far, if the node knows it: for the
    /// broadcast address and the last unicast peer it set. Another peer may
    /// still have a rate set earlier (the radio keeps one per peer), so its
    /// rate is unknown, not ESP-NOW's default.
    fn current(&self, peer: MacAddress) -> Option<PhyRate> {
        if peer.is_broadcast() {
            return Some(self.broadcast);
        }
        match self.unicast {
            Some((address, rate)) if address == peer => Some(rate),
            _ => None,
        }
    }

    /// Sets `rate` for `peer` through the radio unless it is known to be set
    /// already; returns the rate frames to `peer` go at now (the asked one,
    /// or on failure the one set before, 1 Mbps when unknown).
    fn apply(&mut self, radio: &mut impl Radio, peer: MacAddress, rate: PhyRate) -> PhyRate {
        let known = self.current(peer);
        let current = known.unwrap_or(PhyRate::Dsss1Mbps);
        if self.unsupported || known == Some(rate) {
            return current;
        }
        match radio.set_rate(peer, rate) {
            Ok(()) => {
                if peer.is_broadcast() {
                    self.broadcast = rate;
                } else {
                    self.unicast = Some((peer, rate));
                }
                rate
            }
            Err(error) => {
                if error == SendError::Unsupported {
                    self.unsupported = true;
                } else {
                    self.set_failures = self.set_failures.saturating_add(1);
                }
                current
            }
        }
    }

    /// Puts the radio at the rate for a chunk to `peer`; returns the index
    /// of [`AUTO_RATES`] the chunk goes at, for the transfer's record.
    pub(crate) fn before_chunk(&mut self, radio: &mut impl Radio, peer: MacAddress, now: Instant) -> Option<u8> {
        let rate = self.chunk_rate(now)?;
        let applied = self.apply(radio, peer, rate);
        let index = AUTO_RATES.iter().position(|candidate| *candidate == applied)?;
        (self.controller.is_some() && !self.unsupported).then_some(index as u8)
    }

    /// A chunk at rate `index` (from [`Rates::before_chunk`]) was handed to the radio.
    pub(crate) fn chunk_sent(&mut self, index: u8) {
        if let Some(count) = self.chunks.get_mut(usize::from(index)) {
            *count = count.saturating_add(1);
        }
    }

    /// Puts the radio at the rate for another transfer, telemetry or control
    /// frame to `peer`; `robust` while a poll is unanswered (see `steady_rate`).
    pub(crate) fn before_frame(&mut self, radio: &mut impl Radio, peer: MacAddress, robust: bool) {
        if let Some(rate) = self.steady_rate(robust) {
            self.apply(radio, peer, rate);
        }
    }

    /// Puts the radio at the rate for a probe.
    pub(crate) fn before_probe(&mut self, radio: &mut impl Radio) {
        if let Some(rate) = self.probe_rate() {
            self.apply(radio, MacAddress::BROADCAST, rate);
        }
    }

    /// Chunks between two status requests: `interval`, or
    /// [`LEARNING_POLL_INTERVAL`] while the controller's best rate (the one
    /// its chunks go at outside samples) has no outcome yet: a new
    /// transfer's first rate, or the next one down after it failed.
    /// Outcomes come only with status answers, so a rate that does not get
    /// through would otherwise cost a whole interval of chunks before the
    /// controller hears of it (48 chunks of 1470 bytes at 54 Mbps on a 10 dB
    /// link: all lost).
    pub(crate) fn poll_interval(&self, interval: u16) -> u16 {
        let learning = self.controller.as_ref().is_some_and(|c| c.stats()[c.best()].probability_ppm.is_none());
        if learning && !self.unsupported {
            interval.min(LEARNING_POLL_INTERVAL)
        } else {
            interval
        }
    }

    /// What the controller knows of each rate (auto mode).
    pub(crate) fn stats(&self) -> Option<&[RateStats; AUTO_RATE_COUNT]> {
        self.controller.as_ref().map(RateController::stats)
    }
}

#[cfg(test)]
mod tests {
    use nowcam_ports::radio::MAX_FRAME_LEN;
    use nowcam_ports::{Received, SendHandle, SendReport};

    use super::*;

    /// A radio that keeps a rate per peer, as esp-radio's driver does, and
    /// records every `set_rate`.
    #[derive(Default)]
    struct PeerRateRadio {
        sets: heapless::Vec<(MacAddress, PhyRate), 16>,
    }

    impl Radio for PeerRateRadio {
        fn address(&self) -> MacAddress {
            MacAddress::new([2, 0, 0, 0, 0, 9])
        }
        fn send(&mut self, _: MacAddress, _: &[u8]) -> Result<SendHandle, SendError> {
            Ok(SendHandle(0))
        }
        fn poll_send_report(&mut self) -> Option<SendReport> {
            None
        }
        fn may_have_frames(&self) -> bool {
            false
        }
        fn receive(&mut self, _: &mut [u8; MAX_FRAME_LEN]) -> Option<Received> {
            None
        }
        fn channel(&self) -> u8 {
            1
        }
        fn set_channel(&mut self, _: u8) -> Result<(), SendError> {
            Ok(())
        }
        fn set_rate(&mut self, peer: MacAddress, rate: PhyRate) -> Result<(), SendError> {
            self.sets.push((peer, rate)).map_err(|_| SendError::Driver)
        }
    }

    /// A camera that talked to receiver A at 54 Mbps, then to B, and comes
    /// back to A: A's offer must be set to 1 Mbps again, since the radio
    /// still holds A's 54 (the node remembers one unicast peer's rate).
    #[test]
    fn a_peer_met_again_gets_its_rate_set_again() {
        let (a, b) = (MacAddress::new([2, 0, 0, 0, 0, 1]), MacAddress::new([2, 0, 0, 0, 0, 2]));
        let mut rates = Rates::new(RateMode::Fixed(PhyRate::Ofdm54Mbps));
        let mut radio = PeerRateRadio::default();
        assert_eq!(rates.apply(&mut radio, a, PhyRate::Ofdm54Mbps), PhyRate::Ofdm54Mbps);
        assert_eq!(rates.apply(&mut radio, a, PhyRate::Ofdm54Mbps), PhyRate::Ofdm54Mbps);
        assert_eq!(rates.apply(&mut radio, b, PhyRate::Ofdm54Mbps), PhyRate::Ofdm54Mbps);
        assert_eq!(rates.apply(&mut radio, a, PhyRate::Dsss1Mbps), PhyRate::Dsss1Mbps);
        let sets: &[(MacAddress, PhyRate)] = &radio.sets;
        assert_eq!(sets, [(a, PhyRate::Ofdm54Mbps), (b, PhyRate::Ofdm54Mbps), (a, PhyRate::Dsss1Mbps)]);
    }
}
