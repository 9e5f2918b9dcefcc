//! The store's behaviour through the `ImageStore` port.

mod common;

use common::*;
use embedded_storage::nor_flash::{NorFlash, NorFlashErrorKind, ReadNorFlash};
use nowcam_store::ram::{PowerCut, RamFlash};
use nowcam_store::{
    Config, ConfigError, ImageStore, MountError, Store, StoreError, WriteHandle, DATA_OFFSET, MAX_PENDING,
};

#[test]
fn out_of_order_unaligned_chunks_reassemble_byte_exact() {
    let mut store = fresh(SMALL);
    for (seed, len) in [(1, 1), (2, 241), (3, 4096 - 64), (4, 4097), (5, 12_345)] {
        let data = image(seed, len);
        let info = store_image(&mut store, &data, seed).unwrap();
        assert_eq!(info.len, len as u32);
        assert_eq!(info.crc32, crc32(&data));
        for piece in [1, 3, 241, 1000, 20_000] {
            assert_eq!(read_image(&mut store, info.sequence, piece).unwrap(), data, "len {len}, piece {piece}");
        }
        store.verify(info.sequence).unwrap();
    }
}

#[test]
fn chunks_reassemble_on_other_flash_geometries() {
    fn check<const R: usize, const W: usize>() {
        let capacity = SMALL.slot_count as usize * SMALL.slot_size as usize;
        let flash = RamFlash::<R, W, 4096>::with_geometry(capacity).unwrap();
        let mut store = Store::mount(flash, SMALL).unwrap();
        let data = image(u64::from(R as u32 * 100 + W as u32), 9_999);
        let info = store_image(&mut store, &data, 7).unwrap();
        assert_eq!(read_image(&mut store, info.sequence, 97).unwrap(), data, "read {R}, write {W}");
        let mut store = Store::mount(store.into_flash(), SMALL).unwrap();
        assert_eq!(store.newest(), Some(info));
        assert_eq!(read_image(&mut store, info.sequence, 97).unwrap(), data, "read {R}, write {W}");
    }
    check::<1, 1>();
    check::<1, 2>();
    check::<8, 16>();
    check::<16, 8>();
    check::<4, 32>();
    check::<64, 64>();
}

#[test]
fn full_slots_at_the_end_of_the_partition_read_back() {
    // Word sizes of 64 widen every unaligned read and write to the edge of
    // the flash, which ends exactly where the last slot does.
    let capacity = SMALL.slot_count as usize * SMALL.slot_size as usize;
    let flash = RamFlash::<64, 64, 4096>::with_geometry(capacity).unwrap();
    let mut store = Store::mount(flash, SMALL).unwrap();
    let max = store.max_image_size() as usize;
    let images: Vec<_> = (0..4).map(|seed| image(seed, max - seed as usize)).collect();
    let infos: Vec<_> =
        images.iter().enumerate().map(|(seed, data)| store_image(&mut store, data, seed as u64).unwrap()).collect();
    for (info, data) in infos.iter().zip(&images) {
        assert_eq!(&read_image(&mut store, info.sequence, 1000).unwrap(), data);
        let mut tail = [0u8; 7];
        assert_eq!(store.read_at(info.sequence, info.len - 3, &mut tail), Ok(3));
        assert_eq!(tail[..3], data[data.len() - 3..]);
    }
}

#[test]
fn begin_erases_one_sector_and_writes_erase_each_sector_once() {
    let mut store = fresh(SMALL);
    let handle = store.begin(12_000).unwrap();
    assert_eq!(store.flash().counters().erases, 1);
    let data = image(9, 12_000);
    for (offset, len) in scrambled_chunks(data.len(), 9) {
        store.write_at(handle, offset as u32, &data[offset..offset + len]).unwrap();
    }
    // 64 + 12,000 bytes span three 4 KiB sectors.
    assert_eq!(store.flash().counters().erases, 3);
    assert_eq!(&store.flash().sector_erases()[..4], [1, 1, 1, 0]);
    store.commit(handle, crc32(&data)).unwrap();
}

#[test]
fn an_unaligned_chunk_is_one_flash_write() {
    let mut store = fresh(SMALL);
    let handle = store.begin(1000).unwrap();
    let data = image(2, 1000);
    let writes = store.flash().counters().writes;
    store.write_at(handle, 241, &data[241..482]).unwrap();
    assert_eq!(store.flash().counters().writes, writes + 1);
    store.write_at(handle, 0, &data[..241]).unwrap();
    store.write_at(handle, 482, &data[482..]).unwrap();
    store.commit(handle, crc32(&data)).unwrap();
}

