//! Framing: `0x00`, COBS(postcard(envelope) ++ CRC-32 little-endian), `0x00`.
//!
//! The envelope is `{ magic: u8 = 0xC7, version: u8, id: u16, body }`. The
//! CRC-32 (ISO-HDLC) covers the postcard bytes. COBS keeps 0x00 out of the
//! frame, so a reader that loses its place finds the next message at the
//! next 0x00, and bytes between two 0x00 that fail the checks are log text.
//!
//! Everything up to the version byte (COBS, the CRC-32 at the end, the
//! magic, the version) stays the same in every version, so that a peer can
//! always tell a message of another version from noise.

use crc::{Crc, Digest, NoTable, CRC_32_ISO_HDLC};
use postcard::ser_flavors::{Cobs, Flavor, Slice};
use serde::Serialize;

use crate::message::{BoardMessage, ConsoleError, HostMessage, MAX_ENCODED_LEN, PROTOCOL_VERSION};

/// The first byte of every envelope.
pub const MAGIC: u8 = 0xC7;

/// The frame delimiter, before and after every message.
pub const DELIMITER: u8 = 0x00;

/// The longest run of bytes between two delimiters that can be a message.
pub const MAX_RUN_LEN: usize = MAX_ENCODED_LEN - 2;

const CRC_LEN: usize = 4;

/// Magic, version and the smallest id: the shortest envelope head.
const MIN_HEAD_LEN: usize = 3;

/// Bitwise: a console message is a few hundred bytes, and a table would cost a chip 1 KiB of flash.
static CRC32: Crc<u32, NoTable> = Crc::<u32, NoTable>::new(&CRC_32_ISO_HDLC);

/// Why a message could not be encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum EncodeError {
    /// the message does not fit the buffer or the largest encoded length
    TooLong,
    /// postcard could not serialize the message
    Postcard,
}

impl core::fmt::Display for EncodeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            EncodeError::TooLong => "the message does not fit the buffer or the largest encoded length",
            EncodeError::Postcard => "postcard could not serialize the message",
        })
    }
}

impl core::error::Error for EncodeError {}

/// Why the bytes between two delimiters are not a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum DecodeError {
    /// the frame is longer than any message
    TooLong,
    /// the frame is not valid COBS
    Cobs,
    /// the frame is too short to hold an envelope and its CRC-32
    TooShort,
    /// the CRC-32 does not match
    Crc,
    /// the envelope does not start with the console magic byte
    Magic,
    /// the peer speaks another console protocol version
    Version {
        /// The version the peer stamped on the message.
        found: u8,
    },
    /// the message body does not decode, or has bytes left over
    Postcard,
}

impl DecodeError {
    /// Whether the bytes were never a console message, so they are log text
    /// (println output shares the port). The other errors are messages that
    /// arrived intact but cannot be understood.
    pub const fn is_log_text(&self) -> bool {
        matches!(
            self,
            DecodeError::TooLong | DecodeError::Cobs | DecodeError::TooShort | DecodeError::Crc | DecodeError::Magic
        )
    }

    /// What a board answers to a request that failed to decode this way.
    pub const fn console_error(&self) -> ConsoleError {
        match self {
            DecodeError::Version { .. } => ConsoleError::VersionMismatch,
            _ => ConsoleError::Malformed,
        }
    }
}

impl core::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            DecodeError::TooLong => f.write_str("the frame is longer than any message"),
            DecodeError::Cobs => f.write_str("the frame is not valid COBS"),
            DecodeError::TooShort => f.write_str("the frame is too short to hold an envelope and its CRC-32"),
            DecodeError::Crc => f.write_str("the CRC-32 does not match"),
            DecodeError::Magic => f.write_str("the envelope does not start with the console magic byte"),
            DecodeError::Version { found } => {
                write!(f, "the peer speaks console protocol v{found}, this side v{PROTOCOL_VERSION}")
            }
            DecodeError::Postcard => f.write_str("the message body does not decode, or has bytes left over"),
        }
    }
}

