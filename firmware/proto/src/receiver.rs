//! The receiving side, sans IO: several concurrent transfers keyed by
//! (sender address, session), each reassembled into its own slot of a store.
//!
//! The driver hands every nowcam frame to [`Receiver::handle`], sends the
//! reply it writes (if any) back to the frame's source, and calls
//! [`Receiver::poll`] at [`Receiver::poll_at`] to expire idle transfers.
//!
//! Nothing is stored on a whim:
//! - an offer is checked against every limit (image size, chunk count,
//!   concurrent transfers, transfers per sender) and refused with a typed
//!   reason before anything else; empty and inconsistent offers are refused;
//! - the store is asked only whether it *could* take the image
//!   ([`TransferStore::can_begin`]) when the offer comes; the slot is taken
//!   ([`TransferStore::begin`], which may erase) at the first data chunk that
//!   fits the offer, so forged offers never erase or write flash;
//! - a transfer ends after `idle_timeout` of silence and after
//!   `transfer_timeout` in all, whatever it hears.
//!
//! Repair instead of failure: when every chunk has arrived and the CRC-32
//! fails, the transfer stays open and the receiver answers with a Completion
//! of `CrcMismatch` (and every later status request with it again, until
//! segment CRCs find what differs). The sender then
//! sends its CRC-32 of every segment of `K` chunks (SegmentCrcs); the
//! receiver compares each with its own, has the store wipe every segment
//! that differs ([`TransferStore::discard`]) and forgets those chunks.
//! Its next Status reports them missing, the sender sends them again, and the
//! image is verified again. Only the bad segments travel twice. The flash
//! store writes them again into its slot's spare erased space (it never
//! erases mid-transfer); a store without room for them refuses, and the
//! transfer ends as `StoreFailed` (the camera sends the image again).
//!
//! Forged chunks never get that far when the offer announces chunk CRCs
//! (the default mode's camera does for an image it offers again after a
//! failure): a chunk is taken only if the CRC-32
//! the sender announced for it ahead (SegmentCrcs of one-chunk segments)
//! has arrived and matches; one whose CRC is unknown or differs is dropped
//! and stays missing. Without them, the newest chunk of a transfer is held
//! back in RAM until the next one, and two differing copies of it are both
//! dropped (see [`crate::reassembler`]). Senders refused as Busy
//! are taken in the order they were first refused.
//!
//! In the authenticated mode (`key` set, see [`crate::auth`]) every frame
//! must carry a valid tag; frames that fail are dropped, counted by reason
//! in [`DropStats`], and never reach the store. An image is committed only
//! when its CRC-32 and its image MAC both match.

use crate::address::MacAddress;
use crate::auth::{self, AuthError, Authenticator, Direction, Key};
use crate::random::SplitMix64;
use crate::reassembler::{ChunkError, ChunkOutcome, ImageSink, Limits, Reassembler, VerifyError};
use crate::time::{Duration, Instant};
use crate::wire::{
    self, AbortReason, ChallengeRepr, CompletionResult, FrameRepr, OfferRepr, SegmentCrcsRepr, StatusRepr,
    CHUNK_OVERHEAD, FRAME_LEN_FIELD, MAX_FRAME_LEN, OFFER_FLAG_FRAME_LEN, TAG_LEN, V1_MAX_FRAME_LEN,
};

/// Where the receiver keeps images being received: one slot per transfer.
pub trait TransferStore {
    /// Names a slot being written.
    type Slot: Copy + core::fmt::Debug;
    type Error: core::fmt::Debug;

    /// Whether `begin(len)` would succeed now for one more transfer, with
    /// `waiting` transfers accepted that have not begun (received no data
    /// chunk) yet; it does nothing. Asked when an offer comes, so that an
    /// offer never erases or writes.
    fn can_begin(&mut self, len: u32, waiting: usize) -> bool {
        let _ = (len, waiting);
        true
    }

    /// Reserves a slot for an image of `len` bytes; called at the first data
    /// chunk of a transfer.
    fn begin(&mut self, len: u32) -> Result<Self::Slot, Self::Error>;
    fn write_at(&mut self, slot: Self::Slot, offset: u32, data: &[u8]) -> Result<(), Self::Error>;
    fn read_at(&mut self, slot: Self::Slot, offset: u32, buffer: &mut [u8]) -> Result<usize, Self::Error>;
    /// Makes a verified image visible.
    fn commit(&mut self, slot: Self::Slot, crc32: u32) -> Result<(), Self::Error>;
    /// Frees a slot whose transfer failed.
    fn abandon(&mut self, slot: Self::Slot);

    /// Makes the bytes `offset..offset + len` of a slot writable again, for
    /// a segment repair; returns the range `(from, to)` of bytes it wiped,
    /// which covers the asked range. Every chunk with a byte in it is
    /// received again.
    ///
    /// The default suits a store that overwrites in place (RAM): it wipes
    /// exactly the asked range. The NOR flash store moves the range into
    /// its slot's spare erased space, and refuses when there is none (it
    /// never erases mid-transfer): the receiver then ends the transfer as
    /// `StoreFailed`.
    fn discard(&mut self, slot: Self::Slot, offset: u32, len: u32) -> Result<(u32, u32), Self::Error> {
        let _ = slot;
        Ok((offset, offset.saturating_add(len)))
    }
}

/// One slot of a store seen as an [`ImageSink`]; the slot is taken at the first write.
struct SlotSink<'a, S: TransferStore> {
    store: &'a mut S,
    slot: &'a mut Option<S::Slot>,
    len: u32,
    /// Set when `begin` failed at the first write.
    begin_failed: bool,
}

