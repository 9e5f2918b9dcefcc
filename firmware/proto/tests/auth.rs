//! The authenticated mode from the outside: tags written by hand from the
//! formula in `auth.rs`, a tagged frame's bytes (insta), and every way a
//! frame fails: no tag, a wrong key, another nonce, another direction, a
//! changed byte, and a recorded transfer replayed.

use hmac::{Hmac, KeyInit, Mac};
use nowcam_proto::auth::{AuthError, Authenticator, Direction, Key, KeyError};
use nowcam_proto::chunker::crc32;
use nowcam_proto::receiver::{ReceiveError, Receiver, ReceiverConfig, ReceiverEvent, TransferStore};
use nowcam_proto::sender::{Sender, SenderConfig, SenderState};
use nowcam_proto::time::Instant;
use nowcam_proto::wire::{
    AbortReason, ChunkRepr, FrameRepr, OfferRepr, StatusRequestRepr, MAX_FRAME_LEN, OFFER_FLAG_JPEG, TAG_LEN,
};
use nowcam_proto::MacAddress;
use sha2::Sha256;

const KEY: Key = Key::new([0x42; 32]);
const CAMERA: MacAddress = MacAddress([0x02, 0, 0, 0, 0, 0x0a]);

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(" ")
}

fn sealed(frame: &FrameRepr<'_>, direction: Direction, nonce: u32) -> Vec<u8> {
    let mut buffer = [0u8; MAX_FRAME_LEN];
    let len = frame.emit(&mut buffer).unwrap();
    let len = Authenticator::new(&KEY).seal(direction, nonce, &mut buffer, len).unwrap();
    buffer[..len].to_vec()
}

#[test]
fn the_tag_is_the_documented_hmac() {
    let request = FrameRepr::StatusRequest(StatusRequestRepr { session: 0x1234_5678, poll: 7 });
    let bytes = sealed(&request, Direction::FromCamera, 0x0bad_cafe);
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&[0x42; 32]).unwrap();
    mac.update(&[0]);
    mac.update(&0x0bad_cafeu32.to_le_bytes());
    mac.update(&[0x6e, 0x13, 0x80, 0x78, 0x56, 0x34, 0x12, 0x07, 0x00]);
    let expected = mac.finalize().into_bytes();
    assert_eq!(&bytes[..9], &[0x6e, 0x13, 0x80, 0x78, 0x56, 0x34, 0x12, 0x07, 0x00]);
    assert_eq!(&bytes[9..], &expected[..TAG_LEN]);
    insta::assert_snapshot!("tagged_status_request", hex(&bytes));
}

#[test]
fn every_alteration_fails() {
    let authenticator = Authenticator::new(&KEY);
    let chunk = FrameRepr::Chunk(ChunkRepr { session: 9, index: 3, payload: b"jpeg bytes" });
    let bytes = sealed(&chunk, Direction::FromCamera, 77);
    assert_eq!(authenticator.verify(Direction::FromCamera, 77, &bytes), Ok(()));
    assert_eq!(authenticator.verify(Direction::FromCamera, 78, &bytes), Err(AuthError::BadTag), "another nonce");
    assert_eq!(authenticator.verify(Direction::FromReceiver, 77, &bytes), Err(AuthError::BadTag), "reflected");
    let other = Authenticator::new(&Key::new([0x43; 32]));
    assert_eq!(other.verify(Direction::FromCamera, 77, &bytes), Err(AuthError::BadTag), "another key");
    for i in 0..bytes.len() {
        let mut changed = bytes.clone();
        changed[i] ^= 0x01;
        assert!(authenticator.verify(Direction::FromCamera, 77, &changed).is_err(), "byte {i} changed");
    }
    let mut untagged = [0u8; MAX_FRAME_LEN];
    let len = chunk.emit(&mut untagged).unwrap();
    assert_eq!(authenticator.verify(Direction::FromCamera, 77, &untagged[..len]), Err(AuthError::Untagged));
    // A frame already tagged, or too long for a tag, is not sealed again.
    let mut buffer = [0u8; MAX_FRAME_LEN];
    buffer[..bytes.len()].copy_from_slice(&bytes);
    assert!(authenticator.seal(Direction::FromCamera, 77, &mut buffer, bytes.len()).is_err());
    let full = FrameRepr::Chunk(ChunkRepr { session: 9, index: 3, payload: &[0; 1461] });
    let len = full.emit(&mut buffer).unwrap();
    assert!(authenticator.seal(Direction::FromCamera, 77, &mut buffer, len).is_err());
}

