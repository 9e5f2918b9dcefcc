//! The sending side of a transfer, sans IO.
//!
//! The sender offers the image, then streams chunks back to back while it
//! has fewer than `max_in_flight` frames queued at the radio (ESP-NOW answers
//! NO_MEM past its queue), asks for a status every `poll_interval` chunks,
//! and retransmits only the chunks the receiver's bitmap reports missing.
//!
//! A chunk counts as lost only if it was sent before the poll that a status
//! answers and that status does not list it; chunks sent after the poll may
//! still be in the air. Status requests that go unanswered are repeated after
//! a retransmission timeout estimated from measured round trips (RFC 6298).
//!
//! The receiver's Status is authoritative: a chunk it reports missing in
//! the answer to the outstanding poll is sent again even if an earlier
//! status (perhaps a forged one) had confirmed it. Only the receiver's
//! Completion with `Stored` (its CRC-32, and authenticated its image MAC,
//! matched) ends a transfer as done; a status saying every chunk arrived
//! only makes the sender wait for that completion, polling again.
//!
//! A Completion of `CrcMismatch` starts a repair round (at most
//! `repair_rounds`): the sender sends its CRC-32 of every segment of
//! `segment_chunks` chunks in SegmentCrcs frames, then a status request; the
//! receiver drops the segments that differ and its Status reports their
//! chunks missing, which go again. See [`crate::receiver`].
//!
//! In the default mode, when `SenderConfig::chunk_crcs` is set (the camera
//! node sets it for an image offered again after a failure: a first try
//! relies on the receiver's hold-back of the newest chunk, which costs no
//! airtime), the offer carries `OFFER_FLAG_CHUNK_CRCS`: the chunks
//! are cut in windows of 57 (one SegmentCrcs frame of one-chunk segments),
//! and the CRC-32s of a window's chunks go before its first chunk, once more
//! ahead halfway through the window before it (window 0: a quarter into
//! itself), and again before the first chunk of it that goes again after
//! each answered status request. The receiver takes only chunks matching an announced CRC, so a
//! forged chunk never reaches its store; a lost announcement costs the
//! window's chunks until the next copy. The authenticated mode needs none
//! of this: its tags already bind every chunk to the key.
//!
//! The driver calls, in any order:
//! - [`Sender::poll_transmit`] while the radio accepts frames, sending what it writes;
//! - [`Sender::on_send_report`] for every send report of a frame it sent;
//! - [`Sender::receive`] (or, in the default mode, [`Sender::handle`]) for every frame from the receiver;
//! - [`Sender::poll_at`] to learn when to call again if nothing else happens.
//!
//! A driver that adapts the PHY rate (`crate::rate`) also calls
//! [`Sender::note_rate`] with the rate of each frame it sends, and hands
//! [`Sender::take_rate_outcomes`] to its controller: the status answers
//! tell which chunks arrived at which rate.

use crate::auth::{self, AuthError, Authenticator, Direction, Key};
use crate::bitmap::ChunkBitmap;
use crate::chunker::{crc32, Chunker, ChunkerError, CRC32};
use crate::rate::{ChunkRates, RateOutcome, MAX_RATES};
use crate::time::{Duration, Instant};
use crate::wire::{
    self, AbortReason, CompletionResult, Frame, FrameRepr, OfferRepr, SegmentCrcsRepr, StatusRepr, StatusRequestRepr,
    CHUNK_OVERHEAD, IMAGE_MAC_LEN, MAX_SEGMENT_CRCS, OFFER_FLAG_CHUNK_CRCS, OFFER_FLAG_FRAME_LEN, OFFER_FLAG_JPEG,
    V1_MAX_CHUNK_PAYLOAD,
};

/// How a sender behaves; the defaults suit ESP-NOW at 1 Mbps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct SenderConfig {
    /// Payload bytes per chunk (at most 241, the default).
    pub chunk_size: u16,
    /// Frames handed to the radio and not yet reported; ESP-NOW queues 32 at most.
    pub max_in_flight: u8,
    /// Chunks sent between two status requests.
    pub poll_interval: u16,
    /// The retransmission timeout before any round trip is measured.
    pub initial_rto: Duration,
    pub min_rto: Duration,
    pub max_rto: Duration,
    /// The whole transfer gives up after this long.
    pub deadline: Duration,
    /// Chunks per segment of a repair (see the module documentation).
    pub segment_chunks: u16,
    /// Repair rounds after a CRC mismatch before the transfer fails.
    pub repair_rounds: u8,
    /// The pre-shared key of the authenticated mode; `None` for the default
    /// mode. With a key, chunks carry at most 233 bytes (the tag takes 8).
    pub key: Option<Key>,
    /// In the default mode, announce each chunk's CRC-32 ahead of it so that
    /// the receiver takes no forged chunk even when the real copy is lost
    /// (see the module documentation). It costs a frame per 57 chunks, sent
    /// unicast and more than once: about 5 to 10 % of a transfer's time on a
    /// lossy link. Ignored with a key, whose tags cover every chunk.
    pub chunk_crcs: bool,
    /// Ask the receiver for the largest frame it takes (offer flag
    /// FRAME_LEN); its answer is then [`Sender::announced_frame_len`]. Off
    /// for ESP-NOW v1 radios, which could use no answer.
    pub ask_frame_len: bool,
}

impl Default for SenderConfig {
    fn default() -> Self {
        Self {
            chunk_size: V1_MAX_CHUNK_PAYLOAD as u16,
            max_in_flight: 4,
            poll_interval: 48,
            initial_rto: Duration::from_millis(20),
            min_rto: Duration::from_millis(5),
            max_rto: Duration::from_millis(250),
            deadline: Duration::from_secs(60),
            segment_chunks: 16,
            repair_rounds: 8,
            key: None,
            chunk_crcs: false,
            ask_frame_len: false,
        }
    }
}

