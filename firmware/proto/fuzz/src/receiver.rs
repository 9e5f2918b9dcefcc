//! The `receiver` target: a sequence of frames from two senders into a `Receiver`: it never panics,
//! every stored image matches the CRC-32 of its offer, every reply parses,
//! and every slot it begins ends in exactly one commit or abandon.
//!
//! The input is a list of operations. Offers and chunks can be made from a
//! seeded image, so that whole transfers are reachable; raw frames, forged
//! chunks and odd offers reach every refusal.

use nowcam_proto::chunker::crc32;
use nowcam_proto::memory::MemoryStore;
use nowcam_proto::reassembler::Limits;
use nowcam_proto::receiver::{Receiver, ReceiverConfig, ReceiverEvent};
use nowcam_proto::time::{Duration, Instant};
use nowcam_proto::wire::{
    AbortReason, ChunkRepr, FrameRepr, OfferRepr, StatusRequestRepr, MAX_CHUNK_PAYLOAD, MAX_FRAME_LEN,
};
use nowcam_proto::MacAddress;

use crate::{image_byte, image_bytes, Input};

const SOURCES: [MacAddress; 2] = [MacAddress([2, 0, 0, 0, 0, 1]), MacAddress([2, 0, 0, 0, 0, 2])];
const SESSIONS: usize = 4;

fn run(data: &[u8]) -> Option<()> {
    let mut input = Input::new(data);
    let config = ReceiverConfig {
        limits: Limits { max_image_len: 48 * 1024 },
        idle_timeout: Duration::from_millis(1_000),
        ..ReceiverConfig::default()
    };
    // Two transfers of up to 256 chunks: 61,696 bytes at 241, above the limit.
    let mut receiver = Receiver::<usize, 2, 8>::new(config);
    let mut store = MemoryStore::new();
    let mut reply = [0u8; MAX_FRAME_LEN];
    let mut now = Instant::ZERO;
    // The last offer made for each session, so chunks can follow it.
    let mut offers: [Option<OfferRepr>; SESSIONS] = [None; SESSIONS];
    let mut frame = [0u8; MAX_FRAME_LEN + 8];

    loop {
        let op = input.u8()?;
        let source = SOURCES[usize::from(op >> 7)];
        let session = usize::from(op >> 4) % SESSIONS;
        let len = match op & 0x0f {
            0 => {
                let len = usize::from(input.u8()?);
                let bytes = input.bytes(len);
                frame[..bytes.len()].copy_from_slice(bytes);
                bytes.len()
            }
            1 => {
                let image_len = u32::from(input.u16()?) * u32::from(input.u8()? % 2 + 1);
                let chunk_size = match input.u8()? {
                    0 => 0,
                    n if n > 250 => MAX_CHUNK_PAYLOAD as u16 + 1,
                    n => u16::from(n).min(MAX_CHUNK_PAYLOAD as u16),
                };
                let count = image_len.div_ceil(u32::from(chunk_size.max(1))) as u16;
                let image_crc = crc32(&image_bytes(session as u32, 0, image_len as usize));
                let offer = OfferRepr {
                    session: session as u32,
                    image_len,
                    chunk_size,
                    chunk_count: if input.bool()? { count } else { input.u16()? },
                    crc32: if input.bool()? { image_crc } else { input.u32()? },
                    flags: input.u16()?,
                };
                offers[session] = Some(offer);
                emit(&FrameRepr::Offer(offer), &mut frame)
            }
            2 | 3 => {
                // A chunk of the seeded image, right for the last offer of its session.
                let Some(offer) = offers[session] else { continue };
                let index = input.u16()? % offer.chunk_count.max(1);
                let start = usize::from(index) * usize::from(offer.chunk_size);
                // An offer the receiver refuses may have a chunk size no frame carries.
                let chunk_len = usize::from(offer.chunk_size).min(MAX_CHUNK_PAYLOAD);
                let end = (start + chunk_len).min(offer.image_len as usize);
                let payload = image_bytes(session as u32, start, end.saturating_sub(start));
                emit(&FrameRepr::Chunk(ChunkRepr { session: session as u32, index, payload: &payload }), &mut frame)
            }
            4 => {
                // A forged chunk: any index, any length, bytes that are almost the image's.
                let index = input.u16()?;
                let len = usize::from(input.u8()?).min(MAX_CHUNK_PAYLOAD);
                let flip = input.u8()?;
                let payload: Vec<u8> = (0..len).map(|i| image_byte(session as u32, i) ^ flip).collect();
                emit(&FrameRepr::Chunk(ChunkRepr { session: session as u32, index, payload: &payload }), &mut frame)
            }
            5 => emit(
                &FrameRepr::StatusRequest(StatusRequestRepr { session: session as u32, poll: input.u16()? }),
                &mut frame,
            ),
            6 => emit(&FrameRepr::Abort { session: session as u32, reason: AbortReason::Cancelled }, &mut frame),
            7 => {
                now += Duration::from_millis(u64::from(input.u8()?) * 20);
                while let Some(event) = receiver.poll(now, &mut store) {
                    assert!(matches!(event, ReceiverEvent::Dropped { reason: AbortReason::TimedOut, .. }));
                }
                check_slots(&receiver, &store);
                continue;
            }
            8 => {
                store.fail_writes = 1;
                continue;
            }
            _ => {
                now += Duration::from_millis(u64::from(op & 0x0f));
                continue;
            }
        };

        reply.fill(0);
        let committed = store.committed.len();
        if let Ok(handled) = receiver.handle(now, source, &frame[..len], &mut store, &mut reply) {
            if let Some(reply_len) = handled.reply_len {
                assert!(FrameRepr::parse_bytes(&reply[..reply_len]).is_ok(), "the receiver's reply parses");
            }
            if let Some(ReceiverEvent::Stored { offer, .. }) = handled.event {
                assert_eq!(store.committed.len(), committed + 1);
                let (bytes, crc) = store.committed.last()?;
                assert_eq!(bytes.len(), offer.image_len as usize);
                assert_eq!(*crc, offer.crc32);
                assert_eq!(crc32(bytes), offer.crc32, "a stored image matches its offer");
            } else {
                assert_eq!(store.committed.len(), committed, "only a Stored event commits");
            }
        } else {
            assert_eq!(store.committed.len(), committed, "a refused frame commits nothing");
        }
        assert_eq!(receiver.stats().images_stored as usize, store.committed.len());
        check_slots(&receiver, &store);
    }
}

fn check_slots(receiver: &Receiver<usize, 2, 8>, store: &MemoryStore) {
    // A transfer takes its slot at its first data chunk, not at its offer:
    // never more open slots than transfers, and none without one.
    assert!(store.open() <= receiver.active().count(), "an open slot without a transfer");
    assert_eq!(store.stray_abandons, 0, "a slot abandoned twice or after its commit");
}

fn emit(frame: &FrameRepr<'_>, buffer: &mut [u8]) -> usize {
    frame.emit(buffer).expect("the target builds frames that fit")
}

pub fn check(data: &[u8]) {
    run(data);
}
