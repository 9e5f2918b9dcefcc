//! What a link does to frames: the per-direction models, the shared settings,
//! their validation, and the named presets of `shared/ESPNOW-FACTS.md`.

use core::fmt;
use core::str::FromStr;

use crate::airtime::{Backoff, PhyRate};
use crate::direction::{Direction, Station};

/// How frames of one direction are lost.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum LossModel {
    /// Nothing is lost.
    #[default]
    Lossless,
    /// Each frame is lost with probability `p`, independently.
    Bernoulli { p: f64 },
    /// Gilbert-Elliott in the tc-netem `gemodel` sense: `p` = P(Good → Bad),
    /// `r` = P(Bad → Good), a frame is lost with probability `k` in Good and
    /// `h` in Bad. Bursts of Bad last 1/r frames on average.
    GilbertElliott { p: f64, r: f64, h: f64, k: f64 },
}

impl LossModel {
    /// The long-run fraction of frames lost: `p` for Bernoulli, and
    /// `p/(p+r)·h + r/(p+r)·k` for Gilbert-Elliott.
    pub fn mean_loss(&self) -> f64 {
        match *self {
            LossModel::Lossless => 0.0,
            LossModel::Bernoulli { p } => p,
            LossModel::GilbertElliott { p, r, h, k } => {
                let bad = p / (p + r);
                bad * h + (1.0 - bad) * k
            }
        }
    }

    fn validate(&self, direction: Direction) -> Result<(), LinkConfigError> {
        match *self {
            LossModel::Lossless => Ok(()),
            LossModel::Bernoulli { p } => check_probability(p, direction, "loss.p"),
            LossModel::GilbertElliott { p, r, h, k } => {
                check_probability(p, direction, "loss.p")?;
                check_probability(r, direction, "loss.r")?;
                check_probability(h, direction, "loss.h")?;
                check_probability(k, direction, "loss.k")?;
                if r == 0.0 {
                    return Err(LinkConfigError::NoRecovery { direction });
                }
                Ok(())
            }
        }
    }
}

/// Frames held back behind later ones.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Reorder {
    /// The probability that a delivered frame is held back.
    pub probability: f64,
    /// The fewest frame slots a held frame waits (at least 1).
    pub min_slots: u8,
    /// The most frame slots a held frame waits; the count is uniform in `min_slots..=max_slots`.
    pub max_slots: u8,
}

impl Reorder {
    /// No reordering.
    pub const NONE: Reorder = Reorder { probability: 0.0, min_slots: 1, max_slots: 4 };
}

impl Default for Reorder {
    fn default() -> Self {
        Reorder::NONE
    }
}

/// The delay between the end of an exchange and the delivery of a frame to
/// the receiving application.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Delay {
    /// The centre of the delay.
    pub base_ns: u64,
    /// The delay is uniform in `base_ns ± jitter_ns`; at most `base_ns`.
    pub jitter_ns: u64,
    /// The probability that a delivery is late by a further `spike_ns`.
    pub spike_probability: f64,
    /// The extra delay of a spike.
    pub spike_ns: u64,
}

/// What the link does to the frames of one direction.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct DirectionConfig {
    /// Loss of data frames, and of the MAC ACKs that travel this way.
    pub loss: LossModel,
    /// The probability that a delivered frame is delivered twice.
    pub duplicate: f64,
    /// Holding delivered frames back behind later ones.
    pub reorder: Reorder,
    /// Delivery delay after the exchange.
    pub delay: Delay,
    /// The signal-to-noise ratio, in dB, frames of this direction arrive
    /// with (and the MAC ACKs that travel this way). With it, a frame is
    /// also lost to noise with the chance ns-3's NIST error-rate model gives
    /// for its rate and length ([`crate::error_rate`]), on top of `loss`;
    /// `None` (every preset): no noise loss, the preset alone.
    pub snr_db: Option<f64>,
}

/// The lowest and highest SNR a link accepts, in dB.
pub const SNR_RANGE_DB: core::ops::RangeInclusive<f64> = -20.0..=80.0;

