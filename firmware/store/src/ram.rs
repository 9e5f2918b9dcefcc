//! A NOR flash in RAM for host tests and the simulator (feature `ram`).
//!
//! [`RamFlash`] keeps the rules of NOR flash and checks them on every call,
//! counts operations, and can cut the power in the middle of a sequence of
//! writes and erases.

use alloc::vec;
use alloc::vec::Vec;

use embedded_storage::nor_flash::{
    ErrorType, MultiwriteNorFlash, NorFlash, NorFlashError, NorFlashErrorKind, ReadNorFlash,
};

/// Why a [`RamFlash`] operation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RamFlashError {
    /// the range reaches past the end of the flash
    OutOfBounds,
    /// the offset or length is not a multiple of the read, write or erase size
    NotAligned,
    /// the write would turn a 0 bit back into 1, which only an erase can do
    OneOverZero,
    /// the power was cut
    PowerLost,
}

impl core::fmt::Display for RamFlashError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            RamFlashError::OutOfBounds => "the range reaches past the end of the flash",
            RamFlashError::NotAligned => "the offset or length is not aligned",
            RamFlashError::OneOverZero => "the write would turn a 0 bit back into 1",
            RamFlashError::PowerLost => "the power was cut",
        })
    }
}

impl core::error::Error for RamFlashError {}

impl NorFlashError for RamFlashError {
    fn kind(&self) -> NorFlashErrorKind {
        match self {
            RamFlashError::OutOfBounds => NorFlashErrorKind::OutOfBounds,
            RamFlashError::NotAligned => NorFlashErrorKind::NotAligned,
            RamFlashError::OneOverZero | RamFlashError::PowerLost => NorFlashErrorKind::Other,
        }
    }
}

/// When the power goes: after `after` more writes or erases have completed,
/// the next one fails, and so does every operation after it (reads too)
/// until [`RamFlash::restore_power`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PowerCut {
    /// Writes and erases that still complete.
    pub after: u64,
    /// Bytes of the failing operation that reach the flash before the power
    /// goes (a torn write or erase), counted from its start; 0 for none.
    pub torn_bytes: usize,
}

impl PowerCut {
    /// The failing operation changes nothing.
    pub fn clean(after: u64) -> Self {
        PowerCut { after, torn_bytes: 0 }
    }

    /// The failing operation changes its first `torn_bytes` bytes only
    /// (clamped to one byte less than the operation's length).
    pub fn torn(after: u64, torn_bytes: usize) -> Self {
        PowerCut { after, torn_bytes }
    }
}

/// Operations a [`RamFlash`] has completed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Counters {
    pub reads: u64,
    pub writes: u64,
    pub erases: u64,
    pub bytes_written: u64,
}

impl Counters {
    /// Writes and erases: the operations a [`PowerCut`] counts.
    pub fn operations(&self) -> u64 {
        self.writes + self.erases
    }
}

/// A NOR flash in RAM, erased (all `0xff`) when created.
///
/// It is stricter than [`MultiwriteNorFlash`] asks: a word may be written
/// more than once, but a write that would turn a 0 bit into 1 fails with
/// [`RamFlashError::OneOverZero`] and changes nothing, where real flash would
/// silently keep the 0. Offsets and lengths must be multiples of the read,
/// write and erase sizes (the const parameters; the defaults are those of
/// ESP32 flash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RamFlash<const READ_SIZE: usize = 4, const WRITE_SIZE: usize = 4, const ERASE_SIZE: usize = 4096> {
    bytes: Vec<u8>,
    sector_erases: Vec<u32>,
    counters: Counters,
    cut: Option<PowerCut>,
    operations_since_armed: u64,
    power_lost: bool,
}

impl RamFlash {
    /// An erased flash of `capacity` bytes with the default geometry: read
    /// and write size 4, erase size 4096.
    pub fn new(capacity: usize) -> Result<Self, RamFlashError> {
        RamFlash::with_geometry(capacity)
    }

    /// A flash with the default geometry holding `bytes` (for example another
    /// flash's contents after a power cut); see [`RamFlash::with_contents`].
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, RamFlashError> {
        RamFlash::with_contents(bytes)
    }
}

