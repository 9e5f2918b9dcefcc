//! A hostile station on the receiver's channel (shared/ESPNOW-FACTS.md,
//! "Security facts"): anyone there can send ESP-NOW frames with any source
//! address. It hears every frame on its channel, takes the air ahead of the
//! stations waiting for it, and, as a scenario's `[hostile]` table asks:
//!
//! - forges chunks: having heard chunk `i` of the legitimate transfer, it
//!   sends chunk `i + 1` first, with the sender's address and an altered
//!   payload (a copy of chunk `i`'s bytes, inverted);
//! - forges statuses: it answers a status request of the legitimate transfer
//!   first, with the receiver's address, claiming every chunk received;
//! - floods: fake sender addresses send offers (every third of zero bytes)
//!   of 200 to 8,000 bytes, and chunks of them, one frame every [`FLOOD_INTERVAL`];
//! - replays: once a session of the legitimate sender is complete, it sends
//!   that session's frames again, one every [`REPLAY_INTERVAL`].
//!
//! It counts what it sent by kind; the radios count what arrived and what
//! their full receive queues dropped, and the receiver station counts what
//! the receiver took, refused or ignored as a duplicate.

use std::collections::VecDeque;

use nowcam_ports::radio::Radio;
use nowcam_proto::time::{Duration, Instant};
use nowcam_proto::wire::{
    flags, ChunkRepr, FrameRepr, OfferRepr, StatusRepr, MAX_CHUNK_PAYLOAD, MAX_FRAME_LEN, TAG_LEN, V1_MAX_CHUNK_PAYLOAD,
};

/// Where the flags byte sits in every nowcam frame (magic, version and kind, flags).
const FLAGS_OFFSET: usize = 2;
use nowcam_proto::MacAddress;

use crate::radio::{Frame, SimRadio};
use crate::scenario::HostileSpec;

/// Time between two frames of the flood, all fake senders together.
pub const FLOOD_INTERVAL: Duration = Duration::from_millis(20);
/// Time between two replayed frames.
pub const REPLAY_INTERVAL: Duration = Duration::from_millis(5);
/// Chunks a fake sender sends of one offer before it offers again.
const FLOOD_CHUNKS_PER_OFFER: u16 = 6;
/// The most frames kept of one session for replay.
const RECORDING_LIMIT: usize = 2048;
/// The most sessions the station remembers.
const SESSIONS_KEPT: usize = 4;
/// The most forged frames waiting for the radio.
const OUTBOX_LIMIT: usize = 64;

/// What a hostile frame is, for counting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum HostileKind {
    ForgedChunk,
    ForgedStatus,
    FloodOffer,
    FloodChunk,
    ReplayedOffer,
    ReplayedChunk,
    ReplayedRequest,
}

impl HostileKind {
    pub const ALL: [HostileKind; 7] = [
        HostileKind::ForgedChunk,
        HostileKind::ForgedStatus,
        HostileKind::FloodOffer,
        HostileKind::FloodChunk,
        HostileKind::ReplayedOffer,
        HostileKind::ReplayedChunk,
        HostileKind::ReplayedRequest,
    ];

    /// The origin tag the radios count this kind under (0 is a node's own frame).
    pub(crate) fn tag(self) -> u8 {
        HostileKind::ALL.iter().position(|k| *k == self).map_or(0, |i| i as u8 + 1)
    }

    pub(crate) fn from_tag(tag: u8) -> Option<HostileKind> {
        HostileKind::ALL.get(usize::from(tag).checked_sub(1)?).copied()
    }

    pub fn name(self) -> &'static str {
        match self {
            HostileKind::ForgedChunk => "forged-chunk",
            HostileKind::ForgedStatus => "forged-status",
            HostileKind::FloodOffer => "flood-offer",
            HostileKind::FloodChunk => "flood-chunk",
            HostileKind::ReplayedOffer => "replayed-offer",
            HostileKind::ReplayedChunk => "replayed-chunk",
            HostileKind::ReplayedRequest => "replayed-request",
        }
    }
}

