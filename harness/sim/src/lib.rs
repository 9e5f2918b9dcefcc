//! Discrete-event simulator of nowcam nodes over the ESP-NOW link model,
//! scenarios, captures and reports.
//!
//! Architecture Invariant: the simulator drives the same application crates
//! the chips run (`nowcam-app`), through simulated adapters of the ports;
//! it owns the virtual clock and the shared air, nothing else.

pub mod capture;
pub mod engine;
pub mod fixtures;
pub mod hostile;
pub mod nodes;
pub mod power;
pub mod radio;
pub mod replay;
pub mod report;
pub mod run;
pub mod scenario;
pub mod setup;
pub mod soak;
pub mod verdict;
