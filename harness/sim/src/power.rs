//! Power cuts of a simulated receiver: its flash ([`PowerFlash`], a RAM NOR
//! flash that can lose power mid-operation) keeps what the cut left, the
//! node reboots on it after [`BOOT_TIME`], and the store must then serve
//! the last image committed before the cut, intact.
//!
//! A scenario's `power_cuts` lists where to cut, one cut per transfer the
//! receiver gets from the first nowcam sender, in order:
//! - `mid-transfer`: once half the chunks are in, the next write (a chunk)
//!   is torn after 64 bytes;
//! - `mid-commit`: once all chunks but one are in, the next write of a
//!   slot's header (the commit) is torn after 8 bytes.

use embedded_storage::nor_flash::{ErrorType, MultiwriteNorFlash, NorFlash, ReadNorFlash};
use nowcam_proto::time::Duration;
use nowcam_store::ram::{PowerCut, RamFlash, RamFlashError};

use crate::scenario::PowerCutAt;

/// How long a receiver takes from power-on to reading the radio again
/// (ROM and second-stage bootloader, esp-hal and WiFi start): an estimate
/// for the ESP32-C3, not a measurement.
pub const BOOT_TIME: Duration = Duration::from_millis(300);

/// Bytes of a torn chunk write, and of a torn header write.
const TORN_CHUNK_BYTES: usize = 64;
const TORN_HEADER_BYTES: usize = 8;

/// A RAM NOR flash that can cut the power in a given operation.
#[derive(Debug, Clone)]
pub struct PowerFlash {
    inner: RamFlash,
    /// The slot size of the store on it: a write at a multiple of it is a header write.
    slot_size: u32,
    cut_at_header: bool,
}

impl PowerFlash {
    pub fn new(inner: RamFlash, slot_size: u32) -> PowerFlash {
        PowerFlash { inner, slot_size: slot_size.max(1), cut_at_header: false }
    }

    pub fn inner(&self) -> &RamFlash {
        &self.inner
    }

    /// Cuts the power in the next write, after `torn` of its bytes.
    pub fn cut_next_write(&mut self, torn: usize) {
        self.inner.cut_power(PowerCut::torn(0, torn));
    }

    /// Cuts the power in the next write of a slot header (a commit).
    pub fn cut_next_commit(&mut self) {
        self.cut_at_header = true;
    }

    pub fn power_lost(&self) -> bool {
        self.inner.power_lost()
    }

    /// The flash as the cut left it, powered again: what the rebooted node mounts.
    pub fn after_reboot(&self) -> Result<PowerFlash, RamFlashError> {
        Ok(PowerFlash::new(self.inner.copy_contents(), self.slot_size))
    }
}

impl ErrorType for PowerFlash {
    type Error = RamFlashError;
}

impl ReadNorFlash for PowerFlash {
    const READ_SIZE: usize = <RamFlash as ReadNorFlash>::READ_SIZE;

    fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), Self::Error> {
        self.inner.read(offset, bytes)
    }

    fn capacity(&self) -> usize {
        self.inner.capacity()
    }
}

impl NorFlash for PowerFlash {
    const WRITE_SIZE: usize = <RamFlash as NorFlash>::WRITE_SIZE;
    const ERASE_SIZE: usize = <RamFlash as NorFlash>::ERASE_SIZE;

    fn erase(&mut self, from: u32, to: u32) -> Result<(), Self::Error> {
        self.inner.erase(from, to)
    }

    fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), Self::Error> {
        if self.cut_at_header && offset.is_multiple_of(self.slot_size) {
            self.cut_at_header = false;
            self.inner.cut_power(PowerCut::torn(0, TORN_HEADER_BYTES));
        }
        self.inner.write(offset, bytes)
    }
}

impl MultiwriteNorFlash for PowerFlash {}

/// What the power cuts of a run did.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct PowerReport {
    /// Cuts the scenario asks for.
    pub planned: usize,
    /// Cuts armed (the transfer reached the point where the cut goes).
    pub tried: u64,
    /// Cuts that happened: the flash lost power and the receiver rebooted.
    pub reboots: u64,
    /// Reboots after which the newest image was not the last one committed before the cut, intact.
    pub lost_images: u64,
}

/// A receiver's plan of power cuts and what it saw.
#[derive(Debug, Clone, Default)]
pub(crate) struct PowerState {
    pub(crate) plan: std::collections::VecDeque<PowerCutAt>,
    pub(crate) armed: Option<PowerCutAt>,
    /// The newest image before the armed cut: its sequence and bytes.
    pub(crate) newest_before: Option<(u32, Vec<u8>)>,
    pub(crate) report: PowerReport,
}

impl PowerState {
    pub(crate) fn new(plan: &[PowerCutAt]) -> PowerState {
        PowerState {
            plan: plan.iter().copied().collect(),
            report: PowerReport { planned: plan.len(), ..PowerReport::default() },
            ..PowerState::default()
        }
    }

    /// Where to arm the next cut, given a transfer's chunks received and chunk count.
    pub(crate) fn due(&self, received: u16, count: u16) -> Option<PowerCutAt> {
        if self.armed.is_some() || count < 2 {
            return None;
        }
        match self.plan.front()? {
            PowerCutAt::MidTransfer if received >= count / 2 => Some(PowerCutAt::MidTransfer),
            PowerCutAt::MidCommit if received + 1 == count => Some(PowerCutAt::MidCommit),
            _ => None,
        }
    }

    pub(crate) fn arm(&mut self, flash: &mut PowerFlash, at: PowerCutAt, newest: Option<(u32, Vec<u8>)>) {
        self.plan.pop_front();
        self.armed = Some(at);
        self.newest_before = newest;
        self.report.tried += 1;
        match at {
            PowerCutAt::MidTransfer => flash.cut_next_write(TORN_CHUNK_BYTES),
            PowerCutAt::MidCommit => flash.cut_next_commit(),
        }
    }
}
