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
//!   `1 - keep`, more when it holds many outcomes), and the best rate is
//!   chosen anew; the first outcomes fold at once;
//! - every `sample_every`-th frame goes out at another rate, in turn, so that
//!   a rate that got better (or one never tried) is found; a rate not yet
//!   tried is sampled before any other, the fastest first; a rate that could
//!   not beat the best even delivering every frame is not sampled
//!   (Minstrel-HT's rule: a slow rate's sample costs many fast frames' time);
//! - a rate whose probability fell under `min_probability`, or with fewer
//!   than two outcomes, is not chosen as the best, however short its frames;
//!   when no rate qualifies, the controller steps down to the fastest rate
//!   not known to fail whose frames take twice as long, and at the end to
//!   the slowest.
//!
//! The departures from Minstrel suit outcomes that come late and in batches
//! (a status answer tells a poll interval's chunks at once, every few tens
//! of milliseconds) and frames whose cost differs twelvefold between rates
//! (a 1470-byte frame: 12.6 ms at 1 Mbps, 0.35 ms at 54): a wrong guess
//! costs a poll interval of frames at that rate.
//!
//! Where the outcomes come from is the caller's choice: MAC send reports for
//! unicast frames, or the receiver's status bitmap for broadcast chunks
//! (which the MAC never acknowledges): a chunk sent at a rate and reported
//! received counts as delivered.
//!
//! A fixed rate can be configured instead ([`RateController::fixed`]).
//!
//! [`ChunkRates`] is the sender's record of the rate each chunk went at
//! until a status answer tells its fate, and the outcomes it found, per
//! rate, until the caller hands them to its controller.

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
    /// Start at the fastest rate rather than the most robust one. Where
    /// outcomes come late (a status answer tells a poll interval's chunks at
    /// once) and lost frames cost only their airtime, starting fast costs at
    /// most an interval of short frames, starting slow an interval of long
    /// ones: 48 chunks of 1470 bytes take 0.6 s at 1 Mbps, 17 ms at 54.
    pub start_fastest: bool,
}

