//! Every limit and refusal of the receiving side, one test each, through
//! `Receiver` with a RAM store that records what was asked of it.

use nowcam_proto::auth::AuthError;
use nowcam_proto::chunker::crc32;
use nowcam_proto::reassembler::{ChunkError, ChunkOutcome, Limits, OutOfBounds, Reassembler, VerifyError};
use nowcam_proto::receiver::{ReceiveError, Receiver, ReceiverConfig, ReceiverEvent, TransferStore};
use nowcam_proto::time::{Duration, Instant};
use nowcam_proto::wire::Frame;
use nowcam_proto::wire::{
    AbortReason, ChunkRepr, CompletionResult, Error, FrameKind, FrameRepr, OfferRepr, SegmentCrcsRepr, StatusRepr,
    StatusRequestRepr, HEADER_LEN, MAX_FRAME_LEN, OFFER_FLAG_CHUNK_CRCS, OFFER_FLAG_FRAME_LEN, OFFER_FLAG_JPEG,
};
use nowcam_proto::MacAddress;

const A: MacAddress = MacAddress([0x02, 0, 0, 0, 0, 0x0a]);
const B: MacAddress = MacAddress([0x02, 0, 0, 0, 0, 0x0b]);
const CHUNK: u16 = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct StoreError;

/// A store of RAM slots that records every begin, write, commit and abandon.
#[derive(Debug, Default)]
struct RamStore {
    slots: Vec<Option<Vec<u8>>>,
    fail_begin: bool,
    /// `can_begin` says no: the offer is answered Busy.
    fail_can_begin: bool,
    /// How many of the next writes fail.
    fail_writes: usize,
    fail_commit: bool,
    begins: Vec<u32>,
    writes: usize,
    committed: Vec<(Vec<u8>, u32)>,
    abandoned: Vec<usize>,
}

impl RamStore {
    fn slot(&mut self, slot: usize) -> Result<&mut Vec<u8>, StoreError> {
        self.slots.get_mut(slot).and_then(Option::as_mut).ok_or(StoreError)
    }

    fn open(&self) -> usize {
        self.slots.iter().flatten().count()
    }
}

impl TransferStore for RamStore {
    type Slot = usize;
    type Error = StoreError;

    fn can_begin(&mut self, _len: u32, _waiting: usize) -> bool {
        !self.fail_can_begin
    }

    fn begin(&mut self, len: u32) -> Result<usize, StoreError> {
        self.begins.push(len);
        if self.fail_begin {
            return Err(StoreError);
        }
        self.slots.push(Some(vec![0; len as usize]));
        Ok(self.slots.len() - 1)
    }

    fn write_at(&mut self, slot: usize, offset: u32, data: &[u8]) -> Result<(), StoreError> {
        self.writes += 1;
        if self.fail_writes > 0 {
            self.fail_writes -= 1;
            return Err(StoreError);
        }
        let start = offset as usize;
        self.slot(slot)?.get_mut(start..start + data.len()).ok_or(StoreError)?.copy_from_slice(data);
        Ok(())
    }

    fn read_at(&mut self, slot: usize, offset: u32, buffer: &mut [u8]) -> Result<usize, StoreError> {
        let bytes = self.slot(slot)?;
        let start = (offset as usize).min(bytes.len());
        let n = buffer.len().min(bytes.len() - start);
        buffer[..n].copy_from_slice(&bytes[start..start + n]);
        Ok(n)
    }

    fn commit(&mut self, slot: usize, crc32: u32) -> Result<(), StoreError> {
        if self.fail_commit {
            return Err(StoreError);
        }
        let bytes = self.slots.get_mut(slot).and_then(Option::take).ok_or(StoreError)?;
        self.committed.push((bytes, crc32));
        Ok(())
    }

    fn abandon(&mut self, slot: usize) {
        if let Some(entry) = self.slots.get_mut(slot) {
            *entry = None;
        }
        self.abandoned.push(slot);
    }
}

/// A receiver, its store and the last reply, driven frame by frame.
struct Harness<const TRANSFERS: usize, const WORDS: usize> {
    receiver: Receiver<usize, TRANSFERS, WORDS>,
    store: RamStore,
    reply: [u8; MAX_FRAME_LEN],
}

/// What an accepted frame produced.
#[derive(Debug)]
struct Outcome {
    reply: Option<Vec<u8>>,
    event: Option<ReceiverEvent>,
}

impl<const TRANSFERS: usize, const WORDS: usize> Harness<TRANSFERS, WORDS> {
    fn new() -> Self {
        Self::with_config(ReceiverConfig::default())
    }

    fn with_config(config: ReceiverConfig) -> Self {
        Self { receiver: Receiver::new(config), store: RamStore::default(), reply: [0; MAX_FRAME_LEN] }
    }

    fn send(&mut self, at_ms: u64, source: MacAddress, frame: &FrameRepr<'_>) -> Result<Outcome, ReceiveError> {
        let mut bytes = [0u8; MAX_FRAME_LEN];
        let len = frame.emit(&mut bytes).expect("test frames fit");
        self.send_bytes(at_ms, source, &bytes[..len])
    }

    fn send_bytes(&mut self, at_ms: u64, source: MacAddress, bytes: &[u8]) -> Result<Outcome, ReceiveError> {
        // Cleared so that a refusal's reply is known to be fresh.
        self.reply = [0; MAX_FRAME_LEN];
        let handled =
            self.receiver.handle(Instant::from_millis(at_ms), source, bytes, &mut self.store, &mut self.reply)?;
        Ok(Outcome { reply: handled.reply_len.map(|len| self.reply[..len].to_vec()), event: handled.event })
    }

    /// The Abort a refused offer wrote; a refusal returns no length, and an Abort has a fixed one.
    fn refusal(&self) -> FrameRepr<'_> {
        FrameRepr::parse_bytes(&self.reply[..HEADER_LEN + FrameKind::Abort.fixed_len()])
            .expect("a refusal writes an Abort")
    }
}

fn image(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
}

fn offer_for(session: u32, image: &[u8]) -> OfferRepr {
    OfferRepr {
        session,
        image_len: image.len() as u32,
        chunk_size: CHUNK,
        chunk_count: image.len().div_ceil(usize::from(CHUNK)) as u16,
        crc32: crc32(image),
        flags: OFFER_FLAG_JPEG,
    }
}

