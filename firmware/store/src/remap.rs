//! Relocation of repaired byte ranges into a slot's spare erased space.
//!
//! A segment repair (the protocol compares per-segment CRCs after an image's
//! CRC-32 failed, and fetches only the segments that differ) needs those
//! bytes written again. NOR flash cannot rewrite programmed bytes without an
//! erase, and the store never erases in the middle of a transfer. So the
//! store writes the segment again elsewhere: in the slot's erased space past
//! the image's end (a slot is sized for the largest image, and erase-ahead
//! erases all of it, so a 100 KB image in a 576 KiB slot leaves 470 KiB
//! spare). A [`Remaps`] table says which image bytes now live where; reads
//! and writes go through it.
//!
//! At commit the table is written into the spare space after the last run
//! (before the header, which stays the commit), and the header, format
//! version 2, points at it. An image without runs keeps format version 1.
//!
//! The table on flash, integers little-endian:
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 4 | magic `NCRM` |
//! | 4 | 2 | run count, 1 to [`MAX_RUNS`] |
//! | 6 | 2 | reserved, 0 |
//! | 8 | 12 × count | runs: image offset, length, slot offset (each u32) |
//! | 8 + 12 × count | 4 | CRC-32 of the bytes before it |

use crate::header::CRC32;

/// The most runs one image may have: a repair round relocates each segment
/// that differs, and the protocol allows 8 rounds.
pub const MAX_RUNS: usize = 16;

/// Marks a relocation table: `NCRM`.
const MAGIC: [u8; 4] = *b"NCRM";

const RUN_LEN: usize = 12;
const FIXED_LEN: usize = 8;

/// Bytes of the largest table on flash.
pub const MAX_TABLE_LEN: usize = FIXED_LEN + MAX_RUNS * RUN_LEN + 4;

/// Image bytes `offset..offset + len` stored at slot offset `at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Run {
    pub offset: u32,
    pub len: u32,
    pub at: u32,
}

impl Run {
    fn end(&self) -> u32 {
        self.offset + self.len
    }

    fn contains(&self, offset: u32) -> bool {
        self.offset <= offset && offset < self.end()
    }
}

/// Where an image's bytes live: at `data_offset + offset` unless a run
/// moved them; of overlapping runs the newest counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Remaps {
    runs: [Run; MAX_RUNS],
    count: u8,
}

impl Remaps {
    pub const EMPTY: Remaps = Remaps { runs: [Run { offset: 0, len: 0, at: 0 }; MAX_RUNS], count: 0 };

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    fn runs(&self) -> &[Run] {
        &self.runs[..usize::from(self.count)]
    }

    /// Adds a run; `false` when the table is full.
    pub fn push(&mut self, run: Run) -> bool {
        if usize::from(self.count) >= MAX_RUNS {
            return false;
        }
        self.runs[usize::from(self.count)] = run;
        self.count += 1;
        true
    }

    /// Where image byte `offset` lives (a slot offset, given that unmoved
    /// bytes start at `data_offset`), and how many bytes from there, at most
    /// `max`, lie contiguously in the same place.
    pub fn locate(&self, data_offset: u32, offset: u32, max: u32) -> (u32, u32) {
        let runs = self.runs();
        let newest = runs.iter().rposition(|run| run.contains(offset));
        let (at, mut len) = match newest {
            Some(index) => {
                let run = runs[index];
                (run.at + (offset - run.offset), (run.end() - offset).min(max))
            }
            None => (data_offset + offset, max),
        };
        // A newer run (any run, for unmoved bytes) starting within the span
        // takes over from its start.
        let newer = newest.map_or(0, |index| index + 1);
        for run in &runs[newer..] {
            if run.offset > offset && run.offset - offset < len {
                len = run.offset - offset;
            }
        }
        (at, len)
    }

    /// Whether every run ends at or before slot offset `limit`.
    pub fn ends_before(&self, limit: u32) -> bool {
        self.runs().iter().all(|run| run.at + run.len <= limit)
    }

    /// The table's bytes on flash; returns how many of `out` were used.
    pub fn emit(&self, out: &mut [u8; MAX_TABLE_LEN]) -> usize {
        out[..4].copy_from_slice(&MAGIC);
        out[4..6].copy_from_slice(&u16::from(self.count).to_le_bytes());
        out[6..8].copy_from_slice(&[0, 0]);
        let mut at = FIXED_LEN;
        for run in self.runs() {
            out[at..at + 4].copy_from_slice(&run.offset.to_le_bytes());
            out[at + 4..at + 8].copy_from_slice(&run.len.to_le_bytes());
            out[at + 8..at + 12].copy_from_slice(&run.at.to_le_bytes());
            at += RUN_LEN;
        }
        let crc = CRC32.checksum(&out[..at]);
        out[at..at + 4].copy_from_slice(&crc.to_le_bytes());
        at + 4
    }