impl Default for RateConfig {
    fn default() -> Self {
        RateConfig {
            update_interval: Duration::from_millis(100),
            sample_every: 10,
            keep_percent: 75,
            min_probability_ppm: 100_000,
            start_fastest: false,
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
    /// Outcomes reported at this rate, ever.
    pub total_attempts: u64,
    /// Frames picked at this rate, ever: outcomes may come much later (a
    /// status answer tells the fate of a poll interval's chunks at once).
    pub picked: u64,
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
    /// `frame_ns[i]`. It starts at the slowest (the most robust) rate, or
    /// the fastest with [`RateConfig::start_fastest`].
    pub fn new(frame_ns: [u32; N], config: RateConfig) -> Result<Self, RateError> {
        if N == 0 || frame_ns.contains(&0) {
            return Err(RateError::NoRates);
        }
        let rates = frame_ns.map(|frame_ns| RateStats { frame_ns, ..RateStats::default() });
        let mut controller = RateController {
            config: RateConfig { sample_every: config.sample_every.max(2), ..config },
            rates,
            fixed: None,
            best: 0,
            frames: 0,
            next_sample: 0,
            next_update: None,
        };
        controller.best = controller.start_rate();
        Ok(controller)
    }

    /// The rate to start at: the slowest, or the fastest (`start_fastest`).
    fn start_rate(&self) -> usize {
        let cost = |i: &usize| self.rates[*i].frame_ns;
        let pick = if self.config.start_fastest { (0..N).min_by_key(cost) } else { (0..N).max_by_key(cost) };
        pick.unwrap_or(0)
    }

    /// Whether any rate's delivery probability is known yet.
    fn knows_any(&self) -> bool {
        self.rates.iter().any(|rate| rate.probability_ppm.is_some())
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
            // The fastest first: a sample costs its frame's time.
            let untried = (0..N)
                .filter(|&i| self.worth_sampling(i) && self.rates[i].picked == 0)
                .min_by_key(|&i| self.rates[i].frame_ns);
            if let Some(untried) = untried {
                if self.frames.is_multiple_of(2) {
                    return self.picked(untried);
                }
            }
            if self.frames.is_multiple_of(self.config.sample_every) {
                for _ in 0..N {
                    self.next_sample = (self.next_sample + 1) % N;
                    if self.worth_sampling(self.next_sample) {
                        return self.picked(self.next_sample);
                    }
                }
            }
        }
        self.picked(self.best)
    }

    /// Whether rate `index` could beat the best even if it delivered every
    /// frame: a rate that cannot is not sampled (as Minstrel-HT), since a
    /// sample at a slow rate costs many frames' time at the best (a
    /// 1470-byte frame takes 12.6 ms at 1 Mbps, 0.26 ms at 54).
    ///
    /// Before any outcome the best rate counts as delivering every frame:
    /// starting at the fastest rate, nothing is sampled until it proves
    /// worse; afterwards a best rate not measured yet counts as delivering nothing.
    fn worth_sampling(&self, index: usize) -> bool {
        let ideal = |rate: &RateStats| RateStats { probability_ppm: Some(1_000_000), ..*rate }.throughput();
        let best = &self.rates[self.best];
        let to_beat = if self.knows_any() { best.throughput() } else { ideal(best) };
        index != self.best && ideal(&self.rates[index]) > to_beat
    }

    fn picked(&mut self, index: usize) -> usize {
        self.rates[index].picked = self.rates[index].picked.saturating_add(1);
        index
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

    /// `attempts` outcomes of frames sent at rate `index`, `delivered` of them delivered.
    pub fn report_counts(&mut self, index: usize, attempts: u32, delivered: u32) {
        let Some(rate) = self.rates.get_mut(index) else { return };
        let delivered = delivered.min(attempts);
        rate.attempts = rate.attempts.saturating_add(attempts);
        rate.total_attempts = rate.total_attempts.saturating_add(u64::from(attempts));
        rate.delivered = rate.delivered.saturating_add(delivered);
    }

    /// Makes frames at rate `i` cost `frame_ns[i]` from now on (the frame
    /// size changed), keeping what was learnt of each rate's delivery.
    pub fn set_frame_ns(&mut self, frame_ns: [u32; N]) -> Result<(), RateError> {
        if frame_ns.contains(&0) {
            return Err(RateError::NoRates);
        }
        for (rate, frame_ns) in self.rates.iter_mut().zip(frame_ns) {
            rate.frame_ns = frame_ns;
        }
        if self.fixed.is_none() && !self.knows_any() {
            self.best = self.start_rate();
        }
        Ok(())
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
        // The first outcomes fold at once, and so does the first outcome of a
        // best rate not measured yet (the descent after a failed one): until
        // then the choice is a guess. A new best that delivered it stays best
        // until it has MIN_OUTCOMES (below); one that lost it is left.
        let best = &self.rates[self.best];
        let first = (!self.knows_any() && self.rates.iter().any(|rate| rate.attempts > 0))
            || (best.probability_ppm.is_none() && best.attempts > 0);
        if now < due && !first {
            return;
        }
        self.next_update = Some(now + self.config.update_interval);
        let keep = u64::from(self.config.keep_percent.min(100));
        for rate in &mut self.rates {
            if rate.attempts == 0 {
                continue;
            }
            let measured = (u64::from(rate.delivered) * 1_000_000 / u64::from(rate.attempts)) as u32;
            // An interval of many outcomes weighs more than `1 - keep`: the
            // sender learns a poll interval's chunks at once, and a rate
            // that lost most of them should not stay best for many intervals.
            let attempts = u64::from(rate.attempts);
            let weight = (100 - keep).max(100 * attempts / (attempts + CONFIDENT_OUTCOMES));
            rate.probability_ppm = Some(match rate.probability_ppm {
                None => measured,
                Some(old) => ((u64::from(old) * (100 - weight) + u64::from(measured) * weight) / 100) as u32,
            });
            rate.attempts = 0;
            rate.delivered = 0;
        }
        // One lucky sample does not make a rate the best.
        let delivers = |rate: &RateStats| rate.probability_ppm.is_some_and(|p| p >= self.config.min_probability_ppm);
        let usable = |rate: &RateStats| rate.total_attempts >= MIN_OUTCOMES && delivers(rate);
        let best = &self.rates[self.best];
        let unconfirmed = best.total_attempts < MIN_OUTCOMES && delivers(best);
        if let Some(best) = (0..N).filter(|&i| usable(&self.rates[i])).max_by_key(|&i| self.rates[i].throughput()) {
            self.best = best;
        } else if unconfirmed {
            // The best delivered what it sent, too few to be usable yet: it
            // stays (a descent from a rate that gets through is a loss).
        } else if let Some(slower) = (0..N)
            .filter(|&i| self.rates[i].frame_ns / 2 >= self.rates[self.best].frame_ns)
            .filter(|&i| self.rates[i].probability_ppm.is_none_or(|p| p >= self.config.min_probability_ppm))
            .min_by_key(|&i| self.rates[i].frame_ns)
        {
            // Nothing known gets through: the fastest rate not known to fail
            // whose frames take twice as long as the best's did (a descent
            // by halves: a round at a rate that fails costs a poll interval,
            // one at the slowest rate twelve times the fast one's).
            self.best = slower;
        } else if let Some(slowest) = (0..N).max_by_key(|&i| self.rates[i].frame_ns) {
            // Nothing gets through: fall back to the most robust rate.
            self.best = slowest;
        }
    }
}

/// Outcomes a rate needs before it can be the best.
const MIN_OUTCOMES: u64 = 2;

/// Outcomes in one interval at which it weighs half the probability.
const CONFIDENT_OUTCOMES: u64 = 8;

/// Rate indices [`ChunkRates`] counts outcomes for (0 to 23).
pub const MAX_RATES: usize = 24;

/// Chunk sends [`ChunkRates`] remembers: a poll interval's worth (48) and
/// what goes after the poll while its answer is awaited, with room to spare.
pub const CHUNK_RATES_CAPACITY: usize = 128;

/// The outcomes found for one rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct RateOutcome {
    pub attempts: u16,
    pub delivered: u16,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct ChunkSend {
    index: u16,
    rate: u8,
    /// The chunk went again later: a report of it received may be that later copy's.
    superseded: bool,
}

/// The rate of each chunk sent since the last answered poll, and the outcomes
/// status answers gave them (see [`crate::sender::Sender::note_rate`]).
///
/// Broadcast chunks get no MAC acknowledgement, so the receiver's bitmap is
/// what tells whether a chunk sent at a rate arrived: a chunk sent before a
/// poll and reported received counts as delivered at its rate, one reported
/// missing as lost. A chunk sent more than once before the answer (a
/// speculative repeat) counts as lost at each rate when missing, and as
/// delivered only at the last copy's rate when received (which copy arrived
/// cannot be told). Sends beyond the status's reach, or pushed out of the
/// record when it is full, count as nothing. 4 bytes a send, 512 in all,
/// and 96 for the outcomes.
#[derive(Debug, Clone)]
pub struct ChunkRates {
    sends: [ChunkSend; CHUNK_RATES_CAPACITY],
    len: usize,
    /// The sends before this one went before the outstanding poll.
    polled: usize,
    outcomes: [RateOutcome; MAX_RATES],
}

impl Default for ChunkRates {
    fn default() -> Self {
        Self::new()
    }
}

impl ChunkRates {
    pub const fn new() -> Self {
        ChunkRates {
            sends: [ChunkSend { index: 0, rate: 0, superseded: false }; CHUNK_RATES_CAPACITY],
            len: 0,
            polled: 0,
            outcomes: [RateOutcome { attempts: 0, delivered: 0 }; MAX_RATES],
        }
    }

    /// Chunk `index` went at rate `rate`; returns whether it was recorded
    /// (a rate from [`MAX_RATES`] on is not).
    pub fn record(&mut self, index: u16, rate: u8) -> bool {
        if usize::from(rate) >= MAX_RATES {
            return false;
        }
        for send in &mut self.sends[..self.len] {
            if send.index == index {
                send.superseded = true;
            }
        }
        if self.len == CHUNK_RATES_CAPACITY {
            // The oldest send is forgotten: no outcome is better than a guess.
            self.sends.copy_within(1.., 0);
            self.len -= 1;
            self.polled = self.polled.saturating_sub(1);
        }
        self.sends[self.len] = ChunkSend { index, rate, superseded: false };
        self.len += 1;
        true
    }

    /// Forgets the last send recorded (the radio refused it).
    pub fn unrecord_last(&mut self) {
        self.len = self.len.saturating_sub(1);
        self.polled = self.polled.min(self.len);
    }

    /// A poll went: every send so far is one its answer tells.
    pub fn polled(&mut self) {
        self.polled = self.len;
    }

    /// The answer to the outstanding poll: `received(index)` is whether chunk
    /// `index` arrived, `None` beyond the answer's reach. Every send before
    /// the poll gets its outcome and is forgotten.
    pub fn resolve(&mut self, received: impl Fn(u16) -> Option<bool>) {
        for send in &self.sends[..self.polled] {
            let Some(arrived) = received(send.index) else { continue };
            if arrived && send.superseded {
                continue;
            }
            let outcome = &mut self.outcomes[usize::from(send.rate)];
            outcome.attempts = outcome.attempts.saturating_add(1);
            if arrived {
                outcome.delivered = outcome.delivered.saturating_add(1);
            }
        }
        self.sends.copy_within(self.polled..self.len, 0);
        self.len -= self.polled;
        self.polled = 0;
    }

    /// Forgets every send (the transfer starts over); the outcomes stay.
    pub fn clear(&mut self) {
        self.len = 0;
        self.polled = 0;
    }

    /// The outcomes found since the last call, by rate index.
    pub fn take_outcomes(&mut self) -> [RateOutcome; MAX_RATES] {
        core::mem::take(&mut self.outcomes)
    }

    /// Sends recorded and not yet resolved.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
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
        let eager = RateConfig { start_fastest: true, ..RateConfig::default() };
        assert_eq!(RateController::new(FRAMES, eager).unwrap().best(), 2, "or at the fastest");
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

    /// After the fastest rate fails, the descent's new best is judged on its
    /// first outcome at once (no update interval's wait), and a best that
    /// delivered, though on too few outcomes to be usable, is not left for a
    /// slower rate.
    #[test]
    fn a_new_best_is_judged_at_once_and_kept_while_it_delivers() {
        let eager = RateConfig { start_fastest: true, ..RateConfig::default() };
        let t = Instant::from_millis(1);
        let mut controller = RateController::new([200_000, 90_000, 40_000], eager).unwrap();
        controller.report_counts(2, 8, 0);
        controller.pick(t);
        assert_eq!(controller.best(), 1, "54 failed: 11 Mbps, whose frames take twice as long");
        controller.report_counts(1, 1, 1);
        controller.pick(t);
        assert_eq!(controller.stats()[1].probability_ppm, Some(1_000_000), "folded at once");
        assert_eq!(controller.best(), 1, "one delivered chunk: still 11 Mbps");
        let mut controller = RateController::new([200_000, 90_000, 40_000], eager).unwrap();
        controller.report_counts(2, 8, 0);
        controller.pick(t);
        controller.report_counts(1, 1, 0);
        controller.pick(t);
        assert_eq!(controller.best(), 0, "11 Mbps lost its first chunk too: down to 1 Mbps");
    }

    #[test]
    fn sampling_takes_about_one_frame_in_ten() {
        let mut controller = RateController::new(FRAMES, RateConfig::default()).unwrap();
        // 11 Mbps is best; 54 Mbps, lossy, could beat it and is sampled.
        drive(&mut controller, [1.0, 1.0, 0.5], Instant::ZERO, 10_000);
        assert_eq!(controller.best(), 1);
        let total: u64 = controller.stats().iter().map(|r| r.total_attempts).sum();
        let best = controller.stats()[controller.best()].total_attempts;
        let share = 1.0 - best as f64 / total as f64;
        assert!((0.08..0.15).contains(&share), "{share}");
        // 1 Mbps could not beat 11 even delivering every frame: once 11 is best, it is never sampled.
        let slowest = controller.stats()[0].picked;
        drive(&mut controller, [1.0, 1.0, 0.5], Instant::from_millis(3_000), 10_000);
        assert_eq!(controller.stats()[0].picked, slowest, "{:?}", controller.stats());
        // With every rate delivering, the fastest is best and nothing is worth a sample.
        let mut clean = RateController::new(FRAMES, RateConfig::default()).unwrap();
        let now = drive(&mut clean, [1.0, 1.0, 1.0], Instant::ZERO, 2_000);
        assert_eq!(clean.best(), 2);
        let others = clean.stats()[0].picked + clean.stats()[1].picked;
        drive(&mut clean, [1.0, 1.0, 1.0], now, 10_000);
        assert_eq!(clean.stats()[0].picked + clean.stats()[1].picked, others, "{:?}", clean.stats());
    }

    #[test]
    fn chunk_rates_turn_a_status_answer_into_outcomes_per_rate() {
        let mut rates = ChunkRates::new();
        rates.record(0, 2);
        rates.record(1, 2);
        rates.record(2, 5);
        rates.record(3, 5);
        rates.record(2, 7); // a repeat of chunk 2 at another rate
        rates.record(4, 1);
        rates.unrecord_last(); // refused by the radio
        rates.polled();
        rates.record(9, 5); // after the poll: the answer cannot tell
                            // The receiver has 0 and 2; 1 and 3 are missing.
        rates.resolve(|index| {
            [Some(true), Some(false), Some(true), Some(false)].get(usize::from(index)).copied().flatten()
        });
        let outcomes = rates.take_outcomes();
        assert_eq!(outcomes[2], RateOutcome { attempts: 2, delivered: 1 });
        // Chunk 2's first copy at rate 5 may or may not have arrived: only the miss of chunk 3 counts.
        assert_eq!(outcomes[5], RateOutcome { attempts: 1, delivered: 0 });
        assert_eq!(outcomes[7], RateOutcome { attempts: 1, delivered: 1 });
        assert_eq!(outcomes[1], RateOutcome::default());
        assert_eq!(rates.len(), 1, "the send after the poll waits for the next answer");
        assert_eq!(rates.take_outcomes(), [RateOutcome::default(); MAX_RATES]);
        // Out-of-range rates are not recorded; a full record forgets its oldest send.
        rates.record(10, MAX_RATES as u8);
        assert_eq!(rates.len(), 1);
        for index in 0..CHUNK_RATES_CAPACITY as u16 + 5 {
            rates.record(index, 0);
        }
        assert_eq!(rates.len(), CHUNK_RATES_CAPACITY);
    }

    #[test]
    fn counted_reports_fold_like_single_ones() {
        let mut one = RateController::new(FRAMES, RateConfig::default()).unwrap();
        let mut many = one.clone();
        for delivered in [true, true, false, true] {
            one.report(2, delivered);
        }
        many.report_counts(2, 4, 3);
        assert_eq!(one.stats(), many.stats());
        assert_eq!(many.set_frame_ns([1, 0, 1]), Err(RateError::NoRates));
        many.set_frame_ns([3, 2, 1]).unwrap();
        assert_eq!(many.stats()[2].frame_ns, 1);
        // Before any outcome, new costs move the start: the slowest is now rate 0.
        let mut fresh = RateController::new(FRAMES, RateConfig::default()).unwrap();
        fresh.set_frame_ns([1, 2, 3]).unwrap();
        assert_eq!(fresh.best(), 2);
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