impl DirectionConfig {
    /// The long-run fraction of frames the loss model drops.
    pub fn mean_loss(&self) -> f64 {
        self.loss.mean_loss()
    }

    /// Checks every parameter; `direction` only names the culprit in the error.
    pub fn validate(&self, direction: Direction) -> Result<(), LinkConfigError> {
        self.loss.validate(direction)?;
        check_probability(self.duplicate, direction, "duplicate")?;
        check_probability(self.reorder.probability, direction, "reorder.probability")?;
        if self.reorder.min_slots == 0 || self.reorder.min_slots > self.reorder.max_slots {
            return Err(LinkConfigError::ReorderRange { direction });
        }
        if self.delay.jitter_ns > self.delay.base_ns {
            return Err(LinkConfigError::JitterExceedsBase { direction });
        }
        check_probability(self.delay.spike_probability, direction, "delay.spike_probability")?;
        if let Some(snr_db) = self.snr_db {
            if !SNR_RANGE_DB.contains(&snr_db) {
                return Err(LinkConfigError::Snr { direction });
            }
        }
        Ok(())
    }
}

fn check_probability(value: f64, direction: Direction, field: &'static str) -> Result<(), LinkConfigError> {
    if (0.0..=1.0).contains(&value) {
        Ok(())
    } else {
        Err(LinkConfigError::Probability { direction, field })
    }
}

/// A time span `[start_ns, end_ns)` in which nothing is delivered either way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Outage {
    pub start_ns: u64,
    pub end_ns: u64,
}

impl Outage {
    /// Whether `time_ns` falls inside the outage.
    pub const fn contains(&self, time_ns: u64) -> bool {
        self.start_ns <= time_ns && time_ns < self.end_ns
    }
}

/// The most outages one link holds; a fixed capacity keeps the crate free of allocation.
pub const MAX_OUTAGES: usize = 32;

/// The scheduled outages of a link, each checked when it is added.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Outages {
    spans: [Outage; MAX_OUTAGES],
    len: usize,
}

impl Outages {
    /// No outages.
    pub const fn new() -> Self {
        Outages { spans: [Outage { start_ns: 0, end_ns: 0 }; MAX_OUTAGES], len: 0 }
    }

    /// Adds the outage `[start_ns, end_ns)`; outages may overlap.
    pub fn push(&mut self, start_ns: u64, end_ns: u64) -> Result<(), LinkConfigError> {
        if start_ns >= end_ns {
            return Err(LinkConfigError::EmptyOutage { start_ns, end_ns });
        }
        let slot = self.spans.get_mut(self.len).ok_or(LinkConfigError::TooManyOutages)?;
        *slot = Outage { start_ns, end_ns };
        self.len += 1;
        Ok(())
    }

    /// The outages, in the order they were added.
    pub fn as_slice(&self) -> &[Outage] {
        &self.spans[..self.len]
    }

    /// Whether any outage covers `time_ns`.
    pub fn contains(&self, time_ns: u64) -> bool {
        self.as_slice().iter().any(|outage| outage.contains(time_ns))
    }
}

/// The default number of dynamic TX buffers of ESP-NOW.
pub const DEFAULT_TX_QUEUE_LIMIT: usize = 32;

/// The most MAC retries the model accepts.
pub const MAX_MAC_RETRIES: u8 = 15;

/// How the sending MAC repeats a unicast frame whose ACK did not come back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum MacRetry {
    /// One air attempt per send: every lost attempt is paid for by the
    /// protocol, as the lower bound assumes.
    Off,
    /// Up to this many extra attempts (at most [`MAX_MAC_RETRIES`]).
    Fixed(u8),
    /// What the ESP32 Wi-Fi driver does: retry limits are fixed in the closed
    /// driver and not configurable; 5 to 11 attempts over about 20 ms are
    /// observed (`shared/ESPNOW-FACTS.md`). Modelled as: after a failed
    /// attempt, try again while fewer than [`MacRetry::CHIP_MIN_ATTEMPTS`]
    /// attempts were made, or while fewer than [`MacRetry::CHIP_MAX_ATTEMPTS`]
    /// were made and less than [`MacRetry::CHIP_WINDOW_NS`] has passed since
    /// the first began. At 1 Mbps with the doubling contention window this
    /// gives 6 attempts (about 22 ms) for a 250-byte frame and 8 for a short
    /// status frame. The rule is inferred from the observed range.
    Chip,
}

