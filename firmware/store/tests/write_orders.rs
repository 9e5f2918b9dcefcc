//! Property tests: chunks in random orders and sizes, with duplicates and
//! power cuts, always reassemble byte-exact or leave no image.

mod common;

use common::*;
use nowcam_store::ram::{PowerCut, RamFlash};
use nowcam_store::{ImageStore, Store, StoreError, WriteHandle};
use proptest::prelude::*;

/// An image length, a chunk size, a seed for the order and the bytes, and
/// how many chunks arrive twice.
fn transfer() -> impl Strategy<Value = (usize, usize, u64, usize)> {
    (0usize..=16 * 1024 - 64, 1usize..=300, any::<u64>(), 0usize..8)
}

fn ordered_chunks(len: usize, chunk: usize, seed: u64, duplicates: usize) -> Vec<(usize, usize)> {
    let mut list = chunks(len, chunk);
    let mut random = Random::new(seed);
    for index in (1..list.len()).rev() {
        list.swap(index, random.below(index + 1));
    }
    if !list.is_empty() {
        for _ in 0..duplicates {
            let again = list[random.below(list.len())];
            let at = random.below(list.len() + 1);
            list.insert(at, again);
        }
    }
    list
}

fn write_chunks<S: ImageStore>(
    store: &mut S,
    handle: WriteHandle,
    data: &[u8],
    order: &[(usize, usize)],
) -> Result<(), StoreError> {
    for &(offset, len) in order {
        store.write_at(handle, offset as u32, &data[offset..offset + len])?;
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn random_write_orders_reassemble_byte_exact(
        (len, chunk, seed, duplicates) in transfer(),
        piece in 1usize..5000,
    ) {
        let mut store = fresh(SMALL);
        let data = image(seed, len);
        let handle = store.begin(len as u32).unwrap();
        write_chunks(&mut store, handle, &data, &ordered_chunks(len, chunk, seed, duplicates)).unwrap();
        let info = store.commit(handle, crc32(&data)).unwrap();
        prop_assert_eq!(&read_image(&mut store, info.sequence, piece).unwrap(), &data);
        let mut store = remount(store.flash().as_bytes(), SMALL);
        prop_assert_eq!(store.newest(), Some(info));
        prop_assert_eq!(&read_image(&mut store, info.sequence, piece).unwrap(), &data);
    }

    #[test]
    fn two_interleaved_transfers_reassemble_byte_exact(
        first in transfer(),
        second in transfer(),
        interleave_seed in any::<u64>(),
    ) {
        let mut store = fresh(SMALL);
        let first_data = image(first.2, first.0);
        let second_data = image(second.2 ^ 1, second.0);
        let a = store.begin(first.0 as u32).unwrap();
        let b = store.begin(second.0 as u32).unwrap();
        let mut a_order = ordered_chunks(first.0, first.1, first.2, first.3).into_iter();
        let mut b_order = ordered_chunks(second.0, second.1, second.2, second.3).into_iter();
        let mut random = Random::new(interleave_seed);
        loop {
            let next = if random.below(2) == 0 {
                a_order.next().map(|chunk| (a, &first_data, chunk))
                    .or_else(|| b_order.next().map(|chunk| (b, &second_data, chunk)))
            } else {
                b_order.next().map(|chunk| (b, &second_data, chunk))
                    .or_else(|| a_order.next().map(|chunk| (a, &first_data, chunk)))
            };
            let Some((handle, data, (offset, len))) = next else { break };
            store.write_at(handle, offset as u32, &data[offset..offset + len]).unwrap();
        }
        let a_info = store.commit(a, crc32(&first_data)).unwrap();
        let b_info = store.commit(b, crc32(&second_data)).unwrap();
        prop_assert_eq!(&read_image(&mut store, a_info.sequence, 333).unwrap(), &first_data);
        prop_assert_eq!(&read_image(&mut store, b_info.sequence, 333).unwrap(), &second_data);
    }

    #[test]
    fn a_power_cut_anywhere_in_a_random_transfer_keeps_the_previous_image(
        (len, chunk, seed, duplicates) in transfer(),
        cut_fraction in 0.0f64..1.0,
        torn_bytes in 0usize..40,
    ) {
        let capacity = SMALL.slot_count as usize * SMALL.slot_size as usize;
        let previous_data = image(!seed, 5000);
        let data = image(seed, len);
        let order = ordered_chunks(len, chunk, seed, duplicates);
        let transfer = |store: &mut Store<RamFlash>| -> Result<(), StoreError> {
            let handle = store.begin(len as u32)?;
            write_chunks(store, handle, &data, &order)?;
            store.commit(handle, crc32(&data)).map(|_| ())
        };

        let mut store = Store::mount(RamFlash::new(capacity).unwrap(), SMALL).unwrap();
        let previous = store_image(&mut store, &previous_data, 1).unwrap();
        let before = store.flash().counters().operations();
        let snapshot = store.flash().as_bytes().to_vec();
        transfer(&mut store).unwrap();
        let operations = store.flash().counters().operations() - before;

        let after = (operations as f64 * cut_fraction) as u64;
        let mut store = remount(&snapshot, SMALL);
        store.flash_mut().cut_power(PowerCut::torn(after, torn_bytes));
        prop_assert_eq!(transfer(&mut store), Err(StoreError::Flash));

        let mut store = remount(store.flash().as_bytes(), SMALL);
        prop_assert_eq!(listed(&store), vec![previous]);
        prop_assert_eq!(&read_image(&mut store, previous.sequence, 4096).unwrap(), &previous_data);
    }
}
