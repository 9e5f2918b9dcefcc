//! The store: a slot table in RAM over the slots on flash.

use embedded_storage::nor_flash::{MultiwriteNorFlash, NorFlashError, NorFlashErrorKind};
use nowcam_ports::store::{EraseStep, ImageInfo, ImageStore, StoreError, WriteHandle};

use crate::config::{Config, ConfigError, Layout, MAX_PENDING, MAX_SECTORS_PER_SLOT, MAX_SLOTS};
use crate::header::{Header, CRC32, DATA_OFFSET, HEADER_LEN};
use crate::io::{read_unaligned, write_unaligned, SCRATCH_LEN};
use crate::page_buffer::{self, PageBuffer};
use crate::remap::{Remaps, Run, MAX_TABLE_LEN};
use crate::timing::{BLOCK_SIZE, PAGE_SIZE};

/// Why [`Store::mount`] failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum MountError {
    /// the configuration does not fit the flash
    Config(ConfigError),
    /// the flash driver failed while the headers were read
    Flash,
}

impl core::fmt::Display for MountError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            MountError::Config(error) => write!(f, "invalid store configuration: {error}"),
            MountError::Flash => f.write_str("the flash driver failed while the headers were read"),
        }
    }
}

impl core::error::Error for MountError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            MountError::Config(error) => Some(error),
            MountError::Flash => None,
        }
    }
}

impl From<ConfigError> for MountError {
    fn from(error: ConfigError) -> Self {
        MountError::Config(error)
    }
}

/// What a slot holds, as far as this boot knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    /// No valid header: the slot may be reused at once.
    Free,
    /// A committed image.
    Image(ImageInfo),
    /// A transfer is being written into it; its entry is in `pending`.
    Pending,
    /// Erased ahead this boot for the next image: the first `upto` bytes
    /// of the slot (a whole number of erase sectors, header sector first).
    Erased { upto: u32 },
}

const BITMAP_WORDS: usize = MAX_SECTORS_PER_SLOT / 32;

/// A transfer being written, with the sectors of its slot erased so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Pending {
    slot: u16,
    len: u32,
    erased: [u32; BITMAP_WORDS],
    /// Whether `write_at` has touched the slot: until then it holds only
    /// what erase-ahead (or `begin`) erased.
    written: bool,
    /// Image bytes a segment repair moved into the slot's spare space.
    remaps: Remaps,
    /// The slot offset where the spare space not used yet starts.
    spare: u32,
}

impl Pending {
    fn is_erased(&self, sector: u32) -> bool {
        self.erased[sector as usize / 32] & (1 << (sector % 32)) != 0
    }

    fn mark_erased(&mut self, sector: u32) {
        self.erased[sector as usize / 32] |= 1 << (sector % 32);
    }

    fn handle(&self) -> WriteHandle {
        WriteHandle { slot: self.slot, len: self.len }
    }
}

/// A power-loss-safe image store over a NOR flash partition.
///
/// See the crate documentation for the on-flash layout and the write order
/// that makes it safe.
#[derive(Debug)]
pub struct Store<F> {
    flash: F,
    layout: Layout,
    slots: [Slot; MAX_SLOTS],
    /// Per slot holding an image, the slot offset of its relocation table
    /// (0: stored in place).
    remap_tables: [u32; MAX_SLOTS],
    pending: [Option<Pending>; MAX_PENDING],
    /// Per pending transfer, the page being filled (see [`crate::page_buffer`]).
    buffers: [PageBuffer; MAX_PENDING],
    next_sequence: u32,
    /// Where the search for a free slot starts, so that free slots are used
    /// in turn and wear spreads over the partition.
    next_free_search: u16,
    /// How many slots erase-ahead keeps erased.
    erase_ahead_slots: u16,
    /// The lengths of the two images committed last; erase-ahead makes
    /// slots ready for the larger before erasing any slot's rest.
    last_lens: [u32; 2],
    recent_len: u32,
    /// Erases `begin` and `write_at` had to do themselves.
    erases_in_transfers: u32,
    last_flash_error: Option<NorFlashErrorKind>,
}

