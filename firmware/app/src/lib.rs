//! The node applications: what a nowcam camera and a nowcam receiver do,
//! written once for the chip and the simulator.
//!
//! Both nodes are generic over the ports of `nowcam-ports` and do no IO of
//! their own: the board crates drive them with esp-hal adapters from a thin
//! task, the simulator with simulated adapters from its event loop. Each
//! has one entry point, `poll(now)`, which drains the radio, runs timers,
//! sends what is due and returns when it wants to be called again.
//!
//! Architecture Invariant: this crate names no chip and no adapter; it
//! knows the ports and the protocol, nothing else.
#![no_std]

mod random;
pub mod rate;
pub mod receiver;
pub mod sender;

pub use rate::{RateCosts, RateMode, AUTO_RATES, CAMERA_UPDATE_INTERVAL, LEARNING_POLL_INTERVAL};
pub use receiver::{
    CameraInfo, ControlOutcome, LegacyPeers, ReceiverNode, ReceiverNodeConfig, ReceiverNodeEvent, TooManyLegacyPeers,
    MAX_LEGACY_PEERS,
};
pub use sender::{SenderNode, SenderNodeConfig, SenderNodeEvent};
