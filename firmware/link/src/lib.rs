//! The ESP-NOW link model: loss, duplication, reordering, delay, outages and
//! airtime, seeded and sans-IO.
//!
//! The simulator drives a [`Link`] from its discrete-event loop: for every
//! frame handed to the air it calls [`Link::transmit`] and schedules what the
//! returned [`Transmission`] says (the air time, the copies the receiver gets
//! and when, whether the sender's MAC saw an ACK). On a device the same loss
//! and duplication models wrap the real radio through [`FaultInjector`].
//!
//! [`frame_success_probability`] is the chance that a frame survives a given
//! rate and signal-to-noise ratio (ns-3's NIST error-rate model); a direction
//! with an SNR loses frames by it, at the link's rate or the frame's own
//! ([`Link::transmit_at`]).
//!
//! [`PumpSchedule`] is the order in which a chip's radio pump serves a
//! one-send-at-a-time driver: received frames first, sending never starved.
//!
//! The numbers (frame overhead, airtime, presets, Gilbert-Elliott meaning)
//! come from `shared/ESPNOW-FACTS.md`; [`airtime`] states what is assumed
//! beyond them.
//!
//! Architecture Invariant: no IO, no clock, no allocation; every random
//! decision comes from the seeded stream of the direction it concerns, so the
//! same seed and the same calls give the same trace.
#![no_std]

pub mod airtime;
mod config;
mod direction;
pub mod error_rate;
mod fault;
mod link;
mod math;
pub mod pump;
mod stream;

pub use airtime::{
    lower_bound, lower_bound_at, lower_bound_with, Backoff, LowerBoundError, PhyRate, UnknownPhyRateError,
};
pub use config::{
    Delay, DirectionConfig, LinkConfig, LinkConfigError, LossModel, MacRetry, Outage, Outages, Preset, Reorder,
    UnknownPresetError, CHIP_SEND_OVERHEAD_NS, DEFAULT_TX_QUEUE_LIMIT, MAX_MAC_RETRIES, MAX_OUTAGES, SNR_RANGE_DB,
};
pub use direction::{Direction, Station};
pub use error_rate::{bits_success_probability, frame_success_probability};
pub use fault::FaultInjector;
pub use link::{Delivery, DirectionCounters, DropReason, Link, LinkError, Transmission, TxQueue};
pub use pump::{AppliedRates, PeerRates, PumpSchedule, PumpStep};
