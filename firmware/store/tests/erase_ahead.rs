//! Erase-ahead: slots erased between transfers, so that no write of a
//! transfer waits for an erase, without ever losing the newest image.

mod common;

use common::*;
use nowcam_store::ram::{PowerCut, RamFlash};
use nowcam_store::{Config, EraseStep, FlashTiming, ImageStore, Store, StoreError, TimedFlash};

/// Four 128 KiB slots: each starts on a 64 KiB block boundary, so erase-ahead
/// erases the header sector and then two whole blocks.
const BLOCKS: Config = Config { slot_count: 4, slot_size: 128 * 1024 };

/// A store keeping one slot erased ahead: the tests below follow one slot.
fn timed(config: Config) -> Store<TimedFlash<RamFlash>> {
    let capacity = config.slot_count as usize * config.slot_size as usize;
    let flash = TimedFlash::new(RamFlash::new(capacity).unwrap(), FlashTiming::DATASHEET);
    let mut store = Store::mount(flash, config).unwrap();
    store.set_erase_ahead_slots(1);
    store
}

/// [`fresh`] keeping one slot erased ahead.
fn fresh_one(config: Config) -> Store<RamFlash> {
    let mut store = fresh(config);
    store.set_erase_ahead_slots(1);
    store
}

/// Unless told otherwise a store keeps every slot but two erased ahead (the
/// newest image and the one before it stay): two of the boards' four.
#[test]
fn by_default_all_slots_but_two_are_erased_ahead() {
    assert_eq!(nowcam_store::default_erase_ahead_slots(4), 2);
    assert_eq!(nowcam_store::default_erase_ahead_slots(3), 1);
    assert_eq!(nowcam_store::default_erase_ahead_slots(64), 8);
    let capacity = BLOCKS.slot_count as usize * BLOCKS.slot_size as usize;
    let mut store = Store::mount(RamFlash::new(capacity).unwrap(), BLOCKS).unwrap();
    for seed in 1..=4u64 {
        erase_until_idle(&mut store);
        assert_eq!(store.erased_ahead(), 2, "image {seed}");
        store_image(&mut store, &image(seed, 70_000), seed).unwrap();
    }
    erase_until_idle(&mut store);
    let kept: Vec<u32> = listed(&store).iter().map(|info| info.sequence).collect();
    assert_eq!(kept, [4, 3]);
}

#[test]
fn back_to_back_images_are_written_without_a_single_erase() {
    let mut store = timed(BLOCKS);
    let len = 120 * 1024;
    for seed in 1..=10u64 {
        assert_eq!(erase_until_idle(&mut store), 3, "image {seed}: header sector, then two blocks");
        assert!(store.ready_for(len as u32), "image {seed}");
        // The header sector alone, then each 64 KiB block in one erase.
        let charged = store.flash_mut().take_busy();
        assert_eq!(charged.as_millis(), 45 + 2 * 150, "image {seed}");

        let erases = store.flash().inner().counters().erases;
        let data = image(seed, len);
        let info = store_image(&mut store, &data, seed).unwrap();
        assert_eq!(store.flash().inner().counters().erases, erases, "image {seed}: an erase during the transfer");
        // Only page programs during the transfer: no erase time.
        let during = store.flash_mut().take_busy();
        assert!(during.as_millis() < 2 * 520, "image {seed}: {during}");
        assert_eq!(store.newest(), Some(info));
        assert_eq!(read_image(&mut store, info.sequence, 4096).unwrap(), data, "image {seed}");
        store.verify(info.sequence).unwrap();
        // The image before it is kept too.
        let kept: Vec<u32> = listed(&store).iter().map(|info| info.sequence).take(2).collect();
        let expected: Vec<u32> = (1..=seed as u32).rev().take(2).collect();
        assert_eq!(kept, expected, "image {seed}");
    }
    assert_eq!(store.flash().total().erasing.as_millis(), 10 * (45 + 2 * 150));
    assert_eq!(store.erases_in_transfers(), 0);
}

