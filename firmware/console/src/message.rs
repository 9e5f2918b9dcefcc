//! The messages of console protocol v2: what the host asks, what the board answers.
//!
//! Every type here is serialized with postcard inside the envelope that
//! [`crate::codec`] frames. The order of enum variants and struct fields is
//! the wire format: append new variants at the end, never reorder, and
//! bump [`PROTOCOL_VERSION`] for anything else.

use nowcam_chips::{Capacities, Chip};
use serde::{Deserialize, Serialize};

/// The console protocol version this crate speaks, stamped in every envelope.
///
/// v2: the ready message's [`Capacities`] end with the build's largest
/// ESP-NOW frame (`max_frame_len`). A v1 peer's messages are refused as
/// another version (`VersionMismatch`), so stale firmware is told apart.
pub const PROTOCOL_VERSION: u8 = 2;

/// The largest message on the wire, both 0x00 delimiters included.
pub const MAX_ENCODED_LEN: usize = 512;

/// The most data one [`HostMessage::LoadChunk`] or [`BoardMessage::ImageData`] carries.
pub const MAX_DATA_LEN: usize = 256;

/// The largest frame a serial radio carries ([`BoardMessage::Transmit`],
/// [`HostMessage::RadioDeliver`]): ESP-NOW v1's 250 bytes, which fit a
/// message of [`MAX_ENCODED_LEN`] with its envelope; a v2 frame of 1470
/// would not. Serial-radio boards are v1 peers, and say so in their
/// capacities ([`RadioKind::capacities`]).
pub const SERIAL_RADIO_FRAME_LEN: usize = nowcam_ports::radio::V1_MAX_FRAME_LEN;
// The envelope, the message's other fields, COBS and the delimiters take under 40 bytes.
const _: () = assert!(SERIAL_RADIO_FRAME_LEN + 64 <= MAX_ENCODED_LEN, "a frame and its envelope fit one message");

/// The most entries one [`BoardMessage::Results`] or [`BoardMessage::Images`] lists.
pub const MAX_LIST_LEN: usize = 8;

/// What a board does in a transfer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Role {
    Sender,
    Receiver,
}

/// How a board's radio frames travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum RadioKind {
    /// Over the air, through the chip's ESP-NOW driver.
    EspNow,
    /// As console messages ([`BoardMessage::Transmit`], [`HostMessage::RadioDeliver`]):
    /// Wokwi and virtual boards, where the host relays frames between boards.
    Serial,
}

impl RadioKind {
    /// What a build whose chip holds `chip` holds with this radio: the
    /// chip's numbers, with frames of at most [`SERIAL_RADIO_FRAME_LEN`]
    /// over a serial radio, whose frames must fit one console message.
    pub const fn capacities(self, chip: Capacities) -> Capacities {
        match self {
            RadioKind::EspNow => chip,
            RadioKind::Serial => Capacities {
                max_frame_len: if chip.max_frame_len < SERIAL_RADIO_FRAME_LEN {
                    chip.max_frame_len
                } else {
                    SERIAL_RADIO_FRAME_LEN
                },
                ..chip
            },
        }
    }
}

/// What a board says about itself after boot and in reply to [`HostMessage::Hello`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Ready<'a> {
    /// The console protocol version the board speaks; [`PROTOCOL_VERSION`] for this crate.
    pub protocol_version: u8,
    pub firmware_version: &'a str,
    pub chip: Chip,
    pub role: Role,
    pub mac: [u8; 6],
    /// The WiFi channel the radio is on (1 to 14).
    pub channel: u8,
    pub radio: RadioKind,
    pub capacities: Capacities,
}