#[test]
fn duplicate_chunks_are_harmless() {
    let mut store = fresh(SMALL);
    let data = image(3, 1000);
    let handle = write_image(&mut store, &data, 3).unwrap();
    store.write_at(handle, 241, &data[241..482]).unwrap();
    store.commit(handle, crc32(&data)).unwrap();
}

#[test]
fn read_pending_at_reads_back_written_data() {
    let mut store = fresh(SMALL);
    let data = image(4, 5000);
    let handle = write_image(&mut store, &data, 4).unwrap();
    let mut back = vec![0u8; 5000];
    assert_eq!(store.read_pending_at(handle, 0, &mut back[..3000]).unwrap(), 3000);
    assert_eq!(store.read_pending_at(handle, 3000, &mut back[3000..]).unwrap(), 2000);
    assert_eq!(back, data);
    let mut rest = [0u8; 10];
    assert_eq!(store.read_pending_at(handle, 4995, &mut rest).unwrap(), 5);
    assert_eq!(store.read_pending_at(handle, 5000, &mut rest).unwrap(), 0);
    assert_eq!(store.read_pending_at(handle, 5001, &mut rest), Err(StoreError::OutOfBounds));
}

#[test]
fn two_pending_images_at_once() {
    let mut store = fresh(SMALL);
    let first = image(10, 6000);
    let second = image(11, 3333);
    let a = store.begin(first.len() as u32).unwrap();
    let b = store.begin(second.len() as u32).unwrap();
    assert_ne!(a.slot, b.slot);
    let mut a_chunks = scrambled_chunks(first.len(), 10).into_iter();
    let mut b_chunks = scrambled_chunks(second.len(), 11).into_iter();
    loop {
        let next_a = a_chunks.next();
        let next_b = b_chunks.next();
        if next_a.is_none() && next_b.is_none() {
            break;
        }
        if let Some((offset, len)) = next_a {
            store.write_at(a, offset as u32, &first[offset..offset + len]).unwrap();
        }
        if let Some((offset, len)) = next_b {
            store.write_at(b, offset as u32, &second[offset..offset + len]).unwrap();
        }
    }
    assert_eq!(store.newest(), None, "nothing is visible before commit");
    let b_info = store.commit(b, crc32(&second)).unwrap();
    let a_info = store.commit(a, crc32(&first)).unwrap();
    assert!(a_info.sequence > b_info.sequence);
    assert_eq!(listed(&store), [a_info, b_info]);
    assert_eq!(read_image(&mut store, a_info.sequence, 500).unwrap(), first);
    assert_eq!(read_image(&mut store, b_info.sequence, 500).unwrap(), second);
}

#[test]
fn the_newest_image_is_never_erased() {
    let mut store = fresh(Config { slot_count: 3, slot_size: 8192 });
    let images: Vec<Vec<u8>> = (0..3).map(|seed| image(seed, 5000)).collect();
    let infos: Vec<_> =
        images.iter().enumerate().map(|(seed, data)| store_image(&mut store, data, seed as u64).unwrap()).collect();
    // All three slots hold images: the next transfer takes the oldest.
    let first = store.begin(100).unwrap();
    assert_eq!(listed(&store), [infos[2], infos[1]]);
    // The next takes the second oldest; the newest is all that is left.
    let second = store.begin(100).unwrap();
    assert_eq!(listed(&store), [infos[2]]);
    assert_eq!(store.begin(100), Err(StoreError::NoFreeSlot));
    assert_eq!(read_image(&mut store, infos[2].sequence, 999).unwrap(), images[2]);

    // A newer image moves the protection to itself.
    let data = image(3, 100);
    for (offset, len) in chunks(100, CHUNK) {
        store.write_at(first, offset as u32, &data[offset..offset + len]).unwrap();
    }
    let newer = store.commit(first, crc32(&data)).unwrap();
    store.abandon(second);
    let third = store.begin(100).unwrap();
    let fourth = store.begin(100).unwrap();
    assert_eq!(listed(&store), [newer]);
    assert_eq!(store.begin(100), Err(StoreError::NoFreeSlot));
    // The freed slot is taken first, then the old newest image's slot.
    assert_eq!(third.slot, second.slot);
    assert_eq!(fourth.slot, 3 - first.slot - second.slot);
    assert_eq!(read_image(&mut store, newer.sequence, 999).unwrap(), data);
}

