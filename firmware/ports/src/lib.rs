//! The ports of a nowcam node.
//!
//! Application crates (`nowcam-app`) are generic over these traits; adapters
//! implement them: esp-hal and esp-radio on the chip, simulated ones in
//! `nowcam-sim`. Adapters depend on this crate alone, never on each other,
//! and only composition roots (board crates, the simulator) pick adapters.
//!
//! Architecture Invariant: this crate holds traits and the plain types their
//! signatures need, nothing that runs.
#![no_std]

pub use nowcam_proto::time::{Duration, Instant};
pub use nowcam_proto::MacAddress;

pub mod camera;
pub mod console;
pub mod radio;
pub mod store;
pub mod telemetry;

pub use camera::{CaptureError, ControlError, FrameSource};
pub use console::Console;
pub use radio::{PhyRate, Radio, Received, SendError, SendHandle, SendReport, UnknownPhyRateError};
pub use store::{EraseStep, ImageInfo, ImageStore, StoreError, WriteHandle};
pub use telemetry::{TelemetrySample, TelemetrySource};