/// A message from the host to a board.
///
/// Every message but the two serial-radio ones gets exactly one reply that
/// carries its id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum HostMessage<'a> {
    /// Asks who the board is; the reply is [`BoardMessage::Ready`].
    Hello,
    /// A sender starts loading an image of `len` bytes to send; the reply is [`BoardMessage::Ack`].
    LoadBegin { len: u32 },
    /// Image bytes at `offset`, at most [`MAX_DATA_LEN`]; the reply is [`BoardMessage::Ack`].
    LoadChunk { offset: u32, data: &'a [u8] },
    /// Ends the load; the reply is [`BoardMessage::Ack`], or [`ConsoleError::CrcMismatch`]
    /// when the loaded bytes do not have this CRC-32.
    LoadEnd { crc32: u32 },
    /// Sets the on-device link model: a named preset ("clean" for none) and its seed.
    SetFaults { seed: u64, preset: &'a str },
    /// Tells a sender whom to send to, skipping discovery.
    SetPeer { receiver: [u8; 6], channel: u8 },
    /// A sender sends the loaded image `count` times.
    StartTransfer { count: u16 },
    /// A sender's transfers so far; the reply is [`BoardMessage::Results`].
    ReadResults,
    /// A receiver's stored images; the reply is [`BoardMessage::Images`].
    ListImages,
    /// Bytes of a stored image; the reply is [`BoardMessage::ImageData`].
    ReadImage { sequence: u32, offset: u32, len: u16 },
    /// The board's counters; the reply is [`BoardMessage::Telemetry`].
    ReadTelemetry,
    /// The reply is [`BoardMessage::Ack`], then the board restarts and sends
    /// [`BoardMessage::Ready`] again.
    Reboot,
    /// Serial radio: a frame arrives at the board. No reply; id 0.
    RadioDeliver { source: [u8; 6], destination: [u8; 6], rssi: i8, data: &'a [u8] },
    /// Serial radio: the fate of the [`BoardMessage::Transmit`] with this handle. No reply; id 0.
    RadioReport { handle: u32, acknowledged: bool },
}

/// A message from a board to the host.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum BoardMessage<'a> {
    /// After boot (id 0), and in reply to [`HostMessage::Hello`].
    #[serde(borrow)]
    Ready(Ready<'a>),
    Ack,
    /// A reply to a request that failed or was not understood.
    Error(ConsoleError),
    Results {
        transfers: heapless::Vec<TransferResult, MAX_LIST_LEN>,
    },
    Images {
        images: heapless::Vec<StoredImage, MAX_LIST_LEN>,
    },
    ImageData {
        sequence: u32,
        offset: u32,
        data: &'a [u8],
    },
    Telemetry(BoardTelemetry),
    /// Serial radio: the board sends a frame (id 0). The host answers with
    /// [`HostMessage::RadioReport`] carrying the same handle.
    Transmit {
        handle: u32,
        destination: [u8; 6],
        data: &'a [u8],
    },
    /// A structured log line; plain println text on the same port works too.
    Log(&'a str),
}

/// Why a board refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ConsoleError {
    /// the request did not decode
    Malformed,
    /// the request is not one this board knows
    UnknownMessage,
    /// the request speaks another console protocol version
    VersionMismatch,
    /// the request is for the other role
    WrongRole,
    /// no image is loaded
    NoImageLoaded,
    /// the loaded image does not match its CRC-32
    CrcMismatch,
    /// the offset or length is outside the image
    OutOfRange,
    /// the board is busy with a transfer
    Busy,
    /// no such image
    NotFound,
    /// the image store failed
    Storage,
    /// the radio failed
    Radio,
}

impl core::fmt::Display for ConsoleError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            ConsoleError::Malformed => "the request did not decode",
            ConsoleError::UnknownMessage => "the request is not one this board knows",
            ConsoleError::VersionMismatch => "the request speaks another console protocol version",
            ConsoleError::WrongRole => "the request is for the other role",
            ConsoleError::NoImageLoaded => "no image is loaded",
            ConsoleError::CrcMismatch => "the loaded image does not match its CRC-32",
            ConsoleError::OutOfRange => "the offset or length is outside the image",
            ConsoleError::Busy => "the board is busy with a transfer",
            ConsoleError::NotFound => "no such image",
            ConsoleError::Storage => "the image store failed",
            ConsoleError::Radio => "the radio failed",
        })
    }
}

impl core::error::Error for ConsoleError {}

/// One transfer a sender made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TransferResult {
    pub session: u32,
    pub len: u32,
    pub outcome: TransferOutcome,
    /// Board uptime when the transfer started.
    pub started_ms: u64,
    /// Board uptime when the transfer ended.
    pub finished_ms: u64,
    pub retransmissions: u32,
}

/// How a transfer ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum TransferOutcome {
    /// The receiver verified and stored the image.
    Stored,
    /// The receiver refused the offer.
    Refused,
    /// The receiver stopped answering.
    TimedOut,
    /// The transfer failed otherwise.
    Failed,
}

/// One image in a receiver's store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct StoredImage {
    pub sequence: u32,
    /// The sender's address.
    pub source: [u8; 6],
    pub len: u32,
    pub sha256: [u8; 32],
}

/// A board's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct BoardTelemetry {
    pub uptime_ms: u64,
    pub free_heap: u32,
    /// Chip temperature in hundredths of a degree Celsius, when the chip has a sensor.
    pub temperature_centi: Option<i16>,
    pub frames_sent: u32,
    pub frames_received: u32,
    /// Received frames dropped because the receive queue was full.
    pub receive_dropped: u32,
    /// Sends that failed: refused by the queue or not acknowledged.
    pub send_failed: u32,
}