impl<F: MultiwriteNorFlash> Store<F> {
    /// Validates `config` against `flash` (the partition, offsets from 0)
    /// and reads every slot's header.
    ///
    /// Slots without a valid header are free. Sequence numbers continue after
    /// the largest one found.
    pub fn mount(mut flash: F, config: Config) -> Result<Self, MountError> {
        let layout = config.validate(flash.capacity(), F::READ_SIZE, F::WRITE_SIZE, F::ERASE_SIZE)?;
        let mut slots = [Slot::Free; MAX_SLOTS];
        let mut remap_tables = [0u32; MAX_SLOTS];
        let mut largest: Option<u32> = None;
        let mut largest_len = 0u32;
        for slot in 0..layout.slot_count {
            let mut bytes = [0u8; HEADER_LEN];
            read_unaligned(&mut flash, layout.slot_start(slot), &mut bytes).map_err(|_| MountError::Flash)?;
            let Some(header) = Header::parse(&bytes) else {
                continue;
            };
            if header.len > layout.max_image_size() {
                continue;
            }
            // Two valid headers with one sequence number cannot come from
            // this store's write order; keep the first so reads by sequence
            // number stay unambiguous.
            let duplicate =
                slots.iter().any(|known| matches!(known, Slot::Image(info) if info.sequence == header.sequence));
            if duplicate {
                continue;
            }
            let remaps = match header.remap_table {
                0 => Some(Remaps::EMPTY),
                _ => read_remaps(&mut flash, &layout, slot, &header).map_err(|_| MountError::Flash)?,
            };
            if remaps.is_none() {
                // Its bytes cannot be found: the slot is free.
                continue;
            }
            remap_tables[usize::from(slot)] = header.remap_table;
            slots[usize::from(slot)] =
                Slot::Image(ImageInfo { sequence: header.sequence, len: header.len, crc32: header.crc32 });
            largest = Some(largest.map_or(header.sequence, |l| l.max(header.sequence)));
            largest_len = largest_len.max(header.len);
        }
        Ok(Store {
            flash,
            layout,
            slots,
            remap_tables,
            pending: [None; MAX_PENDING],
            buffers: [PageBuffer::EMPTY; MAX_PENDING],
            next_sequence: largest.map_or(1, |l| l.wrapping_add(1)),
            next_free_search: 0,
            erase_ahead_slots: default_erase_ahead_slots(layout.slot_count),
            last_lens: [largest_len; 2],
            recent_len: largest_len,
            erases_in_transfers: 0,
            last_flash_error: None,
        })
    }

    /// The validated configuration.
    pub fn config(&self) -> Config {
        Config { slot_count: self.layout.slot_count, slot_size: self.layout.slot_size }
    }

    /// The largest image `begin` accepts.
    pub fn max_image_size(&self) -> u32 {
        self.layout.max_image_size()
    }

    /// The sequence number the next commit will get.
    pub fn next_sequence(&self) -> u32 {
        self.next_sequence
    }

    /// The size erase-ahead makes a slot ready for first: the larger of the
    /// two images committed last (at boot, the largest image found).
    pub fn recent_len(&self) -> u32 {
        self.recent_len
    }

    /// How many slots [`ImageStore::erase_ahead`] keeps erased: one per
    /// transfer that may start while the node is idle. Each slot beyond the
    /// free ones costs an old image (never the newest); 0 turns erase-ahead
    /// off. Unless set, every slot but two, at least one
    /// ([`default_erase_ahead_slots`]).
    pub fn set_erase_ahead_slots(&mut self, slots: u16) {
        self.erase_ahead_slots = slots.min(MAX_PENDING as u16);
    }

    /// Erases a transfer had to wait for since mount (`begin` and `write_at`
    /// into a slot not erased ahead): 0 while every transfer finds its slot
    /// erased ahead.
    pub fn erases_in_transfers(&self) -> u32 {
        self.erases_in_transfers
    }

    /// Slots erased ahead, whole or in part.
    pub fn erased_ahead(&self) -> usize {
        self.slots[..usize::from(self.layout.slot_count)]
            .iter()
            .filter(|state| matches!(state, Slot::Erased { .. }))
            .count()
    }

    /// The kind of the last flash error behind a [`StoreError::Flash`], for
    /// diagnostics.
    pub fn last_flash_error(&self) -> Option<NorFlashErrorKind> {
        self.last_flash_error
    }

