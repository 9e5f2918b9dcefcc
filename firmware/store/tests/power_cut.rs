//! Power cuts at every write and erase of a sequence of transfers.
//!
//! The script below is run once to count its flash operations, then once per
//! operation `k` with the power cut at `k` (cleanly, or with part of the
//! failing operation done). After each cut the flash contents are mounted
//! again, as after a reboot, and checked: the last image whose commit
//! returned Ok reads back byte-exact, every listed image is a whole image
//! that was committed (or whose commit was under way), and the store takes
//! new images with larger sequence numbers.

mod common;

use common::*;
use nowcam_store::ram::{PowerCut, RamFlash};
use nowcam_store::{ImageInfo, ImageStore, Store, StoreError};

enum Step {
    /// Begin, write every chunk out of order, commit.
    Store { seed: u64, len: usize },
    /// Begin, write the chunks last first, commit: when this reuses the
    /// slot of a larger image, that image's later sectors are erased first.
    StoreBackwards { seed: u64, len: usize },
    /// Two transfers written chunk by chunk in turn; the second commits first.
    Interleaved { first: (u64, usize), second: (u64, usize) },
    /// A transfer that gets part of its chunks, then is abandoned.
    Abandon { seed: u64, len: usize },
}

/// Four slots, so images are evicted, a pending transfer shares the store
/// with others, and every image size from one chunk to a full slot occurs.
const SCRIPT: &[Step] = &[
    Step::Store { seed: 1, len: 5000 },
    Step::Store { seed: 2, len: 241 },
    Step::Interleaved { first: (3, 7000), second: (4, 3000) },
    Step::Abandon { seed: 5, len: 9000 },
    Step::Store { seed: 6, len: 16 * 1024 - 64 },
    Step::Store { seed: 7, len: 100 },
    Step::StoreBackwards { seed: 8, len: 12_000 },
    Step::StoreBackwards { seed: 9, len: 10_000 },
    Step::Store { seed: 10, len: 4096 },
];

#[derive(Default)]
struct Log {
    committed: Vec<(ImageInfo, Vec<u8>)>,
    /// Images whose commit was called but had not returned Ok: the power may
    /// have gone after their header was written.
    in_flight: Vec<Vec<u8>>,
}

fn commit<S: ImageStore>(
    store: &mut S,
    handle: nowcam_store::WriteHandle,
    data: Vec<u8>,
    log: &mut Log,
) -> Result<(), StoreError> {
    log.in_flight.push(data.clone());
    let info = store.commit(handle, crc32(&data))?;
    log.in_flight.pop();
    log.committed.push((info, data));
    Ok(())
}

fn run<S: ImageStore>(store: &mut S, log: &mut Log) -> Result<(), StoreError> {
    for step in SCRIPT {
        match *step {
            Step::Store { seed, len } => {
                let data = image(seed, len);
                let handle = write_image(store, &data, seed)?;
                commit(store, handle, data, log)?;
            }
            Step::StoreBackwards { seed, len } => {
                let data = image(seed, len);
                let handle = store.begin(len as u32)?;
                for (offset, chunk_len) in chunks(len, CHUNK).into_iter().rev() {
                    store.write_at(handle, offset as u32, &data[offset..offset + chunk_len])?;
                }
                commit(store, handle, data, log)?;
            }
            Step::Interleaved { first, second } => {
                let first_data = image(first.0, first.1);
                let second_data = image(second.0, second.1);
                let a = store.begin(first.1 as u32)?;
                let b = store.begin(second.1 as u32)?;
                let a_chunks = scrambled_chunks(first.1, first.0);
                let b_chunks = scrambled_chunks(second.1, second.0);
                for index in 0..a_chunks.len().max(b_chunks.len()) {
                    if let Some(&(offset, len)) = a_chunks.get(index) {
                        store.write_at(a, offset as u32, &first_data[offset..offset + len])?;
                    }
                    if let Some(&(offset, len)) = b_chunks.get(index) {
                        store.write_at(b, offset as u32, &second_data[offset..offset + len])?;
                    }
                }
                commit(store, b, second_data, log)?;
                commit(store, a, first_data, log)?;
            }
            Step::Abandon { seed, len } => {
                let data = image(seed, len);
                let handle = store.begin(len as u32)?;
                for (offset, chunk_len) in scrambled_chunks(len, seed).into_iter().step_by(2) {
                    store.write_at(handle, offset as u32, &data[offset..offset + chunk_len])?;
                }
                store.abandon(handle);
            }
        }
    }
    Ok(())
}

