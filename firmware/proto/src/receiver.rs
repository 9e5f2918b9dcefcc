//! The receiving side, sans IO: several concurrent transfers keyed by
//! (sender address, session), each reassembled into its own slot of a store.
//!
//! The driver hands every nowcam frame to [`Receiver::handle`], sends the
//! reply it writes (if any) back to the frame's source, and calls
//! [`Receiver::poll`] at [`Receiver::poll_at`] to expire idle transfers.

use crate::address::MacAddress;
use crate::reassembler::{ChunkError, ChunkOutcome, ImageSink, Limits, Reassembler, VerifyError};
use crate::time::{Duration, Instant};
use crate::wire::{self, AbortReason, CompletionResult, FrameRepr, OfferRepr, StatusRepr, MAX_FRAME_LEN};

/// Where the receiver keeps images being received: one slot per transfer.
pub trait TransferStore {
    /// Names a slot being written.
    type Slot: Copy + core::fmt::Debug;
    type Error: core::fmt::Debug;

    /// Reserves a slot for an image of `len` bytes.
    fn begin(&mut self, len: u32) -> Result<Self::Slot, Self::Error>;
    fn write_at(&mut self, slot: Self::Slot, offset: u32, data: &[u8]) -> Result<(), Self::Error>;
    fn read_at(&mut self, slot: Self::Slot, offset: u32, buffer: &mut [u8]) -> Result<usize, Self::Error>;
    /// Makes a verified image visible.
    fn commit(&mut self, slot: Self::Slot, crc32: u32) -> Result<(), Self::Error>;
    /// Frees a slot whose transfer failed.
    fn abandon(&mut self, slot: Self::Slot);
}

/// One slot of a store seen as an [`ImageSink`].
struct SlotSink<'a, S: TransferStore> {
    store: &'a mut S,
    slot: S::Slot,
}

impl<S: TransferStore> ImageSink for SlotSink<'_, S> {
    type Error = S::Error;

    fn write_at(&mut self, offset: u32, data: &[u8]) -> Result<(), S::Error> {
        self.store.write_at(self.slot, offset, data)
    }

    fn read_at(&mut self, offset: u32, buffer: &mut [u8]) -> Result<usize, S::Error> {
        self.store.read_at(self.slot, offset, buffer)
    }
}

/// How a receiver behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ReceiverConfig {
    pub limits: Limits,
    /// A transfer that hears nothing for this long is dropped and its slot freed.
    pub idle_timeout: Duration,
}

impl Default for ReceiverConfig {
    fn default() -> Self {
        Self { limits: Limits::default(), idle_timeout: Duration::from_secs(10) }
    }
}

/// A frame the receiver would not take.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ReceiveError {
    /// the bytes are not a valid nowcam frame
    Malformed(wire::Error),
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
}

impl core::fmt::Display for ReceiveError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ReceiveError::Malformed(e) => write!(f, "malformed frame: {e}"),
            ReceiveError::Refused(reason) => write!(f, "offer refused: {reason:?}"),
            ReceiveError::UnknownSession => f.write_str("unknown session"),
            ReceiveError::IndexOutOfRange => f.write_str("chunk index out of range"),
            ReceiveError::WrongLength => f.write_str("chunk length does not match the offer"),
            ReceiveError::Store => f.write_str("the store refused a write"),
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
    /// The image passed its CRC-32 check and is committed.
    Stored {
        source: MacAddress,
        offer: OfferRepr,
    },
    /// Every chunk arrived but the image failed its check or could not be committed.
    Failed {
        source: MacAddress,
        offer: OfferRepr,
        result: CompletionResult,
    },
    /// The sender went silent or aborted; the partial image is gone.
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

/// Counters a receiver keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ReceiverStats {
    pub frames: u32,
    pub chunks_stored: u32,
    pub duplicates: u32,
    pub rejected: u32,
    pub images_stored: u32,
}

struct Transfer<Slot, const WORDS: usize> {
    source: MacAddress,
    slot: Slot,
    reassembler: Reassembler<WORDS>,
    last_heard: Instant,
}

#[derive(Debug, Clone, Copy)]
struct Finished {
    source: MacAddress,
    /// The offer that began it: a new offer that reuses the session with
    /// other contents is a new image, never answered with this result.
    offer: OfferRepr,
    result: CompletionResult,
}

/// Bytes of the abort frame a refused offer leaves in the reply buffer.
pub const ABORT_LEN: usize = wire::HEADER_LEN + 5;

/// How many finished transfers are remembered, to answer a sender whose completion frame was lost.
const FINISHED_MEMORY: usize = 8;

/// Up to `TRANSFERS` concurrent transfers of up to `32 × WORDS` chunks each.
pub struct Receiver<Slot, const TRANSFERS: usize, const WORDS: usize> {
    config: ReceiverConfig,
    transfers: [Option<Transfer<Slot, WORDS>>; TRANSFERS],
    finished: [Option<Finished>; FINISHED_MEMORY],
    finished_next: usize,
    stats: ReceiverStats,
}