/// What became of the hostile frames of one kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct KindCounts {
    /// Frames the hostile station put on the air.
    pub sent: u64,
    /// Copies that reached the radio they were sent to.
    pub arrived: u64,
    /// Copies the destination's full receive queue dropped.
    pub dropped_queue_full: u64,
    /// Frames the receiver refused (malformed, unknown session, out of range, refused offer).
    pub dropped_rejected: u64,
    /// Frames the receiver ignored as duplicates of what it already had.
    pub dropped_duplicate: u64,
    /// Frames the receiver acted on (or, for statuses, that reached the sender).
    pub taken: u64,
}

/// What the hostile station did, and what it did to the receiver's store.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize)]
pub struct HostileReport {
    pub spec: HostileSpec,
    /// Per kind, in [`HostileKind::ALL`] order, the kinds the station sent.
    pub kinds: Vec<(HostileKind, KindCounts)>,
    /// Images the receiver committed that no legitimate transfer sent.
    pub illegitimate_commits: u64,
    /// Whether the image stored before the run is intact at its end (or
    /// was evicted only to make room for legitimate images).
    pub earlier_image_intact: bool,
    /// The most transfers the receiver held open at once.
    pub peak_open_transfers: usize,
    /// Chunks the receiver got in two different copies while it held the
    /// first back, and dropped both of (a forged copy counts as taken until
    /// the real one comes: it is never written).
    pub contested_chunks: u64,
    /// Chunks the receiver refused because they did not match the CRC-32
    /// the sender announced for them (forged copies, never written).
    pub bad_crc_chunks: u64,
    /// Chunks the receiver dropped because their CRC-32 had not been
    /// announced yet (real or forged; they stay missing and go again).
    pub unannounced_chunks: u64,
    /// Images whose CRC-32 failed once every chunk was in (a forged chunk
    /// got through), each repaired or failed.
    pub crc_mismatches: u64,
    /// Segments found bad by their CRC and fetched again, and their chunks.
    pub segments_repaired: u64,
    pub chunks_repaired: u64,
    /// Transfers the receiver ended as failed (its store could not take a
    /// repair); the camera sent those images again.
    pub transfers_failed: u64,
}

impl HostileReport {
    /// One line per kind, for people, and one for the forged chunks caught.
    pub fn lines(&self) -> Vec<String> {
        let contested = format!(
            "hostile caught chunks: {} failed their announced CRC-32, {} contested (two different copies of a held \
             chunk, both dropped), {} came before their CRC-32; none written",
            self.bad_crc_chunks, self.contested_chunks, self.unannounced_chunks
        );
        let repaired = format!(
            "hostile repairs: {} images failed their CRC-32, {} segments ({} chunks) fetched again, {} transfers \
             failed and sent again",
            self.crc_mismatches, self.segments_repaired, self.chunks_repaired, self.transfers_failed
        );
        self.kinds
            .iter()
            .map(|(kind, c)| {
                format!(
                    "hostile {}: {} sent, {} arrived, {} dropped (queue full {}, refused {}, duplicate {}), {} taken",
                    kind.name(),
                    c.sent,
                    c.arrived,
                    c.dropped_queue_full + c.dropped_rejected + c.dropped_duplicate,
                    c.dropped_queue_full,
                    c.dropped_rejected,
                    c.dropped_duplicate,
                    c.taken
                )
            })
            .chain([contested, repaired])
            .collect()
    }
}

/// A frame the station means to send.
struct Outgoing {
    source: MacAddress,
    destination: MacAddress,
    kind: HostileKind,
    len: usize,
    bytes: [u8; MAX_FRAME_LEN],
}

/// The frames of one session of the legitimate sender.
struct Session {
    offer: Option<OfferRepr>,
    session: u32,
    frames: Vec<Frame>,
    /// Chunk indices already forged, so each is forged once.
    forged: Vec<bool>,
    replayed: bool,
}

/// One fake sender of the flood.
struct FakeSender {
    address: MacAddress,
    offer: Option<OfferRepr>,
    offers: u32,
    next_index: u16,
}

pub(crate) struct HostileStation {
    radio: SimRadio,
    spec: HostileSpec,
    /// The legitimate sender and its receiver.
    victim: MacAddress,
    receiver: MacAddress,
    random: u64,
    sessions: VecDeque<Session>,
    /// The session being replayed and the next frame of it.
    replaying: Option<(u32, usize)>,
    next_replay_at: Instant,
    fakes: Vec<FakeSender>,
    next_fake: usize,
    next_flood_at: Instant,
    outbox: VecDeque<Outgoing>,
    sent: [u64; HostileKind::ALL.len()],
    /// The last tag heard on the victim's frames, when they are tagged (the
    /// authenticated mode): forged frames then carry a tag too, which the
    /// attacker, without the key, can only guess.
    heard_tag: Option<[u8; TAG_LEN]>,
}

