//! Write-combining of a transfer's chunks into whole flash pages.
//!
//! A NOR flash programs at most one 256-byte page per command, and each
//! command costs about as much whether it writes 10 bytes or 256 (0.4 ms
//! typical on the W25Q32JV, `crate::timing`). A transfer's chunks are 241
//! bytes, so written as they come nearly every chunk straddles two pages
//! and costs two programs. The buffer holds the bytes of the page being
//! filled, contiguous from where they start, and programs the page when the
//! next bytes fall elsewhere, when it is full, or when the store is asked to
//! flush (before a read-back of the pending image, and at commit): chunks in
//! order cost one program per page. A power cut loses what is buffered, which
//! belongs to an image not yet committed.

use crate::timing::PAGE_SIZE;

/// Bytes of one page waiting to be programmed: `len` bytes from flash address `address`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PageBuffer {
    address: u32,
    len: u32,
    data: [u8; PAGE_SIZE as usize],
}

/// What the caller must program before buffering a piece.
pub(crate) struct Flush<'a> {
    pub address: u32,
    pub data: &'a [u8],
}

impl PageBuffer {
    pub(crate) const EMPTY: PageBuffer = PageBuffer { address: 0, len: 0, data: [0xff; PAGE_SIZE as usize] };

    /// Whether `piece` at `address` (within one page) extends the buffered bytes.
    fn continues(&self, address: u32) -> bool {
        self.len > 0 && address == self.address + self.len && address / PAGE_SIZE == self.address / PAGE_SIZE
    }

    /// The buffered bytes, to program; the buffer is empty afterwards.
    pub(crate) fn take(&mut self) -> Option<Flush<'_>> {
        if self.len == 0 {
            return None;
        }
        let len = core::mem::replace(&mut self.len, 0) as usize;
        let start = (self.address % PAGE_SIZE) as usize;
        Some(Flush { address: self.address, data: &self.data[start..start + len] })
    }

    /// Whether `address` (the start of a piece within one page) needs the
    /// buffer flushed first: it holds bytes that the piece does not continue.
    pub(crate) fn needs_flush_before(&self, address: u32) -> bool {
        self.len > 0 && !self.continues(address)
    }

    /// Adds `piece` at `address`, which must lie within one page and either
    /// continue the buffered bytes or find the buffer empty. Returns whether
    /// the page is now complete (to be programmed at once).
    pub(crate) fn push(&mut self, address: u32, piece: &[u8]) -> bool {
        if self.len == 0 {
            self.address = address;
        }
        let at = (self.address % PAGE_SIZE + self.len) as usize;
        self.data[at..at + piece.len()].copy_from_slice(piece);
        self.len += piece.len() as u32;
        (self.address + self.len).is_multiple_of(PAGE_SIZE)
    }
}

/// Splits `len` bytes at flash address `address` into pieces that each stay within one page.
pub(crate) fn pieces(address: u32, len: usize) -> impl Iterator<Item = (u32, core::ops::Range<usize>)> {
    within_units(address as usize, len, PAGE_SIZE as usize).map(|(at, range)| (at as u32, range))
}

/// Splits `len` bytes at `address` into pieces that each stay within one
/// aligned `unit` (a page, an erase sector): each piece's address and its
/// range within the `len` bytes.
pub(crate) fn within_units(
    address: usize,
    len: usize,
    unit: usize,
) -> impl Iterator<Item = (usize, core::ops::Range<usize>)> {
    let mut done = 0usize;
    core::iter::from_fn(move || {
        if done >= len {
            return None;
        }
        let at = address + done;
        let take = (unit - at % unit).min(len - done);
        let range = done..done + take;
        done += take;
        Some((at, range))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_never_cross_a_page() {
        let mut split = pieces(250, 300);
        assert_eq!(split.next(), Some((250, 0..6)));
        assert_eq!(split.next(), Some((256, 6..262)));
        assert_eq!(split.next(), Some((512, 262..300)));
        assert_eq!(split.next(), None);
    }

    #[test]
    fn chunks_in_order_fill_pages() {
        let mut buffer = PageBuffer::EMPTY;
        assert!(!buffer.push(0, &[1; 200]));
        assert!(!buffer.needs_flush_before(200));
        assert!(buffer.push(200, &[2; 56]));
        let flush = buffer.take().unwrap();
        assert_eq!((flush.address, flush.data.len()), (0, 256));
        assert_eq!(flush.data[199..201], [1, 2]);
        assert!(buffer.take().is_none());
        assert!(!buffer.push(300, &[3; 10]));
        assert!(buffer.needs_flush_before(320), "a gap");
        assert!(buffer.needs_flush_before(0), "another page");
        assert!(!buffer.needs_flush_before(310));
        let flush = buffer.take().unwrap();
        assert_eq!((flush.address, flush.data), (300, &[3u8; 10][..]));
    }
}
