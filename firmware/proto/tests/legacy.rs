//! The seed project's format (esp-cam-now-server): literal frames, the
//! receiver's repairs of the seed's defects, and the seed sender's timing.

use nowcam_proto::chunker::crc32;
use nowcam_proto::legacy::{
    looks_legacy, DataFrame, LegacyError, LegacyEvent, LegacyReceiver, LegacySender, Metadata, MAX_PACKET_SIZE,
    METADATA_LEN, SEED_PACKET_SIZE,
};
use nowcam_proto::receiver::TransferStore;
use nowcam_proto::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct StoreError;

/// A store of RAM slots that records every begin, write, commit and abandon.
#[derive(Debug, Default)]
struct RamStore {
    slots: Vec<Option<Vec<u8>>>,
    begins: Vec<u32>,
    writes: usize,
    /// How many of the next writes fail.
    fail_writes: usize,
    committed: Vec<(Vec<u8>, u32)>,
    abandoned: Vec<usize>,
}

impl TransferStore for RamStore {
    type Slot = usize;
    type Error = StoreError;

    fn begin(&mut self, len: u32) -> Result<usize, StoreError> {
        self.begins.push(len);
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
        self.slots
            .get_mut(slot)
            .and_then(Option::as_mut)
            .and_then(|bytes| bytes.get_mut(start..start + data.len()))
            .ok_or(StoreError)?
            .copy_from_slice(data);
        Ok(())
    }

    fn read_at(&mut self, slot: usize, offset: u32, buffer: &mut [u8]) -> Result<usize, StoreError> {
        let bytes = self.slots.get(slot).and_then(Option::as_ref).ok_or(StoreError)?;
        let start = (offset as usize).min(bytes.len());
        let n = buffer.len().min(bytes.len() - start);
        buffer[..n].copy_from_slice(&bytes[start..start + n]);
        Ok(n)
    }

    fn commit(&mut self, slot: usize, crc32: u32) -> Result<(), StoreError> {
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

const SEED_20K: [u8; 12] = [0x20, 0x4e, 0x00, 0x00, 0x9d, 0x00, 0x00, 0x00, 0x80, 0x00, 0x00, 0x00];

fn check_metadata(bytes: &[u8], expect: Result<Metadata, LegacyError>) {
    assert_eq!(Metadata::parse(bytes), expect, "bytes {bytes:02x?}");
    if let Ok(metadata) = expect {
        assert_eq!(metadata.emit(), bytes);
    }
}

fn metadata_bytes(image_len: u32, packet_count: u32, packet_size: u32) -> Vec<u8> {
    [image_len, packet_count, packet_size].iter().flat_map(|v| v.to_le_bytes()).collect()
}

#[test]
fn metadata_frames() {
    let seed = Metadata { image_len: 20_000, packet_count: 157, packet_size: 128 };
    check_metadata(&SEED_20K, Ok(seed));
    assert_eq!(Metadata::for_image(20_000, SEED_PACKET_SIZE), seed);
    // An empty image is nothing to store: one forged 12-byte frame used to commit one.
    check_metadata(&metadata_bytes(0, 0, 128), Err(LegacyError::BadMetadata));
    check_metadata(
        &metadata_bytes(1_000, 5, MAX_PACKET_SIZE),
        Ok(Metadata { image_len: 1_000, packet_count: 5, packet_size: 248 }),
    );
    check_metadata(&metadata_bytes(20_000, 156, 128), Err(LegacyError::BadMetadata));
    check_metadata(&metadata_bytes(20_000, 158, 128), Err(LegacyError::BadMetadata));
    check_metadata(&metadata_bytes(20_000, 0, 0), Err(LegacyError::BadMetadata));
    check_metadata(&metadata_bytes(1_000, 5, 249), Err(LegacyError::BadMetadata));
    check_metadata(&metadata_bytes(65_537, 65_537, 1), Err(LegacyError::BadMetadata));
    check_metadata(&SEED_20K[..11], Err(LegacyError::BadLength));
    check_metadata(&[SEED_20K.as_slice(), &[0]].concat(), Err(LegacyError::BadLength));
    check_metadata(&[], Err(LegacyError::BadLength));
}

fn check_data(bytes: &[u8], expect: Result<(u16, &[u8]), LegacyError>) {
    let parsed = DataFrame::parse(bytes).map(|d| (d.index, d.payload));
    assert_eq!(parsed, expect, "{} bytes", bytes.len());
    if let Ok((index, payload)) = expect {
        let mut buffer = [0u8; 256];
        let len = DataFrame { index, payload }.emit(&mut buffer);
        assert_eq!(len.map(|len| &buffer[..len]), Some(bytes));
    }
}

#[test]
fn data_frames() {
    check_data(&[0x01, 0x02, 0xff, 0xd8], Ok((0x0102, &[0xff, 0xd8])));
    check_data(&[0x00, 0x9c, 0xd9], Ok((156, &[0xd9])));
    let full = [&[0xff, 0xff][..], &[0xab; 248]].concat();
    check_data(&full, Ok((0xffff, &[0xab; 248])));
    check_data(&[], Err(LegacyError::BadLength));
    check_data(&[0x00], Err(LegacyError::BadLength));
    check_data(&[0x00, 0x01], Err(LegacyError::BadLength));
    check_data(&[&full[..], &[0]].concat(), Err(LegacyError::BadLength));

    let mut small = [0u8; 3];
    assert_eq!(DataFrame { index: 1, payload: &[1, 2] }.emit(&mut small), None);

    assert!(looks_legacy(&SEED_20K));
    assert!(looks_legacy(&[0x00, 0x05, 0xaa]));
    assert!(!looks_legacy(&[0x6e, 0x13, 0x00, 0, 0, 0, 0, 0, 0]));
    assert!(!looks_legacy(&[]));
    assert!(!looks_legacy(&[0x00; 251]));
}

const MAX_IMAGE: u32 = 64 * 1024;
const IDLE: Duration = Duration::from_secs(10);

/// A legacy receiver that tracks up to 1,024 packets, and its store.
struct Harness {
    receiver: LegacyReceiver<usize, 32>,
    store: RamStore,
}

impl Harness {
    fn new() -> Self {
        Self { receiver: LegacyReceiver::new(MAX_IMAGE, IDLE), store: RamStore::default() }
    }

    fn send(&mut self, at_ms: u64, bytes: &[u8]) -> Result<LegacyEvent, LegacyError> {
        self.receiver.handle(Instant::from_millis(at_ms), bytes, &mut self.store)
    }
}

fn image(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 + i / 256) as u8).collect()
}

