//! Byte-granular reads and writes over a flash that works in words.

use embedded_storage::nor_flash::{
    MultiwriteNorFlash, NorFlashError, NorFlashErrorKind, ReadNorFlash,
};

/// The largest read or write size the store supports: partial words pass
/// through a stack buffer of this size.
pub(crate) const SCRATCH_LEN: usize = 64;

/// Reads `buffer.len()` bytes at `address`, which need not be aligned to the
/// flash's read size. The caller keeps the range inside the slots, whose end
/// is a multiple of the read size, so the widened reads stay in bounds.
pub(crate) fn read_unaligned<F: ReadNorFlash>(
    flash: &mut F,
    address: u32,
    buffer: &mut [u8],
) -> Result<(), NorFlashErrorKind> {
    let read_size = F::READ_SIZE;
    let mut done = 0usize;
    while done < buffer.len() {
        let at = address as usize + done;
        let head = at % read_size;
        let remaining = buffer.len() - done;
        if head == 0 && remaining >= read_size {
            let whole = remaining - remaining % read_size;
            flash
                .read(at as u32, &mut buffer[done..done + whole])
                .map_err(|error| error.kind())?;
            done += whole;
        } else {
            let mut word = [0u8; SCRATCH_LEN];
            flash
                .read((at - head) as u32, &mut word[..read_size])
                .map_err(|error| error.kind())?;
            let take = (read_size - head).min(remaining);
            buffer[done..done + take].copy_from_slice(&word[head..head + take]);
            done += take;
        }
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
    let mut done = 0usize;
    while done < data.len() {
        let at = address as usize + done;
        let head = at % write_size;
        let remaining = data.len() - done;
        if head == 0 && remaining >= write_size {
            let whole = remaining - remaining % write_size;
            flash
                .write(at as u32, &data[done..done + whole])
                .map_err(|error| error.kind())?;
            done += whole;
        } else {
            let base = (at - head) as u32;
            let mut word = [0u8; SCRATCH_LEN];
            read_unaligned(flash, base, &mut word[..write_size])?;
            let take = (write_size - head).min(remaining);
            word[head..head + take].copy_from_slice(&data[done..done + take]);
            flash
                .write(base, &word[..write_size])
                .map_err(|error| error.kind())?;
            done += take;
        }
    }
    Ok(())
}