#[test]
fn free_slots_come_before_old_images_and_are_used_in_turn() {
    let mut store = fresh(SMALL);
    let slots: Vec<u16> = (0..4)
        .map(|seed| {
            let data = image(seed, 300);
            let handle = write_image(&mut store, &data, seed).unwrap();
            store.commit(handle, crc32(&data)).unwrap();
            handle.slot
        })
        .collect();
    assert_eq!(slots, [0, 1, 2, 3]);
    assert_eq!(listed(&store).len(), 4);
    // After the ring is full, the oldest image goes first.
    let handle = store.begin(10).unwrap();
    assert_eq!(handle.slot, 0);
}

#[test]
fn a_reused_slot_never_shows_stale_data() {
    let mut store = fresh(Config { slot_count: 3, slot_size: 8192 });
    let infos: Vec<_> = (0..3).map(|seed| store_image(&mut store, &image(seed, 5000), seed).unwrap()).collect();
    let handle = store.begin(5000).unwrap();
    store.write_at(handle, 0, &[1, 2, 3]).unwrap();
    // A reboot in the middle of the transfer.
    let mut store = remount(store.flash().as_bytes(), store.config());
    assert_eq!(listed(&store), [infos[2], infos[1]]);
    assert_eq!(store.read_at(infos[0].sequence, 0, &mut [0; 4]), Err(StoreError::NotFound));
}

#[test]
fn sequence_numbers_grow_across_reboots() {
    let mut store = fresh(SMALL);
    for seed in 0..6 {
        store_image(&mut store, &image(seed, 700), seed).unwrap();
    }
    let newest = store.newest().unwrap();
    assert_eq!(newest.sequence, 6);
    let mut store = remount(store.flash().as_bytes(), SMALL);
    assert_eq!(store.newest(), Some(newest));
    assert_eq!(store.next_sequence(), 7);
    let info = store_image(&mut store, &image(6, 10), 6).unwrap();
    assert_eq!(info.sequence, 7);
    let sequences: Vec<u32> = listed(&store).iter().map(|info| info.sequence).collect();
    assert_eq!(sequences, [7, 6, 5, 4]);
}

#[test]
fn list_fills_a_short_buffer_newest_first() {
    let mut store = fresh(SMALL);
    for seed in 0..3 {
        store_image(&mut store, &image(seed, 10), seed).unwrap();
    }
    let mut out = [store.newest().unwrap(); 2];
    assert_eq!(store.list(&mut out), 2);
    assert_eq!([out[0].sequence, out[1].sequence], [3, 2]);
    assert_eq!(store.list(&mut []), 0);
}

#[test]
fn an_empty_image_can_be_stored() {
    let mut store = fresh(SMALL);
    let info = store_image(&mut store, &[], 0).unwrap();
    assert_eq!(info.len, 0);
    assert_eq!(read_image(&mut store, info.sequence, 10).unwrap(), []);
    let store = remount(store.flash().as_bytes(), SMALL);
    assert_eq!(store.newest(), Some(info));
}

#[test]
fn the_largest_image_fills_its_slot() {
    let mut store = fresh(SMALL);
    let max = store.max_image_size();
    assert_eq!(max, SMALL.slot_size - DATA_OFFSET);
    let data = image(1, max as usize);
    let info = store_image(&mut store, &data, 1).unwrap();
    assert_eq!(read_image(&mut store, info.sequence, 4096).unwrap(), data);
}

#[test]
fn too_large_is_refused() {
    let mut store = fresh(SMALL);
    let max = store.max_image_size();
    assert_eq!(store.begin(max + 1), Err(StoreError::TooLarge));
    assert_eq!(store.begin(u32::MAX), Err(StoreError::TooLarge));
    assert_eq!(store.flash().counters().operations(), 0);
}

#[test]
fn no_free_slot_when_every_slot_is_pending() {
    let mut store = fresh(SMALL);
    let handles: Vec<_> = (0..4).map(|_| store.begin(10).unwrap()).collect();
    assert_eq!(store.begin(10), Err(StoreError::NoFreeSlot));
    store.abandon(handles[2]);
    assert_eq!(store.begin(10).map(|handle| handle.slot), Ok(handles[2].slot));
}