impl<S: TransferStore> ImageSink for SlotSink<'_, S> {
    type Error = S::Error;

    fn write_at(&mut self, offset: u32, data: &[u8]) -> Result<(), S::Error> {
        let slot = match *self.slot {
            Some(slot) => slot,
            None => match self.store.begin(self.len) {
                Ok(slot) => *self.slot.insert(slot),
                Err(error) => {
                    self.begin_failed = true;
                    return Err(error);
                }
            },
        };
        self.store.write_at(slot, offset, data)
    }

    fn read_at(&mut self, offset: u32, buffer: &mut [u8]) -> Result<usize, S::Error> {
        match *self.slot {
            Some(slot) => self.store.read_at(slot, offset, buffer),
            None => Ok(0),
        }
    }

    fn reserve(&mut self) -> Result<(), S::Error> {
        if self.slot.is_none() {
            match self.store.begin(self.len) {
                Ok(slot) => *self.slot = Some(slot),
                Err(error) => {
                    self.begin_failed = true;
                    return Err(error);
                }
            }
        }
        Ok(())
    }
}

/// How a receiver behaves. Every limit has a safe default and is checked
/// before any slot, memory or flash is touched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ReceiverConfig {
    /// The largest image accepted (refused as [`AbortReason::TooLarge`]).
    pub limits: Limits,
    /// A transfer that hears nothing for this long is dropped and its slot freed.
    pub idle_timeout: Duration,
    /// A transfer still open this long after its offer is dropped, whatever
    /// it hears (reason [`AbortReason::Expired`]).
    pub transfer_timeout: Duration,
    /// The most chunks an offer may ask for (refused as
    /// [`AbortReason::TooManyChunks`]); never more than the bitmap holds.
    pub max_chunk_count: u16,
    /// Transfers open at once, over every sender (refused as
    /// [`AbortReason::Busy`]); never more than the receiver's `TRANSFERS`.
    pub max_transfers: u8,
    /// Transfers open at once from one sender (at least 1). A sender at its
    /// limit that offers a new image supersedes its oldest transfer (dropped
    /// as [`AbortReason::Superseded`]): a camera sends one image at a time,
    /// and one that restarted must not wait for its old session to expire.
    pub max_transfers_per_sender: u8,
    /// The pre-shared key of the authenticated mode; `None` for the default mode.
    pub key: Option<Key>,
    /// The largest frame this receiver takes (250 for ESP-NOW v1, up to
    /// 1470 for v2): announced to senders that ask (offer flag FRAME_LEN),
    /// and offers whose chunk frames would be larger are refused as
    /// [`AbortReason::BadOffer`].
    pub max_frame_len: u16,
}

impl Default for ReceiverConfig {
    fn default() -> Self {
        Self {
            limits: Limits::default(),
            idle_timeout: Duration::from_secs(10),
            transfer_timeout: Duration::from_secs(120),
            max_chunk_count: u16::MAX,
            max_transfers: u8::MAX,
            max_transfers_per_sender: 1,
            key: None,
            max_frame_len: V1_MAX_FRAME_LEN as u16,
        }
    }
}

/// A frame the receiver would not take.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ReceiveError {
    /// the bytes are not a valid nowcam frame
    Malformed(wire::Error),
    /// the frame failed authentication
    Auth(AuthError),
    /// the offer was refused
    Refused(AbortReason),
    /// a chunk or status request names a session this receiver does not know (or no longer knows)
    UnknownSession,
    /// a chunk index is past the offered chunk count
    IndexOutOfRange,
    /// a chunk's length is not the one the offer implies
    WrongLength,
    /// the store refused a write
    Store,
    /// a second copy of a chunk with other bytes than the first, held one:
    /// one of them is forged, both are dropped and the chunk is fetched again
    Contested,
    /// a chunk whose CRC-32 the sender has not announced yet (the offer
    /// promised it would): dropped, it stays missing
    Unannounced,
    /// a chunk whose CRC-32 differs from the one announced: forged or
    /// corrupted, dropped
    BadChunkCrc,
}

impl core::fmt::Display for ReceiveError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ReceiveError::Malformed(e) => write!(f, "malformed frame: {e}"),
            ReceiveError::Auth(e) => write!(f, "unauthenticated frame: {e}"),
            ReceiveError::Refused(reason) => write!(f, "offer refused: {reason:?}"),
            ReceiveError::UnknownSession => f.write_str("unknown session"),
            ReceiveError::IndexOutOfRange => f.write_str("chunk index out of range"),
            ReceiveError::WrongLength => f.write_str("chunk length does not match the offer"),
            ReceiveError::Store => f.write_str("the store refused a write"),
            ReceiveError::Contested => f.write_str("two copies of a chunk differ"),
            ReceiveError::Unannounced => f.write_str("chunk CRC not announced yet"),
            ReceiveError::BadChunkCrc => f.write_str("chunk does not match its announced CRC-32"),
        }
    }
}

impl core::error::Error for ReceiveError {}

/// Something the application should know about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ReceiverEvent {
    Started {
        source: MacAddress,
        offer: OfferRepr,
    },
    /// The image passed its CRC-32 check (and image MAC) and is committed.
    Stored {
        source: MacAddress,
        offer: OfferRepr,
    },
    /// Every chunk arrived but the image failed its check: the transfer
    /// stays open for the sender's segment CRCs.
    Repairing {
        source: MacAddress,
        offer: OfferRepr,
    },
    /// The image could not be committed.
    Failed {
        source: MacAddress,
        offer: OfferRepr,
        result: CompletionResult,
    },
    /// The sender went silent, aborted, was superseded or ran past the
    /// transfer timeout; the partial image is gone.
    Dropped {
        source: MacAddress,
        offer: OfferRepr,
        reason: AbortReason,
    },
}

