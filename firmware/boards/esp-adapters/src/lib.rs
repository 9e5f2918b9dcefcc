//! esp-hal and esp-radio adapters for the nowcam ports.
//!
//! Each adapter is thin: it turns one esp-rs driver into one trait of
//! `nowcam-ports` and keeps no protocol knowledge. The board binaries pick
//! them; the applications in `nowcam-app` never see a chip.
//!
//! Architecture Invariant: this crate depends on `nowcam-ports` (and the
//! plain types of `nowcam-proto`), never on `nowcam-app` or `nowcam-store`.
#![no_std]

extern crate alloc;

pub mod boot;
pub mod chip;
pub mod clock;
pub mod fixture;
pub mod flash;
pub mod key;
pub mod loaded;
pub mod radio;
pub mod telemetry;
pub mod test_console;
pub mod test_radio;
pub mod watchdog;
pub mod wifi;

pub use chip::{CAPACITIES, CHIP};
pub use clock::now;
pub use fixture::FixtureSource;
pub use flash::{images_partition, ImagesFlash, PartitionError};
pub use loaded::LoadedSource;
pub use radio::{radio_event, EspNowRadio, RadioPump};
pub use telemetry::EspTelemetry;
pub use test_radio::TestRadio;
pub use watchdog::Watchdog;