impl MacRetry {
    /// The chip's fewest attempts of a frame that is never acknowledged.
    pub const CHIP_MIN_ATTEMPTS: u32 = 5;
    /// The chip's most attempts of one frame.
    pub const CHIP_MAX_ATTEMPTS: u32 = 11;
    /// The span after which the chip stops starting new attempts (once it made the minimum).
    pub const CHIP_WINDOW_NS: u64 = 20_000_000;

    /// Whether another attempt follows `attempts` failed ones that took `elapsed_ns` so far.
    pub const fn retries_after(self, attempts: u32, elapsed_ns: u64) -> bool {
        match self {
            MacRetry::Off => false,
            MacRetry::Fixed(retries) => attempts <= retries as u32,
            MacRetry::Chip => {
                attempts < Self::CHIP_MIN_ATTEMPTS
                    || (attempts < Self::CHIP_MAX_ATTEMPTS && elapsed_ns < Self::CHIP_WINDOW_NS)
            }
        }
    }
}

/// Everything a [`Link`](crate::Link) needs besides the seed.
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct LinkConfig {
    /// Frames from A to B, and the ACKs of frames from B to A.
    pub a_to_b: DirectionConfig,
    /// Frames from B to A, and the ACKs of frames from A to B.
    pub b_to_a: DirectionConfig,
    /// The PHY rate of data frames.
    pub phy_rate: PhyRate,
    /// Mean or sampled backoff before each attempt.
    pub backoff: Backoff,
    /// How a unicast frame whose ACK did not arrive is tried again on the
    /// air. The default is the chip's ([`MacRetry::Chip`]); [`MacRetry::Off`]
    /// gives one attempt per send, for comparisons with the lower bound.
    pub mac_retry: MacRetry,
    /// Frames a station may have queued for the air before a send fails with
    /// `QueueFull`; the simulator's radio adapter applies it through
    /// [`TxQueue`](crate::TxQueue).
    pub tx_queue_limit: usize,
    /// The WiFi channel station A is on (1 to 14).
    pub channel_a: u8,
    /// The WiFi channel station B is on (1 to 14).
    pub channel_b: u8,
    /// Spans in which nothing is delivered in either direction.
    pub outages: Outages,
    /// The chip's software cost per send: a station starts its next frame no
    /// sooner than this after the start of the last one, whatever the
    /// airtime. See [`CHIP_SEND_OVERHEAD_NS`].
    pub send_overhead_ns: u64,
}

/// The per-send software cost of an ESP32, an assumption: about 3,100 to
/// 3,900 ESP-NOW frames per second is the most the chip sends whatever the
/// rate (`shared/ESPNOW-FACTS.md`, "the ESP32's per-frame software cost"),
/// so one send takes the chip about 1 / 3,500 s = 286 µs, the middle of that
/// range. Sends overlap with it (the next frame is prepared while one is on
/// the air): it bounds the frame rate and adds nothing where a frame's
/// airtime is longer, as every frame at 1 Mbps is (at least 304 µs for the
/// ACK alone), so the presets keep their meaning. Unmeasured on our boards.
pub const CHIP_SEND_OVERHEAD_NS: u64 = 1_000_000_000 / 3_500;

impl Default for LinkConfig {
    fn default() -> Self {
        LinkConfig::symmetric(DirectionConfig::default())
    }
}

impl LinkConfig {
    /// A link that treats both directions alike, with every other setting at its default.
    pub const fn symmetric(direction: DirectionConfig) -> Self {
        LinkConfig {
            a_to_b: direction,
            b_to_a: direction,
            phy_rate: PhyRate::Dsss1Mbps,
            backoff: Backoff::Mean,
            mac_retry: MacRetry::Chip,
            tx_queue_limit: DEFAULT_TX_QUEUE_LIMIT,
            channel_a: 1,
            channel_b: 1,
            outages: Outages::new(),
            send_overhead_ns: CHIP_SEND_OVERHEAD_NS,
        }
    }

