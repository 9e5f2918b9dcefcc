//! The parsed form of every frame kind.
//!
//! Field layouts after the 3-byte header (all little-endian):
//!
//! | kind | fields | bytes |
//! |---|---|---|
//! | Offer | session u32, image size u32, chunk size u16, chunk count u16, CRC-32 u32, flags u16 | 18 |
//! | Chunk | session u32, index u16, payload | 6 + payload |
//! | StatusRequest | session u32, poll id u16 | 6 |
//! | Status | session u32, poll id u16, lowest missing index u16, bitmap | 8 + bitmap |
//! | Completion | session u32, result u8 | 5 |
//! | Abort | session u32, reason u8 | 5 |
//! | ControlRequest | request id u16, command u8, variable u8, value i32 | 8 |
//! | ControlResponse | request id u16, status u8, variable u8, value i32 | 8 |
//! | Telemetry | uptime ms u64, free heap u32, temperature i16, RSSI i8, frames sent u32, retransmissions u32 | 23 |
//! | Probe, ProbeReply | nonce u32, role u8 (a probe's bit 7: [`PROBE_ROLE_FRAME_LEN`]) | 5 |
//! | SegmentCrcs | session u32, segment chunks u16, first segment u16, CRC-32 u32 × 1..=57 | 8 + 4n |
//! | Challenge | session u32, nonce u32 | 8 |
//! | SealedOffer | the Offer's 18 bytes, image MAC (HMAC-SHA256) 32 bytes | 50 |
//!
//! A tagged frame (header flag TAGGED) carries 8 more bytes, its tag, after
//! all of these; a frame with the header flag FRAME_LEN carries a u16 (the
//! largest frame its sender takes) between them and any tag. Only a probe
//! reply and the answer to an offer (Status, Challenge) carry it, and only
//! to a camera that asked ([`PROBE_ROLE_FRAME_LEN`], [`OFFER_FLAG_FRAME_LEN`]).
//!
//! Chunks fill the frame size camera and receiver agreed on: 241 bytes in
//! a v1 frame, up to 1461 in a v2 one. A Status to a camera is at most as
//! long as that camera's chunk frames (250 bytes at least), so its bitmap
//! grows with them.
//!
//! SegmentCrcs is the sender's half of the repair of an image whose CRC-32
//! failed at the receiver: segment `s` is chunks `s × K .. (s + 1) × K` (the
//! last one shorter) for `K` = segment chunks, and CRC `i` of the frame is the
//! CRC-32 of segment `first_segment + i`'s bytes. The receiver compares its
//! own, and drops the chunks of every segment that differs (see
//! [`crate::receiver`]); its next Status reports them missing.
//!
//! The same frame with one chunk per segment (`K` = 1) announces chunk
//! CRCs ahead of the chunks when the offer carries `OFFER_FLAG_CHUNK_CRCS`
//! (an addition to v1 that a receiver without it handles as a repair): CRC
//! `i` is the CRC-32 of chunk `first_segment + i`'s payload. The sender
//! sends the announcement of chunks `57w .. 57w + 57` before their first
//! chunk goes, once more halfway through the chunks before them, and again
//! before any of them goes in each later round of status requests. A repair
//! then uses segments of at least two chunks.
//!
//! Challenge and SealedOffer belong to the authenticated mode (see
//! [`crate::auth`]): SealedOffer is the offer with the HMAC of the whole
//! image, Challenge the receiver's answer with the nonce every later tag of
//! the transfer is bound to.
//!
//! The status bitmap covers the chunks after the lowest missing one: bit `i`
//! (LSB first in byte `i / 8`) set means chunk `lowest_missing + 1 + i` has
//! arrived. The lowest missing chunk itself is missing by definition, and
//! `lowest_missing == chunk_count` means every chunk has arrived.

use super::control::ControlVariable;
use super::{
    Error, Frame, FrameKind, Reader, Result, Writer, HEADER_LEN, MAX_CHUNK_PAYLOAD, MAX_FRAME_LEN, TAG_LEN,
    V1_MAX_FRAME_LEN,
};