/// What `handle` did with a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Handled {
    /// Length of the reply written to the caller's buffer, to send back to the source.
    pub reply_len: Option<usize>,
    pub event: Option<ReceiverEvent>,
}

/// Frames dropped, by reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct DropStats {
    /// not a valid nowcam frame
    pub malformed: u32,
    /// authenticated mode, no tag
    pub untagged: u32,
    /// a tag, and no key configured
    pub unexpected_tag: u32,
    /// a tag that does not match: forged, corrupted, or replayed from another transfer
    pub bad_tag: u32,
    /// offers refused (limits, inconsistency, busy, unauthenticated)
    pub refused: u32,
    /// frames of a session the receiver does not know
    pub unknown_session: u32,
    /// chunks past the offered count
    pub index_out_of_range: u32,
    /// chunks of the wrong length
    pub wrong_length: u32,
    /// chunks the store could not take
    pub store: u32,
    /// second copies of a held chunk with other bytes (the held copy is
    /// dropped with it)
    pub contested: u32,
    /// chunks that came before the announcement of their CRC-32
    pub unannounced: u32,
    /// chunks that failed their announced CRC-32 (forged or corrupted)
    pub bad_chunk_crc: u32,
}

/// Counters a receiver keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ReceiverStats {
    pub frames: u32,
    pub chunks_stored: u32,
    pub duplicates: u32,
    /// Frames refused for any reason (the sum of `dropped`).
    pub rejected: u32,
    pub images_stored: u32,
    pub dropped: DropStats,
    /// Images whose check failed once every chunk was in, and went to repair.
    pub crc_mismatches: u32,
    /// Segments found bad by a segment CRC and fetched again.
    pub segments_repaired: u32,
    /// Chunks forgotten by segment repairs (the bad segments and their sector neighbours).
    pub chunks_repaired: u32,
    /// Transfers dropped after `idle_timeout` of silence.
    pub expired_idle: u32,
    /// Transfers dropped after `transfer_timeout` in all.
    pub expired_overall: u32,
    /// Transfers superseded by a newer offer of their sender.
    pub superseded: u32,
    /// Transfers the receiver ended as failed (the store refused, or the
    /// repair rounds ran out); the camera offers the image again.
    pub failed: u32,
}

struct Transfer<Slot, const WORDS: usize> {
    source: MacAddress,
    /// Taken at the first data chunk.
    slot: Option<Slot>,
    reassembler: Reassembler<WORDS>,
    started: Instant,
    last_heard: Instant,
    /// The authenticated mode's nonce (0 in the default mode).
    nonce: u32,
    image_mac: Option<[u8; 32]>,
    /// Every chunk is in and the check failed: waiting for segment CRCs.
    mismatch: bool,
}

#[derive(Debug, Clone, Copy)]
struct Finished {
    source: MacAddress,
    /// The offer that began it: a new offer that reuses the session with
    /// other contents is a new image, never answered with this result.
    offer: OfferRepr,
    result: CompletionResult,
    nonce: u32,
}

/// Bytes of the abort frame a refused offer leaves in the reply buffer, untagged
/// (see [`Receiver::abort_len`]).
pub const ABORT_LEN: usize = wire::HEADER_LEN + 5;

/// How many finished transfers are remembered, to answer a sender whose completion frame was lost.
const FINISHED_MEMORY: usize = 8;

/// How many senders refused as Busy are remembered, in the order they were
/// first refused, so that a freed transfer goes to the one waiting longest.
const WAITING_MEMORY: usize = 8;

/// A sender refused as Busy that has not offered again for this long has
/// given up (a camera offers again after 100 to 200 ms): it waits no more.
const WAITING_EXPIRY: Duration = Duration::from_millis(500);

/// A sender refused as Busy: when it was first refused, and last.
#[derive(Debug, Clone, Copy)]
struct Waiting {
    source: MacAddress,
    since: Instant,
    last: Instant,
}

/// Up to `TRANSFERS` concurrent transfers of up to `32 × WORDS` chunks each.
pub struct Receiver<Slot, const TRANSFERS: usize, const WORDS: usize> {
    config: ReceiverConfig,
    authenticator: Option<Authenticator>,
    random: SplitMix64,
    transfers: [Option<Transfer<Slot, WORDS>>; TRANSFERS],
    finished: [Option<Finished>; FINISHED_MEMORY],
    finished_next: usize,
    /// Senders refused as Busy, to take in turn as transfers free up.
    waiting: [Option<Waiting>; WAITING_MEMORY],
    stats: ReceiverStats,
}

impl<Slot: Copy + core::fmt::Debug, const TRANSFERS: usize, const WORDS: usize> Receiver<Slot, TRANSFERS, WORDS> {
    /// A receiver whose nonces start from seed 0: enough for the default
    /// mode. In the authenticated mode use [`Receiver::with_seed`] with a
    /// random seed, or nonces repeat across reboots.
    pub fn new(config: ReceiverConfig) -> Self {
        Self::with_seed(config, 0)
    }