    /// The settings of one direction.
    pub const fn direction(&self, direction: Direction) -> &DirectionConfig {
        match direction {
            Direction::AToB => &self.a_to_b,
            Direction::BToA => &self.b_to_a,
        }
    }

    /// The settings of one direction, to change.
    pub fn direction_mut(&mut self, direction: Direction) -> &mut DirectionConfig {
        match direction {
            Direction::AToB => &mut self.a_to_b,
            Direction::BToA => &mut self.b_to_a,
        }
    }

    /// The channel of one station.
    pub const fn channel(&self, station: Station) -> u8 {
        match station {
            Station::A => self.channel_a,
            Station::B => self.channel_b,
        }
    }

    /// Checks every setting.
    pub fn validate(&self) -> Result<(), LinkConfigError> {
        for direction in Direction::ALL {
            self.direction(direction).validate(direction)?;
        }
        for station in [Station::A, Station::B] {
            check_channel(station, self.channel(station))?;
        }
        if self.tx_queue_limit == 0 {
            return Err(LinkConfigError::QueueLimitZero);
        }
        if let MacRetry::Fixed(retries) = self.mac_retry {
            if retries > MAX_MAC_RETRIES {
                return Err(LinkConfigError::TooManyRetries { retries });
            }
        }
        Ok(())
    }
}

pub(crate) fn check_channel(station: Station, channel: u8) -> Result<(), LinkConfigError> {
    if (1..=14).contains(&channel) {
        Ok(())
    } else {
        Err(LinkConfigError::Channel { station, channel })
    }
}

/// Why a link configuration was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum LinkConfigError {
    /// a probability is not a number between 0 and 1
    Probability { direction: Direction, field: &'static str },
    /// the Gilbert-Elliott recovery probability r is 0, so a burst would never end
    NoRecovery { direction: Direction },
    /// the delay jitter is larger than the base delay
    JitterExceedsBase { direction: Direction },
    /// the reorder range is empty or starts at 0 slots
    ReorderRange { direction: Direction },
    /// an outage does not end after it starts
    EmptyOutage { start_ns: u64, end_ns: u64 },
    /// more outages than the link holds
    TooManyOutages,
    /// a channel is outside 1 to 14
    Channel { station: Station, channel: u8 },
    /// the transmit queue limit is 0
    QueueLimitZero,
    /// more MAC retries than the model accepts
    TooManyRetries { retries: u8 },
    /// the SNR is not a number of dB within [`SNR_RANGE_DB`]
    Snr { direction: Direction },
}

impl fmt::Display for LinkConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            LinkConfigError::Probability { direction, field } => {
                write!(f, "{direction}: `{field}` is not a probability between 0 and 1")
            }
            LinkConfigError::NoRecovery { direction } => write!(
                f,
                "{direction}: the Gilbert-Elliott recovery probability `loss.r` is 0, so a burst would never end"
            ),
            LinkConfigError::JitterExceedsBase { direction } => {
                write!(f, "{direction}: the delay jitter is larger than the base delay")
            }
            LinkConfigError::ReorderRange { direction } => {
                write!(f, "{direction}: the reorder range must start at 1 slot or more and not end before it starts")
            }
            LinkConfigError::EmptyOutage { start_ns, end_ns } => {
                write!(f, "the outage [{start_ns} ns, {end_ns} ns) does not end after it starts")
            }
            LinkConfigError::TooManyOutages => write!(f, "a link holds at most {MAX_OUTAGES} outages"),
            LinkConfigError::Channel { station, channel } => {
                write!(f, "station {station}: channel {channel} is outside 1 to 14")
            }
            LinkConfigError::QueueLimitZero => f.write_str("the transmit queue limit is 0"),
            LinkConfigError::TooManyRetries { retries } => {
                write!(f, "{retries} MAC retries is more than the {MAX_MAC_RETRIES} the model accepts")
            }
            LinkConfigError::Snr { direction } => write!(
                f,
                "{direction}: `snr_db` is not a number of dB from {} to {}",
                SNR_RANGE_DB.start(),
                SNR_RANGE_DB.end()
            ),
        }
    }
}