fn chunk_repr(session: u32, index: u16, image: &[u8]) -> ChunkRepr<'_> {
    let start = usize::from(index) * usize::from(CHUNK);
    let end = (start + usize::from(CHUNK)).min(image.len());
    ChunkRepr { session, index, payload: &image[start..end] }
}

fn chunk(session: u32, index: u16, image: &[u8]) -> FrameRepr<'_> {
    FrameRepr::Chunk(chunk_repr(session, index, image))
}

fn status_request(session: u32, poll: u16) -> FrameRepr<'static> {
    FrameRepr::StatusRequest(StatusRequestRepr { session, poll })
}

fn parse(reply: &Option<Vec<u8>>) -> FrameRepr<'_> {
    FrameRepr::parse_bytes(reply.as_deref().expect("a reply")).expect("replies parse")
}

/// Refuses `offer` with `reason`, answers with an Abort, and touches no slot.
fn check_refused<const TRANSFERS: usize, const WORDS: usize>(
    harness: &mut Harness<TRANSFERS, WORDS>,
    offer: OfferRepr,
    reason: AbortReason,
) {
    let begins = harness.store.begins.len();
    let result = harness.send(0, A, &FrameRepr::Offer(offer));
    assert_eq!(result.unwrap_err(), ReceiveError::Refused(reason), "{offer:?}");
    assert_eq!(harness.refusal(), FrameRepr::Abort { session: offer.session, reason });
    assert_eq!(harness.store.begins.len(), begins, "no slot is reserved");
    assert_eq!(harness.receiver.active().count(), 0);
}

#[test]
fn offers_refused_before_any_slot() {
    let max = Limits::default().max_image_len;
    assert_eq!(max, 512 * 1024);
    let consistent = |session, image_len: u32, chunk_size: u16| OfferRepr {
        session,
        image_len,
        chunk_size,
        chunk_count: image_len.div_ceil(u32::from(chunk_size).max(1)) as u16,
        crc32: 0,
        flags: OFFER_FLAG_JPEG,
    };
    let cases = [
        (consistent(1, max + 1, 241), AbortReason::TooLarge),
        (consistent(2, u32::MAX, 241), AbortReason::TooLarge),
        (OfferRepr { chunk_count: 11, ..consistent(3, 1_000, CHUNK) }, AbortReason::BadOffer),
        (OfferRepr { chunk_count: 9, ..consistent(4, 1_000, CHUNK) }, AbortReason::BadOffer),
        (consistent(5, 1_000, 0), AbortReason::BadOffer),
        (consistent(6, 1_000, 242), AbortReason::BadOffer),
        // 8 words track 256 chunks.
        (consistent(7, 257 * 100, 100), AbortReason::TooManyChunks),
        // An empty image: one forged 21-byte offer used to commit one.
        (consistent(10, 0, 241), AbortReason::BadOffer),
        (OfferRepr { chunk_count: 1, ..consistent(11, 0, 241) }, AbortReason::BadOffer),
    ];
    let mut harness = Harness::<2, 8>::new();
    for (offer, reason) in cases {
        check_refused(&mut harness, offer, reason);
    }
    assert_eq!(harness.receiver.stats().rejected, 9);
    assert_eq!(harness.receiver.stats().dropped.refused, 9);
    assert!(harness.store.begins.is_empty());

    // At the edges of the limits the same offers are taken.
    let mut harness = Harness::<1, 8>::new();
    assert!(harness.send(0, A, &FrameRepr::Offer(consistent(8, 256 * 100, 100))).is_ok());
    let mut harness = Harness::<1, 68>::new();
    let largest = consistent(9, max, 241);
    assert_eq!(largest.chunk_count, 2_176);
    let outcome = harness.send(0, A, &FrameRepr::Offer(largest)).unwrap();
    assert!(matches!(outcome.event, Some(ReceiverEvent::Started { .. })));
    // The slot is taken at the first data chunk, not at the offer.
    assert!(harness.store.begins.is_empty());
    let payload = vec![0u8; 241];
    harness.send(1, A, &FrameRepr::Chunk(ChunkRepr { session: 9, index: 0, payload: &payload })).unwrap();
    assert_eq!(harness.store.begins, [max]);
}

#[test]
fn chunk_index_out_of_range() {
    let image = image(1_000);
    let mut harness = Harness::<2, 8>::new();
    harness.send(0, A, &FrameRepr::Offer(offer_for(1, &image))).unwrap();
    for index in [10, 11, u16::MAX] {
        let forged = FrameRepr::Chunk(ChunkRepr { session: 1, index, payload: &image[..100] });
        assert_eq!(harness.send(1, A, &forged).unwrap_err(), ReceiveError::IndexOutOfRange);
    }
    assert_eq!(harness.store.writes, 0);
}

#[test]
fn chunk_of_the_wrong_length() {
    let image = image(1_050);
    let mut harness = Harness::<2, 8>::new();
    harness.send(0, A, &FrameRepr::Offer(offer_for(1, &image))).unwrap();
    let cases: [(u16, usize); 5] = [(0, 99), (0, 101), (0, 0), (10, 51), (10, 100)];
    for (index, len) in cases {
        let payload = vec![0u8; len];
        let forged = FrameRepr::Chunk(ChunkRepr { session: 1, index, payload: &payload });
        assert_eq!(harness.send(1, A, &forged).unwrap_err(), ReceiveError::WrongLength, "chunk {index} of {len} bytes");
    }
    assert_eq!(harness.store.writes, 0);
    assert!(harness.send(1, A, &chunk(1, 10, &image)).is_ok(), "the last chunk is short");
    // Held back until the next chunk comes.
    assert_eq!(harness.store.writes, 0);
    harness.send(1, A, &chunk(1, 0, &image)).unwrap();
    assert_eq!(harness.store.writes, 1);
}

#[test]
fn chunk_of_an_unknown_session() {
    let image = image(300);
    let mut harness = Harness::<2, 8>::new();
    assert_eq!(harness.send(0, A, &chunk(1, 0, &image)).unwrap_err(), ReceiveError::UnknownSession);
    assert_eq!(harness.store.writes, 0);
}