    /// Reads a committed image back in full and checks it against the CRC-32
    /// in its header; [`StoreError::Corrupt`] when they differ.
    pub fn verify(&mut self, sequence: u32) -> Result<(), StoreError> {
        let (slot, info) = self.find_image(sequence)?;
        let remaps = self.image_remaps(slot, info)?;
        let crc = self.data_crc(slot, &remaps, info.len)?;
        if crc == info.crc32 {
            Ok(())
        } else {
            Err(StoreError::Corrupt)
        }
    }

    /// The flash.
    pub fn flash(&self) -> &F {
        &self.flash
    }

    /// The flash, mutably: writing to it behind the store's back can corrupt
    /// images, which the CRC-32 checks then report.
    pub fn flash_mut(&mut self) -> &mut F {
        &mut self.flash
    }

    /// Gives the flash back, forgetting pending transfers.
    pub fn into_flash(self) -> F {
        self.flash
    }

    /// Programs the bytes buffered for pending transfer `entry`, if any.
    fn flush(&mut self, entry: usize) -> Result<(), StoreError> {
        let Some(flush) = self.buffers[entry].take() else {
            return Ok(());
        };
        let (address, data) = (flush.address, flush.data);
        write_unaligned(&mut self.flash, address, data).map_err(|kind| {
            self.last_flash_error = Some(kind);
            StoreError::Flash
        })
    }

    fn flash_error(&mut self, kind: NorFlashErrorKind) -> StoreError {
        self.last_flash_error = Some(kind);
        StoreError::Flash
    }

    fn pending_index(&self, handle: WriteHandle) -> Result<usize, StoreError> {
        self.pending
            .iter()
            .position(|entry| entry.as_ref().is_some_and(|pending| pending.handle() == handle))
            .ok_or(StoreError::BadHandle)
    }

    fn find_image(&self, sequence: u32) -> Result<(u16, ImageInfo), StoreError> {
        self.slots[..usize::from(self.layout.slot_count)]
            .iter()
            .enumerate()
            .find_map(|(slot, state)| match state {
                Slot::Image(info) if info.sequence == sequence => Some((slot as u16, *info)),
                _ => None,
            })
            .ok_or(StoreError::NotFound)
    }

    fn newest_slot(&self) -> Option<(u16, ImageInfo)> {
        self.slots[..usize::from(self.layout.slot_count)]
            .iter()
            .enumerate()
            .filter_map(|(slot, state)| match state {
                Slot::Image(info) => Some((slot as u16, *info)),
                _ => None,
            })
            .max_by_key(|(_, info)| info.sequence)
    }

    /// A free slot, taken in turn; else the oldest image that is not the
    /// newest.
    fn choose_slot(&self) -> Option<u16> {
        let count = self.layout.slot_count;
        let free = (0..count)
            .map(|step| (self.next_free_search + step) % count)
            .find(|&slot| self.slots[usize::from(slot)] == Slot::Free);
        if free.is_some() {
            return free;
        }
        let newest = self.newest_slot().map(|(slot, _)| slot);
        self.slots[..usize::from(count)]
            .iter()
            .enumerate()
            .filter_map(|(slot, state)| match state {
                Slot::Image(info) if Some(slot as u16) != newest => Some((slot as u16, info.sequence)),
                _ => None,
            })
            .min_by_key(|(_, sequence)| *sequence)
            .map(|(slot, _)| slot)
    }

    /// The slot erased ahead over at least `needed` bytes and
    /// [`REPAIR_MARGIN`] more (room for a segment repair), erased least far
    /// (so larger slots stay for larger images); else the one erased least
    /// far over `needed`; else the one erased furthest; with how far it is
    /// erased.
    fn erased_slot(&self, needed: u32) -> Option<(u16, u32)> {
        let erased = || {
            self.slots[..usize::from(self.layout.slot_count)].iter().enumerate().filter_map(|(slot, state)| match state
            {
                Slot::Erased { upto } => Some((slot as u16, *upto)),
                _ => None,
            })
        };
        let least_over = |limit: u32| erased().filter(|(_, upto)| *upto >= limit).min_by_key(|(_, upto)| *upto);
        least_over(needed.saturating_add(REPAIR_MARGIN))
            .or_else(|| least_over(needed))
            .or_else(|| erased().max_by_key(|(_, upto)| *upto))
    }