#[test]
fn slots_off_block_boundaries_are_erased_sector_by_sector() {
    let config = Config { slot_count: 3, slot_size: 24 * 1024 };
    let mut store = timed(config);
    // Slot 0 is 24 KiB: six sectors, no whole block in it.
    assert_eq!(erase_until_idle(&mut store), 6);
    assert_eq!(store.flash_mut().take_busy().as_millis(), 6 * 45);
    assert!(store.ready_for(24 * 1024 - 64));
}

#[test]
fn erase_ahead_never_runs_during_a_transfer() {
    let mut store = fresh_one(SMALL);
    erase_until_idle(&mut store);
    let handle = store.begin(5000).unwrap();
    let erases = store.flash().counters().erases;
    assert_eq!(store.erase_ahead(), Ok(EraseStep::Idle));
    assert_eq!(store.flash().counters().erases, erases);
    // A second transfer finds no slot erased ahead.
    assert!(!store.ready_for(100));
    store.write_at(handle, 0, &[1, 2, 3]).unwrap();
    store.abandon(handle);
    assert_eq!(store.erase_ahead(), Ok(EraseStep::Erased));
}

#[test]
fn ready_only_once_the_slot_is_erased_over_the_whole_image() {
    let mut store = fresh_one(SMALL);
    assert!(!store.ready_for(0), "nothing is erased after mount");
    assert_eq!(store.erase_ahead(), Ok(EraseStep::Erased));
    // The header sector holds the first 4032 bytes of data.
    assert!(store.ready_for(4096 - 64));
    assert!(!store.ready_for(4096 - 63));
    erase_until_idle(&mut store);
    assert!(store.ready_for(SMALL.slot_size - 64));
    assert!(!store.ready_for(SMALL.slot_size - 63), "larger than a slot");
    assert_eq!(store.erased_ahead(), 1);
}

#[test]
fn a_slot_erased_in_part_is_finished_by_writes() {
    let mut store = fresh_one(SMALL);
    store.erase_ahead().unwrap();
    let erases = store.flash().counters().erases;
    // 10,000 bytes reach the third sector: two sectors are erased on the way.
    let data = image(3, 10_000);
    let info = store_image(&mut store, &data, 3).unwrap();
    assert_eq!(store.flash().counters().erases, erases + 2);
    assert_eq!(store.erases_in_transfers(), 2);
    assert_eq!(read_image(&mut store, info.sequence, 999).unwrap(), data);
}

#[test]
fn the_newest_image_is_never_erased_ahead() {
    let config = Config { slot_count: 3, slot_size: 16 * 1024 };
    let mut store = fresh(config);
    store.set_erase_ahead_slots(8);
    let mut newest = None;
    for seed in 1..=6u64 {
        erase_until_idle(&mut store);
        // Every slot but the newest image's is erased ahead.
        assert_eq!(store.erased_ahead(), if newest.is_some() { 2 } else { 3 }, "image {seed}");
        if let Some((info, data)) = &newest {
            assert_eq!(store.newest(), Some(*info));
            assert_eq!(listed(&store), [*info]);
            assert_eq!(&read_image(&mut store, info.sequence, 512).unwrap(), data);
            store.verify(info.sequence).unwrap();
            // After a reboot too.
            let again = remount(store.flash().as_bytes(), config);
            assert_eq!(again.newest(), Some(*info));
        }
        let data = image(seed, 9000);
        let info = store_image(&mut store, &data, seed).unwrap();
        newest = Some((info, data));
    }
}

#[test]
fn one_slot_erased_ahead_keeps_the_image_before_the_newest() {
    let mut store = fresh(Config { slot_count: 3, slot_size: 16 * 1024 });
    for seed in 1..=5u64 {
        erase_until_idle(&mut store);
        store_image(&mut store, &image(seed, 8000), seed).unwrap();
        erase_until_idle(&mut store);
        let kept: Vec<u32> = listed(&store).iter().map(|info| info.sequence).collect();
        let expected: Vec<u32> = (1..=seed as u32).rev().take(2).collect();
        assert_eq!(kept, expected, "after image {seed}");
    }
}