/// Why a transfer failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum SendError {
    /// the image cannot be split as configured
    Chunker(ChunkerError),
    /// the receiver refused or abandoned the transfer
    Refused(AbortReason),
    /// the receiver got every chunk but the CRC-32 did not match
    CrcMismatch,
    /// the receiver could not store the image
    StoreFailed,
    /// the deadline passed before the receiver confirmed the image
    TimedOut,
}

impl core::fmt::Display for SendError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            SendError::Chunker(e) => write!(f, "cannot split the image: {e}"),
            SendError::Refused(reason) => {
                write!(f, "the receiver refused the transfer: {reason:?}")
            }
            SendError::CrcMismatch => f.write_str("the receiver's CRC-32 check failed"),
            SendError::StoreFailed => f.write_str("the receiver could not store the image"),
            SendError::TimedOut => f.write_str("the receiver did not confirm the image before the deadline"),
        }
    }
}

impl core::error::Error for SendError {}

/// Where a transfer stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum SenderState {
    /// waiting for the receiver to accept the offer
    Offering,
    /// sending and repairing chunks
    Sending,
    /// every chunk is confirmed; waiting for the completion frame
    Confirming,
    /// the receiver stored the image
    Done,
    Failed(SendError),
}

/// What `poll_transmit` wrote, for counters and captures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Transmit {
    Offer,
    Chunk {
        index: u16,
        retransmission: bool,
    },
    StatusRequest {
        poll: u16,
    },
    /// Segment CRCs from segment `first` on, for a repair.
    SegmentCrcs {
        first: u16,
    },
    /// The CRC-32s of the chunks of the window starting at chunk `first`,
    /// ahead of them.
    ChunkCrcs {
        first: u16,
        announcement: Announcement,
    },
    Abort,
}

/// Which copy of a window's chunk CRCs a ChunkCrcs transmit is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Announcement {
    /// the early copy, halfway through the window before
    Ahead,
    /// before the window's first chunk
    First,
    /// before the first of its chunks sent again after a status answer
    Again,
}

/// Counters a sender keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct SenderStats {
    pub frames_sent: u32,
    pub chunks_sent: u32,
    pub retransmissions: u32,
    pub status_requests: u32,
    pub rto_expiries: u32,
    pub send_reports_unacknowledged: u32,
    /// Times the transfer started over because the receiver had forgotten it.
    pub restarts: u32,
    /// Chunks confirmed once and later reported missing by the receiver, sent again.
    pub unconfirmed: u32,
    /// Repair rounds after a CRC mismatch.
    pub repair_rounds: u32,
    /// Frames dropped: not parsable.
    pub dropped_malformed: u32,
    /// Frames dropped: no tag in the authenticated mode.
    pub dropped_untagged: u32,
    /// Frames dropped: a tag with no key configured.
    pub dropped_unexpected_tag: u32,
    /// Frames dropped: a wrong tag (forged, corrupted or replayed).
    pub dropped_bad_tag: u32,
}

/// The sending side of one transfer, tracking up to `32 × WORDS` chunks.
#[derive(Debug, Clone)]
pub struct Sender<const WORDS: usize> {
    config: SenderConfig,
    offer: OfferRepr,
    chunker: Chunker,
    state: SenderState,
    started: Instant,
    /// Chunks the receiver confirmed.
    acknowledged: ChunkBitmap<WORDS>,
    /// Chunks to send: never sent, or found lost.
    to_send: ChunkBitmap<WORDS>,
    /// Sent before the outstanding poll (or before the next one), not yet resolved.
    before_poll: ChunkBitmap<WORDS>,
    /// Sent after the outstanding poll.
    after_poll: ChunkBitmap<WORDS>,
    /// Repeated while waiting for the outstanding poll's answer.
    speculated: ChunkBitmap<WORDS>,
    /// Whether each chunk has been sent at least once, to count retransmissions.
    sent_once: ChunkBitmap<WORDS>,
    /// What each frame handed to the radio and not yet reported was, oldest first.
    in_flight: InFlight,
    chunks_since_poll: u16,
    next_poll_id: u16,
    outstanding_poll: Option<(u16, Instant)>,
    /// When the offer, a poll or the abort must be repeated.
    retry_at: Option<Instant>,
    offer_due: bool,
    poll_due: bool,
    abort_due: Option<AbortReason>,
    smoothed_rtt: Option<Duration>,
    rtt_variation: Duration,
    rto: Duration,
    last_transmit: Option<Transmit>,
    consecutive_expiries: u8,
    /// When the radio reported the last offer sent.
    offer_sent: Option<Instant>,
    restarts: u8,
    stats: SenderStats,
    announced_frame_len: Option<u16>,
    authenticator: Option<Authenticator>,
    /// The receiver's nonce for this transfer (authenticated mode).
    nonce: Option<u32>,
    image_mac: [u8; IMAGE_MAC_LEN],
    /// The next segment whose CRC goes out in the repair round under way.
    segment_cursor: Option<u16>,
    repair_rounds: u8,
    /// A status request went out since the last repair round's segment CRCs.
    polled_since_repair: bool,
    /// Windows of chunk CRCs announced before their first chunk.
    announced: ChunkBitmap<WORDS>,
    /// Windows whose early copy of the announcement went.
    announced_ahead: ChunkBitmap<WORDS>,
    /// Windows announced again since the last status answer, for chunks sent again.
    announced_again: ChunkBitmap<WORDS>,
    /// The rate of each chunk sent since the last answered poll, and the outcomes found.
    chunk_rates: ChunkRates,
    /// Whether the rate of the frame `poll_transmit` last wrote was noted.
    rate_noted: bool,
}

/// Chunks per window of chunk CRCs: as many as one SegmentCrcs frame carries.
const CRC_WINDOW: u16 = MAX_SEGMENT_CRCS as u16;