#[test]
fn status_request_for_an_unknown_session() {
    let mut harness = Harness::<2, 8>::new();
    let outcome = harness.send(0, A, &status_request(77, 3)).unwrap();
    assert_eq!(parse(&outcome.reply), FrameRepr::Abort { session: 77, reason: AbortReason::UnknownSession });
    assert_eq!(outcome.event, None);
}

#[test]
fn no_free_transfer_slot_is_busy() {
    let image = image(300);
    let mut harness = Harness::<1, 8>::new();
    harness.send(0, A, &FrameRepr::Offer(offer_for(1, &image))).unwrap();
    check_busy(&mut harness, B, offer_for(2, &image));
    assert!(harness.store.begins.is_empty(), "no slot asked for an offer");
    // The transfer in progress is untouched and still completes.
    for index in 0..3 {
        harness.send(1, A, &chunk(1, index, &image)).unwrap();
    }
    assert_eq!(harness.store.committed, [(image.clone(), crc32(&image))]);
}

fn check_busy<const TRANSFERS: usize, const WORDS: usize>(
    harness: &mut Harness<TRANSFERS, WORDS>,
    source: MacAddress,
    offer: OfferRepr,
) {
    assert_eq!(
        harness.send(0, source, &FrameRepr::Offer(offer)).unwrap_err(),
        ReceiveError::Refused(AbortReason::Busy)
    );
    assert_eq!(harness.refusal(), FrameRepr::Abort { session: offer.session, reason: AbortReason::Busy });
}

/// Senders refused as Busy are taken in the order they were first refused:
/// one that offers just as a transfer ends does not overtake one that
/// waited, and a sender that stops offering stops holding its turn.
#[test]
fn busy_senders_are_taken_in_turn() {
    let image = image(300);
    let c = MacAddress([0x02, 0, 0, 0, 0, 0x0c]);
    let mut harness = Harness::<1, 8>::new();
    harness.send(0, A, &FrameRepr::Offer(offer_for(1, &image))).unwrap();
    let busy = ReceiveError::Refused(AbortReason::Busy);
    assert_eq!(harness.send(10, B, &FrameRepr::Offer(offer_for(2, &image))).unwrap_err(), busy);
    assert_eq!(harness.send(20, c, &FrameRepr::Offer(offer_for(3, &image))).unwrap_err(), busy);
    for index in 0..3 {
        harness.send(30, A, &chunk(1, index, &image)).unwrap();
    }
    assert_eq!(harness.receiver.active().count(), 0, "A is done");
    // C came second: the free transfer waits for B.
    assert_eq!(harness.send(40, c, &FrameRepr::Offer(offer_for(3, &image))).unwrap_err(), busy);
    assert!(harness.send(150, B, &FrameRepr::Offer(offer_for(2, &image))).is_ok());
    for index in 0..3 {
        harness.send(160, B, &chunk(2, index, &image)).unwrap();
    }
    // A newcomer waits behind C, which is taken next.
    assert_eq!(harness.send(170, A, &FrameRepr::Offer(offer_for(4, &image))).unwrap_err(), busy);
    assert!(harness.send(200, c, &FrameRepr::Offer(offer_for(3, &image))).is_ok());
    for index in 0..3 {
        harness.send(210, c, &chunk(3, index, &image)).unwrap();
    }
    // A stopped offering 500 ms ago: it holds no turn, and B is taken at once.
    assert!(harness.send(700, B, &FrameRepr::Offer(offer_for(5, &image))).is_ok());
    assert_eq!(harness.store.committed.len(), 3);
}

#[test]
fn store_refusing_a_slot_is_busy() {
    let image = image(300);
    let mut harness = Harness::<2, 8>::new();
    // At the offer: the store says it could not begin.
    harness.store.fail_can_begin = true;
    check_busy(&mut harness, A, offer_for(1, &image));
    assert!(harness.store.begins.is_empty());
    assert_eq!(harness.receiver.active().count(), 0);
    // At the first chunk: the slot the offer saw went elsewhere.
    harness.store.fail_can_begin = false;
    harness.store.fail_begin = true;
    harness.send(1, A, &FrameRepr::Offer(offer_for(2, &image))).unwrap();
    assert_eq!(harness.send(2, A, &chunk(2, 0, &image)).unwrap_err(), ReceiveError::Refused(AbortReason::Busy));
    assert_eq!(harness.refusal(), FrameRepr::Abort { session: 2, reason: AbortReason::Busy });
    assert_eq!(harness.store.begins, [300]);
    assert_eq!(harness.receiver.active().count(), 0);
}

#[test]
fn duplicate_chunk_is_counted_and_dropped() {
    let image = image(300);
    let mut harness = Harness::<2, 8>::new();
    harness.send(0, A, &FrameRepr::Offer(offer_for(1, &image))).unwrap();
    harness.send(1, A, &chunk(1, 1, &image)).unwrap();
    let outcome = harness.send(2, A, &chunk(1, 1, &image)).unwrap();
    assert!(outcome.reply.is_none() && outcome.event.is_none());
    // The held chunk and its duplicate: nothing written yet.
    assert_eq!(harness.store.writes, 0);
    harness.send(3, A, &chunk(1, 0, &image)).unwrap();
    harness.send(4, A, &chunk(1, 1, &image)).unwrap();
    assert_eq!(harness.store.writes, 1);
    let stats = harness.receiver.stats();
    assert_eq!((stats.chunks_stored, stats.duplicates, stats.rejected), (2, 2, 0));
    assert_eq!(harness.receiver.active().next().map(|(_, _, n)| n), Some(2));
}

/// A forger's copy of a chunk that comes just before the real one: the
/// first copy is held back, the second differs, so neither is written and
/// the chunk counts as missing; the next copy fills it. The store never
/// sees the forged bytes.
#[test]
fn two_different_copies_of_a_held_chunk_are_both_dropped() {
    let image = image(700);
    let mut harness = Harness::<2, 8>::new();
    harness.send(0, A, &FrameRepr::Offer(offer_for(1, &image))).unwrap();
    harness.send(1, A, &chunk(1, 0, &image)).unwrap();
    let forged_bytes = vec![0x55u8; 100];
    let forged = FrameRepr::Chunk(ChunkRepr { session: 1, index: 1, payload: &forged_bytes });
    harness.send(2, A, &forged).unwrap();
    assert_eq!(harness.send(3, A, &chunk(1, 1, &image)).unwrap_err(), ReceiveError::Contested);
    assert_eq!(harness.receiver.active().next().map(|(_, _, n)| n), Some(1), "chunk 1 is missing again");
    assert_eq!(harness.receiver.stats().dropped.contested, 1);
    for index in 1..7 {
        harness.send(4, A, &chunk(1, index, &image)).unwrap();
    }
    assert_eq!(harness.store.committed, [(image.clone(), crc32(&image))]);
    assert_eq!(harness.store.writes, 7, "every chunk written once, the forged one never");
}

