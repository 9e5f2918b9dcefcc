//! Where received images are kept: flash slots on the chip, memory on the host.

/// A stored image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ImageInfo {
    /// Grows by one with every committed image; the largest is the newest.
    pub sequence: u32,
    pub len: u32,
    pub crc32: u32,
}

/// An image being written: returned by [`ImageStore::begin`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct WriteHandle {
    pub slot: u16,
    pub len: u32,
}

/// Why the store refused an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum StoreError {
    /// the image is larger than a slot
    TooLarge,
    /// every slot is in use by a pending write or a kept image
    NoFreeSlot,
    /// the write falls outside the image
    OutOfBounds,
    /// the handle does not name a pending write
    BadHandle,
    /// no image with that sequence number is stored
    NotFound,
    /// the data read back does not match its CRC-32
    Corrupt,
    /// the flash driver failed
    Flash,
}

impl core::fmt::Display for StoreError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            StoreError::TooLarge => "the image is larger than a slot",
            StoreError::NoFreeSlot => "every slot is in use",
            StoreError::OutOfBounds => "the write falls outside the image",
            StoreError::BadHandle => "no pending write has that handle",
            StoreError::NotFound => "no image with that sequence number is stored",
            StoreError::Corrupt => "the stored image does not match its CRC-32",
            StoreError::Flash => "the flash driver failed",
        })
    }
}

impl core::error::Error for StoreError {}

/// A power-loss-safe image store.
///
/// Writes land at their offsets as chunks arrive; an image becomes visible
/// only when `commit` has written its header, and the newest committed image
/// is never erased to make room.
pub trait ImageStore {
    /// Reserves a slot for an image of `len` bytes.
    fn begin(&mut self, len: u32) -> Result<WriteHandle, StoreError>;

    /// Writes `data` at `offset` of a pending image.
    fn write_at(&mut self, handle: WriteHandle, offset: u32, data: &[u8]) -> Result<(), StoreError>;

    /// Reads back part of a pending image (to check its CRC-32 before commit).
    fn read_pending_at(&mut self, handle: WriteHandle, offset: u32, buffer: &mut [u8]) -> Result<usize, StoreError>;

    /// Makes a pending image visible; returns its sequence number.
    fn commit(&mut self, handle: WriteHandle, crc32: u32) -> Result<ImageInfo, StoreError>;

    /// Gives up a pending image; its slot becomes free.
    fn abandon(&mut self, handle: WriteHandle);

    /// The newest committed image.
    fn newest(&self) -> Option<ImageInfo>;

    /// Committed images, newest first, into `out`; returns how many were written.
    fn list(&self, out: &mut [ImageInfo]) -> usize;

    /// Reads part of a committed image; returns the number of bytes read (0 at the end).
    fn read_at(&mut self, sequence: u32, offset: u32, buffer: &mut [u8]) -> Result<usize, StoreError>;
}