/// The address of fake sender `index` of a flood.
pub fn fake_address(index: u32) -> MacAddress {
    MacAddress([0x02, 0x66, 0x6c, (index >> 16) as u8, (index >> 8) as u8, index as u8])
}

impl HostileStation {
    pub(crate) fn new(
        radio: SimRadio,
        spec: HostileSpec,
        victim: MacAddress,
        receiver: MacAddress,
        seed: u64,
    ) -> HostileStation {
        HostileStation {
            radio,
            spec,
            victim,
            receiver,
            random: seed,
            sessions: VecDeque::new(),
            replaying: None,
            next_replay_at: Instant::ZERO,
            fakes: (1..=spec.flood_senders)
                .map(|i| FakeSender { address: fake_address(i), offer: None, offers: 0, next_index: 0 })
                .collect(),
            next_fake: 0,
            next_flood_at: Instant::ZERO,
            outbox: VecDeque::new(),
            heard_tag: None,
            sent: [0; HostileKind::ALL.len()],
        }
    }

    pub(crate) fn radio(&self) -> &SimRadio {
        &self.radio
    }

    pub(crate) fn radio_mut(&mut self) -> &mut SimRadio {
        &mut self.radio
    }

    /// Frames sent, per kind in [`HostileKind::ALL`] order.
    pub(crate) fn sent(&self) -> [u64; HostileKind::ALL.len()] {
        self.sent
    }

    /// Whether the station still has a replay to finish, so that the run waits for it.
    pub(crate) fn busy(&self) -> bool {
        self.replaying.is_some() || self.outbox.iter().any(|o| Self::is_replay(o.kind))
    }

    fn is_replay(kind: HostileKind) -> bool {
        matches!(kind, HostileKind::ReplayedOffer | HostileKind::ReplayedChunk | HostileKind::ReplayedRequest)
    }