impl<const READ_SIZE: usize, const WRITE_SIZE: usize, const ERASE_SIZE: usize>
    RamFlash<READ_SIZE, WRITE_SIZE, ERASE_SIZE>
{
    /// An erased flash of `capacity` bytes, a multiple of `ERASE_SIZE`.
    pub fn with_geometry(capacity: usize) -> Result<Self, RamFlashError> {
        Self::with_contents(vec![0xff; capacity])
    }

    /// A flash holding `bytes`, whose length is a multiple of `ERASE_SIZE`.
    pub fn with_contents(bytes: Vec<u8>) -> Result<Self, RamFlashError> {
        let geometry_ok = READ_SIZE != 0
            && WRITE_SIZE != 0
            && ERASE_SIZE != 0
            && bytes.len().is_multiple_of(ERASE_SIZE)
            && u32::try_from(bytes.len()).is_ok();
        if !geometry_ok {
            return Err(RamFlashError::NotAligned);
        }
        let sectors = bytes.len() / ERASE_SIZE;
        Ok(RamFlash {
            bytes,
            sector_erases: vec![0; sectors],
            counters: Counters::default(),
            cut: None,
            operations_since_armed: 0,
            power_lost: false,
        })
    }

    /// The flash's contents.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Operations completed so far.
    pub fn counters(&self) -> Counters {
        self.counters
    }

    /// How often each sector has been erased.
    pub fn sector_erases(&self) -> &[u32] {
        &self.sector_erases
    }

    /// Arms a power cut, counting writes and erases from now.
    pub fn cut_power(&mut self, cut: PowerCut) {
        self.cut = Some(cut);
        self.operations_since_armed = 0;
    }

    /// Whether a power cut has happened.
    pub fn power_lost(&self) -> bool {
        self.power_lost
    }

    /// Turns the power back on and disarms any pending cut; the contents are
    /// what the cut left.
    pub fn restore_power(&mut self) {
        self.cut = None;
        self.power_lost = false;
    }

    fn check_range(&self, offset: u32, len: usize, align: usize) -> Result<core::ops::Range<usize>, RamFlashError> {
        let start = offset as usize;
        let end = start.checked_add(len).ok_or(RamFlashError::OutOfBounds)?;
        if end > self.bytes.len() {
            return Err(RamFlashError::OutOfBounds);
        }
        if !start.is_multiple_of(align) || !len.is_multiple_of(align) {
            return Err(RamFlashError::NotAligned);
        }
        Ok(start..end)
    }

    /// Counts a write or erase against the armed cut; `Some(torn_bytes)`
    /// when this operation is the one the power fails in.
    fn power_fails_now(&mut self) -> Option<usize> {
        let cut = self.cut?;
        if self.operations_since_armed >= cut.after {
            self.power_lost = true;
            self.cut = None;
            return Some(cut.torn_bytes);
        }
        self.operations_since_armed += 1;
        None
    }
}

impl<const READ_SIZE: usize, const WRITE_SIZE: usize, const ERASE_SIZE: usize> ErrorType
    for RamFlash<READ_SIZE, WRITE_SIZE, ERASE_SIZE>
{
    type Error = RamFlashError;
}

impl<const READ_SIZE: usize, const WRITE_SIZE: usize, const ERASE_SIZE: usize> ReadNorFlash
    for RamFlash<READ_SIZE, WRITE_SIZE, ERASE_SIZE>
{
    const READ_SIZE: usize = READ_SIZE;

    fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), Self::Error> {
        if self.power_lost {
            return Err(RamFlashError::PowerLost);
        }
        let range = self.check_range(offset, bytes.len(), READ_SIZE)?;
        bytes.copy_from_slice(&self.bytes[range]);
        self.counters.reads += 1;
        Ok(())
    }

    fn capacity(&self) -> usize {
        self.bytes.len()
    }
}

impl<const READ_SIZE: usize, const WRITE_SIZE: usize, const ERASE_SIZE: usize> NorFlash
    for RamFlash<READ_SIZE, WRITE_SIZE, ERASE_SIZE>
{
    const WRITE_SIZE: usize = WRITE_SIZE;
    const ERASE_SIZE: usize = ERASE_SIZE;

    fn erase(&mut self, from: u32, to: u32) -> Result<(), Self::Error> {
        if self.power_lost {
            return Err(RamFlashError::PowerLost);
        }
        let len = to.checked_sub(from).ok_or(RamFlashError::OutOfBounds)? as usize;
        let range = self.check_range(from, len, ERASE_SIZE)?;
        if let Some(torn_bytes) = self.power_fails_now() {
            let torn = torn_bytes.min(len.saturating_sub(1));
            self.bytes[range.start..range.start + torn].fill(0xff);
            return Err(RamFlashError::PowerLost);
        }
        self.bytes[range.clone()].fill(0xff);
        for sector in range.start / ERASE_SIZE..range.end / ERASE_SIZE {
            self.sector_erases[sector] += 1;
        }
        self.counters.erases += 1;
        Ok(())
    }

    fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), Self::Error> {
        if self.power_lost {
            return Err(RamFlashError::PowerLost);
        }
        let range = self.check_range(offset, bytes.len(), WRITE_SIZE)?;
        let sets_a_bit = self.bytes[range.clone()].iter().zip(bytes).any(|(old, new)| new & !old != 0);
        if sets_a_bit {
            return Err(RamFlashError::OneOverZero);
        }
        if let Some(torn_bytes) = self.power_fails_now() {
            let torn = torn_bytes.min(bytes.len().saturating_sub(1));
            self.bytes[range.start..range.start + torn].copy_from_slice(&bytes[..torn]);
            return Err(RamFlashError::PowerLost);
        }
        self.bytes[range].copy_from_slice(bytes);
        self.counters.writes += 1;
        self.counters.bytes_written += bytes.len() as u64;
        Ok(())
    }
}

