//! Wire format v1.
//!
//! Every frame is one ESP-NOW payload: at most 250 bytes between ESP-NOW v1
//! peers, up to 1470 bytes ([`MAX_FRAME_LEN`]) between v2 peers that have
//! said they take them. It starts with a 3-byte header and carries
//! little-endian fields:
//!
//! ```text
//! offset 0  magic        0x6E ('n')
//! offset 1  version:4 | kind:4   version 1 in the high nibble
//! offset 2  flags        bit 7 TAGGED: the frame ends in an 8-byte tag (the
//!                        authenticated mode, see [`crate::auth`]);
//!                        bit 6 FRAME_LEN: the frame ends (before any tag) in a
//!                        u16, the largest frame its sender accepts;
//!                        every other bit reserved, must be 0
//! offset 3  the kind's fields (see [`FrameRepr`])
//! [FRAME_LEN] u16 largest frame accepted, after the kind's fields
//! [TAGGED]  8-byte truncated HMAC-SHA256 tag, after everything else
//! ```
//!
//! FRAME_LEN is how a receiver announces ESP-NOW v2 frames, added to v1
//! without breaking it: a parser from before it refuses the flag, so a
//! receiver sets it only on answers to a peer that said it understands it
//! (a probe whose role has [`PROBE_ROLE_FRAME_LEN`], an offer with
//! [`OFFER_FLAG_FRAME_LEN`]); both are ignored by older receivers, which
//! answer as before, and the camera then stays at 250-byte frames.
//!
//! A tagged frame's kind lengths are checked without its tag; [`FrameRepr`]
//! parses the fields and ignores the tag's value, which only
//! [`crate::auth::Authenticator::verify`] judges. `emit` always writes an
//! untagged frame; [`crate::auth::Authenticator::seal`] sets the flag and appends the tag.
//!
//! The magic is above 0x09 on purpose: a legacy (seed-format) data frame
//! starts with the high byte of a big-endian chunk index, which stays below
//! 0x0A for any image up to 3 MB, so the two formats never look alike.
//!
//! [`Frame`] is a zero-copy view over a byte slice in the smoltcp style:
//! untrusted bytes go through [`Frame::new_checked`], after which no accessor
//! panics. [`FrameRepr`] is the parsed, high-level form with `parse`, `emit`
//! and `buffer_len`.

pub mod control;
mod repr;

pub use repr::{
    AbortReason, ChallengeRepr, ChunkRepr, CompletionResult, ControlCommand, ControlRequestRepr, ControlResponseRepr,
    ControlStatus, FrameRepr, OfferRepr, ProbeRepr, SegmentCrcsRepr, StatusRepr, StatusRequestRepr, TelemetryRepr,
    IMAGE_MAC_LEN, MAX_SEGMENT_CRCS, OFFER_FLAG_CHUNK_CRCS, OFFER_FLAG_FRAME_LEN, OFFER_FLAG_JPEG,
    PROBE_ROLE_FRAME_LEN,
};

/// The first byte of every nowcam frame.
pub const MAGIC: u8 = 0x6e;
/// The wire format version this crate speaks.
pub const VERSION: u8 = 1;
/// The largest frame ESP-NOW v2 carries (`ESP_NOW_MAX_DATA_LEN_V2`): what a
/// buffer that holds any frame needs.
pub const MAX_FRAME_LEN: usize = 1470;
/// The largest frame ESP-NOW v1 carries: what every peer takes, and all a
/// peer that announced no larger size is sent.
pub const V1_MAX_FRAME_LEN: usize = 250;
/// Bytes of the common header.
pub const HEADER_LEN: usize = 3;
/// Bytes a chunk frame spends before its payload: header, session and index.
pub const CHUNK_OVERHEAD: usize = HEADER_LEN + 4 + 2;
/// The largest chunk payload that fits one v2 frame.
pub const MAX_CHUNK_PAYLOAD: usize = MAX_FRAME_LEN - CHUNK_OVERHEAD;
/// The largest chunk payload that fits one v1 frame (the default chunk size).
pub const V1_MAX_CHUNK_PAYLOAD: usize = V1_MAX_FRAME_LEN - CHUNK_OVERHEAD;
/// Bytes of the tag a TAGGED frame ends in.
pub const TAG_LEN: usize = 8;
/// Bytes of the FRAME_LEN field.
pub const FRAME_LEN_FIELD: usize = 2;
/// The largest chunk payload that fits one tagged v1 frame (the authenticated mode).
pub const MAX_TAGGED_CHUNK_PAYLOAD: usize = V1_MAX_CHUNK_PAYLOAD - TAG_LEN;