#[test]
fn no_free_slot_beyond_the_pending_limit() {
    let config = Config { slot_count: 16, slot_size: 4096 };
    let mut store = fresh(config);
    for _ in 0..MAX_PENDING {
        store.begin(10).unwrap();
    }
    assert_eq!(store.begin(10), Err(StoreError::NoFreeSlot));
}

#[test]
fn out_of_bounds_writes_and_reads_are_refused() {
    let mut store = fresh(SMALL);
    let handle = store.begin(1000).unwrap();
    assert_eq!(store.write_at(handle, 1000, &[1]), Err(StoreError::OutOfBounds));
    assert_eq!(store.write_at(handle, 999, &[1, 2]), Err(StoreError::OutOfBounds));
    assert_eq!(store.write_at(handle, u32::MAX, &[1]), Err(StoreError::OutOfBounds));
    assert_eq!(store.write_at(handle, 1000, &[]), Ok(()));
    assert_eq!(store.flash().counters().operations(), 1, "no refused write reached the flash");
    let data = image(1, 1000);
    store.write_at(handle, 0, &data).unwrap();
    let info = store.commit(handle, crc32(&data)).unwrap();
    let mut buffer = [0u8; 8];
    assert_eq!(store.read_at(info.sequence, 1000, &mut buffer), Ok(0));
    assert_eq!(store.read_at(info.sequence, 1001, &mut buffer), Err(StoreError::OutOfBounds));
    assert_eq!(store.read_at(info.sequence, u32::MAX, &mut buffer), Err(StoreError::OutOfBounds));
}

#[test]
fn bad_handles_are_refused() {
    let mut store = fresh(SMALL);
    let handle = store.begin(1000).unwrap();
    let forged_slot = WriteHandle { slot: handle.slot + 1, len: handle.len };
    let forged_len = WriteHandle { slot: handle.slot, len: handle.len + 1 };
    let outside = WriteHandle { slot: 999, len: 1 };
    for bad in [forged_slot, forged_len, outside] {
        assert_eq!(store.write_at(bad, 0, &[1]), Err(StoreError::BadHandle));
        assert_eq!(store.read_pending_at(bad, 0, &mut [0]), Err(StoreError::BadHandle));
        assert_eq!(store.commit(bad, 0), Err(StoreError::BadHandle));
        store.abandon(bad);
    }
    let data = image(2, 1000);
    store.write_at(handle, 0, &data).unwrap();
    store.commit(handle, crc32(&data)).unwrap();
    assert_eq!(store.commit(handle, crc32(&data)), Err(StoreError::BadHandle));
    assert_eq!(store.write_at(handle, 0, &[1]), Err(StoreError::BadHandle));

    let abandoned = store.begin(10).unwrap();
    store.abandon(abandoned);
    assert_eq!(store.write_at(abandoned, 0, &[1]), Err(StoreError::BadHandle));
}

#[test]
fn unknown_sequences_are_not_found() {
    let mut store = fresh(SMALL);
    assert_eq!(store.read_at(1, 0, &mut [0; 4]), Err(StoreError::NotFound));
    let info = store_image(&mut store, &image(1, 10), 1).unwrap();
    assert_eq!(store.read_at(info.sequence + 1, 0, &mut [0; 4]), Err(StoreError::NotFound));
    assert_eq!(store.verify(info.sequence + 1), Err(StoreError::NotFound));
}

#[test]
fn commit_refuses_a_wrong_crc_and_keeps_the_transfer_pending() {
    let mut store = fresh(SMALL);
    let data = image(5, 3000);
    let handle = write_image(&mut store, &data, 5).unwrap();
    assert_eq!(store.commit(handle, crc32(&data) ^ 1), Err(StoreError::Corrupt));
    assert_eq!(store.newest(), None);
    let info = store.commit(handle, crc32(&data)).unwrap();
    assert_eq!(read_image(&mut store, info.sequence, 100).unwrap(), data);
}

#[test]
fn commit_refuses_an_image_with_missing_chunks() {
    let mut store = fresh(SMALL);
    let data = image(6, 3000);
    let handle = store.begin(3000).unwrap();
    store.write_at(handle, 0, &data[..2000]).unwrap();
    assert_eq!(store.commit(handle, crc32(&data)), Err(StoreError::Corrupt));
    store.abandon(handle);
    assert_eq!(store.newest(), None);
}

