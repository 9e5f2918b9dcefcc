//! Segment repair on flash: bytes that must be written again go to the
//! slot's spare erased space, never through an erase in the middle of a
//! transfer, and the image reads back whole, after a reboot too.

mod common;

use common::*;
use nowcam_store::ram::PowerCut;
use nowcam_store::{ImageStore, Store, StoreError, MAX_RUNS};

/// The protocol's segment: 16 chunks.
const SEGMENT: usize = 16 * CHUNK;

/// Writes `data` in scrambled chunks, with `bad` chunks (indices) written
/// with wrong bytes, after erase-ahead has erased a slot; returns the handle.
fn write_with_bad_chunks(
    store: &mut Store<nowcam_store::ram::RamFlash>,
    data: &[u8],
    bad: &[usize],
) -> nowcam_store::WriteHandle {
    erase_until_idle(store);
    assert!(store.ready_for(data.len() as u32));
    let handle = store.begin(data.len() as u32).unwrap();
    for (offset, len) in scrambled_chunks(data.len(), 5) {
        let mut bytes = data[offset..offset + len].to_vec();
        if bad.contains(&(offset / CHUNK)) {
            bytes.iter_mut().for_each(|byte| *byte &= 0x5a);
        }
        store.write_at(handle, offset as u32, &bytes).unwrap();
    }
    handle
}

/// What the receiver does for a segment whose CRC differs: discard its
/// bytes, then take its chunks again.
fn repair_segment(store: &mut impl ImageStore, handle: nowcam_store::WriteHandle, data: &[u8], segment: usize) {
    let offset = segment * SEGMENT;
    let len = SEGMENT.min(data.len() - offset);
    assert_eq!(store.discard(handle, offset as u32, len as u32), Ok((offset as u32, (offset + len) as u32)));
    for (chunk_offset, chunk_len) in chunks(len, CHUNK) {
        let at = offset + chunk_offset;
        store.write_at(handle, at as u32, &data[at..at + chunk_len]).unwrap();
    }
}

#[test]
fn a_bad_segment_is_written_again_in_spare_space_without_an_erase() {
    let mut store = fresh(SMALL);
    let data = image(31, 9000);
    // Chunk 20 lies in segment 1, chunks 33 and 36 in segment 2 (the last, short one).
    let handle = write_with_bad_chunks(&mut store, &data, &[20, 33, 36]);
    assert_eq!(store.commit(handle, crc32(&data)), Err(StoreError::Corrupt));
    let erases = store.flash().counters().erases;
    repair_segment(&mut store, handle, &data, 1);
    repair_segment(&mut store, handle, &data, 2);
    assert_eq!(store.flash().counters().erases, erases, "an erase during the repair");
    let mut back = vec![0u8; data.len()];
    store.read_pending_at(handle, 0, &mut back).unwrap();
    assert_eq!(back, data);
    let info = store.commit(handle, crc32(&data)).unwrap();
    assert_eq!(store.flash().counters().erases, erases);
    assert_eq!(store.erases_in_transfers(), 0);
    assert_eq!(read_image(&mut store, info.sequence, 777).unwrap(), data);
    store.verify(info.sequence).unwrap();

    // After a reboot the relocations are read from flash.
    let mut again = remount(store.flash().as_bytes(), SMALL);
    assert_eq!(again.newest(), Some(info));
    assert_eq!(read_image(&mut again, info.sequence, 1000).unwrap(), data);
    again.verify(info.sequence).unwrap();
    // And the slot is reused like any other.
    for seed in 40..46 {
        let other = image(seed, 7000);
        erase_until_idle(&mut again);
        let stored = store_image(&mut again, &other, seed).unwrap();
        assert_eq!(read_image(&mut again, stored.sequence, 500).unwrap(), other);
    }
}