/// The largest chunk payload a frame of `frame_len` bytes carries, with the
/// tag of the authenticated mode when `tagged`; `frame_len` is clamped to
/// 250..=[`MAX_FRAME_LEN`].
pub const fn chunk_payload_for(frame_len: usize, tagged: bool) -> usize {
    let frame_len = if frame_len < V1_MAX_FRAME_LEN {
        V1_MAX_FRAME_LEN
    } else if frame_len > MAX_FRAME_LEN {
        MAX_FRAME_LEN
    } else {
        frame_len
    };
    frame_len - CHUNK_OVERHEAD - if tagged { TAG_LEN } else { 0 }
}

/// Header flags.
pub mod flags {
    /// The frame ends in a [`super::TAG_LEN`]-byte authentication tag.
    pub const TAGGED: u8 = 0x80;
    /// The frame ends (before any tag) in a u16: the largest frame its sender accepts.
    pub const FRAME_LEN: u8 = 0x40;
    /// Every flag this version understands.
    pub const KNOWN: u8 = TAGGED | FRAME_LEN;
}

/// What a frame is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[repr(u8)]
pub enum FrameKind {
    Offer = 1,
    Chunk = 2,
    StatusRequest = 3,
    Status = 4,
    Completion = 5,
    Abort = 6,
    ControlRequest = 7,
    ControlResponse = 8,
    Telemetry = 9,
    Probe = 10,
    ProbeReply = 11,
    SegmentCrcs = 12,
    Challenge = 13,
    SealedOffer = 14,
}

impl FrameKind {
    pub const fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            1 => FrameKind::Offer,
            2 => FrameKind::Chunk,
            3 => FrameKind::StatusRequest,
            4 => FrameKind::Status,
            5 => FrameKind::Completion,
            6 => FrameKind::Abort,
            7 => FrameKind::ControlRequest,
            8 => FrameKind::ControlResponse,
            9 => FrameKind::Telemetry,
            10 => FrameKind::Probe,
            11 => FrameKind::ProbeReply,
            12 => FrameKind::SegmentCrcs,
            13 => FrameKind::Challenge,
            14 => FrameKind::SealedOffer,
            _ => return None,
        })
    }

    /// Bytes of the kind's fixed fields after the header; variable parts follow them.
    pub const fn fixed_len(self) -> usize {
        match self {
            FrameKind::Offer => 18,
            FrameKind::Chunk => 6,
            FrameKind::StatusRequest => 6,
            FrameKind::Status => 8,
            FrameKind::Completion => 5,
            FrameKind::Abort => 5,
            FrameKind::ControlRequest => 8,
            FrameKind::ControlResponse => 8,
            FrameKind::Telemetry => 23,
            FrameKind::Probe | FrameKind::ProbeReply => 5,
            FrameKind::SegmentCrcs => 8,
            FrameKind::Challenge => 8,
            FrameKind::SealedOffer => 18 + IMAGE_MAC_LEN,
        }
    }

    /// Whether frames of this kind may carry bytes past their fixed fields.
    pub const fn is_variable(self) -> bool {
        matches!(self, FrameKind::Chunk | FrameKind::Status | FrameKind::SegmentCrcs)
    }
}

/// Why a frame could not be parsed or built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Error {
    /// the frame is shorter than its kind requires
    Truncated,
    /// the frame is longer than 1470 bytes or than its kind allows
    TooLong,
    /// the first byte is not the nowcam magic
    BadMagic,
    /// the frame is of a wire format version this build does not speak
    UnsupportedVersion,
    /// the frame kind is unknown
    UnknownKind,
    /// the frame sets a flag this version does not support
    UnsupportedFlags,
    /// a field holds a value outside its range
    InvalidField,
    /// the buffer is too small for the frame
    BufferTooSmall,
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Error::Truncated => "the frame is shorter than its kind requires",
            Error::TooLong => "the frame is longer than its kind allows",
            Error::BadMagic => "the frame does not start with the nowcam magic",
            Error::UnsupportedVersion => "the frame is of an unsupported wire format version",
            Error::UnknownKind => "the frame kind is unknown",
            Error::UnsupportedFlags => "the frame sets an unsupported flag",
            Error::InvalidField => "a field holds a value outside its range",
            Error::BufferTooSmall => "the buffer is too small for the frame",
        })
    }
}