#[test]
fn repeated_offer_is_answered_with_a_status() {
    let image = image(1_000);
    let offer = offer_for(1, &image);
    let mut harness = Harness::<2, 8>::new();
    let first = harness.send(0, A, &FrameRepr::Offer(offer)).unwrap();
    assert_eq!(
        parse(&first.reply),
        FrameRepr::Status(StatusRepr { session: 1, poll: StatusRepr::UNSOLICITED, lowest_missing: 0, bitmap: &[] })
    );
    for index in [0, 1, 3, 9] {
        harness.send(1, A, &chunk(1, index, &image)).unwrap();
    }
    let again = harness.send(2, A, &FrameRepr::Offer(offer)).unwrap();
    assert_eq!(again.event, None, "no second start");
    assert_eq!(
        parse(&again.reply),
        FrameRepr::Status(StatusRepr {
            session: 1,
            poll: StatusRepr::UNSOLICITED,
            lowest_missing: 2,
            // Bit i is chunk 3 + i: chunks 3 and 9.
            bitmap: &[0b0100_0001],
        })
    );
    assert_eq!(harness.store.begins.len(), 1);

    let changed = OfferRepr { crc32: offer.crc32 ^ 1, ..offer };
    assert_eq!(
        harness.send(3, A, &FrameRepr::Offer(changed)).unwrap_err(),
        ReceiveError::Refused(AbortReason::BadOffer)
    );
    assert_eq!(harness.receiver.active().next().map(|(_, o, n)| (*o, n)), Some((offer, 4)));
}

#[test]
fn forged_chunks_are_rejected() {
    let image = image(300);
    let forgery = vec![0xee; 300];
    let mut harness = Harness::<2, 8>::new();
    harness.send(0, A, &FrameRepr::Offer(offer_for(1, &image))).unwrap();
    // Another session from the same address, and the same session from another address.
    for (source, session) in [(A, 2), (B, 1)] {
        assert_eq!(harness.send(1, source, &chunk(session, 0, &forgery)).unwrap_err(), ReceiveError::UnknownSession);
    }
    assert_eq!(harness.store.writes, 0);
    for index in 0..3 {
        harness.send(2, A, &chunk(1, index, &image)).unwrap();
    }
    assert_eq!(harness.store.committed, [(image.clone(), crc32(&image))]);
}

#[test]
fn idle_transfer_expires() {
    let image = image(300);
    let offer = offer_for(1, &image);
    let mut harness = Harness::<2, 8>::new();
    harness.send(0, A, &FrameRepr::Offer(offer)).unwrap();
    harness.send(4_000, A, &chunk(1, 0, &image)).unwrap();
    let due = Instant::from_millis(4_000) + Duration::from_secs(10);
    assert_eq!(harness.receiver.poll_at(), Some(due));
    assert_eq!(harness.receiver.poll(Instant::from_millis(13_999), &mut harness.store), None);
    assert_eq!(
        harness.receiver.poll(due, &mut harness.store),
        Some(ReceiverEvent::Dropped { source: A, offer, reason: AbortReason::TimedOut })
    );
    assert_eq!(harness.store.abandoned, [0]);
    assert_eq!(harness.store.open(), 0);
    assert_eq!(harness.receiver.poll_at(), None);
    assert_eq!(harness.receiver.poll(due, &mut harness.store), None);
    // The sender comes back too late: its chunks and polls name a forgotten session.
    assert_eq!(harness.send(14_001, A, &chunk(1, 1, &image)).unwrap_err(), ReceiveError::UnknownSession);
    let outcome = harness.send(14_002, A, &status_request(1, 0)).unwrap();
    assert_eq!(parse(&outcome.reply), FrameRepr::Abort { session: 1, reason: AbortReason::UnknownSession });
}

#[test]
fn every_idle_transfer_expires_one_poll_at_a_time() {
    let image = image(300);
    let mut harness = Harness::<2, 8>::new();
    harness.send(0, A, &FrameRepr::Offer(offer_for(1, &image))).unwrap();
    harness.send(1_000, B, &FrameRepr::Offer(offer_for(2, &image))).unwrap();
    let late = Instant::from_millis(20_000);
    let mut expired = Vec::new();
    while let Some(ReceiverEvent::Dropped { source, reason, .. }) = harness.receiver.poll(late, &mut harness.store) {
        expired.push((source, reason));
    }
    assert_eq!(expired, [(A, AbortReason::TimedOut), (B, AbortReason::TimedOut)]);
    assert!(harness.store.abandoned.is_empty(), "offers alone took no slot");
    assert_eq!(harness.receiver.stats().expired_idle, 2);
}

#[test]
fn crc_mismatch_is_not_committed_and_waits_for_repair() {
    let image = image(250);
    let offer = OfferRepr { crc32: crc32(&image) ^ 0x8000_0000, ..offer_for(1, &image) };
    let mut harness = Harness::<2, 8>::new();
    harness.send(0, A, &FrameRepr::Offer(offer)).unwrap();
    harness.send(1, A, &chunk(1, 2, &image)).unwrap();
    harness.send(2, A, &chunk(1, 0, &image)).unwrap();
    let last = harness.send(3, A, &chunk(1, 1, &image)).unwrap();
    let completion = FrameRepr::Completion { session: 1, result: CompletionResult::CrcMismatch };
    assert_eq!(parse(&last.reply), completion);
    assert_eq!(last.event, Some(ReceiverEvent::Repairing { source: A, offer }));
    assert!(harness.store.committed.is_empty());
    assert!(harness.store.abandoned.is_empty(), "the transfer stays open for its repair");
    assert_eq!(harness.receiver.stats().images_stored, 0);
    assert_eq!(harness.receiver.stats().crc_mismatches, 1);
    // The sender missed the completion and asks again: the completion again
    // (not a status saying every chunk is in, which a forger could send too).
    assert_eq!(parse(&harness.send(4, A, &status_request(1, 5)).unwrap().reply), completion);
    // Segment CRCs that all match find nothing to repair: still a mismatch.
    let crcs = crc32(&image).to_le_bytes();
    let segments =
        FrameRepr::SegmentCrcs(SegmentCrcsRepr { session: 1, segment_chunks: 16, first_segment: 0, crcs: &crcs });
    harness.send(5, A, &segments).unwrap();
    assert_eq!(parse(&harness.send(6, A, &status_request(1, 6)).unwrap().reply), completion);
    assert!(harness.store.committed.is_empty() && harness.store.abandoned.is_empty());
}