#[test]
fn keys_from_bytes_and_hex() {
    assert_eq!(Key::from_slice(&[0x42; 32]), Ok(KEY));
    assert_eq!(Key::from_slice(&[0x42; 31]), Err(KeyError::WrongLength));
    assert_eq!(Key::from_hex(&"42".repeat(32)), Ok(KEY));
    assert_eq!(Key::from_hex(&format!("{}\n", "42".repeat(32))), Ok(KEY));
    assert_eq!(Key::from_hex(&"4".repeat(63)), Err(KeyError::WrongLength));
    assert_eq!(Key::from_hex(&"4g".repeat(32)), Err(KeyError::NotHex));
    assert_eq!(format!("{KEY:?}"), "Key(..)", "a key never shows in logs");
}

#[derive(Default)]
struct RamStore {
    slots: Vec<Vec<u8>>,
    begins: usize,
    committed: Vec<Vec<u8>>,
}

impl TransferStore for RamStore {
    type Slot = usize;
    type Error = ();
    fn begin(&mut self, len: u32) -> Result<usize, ()> {
        self.begins += 1;
        self.slots.push(vec![0; len as usize]);
        Ok(self.slots.len() - 1)
    }
    fn write_at(&mut self, slot: usize, offset: u32, data: &[u8]) -> Result<(), ()> {
        self.slots[slot][offset as usize..offset as usize + data.len()].copy_from_slice(data);
        Ok(())
    }
    fn read_at(&mut self, slot: usize, offset: u32, out: &mut [u8]) -> Result<usize, ()> {
        let rest = &self.slots[slot][offset as usize..];
        let n = rest.len().min(out.len());
        out[..n].copy_from_slice(&rest[..n]);
        Ok(n)
    }
    fn commit(&mut self, slot: usize, _crc32: u32) -> Result<(), ()> {
        self.committed.push(self.slots[slot].clone());
        Ok(())
    }
    fn abandon(&mut self, _slot: usize) {}
}

type TestReceiver = Receiver<usize, 2, 16>;

fn receiver(seed: u64) -> TestReceiver {
    Receiver::with_seed(ReceiverConfig { key: Some(KEY), ..ReceiverConfig::default() }, seed)
}

/// A lossless transfer in lockstep; returns every frame the camera sent.
fn transfer(receiver: &mut TestReceiver, store: &mut RamStore, image: &[u8], session: u32) -> Vec<Vec<u8>> {
    let config = SenderConfig { key: Some(KEY), ..SenderConfig::default() };
    let mut sender = Sender::<16>::new(config, session, image, Instant::ZERO).unwrap();
    let mut sent = Vec::new();
    let mut buffer = [0u8; MAX_FRAME_LEN];
    let mut reply = [0u8; MAX_FRAME_LEN];
    for step in 0..10_000u64 {
        let now = Instant::from_millis(step);
        while let Some((len, _)) = sender.poll_transmit(now, image, &mut buffer) {
            sent.push(buffer[..len].to_vec());
            sender.on_send_report(now, true);
            if let Ok(handled) = receiver.handle(now, CAMERA, &buffer[..len], store, &mut reply) {
                if let Some(len) = handled.reply_len {
                    sender.receive(now, &reply[..len]).unwrap();
                }
            }
        }
        if sender.is_finished() {
            break;
        }
    }
    assert_eq!(sender.state(), SenderState::Done);
    sent
}

