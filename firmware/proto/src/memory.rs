//! A [`TransferStore`] in memory, for the host: tests, fuzz targets and the
//! capture replay share this one instead of each writing its own.
//!
//! Behind the `alloc` feature, which no chip build turns on: the protocol
//! core itself still allocates nothing. The store records what was asked of
//! it (begins, writes, commits, abandons) and can be told to fail, so that a
//! test can check the receiver's side of every refusal.

extern crate alloc;

use alloc::vec;
use alloc::vec::Vec;

use crate::receiver::TransferStore;

/// Why the memory store refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MemoryStoreError {
    /// `fail_begin` was set
    BeginRefused,
    /// a write was set to fail (`fail_writes`)
    WriteRefused,
    /// `fail_commit` was set
    CommitRefused,
    /// the slot is not open (never begun, committed or abandoned)
    NoSuchSlot,
    /// the write falls outside the slot
    OutOfBounds,
}

impl core::fmt::Display for MemoryStoreError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            MemoryStoreError::BeginRefused => "begin refused",
            MemoryStoreError::WriteRefused => "write refused",
            MemoryStoreError::CommitRefused => "commit refused",
            MemoryStoreError::NoSuchSlot => "no such slot",
            MemoryStoreError::OutOfBounds => "write outside the slot",
        })
    }
}

impl core::error::Error for MemoryStoreError {}

/// Slots in memory; every slot begun ends in one commit or one abandon.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct MemoryStore {
    slots: Vec<Option<Vec<u8>>>,
    /// Every committed image with the CRC-32 it was committed with, oldest first.
    pub committed: Vec<(Vec<u8>, u32)>,
    /// The length of every `begin`, refused ones included.
    pub begins: Vec<u32>,
    /// How many writes were asked for, refused ones included.
    pub writes: usize,
    /// Every slot abandoned, in order.
    pub abandoned: Vec<usize>,
    /// Abandons of a slot that was not open (a receiver bug when it is not 0).
    pub stray_abandons: usize,
    /// Refuse every `begin`.
    pub fail_begin: bool,
    /// Refuse this many of the next writes.
    pub fail_writes: usize,
    /// Refuse every `commit`.
    pub fail_commit: bool,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// Slots begun and neither committed nor abandoned.
    pub fn open(&self) -> usize {
        self.slots.iter().flatten().count()
    }

    /// The bytes of an open slot.
    pub fn slot(&self, slot: usize) -> Option<&[u8]> {
        self.slots.get(slot)?.as_deref()
    }

    /// Takes the images committed so far, oldest first.
    pub fn take_committed(&mut self) -> Vec<(Vec<u8>, u32)> {
        core::mem::take(&mut self.committed)
    }
}

impl TransferStore for MemoryStore {
    type Slot = usize;
    type Error = MemoryStoreError;

    fn begin(&mut self, len: u32) -> Result<usize, MemoryStoreError> {
        self.begins.push(len);
        if self.fail_begin {
            return Err(MemoryStoreError::BeginRefused);
        }
        self.slots.push(Some(vec![0; len as usize]));
        Ok(self.slots.len() - 1)
    }

    fn write_at(&mut self, slot: usize, offset: u32, data: &[u8]) -> Result<(), MemoryStoreError> {
        self.writes += 1;
        if self.fail_writes > 0 {
            self.fail_writes -= 1;
            return Err(MemoryStoreError::WriteRefused);
        }
        let bytes = self.slots.get_mut(slot).and_then(Option::as_mut).ok_or(MemoryStoreError::NoSuchSlot)?;
        let start = offset as usize;
        let end = start.checked_add(data.len()).ok_or(MemoryStoreError::OutOfBounds)?;
        bytes.get_mut(start..end).ok_or(MemoryStoreError::OutOfBounds)?.copy_from_slice(data);
        Ok(())
    }

    fn read_at(&mut self, slot: usize, offset: u32, buffer: &mut [u8]) -> Result<usize, MemoryStoreError> {
        let bytes = self.slots.get(slot).and_then(Option::as_ref).ok_or(MemoryStoreError::NoSuchSlot)?;
        let start = (offset as usize).min(bytes.len());
        let n = buffer.len().min(bytes.len() - start);
        buffer[..n].copy_from_slice(&bytes[start..start + n]);
        Ok(n)
    }

    fn commit(&mut self, slot: usize, crc32: u32) -> Result<(), MemoryStoreError> {
        if self.fail_commit {
            return Err(MemoryStoreError::CommitRefused);
        }
        let bytes = self.slots.get_mut(slot).and_then(Option::take).ok_or(MemoryStoreError::NoSuchSlot)?;
        self.committed.push((bytes, crc32));
        Ok(())
    }

    fn abandon(&mut self, slot: usize) {
        match self.slots.get_mut(slot).and_then(Option::take) {
            Some(_) => self.abandoned.push(slot),
            None => self.stray_abandons += 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slot_ends_in_one_commit_or_one_abandon() {
        let mut store = MemoryStore::new();
        let a = store.begin(4).unwrap();
        let b = store.begin(2).unwrap();
        store.write_at(a, 1, &[1, 2, 3]).unwrap();
        assert_eq!(store.write_at(a, 2, &[0; 3]), Err(MemoryStoreError::OutOfBounds));
        assert_eq!(store.write_at(a, u32::MAX, &[0; 3]), Err(MemoryStoreError::OutOfBounds));
        let mut buffer = [9u8; 8];
        assert_eq!(store.read_at(a, 0, &mut buffer), Ok(4));
        assert_eq!(&buffer[..4], &[0, 1, 2, 3]);
        assert_eq!(store.open(), 2);
        store.commit(a, 7).unwrap();
        store.abandon(b);
        store.abandon(b);
        assert_eq!(store.committed, [(vec![0, 1, 2, 3], 7)]);
        assert_eq!((store.abandoned.as_slice(), store.stray_abandons, store.open()), (&[b][..], 1, 0));
        assert_eq!(store.commit(a, 7), Err(MemoryStoreError::NoSuchSlot));
        assert_eq!(store.begins, [4, 2]);
    }

    #[test]
    fn failures_are_asked_for() {
        let mut store = MemoryStore { fail_writes: 1, ..MemoryStore::new() };
        let slot = store.begin(2).unwrap();
        assert_eq!(store.write_at(slot, 0, &[1]), Err(MemoryStoreError::WriteRefused));
        assert_eq!(store.write_at(slot, 0, &[1]), Ok(()));
        assert_eq!(store.writes, 2);
        store.fail_commit = true;
        assert_eq!(store.commit(slot, 0), Err(MemoryStoreError::CommitRefused));
        store.fail_begin = true;
        assert_eq!(store.begin(1), Err(MemoryStoreError::BeginRefused));
    }
}