#[test]
fn a_segment_repaired_twice_reads_its_newest_copy() {
    let mut store = fresh(SMALL);
    let data = image(32, 6000);
    let handle = write_with_bad_chunks(&mut store, &data, &[3]);
    // The first repair gets a wrong copy again, the second the right one.
    assert_eq!(store.discard(handle, 0, SEGMENT as u32), Ok((0, SEGMENT as u32)));
    let mut wrong = data[..SEGMENT].to_vec();
    wrong[5 * CHUNK] ^= 0xff;
    store.write_at(handle, 0, &wrong).unwrap();
    assert_eq!(store.commit(handle, crc32(&data)), Err(StoreError::Corrupt));
    repair_segment(&mut store, handle, &data, 0);
    let info = store.commit(handle, crc32(&data)).unwrap();
    assert_eq!(read_image(&mut remount(store.flash().as_bytes(), SMALL), info.sequence, 333).unwrap(), data);
}

#[test]
fn without_spare_erased_space_discard_refuses_and_erases_nothing() {
    // No erase-ahead: `begin` erased the header sector only, and the rest of
    // the slot is erased as writes reach it.
    let mut store = fresh(SMALL);
    let data = image(21, 12_000);
    let handle = store.begin(12_000).unwrap();
    let mut wrong = data.clone();
    wrong[5_000..5_241].fill(0x00);
    for (offset, len) in chunks(12_000, CHUNK) {
        store.write_at(handle, offset as u32, &wrong[offset..offset + len]).unwrap();
    }
    assert_eq!(store.commit(handle, crc32(&data)), Err(StoreError::Corrupt));
    // Writing the right bytes over the wrong ones is refused by the flash.
    assert!(store.write_at(handle, 5_000, &data[5_000..5_241]).is_err());
    let erases = store.erases_in_transfers();
    assert_eq!(store.discard(handle, 5_000, 241), Err(StoreError::NotRewritable));
    assert_eq!(store.discard(handle, 4_900, 7_101), Err(StoreError::OutOfBounds));
    assert_eq!(store.erases_in_transfers(), erases);
    let mut back = vec![0u8; 241];
    store.read_pending_at(handle, 5_000, &mut back).unwrap();
    assert_eq!(back, wrong[5_000..5_241], "nothing was moved");
    store.abandon(handle);
    assert_eq!(store.discard(handle, 0, 1), Err(StoreError::BadHandle));
}

#[test]
fn an_image_filling_its_slot_has_no_spare_space() {
    let mut store = fresh(SMALL);
    let data = image(22, SMALL.slot_size as usize - 64 - 100);
    let handle = write_with_bad_chunks(&mut store, &data, &[0]);
    assert_eq!(store.discard(handle, 0, SEGMENT as u32), Err(StoreError::NotRewritable));
}

#[test]
fn the_relocation_table_has_a_limit() {
    let mut store = fresh(SMALL);
    let data = image(23, 2000);
    let handle = write_with_bad_chunks(&mut store, &data, &[]);
    for _ in 0..MAX_RUNS {
        assert_eq!(store.discard(handle, 0, 10), Ok((0, 10)));
    }
    assert_eq!(store.discard(handle, 0, 10), Err(StoreError::NotRewritable));
}

/// A power cut at every write of a repaired transfer's commit (the table,
/// then the header), whole or torn: after a reboot the image is either
/// absent or whole, and the image committed before it is intact.
#[test]
fn a_power_cut_during_a_repaired_commit_keeps_the_store_whole() {
    let before = image(50, 5000);
    let data = image(51, 5000);
    let mut cuts = 0;
    for torn_bytes in [0, 1, 5, 20, 40] {
        for after in 0.. {
            let mut store = fresh(SMALL);
            let first = store_image(&mut store, &before, 50).unwrap();
            let handle = write_with_bad_chunks(&mut store, &data, &[1, 17]);
            repair_segment(&mut store, handle, &data, 0);
            repair_segment(&mut store, handle, &data, 1);
            // The read-back programs the buffered page, so the commit's
            // writes are the table and the header only.
            store.read_pending_at(handle, 0, &mut [0u8; 1]).unwrap();
            store.flash_mut().cut_power(PowerCut::torn(after, torn_bytes));
            let committed = store.commit(handle, crc32(&data));
            let mut again = remount(store.flash().as_bytes(), SMALL);
            assert_eq!(read_image(&mut again, first.sequence, 4096).unwrap(), before, "cut after {after}");
            match again.newest() {
                Some(info) if info.sequence == first.sequence => {
                    assert!(committed.is_err(), "cut after {after}: a committed image was lost")
                }
                Some(info) => {
                    assert_eq!(read_image(&mut again, info.sequence, 4096).unwrap(), data, "cut after {after}")
                }
                None => panic!("cut after {after}: nothing left"),
            }
            if committed.is_ok() {
                break;
            }
            cuts += 1;
        }
    }
    assert!(cuts >= 5 * 2, "{cuts} cuts: the commit should take two writes at least");
}