    /// The next erase of erase-ahead in a slot erased over its first `upto`
    /// bytes, as `(from, to)` flash offsets.
    ///
    /// The header sector goes first and alone: once it is erased the slot
    /// shows no image, so a torn erase later in the slot cannot leave a valid
    /// header over damaged data. Then whole 64 KB blocks where a block lies
    /// inside the slot on a block boundary (the first block again, header
    /// sector and all: one block erase, 150 ms typical, costs less than the
    /// fifteen sector erases it replaces, 675 ms), else single sectors.
    fn next_erase(&self, slot: u16, upto: u32) -> (u32, u32) {
        let start = self.layout.slot_start(slot);
        let end = start + self.layout.slot_size;
        let sector = self.layout.erase_size;
        if upto == 0 {
            return (start, start + sector);
        }
        let at = start + upto;
        let blocks = BLOCK_SIZE > sector && BLOCK_SIZE.is_multiple_of(sector);
        if blocks {
            let first_block_whole = start.is_multiple_of(BLOCK_SIZE) && end - start >= BLOCK_SIZE;
            if upto == sector && first_block_whole {
                return (start, start + BLOCK_SIZE);
            }
            if at.is_multiple_of(BLOCK_SIZE) && end - at >= BLOCK_SIZE {
                return (at, at + BLOCK_SIZE);
            }
        }
        (at, at + sector)
    }

    /// The relocation table of a committed image (empty for one stored in place).
    fn image_remaps(&mut self, slot: u16, info: ImageInfo) -> Result<Remaps, StoreError> {
        let table = self.remap_tables[usize::from(slot)];
        if table == 0 {
            return Ok(Remaps::EMPTY);
        }
        let header = Header { sequence: info.sequence, len: info.len, crc32: info.crc32, remap_table: table };
        // Mount checked the table; reading it again fails only if the flash changed under the store.
        match read_remaps(&mut self.flash, &self.layout, slot, &header) {
            Ok(Some(remaps)) => Ok(remaps),
            Ok(None) => Err(StoreError::Corrupt),
            Err(kind) => Err(self.flash_error(kind)),
        }
    }

    /// Reads `buffer.len()` bytes of a slot's data from `offset`, through its relocations.
    fn read_data(&mut self, slot: u16, remaps: &Remaps, offset: u32, buffer: &mut [u8]) -> Result<(), StoreError> {
        let start = self.layout.slot_start(slot);
        let mut done = 0usize;
        while done < buffer.len() {
            let (at, take) = remaps.locate(DATA_OFFSET, offset + done as u32, (buffer.len() - done) as u32);
            let piece = &mut buffer[done..done + take as usize];
            read_unaligned(&mut self.flash, start + at, piece).map_err(|kind| self.flash_error(kind))?;
            done += take as usize;
        }
        Ok(())
    }

    /// The CRC-32 of the first `len` bytes of a slot's data, read in pieces.
    fn data_crc(&mut self, slot: u16, remaps: &Remaps, len: u32) -> Result<u32, StoreError> {
        let mut digest = CRC32.digest();
        let mut piece = [0u8; 4 * SCRATCH_LEN];
        let mut offset = 0u32;
        while offset < len {
            let take = (len - offset).min(piece.len() as u32);
            self.read_data(slot, remaps, offset, &mut piece[..take as usize])?;
            digest.update(&piece[..take as usize]);
            offset += take;
        }
        Ok(digest.finalize())
    }

    /// Writes and reads back the header that commits an image.
    fn write_header(&mut self, slot: u16, header: &Header) -> Result<(), StoreError> {
        let start = self.layout.slot_start(slot);
        // On a flash whose write size exceeds the header, the rest of the
        // word is read back erased and written as 0xff.
        write_unaligned(&mut self.flash, start, &header.emit()).map_err(|kind| self.flash_error(kind))?;
        let mut back = [0u8; HEADER_LEN];
        read_unaligned(&mut self.flash, start, &mut back).map_err(|kind| self.flash_error(kind))?;
        if Header::parse(&back) == Some(*header) {
            Ok(())
        } else {
            Err(self.flash_error(NorFlashErrorKind::Other))
        }
    }
}

