//! Rate adaptation for the sender, Minstrel-style, sans-IO.
//!
//! The controller knows its candidate rates only by what one frame costs at
//! each (the airtime of the frame size in use plus any fixed per-send cost,
//! which the caller computes: `nowcam-link`'s airtime tables on the host,
//! the same numbers on the chip). It learns each rate's delivery
//! probability from what the caller reports, and picks the rate with the
//! best expected throughput, `p / airtime`, as Linux's Minstrel does:
//!
//! - outcomes are counted per rate; every `update_interval` the counts fold
//!   into an exponentially weighted probability (the new interval weighs
//!   `1 - keep`), and the best rate is chosen anew;
//! - every `sample_every`-th frame goes out at another rate, in turn, so that
//!   a rate that got better (or one never tried) is found; a rate not yet
//!   tried is sampled before any other;
//! - a rate whose probability fell under `min_probability` is not chosen as
//!   the best, however short its frames.
//!
//! Where the outcomes come from is the caller's choice: MAC send reports for
//! unicast frames, or the receiver's status bitmap for broadcast chunks
//! (which the MAC never acknowledges): a chunk sent at a rate and reported
//! received counts as delivered.
//!
//! A fixed rate can be configured instead ([`RateController::fixed`]).

use crate::time::{Duration, Instant};

/// How the controller learns and samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct RateConfig {
    /// How often the counts fold into the probabilities and the best rate is chosen again.
    pub update_interval: Duration,
    /// One frame in this many goes out at a sample rate (10: Minstrel's 10 %).
    pub sample_every: u32,
    /// The weight of the old probability, in percent (Minstrel: 75).
    pub keep_percent: u32,
    /// Rates delivering less than this (parts per million) are never the best.
    pub min_probability_ppm: u32,
}

impl Default for RateConfig {
    fn default() -> Self {
        RateConfig {
            update_interval: Duration::from_millis(100),
            sample_every: 10,
            keep_percent: 75,
            min_probability_ppm: 100_000,
        }
    }
}

/// What the controller knows of one rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct RateStats {
    /// What one frame costs at this rate, in nanoseconds.
    pub frame_ns: u32,
    /// Outcomes reported since the last update.
    pub attempts: u32,
    pub delivered: u32,
    /// The weighted delivery probability, in parts per million; `None` before the first outcome.
    pub probability_ppm: Option<u32>,
    /// Frames sent at this rate, ever.
    pub total_attempts: u64,
}

impl RateStats {
    /// Expected delivered frames per second at this rate (0 when unknown).
    pub fn throughput(&self) -> u64 {
        match self.probability_ppm {
            Some(ppm) if self.frame_ns > 0 => u64::from(ppm) * 1_000 / u64::from(self.frame_ns),
            _ => 0,
        }
    }
}

/// Why a controller cannot be made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum RateError {
    /// no candidate rate, or a rate whose frames take no time
    NoRates,
    /// the fixed rate's index is not a candidate
    UnknownRate,
}

/// Picks the rate of each frame from the outcomes reported (see the module documentation).
#[derive(Debug, Clone)]
pub struct RateController<const N: usize> {
    config: RateConfig,
    rates: [RateStats; N],
    fixed: Option<usize>,
    best: usize,
    frames: u32,
    next_sample: usize,
    next_update: Option<Instant>,
}

impl<const N: usize> RateController<N> {
    /// An adaptive controller over `N` rates, one frame at rate `i` costing
    /// `frame_ns[i]`. It starts at the slowest (the most robust) rate.
    pub fn new(frame_ns: [u32; N], config: RateConfig) -> Result<Self, RateError> {
        if N == 0 || frame_ns.contains(&0) {
            return Err(RateError::NoRates);
        }
        let rates = frame_ns.map(|frame_ns| RateStats { frame_ns, ..RateStats::default() });
        let slowest = (0..N).max_by_key(|&i| frame_ns[i]).unwrap_or(0);
        Ok(RateController {
            config: RateConfig { sample_every: config.sample_every.max(2), ..config },
            rates,
            fixed: None,
            best: slowest,
            frames: 0,
            next_sample: 0,
            next_update: None,
        })
    }

    /// A controller that always answers rate `index`.
    pub fn fixed(frame_ns: [u32; N], index: usize) -> Result<Self, RateError> {
        let mut controller = Self::new(frame_ns, RateConfig::default())?;
        if index >= N {
            return Err(RateError::UnknownRate);
        }
        controller.fixed = Some(index);
        controller.best = index;
        Ok(controller)
    }

    /// The rate for the next frame.
    pub fn pick(&mut self, now: Instant) -> usize {
        if let Some(index) = self.fixed {
            return index;
        }
        self.update_if_due(now);
        self.frames = self.frames.wrapping_add(1);
        if N > 1 {
            // A rate never tried goes first; then one frame in `sample_every`.
            if let Some(untried) = (0..N).find(|&i| i != self.best && self.rates[i].total_attempts == 0) {
                if self.frames.is_multiple_of(2) {
                    return untried;
                }
            }
            if self.frames.is_multiple_of(self.config.sample_every) {
                self.next_sample = (self.next_sample + 1) % N;
                if self.next_sample == self.best {
                    self.next_sample = (self.next_sample + 1) % N;
                }
                return self.next_sample;
            }
        }
        self.best
    }