impl core::error::Error for Error {}

pub type Result<T> = core::result::Result<T, Error>;

mod field {
    pub const MAGIC: usize = 0;
    pub const VERSION_KIND: usize = 1;
    pub const FLAGS: usize = 2;
    pub const BODY: usize = 3;
}

/// A read/write view of a nowcam frame.
#[derive(Debug, Clone)]
pub struct Frame<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Frame<T> {
    /// Wraps a buffer without any check; accessors may panic on a short buffer.
    pub const fn new_unchecked(buffer: T) -> Frame<T> {
        Frame { buffer }
    }

    /// Wraps untrusted bytes: after this, no accessor panics.
    pub fn new_checked(buffer: T) -> Result<Frame<T>> {
        let frame = Self::new_unchecked(buffer);
        frame.check_len()?;
        Ok(frame)
    }

    /// Checks magic, version, kind, flags and the kind's length.
    pub fn check_len(&self) -> Result<()> {
        let data = self.buffer.as_ref();
        if data.len() > MAX_FRAME_LEN {
            return Err(Error::TooLong);
        }
        if data.len() < HEADER_LEN {
            return Err(Error::Truncated);
        }
        if data[field::MAGIC] != MAGIC {
            return Err(Error::BadMagic);
        }
        if data[field::VERSION_KIND] >> 4 != VERSION {
            return Err(Error::UnsupportedVersion);
        }
        let kind = FrameKind::from_code(data[field::VERSION_KIND] & 0x0f).ok_or(Error::UnknownKind)?;
        if data[field::FLAGS] & !flags::KNOWN != 0 {
            return Err(Error::UnsupportedFlags);
        }
        let tag = if data[field::FLAGS] & flags::TAGGED != 0 { TAG_LEN } else { 0 };
        let frame_len = if data[field::FLAGS] & flags::FRAME_LEN != 0 { FRAME_LEN_FIELD } else { 0 };
        let fixed = HEADER_LEN + kind.fixed_len() + frame_len + tag;
        if data.len() < fixed {
            return Err(Error::Truncated);
        }
        if data.len() > fixed && !kind.is_variable() {
            return Err(Error::TooLong);
        }
        if kind == FrameKind::SegmentCrcs {
            // One to MAX_SEGMENT_CRCS whole CRCs.
            let crcs = data.len() - fixed;
            if crcs == 0 || !crcs.is_multiple_of(4) {
                return Err(Error::Truncated);
            }
            if crcs > MAX_SEGMENT_CRCS * 4 {
                return Err(Error::TooLong);
            }
        }
        Ok(())
    }

    /// Whether the frame ends in a tag.
    pub fn is_tagged(&self) -> bool {
        self.flags() & flags::TAGGED != 0
    }

    /// The largest frame the frame's sender accepts, when it says (flag FRAME_LEN).
    pub fn announced_frame_len(&self) -> Option<u16> {
        if self.flags() & flags::FRAME_LEN == 0 {
            return None;
        }
        let data = self.buffer.as_ref();
        let end = if self.is_tagged() { data.len().saturating_sub(TAG_LEN) } else { data.len() };
        let bytes = data.get(end.checked_sub(FRAME_LEN_FIELD)?..end)?;
        Some(u16::from_le_bytes([bytes[0], bytes[1]]))
    }

    /// The tag of a tagged frame (empty when untagged).
    pub fn tag(&self) -> &[u8] {
        let data = self.buffer.as_ref();
        let start = if self.is_tagged() { data.len().saturating_sub(TAG_LEN) } else { data.len() };
        &data[start..]
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[field::VERSION_KIND] >> 4
    }

    /// The frame's kind; a checked frame always has a known one.
    pub fn kind(&self) -> Option<FrameKind> {
        FrameKind::from_code(self.buffer.as_ref()[field::VERSION_KIND] & 0x0f)
    }

    pub fn flags(&self) -> u8 {
        self.buffer.as_ref()[field::FLAGS]
    }

    /// The bytes after the common header, without the FRAME_LEN field and the tag.
    pub fn body(&self) -> &[u8] {
        let data = self.buffer.as_ref();
        let end = body_end(data);
        &data[field::BODY.min(end)..end]
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Frame<&'a T> {
    /// The bytes after the common header (without the FRAME_LEN field and the
    /// tag), borrowed for as long as the buffer.
    pub fn body_ref(&self) -> &'a [u8] {
        let data: &'a [u8] = self.buffer.as_ref();
        let end = body_end(data);
        &data[field::BODY.min(end)..end]
    }
}