/// With chunk CRCs announced (offer flag CHUNK_CRCS), a chunk is taken only
/// if its CRC-32 has been announced and matches: one before its
/// announcement and a forged one are dropped with typed errors, nothing of
/// them is written, and the real chunks make the image, with no repair.
#[test]
fn only_chunks_matching_their_announced_crc_are_taken() {
    let image = image(1_000);
    let offer = OfferRepr { flags: OFFER_FLAG_JPEG | OFFER_FLAG_CHUNK_CRCS, ..offer_for(1, &image) };
    let mut harness = Harness::<2, 8>::new();
    harness.send(0, A, &FrameRepr::Offer(offer)).unwrap();
    assert_eq!(harness.send(1, A, &chunk(1, 0, &image)).unwrap_err(), ReceiveError::Unannounced);
    let crcs: Vec<u8> = image.chunks(usize::from(CHUNK)).flat_map(|piece| crc32(piece).to_le_bytes()).collect();
    let announcement =
        FrameRepr::SegmentCrcs(SegmentCrcsRepr { session: 1, segment_chunks: 1, first_segment: 0, crcs: &crcs });
    harness.send(2, A, &announcement).unwrap();
    let forged = vec![0xee; usize::from(CHUNK)];
    let forged = FrameRepr::Chunk(ChunkRepr { session: 1, index: 1, payload: &forged });
    assert_eq!(harness.send(3, A, &forged).unwrap_err(), ReceiveError::BadChunkCrc);
    assert_eq!(harness.store.writes, 0, "nothing of either was written");
    let mut events = Vec::new();
    for index in 0..offer.chunk_count {
        events.extend(harness.send(4, A, &chunk(1, index, &image)).unwrap().event);
        // The real copy of the held chunk, sent again, is a duplicate.
        harness.send(4, A, &chunk(1, index, &image)).unwrap();
    }
    assert_eq!(events, [ReceiverEvent::Stored { source: A, offer }]);
    assert_eq!(harness.store.committed.iter().map(|(bytes, _)| bytes).collect::<Vec<_>>(), [&image]);
    let stats = harness.receiver.stats();
    assert_eq!((stats.dropped.unannounced, stats.dropped.bad_chunk_crc, stats.crc_mismatches), (1, 1, 0));
}

/// A forged chunk 1 beat the real one: the CRC-32 fails, the sender's
/// segment CRCs find segment 0 of two bad, only that segment is fetched
/// again, and the image is stored.
#[test]
fn a_bad_segment_is_dropped_and_fetched_again() {
    let image = image(1_000);
    let offer = offer_for(1, &image);
    let mut harness = Harness::<2, 8>::new();
    harness.send(0, A, &FrameRepr::Offer(offer)).unwrap();
    let forged = vec![0xee; 100];
    harness.send(1, A, &FrameRepr::Chunk(ChunkRepr { session: 1, index: 1, payload: &forged })).unwrap();
    let mut last = None;
    for index in 0..10 {
        last = Some(harness.send(2, A, &chunk(1, index, &image)).unwrap());
    }
    let last = last.unwrap();
    assert_eq!(parse(&last.reply), FrameRepr::Completion { session: 1, result: CompletionResult::CrcMismatch });
    // Segments of 5 chunks: 0..5 (bad) and 5..10 (good).
    let mut crcs = Vec::new();
    crcs.extend_from_slice(&crc32(&image[..500]).to_le_bytes());
    crcs.extend_from_slice(&crc32(&image[500..]).to_le_bytes());
    let segments =
        FrameRepr::SegmentCrcs(SegmentCrcsRepr { session: 1, segment_chunks: 5, first_segment: 0, crcs: &crcs });
    let writes = harness.store.writes;
    harness.send(3, A, &segments).unwrap();
    let stats = harness.receiver.stats();
    assert_eq!((stats.segments_repaired, stats.chunks_repaired), (1, 5));
    let status = harness.send(4, A, &status_request(1, 7)).unwrap();
    assert_eq!(
        parse(&status.reply),
        FrameRepr::Status(StatusRepr { session: 1, poll: 7, lowest_missing: 0, bitmap: &[0b1111_0000, 0b0000_0001] })
    );
    let mut events = Vec::new();
    for index in 0..5 {
        events.extend(harness.send(5, A, &chunk(1, index, &image)).unwrap().event);
    }
    assert_eq!(harness.store.writes, writes + 5, "only the bad segment travels again");
    assert_eq!(events, [ReceiverEvent::Stored { source: A, offer }]);
    assert_eq!(harness.store.committed, [(image.clone(), crc32(&image))]);
}

/// Found by reading images back on virtual boards: a camera whose session
/// ids came round again was told "stored" for an image the receiver never got.
#[test]
fn a_new_image_under_a_finished_session_id_is_a_new_transfer() {
    let first = image(250);
    let second: Vec<u8> = image(300).into_iter().map(|b| b ^ 0x5a).collect();
    let mut harness = Harness::<2, 8>::new();
    let offer = offer_for(1, &first);
    harness.send(0, A, &FrameRepr::Offer(offer)).unwrap();
    for index in 0..3 {
        harness.send(1, A, &chunk(1, index, &first)).unwrap();
    }
    assert_eq!(harness.store.committed.len(), 1);
    let reused = offer_for(1, &second);
    let answer = harness.send(2, A, &FrameRepr::Offer(reused)).unwrap();
    assert!(matches!(parse(&answer.reply), FrameRepr::Status(_)), "{:?}", parse(&answer.reply));
    let mut events = Vec::new();
    for index in 0..3 {
        events.extend(harness.send(3, A, &chunk(1, index, &second)).unwrap().event);
    }
    assert_eq!(harness.store.begins, [250, 300]);
    assert_eq!(events, [ReceiverEvent::Stored { source: A, offer: reused }]);
    assert_eq!(harness.store.committed[1], (second, reused.crc32));
}

