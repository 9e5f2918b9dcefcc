//! The `legacy_receiver` target: a sequence of seed-format frames into a `LegacyReceiver`: it never
//! panics, every stored image has the CRC-32 and length it reports, and
//! every slot it begins ends in exactly one commit or abandon.

use nowcam_proto::chunker::crc32;
use nowcam_proto::legacy::{DataFrame, LegacyEvent, LegacyReceiver, Metadata};
use nowcam_proto::memory::MemoryStore;
use nowcam_proto::time::{Duration, Instant};

use crate::{image_bytes, Input};

fn run(data: &[u8]) -> Option<()> {
    let mut input = Input::new(data);
    // 32 words track 1,024 packets.
    let mut receiver = LegacyReceiver::<usize, 32>::new(64 * 1024, Duration::from_millis(2_000));
    let mut store = MemoryStore::new();
    let mut now = Instant::ZERO;
    let mut metadata: Option<Metadata> = None;
    let mut frame = [0u8; 256];
    // Images are seeded by how many metadata frames came before, so back-to-back images differ.
    let mut seed = 0u32;

    loop {
        let op = input.u8()?;
        let len = match op % 8 {
            0 => {
                let len = usize::from(input.u8()?);
                let bytes = input.bytes(len);
                frame[..bytes.len()].copy_from_slice(bytes);
                bytes.len()
            }
            1 => {
                let image_len = u32::from(input.u16()?);
                let packet_size = u32::from(input.u8()?);
                let m = if input.bool()? {
                    Metadata::for_image(image_len, packet_size)
                } else {
                    Metadata { image_len, packet_count: u32::from(input.u16()?), packet_size }
                };
                metadata = Some(m);
                seed += 1;
                frame[..12].copy_from_slice(&m.emit());
                12
            }
            2..=4 => {
                // A packet of the seeded image, right for the last metadata sent.
                // Only metadata the receiver would take says which packets exist.
                let Some(m) = metadata.filter(|m| Metadata::parse(&m.emit()).is_ok()) else { continue };
                let index = (u32::from(input.u16()?) % m.packet_count.max(1)) as u16;
                let start = u32::from(index).saturating_mul(m.packet_size) as usize;
                let payload = image_bytes(seed, start, m.len_of(index).unwrap_or(0));
                DataFrame { index, payload: &payload }.emit(&mut frame)?
            }
            5 => {
                now += Duration::from_millis(u64::from(input.u8()?) * 20);
                while let Some(event) = receiver.poll(now, &mut store) {
                    assert!(matches!(event, LegacyEvent::Expired(_)));
                }
                check_slots(&receiver, &store);
                continue;
            }
            6 => {
                store.fail_writes = 1;
                continue;
            }
            _ => {
                now += Duration::from_millis(u64::from(op >> 3) * 10);
                continue;
            }
        };

        let committed = store.committed.len();
        match receiver.handle(now, &frame[..len], &mut store) {
            Ok(LegacyEvent::Stored { metadata, crc32: crc }) => {
                assert_eq!(store.committed.len(), committed + 1);
                let (bytes, committed_crc) = store.committed.last()?;
                assert_eq!(bytes.len(), metadata.image_len as usize);
                assert_eq!(*committed_crc, crc);
                assert_eq!(crc32(bytes), crc, "the reported CRC-32 is the stored bytes'");
            }
            _ => assert_eq!(store.committed.len(), committed, "only Stored commits"),
        }
        check_slots(&receiver, &store);
    }
}

fn check_slots(receiver: &LegacyReceiver<usize, 32>, store: &MemoryStore) {
    // Metadata alone takes no slot; the first data frame does.
    assert!(store.open() <= usize::from(receiver.progress().is_some()), "an open slot without a transfer");
    assert_eq!(store.stray_abandons, 0, "a slot abandoned twice or after its commit");
}

pub fn check(data: &[u8]) {
    run(data);
}