/// Timeouts in a row repeated at the same retransmission timeout before it backs off.
const PATIENT_EXPIRIES: u8 = 32;

/// How often a sender starts over when the receiver has forgotten its session.
const MAX_RESTARTS: u8 = 3;

impl<const WORDS: usize> Sender<WORDS> {
    /// Starts a transfer of `image` under `session` (a random number the caller draws).
    pub fn new(config: SenderConfig, session: u32, image: &[u8], now: Instant) -> Result<Self, SendError> {
        let image_len = u32::try_from(image.len()).map_err(|_| SendError::Chunker(ChunkerError::TooManyChunks))?;
        if image_len == 0 {
            return Err(SendError::Chunker(ChunkerError::EmptyImage));
        }
        let authenticator = config.key.as_ref().map(Authenticator::new);
        // A tagged chunk keeps to the frame its untagged size would fill.
        let chunk_size = match authenticator {
            Some(_) => {
                let frame_len = usize::from(config.chunk_size) + CHUNK_OVERHEAD;
                config.chunk_size.min(wire::chunk_payload_for(frame_len, true) as u16)
            }
            None => config.chunk_size,
        };
        let chunker = Chunker::new(image_len, chunk_size).map_err(SendError::Chunker)?;
        if usize::from(chunker.count()) > ChunkBitmap::<WORDS>::CAPACITY {
            return Err(SendError::Chunker(ChunkerError::TooManyChunks));
        }
        let image_mac = match &authenticator {
            Some(authenticator) => {
                let mut mac = authenticator.image_mac(session, image_len);
                mac.update(image);
                mac.finalize()
            }
            None => [0; IMAGE_MAC_LEN],
        };
        let offer = OfferRepr {
            session,
            image_len,
            chunk_size,
            chunk_count: chunker.count(),
            crc32: crc32(image),
            // The authenticated mode's tags make chunk CRCs pointless.
            flags: OFFER_FLAG_JPEG
                | if authenticator.is_none() && config.chunk_crcs { OFFER_FLAG_CHUNK_CRCS } else { 0 }
                | if config.ask_frame_len { OFFER_FLAG_FRAME_LEN } else { 0 },
        };
        let mut to_send = ChunkBitmap::new();
        to_send.fill(usize::from(chunker.count()));
        Ok(Self {
            config,
            offer,
            chunker,
            state: SenderState::Offering,
            started: now,
            acknowledged: ChunkBitmap::new(),
            to_send,
            before_poll: ChunkBitmap::new(),
            after_poll: ChunkBitmap::new(),
            speculated: ChunkBitmap::new(),
            sent_once: ChunkBitmap::new(),
            in_flight: InFlight::new(),
            chunks_since_poll: 0,
            next_poll_id: 0,
            outstanding_poll: None,
            retry_at: None,
            offer_due: true,
            poll_due: false,
            abort_due: None,
            smoothed_rtt: None,
            rtt_variation: Duration::ZERO,
            rto: config.initial_rto,
            last_transmit: None,
            consecutive_expiries: 0,
            offer_sent: None,
            restarts: 0,
            stats: SenderStats::default(),
            announced_frame_len: None,
            authenticator,
            nonce: None,
            image_mac,
            segment_cursor: None,
            repair_rounds: 0,
            polled_since_repair: false,
            announced: ChunkBitmap::new(),
            announced_ahead: ChunkBitmap::new(),
            announced_again: ChunkBitmap::new(),
            chunk_rates: ChunkRates::new(),
            rate_noted: false,
        })
    }

    pub fn session(&self) -> u32 {
        self.offer.session
    }

    pub fn offer(&self) -> &OfferRepr {
        &self.offer
    }

    /// The largest frame the receiver said it takes (in its answer to an
    /// offer with FRAME_LEN), once it has; `None` from a receiver that does
    /// not announce it (a v1 one).
    pub fn announced_frame_len(&self) -> Option<u16> {
        self.announced_frame_len
    }

    pub fn state(&self) -> SenderState {
        self.state
    }

    pub fn stats(&self) -> SenderStats {
        self.stats
    }

    /// The current retransmission timeout.
    pub fn rto(&self) -> Duration {
        self.rto
    }

    /// Whether the transfer has ended (stored or failed) and nothing is left to send.
    pub fn is_finished(&self) -> bool {
        matches!(self.state, SenderState::Done | SenderState::Failed(_)) && self.abort_due.is_none()
    }

    /// Writes the next frame to send into `buffer` and returns its length and what it is;
    /// `None` when nothing may be sent now. `image` must be the image given to `new`.
    pub fn poll_transmit(&mut self, now: Instant, image: &[u8], buffer: &mut [u8]) -> Option<(usize, Transmit)> {
        self.check_timers(now);
        if self.in_flight.len() >= usize::from(self.config.max_in_flight).min(IN_FLIGHT_CAPACITY) {
            return None;
        }
        let mut crcs = [0u8; MAX_SEGMENT_CRCS * 4];
        let mut chunk_crcs = [0u8; MAX_SEGMENT_CRCS * 4];
        let (repr, transmit) = match self.segment_frame(image, &mut crcs) {
            Some(frame) => frame,
            None => self.next_frame(now, image, &mut chunk_crcs)?,
        };
        let len = repr.emit(buffer).ok()?;
        let len = match &self.authenticator {
            Some(authenticator) => {
                let nonce = if transmit == Transmit::Offer { 0 } else { self.nonce.unwrap_or(0) };
                authenticator.seal(Direction::FromCamera, nonce, buffer, len).ok()?
            }
            None => len,
        };
        self.commit_transmit(now, transmit);
        Some((len, transmit))
    }