    /// The outcome of a frame sent at rate `index`.
    pub fn report(&mut self, index: usize, delivered: bool) {
        let Some(rate) = self.rates.get_mut(index) else { return };
        rate.attempts = rate.attempts.saturating_add(1);
        rate.total_attempts = rate.total_attempts.saturating_add(1);
        if delivered {
            rate.delivered = rate.delivered.saturating_add(1);
        }
    }

    /// The rate frames go out at outside sampling.
    pub fn best(&self) -> usize {
        self.best
    }

    /// What the controller knows of each rate.
    pub fn stats(&self) -> &[RateStats; N] {
        &self.rates
    }

    fn update_if_due(&mut self, now: Instant) {
        let due = *self.next_update.get_or_insert(now + self.config.update_interval);
        if now < due {
            return;
        }
        self.next_update = Some(now + self.config.update_interval);
        let keep = u64::from(self.config.keep_percent.min(100));
        for rate in &mut self.rates {
            if rate.attempts == 0 {
                continue;
            }
            let measured = (u64::from(rate.delivered) * 1_000_000 / u64::from(rate.attempts)) as u32;
            rate.probability_ppm = Some(match rate.probability_ppm {
                None => measured,
                Some(old) => ((u64::from(old) * keep + u64::from(measured) * (100 - keep)) / 100) as u32,
            });
            rate.attempts = 0;
            rate.delivered = 0;
        }
        let usable = |rate: &RateStats| rate.probability_ppm.is_some_and(|p| p >= self.config.min_probability_ppm);
        if let Some(best) = (0..N).filter(|&i| usable(&self.rates[i])).max_by_key(|&i| self.rates[i].throughput()) {
            self.best = best;
        } else if let Some(slowest) = (0..N).max_by_key(|&i| self.rates[i].frame_ns) {
            // Nothing gets through: fall back to the most robust rate.
            self.best = slowest;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Frames of 1, 11 and 54 Mbps (250-byte broadcast frames, µs → ns).
    const FRAMES: [u32; 3] = [2_641_500, 500_000, 286_000];

    /// Drives the controller over a channel that delivers a frame at rate
    /// `i` with probability `success[i]` (deterministically: a running sum
    /// per rate), one frame every 300 µs of virtual time.
    fn drive(controller: &mut RateController<3>, success: [f64; 3], from: Instant, frames: u32) -> Instant {
        let mut now = from;
        let mut owed = [0.0f64; 3];
        for _ in 0..frames {
            let rate = controller.pick(now);
            owed[rate] += success[rate];
            let delivered = owed[rate] >= 1.0;
            if delivered {
                owed[rate] -= 1.0;
            }
            controller.report(rate, delivered);
            now += Duration::from_micros(300);
        }
        now
    }

    #[test]
    fn it_settles_on_the_best_expected_throughput_and_follows_a_change() {
        let mut controller = RateController::new(FRAMES, RateConfig::default()).unwrap();
        assert_eq!(controller.best(), 0, "it starts at the most robust rate");
        // 54 Mbps loses most frames: 11 Mbps delivers the most per second.
        let now = drive(&mut controller, [1.0, 0.9, 0.1], Instant::ZERO, 5_000);
        assert_eq!(controller.best(), 1, "{:?}", controller.stats());
        // The signal gets better: 54 Mbps is found by sampling.
        let now = drive(&mut controller, [1.0, 1.0, 0.95], now, 5_000);
        assert_eq!(controller.best(), 2, "{:?}", controller.stats());
        // Worse again: only 1 Mbps gets through.
        drive(&mut controller, [1.0, 0.0, 0.0], now, 5_000);
        assert_eq!(controller.best(), 0, "{:?}", controller.stats());
    }

    #[test]
    fn sampling_takes_about_one_frame_in_ten() {
        let mut controller = RateController::new(FRAMES, RateConfig::default()).unwrap();
        drive(&mut controller, [1.0, 1.0, 1.0], Instant::ZERO, 10_000);
        let total: u64 = controller.stats().iter().map(|r| r.total_attempts).sum();
        let best = controller.stats()[controller.best()].total_attempts;
        let share = 1.0 - best as f64 / total as f64;
        assert!((0.08..0.15).contains(&share), "{share}");
    }

    #[test]
    fn a_fixed_rate_is_kept_and_bad_input_refused() {
        let mut controller = RateController::fixed(FRAMES, 1).unwrap();
        drive(&mut controller, [1.0, 0.0, 1.0], Instant::ZERO, 2_000);
        assert_eq!(controller.pick(Instant::from_millis(999)), 1);
        assert_eq!(RateController::fixed(FRAMES, 3).err(), Some(RateError::UnknownRate));
        assert_eq!(RateController::new([0, 1, 2], RateConfig::default()).err(), Some(RateError::NoRates));
        assert_eq!(RateController::<0>::new([], RateConfig::default()).err(), Some(RateError::NoRates));
    }
}
