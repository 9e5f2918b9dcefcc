//! Hardware in the loop: the same scenarios as the simulator, run on boards.
//!
//! - [`inventory`]: which boards a run may use (a TOML file).
//! - [`console`]: the harness's side of the test console, over any byte stream.
//! - [`connect`]: opening a real board's serial port, starting a virtual board
//!   on a pseudo-terminal, or a Wokwi simulation through `wokwi-cli`.
//! - [`flash`]: writing the firmware to a real board with the espflash library.
//! - [`virtual_board`]: a host process that runs the chip's node and test
//!   console, with a serial radio.
//! - [`relay`]: the air between serial-radio boards, through the link model.
//! - [`backend`]: a scenario run on boards, judged by the simulator's verdict.
//!
//! Architecture Invariant: a run on boards is judged by the same verdict as a
//! simulated one, from image bytes read back from the receiver's store.

pub mod backend;
pub mod connect;
pub mod console;
pub mod flash;
pub mod inventory;
#[cfg(feature = "probe-rs")]
pub mod probe;
pub mod relay;
pub mod virtual_board;