    /// A receiver whose authenticated-mode nonces come from `seed` (the
    /// board's hardware random number generator).
    pub fn with_seed(config: ReceiverConfig, seed: u64) -> Self {
        Self {
            config,
            authenticator: config.key.as_ref().map(Authenticator::new),
            random: SplitMix64::new(seed ^ 0x6e6f_7763_616d_0001),
            transfers: core::array::from_fn(|_| None),
            finished: [None; FINISHED_MEMORY],
            finished_next: 0,
            waiting: [None; WAITING_MEMORY],
            stats: ReceiverStats::default(),
        }
    }

    pub fn config(&self) -> &ReceiverConfig {
        &self.config
    }

    pub fn stats(&self) -> ReceiverStats {
        self.stats
    }

    /// Bytes of the abort a refusal leaves in the reply buffer (with its tag
    /// in the authenticated mode).
    pub fn abort_len(&self) -> usize {
        ABORT_LEN + if self.authenticator.is_some() { TAG_LEN } else { 0 }
    }

    /// Transfers in progress: source, offer and chunks received so far.
    pub fn active(&self) -> impl Iterator<Item = (MacAddress, &OfferRepr, u16)> {
        self.transfers.iter().flatten().map(|t| (t.source, t.reassembler.offer(), t.reassembler.received_count()))
    }

    /// Whether any transfer in progress has taken a slot of the store (has
    /// received a data chunk).
    pub fn writing(&self) -> bool {
        self.transfers.iter().flatten().any(|t| t.slot.is_some())
    }

    /// Handles one frame from `source`; a reply, if any, is written to `reply`.
    ///
    /// A refused offer returns `Err(ReceiveError::Refused(_))` and leaves an
    /// abort frame of [`Receiver::abort_len`] bytes in `reply`, to send to the source.
    pub fn handle<S: TransferStore<Slot = Slot>>(
        &mut self,
        now: Instant,
        source: MacAddress,
        bytes: &[u8],
        store: &mut S,
        reply: &mut [u8; MAX_FRAME_LEN],
    ) -> Result<Handled, ReceiveError> {
        self.stats.frames += 1;
        let result = match FrameRepr::parse_bytes(bytes) {
            Ok(frame) => match self.authenticate(source, &frame, bytes) {
                Ok(()) => self.handle_frame(now, source, &frame, store, reply),
                Err(e) => Err(ReceiveError::Auth(e)),
            },
            Err(e) => Err(ReceiveError::Malformed(e)),
        };
        if let Err(error) = result {
            self.count_drop(error);
        }
        result
    }

    fn count_drop(&mut self, error: ReceiveError) {
        self.stats.rejected += 1;
        let dropped = &mut self.stats.dropped;
        let counter = match error {
            ReceiveError::Malformed(_) => &mut dropped.malformed,
            ReceiveError::Auth(AuthError::Untagged) => &mut dropped.untagged,
            ReceiveError::Auth(AuthError::UnexpectedTag) => &mut dropped.unexpected_tag,
            ReceiveError::Auth(AuthError::BadTag) => &mut dropped.bad_tag,
            ReceiveError::Refused(_) => &mut dropped.refused,
            ReceiveError::UnknownSession => &mut dropped.unknown_session,
            ReceiveError::IndexOutOfRange => &mut dropped.index_out_of_range,
            ReceiveError::WrongLength => &mut dropped.wrong_length,
            ReceiveError::Store => &mut dropped.store,
            ReceiveError::Contested => &mut dropped.contested,
            ReceiveError::Unannounced => &mut dropped.unannounced,
            ReceiveError::BadChunkCrc => &mut dropped.bad_chunk_crc,
        };
        *counter += 1;
    }

    /// Checks a frame's tag against the nonce of the transfer it names.
    fn authenticate(&self, source: MacAddress, frame: &FrameRepr<'_>, bytes: &[u8]) -> Result<(), AuthError> {
        let nonce = match frame {
            FrameRepr::Offer(_) | FrameRepr::SealedOffer { .. } => 0,
            _ => match frame.session() {
                Some(session) => self.nonce_of(source, session),
                None => 0,
            },
        };
        auth::check(self.authenticator.as_ref(), Direction::FromCamera, nonce, bytes)
    }

    /// The nonce of the transfer (open or finished) of `source` and `session`, else 0.
    fn nonce_of(&self, source: MacAddress, session: u32) -> u32 {
        if let Some(position) = self.find(source, session) {
            return self.transfers[position].as_ref().map_or(0, |t| t.nonce);
        }
        self.finished_index(source, session).and_then(|i| self.finished[i]).map_or(0, |f| f.nonce)
    }

    /// Writes `frame` into `reply`, tagged with `nonce` in the authenticated mode.
    fn write(&self, frame: &FrameRepr<'_>, nonce: u32, reply: &mut [u8; MAX_FRAME_LEN]) -> Option<usize> {
        let len = frame.emit(reply).ok()?;
        self.end_frame(len, nonce, false, reply)
    }

    /// Ends the untagged frame of `len` bytes in `reply`: the largest frame
    /// accepted when `announce`, then the tag of the authenticated mode.
    fn end_frame(&self, len: usize, nonce: u32, announce: bool, reply: &mut [u8; MAX_FRAME_LEN]) -> Option<usize> {
        let len = if announce { wire::announce_frame_len(reply, len, self.max_frame_len()).ok()? } else { len };
        match &self.authenticator {
            Some(authenticator) => authenticator.seal(Direction::FromReceiver, nonce, reply, len).ok(),
            None => Some(len),
        }
    }