/// The seed's frames for `image`: the metadata, then every data packet in order.
fn seed_frames(image: &[u8]) -> (Vec<u8>, Vec<Vec<u8>>) {
    let metadata = Metadata::for_image(image.len() as u32, SEED_PACKET_SIZE);
    let data = image
        .chunks(SEED_PACKET_SIZE as usize)
        .enumerate()
        .map(|(index, payload)| [&(index as u16).to_be_bytes()[..], payload].concat())
        .collect();
    (metadata.emit().to_vec(), data)
}

fn stored(image: &[u8]) -> LegacyEvent {
    LegacyEvent::Stored { metadata: Metadata::for_image(image.len() as u32, SEED_PACKET_SIZE), crc32: crc32(image) }
}

#[test]
fn packets_are_placed_by_index_not_arrival() {
    let image = image(1_000);
    let (metadata, data) = seed_frames(&image);
    let mut harness = Harness::new();
    assert_eq!(harness.send(0, &metadata), Ok(LegacyEvent::Started(Metadata::for_image(1_000, 128))));
    let mut events = Vec::new();
    for (at, frame) in data.iter().rev().enumerate() {
        events.push(harness.send(500 * (at as u64 + 1), frame).unwrap());
    }
    let placed: Vec<_> = (1..8).rev().map(|index| LegacyEvent::Placed { index }).collect();
    assert_eq!(events[..7], placed);
    assert_eq!(events[7], stored(&image));
    assert_eq!(harness.store.committed, [(image.clone(), crc32(&image))]);
    assert_eq!(harness.receiver.progress(), None);
}

#[test]
fn resent_metadata_is_ignored_before_data() {
    let image = image(1_000);
    let (metadata, data) = seed_frames(&image);
    let mut harness = Harness::new();
    harness.send(0, &metadata).unwrap();
    assert_eq!(harness.send(500, &metadata), Ok(LegacyEvent::RepeatedMetadata));
    assert_eq!(harness.send(1_000, &metadata), Ok(LegacyEvent::RepeatedMetadata));
    for frame in &data {
        harness.send(1_500, frame).unwrap();
    }
    assert_eq!(harness.store.begins, [1_000]);
    assert_eq!(harness.store.committed, [(image.clone(), crc32(&image))]);
}

