//! How long flash operations take, from the datasheets of the flash parts on
//! the supported boards, and a [`NorFlash`] wrapper that adds the time up.
//!
//! ESP32-C3 and ESP32-C6 modules carry 4 MB of SPI NOR flash of the
//! W25Q32JV / GD25Q32C / XM25QH32 class: 256-byte pages, 4 KB sectors
//! (command 0x20) and 64 KB blocks (command 0xD8). esp-storage 0.10's
//! `erase(from, to)` erases sector by sector up to a 64 KB boundary of the
//! flash, then block by block, then the sectors left; the image partition
//! starts at 0x190000, on a 64 KB boundary, so the store's offsets align as
//! the flash's do. [`TimedFlash`] charges an erase the same way.

use embedded_storage::nor_flash::{ErrorType, MultiwriteNorFlash, NorFlash, ReadNorFlash};
use nowcam_ports::Duration;

/// Bytes one page program writes at most.
pub const PAGE_SIZE: u32 = 256;

/// Bytes one sector erase clears.
pub const SECTOR_SIZE: u32 = 4096;

/// Bytes one block erase clears; the store erases ahead in whole blocks where
/// a block lies inside the slot on a block boundary.
pub const BLOCK_SIZE: u32 = 65536;

/// How long one operation takes, typically and at most.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Latency {
    pub typical: Duration,
    pub max: Duration,
}

impl Latency {
    const fn micros(typical_micros: u64, max_micros: u64) -> Latency {
        Latency { typical: Duration::from_micros(typical_micros), max: Duration::from_micros(max_micros) }
    }
}

/// The latencies of the flash operations the store issues.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct FlashTiming {
    /// Erasing one 4 KB sector.
    pub sector_erase: Latency,
    /// Erasing one 64 KB block.
    pub block_erase: Latency,
    /// Programming one 256-byte page (or part of one).
    pub page_program: Latency,
}

impl FlashTiming {
    /// The Winbond W25Q32JV's AC characteristics (datasheet rev. F, 2017,
    /// table "AC Electrical Characteristics"): tSE 45 ms typical, 400 ms max;
    /// tBE2 (64 KB) 150 ms typical, 2 s max; tPP 0.4 ms typical, 3 ms max.
    /// GigaDevice parts are of the same order (GD25Q128E: page 0.5 ms,
    /// sector 45 ms, 64 KB block 0.25 s typical), so the typical figures are
    /// good to tens of percent across boards, not better.
    pub const DATASHEET: FlashTiming = FlashTiming {
        sector_erase: Latency::micros(45_000, 400_000),
        block_erase: Latency::micros(150_000, 2_000_000),
        page_program: Latency::micros(400, 3_000),
    };

    /// A flash that takes no time: what the simulator had before it modelled flash.
    pub const IDEAL: FlashTiming = FlashTiming {
        sector_erase: Latency::micros(0, 0),
        block_erase: Latency::micros(0, 0),
        page_program: Latency::micros(0, 0),
    };

    /// The longest one call of the store can block on the flash: one block
    /// erase at its worst (erase-ahead issues one erase per step). A
    /// watchdog must allow at least this.
    pub fn longest_operation(&self) -> Duration {
        self.block_erase.max.max(self.sector_erase.max).max(self.page_program.max)
    }

    /// The typical time of `erase(from, to)`, charged as esp-storage issues
    /// it: sectors up to a block boundary, whole blocks, then sectors.
    pub fn erase_time(&self, from: u32, to: u32) -> Duration {
        let mut total = Duration::ZERO;
        let mut address = from - from % SECTOR_SIZE;
        while address < to {
            if address.is_multiple_of(BLOCK_SIZE) && to - address >= BLOCK_SIZE {
                total = total + self.block_erase.typical;
                address += BLOCK_SIZE;
            } else {
                total = total + self.sector_erase.typical;
                address += SECTOR_SIZE;
            }
        }
        total
    }

    /// The typical time of writing `len` bytes at `offset`: one page program
    /// per page the bytes touch (a partial page costs a whole one, which the
    /// datasheets' per-byte figures make a slight overestimate).
    pub fn program_time(&self, offset: u32, len: usize) -> Duration {
        if len == 0 {
            return Duration::ZERO;
        }
        let last = offset as u64 + len as u64 - 1;
        let pages = last / u64::from(PAGE_SIZE) - u64::from(offset / PAGE_SIZE) + 1;
        self.page_program.typical.saturating_mul(pages)
    }
}