    fn handle_frame<S: TransferStore<Slot = Slot>>(
        &mut self,
        now: Instant,
        source: MacAddress,
        frame: &FrameRepr<'_>,
        store: &mut S,
        reply: &mut [u8; MAX_FRAME_LEN],
    ) -> Result<Handled, ReceiveError> {
        match frame {
            FrameRepr::Offer(offer) => self.handle_offer(now, source, offer, None, store, reply),
            FrameRepr::SealedOffer { offer, image_mac } => {
                self.handle_offer(now, source, offer, Some(*image_mac), store, reply)
            }
            FrameRepr::Chunk(chunk) => {
                let Some(position) = self.find(source, chunk.session) else {
                    if self.finished_result(source, chunk.session).is_some() {
                        self.stats.duplicates += 1;
                        return Ok(Handled::default());
                    }
                    return Err(ReceiveError::UnknownSession);
                };
                let transfer = self.transfers[position].as_mut().ok_or(ReceiveError::UnknownSession)?;
                transfer.last_heard = now;
                let len = transfer.reassembler.offer().image_len;
                let mut sink = SlotSink { store: &mut *store, slot: &mut transfer.slot, len, begin_failed: false };
                let outcome = transfer.reassembler.accept(chunk, &mut sink);
                let begin_failed = sink.begin_failed;
                match outcome {
                    Ok(ChunkOutcome::Stored) => self.stats.chunks_stored += 1,
                    Ok(ChunkOutcome::Duplicate) => {
                        self.stats.duplicates += 1;
                        return Ok(Handled::default());
                    }
                    Ok(ChunkOutcome::Contested) => return Err(ReceiveError::Contested),
                    Err(ChunkError::WrongSession) => return Err(ReceiveError::UnknownSession),
                    Err(ChunkError::IndexOutOfRange) => return Err(ReceiveError::IndexOutOfRange),
                    Err(ChunkError::WrongLength) => return Err(ReceiveError::WrongLength),
                    Err(ChunkError::Unannounced) => return Err(ReceiveError::Unannounced),
                    Err(ChunkError::BadChunkCrc) => return Err(ReceiveError::BadChunkCrc),
                    Err(ChunkError::Sink(_)) if begin_failed => {
                        // No slot after all (another transfer took the one the offer saw):
                        // the sender offers again later.
                        let nonce = transfer.nonce;
                        let session = chunk.session;
                        self.transfers[position] = None;
                        let abort = FrameRepr::Abort { session, reason: AbortReason::Busy };
                        self.write(&abort, nonce, reply);
                        return Err(ReceiveError::Refused(AbortReason::Busy));
                    }
                    Err(ChunkError::Sink(_)) => return Err(ReceiveError::Store),
                }
                if transfer.reassembler.is_filled() {
                    return Ok(self.finish(position, store, reply));
                }
                Ok(Handled::default())
            }
            FrameRepr::StatusRequest(request) => {
                if let Some(index) = self.finished_index(source, request.session) {
                    let Some(finished) = self.finished[index] else {
                        return Err(ReceiveError::UnknownSession);
                    };
                    let completion = FrameRepr::Completion { session: request.session, result: finished.result };
                    return Ok(Handled { reply_len: self.write(&completion, finished.nonce, reply), event: None });
                }
                let Some(position) = self.find(source, request.session) else {
                    let abort = FrameRepr::Abort { session: request.session, reason: AbortReason::UnknownSession };
                    return Ok(Handled { reply_len: self.write(&abort, 0, reply), event: None });
                };
                let transfer = self.transfers[position].as_mut().ok_or(ReceiveError::UnknownSession)?;
                transfer.last_heard = now;
                let nonce = transfer.nonce;
                if transfer.mismatch {
                    // Waiting for a repair: the check's result stands, and the sender
                    // sends its segment CRCs (again). A status saying every chunk
                    // arrived would do as well, but a forger can send that one.
                    let completion =
                        FrameRepr::Completion { session: request.session, result: CompletionResult::CrcMismatch };
                    return Ok(Handled { reply_len: self.write(&completion, nonce, reply), event: None });
                }
                let transfer = self.transfers[position].as_ref().ok_or(ReceiveError::UnknownSession)?;
                let reply_len = status(self, &transfer.reassembler, request.poll, nonce, false, reply);
                Ok(Handled { reply_len, event: None })
            }
            FrameRepr::SegmentCrcs(segments) => self.handle_segment_crcs(now, source, segments, store, reply),
            FrameRepr::Abort { session, .. } => {
                let Some(position) = self.find(source, *session) else {
                    return Ok(Handled::default());
                };
                let event = self.drop_transfer(position, store, AbortReason::Cancelled);
                Ok(Handled { reply_len: None, event })
            }
            // Camera control, telemetry and probes are the application's business.
            _ => Ok(Handled::default()),
        }
    }