    /// Parses a table read from flash (at least [`MAX_TABLE_LEN`] bytes, or
    /// up to the slot's end), checking every run against an image of
    /// `image_len` bytes in a slot of `slot_size` bytes whose data starts
    /// at `data_offset`; `None` when the bytes are not such a table.
    pub fn parse(bytes: &[u8], image_len: u32, data_offset: u32, slot_size: u32) -> Option<Remaps> {
        if bytes.get(..4)? != MAGIC {
            return None;
        }
        let count = usize::from(u16::from_le_bytes([*bytes.get(4)?, *bytes.get(5)?]));
        if count == 0 || count > MAX_RUNS {
            return None;
        }
        let end = FIXED_LEN + count * RUN_LEN;
        let stored = u32::from_le_bytes(bytes.get(end..end + 4)?.try_into().ok()?);
        if CRC32.checksum(&bytes[..end]) != stored {
            return None;
        }
        let mut remaps = Remaps::EMPTY;
        let image_end = data_offset.checked_add(image_len)?;
        for index in 0..count {
            let field = |at: usize| {
                let start = FIXED_LEN + index * RUN_LEN + at;
                u32::from_le_bytes([bytes[start], bytes[start + 1], bytes[start + 2], bytes[start + 3]])
            };
            let run = Run { offset: field(0), len: field(4), at: field(8) };
            let fits = run.len > 0
                && run.offset.checked_add(run.len).is_some_and(|end| end <= image_len)
                && run.at >= image_end
                && run.at.checked_add(run.len).is_some_and(|end| end <= slot_size);
            if !fits {
                return None;
            }
            remaps.push(run);
        }
        Some(remaps)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn remaps(runs: &[Run]) -> Remaps {
        let mut table = Remaps::EMPTY;
        for run in runs {
            assert!(table.push(*run));
        }
        table
    }

    #[test]
    fn unmoved_bytes_stop_where_a_run_starts() {
        let table = remaps(&[Run { offset: 100, len: 50, at: 5000 }]);
        assert_eq!(table.locate(64, 0, 1000), (64, 100));
        assert_eq!(table.locate(64, 100, 1000), (5000, 50));
        assert_eq!(table.locate(64, 120, 10), (5020, 10));
        assert_eq!(table.locate(64, 150, 1000), (214, 1000));
    }

    #[test]
    fn the_newest_run_wins() {
        let table = remaps(&[Run { offset: 100, len: 50, at: 5000 }, Run { offset: 120, len: 10, at: 6000 }]);
        assert_eq!(table.locate(64, 100, 1000), (5000, 20));
        assert_eq!(table.locate(64, 125, 1000), (6005, 5));
        assert_eq!(table.locate(64, 130, 1000), (5030, 20));
        // An older run inside a newer one is hidden.
        let table = remaps(&[Run { offset: 120, len: 10, at: 6000 }, Run { offset: 100, len: 50, at: 5000 }]);
        assert_eq!(table.locate(64, 100, 1000), (5000, 50));
    }

    #[test]
    fn the_table_reads_back_and_refuses_damage() {
        let table = remaps(&[Run { offset: 0, len: 3856, at: 8192 }, Run { offset: 7712, len: 100, at: 12_288 }]);
        let mut bytes = [0xff; MAX_TABLE_LEN];
        let len = table.emit(&mut bytes);
        assert_eq!(len, 8 + 24 + 4);
        assert_eq!(Remaps::parse(&bytes, 7812, 64, 16_384), Some(table));
        for bit in 0..len * 8 {
            let mut flipped = bytes;
            flipped[bit / 8] ^= 1 << (bit % 8);
            assert_eq!(Remaps::parse(&flipped, 7812, 64, 16_384), None, "bit {bit} flipped");
        }
        // Runs outside the image or the slot, or over the image's own bytes.
        assert_eq!(Remaps::parse(&bytes, 7800, 64, 16_384), None);
        assert_eq!(Remaps::parse(&bytes, 7812, 64, 12_000), None);
        assert_eq!(Remaps::parse(&bytes, 9000, 64, 16_384), None);
        assert_eq!(Remaps::parse(&[0xff; MAX_TABLE_LEN], 7812, 64, 16_384), None);
        assert_eq!(Remaps::parse(&bytes[..10], 7812, 64, 16_384), None);
    }

    #[test]
    fn a_full_table_refuses_more() {
        let mut table = Remaps::EMPTY;
        for index in 0..MAX_RUNS as u32 {
            assert!(table.push(Run { offset: index, len: 1, at: 1000 + index }));
        }
        assert!(!table.push(Run { offset: 0, len: 1, at: 0 }));
    }
}