impl<F: MultiwriteNorFlash> Store<F> {
    /// Writes `data` at slot offset `at` of pending transfer `entry`
    /// through its page buffer, erasing each sector it reaches for the first
    /// time (only sectors of the image in place can be: a relocation goes
    /// to sectors already erased).
    fn write_mapped(&mut self, entry: usize, slot: u16, at: u32, data: &[u8]) -> Result<(), StoreError> {
        let start = self.layout.slot_start(slot);
        let erase_size = self.layout.erase_size;
        let first_sector = at / erase_size;
        let last_sector = (at + data.len() as u32 - 1) / erase_size;
        for sector in first_sector..=last_sector {
            let Some(pending) = self.pending[entry].as_mut() else {
                return Err(StoreError::BadHandle);
            };
            if pending.is_erased(sector) {
                continue;
            }
            let from = start + sector * erase_size;
            self.erases_in_transfers += 1;
            self.flash
                .erase(from, from + erase_size)
                .map_err(|error| error.kind())
                .map_err(|kind| self.flash_error(kind))?;
            if let Some(pending) = self.pending[entry].as_mut() {
                pending.mark_erased(sector);
            }
        }
        for (address, range) in page_buffer::pieces(start + at, data.len()) {
            if self.buffers[entry].needs_flush_before(address) {
                self.flush(entry)?;
            }
            if self.buffers[entry].push(address, &data[range]) {
                self.flush(entry)?;
            }
        }
        Ok(())
    }

    /// Writes a pending image's relocation table after its last relocated
    /// bytes (where `discard` kept room for it); returns its slot offset.
    fn write_remaps(&mut self, slot: u16, pending: &Pending) -> Result<u32, StoreError> {
        let at = table_offset(u64::from(pending.spare)) as u32;
        let mut table = [0u8; MAX_TABLE_LEN];
        let len = pending.remaps.emit(&mut table);
        let address = self.layout.slot_start(slot) + at;
        write_unaligned(&mut self.flash, address, &table[..len]).map_err(|kind| self.flash_error(kind))?;
        Ok(at)
    }
}

/// Slots erase-ahead keeps erased unless told otherwise: all but two, so
/// that the newest image and the one before it stay (two with the boards'
/// four slots), and at least one.
pub fn default_erase_ahead_slots(slot_count: u16) -> u16 {
    slot_count.saturating_sub(2).clamp(1, MAX_PENDING as u16)
}

/// Erased space past the image that `begin` prefers a slot to have, for the
/// segments a repair writes again (four 16-chunk segments of 241-byte
/// chunks, and the table).
const REPAIR_MARGIN: u32 = 16 * 1024;

/// Where the relocation table goes after spare bytes used up to `spare`: the
/// next word.
fn table_offset(spare: u64) -> u64 {
    spare.next_multiple_of(4)
}

/// Reads and checks the relocation table a header points at: `Ok(None)`
/// when it is not a valid table for that image and slot (the slot is free),
/// an error when the flash could not be read (which says nothing of the
/// image, so it must not free the slot).
fn read_remaps<F: MultiwriteNorFlash>(
    flash: &mut F,
    layout: &Layout,
    slot: u16,
    header: &Header,
) -> Result<Option<Remaps>, NorFlashErrorKind> {
    let table = header.remap_table;
    // The table lies past the image's bytes, inside the slot.
    if table < DATA_OFFSET.saturating_add(header.len) || table >= layout.slot_size {
        return Ok(None);
    }
    let len = (layout.slot_size - table).min(MAX_TABLE_LEN as u32) as usize;
    let mut bytes = [0u8; MAX_TABLE_LEN];
    read_unaligned(flash, layout.slot_start(slot) + table, &mut bytes[..len])?;
    let remaps = Remaps::parse(&bytes[..len], header.len, DATA_OFFSET, layout.slot_size);
    // No run may reach into the table itself.
    Ok(remaps.filter(|remaps| remaps.ends_before(table)))
}