    /// The next SegmentCrcs frame of a repair round, if one is due.
    fn segment_frame<'a>(
        &self,
        image: &[u8],
        crcs: &'a mut [u8; MAX_SEGMENT_CRCS * 4],
    ) -> Option<(FrameRepr<'a>, Transmit)> {
        if self.abort_due.is_some() || !matches!(self.state, SenderState::Sending | SenderState::Confirming) {
            return None;
        }
        let first = self.segment_cursor?;
        let segment_chunks = self.repair_segment_chunks();
        let segments = self.segment_count();
        let mut n = 0;
        while n < MAX_SEGMENT_CRCS && u32::from(first) + (n as u32) < segments {
            let segment = u32::from(first) + n as u32;
            let start_chunk = segment * u32::from(segment_chunks);
            let end_chunk = (start_chunk + u32::from(segment_chunks)).min(u32::from(self.offer.chunk_count));
            let start = self.chunker.offset(start_chunk as u16) as usize;
            let end = if end_chunk >= u32::from(self.offer.chunk_count) {
                image.len()
            } else {
                self.chunker.offset(end_chunk as u16) as usize
            };
            let crc = CRC32.checksum(image.get(start..end)?);
            crcs[n * 4..n * 4 + 4].copy_from_slice(&crc.to_le_bytes());
            n += 1;
        }
        if n == 0 {
            return None;
        }
        let repr =
            SegmentCrcsRepr { session: self.offer.session, segment_chunks, first_segment: first, crcs: &crcs[..n * 4] };
        Some((FrameRepr::SegmentCrcs(repr), Transmit::SegmentCrcs { first }))
    }

    fn segment_count(&self) -> u32 {
        u32::from(self.offer.chunk_count).div_ceil(u32::from(self.repair_segment_chunks()))
    }

    /// Chunks per repair segment: one-chunk segments announce chunk CRCs.
    fn repair_segment_chunks(&self) -> u16 {
        match self.announces_chunk_crcs() {
            true => self.config.segment_chunks.max(2),
            false => self.config.segment_chunks.max(1),
        }
    }

    fn announces_chunk_crcs(&self) -> bool {
        self.offer.flags & OFFER_FLAG_CHUNK_CRCS != 0
    }

    /// The window whose chunk CRCs must go before chunk `index`, and which copy.
    fn announcement_due(&self, index: u16) -> Option<(u16, Announcement)> {
        if !self.announces_chunk_crcs() {
            return None;
        }
        let window = index / CRC_WINDOW;
        if self.sent_once.contains(usize::from(index)) {
            // The chunk may have been lost for want of its window's CRCs.
            return (!self.announced_again.contains(usize::from(window))).then_some((window, Announcement::Again));
        }
        if !self.announced.contains(usize::from(window)) {
            return Some((window, Announcement::First));
        }
        // One lost announcement should not cost a window: a second copy goes
        // ahead, halfway through the window before (window 0's a quarter in).
        let (target, from) = match window == 0 && !self.announced_ahead.contains(0) {
            true => (0, CRC_WINDOW / 4),
            false => (window + 1, CRC_WINDOW / 2),
        };
        let due = index % CRC_WINDOW >= from
            && u32::from(target) * u32::from(CRC_WINDOW) < u32::from(self.offer.chunk_count)
            && !self.announced_ahead.contains(usize::from(target));
        due.then_some((target, Announcement::Ahead))
    }

    fn announcements(&mut self, announcement: Announcement) -> &mut ChunkBitmap<WORDS> {
        match announcement {
            Announcement::Ahead => &mut self.announced_ahead,
            Announcement::First => &mut self.announced,
            Announcement::Again => &mut self.announced_again,
        }
    }

    /// The announcement of the chunk CRCs of `window`.
    fn chunk_crcs_frame<'a>(
        &self,
        window: u16,
        announcement: Announcement,
        image: &[u8],
        crcs: &'a mut [u8; MAX_SEGMENT_CRCS * 4],
    ) -> Option<(FrameRepr<'a>, Transmit)> {
        let first = window.checked_mul(CRC_WINDOW)?;
        let end = (u32::from(first) + u32::from(CRC_WINDOW)).min(u32::from(self.offer.chunk_count)) as u16;
        let mut n = 0;
        for index in first..end {
            let start = self.chunker.offset(index) as usize;
            let len = self.chunker.len_of(index)?;
            let crc = CRC32.checksum(image.get(start..start + len)?);
            crcs[n * 4..n * 4 + 4].copy_from_slice(&crc.to_le_bytes());
            n += 1;
        }
        if n == 0 {
            return None;
        }
        let repr = SegmentCrcsRepr {
            session: self.offer.session,
            segment_chunks: 1,
            first_segment: first,
            crcs: &crcs[..n * 4],
        };
        Some((FrameRepr::SegmentCrcs(repr), Transmit::ChunkCrcs { first, announcement }))
    }

    fn next_frame<'a>(
        &mut self,
        now: Instant,
        image: &'a [u8],
        chunk_crcs: &'a mut [u8; MAX_SEGMENT_CRCS * 4],
    ) -> Option<(FrameRepr<'a>, Transmit)> {
        if let Some(reason) = self.abort_due {
            return Some((FrameRepr::Abort { session: self.offer.session, reason }, Transmit::Abort));
        }
        match self.state {
            SenderState::Offering if self.offer_due => match self.authenticator {
                Some(_) => {
                    Some((FrameRepr::SealedOffer { offer: self.offer, image_mac: self.image_mac }, Transmit::Offer))
                }
                None => Some((FrameRepr::Offer(self.offer), Transmit::Offer)),
            },
            SenderState::Sending | SenderState::Confirming => {
                let chunk_next = self.to_send.next_set(0).filter(|i| *i < usize::from(self.offer.chunk_count));
                let want_poll = self.poll_due
                    || (self.outstanding_poll.is_none()
                        && (self.chunks_since_poll >= self.config.poll_interval
                            || (chunk_next.is_none() && !self.before_poll.is_empty())));
                if want_poll && self.outstanding_poll.is_none_or(|(_, sent)| now >= sent + self.rto) {
                    let poll = self.next_poll_id;
                    let request = StatusRequestRepr { session: self.offer.session, poll };
                    return Some((FrameRepr::StatusRequest(request), Transmit::StatusRequest { poll }));
                }
                let (index, speculative) = match chunk_next {
                    Some(index) => (index as u16, false),
                    None => (self.speculative_chunk(now)?, true),
                };
                // A speculative repeat is a cheap guess at a lost chunk: it goes
                // without a fresh copy of its window's CRCs.
                let due = self.announcement_due(index).filter(|_| !speculative);
                if let Some((window, announcement)) = due {
                    return self.chunk_crcs_frame(window, announcement, image, chunk_crcs);
                }
                let frame = self.chunker.chunk(self.offer.session, index, image)?;
                let retransmission = self.sent_once.contains(usize::from(index));
                Some((frame, Transmit::Chunk { index, retransmission }))
            }
            _ => None,
        }
    }

    /// With every chunk sent and an answer awaited, the air would idle: repeat
    /// the oldest unconfirmed chunk instead, once per round. On a bursty link
    /// the chunks sent last are the likeliest lost, and a repeat costs less
    /// than the round trip that would otherwise find it missing.
    ///
    /// It waits two round trips after the poll left, so on a clean link the
    /// answer comes first and nothing is repeated.
    fn speculative_chunk(&mut self, now: Instant) -> Option<u16> {
        if self.in_flight.len() != 0 || self.speculate_at().is_none_or(|at| now < at) {
            return None;
        }
        let index = self.speculation_candidate()?;
        self.speculated.insert(index);
        Some(index as u16)
    }

    /// The oldest unconfirmed chunk not yet repeated in this round.
    fn speculation_candidate(&self) -> Option<usize> {
        let mut candidates = self.before_poll.clone();
        candidates.union(&self.after_poll);
        candidates.subtract(&self.speculated);
        candidates.next_set(0).filter(|i| *i < usize::from(self.offer.chunk_count))
    }

    /// When a speculative repeat may go, if a poll is outstanding and reported sent.
    fn speculate_at(&self) -> Option<Instant> {
        let (_, sent) = self.outstanding_poll?;
        if self.in_flight.len() != 0 || self.speculation_candidate().is_none() {
            return None;
        }
        let rtt = self.smoothed_rtt.unwrap_or(self.config.min_rto);
        Some(sent + rtt.saturating_mul(2))
    }

    fn commit_transmit(&mut self, now: Instant, transmit: Transmit) {
        self.rate_noted = false;
        self.in_flight.push(transmit);
        self.stats.frames_sent += 1;
        self.last_transmit = Some(transmit);
        match transmit {
            Transmit::Offer => {
                self.offer_due = false;
                // The timer really starts when the radio reports the frame sent;
                // this one only guards against a report that never comes.
                self.retry_at = Some(now + self.config.max_rto);
            }
            Transmit::Chunk { index, retransmission } => {
                let index = usize::from(index);
                self.to_send.remove(index);
                self.sent_once.insert(index);
                if self.outstanding_poll.is_some() {
                    // Its last copy left after the poll: the answer cannot tell it lost.
                    self.before_poll.remove(index);
                    self.after_poll.insert(index);
                } else {
                    self.before_poll.insert(index);
                }
                self.chunks_since_poll += 1;
                self.stats.chunks_sent += 1;
                if retransmission {
                    self.stats.retransmissions += 1;
                }
            }
            Transmit::SegmentCrcs { first } => {
                let next = u32::from(first) + MAX_SEGMENT_CRCS as u32;
                if next >= self.segment_count() {
                    // The round's CRCs are out: ask what the receiver dropped.
                    self.segment_cursor = None;
                    self.poll_due = true;
                    self.outstanding_poll = None;
                } else {
                    self.segment_cursor = Some(next as u16);
                }
            }
            Transmit::ChunkCrcs { first, announcement } => {
                self.announcements(announcement).insert(usize::from(first / CRC_WINDOW));
            }
            Transmit::StatusRequest { poll } => {
                if self.segment_cursor.is_none() {
                    self.polled_since_repair = true;
                }
                // A repeated poll covers everything sent so far.
                self.before_poll.union(&self.after_poll);
                self.after_poll.clear();
                self.outstanding_poll = Some((poll, now));
                self.chunk_rates.polled();
                self.next_poll_id = self.next_poll_id.wrapping_add(1) % StatusRepr::UNSOLICITED;
                self.chunks_since_poll = 0;
                self.poll_due = false;
                self.retry_at = Some(now + self.config.max_rto);
                self.stats.status_requests += 1;
            }
            Transmit::Abort => {
                self.abort_due = None;
            }
        }
    }

    /// Nothing is left to take back once anything else happened: a refusal
    /// refers to the frame `poll_transmit` just wrote, before any frame or
    /// send report is handled.
    fn settle_last_transmit(&mut self) {
        self.last_transmit = None;
        self.rate_noted = false;
    }

    /// The radio refused the frame `poll_transmit` just wrote (queue full):
    /// take it back. Ignored once a frame or a send report came in between
    /// (the sender fuzz target found a Completion followed by a refusal
    /// taking back the one chunk of a finished transfer).
    pub fn on_send_refused(&mut self) {
        let Some(transmit) = self.last_transmit.take() else {
            return;
        };
        self.in_flight.pop_back();
        self.stats.frames_sent = self.stats.frames_sent.saturating_sub(1);
        if self.rate_noted && matches!(transmit, Transmit::Chunk { .. }) {
            self.chunk_rates.unrecord_last();
        }
        self.rate_noted = false;
        match transmit {
            Transmit::Offer => self.offer_due = true,
            Transmit::Chunk { index, retransmission } => {
                let index = usize::from(index);
                self.to_send.insert(index);
                self.before_poll.remove(index);
                self.after_poll.remove(index);
                self.chunks_since_poll = self.chunks_since_poll.saturating_sub(1);
                self.stats.chunks_sent = self.stats.chunks_sent.saturating_sub(1);
                if retransmission {
                    self.stats.retransmissions = self.stats.retransmissions.saturating_sub(1);
                } else {
                    self.sent_once.remove(index);
                }
            }
            Transmit::StatusRequest { .. } => {
                self.outstanding_poll = None;
                self.poll_due = true;
            }
            Transmit::SegmentCrcs { first } => self.segment_cursor = Some(first),
            Transmit::ChunkCrcs { first, announcement } => {
                self.announcements(announcement).remove(usize::from(first / CRC_WINDOW));
            }
            Transmit::Abort => {}
        }
    }

    /// Asks for a status every `chunks` chunks from now on (at least one):
    /// a rate controller that knows nothing yet of the rate it sends at
    /// asks sooner than [`SenderConfig::poll_interval`], so that a rate that
    /// does not get through costs a few chunks rather than an interval.
    pub fn set_poll_interval(&mut self, chunks: u16) {
        self.config.poll_interval = chunks.max(1);
    }

    /// How many chunks go between two status requests now.
    pub fn poll_interval(&self) -> u16 {
        self.config.poll_interval
    }

    /// The frame `poll_transmit` just wrote goes at rate `rate` (the
    /// caller's index, below [`MAX_RATES`]): a chunk's rate is kept until a
    /// status answer tells whether it arrived (see [`ChunkRates`]). Call it
    /// before sending, once per frame; other frames are not recorded.
    pub fn note_rate(&mut self, rate: u8) {
        if self.rate_noted {
            return;
        }
        if let Some(Transmit::Chunk { index, .. }) = self.last_transmit {
            // Only a recorded send is taken back if the radio refuses it.
            self.rate_noted = self.chunk_rates.record(index, rate);
        }
    }

    /// The outcomes the status answers found for chunks at each rate since
    /// the last call, by the index given to [`Sender::note_rate`].
    pub fn take_rate_outcomes(&mut self) -> [RateOutcome; MAX_RATES] {
        self.chunk_rates.take_outcomes()
    }

    /// The radio reported the outcome of one frame this sender sent.
    ///
    /// A missing MAC acknowledgement is not taken as loss: the data may have
    /// arrived and only the acknowledgement been lost, and the receiver's
    /// bitmap tells the truth a few milliseconds later.
    ///
    /// Reports come in send order. The report of a poll or an offer starts
    /// its retransmission timer: the time the frame waited in the radio's
    /// queue is not round-trip time.
    pub fn on_send_report(&mut self, now: Instant, acknowledged: bool) {
        self.settle_last_transmit();
        if !acknowledged {
            self.stats.send_reports_unacknowledged += 1;
        }
        match self.in_flight.pop_front() {
            Some(Transmit::StatusRequest { poll }) => {
                if let Some((outstanding, _)) = self.outstanding_poll {
                    if outstanding == poll {
                        self.outstanding_poll = Some((poll, now));
                        self.retry_at = Some(now + self.rto);
                    }
                }
            }
            Some(Transmit::Offer) if self.state == SenderState::Offering && !self.offer_due => {
                self.offer_sent = Some(now);
                self.retry_at = Some(now + self.rto);
            }
            _ => {}
        }
    }

    /// Handles the bytes of a frame from the receiver: parsed, and in the
    /// authenticated mode checked against its tag (bound to this transfer's
    /// nonce), then handled. Frames that fail are dropped and counted.
    pub fn receive(&mut self, now: Instant, bytes: &[u8]) -> Result<(), AuthError> {
        self.settle_last_transmit();
        let Ok(frame) = FrameRepr::parse_bytes(bytes) else {
            self.stats.dropped_malformed += 1;
            return Ok(());
        };
        if frame.session() != Some(self.offer.session) {
            return Ok(());
        }
        let checked = match &self.authenticator {
            Some(authenticator) => {
                let nonce = self.nonce.unwrap_or(0);
                match frame {
                    FrameRepr::Challenge(_) => authenticator.verify(Direction::FromReceiver, 0, bytes),
                    // An abort may answer a frame of no transfer the receiver knows: nonce 0.
                    FrameRepr::Abort { .. } => authenticator
                        .verify(Direction::FromReceiver, nonce, bytes)
                        .or_else(|_| authenticator.verify(Direction::FromReceiver, 0, bytes)),
                    _ if self.nonce.is_none() => Err(AuthError::BadTag),
                    _ => authenticator.verify(Direction::FromReceiver, nonce, bytes),
                }
            }
            None => auth::check(None, Direction::FromReceiver, 0, bytes),
        };
        match checked {
            Ok(()) => {
                if let Some(len) = Frame::new_checked(bytes).ok().and_then(|f| f.announced_frame_len()) {
                    self.announced_frame_len = Some(len);
                }
                self.handle_checked(now, &frame);
                Ok(())
            }
            Err(error) => {
                match error {
                    AuthError::Untagged => self.stats.dropped_untagged += 1,
                    AuthError::UnexpectedTag => self.stats.dropped_unexpected_tag += 1,
                    AuthError::BadTag => self.stats.dropped_bad_tag += 1,
                }
                Err(error)
            }
        }
    }

    /// Handles a parsed frame from the receiver; frames of other sessions are
    /// ignored. In the authenticated mode a parsed frame cannot be checked:
    /// it is dropped (counted as untagged); use [`Sender::receive`].
    pub fn handle(&mut self, now: Instant, frame: &FrameRepr<'_>) {
        self.settle_last_transmit();
        if self.authenticator.is_some() {
            self.stats.dropped_untagged += 1;
            return;
        }
        self.handle_checked(now, frame);
    }

    fn handle_checked(&mut self, now: Instant, frame: &FrameRepr<'_>) {
        if frame.session() != Some(self.offer.session) || self.is_finished() {
            return;
        }
        match frame {
            FrameRepr::Status(_) if self.authenticator.is_some() && self.nonce.is_none() => {}
            FrameRepr::Status(status) => self.handle_status(now, status),
            FrameRepr::Challenge(challenge) if self.authenticator.is_some() && self.state == SenderState::Offering => {
                self.nonce = Some(challenge.nonce);
                self.state = SenderState::Sending;
                self.retry_at = None;
                if let Some(sent) = self.offer_sent {
                    self.sample_rtt(now.saturating_since(sent));
                }
            }
            FrameRepr::Completion { result: CompletionResult::CrcMismatch, .. } => self.handle_mismatch(),
            // The receiver can only have checked (let alone stored) an image once
            // every chunk has gone out at least once: a completion before that
            // answers nothing this transfer sent, forged or from a stale session.
            FrameRepr::Completion { .. } if !self.sent_every_chunk() => {}
            FrameRepr::Completion { result, .. } => {
                self.state = match result {
                    CompletionResult::Stored => SenderState::Done,
                    CompletionResult::StoreFailed => SenderState::Failed(SendError::StoreFailed),
                    CompletionResult::CrcMismatch => SenderState::Failed(SendError::CrcMismatch),
                };
                self.retry_at = None;
            }
            // A receiver answers an offer by accepting or refusing it, never with
            // UnknownSession: while offering, that abort answers a status request
            // sent before a restart (the rebooted receiver answers each one).
            FrameRepr::Abort { reason: AbortReason::UnknownSession, .. } if self.state == SenderState::Offering => {}
            FrameRepr::Abort { reason: AbortReason::UnknownSession, .. } if self.restarts < MAX_RESTARTS => {
                // The receiver lost the transfer (idle too long, or rebooted): offer it again.
                self.restart();
            }
            FrameRepr::Abort { reason, .. } => {
                self.state = SenderState::Failed(SendError::Refused(*reason));
                self.retry_at = None;
            }
            _ => {}
        }
    }

    /// The receiver's Completion of `CrcMismatch`: the first repair round,
    /// and the next one when it comes after the round's poll (the receiver
    /// found no bad segment, or their chunks came again and the check failed
    /// again); a copy that comes while a round's CRCs are going starts nothing.
    fn handle_mismatch(&mut self) {
        if self.segment_cursor.is_none() && (self.repair_rounds == 0 || self.polled_since_repair) {
            self.start_repair();
        }
    }

    /// A repair round, or the end when the rounds are spent.
    fn start_repair(&mut self) {
        if matches!(self.state, SenderState::Offering | SenderState::Done | SenderState::Failed(_)) {
            return;
        }
        if self.repair_rounds >= self.config.repair_rounds {
            self.state = SenderState::Failed(SendError::CrcMismatch);
            self.abort_due = Some(AbortReason::Cancelled);
            self.retry_at = None;
            return;
        }
        self.repair_rounds += 1;
        self.stats.repair_rounds += 1;
        self.segment_cursor = Some(0);
        self.polled_since_repair = false;
        self.outstanding_poll = None;
        self.poll_due = false;
        self.retry_at = None;
    }

    fn handle_status(&mut self, now: Instant, status: &StatusRepr<'_>) {
        if matches!(self.state, SenderState::Done | SenderState::Failed(_)) {
            return;
        }
        if self.state == SenderState::Offering {
            self.state = SenderState::Sending;
            self.retry_at = None;
            if let Some(sent) = self.offer_sent {
                self.sample_rtt(now.saturating_since(sent));
            }
        }
        let count = usize::from(self.offer.chunk_count);
        let covered = (status.covered_until() as usize).min(count);
        for index in 0..usize::from(status.lowest_missing).min(count) {
            self.confirm(index);
        }
        let mut index = usize::from(status.lowest_missing) + 1;
        while index < covered {
            if status.has(index as u16) == Some(true) {
                self.confirm(index);
            }
            index += 1;
        }
        let answers_outstanding = matches!(self.outstanding_poll, Some((poll, _)) if poll == status.poll);
        if answers_outstanding {
            if let Some((_, sent)) = self.outstanding_poll.take() {
                self.sample_rtt(now.saturating_since(sent));
            }
            self.chunk_rates.resolve(|index| status.has(index));
            // The chunks this answer finds lost go again, each window's
            // after a fresh copy of its CRCs.
            self.announced_again.clear();
            // The receiver's answer to the latest poll is authoritative: a chunk
            // confirmed before (by a forged status, or one a repair dropped) that
            // it reports missing now goes again.
            for index in 0..covered {
                if self.acknowledged.contains(index) && status.has(index as u16) == Some(false) {
                    self.acknowledged.remove(index);
                    self.to_send.insert(index);
                    self.stats.unconfirmed += 1;
                }
            }
            // Everything sent before the poll and still unconfirmed within the
            // status's reach is lost; beyond its reach it waits for the next poll.
            let mut lost = self.before_poll.clone();
            let mut index = lost.next_set(0);
            while let Some(i) = index {
                if i < covered {
                    self.to_send.insert(i);
                    lost.remove(i);
                }
                index = lost.next_set(i + 1);
            }
            lost.union(&self.after_poll);
            self.before_poll = lost;
            self.after_poll.clear();
            self.speculated.clear();
            self.retry_at = None;
        }
        // A status saying every chunk arrived starts no repair round: a forger
        // can send it in answer to every poll and spend the rounds; the
        // receiver answers a poll with its completion once it has checked.
        let all_received = usize::from(status.lowest_missing) >= count && self.acknowledged.count() >= count;
        if all_received {
            self.state = SenderState::Confirming;
        } else if self.state == SenderState::Confirming && self.acknowledged.count() < count {
            self.state = SenderState::Sending;
        }
        if self.state == SenderState::Confirming && self.outstanding_poll.is_none() {
            // The completion frame follows the last status; poll again if it does not.
            self.retry_at = Some(now + self.rto);
        }
    }

    fn restart(&mut self) {
        self.nonce = None;
        self.chunk_rates.clear();
        self.segment_cursor = None;
        self.restarts += 1;
        self.stats.restarts += 1;
        self.state = SenderState::Offering;
        self.offer_due = true;
        self.offer_sent = None;
        self.acknowledged.clear();
        self.to_send.fill(usize::from(self.offer.chunk_count));
        self.before_poll.clear();
        self.after_poll.clear();
        self.speculated.clear();
        self.announced.clear();
        self.announced_ahead.clear();
        self.announced_again.clear();
        self.outstanding_poll = None;
        self.poll_due = false;
        self.retry_at = None;
        self.chunks_since_poll = 0;
    }

    /// Whether every chunk has been handed to the radio at least once.
    fn sent_every_chunk(&self) -> bool {
        self.sent_once.count() >= usize::from(self.offer.chunk_count)
    }

    /// Takes chunk `index` as received. A status claiming a chunk this
    /// sender never sent is wrong (forged, or for another transfer): the
    /// chunk stays to be sent, else a forged "all received" status would
    /// keep it from ever going out while the receiver waits for it.
    fn confirm(&mut self, index: usize) {
        if !self.sent_once.contains(index) {
            return;
        }
        self.acknowledged.insert(index);
        self.to_send.remove(index);
        self.before_poll.remove(index);
        self.after_poll.remove(index);
    }

    fn sample_rtt(&mut self, rtt: Duration) {
        self.consecutive_expiries = 0;
        let rtt_us = rtt.as_micros();
        match self.smoothed_rtt {
            None => {
                self.smoothed_rtt = Some(rtt);
                self.rtt_variation = Duration::from_micros(rtt_us / 2);
            }
            Some(srtt) => {
                let srtt_us = srtt.as_micros();
                let deviation = srtt_us.abs_diff(rtt_us);
                self.rtt_variation = Duration::from_micros((3 * self.rtt_variation.as_micros() + deviation) / 4);
                self.smoothed_rtt = Some(Duration::from_micros((7 * srtt_us + rtt_us) / 8));
            }
        }
        let srtt = self.smoothed_rtt.unwrap_or(rtt);
        let rto = srtt + self.rtt_variation.saturating_mul(4);
        self.rto = rto.max(self.config.min_rto).min(self.config.max_rto);
    }

    fn check_timers(&mut self, now: Instant) {
        if matches!(self.state, SenderState::Done | SenderState::Failed(_)) {
            return;
        }
        if now >= self.started + self.config.deadline {
            self.state = SenderState::Failed(SendError::TimedOut);
            self.abort_due = Some(AbortReason::TimedOut);
            self.retry_at = None;
            return;
        }
        let Some(at) = self.retry_at else { return };
        if now < at {
            return;
        }
        self.stats.rto_expiries += 1;
        self.consecutive_expiries = self.consecutive_expiries.saturating_add(1);
        // On this link a lost poll is almost always random loss, not
        // congestion: repeat at the same timeout a few times, and back off
        // (Karn) only when the receiver stays silent, as in an outage.
        if self.consecutive_expiries > PATIENT_EXPIRIES {
            self.rto = self.rto.saturating_mul(2).min(self.config.max_rto);
        }
        self.retry_at = None;
        match self.state {
            SenderState::Offering => {
                self.offer_due = true;
                self.offer_sent = None;
            }
            _ => {
                self.outstanding_poll = None;
                self.poll_due = true;
            }
        }
    }

    /// When to call `poll_transmit` again if no frame or report arrives first.
    pub fn poll_at(&self) -> Option<Instant> {
        if self.is_finished() {
            return None;
        }
        let deadline = self.started + self.config.deadline;
        let at = self.retry_at.map_or(deadline, |at| at.min(deadline));
        let unsent = self.to_send.next_set(0).is_some_and(|i| i < usize::from(self.offer.chunk_count));
        match self.speculate_at() {
            Some(speculate) if !unsent => Some(at.min(speculate)),
            _ => Some(at),
        }
    }

    /// Gives up: the next `poll_transmit` sends an abort.
    pub fn cancel(&mut self) {
        if !matches!(self.state, SenderState::Done | SenderState::Failed(_)) {
            self.state = SenderState::Failed(SendError::Refused(AbortReason::Cancelled));
            self.abort_due = Some(AbortReason::Cancelled);
        }
    }
}