impl<Slot: Copy + core::fmt::Debug, const TRANSFERS: usize, const WORDS: usize> Receiver<Slot, TRANSFERS, WORDS> {
    pub fn new(config: ReceiverConfig) -> Self {
        Self {
            config,
            transfers: core::array::from_fn(|_| None),
            finished: [None; FINISHED_MEMORY],
            finished_next: 0,
            stats: ReceiverStats::default(),
        }
    }

    pub fn config(&self) -> &ReceiverConfig {
        &self.config
    }

    pub fn stats(&self) -> ReceiverStats {
        self.stats
    }

    /// Transfers in progress: source, offer and chunks received so far.
    pub fn active(&self) -> impl Iterator<Item = (MacAddress, &OfferRepr, u16)> {
        self.transfers.iter().flatten().map(|t| (t.source, t.reassembler.offer(), t.reassembler.received_count()))
    }

    /// Handles one frame from `source`; a reply, if any, is written to `reply`.
    ///
    /// A refused offer returns `Err(ReceiveError::Refused(_))` and leaves an
    /// abort frame of [`ABORT_LEN`] bytes in `reply`, to send to the source.
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
            Ok(frame) => self.handle_frame(now, source, &frame, store, reply),
            Err(e) => Err(ReceiveError::Malformed(e)),
        };
        if result.is_err() {
            self.stats.rejected += 1;
        }
        result
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
            FrameRepr::Offer(offer) => self.handle_offer(now, source, offer, store, reply),
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
                let mut sink = SlotSink { store: &mut *store, slot: transfer.slot };
                match transfer.reassembler.accept(chunk, &mut sink) {
                    Ok(ChunkOutcome::Stored) => self.stats.chunks_stored += 1,
                    Ok(ChunkOutcome::Duplicate) => {
                        self.stats.duplicates += 1;
                        return Ok(Handled::default());
                    }
                    Err(ChunkError::WrongSession) => return Err(ReceiveError::UnknownSession),
                    Err(ChunkError::IndexOutOfRange) => return Err(ReceiveError::IndexOutOfRange),
                    Err(ChunkError::WrongLength) => return Err(ReceiveError::WrongLength),
                    Err(ChunkError::Sink(_)) => return Err(ReceiveError::Store),
                }
                if transfer.reassembler.is_filled() {
                    return Ok(self.finish(position, store, reply));
                }
                Ok(Handled::default())
            }
            FrameRepr::StatusRequest(request) => {
                if let Some(result) = self.finished_result(source, request.session) {
                    let len = emit(&FrameRepr::Completion { session: request.session, result }, reply);
                    return Ok(Handled { reply_len: len, event: None });
                }
                let Some(position) = self.find(source, request.session) else {
                    let abort = FrameRepr::Abort { session: request.session, reason: AbortReason::UnknownSession };
                    return Ok(Handled { reply_len: emit(&abort, reply), event: None });
                };
                let transfer = self.transfers[position].as_mut().ok_or(ReceiveError::UnknownSession)?;
                transfer.last_heard = now;
                Ok(Handled { reply_len: status(&transfer.reassembler, request.poll, reply), event: None })
            }
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
        store: &mut S,
        reply: &mut [u8; MAX_FRAME_LEN],
    ) -> Result<Handled, ReceiveError> {
        if let Some(index) = self.finished_index(source, offer.session) {
            match self.finished[index] {
                Some(finished) if finished.offer == *offer => {
                    let len = emit(&FrameRepr::Completion { session: offer.session, result: finished.result }, reply);
                    return Ok(Handled { reply_len: len, event: None });
                }
                // The session id came round again (a sender restarted with the same random
                // numbers): what was finished under it says nothing about this image.
                _ => self.finished[index] = None,
            }
        }
        if let Some(position) = self.find(source, offer.session) {
            // A repeated offer: the first answer was lost. Answer with where the transfer stands.
            let transfer = self.transfers[position].as_mut().ok_or(ReceiveError::UnknownSession)?;
            if transfer.reassembler.offer() != offer {
                emit(&FrameRepr::Abort { session: offer.session, reason: AbortReason::BadOffer }, reply);
                return Err(ReceiveError::Refused(AbortReason::BadOffer));
            }
            transfer.last_heard = now;
            let len = status(&transfer.reassembler, StatusRepr::UNSOLICITED, reply);
            return Ok(Handled { reply_len: len, event: None });
        }
        let refuse = |reason: AbortReason, reply: &mut [u8; MAX_FRAME_LEN]| {
            emit(&FrameRepr::Abort { session: offer.session, reason }, reply);
            Err(ReceiveError::Refused(reason))
        };
        // Limits first, before any slot or flash is touched.
        let reassembler = match Reassembler::<WORDS>::new(*offer, &self.config.limits) {
            Ok(r) => r,
            Err(reason) => return refuse(reason, reply),
        };
        // A new session from the same sender replaces its old one.
        if let Some(position) = self.transfers.iter().position(|t| t.as_ref().is_some_and(|t| t.source == source)) {
            self.drop_transfer(position, store, AbortReason::Cancelled);
        }
        let Some(free) = self.transfers.iter().position(Option::is_none) else {
            return refuse(AbortReason::Busy, reply);
        };
        let Ok(slot) = store.begin(offer.image_len) else {
            return refuse(AbortReason::Busy, reply);
        };
        let transfer = Transfer { source, slot, reassembler, last_heard: now };
        let filled = transfer.reassembler.is_filled();
        self.transfers[free] = Some(transfer);
        if filled {
            return Ok(self.finish(free, store, reply));
        }
        let len = self.transfers[free].as_ref().and_then(|t| status(&t.reassembler, StatusRepr::UNSOLICITED, reply));
        Ok(Handled { reply_len: len, event: Some(ReceiverEvent::Started { source, offer: *offer }) })
    }

    /// Verifies and commits a transfer whose chunks have all arrived, and answers with a completion.
    fn finish<S: TransferStore<Slot = Slot>>(
        &mut self,
        position: usize,
        store: &mut S,
        reply: &mut [u8; MAX_FRAME_LEN],
    ) -> Handled {
        let Some(transfer) = self.transfers[position].take() else {
            return Handled::default();
        };
        let offer = *transfer.reassembler.offer();
        let mut sink = SlotSink { store: &mut *store, slot: transfer.slot };
        let result = match transfer.reassembler.verify(&mut sink) {
            Ok(()) => match store.commit(transfer.slot, offer.crc32) {
                Ok(()) => CompletionResult::Stored,
                Err(_) => CompletionResult::StoreFailed,
            },
            Err(VerifyError::CrcMismatch) | Err(VerifyError::Incomplete) => CompletionResult::CrcMismatch,
            Err(VerifyError::Sink(_)) => CompletionResult::StoreFailed,
        };
        if result != CompletionResult::Stored {
            store.abandon(transfer.slot);
        } else {
            self.stats.images_stored += 1;
        }
        self.remember(transfer.source, offer, result);
        let reply_len = emit(&FrameRepr::Completion { session: offer.session, result }, reply);
        let event = match result {
            CompletionResult::Stored => ReceiverEvent::Stored { source: transfer.source, offer },
            _ => ReceiverEvent::Failed { source: transfer.source, offer, result },
        };
        Handled { reply_len, event: Some(event) }
    }

    fn drop_transfer<S: TransferStore<Slot = Slot>>(
        &mut self,
        position: usize,
        store: &mut S,
        reason: AbortReason,
    ) -> Option<ReceiverEvent> {
        let transfer = self.transfers[position].take()?;
        store.abandon(transfer.slot);
        Some(ReceiverEvent::Dropped { source: transfer.source, offer: *transfer.reassembler.offer(), reason })
    }

    /// Expires one idle transfer, if any is due; call until it returns `None`.
    pub fn poll<S: TransferStore<Slot = Slot>>(&mut self, now: Instant, store: &mut S) -> Option<ReceiverEvent> {
        let timeout = self.config.idle_timeout;
        let position = self.transfers.iter().position(|t| t.as_ref().is_some_and(|t| now >= t.last_heard + timeout))?;
        self.drop_transfer(position, store, AbortReason::TimedOut)
    }

    /// When the next idle transfer expires.
    pub fn poll_at(&self) -> Option<Instant> {
        self.transfers.iter().flatten().map(|t| t.last_heard + self.config.idle_timeout).min()
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

    fn remember(&mut self, source: MacAddress, offer: OfferRepr, result: CompletionResult) {
        self.finished[self.finished_next] = Some(Finished { source, offer, result });
        self.finished_next = (self.finished_next + 1) % FINISHED_MEMORY;
    }
}

fn emit(frame: &FrameRepr<'_>, reply: &mut [u8; MAX_FRAME_LEN]) -> Option<usize> {
    frame.emit(reply).ok()
}

fn status<const WORDS: usize>(
    reassembler: &Reassembler<WORDS>,
    poll: u16,
    reply: &mut [u8; MAX_FRAME_LEN],
) -> Option<usize> {
    let mut bitmap = [0u8; MAX_FRAME_LEN - 11];
    let (lowest_missing, used) = reassembler.status_bitmap(&mut bitmap);
    let frame = FrameRepr::Status(StatusRepr {
        session: reassembler.offer().session,
        poll,
        lowest_missing,
        bitmap: &bitmap[..used],
    });
    emit(&frame, reply)
}
