//! Splitting a serial byte stream into console frames and log text.

use crate::codec::{check_frame, DELIMITER};

/// What the splitter found between two delimiters.
#[derive(Debug, PartialEq, Eq)]
pub enum Piece<'a> {
    /// A run that passed COBS, CRC-32 and magic: hand it to
    /// [`crate::decode_host`] or [`crate::decode_board`], which decode it in place.
    Frame(&'a mut [u8]),
    /// Bytes that are not a message: the board's println output, noise, or
    /// up to `N` bytes of a run too long to be a message.
    Text(&'a [u8]),
}

/// Splits a byte stream, in chunks of any size, into frames and log text.
///
/// It holds at most `N` bytes. A run longer than that is handed out as
/// text `N` bytes at a time, up to the next delimiter, and counted in
/// [`FrameSplitter::overflows`]. `N` = [`crate::MAX_ENCODED_LEN`] fits every message.
///
/// A host reader loop calls [`FrameSplitter::feed`] with what the port
/// returned; a chip task calls [`FrameSplitter::push`] per byte.
#[derive(Debug, Clone)]
pub struct FrameSplitter<const N: usize> {
    buffer: [u8; N],
    len: usize,
    /// The current run is longer than `N`: it is text up to the next delimiter.
    overflowed: bool,
    /// The byte that found the buffer full, kept for the next run.
    carry: Option<u8>,
    overflows: u32,
}

impl<const N: usize> Default for FrameSplitter<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> FrameSplitter<N> {
    pub const fn new() -> Self {
        const { assert!(N > 0, "a frame splitter needs room for at least one byte") };
        FrameSplitter { buffer: [0; N], len: 0, overflowed: false, carry: None, overflows: 0 }
    }

    /// Takes one byte; returns a piece when this byte ends one.
    pub fn push(&mut self, byte: u8) -> Option<Piece<'_>> {
        if let Some(carried) = self.carry.take() {
            self.buffer[0] = carried;
            self.len = 1;
        }
        if byte == DELIMITER {
            let len = core::mem::take(&mut self.len);
            let overflowed = core::mem::take(&mut self.overflowed);
            if len == 0 {
                return None;
            }
            let run = &mut self.buffer[..len];
            return Some(if !overflowed && check_frame(run).is_ok() { Piece::Frame(run) } else { Piece::Text(run) });
        }
        if self.len == N {
            if !self.overflowed {
                self.overflows = self.overflows.saturating_add(1);
                self.overflowed = true;
            }
            self.carry = Some(byte);
            self.len = 0;
            return Some(Piece::Text(&self.buffer[..N]));
        }
        self.buffer[self.len] = byte;
        self.len += 1;
        None
    }

    /// Takes a chunk of bytes and calls `on_piece` with every piece it ends.
    pub fn feed(&mut self, bytes: &[u8], mut on_piece: impl FnMut(Piece<'_>)) {
        for &byte in bytes {
            if let Some(piece) = self.push(byte) {
                on_piece(piece);
            }
        }
    }

    /// Hands out what is buffered as text, for a reader whose port has gone
    /// quiet: a board writes each message in one go, so a run that stopped
    /// short of its closing delimiter is println output without one.
    pub fn flush(&mut self) -> Option<&[u8]> {
        if let Some(carried) = self.carry.take() {
            self.buffer[0] = carried;
            self.len = 1;
        }
        let len = core::mem::take(&mut self.len);
        // The rest of an over-long run is still text when it goes on.
        (len > 0).then_some(&self.buffer[..len])
    }

    /// How many bytes wait for the end of their run.
    pub fn pending(&self) -> usize {
        self.len + usize::from(self.carry.is_some())
    }

    /// How many runs were longer than `N` bytes.
    pub fn overflows(&self) -> u32 {
        self.overflows
    }
}
