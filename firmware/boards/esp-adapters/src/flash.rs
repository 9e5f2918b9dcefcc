//! The image partition: found by label in the partition table and handed
//! to the store as an `embedded-storage` NOR flash.

use esp_bootloader_esp_idf::partitions::{self, FlashRegion, NorFlashRegion, PartitionType, PARTITION_TABLE_MAX_LEN};
use esp_hal::peripherals::FLASH;
use esp_storage::FlashStorage;
use static_cell::StaticCell;

/// The label of the image partition in `partitions.csv`.
pub const IMAGES_LABEL: &str = "images";

/// Why the image partition could not be opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PartitionError {
    /// the partition table could not be read or is not valid
    Table,
    /// the partition table has no data partition labelled `images`
    Missing,
    /// the image partition is encrypted, which the store does not support
    Encrypted,
    /// the partition was already opened once since boot
    AlreadyOpen,
}

impl core::fmt::Display for PartitionError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            PartitionError::Table => "the partition table could not be read",
            PartitionError::Missing => "the partition table has no data partition labelled images",
            PartitionError::Encrypted => "the image partition is encrypted",
            PartitionError::AlreadyOpen => "the image partition is already open",
        })
    }
}

impl core::error::Error for PartitionError {}

/// The image partition as a NOR flash whose offset 0 is the partition's start.
pub type ImagesFlash = NorFlashRegion<'static, 'static, 'static>;

/// Opens the data partition labelled [`IMAGES_LABEL`]; call once.
///
/// The flash driver, the table copy and the region live in statics because
/// each borrows the one before for as long as the store runs.
pub fn images_partition(flash: FLASH<'static>) -> Result<ImagesFlash, PartitionError> {
    static STORAGE: StaticCell<FlashStorage<'static>> = StaticCell::new();
    static TABLE: StaticCell<[u8; PARTITION_TABLE_MAX_LEN]> = StaticCell::new();
    static REGION: StaticCell<FlashRegion<'static, 'static>> = StaticCell::new();

    let storage = STORAGE.try_init(FlashStorage::new(flash)).ok_or(PartitionError::AlreadyOpen)?;
    let table_bytes = TABLE.try_init([0; PARTITION_TABLE_MAX_LEN]).ok_or(PartitionError::AlreadyOpen)?;
    let table = partitions::read_partition_table(storage, table_bytes).map_err(|_| PartitionError::Table)?;
    let entry = table
        .iter()
        .find(|entry| matches!(entry.partition_type(), PartitionType::Data(_)) && entry.label_as_str() == IMAGES_LABEL)
        .ok_or(PartitionError::Missing)?;
    let region = REGION.try_init(entry.as_flash_region(storage)).ok_or(PartitionError::AlreadyOpen)?;
    region.as_nor_flash().map_err(|_| PartitionError::Encrypted)
}