/// Flash time spent so far, by kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct FlashTime {
    pub erasing: Duration,
    pub programming: Duration,
}

/// A [`NorFlash`] that adds up how long each operation would take on the chip
/// (typical figures of a [`FlashTiming`]). Reads are not charged: at 40 MHz
/// or more they are short next to a program or an erase.
///
/// The simulator reads [`TimedFlash::take_busy`] after each poll of a node
/// and keeps the node from polling for that long, as the chip's single
/// executor waits for esp-storage.
#[derive(Debug, Clone)]
pub struct TimedFlash<F> {
    flash: F,
    timing: FlashTiming,
    busy: Duration,
    total: FlashTime,
}

impl<F> TimedFlash<F> {
    pub fn new(flash: F, timing: FlashTiming) -> Self {
        TimedFlash { flash, timing, busy: Duration::ZERO, total: FlashTime::default() }
    }

    pub fn timing(&self) -> FlashTiming {
        self.timing
    }

    /// The time charged since the last call.
    pub fn take_busy(&mut self) -> Duration {
        core::mem::take(&mut self.busy)
    }

    /// The time charged since creation.
    pub fn total(&self) -> FlashTime {
        self.total
    }

    pub fn inner(&self) -> &F {
        &self.flash
    }

    pub fn inner_mut(&mut self) -> &mut F {
        &mut self.flash
    }

    pub fn into_inner(self) -> F {
        self.flash
    }
}

impl<F: ErrorType> ErrorType for TimedFlash<F> {
    type Error = F::Error;
}

impl<F: ReadNorFlash> ReadNorFlash for TimedFlash<F> {
    const READ_SIZE: usize = F::READ_SIZE;

    fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), Self::Error> {
        self.flash.read(offset, bytes)
    }

    fn capacity(&self) -> usize {
        self.flash.capacity()
    }
}

impl<F: NorFlash> NorFlash for TimedFlash<F> {
    const WRITE_SIZE: usize = F::WRITE_SIZE;
    const ERASE_SIZE: usize = F::ERASE_SIZE;

    fn erase(&mut self, from: u32, to: u32) -> Result<(), Self::Error> {
        self.flash.erase(from, to)?;
        let time = self.timing.erase_time(from, to);
        self.busy = self.busy + time;
        self.total.erasing = self.total.erasing + time;
        Ok(())
    }

    fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), Self::Error> {
        self.flash.write(offset, bytes)?;
        let time = self.timing.program_time(offset, bytes.len());
        self.busy = self.busy + time;
        self.total.programming = self.total.programming + time;
        Ok(())
    }
}

impl<F: MultiwriteNorFlash> MultiwriteNorFlash for TimedFlash<F> {}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1000;

    #[test]
    fn erases_are_charged_as_esp_storage_issues_them() {
        let timing = FlashTiming::DATASHEET;
        let check = |from: u32, to: u32, micros: u64| assert_eq!(timing.erase_time(from, to).as_micros(), micros);
        check(0, 4096, 45 * MS);
        check(0, 65536, 150 * MS);
        // Three sectors to the block boundary, one block, two sectors.
        check(65536 - 3 * 4096, 2 * 65536 + 2 * 4096, (3 * 45 + 150 + 2 * 45) * MS);
        // A 64 KB range off a block boundary is sixteen sectors.
        check(4096, 4096 + 65536, 16 * 45 * MS);
        check(0, 0, 0);
    }

    #[test]
    fn writes_are_charged_per_page_touched() {
        let timing = FlashTiming::DATASHEET;
        assert_eq!(timing.program_time(0, 256).as_micros(), 400);
        assert_eq!(timing.program_time(64, 241).as_micros(), 800);
        assert_eq!(timing.program_time(255, 1).as_micros(), 400);
        assert_eq!(timing.program_time(0, 0).as_micros(), 0);
        assert_eq!(FlashTiming::IDEAL.program_time(64, 241).as_micros(), 0);
    }

    #[test]
    fn the_longest_operation_is_a_block_erase_at_its_worst() {
        assert_eq!(FlashTiming::DATASHEET.longest_operation(), Duration::from_secs(2));
    }
}