#[test]
fn commit_refuses_leftovers_of_the_same_image_in_an_unwritten_sector() {
    let mut store = fresh(Config { slot_count: 3, slot_size: 16 * 1024 });
    let data = image(7, 10_000);
    let old: Vec<_> = (0..3).map(|_| store_image(&mut store, &data, 7).unwrap()).collect();
    // The oldest slot is reused for the same bytes, but the chunks of the
    // third sector never arrive: the leftovers there match, the CRC-32 would
    // too, and yet nothing was written.
    let handle = store.begin(10_000).unwrap();
    assert_eq!(handle.slot, 0);
    store.write_at(handle, 0, &data[..8000]).unwrap();
    assert_eq!(store.commit(handle, crc32(&data)), Err(StoreError::Corrupt));
    store.write_at(handle, 8000, &data[8000..]).unwrap();
    let info = store.commit(handle, crc32(&data)).unwrap();
    assert_eq!(info.sequence, old[2].sequence + 1);
}

#[test]
fn verify_reports_data_damaged_after_commit() {
    let mut store = fresh(SMALL);
    let info = store_image(&mut store, &image(8, 500), 8).unwrap();
    store.verify(info.sequence).unwrap();
    let data_start = DATA_OFFSET; // slot 0
    store.flash_mut().write(data_start + 100, &[0, 0, 0, 0]).unwrap();
    assert_eq!(store.verify(info.sequence), Err(StoreError::Corrupt));
}

#[test]
fn mount_refuses_configurations_that_do_not_fit() {
    let flash = RamFlash::new(64 * 1024).unwrap();
    let cases = [
        (Config { slot_count: 2, slot_size: 8192 }, ConfigError::TooFewSlots),
        (Config { slot_count: 3, slot_size: 5000 }, ConfigError::SlotSizeNotErasable),
        (Config { slot_count: 9, slot_size: 8192 }, ConfigError::PartitionTooSmall),
        (Config { slot_count: 65, slot_size: 4096 }, ConfigError::TooManySlots),
    ];
    for (config, error) in cases {
        assert_eq!(Store::mount(flash.clone(), config).map(|_| ()), Err(MountError::Config(error)), "{config:?}");
    }
    let tiny_sectors = RamFlash::<4, 4, 32>::with_geometry(4096).unwrap();
    assert_eq!(
        Store::mount(tiny_sectors, Config { slot_count: 3, slot_size: 64 }).map(|_| ()),
        Err(MountError::Config(ConfigError::UnsupportedGeometry))
    );
}

#[test]
fn for_partition_layouts_mount() {
    let config = Config::for_partition(64 * 1024, 4096, 10_000).unwrap();
    assert_eq!(config, Config { slot_count: 5, slot_size: 12 * 1024 });
    let mut store = Store::mount(RamFlash::new(64 * 1024).unwrap(), config).unwrap();
    let data = image(1, 10_000);
    let info = store_image(&mut store, &data, 1).unwrap();
    assert_eq!(read_image(&mut store, info.sequence, 1024).unwrap(), data);
}

#[test]
fn mount_treats_garbage_as_free_slots() {
    let mut random = Random::new(42);
    let garbage: Vec<u8> = (0..64 * 1024).map(|_| random.next() as u8).collect();
    let mut store = Store::mount(RamFlash::from_bytes(garbage).unwrap(), SMALL).unwrap();
    assert_eq!(store.newest(), None);
    let data = image(3, 15_000);
    let info = store_image(&mut store, &data, 3).unwrap();
    assert_eq!(info.sequence, 1);
    assert_eq!(read_image(&mut store, 1, 4096).unwrap(), data);
}