    fn handle_offer<S: TransferStore<Slot = Slot>>(
        &mut self,
        now: Instant,
        source: MacAddress,
        offer: &OfferRepr,
        image_mac: Option<[u8; 32]>,
        store: &mut S,
        reply: &mut [u8; MAX_FRAME_LEN],
    ) -> Result<Handled, ReceiveError> {
        let refuse = |this: &Self, reason: AbortReason, reply: &mut [u8; MAX_FRAME_LEN]| {
            this.write(&FrameRepr::Abort { session: offer.session, reason }, 0, reply);
            Err(ReceiveError::Refused(reason))
        };
        // The authenticated mode needs the image MAC to check before commit.
        let image_mac = match (&self.authenticator, image_mac) {
            (Some(_), None) => return refuse(self, AbortReason::Unauthenticated, reply),
            (Some(_), Some(mac)) => Some(mac),
            (None, _) => None,
        };
        if let Some(index) = self.finished_index(source, offer.session) {
            match self.finished[index] {
                Some(finished) if finished.offer == *offer => {
                    let completion = FrameRepr::Completion { session: offer.session, result: finished.result };
                    return Ok(Handled { reply_len: self.write(&completion, finished.nonce, reply), event: None });
                }
                // The session id came round again (a sender restarted with the same random
                // numbers): what was finished under it says nothing about this image.
                _ => self.finished[index] = None,
            }
        }
        if let Some(position) = self.find(source, offer.session) {
            // A repeated offer: the first answer was lost. Answer with where the transfer stands.
            let transfer = self.transfers[position].as_mut().ok_or(ReceiveError::UnknownSession)?;
            if transfer.reassembler.offer() != offer || transfer.image_mac != image_mac {
                return refuse(self, AbortReason::BadOffer, reply);
            }
            transfer.last_heard = now;
            let transfer = self.transfers[position].as_ref().ok_or(ReceiveError::UnknownSession)?;
            let len = self.accept_reply(transfer, reply);
            return Ok(Handled { reply_len: len, event: None });
        }
        // Limits first, before any slot or flash is touched.
        let tag = if self.authenticator.is_some() { TAG_LEN } else { 0 };
        if usize::from(offer.chunk_size) + CHUNK_OVERHEAD + tag > usize::from(self.max_frame_len()) {
            return refuse(self, AbortReason::BadOffer, reply);
        }
        let max_chunks = usize::from(self.config.max_chunk_count);
        let reassembler = match Reassembler::<WORDS>::with_max_chunks(*offer, &self.config.limits, max_chunks) {
            Ok(r) => r,
            Err(reason) => return refuse(self, reason, reply),
        };
        // A sender at its limit supersedes its oldest transfer.
        let per_sender = usize::from(self.config.max_transfers_per_sender.max(1));
        while self.transfers.iter().flatten().filter(|t| t.source == source).count() >= per_sender {
            let oldest = self
                .transfers
                .iter()
                .enumerate()
                .filter_map(|(i, t)| t.as_ref().filter(|t| t.source == source).map(|t| (i, t.started)))
                .min_by_key(|(_, started)| *started)
                .map(|(i, _)| i);
            let Some(oldest) = oldest else { break };
            self.drop_transfer(oldest, store, AbortReason::Superseded);
            self.stats.superseded += 1;
        }
        let open = self.transfers.iter().flatten().count();
        let free_transfers = usize::from(self.config.max_transfers).min(TRANSFERS).saturating_sub(open);
        // Senders refused before this one go first: one that happens to offer
        // just as a transfer ends must not overtake those that waited.
        if free_transfers <= self.waiting_before(now, source) {
            self.note_busy(now, source);
            return refuse(self, AbortReason::Busy, reply);
        }
        let Some(free) = self.transfers.iter().position(Option::is_none) else {
            self.note_busy(now, source);
            return refuse(self, AbortReason::Busy, reply);
        };
        let waiting = self.transfers.iter().flatten().filter(|t| t.slot.is_none()).count();
        if !store.can_begin(offer.image_len, waiting) {
            self.note_busy(now, source);
            return refuse(self, AbortReason::Busy, reply);
        }
        for entry in &mut self.waiting {
            if entry.is_some_and(|w| w.source == source) {
                *entry = None;
            }
        }
        let nonce = if self.authenticator.is_some() { self.random.next_nonzero_u32() } else { 0 };
        let transfer = Transfer {
            source,
            slot: None,
            reassembler,
            started: now,
            last_heard: now,
            nonce,
            image_mac,
            mismatch: false,
        };
        let len = self.accept_reply(&transfer, reply);
        self.transfers[free] = Some(transfer);
        Ok(Handled { reply_len: len, event: Some(ReceiverEvent::Started { source, offer: *offer }) })
    }

    /// The answer to an accepted offer: its nonce in the authenticated mode,
    /// else where the transfer stands.
    /// A sender that asks (offer flag FRAME_LEN) also learns the largest frame
    /// this receiver takes.
    fn accept_reply(&self, transfer: &Transfer<Slot, WORDS>, reply: &mut [u8; MAX_FRAME_LEN]) -> Option<usize> {
        let offer = transfer.reassembler.offer();
        let announce = offer.flags & OFFER_FLAG_FRAME_LEN != 0;
        if self.authenticator.is_some() {
            let challenge = FrameRepr::Challenge(ChallengeRepr { session: offer.session, nonce: transfer.nonce });
            let len = challenge.emit(reply).ok()?;
            return self.end_frame(len, 0, announce, reply);
        }
        status(self, &transfer.reassembler, StatusRepr::UNSOLICITED, transfer.nonce, announce, reply)
    }

    /// The largest frame this receiver takes, within what ESP-NOW carries.
    fn max_frame_len(&self) -> u16 {
        self.config.max_frame_len.clamp(V1_MAX_FRAME_LEN as u16, MAX_FRAME_LEN as u16)
    }