/// Where the kind's fields end: before the FRAME_LEN field and the tag.
fn body_end(data: &[u8]) -> usize {
    let bits = data.get(field::FLAGS).copied().unwrap_or(0);
    let tag = if bits & flags::TAGGED != 0 { TAG_LEN } else { 0 };
    let frame_len = if bits & flags::FRAME_LEN != 0 { FRAME_LEN_FIELD } else { 0 };
    data.len().saturating_sub(tag + frame_len)
}

/// Appends the FRAME_LEN field (`accepted`, the largest frame the writer
/// takes) to the untagged frame of `len` bytes at the start of `buffer`,
/// sets its flag and returns the new length. Seal the frame after this.
pub fn announce_frame_len(buffer: &mut [u8], len: usize, accepted: u16) -> Result<usize> {
    let bits = *buffer.get(field::FLAGS).ok_or(Error::BufferTooSmall)?;
    if len < HEADER_LEN || bits & (flags::TAGGED | flags::FRAME_LEN) != 0 {
        return Err(Error::InvalidField);
    }
    let end = len + FRAME_LEN_FIELD;
    if end > MAX_FRAME_LEN {
        return Err(Error::TooLong);
    }
    buffer.get_mut(len..end).ok_or(Error::BufferTooSmall)?.copy_from_slice(&accepted.to_le_bytes());
    buffer[field::FLAGS] = bits | flags::FRAME_LEN;
    Ok(end)
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Frame<T> {
    /// Writes the common header.
    pub fn set_header(&mut self, kind: FrameKind, flags: u8) {
        let data = self.buffer.as_mut();
        data[field::MAGIC] = MAGIC;
        data[field::VERSION_KIND] = (VERSION << 4) | kind as u8;
        data[field::FLAGS] = flags;
    }

    pub fn body_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[field::BODY..]
    }
}

/// A little-endian cursor over a checked body: reads never run past the end
/// because `check_len` guaranteed the fixed fields are there.
pub(crate) struct Reader<'a> {
    data: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(data: &'a [u8]) -> Self {
        Self { data, at: 0 }
    }

    fn take<const N: usize>(&mut self) -> Result<[u8; N]> {
        let bytes = self.data.get(self.at..self.at + N).ok_or(Error::Truncated)?;
        self.at += N;
        let mut out = [0u8; N];
        out.copy_from_slice(bytes);
        Ok(out)
    }

    pub(crate) fn u8(&mut self) -> Result<u8> {
        Ok(self.take::<1>()?[0])
    }

    pub(crate) fn i8(&mut self) -> Result<i8> {
        Ok(self.take::<1>()?[0] as i8)
    }

    pub(crate) fn u16(&mut self) -> Result<u16> {
        Ok(u16::from_le_bytes(self.take()?))
    }

    pub(crate) fn i16(&mut self) -> Result<i16> {
        Ok(i16::from_le_bytes(self.take()?))
    }

    pub(crate) fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.take()?))
    }

    pub(crate) fn i32(&mut self) -> Result<i32> {
        Ok(i32::from_le_bytes(self.take()?))
    }

    pub(crate) fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.take()?))
    }

    pub(crate) fn rest(self) -> &'a [u8] {
        &self.data[self.at.min(self.data.len())..]
    }
}

/// The little-endian writer counterpart of [`Reader`].
pub(crate) struct Writer<'a> {
    data: &'a mut [u8],
    at: usize,
}

impl<'a> Writer<'a> {
    pub(crate) fn new(data: &'a mut [u8]) -> Self {
        Self { data, at: 0 }
    }

    pub(crate) fn bytes(&mut self, bytes: &[u8]) -> Result<()> {
        let end = self.at + bytes.len();
        self.data.get_mut(self.at..end).ok_or(Error::BufferTooSmall)?.copy_from_slice(bytes);
        self.at = end;
        Ok(())
    }

    pub(crate) fn u8(&mut self, value: u8) -> Result<()> {
        self.bytes(&[value])
    }

    pub(crate) fn u16(&mut self, value: u16) -> Result<()> {
        self.bytes(&value.to_le_bytes())
    }

    pub(crate) fn u32(&mut self, value: u32) -> Result<()> {
        self.bytes(&value.to_le_bytes())
    }

    pub(crate) fn u64(&mut self, value: u64) -> Result<()> {
        self.bytes(&value.to_le_bytes())
    }
}
