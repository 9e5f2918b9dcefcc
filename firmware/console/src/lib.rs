//! The nowcam test console: one framed message protocol that a board and
//! the harness speak over a serial line shared with the board's println
//! output, and a radio that carries ESP-NOW frames over it.
//!
//! [`message`] holds the messages of console protocol v1, [`codec`] frames
//! them (`0x00`, COBS(postcard(envelope) ++ CRC-32), `0x00`), [`splitter`]
//! cuts a byte stream into frames and log text, and [`serial_radio`] is a
//! [`nowcam_ports::Radio`] whose frames travel as console messages.
//!
//! Architecture Invariant: this crate does no IO, reads no clock and
//! allocates nothing; the chip and the host drive the same code. It names a
//! chip only as [`nowcam_chips::Chip`], data the board reports about itself.
#![no_std]

pub mod codec;
pub mod message;
pub mod serial_radio;
pub mod splitter;

pub use codec::{check_frame, decode_board, decode_host, encode_board, encode_host, DecodeError, EncodeError};
pub use message::{
    BoardMessage, BoardTelemetry, ConsoleError, HostMessage, RadioKind, Ready, Role, StoredImage, TransferOutcome,
    TransferResult, MAX_DATA_LEN, MAX_ENCODED_LEN, MAX_LIST_LEN, PROTOCOL_VERSION,
};
pub use nowcam_chips::{Capacities, Chip};
pub use serial_radio::{DeliverError, ReportError, SerialRadio, Transmit};
pub use splitter::{FrameSplitter, Piece};