    /// Compares the sender's segment CRCs with the received bytes and drops every segment that differs.
    fn handle_segment_crcs<S: TransferStore<Slot = Slot>>(
        &mut self,
        now: Instant,
        source: MacAddress,
        segments: &SegmentCrcsRepr<'_>,
        store: &mut S,
        reply: &mut [u8; MAX_FRAME_LEN],
    ) -> Result<Handled, ReceiveError> {
        let Some(position) = self.find(source, segments.session) else {
            if self.finished_result(source, segments.session).is_some() {
                return Ok(Handled::default());
            }
            return Err(ReceiveError::UnknownSession);
        };
        let transfer = self.transfers[position].as_mut().ok_or(ReceiveError::UnknownSession)?;
        transfer.last_heard = now;
        if segments.segment_chunks == 1 && transfer.reassembler.checks_chunk_crcs() {
            // An announcement of chunk CRCs, ahead of the chunks: the chunks
            // already taken matched theirs, so there is nothing to compare.
            let crcs = (0..segments.len()).map_while(|i| segments.crc(i));
            transfer.reassembler.announce(segments.first_segment, crcs);
            return Ok(Handled::default());
        }
        let Some(slot) = transfer.slot else {
            return Ok(Handled::default());
        };
        let mut repaired = 0u32;
        let mut forgotten = 0u32;
        for i in 0..segments.len() {
            let (Some(crc), Ok(segment)) = (segments.crc(i), u16::try_from(usize::from(segments.first_segment) + i))
            else {
                break;
            };
            let Some((first, end)) = transfer.reassembler.segment(segment, segments.segment_chunks) else {
                break;
            };
            if !transfer.reassembler.has_all(first, end) {
                continue;
            }
            let len = transfer.reassembler.offer().image_len;
            let mut slot_ref = Some(slot);
            let mut sink = SlotSink { store: &mut *store, slot: &mut slot_ref, len, begin_failed: false };
            let ours = transfer.reassembler.range_crc(&mut sink, first, end).map_err(|_| ReceiveError::Store)?;
            if ours == crc {
                continue;
            }
            let (offset, bytes) = transfer.reassembler.byte_range(first, end);
            let Ok((from, to)) = store.discard(slot, offset, bytes) else {
                // The store cannot make the bytes writable again (flash without
                // spare erased space, and no erase mid-transfer): the image fails
                // as not storable, and the camera sends it again under a new session.
                return Ok(self.give_up(position, store, CompletionResult::StoreFailed, reply));
            };
            forgotten += u32::from(transfer.reassembler.forget_bytes(from.min(offset), to.max(offset + bytes)));
            repaired += 1;
        }
        if repaired > 0 {
            transfer.mismatch = false;
            self.stats.segments_repaired += repaired;
            self.stats.chunks_repaired += forgotten;
        }
        Ok(Handled::default())
    }

    /// Verifies and commits a transfer whose chunks have all arrived, and answers with a completion.
    fn finish<S: TransferStore<Slot = Slot>>(
        &mut self,
        position: usize,
        store: &mut S,
        reply: &mut [u8; MAX_FRAME_LEN],
    ) -> Handled {
        let Some(transfer) = self.transfers[position].as_mut() else {
            return Handled::default();
        };
        let offer = *transfer.reassembler.offer();
        let source = transfer.source;
        let nonce = transfer.nonce;
        let Some(slot) = transfer.slot else {
            return Handled::default();
        };
        let mac = match (&self.authenticator, &transfer.image_mac) {
            (Some(authenticator), Some(expected)) => {
                Some((authenticator.image_mac(offer.session, offer.image_len), expected))
            }
            _ => None,
        };
        let mut slot_ref = Some(slot);
        let mut sink = SlotSink { store: &mut *store, slot: &mut slot_ref, len: offer.image_len, begin_failed: false };
        let result = match transfer.reassembler.verify_with(&mut sink, mac) {
            Ok(()) => match store.commit(slot, offer.crc32) {
                Ok(()) => CompletionResult::Stored,
                Err(_) => CompletionResult::StoreFailed,
            },
            Err(VerifyError::CrcMismatch) | Err(VerifyError::MacMismatch) | Err(VerifyError::Incomplete) => {
                CompletionResult::CrcMismatch
            }
            Err(VerifyError::Sink(_)) => CompletionResult::StoreFailed,
        };
        let completion = FrameRepr::Completion { session: offer.session, result };
        if result == CompletionResult::CrcMismatch {
            // Not the end: the sender's segment CRCs find what to fetch again.
            transfer.mismatch = true;
            self.stats.crc_mismatches += 1;
            let reply_len = self.write(&completion, nonce, reply);
            return Handled { reply_len, event: Some(ReceiverEvent::Repairing { source, offer }) };
        }
        self.transfers[position] = None;
        if result == CompletionResult::Stored {
            self.stats.images_stored += 1;
        } else {
            store.abandon(slot);
        }
        self.remember(source, offer, result, nonce);
        let reply_len = self.write(&completion, nonce, reply);
        let event = match result {
            CompletionResult::Stored => ReceiverEvent::Stored { source, offer },
            _ => ReceiverEvent::Failed { source, offer, result },
        };
        Handled { reply_len, event: Some(event) }
    }

    /// Ends a transfer that cannot be stored: frees its slot, remembers the
    /// result for later requests and answers with the completion.
    fn give_up<S: TransferStore<Slot = Slot>>(
        &mut self,
        position: usize,
        store: &mut S,
        result: CompletionResult,
        reply: &mut [u8; MAX_FRAME_LEN],
    ) -> Handled {
        let Some(transfer) = self.transfers[position].take() else {
            return Handled::default();
        };
        let offer = *transfer.reassembler.offer();
        if let Some(slot) = transfer.slot {
            store.abandon(slot);
        }
        self.stats.failed += 1;
        self.remember(transfer.source, offer, result, transfer.nonce);
        let completion = FrameRepr::Completion { session: offer.session, result };
        let reply_len = self.write(&completion, transfer.nonce, reply);
        Handled { reply_len, event: Some(ReceiverEvent::Failed { source: transfer.source, offer, result }) }
    }