impl core::error::Error for DecodeError {}

#[derive(Serialize)]
struct Envelope<'m, M> {
    magic: u8,
    version: u8,
    id: u16,
    body: &'m M,
}

/// A postcard flavor that feeds every byte to a CRC-32 and appends it, little-endian.
struct Checked<F> {
    inner: F,
    digest: Digest<'static, u32, NoTable>,
}

impl<F: Flavor> Flavor for Checked<F> {
    type Output = F::Output;

    fn try_push(&mut self, data: u8) -> postcard::Result<()> {
        self.digest.update(&[data]);
        self.inner.try_push(data)
    }

    fn try_extend(&mut self, data: &[u8]) -> postcard::Result<()> {
        self.digest.update(data);
        self.inner.try_extend(data)
    }

    fn finalize(mut self) -> postcard::Result<Self::Output> {
        let crc = self.digest.finalize();
        self.inner.try_extend(&crc.to_le_bytes())?;
        self.inner.finalize()
    }
}

fn encode<M: Serialize>(id: u16, body: &M, out: &mut [u8]) -> Result<usize, EncodeError> {
    let limit = out.len().min(MAX_ENCODED_LEN);
    let out = &mut out[..limit];
    let (first, rest) = out.split_first_mut().ok_or(EncodeError::TooLong)?;
    *first = DELIMITER;
    let cobs = Cobs::try_new(Slice::new(rest)).map_err(|_| EncodeError::TooLong)?;
    let flavor = Checked { inner: cobs, digest: CRC32.digest() };
    let envelope = Envelope { magic: MAGIC, version: PROTOCOL_VERSION, id, body };
    // The COBS flavor writes the closing delimiter itself.
    match postcard::serialize_with_flavor(&envelope, flavor) {
        Ok(written) => Ok(1 + written.len()),
        Err(postcard::Error::SerializeBufferFull) => Err(EncodeError::TooLong),
        Err(_) => Err(EncodeError::Postcard),
    }
}

/// Writes `msg` with request id `id` into `out`, delimiters included; returns the length.
pub fn encode_host(id: u16, msg: &HostMessage, out: &mut [u8]) -> Result<usize, EncodeError> {
    encode(id, msg, out)
}

/// Writes `msg` with id `id` (the request's, or 0 when unsolicited) into `out`,
/// delimiters included; returns the length.
pub fn encode_board(id: u16, msg: &BoardMessage, out: &mut [u8]) -> Result<usize, EncodeError> {
    encode(id, msg, out)
}

/// The COBS block that starts at `start`: the range of its data bytes, and
/// whether a zero follows them in the decoded stream.
fn cobs_block(frame: &[u8], start: usize) -> Result<(core::ops::Range<usize>, bool), DecodeError> {
    let code = usize::from(frame[start]);
    if code == 0 {
        return Err(DecodeError::Cobs);
    }
    let end = start + code;
    if end > frame.len() {
        return Err(DecodeError::Cobs);
    }
    Ok((start + 1..end, code != 0xFF && end < frame.len()))
}

/// Calls `f` with the decoded stream of `frame` in pieces; returns its length.
fn cobs_walk(frame: &[u8], mut f: impl FnMut(&[u8])) -> Result<usize, DecodeError> {
    let mut read = 0;
    let mut len = 0;
    while read < frame.len() {
        let (data, zero) = cobs_block(frame, read)?;
        read = data.end;
        len += data.len();
        f(&frame[data]);
        if zero {
            len += 1;
            f(&[0]);
        }
    }
    Ok(len)
}

/// Decodes COBS in place (the decoded stream is never longer than the
/// encoded one, and never overtakes it); returns the decoded length.
fn cobs_decode_in_place(frame: &mut [u8]) -> Result<usize, DecodeError> {
    let mut read = 0;
    let mut write = 0;
    while read < frame.len() {
        let (data, zero) = cobs_block(frame, read)?;
        read = data.end;
        let len = data.len();
        frame.copy_within(data, write);
        write += len;
        if zero {
            frame[write] = 0;
            write += 1;
        }
    }
    Ok(write)
}