/// Offer flag: the image is a JPEG.
pub const OFFER_FLAG_JPEG: u16 = 0x0001;

/// Offer flag: the sender announces the CRC-32 of every chunk ahead of it
/// (SegmentCrcs frames with one chunk per segment), and the receiver takes
/// only chunks that match theirs. A receiver that does not know the flag
/// treats the announcements as a repair's segment CRCs, which the chunks it
/// holds match.
pub const OFFER_FLAG_CHUNK_CRCS: u16 = 0x0002;

/// Offer flag: the sender understands an answer with the header flag
/// FRAME_LEN (the largest frame the receiver accepts). A receiver that does
/// not know the flag ignores it, as it ignores every offer flag it does not
/// know, and answers without the field.
pub const OFFER_FLAG_FRAME_LEN: u16 = 0x0004;

/// Set in a probe's role byte: the prober understands a reply with the header
/// flag FRAME_LEN. An older receiver answers any role but its own, without it.
pub const PROBE_ROLE_FRAME_LEN: u8 = 0x80;

/// Bytes of the image MAC a SealedOffer carries (a whole HMAC-SHA256).
pub const IMAGE_MAC_LEN: usize = 32;

/// The most segment CRCs one SegmentCrcs frame carries, tagged or not (a v1
/// frame's worth, whatever the frame size: the windows of chunk CRCs are cut
/// by it).
pub const MAX_SEGMENT_CRCS: usize = (V1_MAX_FRAME_LEN - HEADER_LEN - 8 - TAG_LEN) / 4;

/// A sender proposes a transfer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct OfferRepr {
    pub session: u32,
    pub image_len: u32,
    pub chunk_size: u16,
    pub chunk_count: u16,
    pub crc32: u32,
    pub flags: u16,
}

/// One piece of the image, at `index × chunk_size`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ChunkRepr<'a> {
    pub session: u32,
    pub index: u16,
    pub payload: &'a [u8],
}

/// The sender asks which chunks have arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct StatusRequestRepr {
    pub session: u32,
    pub poll: u16,
}

/// The receiver's selective acknowledgement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StatusRepr<'a> {
    pub session: u32,
    /// The poll this answers; [`StatusRepr::UNSOLICITED`] when it answers none.
    pub poll: u16,
    pub lowest_missing: u16,
    pub bitmap: &'a [u8],
}

impl StatusRepr<'_> {
    /// The poll id of a status sent without a request (the answer to an offer).
    pub const UNSOLICITED: u16 = 0xffff;

    /// Whether chunk `index` has arrived, as far as this status tells.
    pub fn has(&self, index: u16) -> Option<bool> {
        if index < self.lowest_missing {
            return Some(true);
        }
        if index == self.lowest_missing {
            return Some(false);
        }
        let bit = usize::from(index - self.lowest_missing - 1);
        let byte = self.bitmap.get(bit / 8)?;
        Some(byte & (1 << (bit % 8)) != 0)
    }

    /// The first chunk index this status says nothing about.
    pub fn covered_until(&self) -> u32 {
        u32::from(self.lowest_missing) + 1 + self.bitmap.len() as u32 * 8
    }
}

/// The sender's CRC-32 of each segment of the image, from `first_segment` on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SegmentCrcsRepr<'a> {
    pub session: u32,
    /// Chunks per segment (at least 1).
    pub segment_chunks: u16,
    pub first_segment: u16,
    /// The CRCs, 4 little-endian bytes each (1 to [`MAX_SEGMENT_CRCS`] of them).
    pub crcs: &'a [u8],
}

impl SegmentCrcsRepr<'_> {
    /// How many segment CRCs the frame carries.
    pub fn len(&self) -> usize {
        self.crcs.len() / 4
    }

    pub fn is_empty(&self) -> bool {
        self.crcs.len() < 4
    }

    /// The CRC-32 of segment `first_segment + i`.
    pub fn crc(&self, i: usize) -> Option<u32> {
        let bytes = self.crcs.get(i * 4..i * 4 + 4)?;
        Some(u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
    }
}

