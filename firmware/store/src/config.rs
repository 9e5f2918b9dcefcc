//! The slot layout and its validation against the flash geometry.

use crate::header::DATA_OFFSET;
use crate::io::SCRATCH_LEN;
use crate::timing::BLOCK_SIZE;

/// The most slots a store tracks (its slot table is a fixed array).
pub const MAX_SLOTS: usize = 64;

/// The most transfers that may be pending at once.
pub const MAX_PENDING: usize = 8;

/// The most erase sectors in one slot: the size of the erased-sector bitmap
/// kept for each pending transfer (1 MiB slots with 4 KiB sectors).
pub const MAX_SECTORS_PER_SLOT: usize = 256;

/// The fewest slots that keep the newest image, the one before it, and room
/// to receive the next.
const MIN_SLOTS: u16 = 3;

/// How a partition is cut into slots.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Config {
    /// Number of slots; each holds one image or one pending transfer.
    pub slot_count: u16,
    /// Bytes per slot, a multiple of the flash's erase size; the largest image
    /// is `slot_size - DATA_OFFSET` bytes.
    pub slot_size: u32,
}

/// Why a [`Config`] does not fit the flash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ConfigError {
    /// the flash's read, write or erase size is not supported by the store
    UnsupportedGeometry,
    /// the slot size is zero or not a multiple of the erase size
    SlotSizeNotErasable,
    /// a slot has more erase sectors than the store can track
    SlotTooLarge,
    /// fewer than three slots
    TooFewSlots,
    /// more slots than the store can track
    TooManySlots,
    /// the slots do not fit in the partition
    PartitionTooSmall,
}

impl core::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            ConfigError::UnsupportedGeometry => "the flash's read, write or erase size is not supported",
            ConfigError::SlotSizeNotErasable => "the slot size is zero or not a multiple of the erase size",
            ConfigError::SlotTooLarge => "a slot has more erase sectors than the store can track",
            ConfigError::TooFewSlots => "fewer than three slots",
            ConfigError::TooManySlots => "more slots than the store can track",
            ConfigError::PartitionTooSmall => "the slots do not fit in the partition",
        })
    }
}

impl core::error::Error for ConfigError {}

impl Config {
    /// A layout for a partition of `partition_size` bytes with erase sectors
    /// of `erase_size` bytes, with slots large enough for images of
    /// `max_image_size` bytes, and as many slots as fit (at most
    /// [`MAX_SLOTS`]).
    ///
    /// Slots of a block or more are a whole number of 64 KiB blocks when that
    /// costs no slot, so
    /// that on a partition starting at a block boundary every slot does and
    /// erase-ahead clears it in block erases (150 ms per 64 KiB instead of
    /// 720 ms in sectors). With the receiver's 2.4 MiB partition and 512 KiB
    /// images that is four 576 KiB slots rather than four of 516 KiB.
    ///
    /// Fails with [`ConfigError::PartitionTooSmall`] when fewer than three
    /// slots fit, and with the errors of validation otherwise.
    pub fn for_partition(partition_size: u32, erase_size: u32, max_image_size: u32) -> Result<Config, ConfigError> {
        if erase_size == 0 {
            return Err(ConfigError::UnsupportedGeometry);
        }
        let needed = u64::from(DATA_OFFSET) + u64::from(max_image_size);
        let sectors = needed.div_ceil(u64::from(erase_size));
        if sectors > MAX_SECTORS_PER_SLOT as u64 {
            return Err(ConfigError::SlotTooLarge);
        }
        let sector_slot = sectors * u64::from(erase_size);
        let block_slot = sector_slot.next_multiple_of(u64::from(BLOCK_SIZE));
        // Below one block, a few sector erases cost less than a block erase.
        let blocks_fit = sector_slot >= u64::from(BLOCK_SIZE)
            && u64::from(BLOCK_SIZE).is_multiple_of(u64::from(erase_size))
            && block_slot / u64::from(erase_size) <= MAX_SECTORS_PER_SLOT as u64
            && (u64::from(partition_size) / block_slot).min(MAX_SLOTS as u64)
                >= (u64::from(partition_size) / sector_slot).min(MAX_SLOTS as u64);
        let slot_size = if blocks_fit { block_slot } else { sector_slot };
        let slot_size = u32::try_from(slot_size).map_err(|_| ConfigError::SlotTooLarge)?;
        let fitting = partition_size / slot_size;
        if fitting < u32::from(MIN_SLOTS) {
            return Err(ConfigError::PartitionTooSmall);
        }
        let slot_count = fitting.min(MAX_SLOTS as u32) as u16;
        Ok(Config { slot_count, slot_size })
    }

    /// The largest image a slot holds.
    pub fn max_image_size(&self) -> u32 {
        self.slot_size.saturating_sub(DATA_OFFSET)
    }