#[test]
fn completion_is_resent_after_success() {
    let image = image(250);
    let offer = offer_for(1, &image);
    let mut harness = Harness::<2, 8>::new();
    harness.send(0, A, &FrameRepr::Offer(offer)).unwrap();
    let mut events = Vec::new();
    for index in 0..3 {
        events.extend(harness.send(1, A, &chunk(1, index, &image)).unwrap().event);
    }
    assert_eq!(events, [ReceiverEvent::Stored { source: A, offer }]);
    assert_eq!(harness.store.committed, [(image.clone(), offer.crc32)]);
    let completion = FrameRepr::Completion { session: 1, result: CompletionResult::Stored };
    assert_eq!(parse(&harness.send(2, A, &status_request(1, 1)).unwrap().reply), completion);
    assert_eq!(parse(&harness.send(3, A, &FrameRepr::Offer(offer)).unwrap().reply), completion);
    // A chunk that was in the air counts as a duplicate and changes nothing.
    let late = harness.send(4, A, &chunk(1, 2, &image)).unwrap();
    assert!(late.reply.is_none() && late.event.is_none());
    assert_eq!(harness.receiver.stats().duplicates, 1);
    assert_eq!(harness.store.committed.len(), 1);
    assert_eq!(harness.store.begins.len(), 1);
}

#[test]
fn zero_byte_image_is_refused() {
    let offer = offer_for(1, &[]);
    assert_eq!((offer.chunk_count, offer.crc32), (0, 0));
    let mut harness = Harness::<2, 8>::new();
    check_refused(&mut harness, offer, AbortReason::BadOffer);
    assert!(harness.store.begins.is_empty());
    assert!(harness.store.committed.is_empty());
}

#[test]
fn sender_abort_drops_the_transfer() {
    let image = image(300);
    let offer = offer_for(1, &image);
    let mut harness = Harness::<2, 8>::new();
    harness.send(0, A, &FrameRepr::Offer(offer)).unwrap();
    let abort = FrameRepr::Abort { session: 1, reason: AbortReason::Cancelled };
    // An abort from another address names no transfer of its own.
    assert_eq!(harness.send(1, B, &abort).unwrap().event, None);
    assert_eq!(
        harness.send(1, A, &abort).unwrap().event,
        Some(ReceiverEvent::Dropped { source: A, offer, reason: AbortReason::Cancelled })
    );
    assert!(harness.store.abandoned.is_empty(), "no chunk came, no slot was taken");
}

#[test]
fn new_session_from_the_same_sender_replaces_the_old() {
    let image = image(300);
    let mut harness = Harness::<1, 8>::new();
    harness.send(0, A, &FrameRepr::Offer(offer_for(1, &image))).unwrap();
    harness.send(1, A, &chunk(1, 0, &image)).unwrap();
    let outcome = harness.send(2, A, &FrameRepr::Offer(offer_for(2, &image))).unwrap();
    assert!(matches!(outcome.event, Some(ReceiverEvent::Started { .. })));
    assert_eq!(harness.store.abandoned, [0]);
    assert_eq!(harness.receiver.active().map(|(s, o, n)| (s, o.session, n)).collect::<Vec<_>>(), [(A, 2, 0)]);
}

#[test]
fn malformed_frames_are_rejected() {
    let mut harness = Harness::<2, 8>::new();
    let cases: [(&[u8], Error); 6] = [
        (&[], Error::Truncated),
        (&[0x01, 0x02, 0x03], Error::BadMagic),
        (&[0x6e, 0x13, 0x20, 0, 0, 0, 0, 0, 0], Error::UnsupportedFlags),
        // FRAME_LEN set, and no room for its field.
        (&[0x6e, 0x13, 0x40, 0, 0, 0, 0, 0, 0], Error::Truncated),
        (&[0x6e, 0x13, 0x80, 0, 0, 0, 0, 0, 0], Error::Truncated),
        (&[0x6e, 0x16, 0x00, 1, 0, 0, 0, 0], Error::InvalidField),
    ];
    for (bytes, error) in cases {
        assert_eq!(harness.send_bytes(0, A, bytes).unwrap_err(), ReceiveError::Malformed(error));
    }
    // A well-formed tagged frame, and this receiver has no key.
    let tagged = [0x6e, 0x13, 0x80, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8];
    assert_eq!(harness.send_bytes(0, A, &tagged).unwrap_err(), ReceiveError::Auth(AuthError::UnexpectedTag));
    let stats = harness.receiver.stats();
    assert_eq!((stats.frames, stats.rejected), (7, 7));
    assert_eq!((stats.dropped.malformed, stats.dropped.unexpected_tag), (6, 1));
}

fn reassembler(image: &[u8]) -> Reassembler<8> {
    Reassembler::new(offer_for(1, image), &Limits::default()).expect("a valid offer")
}

fn accept(
    reassembler: &mut Reassembler<8>,
    chunk: ChunkRepr<'_>,
    sink: &mut [u8],
) -> Result<ChunkOutcome, ChunkError<OutOfBounds>> {
    reassembler.accept(&chunk, sink)
}

#[test]
fn reassembler_verifies_only_a_complete_image() {
    let image = image(250);
    let mut reassembler = reassembler(&image);
    let mut sink = vec![0u8; image.len()];
    assert_eq!(reassembler.verify(&mut sink[..]), Err(VerifyError::Incomplete));
    for index in [2, 0] {
        assert_eq!(accept(&mut reassembler, chunk_repr(1, index, &image), &mut sink), Ok(ChunkOutcome::Stored));
    }
    assert_eq!(reassembler.verify(&mut sink[..]), Err(VerifyError::Incomplete));
    assert_eq!(accept(&mut reassembler, chunk_repr(1, 2, &image), &mut sink), Ok(ChunkOutcome::Duplicate));
    assert_eq!(accept(&mut reassembler, chunk_repr(2, 1, &image), &mut sink), Err(ChunkError::WrongSession));
    assert_eq!(accept(&mut reassembler, chunk_repr(1, 1, &image), &mut sink), Ok(ChunkOutcome::Stored));
    assert!(reassembler.is_filled());
    assert_eq!(reassembler.verify(&mut sink[..]), Ok(()));
    assert_eq!(sink, image);
    sink[123] ^= 1;
    assert_eq!(reassembler.verify(&mut sink[..]), Err(VerifyError::CrcMismatch));
    // A sink shorter than the image cannot be read back whole.
    assert_eq!(reassembler.verify(&mut sink[..200]), Err(VerifyError::CrcMismatch));
}