#[test]
fn a_recorded_transfer_replayed_stores_nothing() {
    let image: Vec<u8> = (0..3_000u32).map(|i| (i * 13) as u8).collect();
    let mut store = RamStore::default();
    let mut live = receiver(1);
    let recorded = transfer(&mut live, &mut store, &image, 0x0101_0101);
    assert_eq!(store.committed, std::slice::from_ref(&image));
    assert!(recorded.iter().all(|f| f[2] & 0x80 != 0), "every frame is tagged");

    // The same receiver later (it remembers the finished session: duplicates),
    // and a rebooted one with a new seed (every transfer frame fails its tag).
    for (mut target, rebooted) in [(live, false), (receiver(2), true)] {
        let mut store = RamStore::default();
        let mut reply = [0u8; MAX_FRAME_LEN];
        for (i, frame) in recorded.iter().enumerate() {
            let _ = target.handle(Instant::from_millis(3_600_000 + i as u64), CAMERA, frame, &mut store, &mut reply);
        }
        assert!(store.committed.is_empty(), "the replay stored nothing");
        assert_eq!(store.begins, 0, "and touched no slot");
        if rebooted {
            assert_eq!(target.stats().dropped.bad_tag as usize, recorded.len() - 1, "all but the offer");
        }
    }
}

#[test]
fn unauthenticated_offers_and_forged_frames_never_reach_the_store() {
    let image = vec![7u8; 1_000];
    let offer = OfferRepr {
        session: 5,
        image_len: 1_000,
        chunk_size: 233,
        chunk_count: 5,
        crc32: crc32(&image),
        flags: OFFER_FLAG_JPEG,
    };
    let mut target = receiver(3);
    let mut store = RamStore::default();
    let mut reply = [0u8; MAX_FRAME_LEN];
    let now = Instant::ZERO;
    // Untagged: dropped.
    let mut bytes = [0u8; MAX_FRAME_LEN];
    let len = FrameRepr::Offer(offer).emit(&mut bytes).unwrap();
    assert_eq!(
        target.handle(now, CAMERA, &bytes[..len], &mut store, &mut reply).unwrap_err(),
        ReceiveError::Auth(AuthError::Untagged)
    );
    // Tagged but without the image MAC: refused.
    let plain = sealed(&FrameRepr::Offer(offer), Direction::FromCamera, 0);
    assert_eq!(
        target.handle(now, CAMERA, &plain, &mut store, &mut reply).unwrap_err(),
        ReceiveError::Refused(AbortReason::Unauthenticated)
    );
    // A sealed offer with a wrong image MAC is accepted, answered with a
    // challenge, and the image is never committed.
    let forged_mac = sealed(&FrameRepr::SealedOffer { offer, image_mac: [0; 32] }, Direction::FromCamera, 0);
    let handled = target.handle(now, CAMERA, &forged_mac, &mut store, &mut reply).unwrap();
    let challenge = match FrameRepr::parse_bytes(&reply[..handled.reply_len.unwrap()]).unwrap() {
        FrameRepr::Challenge(c) => c,
        other => panic!("{other:?}"),
    };
    assert_eq!(challenge.session, 5);
    let mut last = None;
    for index in 0..5u16 {
        let start = usize::from(index) * 233;
        let payload = &image[start..(start + 233).min(1_000)];
        let chunk =
            sealed(&FrameRepr::Chunk(ChunkRepr { session: 5, index, payload }), Direction::FromCamera, challenge.nonce);
        last = Some(target.handle(now, CAMERA, &chunk, &mut store, &mut reply).unwrap());
    }
    assert_eq!(last.unwrap().event, Some(ReceiverEvent::Repairing { source: CAMERA, offer }));
    assert!(store.committed.is_empty(), "a CRC-32 match is not enough without the image MAC");
    // A chunk tagged under nonce 0 (or any other) is dropped.
    let stale =
        sealed(&FrameRepr::Chunk(ChunkRepr { session: 5, index: 0, payload: &image[..233] }), Direction::FromCamera, 0);
    assert_eq!(
        target.handle(now, CAMERA, &stale, &mut store, &mut reply).unwrap_err(),
        ReceiveError::Auth(AuthError::BadTag)
    );
    let stats = target.stats();
    assert_eq!((stats.dropped.untagged, stats.dropped.refused, stats.dropped.bad_tag), (1, 1, 1));
}