impl<F: MultiwriteNorFlash> ImageStore for Store<F> {
    /// Takes a slot erased ahead over the whole image if there is one: no
    /// flash operation at all. Otherwise it takes the slot erased ahead
    /// furthest, or else a free slot (or the oldest image that is not the
    /// newest) whose header sector it erases, so that from here on the slot
    /// shows no image, even after a power cut; the sectors not erased yet are
    /// erased one by one as writes first reach them.
    fn begin(&mut self, len: u32) -> Result<WriteHandle, StoreError> {
        if len > self.layout.max_image_size() {
            return Err(StoreError::TooLarge);
        }
        let entry = self.pending.iter().position(Option::is_none).ok_or(StoreError::NoFreeSlot)?;
        let erase_size = self.layout.erase_size;
        let (slot, upto) = match self.erased_slot(DATA_OFFSET + len) {
            Some(erased) => erased,
            None => {
                let slot = self.choose_slot().ok_or(StoreError::NoFreeSlot)?;
                let start = self.layout.slot_start(slot);
                let erased = self.flash.erase(start, start + erase_size);
                self.erases_in_transfers += 1;
                if let Err(error) = erased {
                    // A failed erase may have destroyed the header, so the slot no
                    // longer counts as an image either way.
                    self.slots[usize::from(slot)] = Slot::Free;
                    return Err(self.flash_error(error.kind()));
                }
                (slot, erase_size)
            }
        };
        let spare = DATA_OFFSET + len;
        let mut pending =
            Pending { slot, len, erased: [0; BITMAP_WORDS], written: false, remaps: Remaps::EMPTY, spare };
        for sector in 0..upto / erase_size {
            pending.mark_erased(sector);
        }
        self.slots[usize::from(slot)] = Slot::Pending;
        self.pending[entry] = Some(pending);
        self.buffers[entry] = PageBuffer::EMPTY;
        self.next_free_search = (slot + 1) % self.layout.slot_count;
        Ok(pending.handle())
    }

    /// Whether a slot is erased ahead over the whole image, and a transfer
    /// may still start.
    fn ready_for(&self, len: u32) -> bool {
        len <= self.layout.max_image_size()
            && self.pending.iter().any(Option::is_none)
            && self.erased_slot(DATA_OFFSET + len).is_some_and(|(_, upto)| upto >= DATA_OFFSET + len)
    }

    /// Slots erased ahead over the whole image, as many as pending entries allow.
    fn ready_count(&self, len: u32) -> usize {
        if len > self.layout.max_image_size() {
            return 0;
        }
        let needed = DATA_OFFSET + len;
        let erased = self.slots[..usize::from(self.layout.slot_count)]
            .iter()
            .filter(|state| matches!(state, Slot::Erased { upto } if *upto >= needed))
            .count();
        erased.min(self.pending.iter().filter(|entry| entry.is_none()).count())
    }

    /// One erase of erase-ahead, the most useful first:
    ///
    /// 1. a slot erased in part, short of the size of the recent images
    ///    ([`Store::recent_len`]): it is not ready for the next one yet;
    /// 2. while fewer slots than [`Store::set_erase_ahead_slots`] asks are
    ///    erased, a new one: a free slot, or the oldest image that is not
    ///    the newest;
    /// 3. the rest of a slot erased in part (room for larger images, and
    ///    the spare space a segment repair writes into).
    ///
    /// So with several cameras the slots become ready for their images one
    /// after another, before any slot's tail is erased (a 576 KiB slot takes
    /// 1.4 s in all). Nothing while a transfer is pending.
    fn erase_ahead(&mut self) -> Result<EraseStep, StoreError> {
        if self.pending.iter().any(Option::is_some) {
            return Ok(EraseStep::Idle);
        }
        let slot_size = self.layout.slot_size;
        let wanted = DATA_OFFSET.saturating_add(self.recent_len).min(slot_size);
        let partial = |below: u32| {
            self.slots[..usize::from(self.layout.slot_count)].iter().enumerate().find_map(|(slot, state)| match state {
                Slot::Erased { upto } if *upto < below => Some((slot as u16, *upto)),
                _ => None,
            })
        };
        let new_slot =
            || (self.erased_ahead() < usize::from(self.erase_ahead_slots)).then(|| self.choose_slot()).flatten();
        let next = partial(wanted).or_else(|| new_slot().map(|slot| (slot, 0))).or_else(|| partial(slot_size));
        let Some((slot, upto)) = next else {
            return Ok(EraseStep::Idle);
        };
        let (from, to) = self.next_erase(slot, upto);
        if let Err(error) = self.flash.erase(from, to) {
            // The header may be gone: the slot is free either way.
            self.slots[usize::from(slot)] = Slot::Free;
            return Err(self.flash_error(error.kind()));
        }
        self.slots[usize::from(slot)] = Slot::Erased { upto: to - self.layout.slot_start(slot) };
        if upto == 0 {
            self.next_free_search = (slot + 1) % self.layout.slot_count;
        }
        Ok(EraseStep::Erased)
    }