#[test]
fn twelve_byte_last_packet_is_data() {
    let image = image(3 * 128 + 10);
    let (metadata, data) = seed_frames(&image);
    assert_eq!(data[3].len(), METADATA_LEN);
    for order in [[0, 1, 2, 3], [3, 2, 1, 0]] {
        let mut harness = Harness::new();
        harness.send(0, &metadata).unwrap();
        let mut events = Vec::new();
        for index in order {
            events.push(harness.send(500, &data[index]).unwrap());
        }
        assert_eq!(events.last(), Some(&stored(&image)), "order {order:?}");
        assert!(events.contains(&LegacyEvent::Placed { index: 3 }) || order[3] == 3);
        assert_eq!(harness.store.committed, [(image.clone(), crc32(&image))]);
    }
}

#[test]
fn images_back_to_back() {
    let first = image(1_000);
    let second = image(700);
    // The same size as the first, other bytes: a new image all the same.
    let third: Vec<u8> = image(1_000).iter().map(|b| b ^ 0x5a).collect();
    let mut harness = Harness::new();
    let mut at = 0;
    for image in [&first, &second, &third] {
        let (metadata, data) = seed_frames(image);
        let mut last = None;
        for frame in [metadata].iter().chain(&data) {
            last = Some(harness.send(at, frame).unwrap());
            at += 500;
        }
        assert_eq!(last, Some(stored(image)));
    }
    let committed: Vec<_> = harness.store.committed.iter().map(|(bytes, _)| bytes).collect();
    assert_eq!(committed, [&first, &second, &third]);
    assert!(harness.store.abandoned.is_empty());
}

#[test]
fn duplicates_are_dropped() {
    let image = image(1_000);
    let (metadata, data) = seed_frames(&image);
    let mut harness = Harness::new();
    harness.send(0, &metadata).unwrap();
    assert_eq!(harness.send(1, &data[2]), Ok(LegacyEvent::Placed { index: 2 }));
    let forged = [&data[2][..2], &[0xee; 128]].concat();
    assert_eq!(harness.send(2, &forged), Ok(LegacyEvent::Duplicate { index: 2 }));
    assert_eq!(harness.store.writes, 1);
    assert_eq!(harness.receiver.progress().map(|(_, n)| n), Some(1));
    for frame in &data {
        harness.send(3, frame).unwrap();
    }
    assert_eq!(harness.store.committed, [(image.clone(), crc32(&image))]);
}

#[test]
fn too_large_is_refused_before_any_slot() {
    let mut harness = Harness::new();
    let cases = [
        metadata_bytes(MAX_IMAGE + 1, (MAX_IMAGE + 1).div_ceil(248), 248),
        // More packets than 32 words track.
        metadata_bytes(1_025 * 16, 1_025, 16),
    ];
    for bytes in cases {
        assert_eq!(harness.send(0, &bytes), Err(LegacyError::TooLarge));
    }
    assert!(harness.store.begins.is_empty());
    assert_eq!(harness.receiver.progress(), None);
    assert!(harness.send(0, &metadata_bytes(1_024 * 16, 1_024, 16)).is_ok());
}

#[test]
fn idle_transfer_expires() {
    let image = image(1_000);
    let (metadata, data) = seed_frames(&image);
    let mut harness = Harness::new();
    harness.send(0, &metadata).unwrap();
    harness.send(2_000, &data[0]).unwrap();
    let due = Instant::from_millis(12_000);
    assert_eq!(harness.receiver.poll_at(), Some(due));
    assert_eq!(harness.receiver.poll(Instant::from_millis(11_999), &mut harness.store), None);
    assert_eq!(
        harness.receiver.poll(due, &mut harness.store),
        Some(LegacyEvent::Expired(Metadata::for_image(1_000, 128)))
    );
    assert_eq!(harness.store.abandoned, [0]);
    assert_eq!(harness.receiver.poll_at(), None);
    assert_eq!(harness.send(12_500, &data[1]), Err(LegacyError::NoTransfer));
}

#[test]
fn data_without_metadata_or_off_the_metadata() {
    let image = image(1_000);
    let (metadata, data) = seed_frames(&image);
    let mut harness = Harness::new();
    assert_eq!(harness.send(0, &data[0]), Err(LegacyError::NoTransfer));
    harness.send(0, &metadata).unwrap();
    assert_eq!(harness.send(1, &[0x00, 0x08, 0xaa]), Err(LegacyError::IndexOutOfRange));
    assert_eq!(harness.send(1, &[0xff, 0xff, 0xaa]), Err(LegacyError::IndexOutOfRange));
    assert_eq!(harness.send(1, &data[0][..100]), Err(LegacyError::WrongLength));
    assert_eq!(harness.send(1, &[&data[6][..], &[0]].concat()), Err(LegacyError::WrongLength));
    assert_eq!(harness.send(1, &data[7][..50]), Err(LegacyError::WrongLength));
    assert_eq!(harness.store.writes, 0);
}

