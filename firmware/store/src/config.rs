//! The slot layout and its validation against the flash geometry.

use crate::header::DATA_OFFSET;
use crate::io::SCRATCH_LEN;

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
        let slot_size = u32::try_from(sectors * u64::from(erase_size)).map_err(|_| ConfigError::SlotTooLarge)?;
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
        assert_eq!(config.slot_size, 516 * KIB);
        assert_eq!(config.slot_count, 3);
        assert!(config.max_image_size() >= 512 * KIB);
        assert!(config.validate(2 * 1024 * 1024, 4, 4, 4096).is_ok());
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
