//! The nowcam protocol core.
//!
//! Everything a nowcam node needs to move an image over ESP-NOW, and nothing
//! that touches a radio, a clock or an allocator: the wire format
//! ([`wire`]), the chunker and reassembler, the sender and receiver state
//! machines, the authenticated mode ([`auth`]), the sender's rate
//! adaptation ([`rate`]), and the seed project's format as a legacy codec
//! ([`legacy`]).
//!
//! Architecture Invariant: this crate does no IO, allocates nothing, depends
//! on no other workspace crate and never names a chip. Time comes in as an
//! [`time::Instant`] argument; frames come in and go out as byte slices.
#![no_std]

pub mod address;
pub mod auth;
pub mod random;
pub mod time;
pub mod wire;

pub use address::MacAddress;
pub mod bitmap;
pub mod chunker;
pub mod legacy;
#[cfg(feature = "alloc")]
pub mod memory;
pub mod rate;
pub mod reassembler;
pub mod receiver;
pub mod sender;