#[test]
fn new_metadata_mid_image_starts_over() {
    let first = image(1_000);
    let second = image(300);
    let (metadata, data) = seed_frames(&first);
    let mut harness = Harness::new();
    harness.send(0, &metadata).unwrap();
    harness.send(500, &data[0]).unwrap();
    let (metadata, data) = seed_frames(&second);
    assert_eq!(harness.send(1_000, &metadata), Ok(LegacyEvent::Started(Metadata::for_image(300, 128))));
    assert_eq!(harness.store.abandoned, [0]);
    for frame in &data {
        harness.send(1_500, frame).unwrap();
    }
    assert_eq!(harness.store.committed, [(second.clone(), crc32(&second))]);
}

#[test]
fn zero_byte_image_is_refused() {
    let mut harness = Harness::new();
    assert_eq!(harness.send(0, &metadata_bytes(0, 0, 128)), Err(LegacyError::BadMetadata));
    assert!(harness.store.begins.is_empty());
    assert!(harness.store.committed.is_empty());
    assert_eq!(harness.receiver.progress(), None);
}

#[test]
fn metadata_alone_takes_no_slot() {
    let image = image(1_000);
    let (metadata, data) = seed_frames(&image);
    let mut harness = Harness::new();
    harness.send(0, &metadata).unwrap();
    assert!(harness.store.begins.is_empty(), "metadata alone begins nothing");
    // A new metadata frame, or the sender going silent, leaves nothing to abandon.
    harness.send(10, &metadata_bytes(300, 3, 128)).unwrap();
    assert!(harness.store.begins.is_empty() && harness.store.abandoned.is_empty());
    assert!(harness.receiver.poll(Instant::from_millis(20_000), &mut harness.store).is_some());
    assert!(harness.store.begins.is_empty() && harness.store.abandoned.is_empty());
    // The first data packet takes the slot.
    harness.send(20_001, &metadata).unwrap();
    harness.send(20_002, &data[0]).unwrap();
    assert_eq!(harness.store.begins.len(), 1);
}

/// Drives `sender` until it finishes, acknowledging every frame; returns each send time and frame.
fn run_sender(sender: &mut LegacySender, image: &[u8]) -> Vec<(Instant, Vec<u8>)> {
    let mut sent = Vec::new();
    let mut buffer = [0u8; 250];
    while let Some(at) = sender.poll_at() {
        let len = sender.poll_transmit(at, image, &mut buffer).expect("a frame is due");
        assert_eq!(sender.poll_at(), None, "nothing is due while a report is pending");
        sent.push((at, buffer[..len].to_vec()));
        sender.on_send_report(true);
    }
    sent
}

#[test]
fn seed_sender_timing() {
    let image = image(20_000);
    let start = Instant::from_millis(1_000);
    let mut sender = LegacySender::seed(20_000, start);
    assert_eq!(sender.metadata(), Metadata { image_len: 20_000, packet_count: 157, packet_size: 128 });
    let sent = run_sender(&mut sender, &image);
    assert!(sender.is_finished());
    assert_eq!(sender.frames_sent(), 158);
    assert_eq!(sender.retransmissions(), 0);
    assert_eq!(sent.len(), 158);
    for (n, (at, _)) in sent.iter().enumerate() {
        assert_eq!(*at, start + Duration::from_millis(500).saturating_mul(n as u64), "frame {n}");
    }
    assert_eq!(sent.last().unwrap().0 - start, Duration::from_millis(157 * 500));
    assert_eq!(sent[0].1, SEED_20K);
    let (_, data) = seed_frames(&image);
    assert_eq!(sent[1..].iter().map(|(_, f)| f.clone()).collect::<Vec<_>>(), data);
    assert_eq!(sent[157].1.len(), 2 + 20_000 - 156 * 128);
}