#[test]
fn reassembler_status_bitmap() {
    let image = image(2_000);
    let check = |received: &[u16], out_len: usize, expect: (u16, &[u8])| {
        let mut reassembler = reassembler(&image);
        let mut sink = vec![0u8; image.len()];
        for &index in received {
            accept(&mut reassembler, chunk_repr(1, index, &image), &mut sink).unwrap();
        }
        let mut out = vec![0xffu8; out_len];
        let (lowest, used) = reassembler.status_bitmap(&mut out);
        assert_eq!((lowest, &out[..used]), expect, "received {received:?}");
        assert!(out[used..].iter().all(|b| *b == 0), "the rest is cleared");
        assert_eq!(reassembler.lowest_missing(), expect.0);
    };
    check(&[], 8, (0, &[]));
    check(&[0, 1, 2], 8, (3, &[]));
    // Bit i is chunk 4 + i.
    check(&[0, 1, 2, 4, 5, 9, 17], 8, (3, &[0b0010_0011, 0b0010_0000]));
    check(&[0, 1, 2, 4, 5, 9, 17], 1, (3, &[0b0010_0011]));
    check(&[19], 8, (0, &[0, 0, 0b0000_0100]));
    check(&(0..20).collect::<Vec<_>>(), 8, (20, &[]));
}

#[test]
fn failed_write_leaves_the_chunk_missing() {
    let image = image(300);
    let mut harness = Harness::<2, 8>::new();
    harness.send(0, A, &FrameRepr::Offer(offer_for(1, &image))).unwrap();
    harness.send(1, A, &chunk(1, 1, &image)).unwrap();
    harness.store.fail_writes = 1;
    // Chunk 1, held back, is written when chunk 0 comes, and refused: both are missing.
    assert_eq!(harness.send(1, A, &chunk(1, 0, &image)).unwrap_err(), ReceiveError::Store);
    assert_eq!(harness.receiver.active().next().map(|(_, _, n)| n), Some(0));
    // The resend is written, not taken for a duplicate.
    for index in 0..3 {
        harness.send(2, A, &chunk(1, index, &image)).unwrap();
    }
    assert_eq!(harness.store.committed, [(image.clone(), crc32(&image))]);
}

#[test]
fn failed_commit_is_store_failed() {
    let image = image(100);
    let offer = offer_for(1, &image);
    let mut harness = Harness::<2, 8>::new();
    harness.store.fail_commit = true;
    harness.send(0, A, &FrameRepr::Offer(offer)).unwrap();
    let outcome = harness.send(1, A, &chunk(1, 0, &image)).unwrap();
    assert_eq!(outcome.event, Some(ReceiverEvent::Failed { source: A, offer, result: CompletionResult::StoreFailed }));
    assert_eq!(parse(&outcome.reply), FrameRepr::Completion { session: 1, result: CompletionResult::StoreFailed });
    assert_eq!(harness.store.abandoned, [0]);
    assert!(harness.store.committed.is_empty());
}

#[test]
fn the_chunk_count_limit_is_checked_before_the_bitmap() {
    let image = image(1_000);
    let config = ReceiverConfig { max_chunk_count: 9, ..ReceiverConfig::default() };
    let mut harness = Harness::<2, 8>::with_config(config);
    check_refused(&mut harness, offer_for(1, &image), AbortReason::TooManyChunks);
    let config = ReceiverConfig { max_chunk_count: 10, ..ReceiverConfig::default() };
    let mut harness = Harness::<2, 8>::with_config(config);
    assert!(harness.send(0, A, &FrameRepr::Offer(offer_for(1, &image))).is_ok());
}

#[test]
fn the_image_size_limit_is_configurable() {
    let image = image(1_000);
    let config = ReceiverConfig { limits: Limits { max_image_len: 999 }, ..ReceiverConfig::default() };
    let mut harness = Harness::<2, 8>::with_config(config);
    check_refused(&mut harness, offer_for(1, &image), AbortReason::TooLarge);
    assert!(harness.send(0, A, &FrameRepr::Offer(offer_for(2, &image[..999]))).is_ok());
}

#[test]
fn the_concurrent_transfer_limit_is_busy() {
    let image = image(300);
    let config = ReceiverConfig { max_transfers: 1, ..ReceiverConfig::default() };
    let mut harness = Harness::<4, 8>::with_config(config);
    harness.send(0, A, &FrameRepr::Offer(offer_for(1, &image))).unwrap();
    check_busy(&mut harness, B, offer_for(2, &image));
    assert_eq!(harness.receiver.active().count(), 1);
}

#[test]
fn the_per_sender_limit_supersedes_the_oldest() {
    let image = image(300);
    let config = ReceiverConfig { max_transfers_per_sender: 2, ..ReceiverConfig::default() };
    let mut harness = Harness::<4, 8>::with_config(config);
    harness.send(0, A, &FrameRepr::Offer(offer_for(1, &image))).unwrap();
    harness.send(1, A, &chunk(1, 0, &image)).unwrap();
    harness.send(2, A, &FrameRepr::Offer(offer_for(2, &image))).unwrap();
    harness.send(3, B, &FrameRepr::Offer(offer_for(3, &image))).unwrap();
    assert_eq!(harness.receiver.active().count(), 3);
    harness.send(4, A, &FrameRepr::Offer(offer_for(4, &image))).unwrap();
    let mut sessions: Vec<_> = harness.receiver.active().map(|(s, o, _)| (s, o.session)).collect();
    sessions.sort();
    assert_eq!(sessions, [(A, 2), (A, 4), (B, 3)]);
    assert_eq!(harness.store.abandoned, [0], "the oldest, with its slot");
    assert_eq!(harness.receiver.stats().superseded, 1);
}