    /// splitmix64: the station's own seeded stream.
    fn next_u64(&mut self) -> u64 {
        self.random = self.random.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.random;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn chance(&mut self, probability: f64) -> bool {
        probability > 0.0 && ((self.next_u64() >> 11) as f64 / (1u64 << 53) as f64) < probability
    }

    pub(crate) fn poll(&mut self, now: Instant) -> Option<Instant> {
        while self.radio.poll_send_report().is_some() {}
        while let Some(frame) = self.radio.take_sniffed() {
            self.heard(&frame);
        }
        if !self.fakes.is_empty() && now >= self.next_flood_at {
            self.flood();
            self.next_flood_at = now + FLOOD_INTERVAL;
        }
        if self.replaying.is_some() && now >= self.next_replay_at {
            self.replay_next();
            self.next_replay_at = now + REPLAY_INTERVAL;
        }
        while let Some(out) = self.outbox.front() {
            match self.radio.send_as(out.source, out.destination, &out.bytes[..out.len], out.kind.tag()) {
                Ok(_) => {
                    let kind = out.kind;
                    self.outbox.pop_front();
                    self.sent[usize::from(kind.tag() - 1)] += 1;
                }
                // Sent once the radio reports the frame on the air before.
                Err(_) => break,
            }
        }
        let flood = (!self.fakes.is_empty()).then_some(self.next_flood_at);
        let replay = self.replaying.map(|_| self.next_replay_at);
        match (flood, replay) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn queue(&mut self, source: MacAddress, destination: MacAddress, kind: HostileKind, frame: &FrameRepr<'_>) {
        if self.outbox.len() >= OUTBOX_LIMIT {
            return;
        }
        let mut bytes = [0u8; MAX_FRAME_LEN];
        if let Ok(mut len) = frame.emit(&mut bytes) {
            if let Some(tag) = self.heard_tag {
                // The best an attacker without the key can do: the frame marked tagged,
                // with a tag it heard (bound to another frame, so it fails).
                let Some(end) = bytes.get_mut(len..len + TAG_LEN) else { return };
                end.copy_from_slice(&tag);
                bytes[FLAGS_OFFSET] |= flags::TAGGED;
                len += TAG_LEN;
            }
            self.outbox.push_back(Outgoing { source, destination, kind, len, bytes });
        }
    }

    fn session_mut(&mut self, session: u32) -> &mut Session {
        if let Some(index) = self.sessions.iter().position(|s| s.session == session) {
            return &mut self.sessions[index];
        }
        if self.sessions.len() >= SESSIONS_KEPT {
            let busy = self.replaying.map(|(s, _)| s);
            if let Some(index) = self.sessions.iter().position(|s| Some(s.session) != busy) {
                self.sessions.remove(index);
            }
        }
        self.sessions.push_back(Session {
            offer: None,
            session,
            frames: Vec::new(),
            forged: Vec::new(),
            replayed: false,
        });
        let last = self.sessions.len() - 1;
        &mut self.sessions[last]
    }

    /// A frame heard on the channel.
    fn heard(&mut self, frame: &Frame) {
        // A tagged frame is read as the attacker reads it: the frame without its tag.
        let body = frame.body();
        let mut untagged = [0u8; MAX_FRAME_LEN];
        let body = match body.get(FLAGS_OFFSET) {
            Some(flags) if flags & flags::TAGGED != 0 && body.len() > TAG_LEN + FLAGS_OFFSET => {
                let len = body.len() - TAG_LEN;
                untagged[..len].copy_from_slice(&body[..len]);
                untagged[FLAGS_OFFSET] &= !flags::TAGGED;
                if frame.source == self.victim {
                    let mut tag = [0u8; TAG_LEN];
                    tag.copy_from_slice(&body[len..]);
                    self.heard_tag = Some(tag);
                }
                &untagged[..len]
            }
            _ => body,
        };
        let Ok(repr) = FrameRepr::parse_bytes(body) else { return };
        if frame.origin != 0 {
            return;
        }
        // The camera sends its chunks and polls to the broadcast address.
        if frame.source == self.victim && (frame.destination == self.receiver || frame.destination.is_broadcast()) {
            let session = match repr {
                FrameRepr::Offer(offer) | FrameRepr::SealedOffer { offer, .. } => offer.session,
                FrameRepr::Chunk(chunk) => chunk.session,
                FrameRepr::StatusRequest(request) => request.session,
                _ => return,
            };
            let recording = self.session_mut(session);
            if recording.frames.len() < RECORDING_LIMIT {
                recording.frames.push(frame.clone());
            }
            match repr {
                FrameRepr::Offer(offer) | FrameRepr::SealedOffer { offer, .. } => {
                    recording.offer = Some(offer);
                    recording.forged = vec![false; usize::from(offer.chunk_count)];
                }
                FrameRepr::Chunk(chunk) => self.forge_chunk(&chunk),
                FrameRepr::StatusRequest(request) => {
                    let offer = self.sessions.iter().find(|s| s.session == request.session).and_then(|s| s.offer);
                    if let Some(offer) = offer {
                        if self.chance(self.spec.forge_status) {
                            let status = StatusRepr {
                                session: request.session,
                                poll: request.poll,
                                lowest_missing: offer.chunk_count,
                                bitmap: &[],
                            };
                            self.queue(
                                self.receiver,
                                self.victim,
                                HostileKind::ForgedStatus,
                                &FrameRepr::Status(status),
                            );
                        }
                    }
                }
                _ => {}
            }
        } else if frame.source == self.receiver && frame.destination == self.victim {
            if let FrameRepr::Completion { session, .. } = repr {
                let Some(recording) = self.sessions.iter_mut().find(|s| s.session == session) else { return };
                if self.spec.replay_old && !recording.replayed && self.replaying.is_none() {
                    recording.replayed = true;
                    self.replaying = Some((session, 0));
                }
            }
        }
    }

    /// Maybe forges the chunk after `chunk`, before the sender sends it.
    fn forge_chunk(&mut self, chunk: &ChunkRepr<'_>) {
        let Some(index) = chunk.index.checked_add(1) else { return };
        let Some(recording) = self.sessions.iter().find(|s| s.session == chunk.session) else { return };
        let Some(offer) = recording.offer else { return };
        if index >= offer.chunk_count || recording.forged.get(usize::from(index)).copied().unwrap_or(true) {
            return;
        }
        if !self.chance(self.spec.forge_chunks) {
            return;
        }
        let start = u32::from(index) * u32::from(offer.chunk_size);
        let len = (offer.image_len.saturating_sub(start)).min(u32::from(offer.chunk_size)) as usize;
        let mut payload = [0u8; MAX_CHUNK_PAYLOAD];
        let len = len.min(MAX_CHUNK_PAYLOAD);
        for (k, byte) in payload[..len].iter_mut().enumerate() {
            *byte = !chunk.payload.get(k).copied().unwrap_or(0);
        }
        if let Some(recording) = self.sessions.iter_mut().find(|s| s.session == chunk.session) {
            recording.forged[usize::from(index)] = true;
        }
        let forged = ChunkRepr { session: chunk.session, index, payload: &payload[..len] };
        self.queue(self.victim, self.receiver, HostileKind::ForgedChunk, &FrameRepr::Chunk(forged));
    }

    /// One frame of the flood, from the next fake sender.
    fn flood(&mut self) {
        let index = self.next_fake % self.fakes.len();
        self.next_fake = self.next_fake.wrapping_add(1);
        let fake = &self.fakes[index];
        let address = fake.address;
        let due_offer = fake.offer.is_none_or(|offer| fake.next_index >= offer.chunk_count.min(FLOOD_CHUNKS_PER_OFFER));
        if due_offer {
            let zero = (self.fakes[index].offers as usize + index) % 3 == 2;
            let image_len = if zero { 0 } else { 200 + (self.next_u64() % 7_800) as u32 };
            let chunk_size = V1_MAX_CHUNK_PAYLOAD as u16;
            let offer = OfferRepr {
                session: self.next_u64() as u32,
                image_len,
                chunk_size,
                chunk_count: image_len.div_ceil(u32::from(chunk_size)) as u16,
                crc32: if zero { 0 } else { self.next_u64() as u32 },
                flags: 0,
            };
            let fake = &mut self.fakes[index];
            fake.offer = Some(offer);
            fake.offers += 1;
            fake.next_index = 0;
            self.queue(address, self.receiver, HostileKind::FloodOffer, &FrameRepr::Offer(offer));
            return;
        }
        let Some(offer) = self.fakes[index].offer else { return };
        let chunk_index = self.fakes[index].next_index;
        self.fakes[index].next_index += 1;
        let start = u32::from(chunk_index) * u32::from(offer.chunk_size);
        let len = (offer.image_len.saturating_sub(start)).min(u32::from(offer.chunk_size)) as usize;
        let mut payload = [0u8; MAX_CHUNK_PAYLOAD];
        let fill = self.next_u64().to_le_bytes();
        for (k, byte) in payload.iter_mut().enumerate() {
            *byte = fill[k % 8] ^ k as u8;
        }
        let chunk = ChunkRepr { session: offer.session, index: chunk_index, payload: &payload[..len] };
        self.queue(address, self.receiver, HostileKind::FloodChunk, &FrameRepr::Chunk(chunk));
    }

    /// The next frame of the session being replayed.
    fn replay_next(&mut self) {
        let Some((session, next)) = self.replaying else { return };
        let Some(recording) = self.sessions.iter().find(|s| s.session == session) else {
            self.replaying = None;
            return;
        };
        let Some(frame) = recording.frames.get(next).cloned() else {
            self.replaying = None;
            return;
        };
        self.replaying = Some((session, next + 1));
        let kind = match FrameRepr::parse_bytes(frame.body()) {
            Ok(FrameRepr::Offer(_)) => HostileKind::ReplayedOffer,
            Ok(FrameRepr::Chunk(_)) => HostileKind::ReplayedChunk,
            _ => HostileKind::ReplayedRequest,
        };
        if self.outbox.len() < OUTBOX_LIMIT {
            let mut bytes = [0u8; MAX_FRAME_LEN];
            bytes[..frame.body().len()].copy_from_slice(frame.body());
            self.outbox.push_back(Outgoing {
                source: frame.source,
                destination: frame.destination,
                kind,
                len: frame.body().len(),
                bytes,
            });
        }
    }
}
