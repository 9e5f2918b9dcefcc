//! The nowcam test console: one framed message protocol that a board and
//! the harness speak over a serial line shared with the board's println
//! output, and a radio that carries ESP-NOW frames over it.
//!
//! [`message`] holds the messages of console protocol v2, [`codec`] frames
//! them (`0x00`, COBS(postcard(envelope) ++ CRC-32), `0x00`), [`splitter`]
//! cuts a byte stream into frames and log text, and [`serial_radio`] is a
//! [`nowcam_ports::Radio`] whose frames travel as console messages.
//!
//! A request, a reply, and println text between them, as the host and a
//! board each see them:
//!
//! ```
//! use nowcam_console::*;
//!
//! // The host writes a request with id 7.
//! let mut request = [0u8; MAX_ENCODED_LEN];
//! let len = encode_host(7, &HostMessage::ReadTelemetry, &mut request).unwrap();
//!
//! // The board's console task splits what arrives, byte by byte, and answers.
//! let mut board_in = FrameSplitter::<MAX_ENCODED_LEN>::new();
//! let mut reply = [0u8; MAX_ENCODED_LEN];
//! let mut reply_len = 0;
//! for &byte in &request[..len] {
//!     if let Some(Piece::Frame(frame)) = board_in.push(byte) {
//!         let answer = match decode_host(frame) {
//!             Ok((id, HostMessage::ReadTelemetry)) => (id, BoardMessage::Telemetry(BoardTelemetry {
//!                 uptime_ms: 1_000, free_heap: 50_000, temperature_centi: None,
//!                 frames_sent: 0, frames_received: 0, receive_dropped: 0, send_failed: 0,
//!             })),
//!             Ok((id, _)) => (id, BoardMessage::Error(ConsoleError::UnknownMessage)),
//!             Err(error) => (0, BoardMessage::Error(error.console_error())),
//!         };
//!         reply_len = encode_board(answer.0, &answer.1, &mut reply).unwrap();
//!     }
//! }
//!
//! // The host reads the port in whatever chunks it gets; println text shares it.
//! let mut port = b"boot: receiver ready\n".to_vec();
//! port.extend_from_slice(&reply[..reply_len]);
//! let mut host_in = FrameSplitter::<MAX_ENCODED_LEN>::new();
//! let mut log = Vec::new();
//! let mut uptime = None;
//! for chunk in port.chunks(5) {
//!     host_in.feed(chunk, |piece| match piece {
//!         Piece::Frame(frame) => match decode_board(frame) {
//!             Ok((7, BoardMessage::Telemetry(telemetry))) => uptime = Some(telemetry.uptime_ms),
//!             Ok(other) => panic!("unexpected reply {other:?}"),
//!             Err(error) => panic!("{error}"),
//!         },
//!         Piece::Text(text) => log.extend_from_slice(text),
//!     });
//! }
//! assert_eq!(uptime, Some(1_000));
//! assert_eq!(log, b"boot: receiver ready\n");
//! ```
//!
//! Architecture Invariant: this crate does no IO, reads no clock and
//! allocates nothing; the chip and the host drive the same code. It names a
//! chip only as [`nowcam_chips::Chip`], data the board reports about itself.
#![no_std]

pub mod codec;
pub mod message;
pub mod serial_radio;
pub mod splitter;

pub use codec::{
    check_frame, decode_board, decode_host, encode_board, encode_host, frame_id, DecodeError, EncodeError,
};
/// The `heapless` the lists in [`BoardMessage`] are made of.
pub use heapless;
pub use message::{
    BoardMessage, BoardTelemetry, ConsoleError, HostMessage, RadioKind, Ready, Role, StoredImage, TransferOutcome,
    TransferResult, MAX_DATA_LEN, MAX_ENCODED_LEN, MAX_LIST_LEN, PROTOCOL_VERSION, SERIAL_RADIO_FRAME_LEN,
};
pub use nowcam_chips::{Capacities, Chip};
pub use serial_radio::{DeliverError, ReportError, SerialRadio, Transmit};
pub use splitter::{FrameSplitter, Piece};