    /// Writes `data` at `offset` of the image (through its relocations),
    /// erasing each sector it reaches for the first time. Each byte may be
    /// written once (or again with the same value).
    fn write_at(&mut self, handle: WriteHandle, offset: u32, data: &[u8]) -> Result<(), StoreError> {
        let entry = self.pending_index(handle)?;
        let data_len = u32::try_from(data.len()).map_err(|_| StoreError::OutOfBounds)?;
        let end = offset.checked_add(data_len).ok_or(StoreError::OutOfBounds)?;
        if end > handle.len {
            return Err(StoreError::OutOfBounds);
        }
        if data.is_empty() {
            return Ok(());
        }
        let Some(pending) = self.pending[entry].as_mut() else {
            return Err(StoreError::BadHandle);
        };
        pending.written = true;
        let mut done = 0usize;
        while done < data.len() {
            // Located through the table where it lies: a chunk write is the hot path.
            let (at, take) = self.pending[entry].as_ref().ok_or(StoreError::BadHandle)?.remaps.locate(
                DATA_OFFSET,
                offset + done as u32,
                (data.len() - done) as u32,
            );
            self.write_mapped(entry, handle.slot, at, &data[done..done + take as usize])?;
            done += take as usize;
        }
        Ok(())
    }

    /// Moves bytes `offset..offset + len` of a pending image into the slot's
    /// spare space, erased and never written (past the image's end, where
    /// erase-ahead erased the rest of the slot), so that a segment repair
    /// can write them again without an erase; returns the range, which is
    /// the one asked.
    ///
    /// Refuses with [`StoreError::NotRewritable`] when the spare space
    /// erased so far (with room left for the relocation table written at
    /// commit) cannot take the bytes, or the table is full
    /// ([`crate::remap::MAX_RUNS`]): an erase in the middle of a transfer
    /// would stall it (a sector takes about 45 ms, during which no frame is
    /// read), so the receiver fails the transfer instead.
    fn discard(&mut self, handle: WriteHandle, offset: u32, len: u32) -> Result<(u32, u32), StoreError> {
        let entry = self.pending_index(handle)?;
        let end = offset.checked_add(len).ok_or(StoreError::OutOfBounds)?;
        if end > handle.len {
            return Err(StoreError::OutOfBounds);
        }
        if len == 0 {
            return Ok((offset, end));
        }
        // Bytes already buffered for the old place go there: harmless, and
        // the buffer is then free for the new one.
        self.flush(entry)?;
        let erase_size = self.layout.erase_size;
        let slot_size = self.layout.slot_size;
        let Some(pending) = self.pending[entry].as_mut() else {
            return Err(StoreError::BadHandle);
        };
        // The same place within a page as the bytes' first home, so chunks
        // in order still fill whole pages.
        let home = DATA_OFFSET + offset;
        let at = u64::from(pending.spare).next_multiple_of(u64::from(PAGE_SIZE)) + u64::from(home % PAGE_SIZE);
        let needed_end = table_offset(at + u64::from(len)) + MAX_TABLE_LEN as u64;
        if needed_end > u64::from(slot_size) {
            return Err(StoreError::NotRewritable);
        }
        let (at, needed_end) = (at as u32, needed_end as u32);
        if !(at / erase_size..=(needed_end - 1) / erase_size).all(|sector| pending.is_erased(sector)) {
            return Err(StoreError::NotRewritable);
        }
        if !pending.remaps.push(Run { offset, len, at }) {
            return Err(StoreError::NotRewritable);
        }
        pending.spare = at + len;
        Ok((offset, end))
    }

    /// Reads back written data; bytes no write has reached yet read as
    /// erased (`0xff`) or as leftovers of the slot's previous image.
    fn read_pending_at(&mut self, handle: WriteHandle, offset: u32, buffer: &mut [u8]) -> Result<usize, StoreError> {
        let entry = self.pending_index(handle)?;
        if offset > handle.len {
            return Err(StoreError::OutOfBounds);
        }
        self.flush(entry)?;
        let remaps = self.pending[entry].map_or(Remaps::EMPTY, |pending| pending.remaps);
        let take = (handle.len - offset).min(u32::try_from(buffer.len()).unwrap_or(u32::MAX));
        self.read_data(handle.slot, &remaps, offset, &mut buffer[..take as usize])?;
        Ok(take as usize)
    }