/// The receiver accepts an authenticated offer and names the nonce the
/// transfer's later tags are bound to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ChallengeRepr {
    pub session: u32,
    /// Never 0 (0 is the nonce of frames outside a transfer).
    pub nonce: u32,
}

/// How a transfer ended, from the receiver's side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[repr(u8)]
pub enum CompletionResult {
    /// every chunk arrived, the CRC-32 matched and the image is stored
    Stored = 0,
    /// every chunk arrived but the CRC-32 (or, authenticated, the image MAC)
    /// did not match: the transfer stays open for a segment repair
    CrcMismatch = 1,
    /// the image could not be stored
    StoreFailed = 2,
}

/// Why a side gave up a transfer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[repr(u8)]
pub enum AbortReason {
    /// the offered image is larger than the receiver accepts
    TooLarge = 1,
    /// the offer asks for more chunks than the receiver can track
    TooManyChunks = 2,
    /// the offer is inconsistent (chunk count, size and chunk size disagree)
    BadOffer = 3,
    /// the receiver has no free transfer or storage slot
    Busy = 4,
    /// the receiver forgot the session (idle too long, or never saw the offer)
    UnknownSession = 5,
    /// the sender gave up
    Cancelled = 6,
    /// the sender ran out of time
    TimedOut = 7,
    /// the sender began a newer transfer, past its limit of concurrent ones
    Superseded = 8,
    /// the receiver's limit on one transfer's whole duration passed
    Expired = 9,
    /// the offer is not authenticated as the receiver requires
    Unauthenticated = 10,
}

/// What a control request asks the camera to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[repr(u8)]
pub enum ControlCommand {
    /// set `variable` to `value`
    Set = 0,
    /// read `variable`
    Get = 1,
    /// capture and send an image now
    CaptureNow = 2,
}

/// The camera's answer to a control request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[repr(u8)]
pub enum ControlStatus {
    Ok = 0,
    Unsupported = 1,
    OutOfRange = 2,
    Busy = 3,
    CameraError = 4,
}

/// A camera-control request, from the receiver to a camera.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ControlRequestRepr {
    pub request: u16,
    pub command: ControlCommand,
    pub variable: ControlVariable,
    pub value: i32,
}

/// A camera-control response, echoing the request id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ControlResponseRepr {
    pub request: u16,
    pub status: ControlStatus,
    pub variable: ControlVariable,
    pub value: i32,
}

/// A node's health report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct TelemetryRepr {
    pub uptime_ms: u64,
    pub free_heap_bytes: u32,
    /// Hundredths of a degree Celsius; `None` travels as `i16::MIN`.
    pub chip_temperature_centi_celsius: Option<i16>,
    /// dBm of the last frame heard from the peer; `None` travels as 0.
    pub rssi: Option<i8>,
    pub frames_sent: u32,
    pub retransmissions: u32,
}

/// Discovery: a sender hopping channels asks who listens; a receiver answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ProbeRepr {
    pub nonce: u32,
    /// The role of the node that sent it: 0 sender, 1 receiver.
    pub role: u8,
}