#[test]
fn flash_errors_become_store_errors_without_panics() {
    // Mounting without power.
    let mut flash = RamFlash::new(64 * 1024).unwrap();
    flash.cut_power(PowerCut::clean(0));
    assert_eq!(flash.erase(0, 4096), Err(nowcam_store::ram::RamFlashError::PowerLost));
    assert_eq!(Store::mount(flash, SMALL).map(|_| ()), Err(MountError::Flash));

    // begin's erase fails.
    let mut store = fresh(SMALL);
    store.flash_mut().cut_power(PowerCut::clean(0));
    assert_eq!(store.begin(10), Err(StoreError::Flash));
    assert_eq!(store.last_flash_error(), Some(NorFlashErrorKind::Other));

    // A write fails, then reads of pending data, then the commit.
    let mut store = fresh(SMALL);
    let handle = store.begin(5000).unwrap();
    store.flash_mut().cut_power(PowerCut::clean(1));
    assert_eq!(store.write_at(handle, 0, &image(1, 5000)), Err(StoreError::Flash));
    assert_eq!(store.read_pending_at(handle, 0, &mut [0; 10]), Err(StoreError::Flash));
    assert_eq!(store.commit(handle, 0), Err(StoreError::Flash));
    assert_eq!(store.begin(10), Err(StoreError::Flash));

    // Reading a committed image fails.
    let mut store = fresh(SMALL);
    let info = store_image(&mut store, &image(1, 100), 1).unwrap();
    store.flash_mut().cut_power(PowerCut::clean(0));
    let mut buffer = [0u8; 1];
    store.flash_mut().erase(0, 4096).unwrap_err();
    assert_eq!(store.read_at(info.sequence, 0, &mut buffer), Err(StoreError::Flash));
    assert_eq!(store.verify(info.sequence), Err(StoreError::Flash));
    assert_eq!(store.newest(), Some(info), "a read error does not forget the image");

    // The header write fails: the slot is given up, the image never appears.
    let mut store = fresh(SMALL);
    let data = image(2, 100);
    let handle = write_image(&mut store, &data, 2).unwrap();
    // The read-back programs the buffered page: the header is the commit's only write.
    store.read_pending_at(handle, 0, &mut [0u8; 1]).unwrap();
    store.flash_mut().cut_power(PowerCut::torn(0, 5));
    assert_eq!(store.commit(handle, crc32(&data)), Err(StoreError::Flash));
    assert_eq!(store.newest(), None);
    assert_eq!(store.commit(handle, crc32(&data)), Err(StoreError::BadHandle));
    let mut flash = store.into_flash();
    flash.restore_power();
    let store = Store::mount(flash, SMALL).unwrap();
    assert_eq!(store.newest(), None);
}

#[test]
fn wear_spreads_over_the_slots() {
    let mut store = fresh(SMALL);
    for seed in 0..40 {
        store_image(&mut store, &image(seed, 3000), seed).unwrap();
    }
    let erases = store.flash().sector_erases();
    let header_sectors: Vec<u32> = (0..4).map(|slot| erases[slot * 4]).collect();
    assert_eq!(header_sectors, [10, 10, 10, 10]);
    let mut flash = store.into_flash();
    let mut first = [0u8; 4];
    flash.read(0, &mut first).unwrap();
    assert_eq!(first, *b"NCIM");
}

/// Transfers that never complete (forged, or abandoned mid-way) come and go
/// while erase-ahead runs between them: the newest image stays readable.
#[test]
fn transfers_that_never_complete_never_evict_the_newest_image() {
    let mut store = fresh(Config { slot_count: 3, slot_size: 8192 });
    let images: Vec<Vec<u8>> = (0..3).map(|seed| image(seed + 40, 5000)).collect();
    let infos: Vec<_> =
        images.iter().enumerate().map(|(seed, data)| store_image(&mut store, data, seed as u64).unwrap()).collect();
    let newest = infos[2];
    for round in 0..20u64 {
        while store.erase_ahead().unwrap() == nowcam_store::EraseStep::Erased {}
        let handle = store.begin(6_000).unwrap();
        let junk = image(100 + round, 6_000);
        for (offset, len) in chunks(6_000, CHUNK).into_iter().take(10) {
            store.write_at(handle, offset as u32, &junk[offset..offset + len]).unwrap();
        }
        store.abandon(handle);
        assert_eq!(store.newest(), Some(newest));
        assert_eq!(read_image(&mut store, newest.sequence, 999).unwrap(), images[2], "round {round}");
    }
    assert_eq!(store.ready_count(6_000), 0, "the last junk was written: nothing erased ahead");
    while store.erase_ahead().unwrap() == nowcam_store::EraseStep::Erased {}
    assert_eq!(store.ready_count(6_000), 1);
    assert_eq!(read_image(&mut store, newest.sequence, 999).unwrap(), images[2]);
}
