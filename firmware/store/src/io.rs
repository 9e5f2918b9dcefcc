//! Byte-granular reads and writes over a flash that works in words.
//!
//! Every transfer goes through an aligned stack buffer of [`PIECE_LEN`]
//! bytes: flash drivers that need word-aligned memory (esp-storage among
//! them) otherwise copy each unaligned buffer through a sector-sized
//! (4 KiB) buffer on their own stack.

use embedded_storage::nor_flash::{MultiwriteNorFlash, NorFlashError, NorFlashErrorKind, ReadNorFlash};

/// The largest read or write size the store supports.
pub(crate) const SCRATCH_LEN: usize = 64;

/// Bytes moved per flash call; at least one chunk of the protocol (241
/// bytes) plus the words it straddles, so a chunk is one write.
const PIECE_LEN: usize = 256;

#[repr(C, align(8))]
struct Piece([u8; PIECE_LEN]);

impl Piece {
    fn new() -> Self {
        Piece([0; PIECE_LEN])
    }
}

/// The largest multiple of `word` that fits in a piece; `word` is at most
/// [`SCRATCH_LEN`], so this is at least `word`.
fn piece_for(word: usize) -> usize {
    PIECE_LEN - PIECE_LEN % word
}

/// Reads `buffer.len()` bytes at `address`, which need not be aligned to the
/// flash's read size. The caller keeps the range inside the slots, whose end
/// is a multiple of the read size, so the widened reads stay in bounds.
pub(crate) fn read_unaligned<F: ReadNorFlash>(
    flash: &mut F,
    address: u32,
    buffer: &mut [u8],
) -> Result<(), NorFlashErrorKind> {
    let read_size = F::READ_SIZE;
    let mut piece = Piece::new();
    let mut done = 0usize;
    while done < buffer.len() {
        let at = address as usize + done;
        let head = at % read_size;
        let remaining = buffer.len() - done;
        let span = (head + remaining).next_multiple_of(read_size).min(piece_for(read_size));
        flash.read((at - head) as u32, &mut piece.0[..span]).map_err(|error| error.kind())?;
        let take = (span - head).min(remaining);
        buffer[done..done + take].copy_from_slice(&piece.0[head..head + take]);
        done += take;
    }
    Ok(())
}

/// Writes `data` at `address`, which need not be aligned to the flash's write
/// size, into erased flash.
///
/// A word shared with bytes outside `data` is read back and rewritten with
/// those bytes unchanged: their 0 bits are written as 0 and their 1 bits as
/// 1, so they keep their value even if power fails during the write (the
/// `MultiwriteNorFlash` contract), and no bit is ever asked to go from 0
/// to 1.
pub(crate) fn write_unaligned<F: MultiwriteNorFlash>(
    flash: &mut F,
    address: u32,
    data: &[u8],
) -> Result<(), NorFlashErrorKind> {
    let write_size = F::WRITE_SIZE;
    let mut piece = Piece::new();
    let mut done = 0usize;
    while done < data.len() {
        let at = address as usize + done;
        let head = at % write_size;
        let base = at - head;
        let remaining = data.len() - done;
        let span = (head + remaining).next_multiple_of(write_size).min(piece_for(write_size));
        let take = (span - head).min(remaining);
        if head != 0 {
            read_unaligned(flash, base as u32, &mut piece.0[..write_size])?;
        }
        if !(head + take).is_multiple_of(write_size) {
            let last = span - write_size;
            read_unaligned(flash, (base + last) as u32, &mut piece.0[last..span])?;
        }
        piece.0[head..head + take].copy_from_slice(&data[done..done + take]);
        flash.write(base as u32, &piece.0[..span]).map_err(|error| error.kind())?;
        done += take;
    }
    Ok(())
}
