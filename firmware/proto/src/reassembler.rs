//! Putting an image back together: chunks land at their offsets in a sink,
//! a bitmap tracks which have arrived, and the image counts as complete only
//! once its CRC-32 matches.

use crate::bitmap::ChunkBitmap;
use crate::chunker::{Chunker, CRC32};
use crate::wire::{AbortReason, ChunkRepr, OfferRepr};

/// Where a transfer's bytes go: a RAM buffer on the host, a flash slot on the chip.
pub trait ImageSink {
    type Error: core::fmt::Debug;

    fn write_at(&mut self, offset: u32, data: &[u8]) -> Result<(), Self::Error>;

    /// Reads back what was written, to check the CRC-32.
    fn read_at(&mut self, offset: u32, buffer: &mut [u8]) -> Result<usize, Self::Error>;
}

/// A RAM buffer is a sink: the host's, and any chip's image that fits in memory.
impl ImageSink for [u8] {
    type Error = OutOfBounds;

    fn write_at(&mut self, offset: u32, data: &[u8]) -> Result<(), OutOfBounds> {
        let start = offset as usize;
        self.get_mut(start..start + data.len()).ok_or(OutOfBounds)?.copy_from_slice(data);
        Ok(())
    }

    fn read_at(&mut self, offset: u32, buffer: &mut [u8]) -> Result<usize, OutOfBounds> {
        let start = (offset as usize).min(self.len());
        let n = buffer.len().min(self.len() - start);
        buffer[..n].copy_from_slice(&self[start..start + n]);
        Ok(n)
    }
}

/// A write or read outside the sink.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct OutOfBounds;

/// The receiver's limits, checked against every offer before any memory is touched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Limits {
    /// The largest image accepted, in bytes (default 512 KiB: UXGA JPEGs at high quality reach 300 KB).
    pub max_image_len: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self { max_image_len: 512 * 1024 }
    }
}

/// What happened to a chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ChunkOutcome {
    /// the chunk was new and is written
    Stored,
    /// the chunk had arrived before and is dropped
    Duplicate,
}

/// Why a chunk was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ChunkError<E> {
    /// the chunk belongs to another session
    WrongSession,
    /// the chunk index is past the last chunk
    IndexOutOfRange,
    /// the payload length is not the one the offer implies for that index
    WrongLength,
    /// the sink refused the write
    Sink(E),
}

/// Why an assembled image was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum VerifyError<E> {
    /// chunks are still missing
    Incomplete,
    /// the bytes do not match the offered CRC-32
    CrcMismatch,
    /// the sink could not read the image back
    Sink(E),
}

/// Checks an offer against the limits and a bitmap capacity, before anything is allocated.
pub fn validate_offer(offer: &OfferRepr, limits: &Limits, capacity: usize) -> Result<Chunker, AbortReason> {
    if offer.image_len > limits.max_image_len {
        return Err(AbortReason::TooLarge);
    }
    let chunker = Chunker::new(offer.image_len, offer.chunk_size).map_err(|_| AbortReason::BadOffer)?;
    if chunker.count() != offer.chunk_count {
        return Err(AbortReason::BadOffer);
    }
    if usize::from(offer.chunk_count) > capacity {
        return Err(AbortReason::TooManyChunks);
    }
    Ok(chunker)
}

/// One image being reassembled; holds up to `32 × WORDS` chunks.
#[derive(Debug, Clone)]
pub struct Reassembler<const WORDS: usize> {
    offer: OfferRepr,
    chunker: Chunker,
    received: ChunkBitmap<WORDS>,
    received_count: u16,
}

impl<const WORDS: usize> Reassembler<WORDS> {
    /// Starts reassembling the offered image, or says why the offer is refused.
    pub fn new(offer: OfferRepr, limits: &Limits) -> Result<Self, AbortReason> {
        let chunker = validate_offer(&offer, limits, ChunkBitmap::<WORDS>::CAPACITY)?;
        Ok(Self { offer, chunker, received: ChunkBitmap::new(), received_count: 0 })
    }

    pub fn offer(&self) -> &OfferRepr {
        &self.offer
    }

    pub fn received_count(&self) -> u16 {
        self.received_count
    }

    pub fn is_filled(&self) -> bool {
        self.received_count == self.offer.chunk_count
    }

    /// Writes a chunk at its offset, unless it is a duplicate or does not fit the offer.
    pub fn accept<S: ImageSink + ?Sized>(
        &mut self,
        chunk: &ChunkRepr<'_>,
        sink: &mut S,
    ) -> Result<ChunkOutcome, ChunkError<S::Error>> {
        if chunk.session != self.offer.session {
            return Err(ChunkError::WrongSession);
        }
        let expected = self.chunker.len_of(chunk.index).ok_or(ChunkError::IndexOutOfRange)?;
        if chunk.payload.len() != expected {
            return Err(ChunkError::WrongLength);
        }
        if self.received.contains(usize::from(chunk.index)) {
            return Ok(ChunkOutcome::Duplicate);
        }
        sink.write_at(self.chunker.offset(chunk.index), chunk.payload).map_err(ChunkError::Sink)?;
        self.received.insert(usize::from(chunk.index));
        self.received_count += 1;
        Ok(ChunkOutcome::Stored)
    }

    /// The lowest chunk index that has not arrived (the chunk count when all have).
    pub fn lowest_missing(&self) -> u16 {
        match self.received.next_clear(0) {
            Some(index) => (index as u16).min(self.offer.chunk_count),
            None => self.offer.chunk_count,
        }
    }

    /// Writes the status bitmap (chunks after the lowest missing one) into `out`;
    /// returns the lowest missing index and the bitmap's length in bytes, trimmed
    /// to the last received chunk.
    pub fn status_bitmap(&self, out: &mut [u8]) -> (u16, usize) {
        let lowest = self.lowest_missing();
        let mut used = 0;
        out.fill(0);
        let mut index = usize::from(lowest) + 1;
        while let Some(next) = self.received.next_set(index) {
            let bit = next - usize::from(lowest) - 1;
            let Some(byte) = out.get_mut(bit / 8) else {
                break;
            };
            *byte |= 1 << (bit % 8);
            used = bit / 8 + 1;
            index = next + 1;
        }
        (lowest, used)
    }

    /// Checks the whole image against the offered CRC-32, reading it back in pieces.
    pub fn verify<S: ImageSink + ?Sized>(&self, sink: &mut S) -> Result<(), VerifyError<S::Error>> {
        if !self.is_filled() {
            return Err(VerifyError::Incomplete);
        }
        let mut digest = CRC32.digest();
        let mut buffer = [0u8; 256];
        let mut offset = 0u32;
        while offset < self.offer.image_len {
            let want = ((self.offer.image_len - offset) as usize).min(buffer.len());
            let got = sink.read_at(offset, &mut buffer[..want]).map_err(VerifyError::Sink)?;
            if got == 0 {
                return Err(VerifyError::CrcMismatch);
            }
            digest.update(&buffer[..got]);
            offset += got as u32;
        }
        if digest.finalize() == self.offer.crc32 {
            Ok(())
        } else {
            Err(VerifyError::CrcMismatch)
        }
    }
}
