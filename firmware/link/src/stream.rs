//! Seeded random streams, one per direction, and the loss-model state that
//! consumes them.
//!
//! Every decision draws the same number of values whatever the configuration,
//! so changing one parameter (say the duplication probability) does not shift
//! the draws behind another (the loss pattern) for the same seed.

use rand_core::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

use crate::config::LossModel;
use crate::direction::Direction;

/// The random stream of one direction.
#[derive(Debug, Clone)]
pub(crate) struct Stream {
    rng: Xoshiro256PlusPlus,
}

impl Stream {
    /// The stream for `direction` under `seed`. Both directions start from the
    /// same generator; B to A is moved 2^192 steps ahead with `long_jump`, so
    /// the two streams never overlap.
    pub(crate) fn new(seed: u64, direction: Direction) -> Self {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        if direction == Direction::BToA {
            rng.long_jump();
        }
        Stream { rng }
    }

    /// A uniform value in [0, 1) with 53 random bits.
    pub(crate) fn unit(&mut self) -> f64 {
        const SCALE: f64 = 1.0 / (1u64 << 53) as f64;
        (self.rng.next_u64() >> 11) as f64 * SCALE
    }

    /// True with probability `p`: exactly never for 0 and always for 1.
    pub(crate) fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// A uniform integer in `0..=max`, by the widening-multiply method; its
    /// bias is below 2^-40 for every range this crate draws from.
    pub(crate) fn up_to(&mut self, max: u64) -> u64 {
        let x = self.rng.next_u64();
        match max.checked_add(1) {
            Some(span) => ((u128::from(x) * u128::from(span)) >> 64) as u64,
            None => x,
        }
    }
}

/// The Gilbert-Elliott channel state of one direction (unused by the other models).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct LossState {
    bad: bool,
}

impl LossState {
    /// Decides whether the next frame is lost, then moves the channel on.
    ///
    /// As in tc-netem's `gemodel`, the frame is judged by the state the
    /// channel is in when it is sent, and the transition comes after, so a
    /// run of Bad states (a burst) lasts 1/r frames on average.
    pub(crate) fn next_lost(&mut self, model: &LossModel, stream: &mut Stream) -> bool {
        let loss_draw = stream.unit();
        let transition_draw = stream.unit();
        match *model {
            LossModel::Lossless => false,
            LossModel::Bernoulli { p } => loss_draw < p,
            LossModel::GilbertElliott { p, r, h, k } => {
                let lost = loss_draw < if self.bad { h } else { k };
                self.bad = if self.bad { transition_draw >= r } else { transition_draw < p };
                lost
            }
        }
    }
}