    /// Checks the layout against a flash of `capacity` bytes with the given
    /// read, write and erase sizes.
    pub(crate) fn validate(
        &self,
        capacity: usize,
        read_size: usize,
        write_size: usize,
        erase_size: usize,
    ) -> Result<Layout, ConfigError> {
        // Partial words are merged through a fixed stack buffer, and the
        // header and data offsets must fall on write boundaries.
        let geometry_ok = read_size != 0
            && read_size <= SCRATCH_LEN
            && write_size != 0
            && write_size <= SCRATCH_LEN
            && SCRATCH_LEN.is_multiple_of(write_size)
            && erase_size >= DATA_OFFSET as usize
            && erase_size.is_multiple_of(write_size)
            && erase_size.is_multiple_of(read_size);
        if !geometry_ok {
            return Err(ConfigError::UnsupportedGeometry);
        }
        let erase_size = u32::try_from(erase_size).map_err(|_| ConfigError::UnsupportedGeometry)?;
        if self.slot_size == 0 || !self.slot_size.is_multiple_of(erase_size) {
            return Err(ConfigError::SlotSizeNotErasable);
        }
        let sectors_per_slot = self.slot_size / erase_size;
        if sectors_per_slot as usize > MAX_SECTORS_PER_SLOT {
            return Err(ConfigError::SlotTooLarge);
        }
        if self.slot_count < MIN_SLOTS {
            return Err(ConfigError::TooFewSlots);
        }
        if usize::from(self.slot_count) > MAX_SLOTS {
            return Err(ConfigError::TooManySlots);
        }
        // Flash offsets are u32, so the slots must also end within u32 range.
        let total = u64::from(self.slot_count) * u64::from(self.slot_size);
        if total > capacity as u64 || total > u64::from(u32::MAX) {
            return Err(ConfigError::PartitionTooSmall);
        }
        Ok(Layout { slot_count: self.slot_count, slot_size: self.slot_size, erase_size })
    }
}

/// A [`Config`] that has been checked against the flash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Layout {
    pub slot_count: u16,
    pub slot_size: u32,
    pub erase_size: u32,
}

impl Layout {
    /// The flash offset of a slot; `slot` is below `slot_count`, so the
    /// product was checked to fit during validation.
    pub fn slot_start(&self, slot: u16) -> u32 {
        u32::from(slot) * self.slot_size
    }

    pub fn max_image_size(&self) -> u32 {
        self.slot_size - DATA_OFFSET
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KIB: u32 = 1024;

    #[test]
    fn for_partition_fits_the_protocol_default_image() {
        let config = Config::for_partition(2 * 1024 * KIB, 4 * KIB, 512 * KIB).unwrap();
        assert_eq!(config.slot_size, 576 * KIB);
        assert_eq!(config.slot_count, 3);
        assert!(config.max_image_size() >= 512 * KIB);
        assert!(config.validate(2 * 1024 * 1024, 4, 4, 4096).is_ok());
    }

    #[test]
    fn for_partition_uses_whole_blocks_unless_that_costs_a_slot() {
        // The boards' image partition, 0x270000 bytes: four slots either way.
        let config = Config::for_partition(0x27_0000, 4 * KIB, 512 * KIB).unwrap();
        assert_eq!((config.slot_count, config.slot_size), (4, 576 * KIB));
        // Three 516 KiB slots fit in 1548 KiB, three of 576 KiB do not.
        let config = Config::for_partition(1548 * KIB, 4 * KIB, 512 * KIB).unwrap();
        assert_eq!((config.slot_count, config.slot_size), (3, 516 * KIB));
        // A flash whose erase size is a block already.
        let config = Config::for_partition(1024 * KIB, 64 * KIB, 100 * KIB).unwrap();
        assert_eq!(config.slot_size, 128 * KIB);
    }

    #[test]
    fn for_partition_refuses_a_partition_for_two_slots() {
        assert_eq!(Config::for_partition(1536 * KIB, 4 * KIB, 512 * KIB), Err(ConfigError::PartitionTooSmall));
    }

    #[test]
    fn for_partition_caps_the_slot_count() {
        let config = Config::for_partition(16 * 1024 * KIB, 4 * KIB, 4 * KIB).unwrap();
        assert_eq!(config.slot_size, 8 * KIB);
        assert_eq!(usize::from(config.slot_count), MAX_SLOTS);
    }

    #[test]
    fn for_partition_refuses_huge_images_and_zero_erase_size() {
        assert_eq!(Config::for_partition(u32::MAX, 4 * KIB, u32::MAX), Err(ConfigError::SlotTooLarge));
        assert_eq!(Config::for_partition(u32::MAX, 0, 1), Err(ConfigError::UnsupportedGeometry));
    }

    #[test]
    fn validate_reports_each_error() {
        let check = |slot_count, slot_size, capacity, write_size| {
            Config { slot_count, slot_size }.validate(capacity, 4, write_size, 4096).map(|_| ())
        };
        assert_eq!(check(3, 8192, 3 * 8192, 4), Ok(()));
        assert_eq!(check(3, 8192, 3 * 8192, 3), Err(ConfigError::UnsupportedGeometry));
        assert_eq!(check(3, 8192, 3 * 8192, 128), Err(ConfigError::UnsupportedGeometry));
        assert_eq!(check(3, 6000, 3 * 8192, 4), Err(ConfigError::SlotSizeNotErasable));
        assert_eq!(check(3, 0, 3 * 8192, 4), Err(ConfigError::SlotSizeNotErasable));
        assert_eq!(check(3, 257 * 4096, 1 << 30, 4), Err(ConfigError::SlotTooLarge));
        assert_eq!(check(2, 8192, 3 * 8192, 4), Err(ConfigError::TooFewSlots));
        assert_eq!(check(65, 8192, 1 << 30, 4), Err(ConfigError::TooManySlots));
        assert_eq!(check(3, 8192, 3 * 8192 - 1, 4), Err(ConfigError::PartitionTooSmall));
        // 64 slots of 256 MiB end beyond the u32 offsets of NorFlash.
        let huge = Config { slot_count: 64, slot_size: 256 << 20 };
        assert_eq!(huge.validate(usize::MAX, 4, 4, 1 << 20), Err(ConfigError::PartitionTooSmall));
    }
}