    fn drop_transfer<S: TransferStore<Slot = Slot>>(
        &mut self,
        position: usize,
        store: &mut S,
        reason: AbortReason,
    ) -> Option<ReceiverEvent> {
        let transfer = self.transfers[position].take()?;
        if let Some(slot) = transfer.slot {
            store.abandon(slot);
        }
        Some(ReceiverEvent::Dropped { source: transfer.source, offer: *transfer.reassembler.offer(), reason })
    }

    /// Expires one transfer, idle or past the transfer timeout, if any is
    /// due; call until it returns `None`.
    pub fn poll<S: TransferStore<Slot = Slot>>(&mut self, now: Instant, store: &mut S) -> Option<ReceiverEvent> {
        let idle = self.config.idle_timeout;
        let overall = self.config.transfer_timeout;
        let position = self
            .transfers
            .iter()
            .position(|t| t.as_ref().is_some_and(|t| now >= t.last_heard + idle || now >= t.started + overall))?;
        let expired_overall = self.transfers[position].as_ref().is_some_and(|t| now >= t.started + overall);
        if expired_overall {
            self.stats.expired_overall += 1;
            self.drop_transfer(position, store, AbortReason::Expired)
        } else {
            self.stats.expired_idle += 1;
            self.drop_transfer(position, store, AbortReason::TimedOut)
        }
    }

    /// When the next transfer expires.
    pub fn poll_at(&self) -> Option<Instant> {
        let idle = self.config.idle_timeout;
        let overall = self.config.transfer_timeout;
        self.transfers.iter().flatten().map(|t| (t.last_heard + idle).min(t.started + overall)).min()
    }

    /// How many senders still waiting were refused as Busy before `source`
    /// was (all of them when `source` is not waiting).
    fn waiting_before(&self, now: Instant, source: MacAddress) -> usize {
        let live = |w: &&Waiting| now < w.last + WAITING_EXPIRY;
        let since = self.waiting.iter().flatten().filter(live).find(|w| w.source == source).map(|w| w.since);
        self.waiting
            .iter()
            .flatten()
            .filter(live)
            .filter(|w| w.source != source && since.is_none_or(|since| w.since < since))
            .count()
    }

    /// Remembers that `source` was refused as Busy; a full memory forgets
    /// the sender heard from least recently.
    fn note_busy(&mut self, now: Instant, source: MacAddress) {
        if let Some(known) = self.waiting.iter_mut().flatten().find(|w| w.source == source) {
            if now >= known.last + WAITING_EXPIRY {
                known.since = now;
            }
            known.last = now;
            return;
        }
        let entry = match self.waiting.iter().position(|w| w.is_none_or(|w| now >= w.last + WAITING_EXPIRY)) {
            Some(free) => free,
            None => {
                self.waiting.iter().enumerate().min_by_key(|(_, w)| w.map(|w| w.last)).map_or(0, |(index, _)| index)
            }
        };
        self.waiting[entry] = Some(Waiting { source, since: now, last: now });
    }

    fn find(&self, source: MacAddress, session: u32) -> Option<usize> {
        self.transfers
            .iter()
            .position(|t| t.as_ref().is_some_and(|t| t.source == source && t.reassembler.offer().session == session))
    }

    fn finished_index(&self, source: MacAddress, session: u32) -> Option<usize> {
        self.finished.iter().position(|f| f.is_some_and(|f| f.source == source && f.offer.session == session))
    }

    fn finished_result(&self, source: MacAddress, session: u32) -> Option<CompletionResult> {
        self.finished_index(source, session).and_then(|index| self.finished[index]).map(|f| f.result)
    }

    fn remember(&mut self, source: MacAddress, offer: OfferRepr, result: CompletionResult, nonce: u32) {
        self.finished[self.finished_next] = Some(Finished { source, offer, result, nonce });
        self.finished_next = (self.finished_next + 1) % FINISHED_MEMORY;
    }
}

fn status<Slot: Copy + core::fmt::Debug, const TRANSFERS: usize, const WORDS: usize>(
    receiver: &Receiver<Slot, TRANSFERS, WORDS>,
    reassembler: &Reassembler<WORDS>,
    poll: u16,
    nonce: u32,
    announce: bool,
    reply: &mut [u8; MAX_FRAME_LEN],
) -> Option<usize> {
    // The sender takes frames as large as its chunk frames (and every peer
    // takes v1 frames): the bitmap grows with them, leaving room for the
    // FRAME_LEN field and the tag.
    let offer = reassembler.offer();
    let tag = if receiver.authenticator.is_some() { TAG_LEN } else { 0 };
    let frame_len = (usize::from(offer.chunk_size) + CHUNK_OVERHEAD + tag).clamp(V1_MAX_FRAME_LEN, MAX_FRAME_LEN);
    let announced = if announce { FRAME_LEN_FIELD } else { 0 };
    let room = frame_len.checked_sub(STATUS_FIXED_LEN + tag + announced)?;
    // The bitmap is written in place, after the fixed fields: no second frame-sized buffer on the stack.
    let (lowest_missing, used) = reassembler.status_bitmap(reply.get_mut(STATUS_FIXED_LEN..STATUS_FIXED_LEN + room)?);
    let header = FrameRepr::Status(StatusRepr { session: offer.session, poll, lowest_missing, bitmap: &[] });
    let fixed = header.emit(&mut reply[..STATUS_FIXED_LEN]).ok()?;
    receiver.end_frame(fixed + used, nonce, announce, reply)
}

/// Bytes of a Status frame before its bitmap.
const STATUS_FIXED_LEN: usize = wire::HEADER_LEN + 8;
