//! The flash time a transfer's writes cost: chunks are gathered into whole
//! pages, so 241-byte chunks in order cost one page program per page, not
//! two per chunk, and chunks out of order still land byte-exact.

mod common;

use common::*;
use nowcam_store::ram::RamFlash;
use nowcam_store::{Config, FlashTiming, ImageStore, Store, TimedFlash, DATA_OFFSET};

const CONFIG: Config = Config { slot_count: 3, slot_size: 128 * 1024 };

fn timed() -> Store<TimedFlash<RamFlash>> {
    let capacity = CONFIG.slot_count as usize * CONFIG.slot_size as usize;
    Store::mount(TimedFlash::new(RamFlash::new(capacity).unwrap(), FlashTiming::DATASHEET), CONFIG).unwrap()
}

#[test]
fn chunks_in_order_cost_one_program_per_page() {
    let mut store = timed();
    let data = image(5, 100_000);
    let handle = store.begin(data.len() as u32).unwrap();
    let before = store.flash().total().programming;
    for (index, chunk) in data.chunks(241).enumerate() {
        store.write_at(handle, (index * 241) as u32, chunk).unwrap();
    }
    let info = store.commit(handle, crc32(&data)).unwrap();
    let programming = store.flash().total().programming - before;
    let page = FlashTiming::DATASHEET.page_program.typical;
    // The data's pages (its first may start mid-page) and the header's page.
    let pages = (u64::from(DATA_OFFSET % 256) + data.len() as u64).div_ceil(256) + 1;
    assert!(
        programming.as_micros() <= page.as_micros() * pages,
        "{} us of page programs for {pages} pages ({} us each)",
        programming.as_micros(),
        page.as_micros()
    );
    assert_eq!(read_image(&mut store, info.sequence, 1000).unwrap(), data);
}

#[test]
fn chunks_out_of_order_land_byte_exact() {
    for seed in 1..20 {
        let mut store = timed();
        let data = image(seed, 30_000 + seed as usize * 777);
        let info = store_image(&mut store, &data, seed).unwrap();
        assert_eq!(read_image(&mut store, info.sequence, 4096).unwrap(), data, "seed {seed}");
    }
}
