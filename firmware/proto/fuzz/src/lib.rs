//! What the fuzz targets share: a cursor over the fuzzer's bytes, a RAM
//! store that keeps the receiver honest, and images made from a seed so a
//! target can send the right bytes without keeping them.

use nowcam_proto::receiver::TransferStore;

/// Reads the fuzzer's input front to back; every read fails once it runs out.
pub struct Input<'a> {
    data: &'a [u8],
}

impl<'a> Input<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Self { data }
    }

    pub fn u8(&mut self) -> Option<u8> {
        let (first, rest) = self.data.split_first()?;
        self.data = rest;
        Some(*first)
    }

    pub fn u16(&mut self) -> Option<u16> {
        Some(u16::from_le_bytes([self.u8()?, self.u8()?]))
    }

    pub fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes([self.u8()?, self.u8()?, self.u8()?, self.u8()?]))
    }

    pub fn bool(&mut self) -> Option<bool> {
        Some(self.u8()? & 1 == 1)
    }

    /// Up to `len` bytes: fewer when the input ends first.
    pub fn bytes(&mut self, len: usize) -> &'a [u8] {
        let (taken, rest) = self.data.split_at(len.min(self.data.len()));
        self.data = rest;
        taken
    }
}

/// Byte `offset` of the image made from `seed`.
pub fn image_byte(seed: u32, offset: usize) -> u8 {
    (offset as u32).wrapping_mul(31).wrapping_add(seed.wrapping_mul(7)).wrapping_add(offset as u32 >> 8) as u8
}

/// `len` bytes of the image made from `seed`, from `offset` on.
pub fn image_bytes(seed: u32, offset: usize, len: usize) -> Vec<u8> {
    (offset..offset + len).map(|i| image_byte(seed, i)).collect()
}

/// The store refused: a write outside the slot, or a slot that is gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreError;

/// RAM slots; every begin must end in exactly one commit or abandon.
#[derive(Debug, Default)]
pub struct RamStore {
    slots: Vec<Option<Vec<u8>>>,
    /// Every committed image and the CRC-32 it was committed with.
    pub committed: Vec<(Vec<u8>, u32)>,
    /// Whether the next write fails.
    pub fail_next_write: bool,
}

impl RamStore {
    /// Slots begun and neither committed nor abandoned.
    pub fn open(&self) -> usize {
        self.slots.iter().flatten().count()
    }
}

impl TransferStore for RamStore {
    type Slot = usize;
    type Error = StoreError;

    fn begin(&mut self, len: u32) -> Result<usize, StoreError> {
        self.slots.push(Some(vec![0; len as usize]));
        Ok(self.slots.len() - 1)
    }

    fn write_at(&mut self, slot: usize, offset: u32, data: &[u8]) -> Result<(), StoreError> {
        if core::mem::take(&mut self.fail_next_write) {
            return Err(StoreError);
        }
        let start = offset as usize;
        self.slots
            .get_mut(slot)
            .and_then(Option::as_mut)
            .and_then(|bytes| bytes.get_mut(start..start.checked_add(data.len())?))
            .ok_or(StoreError)?
            .copy_from_slice(data);
        Ok(())
    }

    fn read_at(&mut self, slot: usize, offset: u32, buffer: &mut [u8]) -> Result<usize, StoreError> {
        let bytes = self.slots.get(slot).and_then(Option::as_ref).ok_or(StoreError)?;
        let start = (offset as usize).min(bytes.len());
        let n = buffer.len().min(bytes.len() - start);
        buffer[..n].copy_from_slice(&bytes[start..start + n]);
        Ok(n)
    }

    fn commit(&mut self, slot: usize, crc32: u32) -> Result<(), StoreError> {
        let bytes = self.slots.get_mut(slot).and_then(Option::take).ok_or(StoreError)?;
        self.committed.push((bytes, crc32));
        Ok(())
    }

    fn abandon(&mut self, slot: usize) {
        let open = self.slots.get_mut(slot).and_then(Option::take);
        assert!(open.is_some(), "slot {slot} abandoned twice or after its commit");
    }
}
