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
    /// no slot is erased ahead far enough for the image yet
    NotReady,
    /// written flash bytes cannot be written again without an erase, no
    /// erase runs in the middle of a transfer, and the slot has no spare
    /// erased space left to move them to
    NotRewritable,
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
            StoreError::NotReady => "no slot is erased ahead for the image yet",
            StoreError::NotRewritable => "written flash cannot be written again in the middle of a transfer",
        })
    }
}

impl core::error::Error for StoreError {}

/// What one step of [`ImageStore::erase_ahead`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum EraseStep {
    /// One erase operation ran; call again to go on.
    Erased,
    /// Nothing is left to erase ahead, or a transfer is being written (erase
    /// work never runs in the middle of one).
    Idle,
}

/// A power-loss-safe image store.
///
/// Writes land at their offsets as chunks arrive; an image becomes visible
/// only when `commit` has written its header, and the newest committed image
/// is never erased to make room.
///
/// A store on flash erases ahead: between transfers the node calls
/// [`erase_ahead`](ImageStore::erase_ahead), one bounded step per call, so
/// that a slot is erased before an image arrives and no write of a transfer
/// waits for an erase; [`ready_for`](ImageStore::ready_for) says whether
/// such a slot is there. A store with nothing to erase keeps the defaults:
/// always ready, no erase work.
pub trait ImageStore {
    /// Reserves a slot for an image of `len` bytes. A store on flash takes a
    /// slot erased ahead when one is large enough, and otherwise one whose
    /// sectors are erased as writes first reach them.
    fn begin(&mut self, len: u32) -> Result<WriteHandle, StoreError>;

    /// Whether `begin(len)` would get a slot already erased for `len` bytes,
    /// so that no write of the transfer waits for an erase.
    fn ready_for(&self, len: u32) -> bool {
        let _ = len;
        true
    }

    /// How many transfers of `len` bytes could `begin` now, each in a slot
    /// already erased for it (what [`ready_for`](ImageStore::ready_for) says
    /// for one). A receiver that takes a slot only at a transfer's first
    /// chunk asks this for the offers it has accepted and not begun yet.
    fn ready_count(&self, len: u32) -> usize {
        if self.ready_for(len) {
            usize::MAX
        } else {
            0
        }
    }

    /// Does one bounded step of erase-ahead work: at most one flash erase
    /// operation. It does nothing while a transfer is pending.
    fn erase_ahead(&mut self) -> Result<EraseStep, StoreError> {
        Ok(EraseStep::Idle)
    }

    /// Writes `data` at `offset` of a pending image.
    fn write_at(&mut self, handle: WriteHandle, offset: u32, data: &[u8]) -> Result<(), StoreError>;

    /// Reads back part of a pending image (to check its CRC-32 before commit).
    fn read_pending_at(&mut self, handle: WriteHandle, offset: u32, buffer: &mut [u8]) -> Result<usize, StoreError>;

    /// Makes a pending image visible; returns its sequence number.
    fn commit(&mut self, handle: WriteHandle, crc32: u32) -> Result<ImageInfo, StoreError>;

    /// Gives up a pending image; its slot becomes free.
    fn abandon(&mut self, handle: WriteHandle);

    /// Makes bytes `offset..offset + len` of a pending image writable again
    /// (a segment repair fetches them anew); returns the range `(from, to)`
    /// it wiped, which covers the asked one, and every chunk with a byte in
    /// the range must be written again.
    ///
    /// The default suits a store that overwrites in place (RAM). The flash
    /// store moves the range into its slot's spare erased space; without
    /// room it refuses with [`StoreError::NotRewritable`] rather than erase
    /// in the middle of a transfer (tens of milliseconds per sector, with
    /// no frame read); the transfer fails and the camera sends the image
    /// again.
    fn discard(&mut self, handle: WriteHandle, offset: u32, len: u32) -> Result<(u32, u32), StoreError> {
        let end = offset.checked_add(len).ok_or(StoreError::OutOfBounds)?;
        if end > handle.len {
            return Err(StoreError::OutOfBounds);
        }
        Ok((offset, end))
    }

    /// The newest committed image.
    fn newest(&self) -> Option<ImageInfo>;

    /// Committed images, newest first, into `out`; returns how many were written.
    fn list(&self, out: &mut [ImageInfo]) -> usize;

    /// Reads part of a committed image; returns the number of bytes read (0 at the end).
    fn read_at(&mut self, sequence: u32, offset: u32, buffer: &mut [u8]) -> Result<usize, StoreError>;
}