#[test]
fn a_power_cut_at_every_erase_ahead_step_keeps_the_last_committed_image() {
    let config = Config { slot_count: 3, slot_size: 16 * 1024 };
    let script = |store: &mut Store<RamFlash>, committed: &mut Vec<(u32, Vec<u8>)>| -> Result<(), StoreError> {
        for seed in 1..=5u64 {
            while store.erase_ahead()? == EraseStep::Erased {}
            let data = image(seed, 6000 + 1000 * seed as usize);
            let info = store_image(store, &data, seed)?;
            committed.push((info.sequence, data));
        }
        Ok(())
    };
    let total = {
        let mut store = fresh(config);
        script(&mut store, &mut Vec::new()).unwrap();
        store.flash().counters().operations()
    };
    for torn_bytes in [0, 1, 2050] {
        for after in 0..total {
            let what = format!("cut after {after} of {total}, {torn_bytes} torn bytes");
            let mut store = fresh(config);
            store.flash_mut().cut_power(PowerCut::torn(after, torn_bytes));
            let mut committed = Vec::new();
            assert_eq!(script(&mut store, &mut committed), Err(StoreError::Flash), "{what}");
            let mut again = remount(store.flash().as_bytes(), config);
            if let Some((sequence, data)) = committed.last() {
                assert!(again.newest().is_some_and(|newest| newest.sequence >= *sequence), "{what}");
                assert_eq!(&read_image(&mut again, *sequence, 1000).unwrap(), data, "{what}");
            }
            for info in listed(&again) {
                again.verify(info.sequence).unwrap_or_else(|error| panic!("{what}: image {}: {error}", info.sequence));
            }
            // The store goes on: erase ahead and take an image.
            erase_until_idle(&mut again);
            assert!(again.ready_for(9000), "{what}");
            store_image(&mut again, &image(99, 9000), 99).unwrap();
        }
    }
}

#[test]
fn a_transfer_abandoned_before_its_first_write_leaves_its_slot_erased() {
    let mut store = fresh_one(SMALL);
    erase_until_idle(&mut store);
    let erases = store.flash().counters().erases;
    // A camera that offers again under a new session: the first transfer is dropped unwritten.
    let unwritten = store.begin(9000).unwrap();
    store.abandon(unwritten);
    assert!(store.ready_for(9000));
    assert_eq!(store.erase_ahead(), Ok(EraseStep::Idle));
    let info = store_image(&mut store, &image(4, 9000), 4).unwrap();
    assert_eq!(store.flash().counters().erases, erases, "the slot was not erased again");
    // A slot written into is dirty once abandoned: it is erased again before reuse.
    erase_until_idle(&mut store);
    let written = write_image(&mut store, &image(5, 9000), 5).unwrap();
    store.abandon(written);
    assert_eq!(store.erased_ahead(), 0);
    assert!(!store.ready_for(9000));
    assert_eq!(store.newest(), Some(info));
}

/// With several slots to erase ahead, each becomes ready for images the
/// size of the recent ones (the header sector and the first block here)
/// before any slot's rest is erased: three cameras find three slots after
/// six erases, not nine.
#[test]
fn slots_become_ready_for_recent_images_before_any_tail_is_erased() {
    let mut store = timed(BLOCKS);
    let len = 20_000;
    store_image(&mut store, &image(1, len), 1).unwrap();
    assert_eq!(store.recent_len(), len as u32);
    store.set_erase_ahead_slots(3);
    let mut steps = 0;
    while store.ready_count(len as u32) < 3 {
        assert_eq!(store.erase_ahead().unwrap(), EraseStep::Erased);
        steps += 1;
        assert!(steps <= 9);
    }
    assert_eq!(steps, 6, "a header sector and a block per slot");
    // Idle for longer, erase-ahead goes on with the slots' rest.
    assert_eq!(erase_until_idle(&mut store), 3);
    assert_eq!(store.ready_count(120 * 1024), 3);
}
