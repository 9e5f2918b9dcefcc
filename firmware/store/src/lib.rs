//! Power-loss-safe image store over a NOR flash partition (no_std).
//!
//! [`Store`] implements [`nowcam_ports::ImageStore`] over any
//! [`MultiwriteNorFlash`](embedded_storage::nor_flash::MultiwriteNorFlash)
//! (esp-storage's `FlashStorage` is one: write size 4, erase size 4096). The
//! flash it is given is the data partition: offsets start at 0. It replaces
//! the seed's SPIFFS, which has no no_std port and loses files on power cuts.
//!
//! # Erase-ahead: flash that never stalls a transfer
//!
//! Erasing takes long: 45 ms per 4 KiB sector and 150 ms per 64 KiB block
//! typically, 400 ms and 2 s at worst ([`FlashTiming::DATASHEET`]). A node
//! runs the store on its only executor, so it reads no radio frame while the
//! flash erases, and frames past the radio's receive queue are lost. The
//! policy, which the receiver node follows:
//!
//! - **Erase between transfers, never during one.** While the node receives
//!   nothing, it calls [`ImageStore::erase_ahead`]; each call does at most
//!   one erase (a sector, or a block where a 64 KiB block lies inside the
//!   slot on a block boundary) so that one poll blocks for one erase at
//!   most. `erase_ahead` does nothing while any transfer is pending.
//! - **Which slots.** Erase-ahead keeps [`Store::set_erase_ahead_slots`]
//!   slots erased (unless set, all but two: the newest image and the one
//!   before it stay), taken as `begin` takes them: a free slot
//!   in turn, else the oldest image that is not the newest. The newest
//!   committed image is never erased ahead.
//! - **Busy until ready.** [`ImageStore::ready_for`] says whether a slot is
//!   erased over a whole image of a given size. A receiver answers a nowcam
//!   offer it is not ready for with Busy, and the camera offers again after
//!   a random backoff; a second concurrent transfer needs its own slot
//!   erased ahead, or gets Busy too.
//! - **Fallback.** `begin` without a slot erased far enough still works, as
//!   the seed's legacy sender needs (it has no Busy, and sends one frame per
//!   500 ms, far slower than an erase): it takes the slot erased furthest,
//!   or erases a slot's header sector, and each remaining sector is erased
//!   at the first write into it.
//!
//! What is erased ahead is known only to this boot: after a reboot the slots
//! are erased again.
//!
//! # How an image is written
//!
//! 1. Erase-ahead (or [`ImageStore::begin`]'s fallback) erases the slot's
//!    first sector, which holds the header, before anything else of the
//!    slot: a reused slot stops being an image before any of its data
//!    changes.
//! 2. `write_at` puts each chunk at its offset as it arrives, in any order and
//!    at any alignment. A bitmap per pending slot remembers which sectors are
//!    erased (all of them for a slot erased ahead); the first write into a
//!    sector not erased yet erases it. Bytes that
//!    share a flash word with a neighbouring chunk are merged by reading the
//!    word back and rewriting it with the neighbour's bytes unchanged, which
//!    is why the store needs `MultiwriteNorFlash` (the same word is written
//!    more than once, but a bit only ever goes from 1 to 0).
//! 3. `commit` checks that every sector of the image was erased this boot
//!    after the slot was taken for it, reads the data back in pieces to check
//!    its CRC-32, and only then writes the header. The header is the commit:
//!    until it is whole, the slot is free.
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
//! | 20 | 4 | format 2: the slot offset of the relocation table; format 1: 0 |
//! | 24 | 4 | reserved, 0 |
//! | 28 | 4 | CRC-32/ISO-HDLC of header bytes 0..28 |
//!
//! On a flash whose write size is larger than 32 bytes the header is padded
//! with `0xff` to one write.
//!
//! # Segment repair without an erase
//!
//! When a transfer's CRC-32 fails, the receiver finds the bad segments and
//! has them fetched again ([`ImageStore::discard`]). Programmed NOR bytes
//! cannot be programmed again without an erase, so the store moves each
//! such segment into the slot's spare space, past the image's end, which
//! erase-ahead erased with the rest of the slot and no write touched: the
//! segment's chunks are written there, and reads go through the list of
//! moved runs (`remap.rs`; the newest run wins). At commit the list is
//! written after the last run, then the header (format 2, pointing at it),
//! so a power cut before the header leaves the slot free as always. Without
//! spare erased space (an image that fills its slot, a slot not erased past
//! the image) or with 16 runs already, `discard` refuses with
//! [`StoreError::NotRewritable`] and the transfer fails instead.
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
mod page_buffer;
#[cfg(feature = "ram")]
pub mod ram;
mod remap;
mod store;
pub mod timing;

pub use config::{Config, ConfigError, MAX_PENDING, MAX_SECTORS_PER_SLOT, MAX_SLOTS};
pub use header::{DATA_OFFSET, FORMAT_VERSION, FORMAT_VERSION_RELOCATED, HEADER_LEN, MAGIC};
pub use nowcam_ports::store::{EraseStep, ImageInfo, ImageStore, StoreError, WriteHandle};
pub use remap::MAX_RUNS;
pub use store::{default_erase_ahead_slots, MountError, Store};
pub use timing::{FlashTiming, Latency, TimedFlash};