/// Checks, without changing `frame`, that it is a console message of some
/// version: COBS, length, CRC-32 and magic. This is what tells a message
/// from log text.
pub fn check_frame(frame: &[u8]) -> Result<(), DecodeError> {
    if frame.len() > MAX_RUN_LEN {
        return Err(DecodeError::TooLong);
    }
    let len = cobs_walk(frame, |_| {})?;
    if len < MIN_HEAD_LEN + CRC_LEN {
        return Err(DecodeError::TooShort);
    }
    let payload_len = len - CRC_LEN;
    let mut digest = CRC32.digest();
    let mut crc = [0u8; CRC_LEN];
    let mut first = None;
    let mut position = 0;
    cobs_walk(frame, |piece| {
        if first.is_none() {
            first = piece.first().copied();
        }
        let end = position + piece.len();
        let split = payload_len.clamp(position, end) - position;
        digest.update(&piece[..split]);
        for (offset, byte) in piece[split..].iter().enumerate() {
            crc[position + split + offset - payload_len] = *byte;
        }
        position = end;
    })?;
    if digest.finalize() != u32::from_le_bytes(crc) {
        return Err(DecodeError::Crc);
    }
    if first != Some(MAGIC) {
        return Err(DecodeError::Magic);
    }
    Ok(())
}

/// Decodes the frame in place and checks everything up to the version;
/// returns the id and the body's bytes.
fn open(frame: &mut [u8]) -> Result<(u16, &[u8]), DecodeError> {
    if frame.len() > MAX_RUN_LEN {
        return Err(DecodeError::TooLong);
    }
    let len = cobs_decode_in_place(frame)?;
    if len < MIN_HEAD_LEN + CRC_LEN {
        return Err(DecodeError::TooShort);
    }
    let (payload, crc) = frame[..len].split_at(len - CRC_LEN);
    let crc = u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]);
    if CRC32.checksum(payload) != crc {
        return Err(DecodeError::Crc);
    }
    if payload[0] != MAGIC {
        return Err(DecodeError::Magic);
    }
    if payload[1] != PROTOCOL_VERSION {
        return Err(DecodeError::Version { found: payload[1] });
    }
    let (id, body) = postcard::take_from_bytes::<u16>(&payload[2..]).map_err(|_| DecodeError::Postcard)?;
    Ok((id, body))
}

/// The request id of a frame that is a message of this version whose body
/// does not decode (an unknown message, say), so that the error reply can
/// name the request it answers; `None` for anything else.
pub fn frame_id(frame: &[u8]) -> Option<u16> {
    let mut copy = [0u8; MAX_RUN_LEN];
    let bytes = copy.get_mut(..frame.len())?;
    bytes.copy_from_slice(frame);
    open(bytes).ok().map(|(id, _)| id)
}

fn body<'a, M: serde::Deserialize<'a>>(bytes: &'a [u8]) -> Result<M, DecodeError> {
    match postcard::take_from_bytes::<M>(bytes) {
        Ok((message, [])) => Ok(message),
        Ok(_) | Err(_) => Err(DecodeError::Postcard),
    }
}

/// Decodes a host message from `frame`, the bytes between two delimiters;
/// the frame is decoded in place, and the message borrows from it.
pub fn decode_host(frame: &mut [u8]) -> Result<(u16, HostMessage<'_>), DecodeError> {
    let (id, bytes) = open(frame)?;
    Ok((id, body(bytes)?))
}

/// Decodes a board message from `frame`, the bytes between two delimiters;
/// the frame is decoded in place, and the message borrows from it.
pub fn decode_board(frame: &mut [u8]) -> Result<(u16, BoardMessage<'_>), DecodeError> {
    let (id, bytes) = open(frame)?;
    Ok((id, body(bytes)?))
}
