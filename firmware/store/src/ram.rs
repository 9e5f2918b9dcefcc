//! A NOR flash in RAM for host tests and the simulator (feature `ram`).
//!
//! [`RamFlash`] keeps the rules of NOR flash and checks them on every call,
//! counts operations, and can cut the power in the middle of a sequence of
//! writes and erases.

use alloc::boxed::Box;
use alloc::vec;
use alloc::vec::Vec;
use core::cell::OnceCell;

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
///
/// Sectors hold memory only once written: an erased sector that no write
/// has touched since reads as `0xff` without being stored, so that a large
/// partition costs only the sectors a run writes.
#[derive(Debug, Clone)]
pub struct RamFlash<const READ_SIZE: usize = 4, const WRITE_SIZE: usize = 4, const ERASE_SIZE: usize = 4096> {
    /// Per erase sector: its bytes, or `None` while it is all `0xff`.
    sectors: Vec<Option<Box<[u8]>>>,
    capacity: usize,
    /// The whole contents, built by [`RamFlash::as_bytes`] and dropped by the next write or erase.
    contents: OnceCell<Vec<u8>>,
    sector_erases: Vec<u32>,
    counters: Counters,
    cut: Option<PowerCut>,
    operations_since_armed: u64,
    power_lost: bool,
}

impl<const READ_SIZE: usize, const WRITE_SIZE: usize, const ERASE_SIZE: usize> PartialEq
    for RamFlash<READ_SIZE, WRITE_SIZE, ERASE_SIZE>
{
    /// Same contents (however stored), erase counts, counters and power state.
    fn eq(&self, other: &Self) -> bool {
        self.capacity == other.capacity
            && self.sectors.iter().zip(&other.sectors).all(|(a, b)| match (a, b) {
                (Some(a), Some(b)) => a == b,
                (Some(bytes), None) | (None, Some(bytes)) => bytes.iter().all(|&byte| byte == 0xff),
                (None, None) => true,
            })
            && self.sector_erases == other.sector_erases
            && self.counters == other.counters
            && self.cut == other.cut
            && self.operations_since_armed == other.operations_since_armed
            && self.power_lost == other.power_lost
    }
}