    /// Checks that every sector of the image was erased during this transfer
    /// and that the data's CRC-32 is `crc32`, then writes the header.
    ///
    /// On [`StoreError::Corrupt`] the transfer stays pending (abandon it or
    /// write the missing chunks); on [`StoreError::Flash`] from the header
    /// write the slot is given up, since a half-written header cannot be
    /// written again.
    fn commit(&mut self, handle: WriteHandle, crc32: u32) -> Result<ImageInfo, StoreError> {
        let entry = self.pending_index(handle)?;
        let Some(pending) = self.pending[entry] else {
            return Err(StoreError::BadHandle);
        };
        self.flush(entry)?;
        // A sector that was never erased was never written, so it holds
        // leftovers, which could even match the CRC if the same image was
        // stored before.
        let last_sector = (DATA_OFFSET + handle.len).saturating_sub(1) / self.layout.erase_size;
        if !(0..=last_sector).all(|sector| pending.is_erased(sector)) {
            return Err(StoreError::Corrupt);
        }
        if self.data_crc(handle.slot, &pending.remaps, handle.len)? != crc32 {
            return Err(StoreError::Corrupt);
        }
        // The table before the header: until the header is whole, the slot is free.
        let remap_table = if pending.remaps.is_empty() { 0 } else { self.write_remaps(handle.slot, &pending)? };
        let header = Header { sequence: self.next_sequence, len: handle.len, crc32, remap_table };
        self.pending[entry] = None;
        if let Err(error) = self.write_header(handle.slot, &header) {
            self.slots[usize::from(handle.slot)] = Slot::Free;
            return Err(error);
        }
        let info = ImageInfo { sequence: header.sequence, len: header.len, crc32 };
        self.last_lens = [self.last_lens[1], header.len];
        self.recent_len = self.last_lens[0].max(self.last_lens[1]);
        self.slots[usize::from(handle.slot)] = Slot::Image(info);
        self.remap_tables[usize::from(handle.slot)] = remap_table;
        // u32 sequence numbers last 136 years at one image per second.
        self.next_sequence = self.next_sequence.wrapping_add(1);
        Ok(info)
    }

    /// Frees the slot of a pending transfer; a handle that names none is
    /// ignored. A slot nothing was written into stays erased ahead (a
    /// camera that offers again under a new session takes it at once).
    fn abandon(&mut self, handle: WriteHandle) {
        if let Ok(entry) = self.pending_index(handle) {
            let state = match self.pending[entry] {
                Some(pending) if !pending.written => {
                    let sectors = (0..)
                        .take_while(|&sector| (sector as usize) < MAX_SECTORS_PER_SLOT && pending.is_erased(sector));
                    Slot::Erased { upto: sectors.count() as u32 * self.layout.erase_size }
                }
                _ => Slot::Free,
            };
            self.pending[entry] = None;
            self.buffers[entry] = PageBuffer::EMPTY;
            self.slots[usize::from(handle.slot)] = state;
        }
    }

    fn newest(&self) -> Option<ImageInfo> {
        self.newest_slot().map(|(_, info)| info)
    }

    fn list(&self, out: &mut [ImageInfo]) -> usize {
        let images = || {
            self.slots[..usize::from(self.layout.slot_count)].iter().filter_map(|state| match state {
                Slot::Image(info) => Some(*info),
                _ => None,
            })
        };
        let mut written = 0;
        let mut below: Option<u32> = None;
        while written < out.len() {
            let next = images()
                .filter(|info| below.is_none_or(|limit| info.sequence < limit))
                .max_by_key(|info| info.sequence);
            let Some(info) = next else {
                break;
            };
            out[written] = info;
            written += 1;
            below = Some(info.sequence);
        }
        written
    }

    fn read_at(&mut self, sequence: u32, offset: u32, buffer: &mut [u8]) -> Result<usize, StoreError> {
        let (slot, info) = self.find_image(sequence)?;
        if offset > info.len {
            return Err(StoreError::OutOfBounds);
        }
        let remaps = self.image_remaps(slot, info)?;
        let take = (info.len - offset).min(u32::try_from(buffer.len()).unwrap_or(u32::MAX));
        self.read_data(slot, &remaps, offset, &mut buffer[..take as usize])?;
        Ok(take as usize)
    }
}
