//! Power-loss-safe image store over a NOR flash partition (no_std).
//!
//! [`Store`] implements [`nowcam_ports::ImageStore`] over any
//! [`MultiwriteNorFlash`](embedded_storage::nor_flash::MultiwriteNorFlash)
//! (esp-storage's `FlashStorage` is one: write size 4, erase size 4096). The
//! flash it is given is the data partition: offsets start at 0. It replaces
//! the seed's SPIFFS, which has no no_std port and loses files on power cuts.
//!
//! # How an image is written
//!
//! 1. [`ImageStore::begin`] picks a slot and
//!    erases only the slot's first sector, which holds the header: a reused
//!    slot stops being an image before any of its data changes.
//! 2. `write_at` puts each chunk at its offset as it arrives, in any order and
//!    at any alignment. The first write into a sector erases that sector; a
//!    bitmap per pending slot remembers which sectors are erased, so `begin`
//!    stays cheap (erasing 512 KiB takes seconds on a real chip). Bytes that
//!    share a flash word with a neighbouring chunk are merged by reading the
//!    word back and rewriting it with the neighbour's bytes unchanged, which
//!    is why the store needs `MultiwriteNorFlash` (the same word is written
//!    more than once, but a bit only ever goes from 1 to 0).
//! 3. `commit` checks that every sector of the image was erased during this
//!    transfer, reads the data back in pieces to check its CRC-32, and only
//!    then writes the header. The header is the commit: until it is whole,
//!    the slot is free.
//!
//! [`Store::mount`] scans every slot's header; a slot whose header is not
//! valid (erased, torn, wrong magic, version or CRC) is free. The newest
//! valid image is never chosen for reuse, and sequence numbers continue from
//! the largest one found, so they grow across reboots.
//!
//! # On-flash layout
//!
//! The partition holds `slot_count` slots of `slot_size` bytes each (a whole
//! number of erase sectors), slot `i` at offset `i × slot_size`; bytes after
//! the last slot are unused. Within a slot:
//!
//! | slot offset | size | content |
//! |---|---|---|
//! | 0 | 32 | header (below) |
//! | 32 | 32 | reserved, left erased (`0xff`) |
//! | 64 | `len` | image data ([`DATA_OFFSET`]) |
//!
//! The header, all integers little-endian:
//!
//! | header offset | size | field |
//! |---|---|---|
//! | 0 | 4 | magic `NCIM` (`4e 43 49 4d`) |
//! | 4 | 2 | format version, 1 ([`FORMAT_VERSION`]) |
//! | 6 | 2 | reserved, 0 |
//! | 8 | 4 | sequence number (grows by one per committed image) |
//! | 12 | 4 | image length in bytes |
//! | 16 | 4 | CRC-32 of the image data (CRC-32/ISO-HDLC, as zlib and the protocol) |
//! | 20 | 8 | reserved, 0 |
//! | 28 | 4 | CRC-32/ISO-HDLC of header bytes 0..28 |
//!
//! On a flash whose write size is larger than 32 bytes the header is padded
//! with `0xff` to one write.
//!
//! # Sizing
//!
//! [`Config::for_partition`] computes slots for a partition size and the
//! largest image (the protocol's default is 512 KiB, which needs 516 KiB
//! slots with 4 KiB sectors). At least three slots are required: one for the
//! newest image, one for the image before it, and one to receive into. Each
//! further pending transfer needs one more slot to keep two images.
//!
//! Architecture Invariant: the store knows NOR flash and images, not the
//! protocol, the radio or any chip; it never allocates (only the `ram`
//! feature's test flash does).
#![no_std]

#[cfg(feature = "ram")]
extern crate alloc;

mod config;
mod header;
mod io;
#[cfg(feature = "ram")]
pub mod ram;
mod store;

pub use config::{Config, ConfigError, MAX_PENDING, MAX_SECTORS_PER_SLOT, MAX_SLOTS};
pub use header::{DATA_OFFSET, FORMAT_VERSION, HEADER_LEN, MAGIC};
pub use nowcam_ports::store::{ImageInfo, ImageStore, StoreError, WriteHandle};
pub use store::{MountError, Store};