impl<const READ_SIZE: usize, const WRITE_SIZE: usize, const ERASE_SIZE: usize> Eq
    for RamFlash<READ_SIZE, WRITE_SIZE, ERASE_SIZE>
{
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
        Self::check_geometry(capacity)?;
        let sectors = capacity / ERASE_SIZE;
        Ok(RamFlash {
            sectors: (0..sectors).map(|_| None).collect(),
            capacity,
            contents: OnceCell::new(),
            sector_erases: vec![0; sectors],
            counters: Counters::default(),
            cut: None,
            operations_since_armed: 0,
            power_lost: false,
        })
    }

    /// A flash holding `bytes`, whose length is a multiple of `ERASE_SIZE`.
    pub fn with_contents(bytes: Vec<u8>) -> Result<Self, RamFlashError> {
        let mut flash = Self::with_geometry(bytes.len())?;
        for (sector, bytes) in flash.sectors.iter_mut().zip(bytes.chunks_exact(ERASE_SIZE)) {
            if bytes.iter().any(|&byte| byte != 0xff) {
                *sector = Some(bytes.into());
            }
        }
        Ok(flash)
    }

    /// A flash holding this one's contents, powered, with no cut armed and
    /// fresh counters and erase counts: the same as
    /// `with_contents(self.as_bytes().to_vec())`, without copying erased sectors.
    pub fn copy_contents(&self) -> Self {
        RamFlash {
            sectors: self.sectors.clone(),
            capacity: self.capacity,
            contents: OnceCell::new(),
            sector_erases: vec![0; self.sectors.len()],
            counters: Counters::default(),
            cut: None,
            operations_since_armed: 0,
            power_lost: false,
        }
    }

    fn check_geometry(capacity: usize) -> Result<(), RamFlashError> {
        let geometry_ok = READ_SIZE != 0
            && WRITE_SIZE != 0
            && ERASE_SIZE != 0
            && capacity.is_multiple_of(ERASE_SIZE)
            && u32::try_from(capacity).is_ok();
        match geometry_ok {
            true => Ok(()),
            false => Err(RamFlashError::NotAligned),
        }
    }

    /// The flash's contents.
    pub fn as_bytes(&self) -> &[u8] {
        self.contents.get_or_init(|| {
            let mut bytes = vec![0xff; self.capacity];
            for (sector, stored) in bytes.chunks_exact_mut(ERASE_SIZE).zip(&self.sectors) {
                if let Some(stored) = stored {
                    sector.copy_from_slice(stored);
                }
            }
            bytes
        })
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
        if end > self.capacity {
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

    /// The pieces of `range` within each sector: (sector, range within the
    /// sector, range within `range`).
    fn pieces(
        range: core::ops::Range<usize>,
    ) -> impl Iterator<Item = (usize, core::ops::Range<usize>, core::ops::Range<usize>)> {
        crate::page_buffer::within_units(range.start, range.len(), ERASE_SIZE).map(|(at, from)| {
            let within = at % ERASE_SIZE;
            (at / ERASE_SIZE, within..within + from.len(), from)
        })
    }

    /// Puts `bytes` at `start`, storing the sectors it reaches.
    fn store(&mut self, start: usize, bytes: &[u8]) {
        self.contents.take();
        for (sector, within, from) in Self::pieces(start..start + bytes.len()) {
            let stored = self.sectors[sector].get_or_insert_with(|| vec![0xff; ERASE_SIZE].into_boxed_slice());
            stored[within].copy_from_slice(&bytes[from]);
        }
    }

    /// Sets `range` to `0xff`, forgetting the sectors it covers whole.
    fn fill_erased(&mut self, range: core::ops::Range<usize>) {
        self.contents.take();
        for (sector, within, _) in Self::pieces(range) {
            if within.len() == ERASE_SIZE {
                self.sectors[sector] = None;
            } else if let Some(stored) = &mut self.sectors[sector] {
                stored[within].fill(0xff);
            }
        }
    }

    /// Whether writing `bytes` at `start` would turn a 0 bit into 1.
    fn sets_a_bit(&self, start: usize, bytes: &[u8]) -> bool {
        Self::pieces(start..start + bytes.len()).any(|(sector, within, from)| match &self.sectors[sector] {
            // Erased bytes take any value.
            None => false,
            // Folded without an early exit, which compiles to wide operations.
            Some(stored) => {
                stored[within].iter().zip(&bytes[from]).fold(0u8, |set, (old, new)| set | (new & !old)) != 0
            }
        })
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
        for (sector, within, to) in Self::pieces(range) {
            match &self.sectors[sector] {
                Some(stored) => bytes[to].copy_from_slice(&stored[within]),
                None => bytes[to].fill(0xff),
            }
        }
        self.counters.reads += 1;
        Ok(())
    }

    fn capacity(&self) -> usize {
        self.capacity
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
            self.fill_erased(range.start..range.start + torn);
            return Err(RamFlashError::PowerLost);
        }
        self.fill_erased(range.clone());
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
        if self.sets_a_bit(range.start, bytes) {
            return Err(RamFlashError::OneOverZero);
        }
        if let Some(torn_bytes) = self.power_fails_now() {
            let torn = torn_bytes.min(bytes.len().saturating_sub(1));
            self.store(range.start, &bytes[..torn]);
            return Err(RamFlashError::PowerLost);
        }
        self.store(range.start, bytes);
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

    /// The flash against a plain array of bytes, over writes, torn writes and
    /// erases that cross sectors, with small sectors.
    #[test]
    fn sectors_stored_on_demand_read_as_one_array() {
        let mut flash = RamFlash::<4, 4, 32>::with_geometry(256).unwrap();
        let mut model = vec![0xffu8; 256];
        let mut state = 0x1234_5678u32;
        let mut next = move |n: u32| {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (state >> 8) % n
        };
        for step in 0..2_000 {
            match next(10) {
                0 => {
                    let from = next(8) * 32;
                    let to = from + (next(8 - from / 32) + 1) * 32;
                    flash.erase(from, to).unwrap();
                    model[from as usize..to as usize].fill(0xff);
                }
                1 => {
                    let from = next(8) * 32;
                    let torn = next(40) as usize;
                    flash.cut_power(PowerCut::torn(0, torn));
                    assert_eq!(flash.erase(from, from + 32), Err(RamFlashError::PowerLost));
                    flash.restore_power();
                    let torn = torn.min(31);
                    model[from as usize..from as usize + torn].fill(0xff);
                }
                kind => {
                    let offset = next(60) * 4;
                    let len = (next(4) as usize + 1) * 4;
                    let bytes: Vec<u8> = (0..len).map(|_| next(256) as u8).collect();
                    let at = offset as usize;
                    let sets_a_bit = model[at..at + len].iter().zip(&bytes).any(|(old, new)| new & !old != 0);
                    if kind == 2 && !sets_a_bit {
                        let torn = next(20) as usize;
                        flash.cut_power(PowerCut::torn(0, torn));
                        assert_eq!(flash.write(offset, &bytes), Err(RamFlashError::PowerLost));
                        flash.restore_power();
                        let torn = torn.min(len - 1);
                        model[at..at + torn].copy_from_slice(&bytes[..torn]);
                    } else if sets_a_bit {
                        assert_eq!(flash.write(offset, &bytes), Err(RamFlashError::OneOverZero));
                    } else {
                        flash.write(offset, &bytes).unwrap();
                        model[at..at + len].copy_from_slice(&bytes);
                    }
                }
            }
            if step % 7 == 0 {
                assert_eq!(flash.as_bytes(), &model[..], "step {step}");
            }
            let offset = next(60) * 4;
            let mut read = [0u8; 16];
            flash.read(offset, &mut read).unwrap();
            assert_eq!(read, model[offset as usize..offset as usize + 16], "step {step}");
        }
        let copy = flash.copy_contents();
        assert_eq!(copy.as_bytes(), &model[..]);
        assert_eq!(copy.counters(), Counters::default());
        assert_eq!(copy, RamFlash::<4, 4, 32>::with_contents(model).unwrap());
    }
}