impl<const READ_SIZE: usize, const WRITE_SIZE: usize, const ERASE_SIZE: usize> MultiwriteNorFlash
    for RamFlash<READ_SIZE, WRITE_SIZE, ERASE_SIZE>
{
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_flash_is_erased_and_refuses_partial_sectors() {
        let flash = RamFlash::new(8192).unwrap();
        assert!(flash.as_bytes().iter().all(|&byte| byte == 0xff));
        assert_eq!(RamFlash::new(8191), Err(RamFlashError::NotAligned));
    }

    #[test]
    fn writes_only_clear_bits() {
        let mut flash = RamFlash::new(4096).unwrap();
        flash.write(0, &[0xf0, 0x0f, 0xff, 0x00]).unwrap();
        flash.write(0, &[0xf0, 0x0f, 0xfe, 0x00]).unwrap();
        assert_eq!(flash.write(0, &[0xf8, 0x0f, 0xfe, 0x00]), Err(RamFlashError::OneOverZero));
        assert_eq!(flash.as_bytes()[..4], [0xf0, 0x0f, 0xfe, 0x00]);
        flash.erase(0, 4096).unwrap();
        flash.write(0, &[0xf8, 0x0f, 0xfe, 0x00]).unwrap();
        assert_eq!(flash.counters().writes, 3);
        assert_eq!(flash.counters().erases, 1);
        assert_eq!(flash.sector_erases(), [1]);
    }

    #[test]
    fn alignment_and_bounds_are_enforced() {
        let mut flash = RamFlash::new(8192).unwrap();
        let mut buffer = [0u8; 4];
        assert_eq!(flash.read(2, &mut buffer), Err(RamFlashError::NotAligned));
        assert_eq!(flash.read(0, &mut buffer[..3]), Err(RamFlashError::NotAligned));
        assert_eq!(flash.read(8192, &mut buffer), Err(RamFlashError::OutOfBounds));
        assert_eq!(flash.write(1, &[0; 4]), Err(RamFlashError::NotAligned));
        assert_eq!(flash.write(0, &[0; 5]), Err(RamFlashError::NotAligned));
        assert_eq!(flash.erase(0, 100), Err(RamFlashError::NotAligned));
        assert_eq!(flash.erase(4096, 0), Err(RamFlashError::OutOfBounds));
        assert_eq!(flash.erase(4096, 12288), Err(RamFlashError::OutOfBounds));
        assert_eq!(flash.counters(), Counters::default());
    }

    #[test]
    fn a_clean_cut_fails_the_next_operation_and_everything_after() {
        let mut flash = RamFlash::new(8192).unwrap();
        flash.cut_power(PowerCut::clean(2));
        flash.write(0, &[0; 4]).unwrap();
        flash.erase(4096, 8192).unwrap();
        assert_eq!(flash.write(4, &[0; 4]), Err(RamFlashError::PowerLost));
        assert!(flash.power_lost());
        assert_eq!(flash.as_bytes()[4..8], [0xff; 4]);
        let mut buffer = [0u8; 4];
        assert_eq!(flash.read(0, &mut buffer), Err(RamFlashError::PowerLost));
        assert_eq!(flash.erase(0, 4096), Err(RamFlashError::PowerLost));
        flash.restore_power();
        flash.read(0, &mut buffer).unwrap();
        assert_eq!(buffer, [0; 4]);
        flash.write(4, &[0; 4]).unwrap();
        assert_eq!(flash.counters().operations(), 3);
    }

    #[test]
    fn a_torn_cut_applies_part_of_the_failing_operation() {
        let mut flash = RamFlash::new(8192).unwrap();
        flash.cut_power(PowerCut::torn(0, 3));
        assert_eq!(flash.write(0, &[1, 2, 3, 4, 5, 6, 7, 8]), Err(RamFlashError::PowerLost));
        assert_eq!(flash.as_bytes()[..8], [1, 2, 3, 0xff, 0xff, 0xff, 0xff, 0xff]);

        let mut flash = RamFlash::from_bytes(vec![0; 8192]).unwrap();
        flash.cut_power(PowerCut::torn(0, 100_000));
        assert_eq!(flash.erase(0, 4096), Err(RamFlashError::PowerLost));
        assert!(flash.as_bytes()[..4095].iter().all(|&byte| byte == 0xff));
        assert_eq!(flash.as_bytes()[4095], 0, "a torn erase never completes");
    }
}