/// Mounts what a cut left and checks it; `what` names the cut in messages.
fn check_after_cut(bytes: &[u8], log: &Log, what: &str) {
    let mut store = remount(bytes, SMALL);
    let images = listed(&store);
    for info in &images {
        let expected = log
            .committed
            .iter()
            .find(|(committed, _)| committed.sequence == info.sequence)
            .map(|(_, data)| data)
            .or_else(|| log.in_flight.iter().find(|data| data.len() as u32 == info.len && crc32(data) == info.crc32));
        let Some(expected) = expected else {
            panic!("{what}: listed image {info:?} was never committed");
        };
        assert_eq!(
            &read_image(&mut store, info.sequence, 777).unwrap(),
            expected,
            "{what}: image {} does not read back",
            info.sequence
        );
        store.verify(info.sequence).unwrap();
    }
    let newest = store.newest();
    assert_eq!(newest, images.first().copied(), "{what}: newest is not listed first");
    if let Some((last, data)) = log.committed.last() {
        let newest = newest.unwrap_or_else(|| panic!("{what}: image {} was lost", last.sequence));
        assert!(newest.sequence >= last.sequence, "{what}: went back to {newest:?}");
        assert!(images.contains(last), "{what}: image {} was lost", last.sequence);
        assert_eq!(&read_image(&mut store, last.sequence, 4096).unwrap(), data, "{what}");
    }

    // The store goes on working, and its sequence numbers keep growing.
    let data = image(1000, 6000);
    let info = store_image(&mut store, &data, 1000).unwrap_or_else(|error| panic!("{what}: {error}"));
    let largest_seen = log.committed.iter().map(|(info, _)| info.sequence).max().unwrap_or(0);
    assert!(info.sequence > largest_seen, "{what}: sequence {} reused", info.sequence);
    assert_eq!(store.newest(), Some(info), "{what}");
    assert_eq!(read_image(&mut store, info.sequence, 1000).unwrap(), data, "{what}");
}

fn flash() -> RamFlash {
    RamFlash::new(SMALL.slot_count as usize * SMALL.slot_size as usize).unwrap()
}

#[test]
fn the_script_runs_whole_without_a_cut() {
    let mut store = Store::mount(flash(), SMALL).unwrap();
    let mut log = Log::default();
    run(&mut store, &mut log).unwrap();
    assert_eq!(log.committed.len(), 9);
    assert!(log.in_flight.is_empty());
    check_after_cut(store.flash().as_bytes(), &log, "no cut");
}

#[test]
fn a_power_cut_at_every_write_and_erase_keeps_the_last_committed_image() {
    let total = {
        let mut store = Store::mount(flash(), SMALL).unwrap();
        run(&mut store, &mut Log::default()).unwrap();
        store.flash().counters().operations()
    };
    assert!(total > 100, "the script is too short to mean much: {total} operations");
    let mut cuts = 0;
    for torn_bytes in [0, 1, 6, 2050] {
        for after in 0..total {
            let what = format!("cut after {after} of {total} operations, {torn_bytes} torn bytes");
            let mut store = Store::mount(flash(), SMALL).unwrap();
            store.flash_mut().cut_power(PowerCut::torn(after, torn_bytes));
            let mut log = Log::default();
            assert_eq!(run(&mut store, &mut log), Err(StoreError::Flash), "{what}");
            assert!(store.flash().power_lost(), "{what}");
            check_after_cut(store.flash().as_bytes(), &log, &what);
            cuts += 1;
        }
    }
    assert_eq!(cuts, 4 * total);
}

#[test]
fn a_cut_during_the_header_write_leaves_the_previous_newest() {
    let data = image(2, 3000);
    for torn_bytes in [0, 1, 4, 8, 16, 28, 31] {
        let mut store = Store::mount(flash(), SMALL).unwrap();
        let first = store_image(&mut store, &image(1, 3000), 1).unwrap();
        let handle = write_image(&mut store, &data, 2).unwrap();
        // A read-back programs the page still buffered, so the header is the
        // commit's only write, and the one that fails.
        store.read_pending_at(handle, 0, &mut [0u8; 1]).unwrap();
        store.flash_mut().cut_power(PowerCut::torn(0, torn_bytes));
        assert_eq!(store.commit(handle, crc32(&data)), Err(StoreError::Flash));
        assert_eq!(store.flash().counters().writes + 1, {
            let mut whole = Store::mount(flash(), SMALL).unwrap();
            store_image(&mut whole, &image(1, 3000), 1).unwrap();
            store_image(&mut whole, &data, 2).unwrap();
            whole.flash().counters().writes
        });
        let store = remount(store.flash().as_bytes(), SMALL);
        assert_eq!(store.newest(), Some(first), "{torn_bytes} torn bytes");
        assert_eq!(listed(&store), [first], "{torn_bytes} torn bytes");
    }
}