#[test]
fn the_transfer_timeout_ends_a_transfer_that_keeps_talking() {
    let image = image(300);
    let offer = offer_for(1, &image);
    let config = ReceiverConfig {
        idle_timeout: Duration::from_secs(10),
        transfer_timeout: Duration::from_secs(30),
        ..ReceiverConfig::default()
    };
    let mut harness = Harness::<2, 8>::with_config(config);
    harness.send(0, A, &FrameRepr::Offer(offer)).unwrap();
    harness.send(1, A, &chunk(1, 0, &image)).unwrap();
    // A status request every 5 s keeps it from idling, but not past 30 s.
    for second in (5..30).step_by(5) {
        harness.send(second * 1_000, A, &status_request(1, second as u16)).unwrap();
        assert_eq!(harness.receiver.poll(Instant::from_millis(second * 1_000), &mut harness.store), None);
    }
    assert_eq!(harness.receiver.poll_at(), Some(Instant::from_millis(30_000)));
    assert_eq!(
        harness.receiver.poll(Instant::from_millis(30_000), &mut harness.store),
        Some(ReceiverEvent::Dropped { source: A, offer, reason: AbortReason::Expired })
    );
    assert_eq!(harness.store.abandoned, [0]);
    assert_eq!(harness.receiver.stats().expired_overall, 1);
}

#[test]
fn the_defaults_are_safe() {
    let config = ReceiverConfig::default();
    assert_eq!(config.limits.max_image_len, 512 * 1024);
    assert_eq!(config.idle_timeout, Duration::from_secs(10));
    assert_eq!(config.transfer_timeout, Duration::from_secs(120));
    assert_eq!(config.max_transfers_per_sender, 1);
    assert_eq!(config.key, None);
}

/// The FRAME_LEN field of a reply, if it has one.
fn announced(reply: &Option<Vec<u8>>) -> Option<u16> {
    Frame::new_checked(&reply.as_ref().expect("a reply")[..]).ok().and_then(|frame| frame.announced_frame_len())
}

#[test]
fn frame_size_is_announced_to_senders_that_ask_and_bounds_the_chunks() {
    let image = image(10_000);
    let v2_offer = |session, flags| {
        let mut offer = offer_for(session, &image);
        offer.chunk_size = 1461;
        offer.chunk_count = image.len().div_ceil(1461) as u16;
        offer.flags |= flags;
        offer
    };
    // A receiver that takes v1 frames only refuses chunks that need v2 ones.
    let mut v1 = Harness::<2, 8>::new();
    assert_eq!(
        v1.send(0, A, &FrameRepr::Offer(v2_offer(1, OFFER_FLAG_FRAME_LEN))).unwrap_err(),
        ReceiveError::Refused(AbortReason::BadOffer)
    );
    // Asked, it says 250; not asked, it says nothing (an older camera could not parse it).
    let mut asking = offer_for(2, &image);
    asking.flags |= OFFER_FLAG_FRAME_LEN;
    assert_eq!(announced(&v1.send(1, A, &FrameRepr::Offer(asking)).unwrap().reply), Some(250));
    assert_eq!(announced(&v1.send(2, B, &FrameRepr::Offer(offer_for(3, &image))).unwrap().reply), None);

    let mut v2 = Harness::<2, 8>::with_config(ReceiverConfig { max_frame_len: 1470, ..ReceiverConfig::default() });
    let outcome = v2.send(0, A, &FrameRepr::Offer(v2_offer(4, OFFER_FLAG_FRAME_LEN))).unwrap();
    assert_eq!(announced(&outcome.reply), Some(1470));
    assert!(matches!(parse(&outcome.reply), FrameRepr::Status(StatusRepr { poll: StatusRepr::UNSOLICITED, .. })));
    // The answer to a repeated offer announces again; a status request's answer does not.
    assert_eq!(
        announced(&v2.send(1, A, &FrameRepr::Offer(v2_offer(4, OFFER_FLAG_FRAME_LEN))).unwrap().reply),
        Some(1470)
    );
    assert_eq!(announced(&v2.send(2, A, &status_request(4, 0)).unwrap().reply), None);
    // 1461-byte chunks go in and the image is stored byte-exact.
    let count = image.len().div_ceil(1461);
    for index in 0..count {
        let start = index * 1461;
        let payload = &image[start..(start + 1461).min(image.len())];
        v2.send(3, A, &FrameRepr::Chunk(ChunkRepr { session: 4, index: index as u16, payload })).unwrap();
    }
    let outcome = v2.send(4, A, &status_request(4, 1)).unwrap();
    assert_eq!(parse(&outcome.reply), FrameRepr::Completion { session: 4, result: CompletionResult::Stored });
    assert_eq!(v2.store.committed, [(image.clone(), crc32(&image))]);
}

#[test]
fn status_bitmap_grows_with_the_senders_frames() {
    // 2,000 chunks, 1000 and 1998 in (1999 too, held back): a status of a v1
    // frame covers 239 × 8 chunks after the lowest missing one and cannot tell
    // of 1998; one to a camera that sends 1470-byte frames can (250 bytes of bitmap).
    let check = |chunk_size: u16| {
        let len = 2_000 * usize::from(chunk_size);
        let image = image(len);
        let config = ReceiverConfig {
            max_frame_len: 1470,
            limits: Limits { max_image_len: len as u32 },
            ..ReceiverConfig::default()
        };
        let mut harness = Harness::<1, 64>::with_config(config);
        let offer = OfferRepr {
            session: 1,
            image_len: len as u32,
            chunk_size,
            chunk_count: 2_000,
            crc32: crc32(&image),
            flags: OFFER_FLAG_JPEG,
        };
        harness.send(0, A, &FrameRepr::Offer(offer)).unwrap();
        for index in [1_000u16, 1_998, 1_999] {
            let start = usize::from(index) * usize::from(chunk_size);
            let end = (start + usize::from(chunk_size)).min(len);
            let chunk = ChunkRepr { session: 1, index, payload: &image[start..end] };
            harness.send(1, A, &FrameRepr::Chunk(chunk)).unwrap();
        }
        let reply = harness.send(2, A, &status_request(1, 0)).unwrap().reply;
        let FrameRepr::Status(status) = parse(&reply) else { panic!("a status") };
        (reply.as_ref().map_or(0, Vec::len), status.has(1_000), status.has(1_998))
    };
    assert_eq!(check(241), (11 + 125, Some(true), None));
    assert_eq!(check(1461), (11 + 250, Some(true), Some(true)));
}