/// A relocated image whose table was damaged after its commit cannot be
/// read whole: at the next boot its slot is free, and the other images stay.
#[test]
fn a_damaged_relocation_table_frees_its_slot_at_boot() {
    let mut store = fresh(SMALL);
    let before = store_image(&mut store, &image(60, 3000), 60).unwrap();
    let data = image(61, 5000);
    let handle = write_with_bad_chunks(&mut store, &data, &[2]);
    repair_segment(&mut store, handle, &data, 0);
    let repaired = store.commit(handle, crc32(&data)).unwrap();
    let mut bytes = store.flash().as_bytes().to_vec();
    let slot_size = SMALL.slot_size as usize;
    let slot =
        (0..usize::from(SMALL.slot_count)).find(|slot| bytes[slot * slot_size + 4] == 2).expect("a header of format 2");
    let table = u32::from_le_bytes(bytes[slot * slot_size + 20..slot * slot_size + 24].try_into().unwrap()) as usize;
    assert!(table >= 64 + data.len(), "the table lies past the image");
    assert_eq!(&bytes[slot * slot_size + table..][..4], b"NCRM");
    bytes[slot * slot_size + table + 9] ^= 0x10;
    let mut again = remount(&bytes, SMALL);
    assert_eq!(listed(&again).iter().map(|info| info.sequence).collect::<Vec<_>>(), [before.sequence]);
    assert_eq!(again.read_at(repaired.sequence, 0, &mut [0u8; 10]), Err(StoreError::NotFound));
    assert_eq!(read_image(&mut again, before.sequence, 512).unwrap(), image(60, 3000));
}

/// `begin` prefers a slot erased far enough past the image for a repair to
/// move segments into, over one erased just far enough for the image.
#[test]
fn begin_prefers_a_slot_with_room_for_a_repair() {
    // 48 KiB slots are erased sector by sector, so slots erased in part occur.
    let config = nowcam_store::Config { slot_count: 4, slot_size: 48 * 1024 };
    let data = image(71, 20_000);
    let attempt = |extra_steps: usize| {
        let mut store = fresh(config);
        store.set_erase_ahead_slots(2);
        store_image(&mut store, &image(70, 20_000), 70).unwrap();
        // Two slots ready for images like the last one (five sectors each) ...
        while store.ready_count(20_000) < 2 {
            assert_eq!(store.erase_ahead(), Ok(nowcam_store::EraseStep::Erased));
        }
        // ... then the rest of one, sector by sector.
        for _ in 0..extra_steps {
            assert_eq!(store.erase_ahead(), Ok(nowcam_store::EraseStep::Erased));
        }
        let handle = store.begin(data.len() as u32).unwrap();
        for (offset, len) in chunks(data.len(), CHUNK) {
            store.write_at(handle, offset as u32, &data[offset..offset + len]).unwrap();
        }
        store.discard(handle, 0, SEGMENT as u32)
    };
    // Four more sectors give one slot the 16 KiB of room begin looks for.
    assert_eq!(attempt(4), Ok((0, SEGMENT as u32)));
    // Without them both slots end 416 bytes past the image: no room.
    assert_eq!(attempt(0), Err(StoreError::NotRewritable));
}