impl core::error::Error for LinkConfigError {}

/// The named link models of `shared/ESPNOW-FACTS.md`. Each applies to both
/// directions alike; what the table does not name (delay, say, for `random5`)
/// is left at zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Preset {
    /// No loss, delay 2 ± 1 ms.
    Clean,
    /// Bernoulli loss of 5 %.
    Random5,
    /// Gilbert-Elliott p = 0.05, r = 0.20, h = 1, k = 0: 20 % loss in bursts of 5 frames.
    Bursty20,
    /// Gilbert-Elliott p = 0.10, r = 0.25, h = 1, k = 0.02: 30 % loss.
    Edge30,
    /// 1 % of delivered frames delivered twice.
    Dup1,
    /// 2 % of frames held back 1 to 4 frame slots.
    Reorder,
    /// 2 ms base delay, ± 1 ms jitter, 1 % spikes of + 20 ms.
    Delay,
}

const MS: u64 = 1_000_000;

impl Preset {
    /// Every preset, in the order of the facts table.
    pub const ALL: [Preset; 7] = [
        Preset::Clean,
        Preset::Random5,
        Preset::Bursty20,
        Preset::Edge30,
        Preset::Dup1,
        Preset::Reorder,
        Preset::Delay,
    ];

    /// The name scenario files and reports use.
    pub const fn name(self) -> &'static str {
        match self {
            Preset::Clean => "clean",
            Preset::Random5 => "random5",
            Preset::Bursty20 => "bursty20",
            Preset::Edge30 => "edge30",
            Preset::Dup1 => "dup1",
            Preset::Reorder => "reorder",
            Preset::Delay => "delay",
        }
    }

    /// What the preset does to each direction.
    pub const fn direction_config(self) -> DirectionConfig {
        let none = DirectionConfig {
            loss: LossModel::Lossless,
            duplicate: 0.0,
            reorder: Reorder::NONE,
            delay: Delay { base_ns: 0, jitter_ns: 0, spike_probability: 0.0, spike_ns: 0 },
            snr_db: None,
        };
        match self {
            Preset::Clean => DirectionConfig { delay: Delay { base_ns: 2 * MS, jitter_ns: MS, ..none.delay }, ..none },
            Preset::Random5 => DirectionConfig { loss: LossModel::Bernoulli { p: 0.05 }, ..none },
            Preset::Bursty20 => {
                DirectionConfig { loss: LossModel::GilbertElliott { p: 0.05, r: 0.20, h: 1.0, k: 0.0 }, ..none }
            }
            Preset::Edge30 => {
                DirectionConfig { loss: LossModel::GilbertElliott { p: 0.10, r: 0.25, h: 1.0, k: 0.02 }, ..none }
            }
            Preset::Dup1 => DirectionConfig { duplicate: 0.01, ..none },
            Preset::Reorder => {
                DirectionConfig { reorder: Reorder { probability: 0.02, min_slots: 1, max_slots: 4 }, ..none }
            }
            Preset::Delay => DirectionConfig {
                delay: Delay { base_ns: 2 * MS, jitter_ns: MS, spike_probability: 0.01, spike_ns: 20 * MS },
                ..none
            },
        }
    }

    /// A link with this preset in both directions and every other setting at its default.
    pub const fn config(self) -> LinkConfig {
        LinkConfig::symmetric(self.direction_config())
    }

    /// The documented mean loss, the `p` of the lower bound.
    pub fn mean_loss(self) -> f64 {
        self.direction_config().mean_loss()
    }
}

impl fmt::Display for Preset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A preset name that is not one of the table's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct UnknownPresetError;

impl fmt::Display for UnknownPresetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("unknown link preset, expected one of clean, random5, bursty20, edge30, dup1, reorder, delay")
    }
}

impl core::error::Error for UnknownPresetError {}

impl FromStr for Preset {
    type Err = UnknownPresetError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Preset::ALL.into_iter().find(|preset| preset.name() == s).ok_or(UnknownPresetError)
    }
}