/// Any nowcam frame, parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FrameRepr<'a> {
    Offer(OfferRepr),
    Chunk(ChunkRepr<'a>),
    StatusRequest(StatusRequestRepr),
    Status(StatusRepr<'a>),
    Completion { session: u32, result: CompletionResult },
    Abort { session: u32, reason: AbortReason },
    ControlRequest(ControlRequestRepr),
    ControlResponse(ControlResponseRepr),
    Telemetry(TelemetryRepr),
    Probe(ProbeRepr),
    ProbeReply(ProbeRepr),
    SegmentCrcs(SegmentCrcsRepr<'a>),
    Challenge(ChallengeRepr),
    SealedOffer { offer: OfferRepr, image_mac: [u8; IMAGE_MAC_LEN] },
}

impl CompletionResult {
    fn from_code(code: u8) -> Result<Self> {
        Ok(match code {
            0 => CompletionResult::Stored,
            1 => CompletionResult::CrcMismatch,
            2 => CompletionResult::StoreFailed,
            _ => return Err(Error::InvalidField),
        })
    }
}

impl AbortReason {
    fn from_code(code: u8) -> Result<Self> {
        Ok(match code {
            1 => AbortReason::TooLarge,
            2 => AbortReason::TooManyChunks,
            3 => AbortReason::BadOffer,
            4 => AbortReason::Busy,
            5 => AbortReason::UnknownSession,
            6 => AbortReason::Cancelled,
            7 => AbortReason::TimedOut,
            8 => AbortReason::Superseded,
            9 => AbortReason::Expired,
            10 => AbortReason::Unauthenticated,
            _ => return Err(Error::InvalidField),
        })
    }
}

impl ControlCommand {
    fn from_code(code: u8) -> Result<Self> {
        Ok(match code {
            0 => ControlCommand::Set,
            1 => ControlCommand::Get,
            2 => ControlCommand::CaptureNow,
            _ => return Err(Error::InvalidField),
        })
    }
}

impl ControlStatus {
    fn from_code(code: u8) -> Result<Self> {
        Ok(match code {
            0 => ControlStatus::Ok,
            1 => ControlStatus::Unsupported,
            2 => ControlStatus::OutOfRange,
            3 => ControlStatus::Busy,
            4 => ControlStatus::CameraError,
            _ => return Err(Error::InvalidField),
        })
    }
}

impl<'a> FrameRepr<'a> {
    /// Parses a checked frame.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(frame: &Frame<&'a T>) -> Result<FrameRepr<'a>> {
        frame.check_len()?;
        let kind = frame.kind().ok_or(Error::UnknownKind)?;
        let body: &'a [u8] = frame.body_ref();
        let mut r = Reader::new(body);
        Ok(match kind {
            FrameKind::Offer => FrameRepr::Offer(read_offer(&mut r)?),
            FrameKind::SealedOffer => {
                let offer = read_offer(&mut r)?;
                let mut image_mac = [0u8; IMAGE_MAC_LEN];
                let rest = r.rest();
                image_mac.copy_from_slice(rest.get(..IMAGE_MAC_LEN).ok_or(Error::Truncated)?);
                FrameRepr::SealedOffer { offer, image_mac }
            }
            FrameKind::SegmentCrcs => {
                let session = r.u32()?;
                let segment_chunks = r.u16()?;
                let first_segment = r.u16()?;
                // `check_len` saw to the CRCs' count.
                let crcs = r.rest();
                if segment_chunks == 0 {
                    return Err(Error::InvalidField);
                }
                FrameRepr::SegmentCrcs(SegmentCrcsRepr { session, segment_chunks, first_segment, crcs })
            }
            FrameKind::Challenge => {
                let session = r.u32()?;
                let nonce = r.u32()?;
                if nonce == 0 {
                    return Err(Error::InvalidField);
                }
                FrameRepr::Challenge(ChallengeRepr { session, nonce })
            }
            FrameKind::Chunk => {
                let session = r.u32()?;
                let index = r.u16()?;
                FrameRepr::Chunk(ChunkRepr { session, index, payload: r.rest() })
            }
            FrameKind::StatusRequest => {
                FrameRepr::StatusRequest(StatusRequestRepr { session: r.u32()?, poll: r.u16()? })
            }
            FrameKind::Status => {
                let session = r.u32()?;
                let poll = r.u16()?;
                let lowest_missing = r.u16()?;
                FrameRepr::Status(StatusRepr { session, poll, lowest_missing, bitmap: r.rest() })
            }
            FrameKind::Completion => {
                FrameRepr::Completion { session: r.u32()?, result: CompletionResult::from_code(r.u8()?)? }
            }
            FrameKind::Abort => FrameRepr::Abort { session: r.u32()?, reason: AbortReason::from_code(r.u8()?)? },
            FrameKind::ControlRequest => FrameRepr::ControlRequest(ControlRequestRepr {
                request: r.u16()?,
                command: ControlCommand::from_code(r.u8()?)?,
                variable: ControlVariable::from_code(r.u8()?).ok_or(Error::InvalidField)?,
                value: r.i32()?,
            }),
            FrameKind::ControlResponse => FrameRepr::ControlResponse(ControlResponseRepr {
                request: r.u16()?,
                status: ControlStatus::from_code(r.u8()?)?,
                variable: ControlVariable::from_code(r.u8()?).ok_or(Error::InvalidField)?,
                value: r.i32()?,
            }),
            FrameKind::Telemetry => {
                let uptime_ms = r.u64()?;
                let free_heap_bytes = r.u32()?;
                let temperature = r.i16()?;
                let rssi = r.i8()?;
                FrameRepr::Telemetry(TelemetryRepr {
                    uptime_ms,
                    free_heap_bytes,
                    chip_temperature_centi_celsius: (temperature != i16::MIN).then_some(temperature),
                    rssi: (rssi != 0).then_some(rssi),
                    frames_sent: r.u32()?,
                    retransmissions: r.u32()?,
                })
            }
            FrameKind::Probe => FrameRepr::Probe(ProbeRepr { nonce: r.u32()?, role: r.u8()? }),
            FrameKind::ProbeReply => FrameRepr::ProbeReply(ProbeRepr { nonce: r.u32()?, role: r.u8()? }),
        })
    }

    /// Parses untrusted bytes in one step.
    pub fn parse_bytes(bytes: &'a [u8]) -> Result<FrameRepr<'a>> {
        Self::parse(&Frame::new_unchecked(bytes))
    }

    pub fn kind(&self) -> FrameKind {
        match self {
            FrameRepr::Offer(_) => FrameKind::Offer,
            FrameRepr::Chunk(_) => FrameKind::Chunk,
            FrameRepr::StatusRequest(_) => FrameKind::StatusRequest,
            FrameRepr::Status(_) => FrameKind::Status,
            FrameRepr::Completion { .. } => FrameKind::Completion,
            FrameRepr::Abort { .. } => FrameKind::Abort,
            FrameRepr::ControlRequest(_) => FrameKind::ControlRequest,
            FrameRepr::ControlResponse(_) => FrameKind::ControlResponse,
            FrameRepr::Telemetry(_) => FrameKind::Telemetry,
            FrameRepr::Probe(_) => FrameKind::Probe,
            FrameRepr::ProbeReply(_) => FrameKind::ProbeReply,
            FrameRepr::SegmentCrcs(_) => FrameKind::SegmentCrcs,
            FrameRepr::Challenge(_) => FrameKind::Challenge,
            FrameRepr::SealedOffer { .. } => FrameKind::SealedOffer,
        }
    }

    /// The session a transfer frame belongs to.
    pub fn session(&self) -> Option<u32> {
        match self {
            FrameRepr::Offer(o) => Some(o.session),
            FrameRepr::Chunk(c) => Some(c.session),
            FrameRepr::StatusRequest(s) => Some(s.session),
            FrameRepr::Status(s) => Some(s.session),
            FrameRepr::Completion { session, .. } | FrameRepr::Abort { session, .. } => Some(*session),
            FrameRepr::SegmentCrcs(s) => Some(s.session),
            FrameRepr::Challenge(c) => Some(c.session),
            FrameRepr::SealedOffer { offer, .. } => Some(offer.session),
            _ => None,
        }
    }

    /// The length of the frame this emits.
    pub fn buffer_len(&self) -> usize {
        let variable = match self {
            FrameRepr::Chunk(c) => c.payload.len(),
            FrameRepr::Status(s) => s.bitmap.len(),
            FrameRepr::SegmentCrcs(s) => s.crcs.len(),
            _ => 0,
        };
        HEADER_LEN + self.kind().fixed_len() + variable
    }

    /// Writes the frame into `buffer` and returns its length.
    pub fn emit(&self, buffer: &mut [u8]) -> Result<usize> {
        let len = self.buffer_len();
        if len > MAX_FRAME_LEN {
            return Err(Error::TooLong);
        }
        if let FrameRepr::Chunk(c) = self {
            if c.payload.len() > MAX_CHUNK_PAYLOAD {
                return Err(Error::TooLong);
            }
        }
        match self {
            FrameRepr::SegmentCrcs(s) if s.crcs.len() > MAX_SEGMENT_CRCS * 4 => return Err(Error::TooLong),
            FrameRepr::SegmentCrcs(s) if s.crcs.is_empty() || !s.crcs.len().is_multiple_of(4) => {
                return Err(Error::Truncated)
            }
            FrameRepr::SegmentCrcs(s) if s.segment_chunks == 0 => return Err(Error::InvalidField),
            FrameRepr::Challenge(c) if c.nonce == 0 => return Err(Error::InvalidField),
            _ => {}
        }
        let buffer = buffer.get_mut(..len).ok_or(Error::BufferTooSmall)?;
        let mut frame = Frame::new_unchecked(&mut *buffer);
        frame.set_header(self.kind(), 0);
        let mut w = Writer::new(frame.body_mut());
        match self {
            FrameRepr::Offer(o) => write_offer(&mut w, o)?,
            FrameRepr::SealedOffer { offer, image_mac } => {
                write_offer(&mut w, offer)?;
                w.bytes(image_mac)?;
            }
            FrameRepr::SegmentCrcs(s) => {
                w.u32(s.session)?;
                w.u16(s.segment_chunks)?;
                w.u16(s.first_segment)?;
                w.bytes(s.crcs)?;
            }
            FrameRepr::Challenge(c) => {
                w.u32(c.session)?;
                w.u32(c.nonce)?;
            }
            FrameRepr::Chunk(c) => {
                w.u32(c.session)?;
                w.u16(c.index)?;
                w.bytes(c.payload)?;
            }
            FrameRepr::StatusRequest(s) => {
                w.u32(s.session)?;
                w.u16(s.poll)?;
            }
            FrameRepr::Status(s) => {
                w.u32(s.session)?;
                w.u16(s.poll)?;
                w.u16(s.lowest_missing)?;
                w.bytes(s.bitmap)?;
            }
            FrameRepr::Completion { session, result } => {
                w.u32(*session)?;
                w.u8(*result as u8)?;
            }
            FrameRepr::Abort { session, reason } => {
                w.u32(*session)?;
                w.u8(*reason as u8)?;
            }
            FrameRepr::ControlRequest(c) => {
                w.u16(c.request)?;
                w.u8(c.command as u8)?;
                w.u8(c.variable.code())?;
                w.bytes(&c.value.to_le_bytes())?;
            }
            FrameRepr::ControlResponse(c) => {
                w.u16(c.request)?;
                w.u8(c.status as u8)?;
                w.u8(c.variable.code())?;
                w.bytes(&c.value.to_le_bytes())?;
            }
            FrameRepr::Telemetry(t) => {
                w.u64(t.uptime_ms)?;
                w.u32(t.free_heap_bytes)?;
                w.bytes(&t.chip_temperature_centi_celsius.unwrap_or(i16::MIN).to_le_bytes())?;
                w.u8(t.rssi.unwrap_or(0) as u8)?;
                w.u32(t.frames_sent)?;
                w.u32(t.retransmissions)?;
            }
            FrameRepr::Probe(p) | FrameRepr::ProbeReply(p) => {
                w.u32(p.nonce)?;
                w.u8(p.role)?;
            }
        }
        Ok(len)
    }
}

fn read_offer(r: &mut Reader<'_>) -> Result<OfferRepr> {
    Ok(OfferRepr {
        session: r.u32()?,
        image_len: r.u32()?,
        chunk_size: r.u16()?,
        chunk_count: r.u16()?,
        crc32: r.u32()?,
        flags: r.u16()?,
    })
}

fn write_offer(w: &mut Writer<'_>, o: &OfferRepr) -> Result<()> {
    w.u32(o.session)?;
    w.u32(o.image_len)?;
    w.u16(o.chunk_size)?;
    w.u16(o.chunk_count)?;
    w.u32(o.crc32)?;
    w.u16(o.flags)
}
