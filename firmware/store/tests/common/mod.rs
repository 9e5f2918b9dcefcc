//! Helpers shared by the store's integration tests.
#![allow(dead_code)]

use crc::{Crc, CRC_32_ISO_HDLC};
use nowcam_store::ram::RamFlash;
use nowcam_store::{Config, EraseStep, ImageInfo, ImageStore, Store, StoreError, WriteHandle};

/// The protocol's chunk size: odd, so chunks land at every alignment.
pub const CHUNK: usize = 241;

/// Four slots of four 4 KiB sectors: small enough to cut the power at every
/// operation, large enough that images span sectors.
pub const SMALL: Config = Config { slot_count: 4, slot_size: 16 * 1024 };

pub fn crc32(data: &[u8]) -> u32 {
    Crc::<u32>::new(&CRC_32_ISO_HDLC).checksum(data)
}

/// A deterministic xorshift stream, so failures replay.
pub struct Random(u64);

impl Random {
    pub fn new(seed: u64) -> Self {
        Random(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    pub fn below(&mut self, bound: usize) -> usize {
        (self.next() % bound as u64) as usize
    }
}

/// Image bytes that differ from image to image.
pub fn image(seed: u64, len: usize) -> Vec<u8> {
    let mut random = Random::new(seed);
    (0..len).map(|_| random.next() as u8).collect()
}

/// The `(offset, length)` of each chunk of an image of `len` bytes.
pub fn chunks(len: usize, chunk: usize) -> Vec<(usize, usize)> {
    (0..len).step_by(chunk).map(|offset| (offset, chunk.min(len - offset))).collect()
}

/// The chunks of an image in a scrambled order.
pub fn scrambled_chunks(len: usize, seed: u64) -> Vec<(usize, usize)> {
    let mut list = chunks(len, CHUNK);
    let mut random = Random::new(seed);
    for index in (1..list.len()).rev() {
        list.swap(index, random.below(index + 1));
    }
    list
}

/// Begins an image and writes all its chunks in a scrambled order.
pub fn write_image<S: ImageStore>(store: &mut S, data: &[u8], seed: u64) -> Result<WriteHandle, StoreError> {
    let handle = store.begin(data.len() as u32)?;
    for (offset, len) in scrambled_chunks(data.len(), seed) {
        store.write_at(handle, offset as u32, &data[offset..offset + len])?;
    }
    Ok(handle)
}

/// Writes and commits a whole image.
pub fn store_image<S: ImageStore>(store: &mut S, data: &[u8], seed: u64) -> Result<ImageInfo, StoreError> {
    let handle = write_image(store, data, seed)?;
    store.commit(handle, crc32(data))
}

/// Reads a committed image back in pieces of `piece` bytes, as the HTTP
/// server does.
pub fn read_image<S: ImageStore>(store: &mut S, sequence: u32, piece: usize) -> Result<Vec<u8>, StoreError> {
    let mut out = Vec::new();
    let mut buffer = vec![0u8; piece];
    loop {
        let read = store.read_at(sequence, out.len() as u32, &mut buffer)?;
        if read == 0 {
            return Ok(out);
        }
        out.extend_from_slice(&buffer[..read]);
    }
}

/// Every listed image, newest first.
pub fn listed<S: ImageStore>(store: &S) -> Vec<ImageInfo> {
    let mut out = [ImageInfo { sequence: 0, len: 0, crc32: 0 }; 64];
    let count = store.list(&mut out);
    out[..count].to_vec()
}

/// A store over an erased RAM flash that holds exactly the slots.
pub fn fresh(config: Config) -> Store<RamFlash> {
    let capacity = config.slot_count as usize * config.slot_size as usize;
    Store::mount(RamFlash::new(capacity).unwrap(), config).unwrap()
}

/// Mounts a new store over a copy of another flash's contents, as after a
/// reboot.
pub fn remount(bytes: &[u8], config: Config) -> Store<RamFlash> {
    Store::mount(RamFlash::from_bytes(bytes.to_vec()).unwrap(), config).unwrap()
}

/// Runs erase-ahead until it has nothing left to do; returns the steps taken.
pub fn erase_until_idle<S: ImageStore>(store: &mut S) -> usize {
    let mut steps = 0;
    while store.erase_ahead().unwrap() == EraseStep::Erased {
        steps += 1;
        assert!(steps < 10_000, "erase-ahead does not end");
    }
    steps
}