#[test]
fn seed_sender_waits_and_resends_on_failure() {
    let image = image(300);
    let start = Instant::ZERO;
    let mut sender = LegacySender::seed(300, start);
    let mut buffer = [0u8; 250];
    let gap = Duration::from_millis(500);

    let first = sender.poll_transmit(start, &image, &mut buffer).map(|len| buffer[..len].to_vec());
    assert_eq!(first.as_deref(), Some(&Metadata::for_image(300, 128).emit()[..]));
    assert_eq!(sender.poll_transmit(start + gap, &image, &mut buffer), None, "awaiting the report");
    sender.on_send_report(false);
    assert_eq!(sender.poll_at(), Some(start + gap));
    assert_eq!(sender.poll_transmit(Instant::from_micros(499_999), &image, &mut buffer), None);
    let again = sender.poll_transmit(start + gap, &image, &mut buffer).map(|len| buffer[..len].to_vec());
    assert_eq!(again, first, "the same frame again");
    assert_eq!((sender.frames_sent(), sender.retransmissions()), (2, 1));
    sender.on_send_report(true);
    let data = sender.poll_transmit(start + gap + gap, &image, &mut buffer).map(|len| buffer[..len].to_vec());
    assert_eq!(data.as_deref(), Some(&[&[0x00, 0x00][..], &image[..128]].concat()[..]));
    assert_eq!(sender.retransmissions(), 1, "a first send is no retransmission");
}

/// What the fake channel does with one send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    Delivered,
    /// Lost on the air: the MAC reports failure.
    Lost,
    /// Delivered, but every ACK was lost: the MAC reports failure and the seed resends.
    AckLost,
}

fn fate(send: usize) -> Fate {
    match (send % 7, send % 11) {
        (3, _) => Fate::Lost,
        (_, 5) => Fate::AckLost,
        _ => Fate::Delivered,
    }
}

#[test]
fn seed_sender_to_receiver_over_a_lossy_channel() {
    let images = [image(20_000), image(1_290), image(128)];
    let mut harness = Harness::new();
    let mut now = Instant::ZERO;
    let mut sends = 0;
    let mut buffer = [0u8; 250];
    let mut events = Vec::new();
    let mut late_resends = 0;
    let mut retransmissions = 0;
    for image in &images {
        let mut sender = LegacySender::seed(image.len() as u32, now);
        while let Some(at) = sender.poll_at() {
            now = at;
            let len = sender.poll_transmit(now, image, &mut buffer).expect("a frame is due");
            let fate = fate(sends);
            sends += 1;
            if fate != Fate::Lost {
                match harness.receiver.handle(now, &buffer[..len], &mut harness.store) {
                    Ok(event) => events.push(event),
                    // Only a resend of the last packet after the image is stored has nowhere to go.
                    Err(LegacyError::NoTransfer) | Err(LegacyError::BadMetadata)
                        if harness.receiver.progress().is_none() =>
                    {
                        late_resends += 1
                    }
                    Err(e) => panic!("send {sends}: {e:?}"),
                }
            }
            sender.on_send_report(fate == Fate::Delivered);
        }
        retransmissions += sender.retransmissions();
        now += Duration::from_millis(500);
    }
    let committed: Vec<_> = harness.store.committed.iter().map(|(bytes, crc)| (bytes.clone(), *crc)).collect();
    let expect: Vec<_> = images.iter().map(|image| (image.clone(), crc32(image))).collect();
    assert_eq!(committed, expect);
    let stored: Vec<_> = events.iter().filter(|e| matches!(e, LegacyEvent::Stored { .. })).collect();
    assert_eq!(stored.len(), 3);
    assert!(events.iter().any(|e| matches!(e, LegacyEvent::Duplicate { .. })));
    assert!(late_resends <= images.len());
    assert!(retransmissions > 10, "the channel lost {retransmissions} frames");
    assert!(harness.store.abandoned.is_empty());
}

#[test]
fn failed_write_leaves_the_packet_missing() {
    let image = image(1_000);
    let (metadata, data) = seed_frames(&image);
    let mut harness = Harness::new();
    harness.send(0, &metadata).unwrap();
    harness.store.fail_writes = 1;
    assert_eq!(harness.send(500, &data[0]), Err(LegacyError::Store));
    assert_eq!(harness.receiver.progress().map(|(_, n)| n), Some(0));
    // The seed resends nothing the MAC acknowledged, but a resend after a
    // failed write must be written, not dropped as a duplicate.
    assert_eq!(harness.send(1_000, &data[0]), Ok(LegacyEvent::Placed { index: 0 }));
    for frame in &data[1..] {
        harness.send(1_500, frame).unwrap();
    }
    assert_eq!(harness.store.committed, [(image.clone(), crc32(&image))]);
}