/// The most frames a sender tracks between handing them to the radio and their reports.
pub const IN_FLIGHT_CAPACITY: usize = 32;

/// A FIFO of the frames in flight, without allocation.
#[derive(Debug, Clone)]
struct InFlight {
    items: [Transmit; IN_FLIGHT_CAPACITY],
    head: usize,
    len: usize,
}

impl InFlight {
    const fn new() -> Self {
        Self { items: [Transmit::Abort; IN_FLIGHT_CAPACITY], head: 0, len: 0 }
    }

    fn len(&self) -> usize {
        self.len
    }

    fn push(&mut self, transmit: Transmit) {
        if self.len == IN_FLIGHT_CAPACITY {
            self.pop_front();
        }
        self.items[(self.head + self.len) % IN_FLIGHT_CAPACITY] = transmit;
        self.len += 1;
    }

    fn pop_front(&mut self) -> Option<Transmit> {
        if self.len == 0 {
            return None;
        }
        let item = self.items[self.head];
        self.head = (self.head + 1) % IN_FLIGHT_CAPACITY;
        self.len -= 1;
        Some(item)
    }

    fn pop_back(&mut self) -> Option<Transmit> {
        if self.len == 0 {
            return None;
        }
        self.len -= 1;
        Some(self.items[(self.head + self.len) % IN_FLIGHT_CAPACITY])
    }
}
