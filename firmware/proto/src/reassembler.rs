//! Putting an image back together: chunks land at their offsets in a sink,
//! a bitmap tracks which have arrived, and the image counts as complete only
//! once its CRC-32 (and, authenticated, its image MAC) matches. A segment
//! whose CRC-32 differs from the sender's is forgotten, so that its chunks
//! are fetched again.
//!
//! The newest chunk is held back in RAM until the next new chunk of the
//! transfer arrives (or the image is checked), and only then written. A
//! second copy of the held chunk with other bytes means one of the two is
//! forged (the real sender always sends the same bytes, and a forger's copy
//! has to come first to be taken): neither is written, and the chunk counts
//! as missing again, so the sender's next copy fills it. On flash a wrong
//! copy that reached the sink could only be undone by an erase; one held
//! back costs nothing.
//!
//! That catches a forged copy only when the real one arrives right after
//! it. When the offer carries [`OFFER_FLAG_CHUNK_CRCS`], the sender
//! announces the CRC-32 of every chunk ahead of the chunks (SegmentCrcs
//! frames of one-chunk segments, see [`crate::wire`]), and a chunk is taken
//! only if its CRC-32 was announced and matches: a forged copy is refused
//! before it is held or written, whatever happens to the real one, and a
//! chunk whose CRC has not arrived yet stays missing until it comes again.
//! The table costs 4 bytes per chunk of the bitmap's capacity (and one bit
//! per chunk for which CRCs are known). A forger that also forges the
//! announcements defeats it: without a key, nothing tells the sender's
//! frames from anyone's.

use crate::auth::ImageMac;
use crate::bitmap::ChunkBitmap;
use crate::chunker::{Chunker, CRC32};
use crate::wire::{AbortReason, ChunkRepr, OfferRepr, MAX_CHUNK_PAYLOAD, OFFER_FLAG_CHUNK_CRCS};

/// Where a transfer's bytes go: a RAM buffer on the host, a flash slot on the chip.
pub trait ImageSink {
    type Error: core::fmt::Debug;

    fn write_at(&mut self, offset: u32, data: &[u8]) -> Result<(), Self::Error>;

    /// Reads back what was written, to check the CRC-32.
    fn read_at(&mut self, offset: u32, buffer: &mut [u8]) -> Result<usize, Self::Error>;

    /// Makes the sink ready for the transfer's writes (a store takes its
    /// slot): called at the first data chunk, before that chunk is written.
    fn reserve(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
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
    /// a second copy of the held chunk with other bytes: both are dropped
    /// and the chunk is missing again
    Contested,
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
    /// the offer announces chunk CRCs and this chunk's has not arrived yet:
    /// it is dropped and stays missing
    Unannounced,
    /// the chunk's CRC-32 differs from the one announced for it: a forged or
    /// corrupted copy, dropped
    BadChunkCrc,
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
    /// the bytes match the CRC-32 but not the image MAC (authenticated mode)
    MacMismatch,
    /// the sink could not read the image back
    Sink(E),
}

/// Checks an offer against the limits and a bitmap capacity, before anything is allocated.
///
/// An empty image, or one whose size, chunk size and chunk count disagree,
/// is a bad offer.
pub fn validate_offer(offer: &OfferRepr, limits: &Limits, capacity: usize) -> Result<Chunker, AbortReason> {
    if offer.image_len == 0 || offer.chunk_count == 0 {
        return Err(AbortReason::BadOffer);
    }
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

/// The newest chunk, not written to the sink yet.
#[derive(Debug, Clone)]
struct Held {
    index: u16,
    len: usize,
    payload: [u8; MAX_CHUNK_PAYLOAD],
}

impl Held {
    fn payload(&self) -> &[u8] {
        &self.payload[..self.len]
    }
}

/// The CRC-32 the sender announced for each chunk, and which are known.
#[derive(Debug, Clone)]
struct ChunkCrcs<const WORDS: usize> {
    crcs: [[u32; 32]; WORDS],
    known: ChunkBitmap<WORDS>,
}

impl<const WORDS: usize> ChunkCrcs<WORDS> {
    fn new() -> Self {
        Self { crcs: [[0; 32]; WORDS], known: ChunkBitmap::new() }
    }

    fn get(&self, index: u16) -> Option<u32> {
        let index = usize::from(index);
        if !self.known.contains(index) {
            return None;
        }
        self.crcs.get(index / 32).map(|word| word[index % 32])
    }

    fn set(&mut self, index: u16, crc: u32) {
        let index = usize::from(index);
        if let Some(word) = self.crcs.get_mut(index / 32) {
            word[index % 32] = crc;
            self.known.insert(index);
        }
    }
}

/// One image being reassembled; holds up to `32 × WORDS` chunks.
#[derive(Debug, Clone)]
pub struct Reassembler<const WORDS: usize> {
    offer: OfferRepr,
    chunker: Chunker,
    received: ChunkBitmap<WORDS>,
    received_count: u16,
    held: Option<Held>,
    /// Present when the offer announces chunk CRCs.
    chunk_crcs: Option<ChunkCrcs<WORDS>>,
}

impl<const WORDS: usize> Reassembler<WORDS> {
    /// Starts reassembling the offered image, or says why the offer is refused.
    pub fn new(offer: OfferRepr, limits: &Limits) -> Result<Self, AbortReason> {
        Self::with_max_chunks(offer, limits, usize::MAX)
    }

    /// As [`Reassembler::new`], with at most `max_chunks` chunks (and never
    /// more than the bitmap holds).
    pub fn with_max_chunks(offer: OfferRepr, limits: &Limits, max_chunks: usize) -> Result<Self, AbortReason> {
        let capacity = ChunkBitmap::<WORDS>::CAPACITY.min(max_chunks);
        let chunker = validate_offer(&offer, limits, capacity)?;
        let chunk_crcs = (offer.flags & OFFER_FLAG_CHUNK_CRCS != 0).then(ChunkCrcs::new);
        Ok(Self { offer, chunker, received: ChunkBitmap::new(), received_count: 0, held: None, chunk_crcs })
    }

    /// Whether the offer announces chunk CRCs, so that only chunks matching
    /// theirs are taken.
    pub fn checks_chunk_crcs(&self) -> bool {
        self.chunk_crcs.is_some()
    }

    /// Records the sender's CRC-32 of chunk `first + i` for each CRC `i`
    /// (past the last chunk ignored); a later announcement of a chunk
    /// replaces an earlier one. Returns how many were recorded; none unless
    /// the offer announces chunk CRCs.
    pub fn announce(&mut self, first: u16, crcs: impl Iterator<Item = u32>) -> u16 {
        let count = self.offer.chunk_count;
        let Some(table) = self.chunk_crcs.as_mut() else {
            return 0;
        };
        let mut recorded = 0;
        for (i, crc) in crcs.enumerate() {
            let Some(index) = u16::try_from(i).ok().and_then(|i| first.checked_add(i)).filter(|index| *index < count)
            else {
                break;
            };
            table.set(index, crc);
            recorded += 1;
        }
        recorded
    }

    pub fn chunker(&self) -> &Chunker {
        &self.chunker
    }

    /// The chunks `first..end` of segment `segment` of `segment_chunks`
    /// chunks each; `None` past the last chunk.
    pub fn segment(&self, segment: u16, segment_chunks: u16) -> Option<(u16, u16)> {
        let count = u32::from(self.offer.chunk_count);
        let first = u32::from(segment) * u32::from(segment_chunks.max(1));
        if first >= count {
            return None;
        }
        let end = (first + u32::from(segment_chunks.max(1))).min(count);
        Some((first as u16, end as u16))
    }

    /// Whether every chunk of `first..end` has arrived.
    pub fn has_all(&self, first: u16, end: u16) -> bool {
        (first..end).all(|index| self.received.contains(usize::from(index)))
    }

    /// The byte range `(offset, len)` of chunks `first..end`.
    pub fn byte_range(&self, first: u16, end: u16) -> (u32, u32) {
        let start = self.chunker.offset(first);
        let stop = if end >= self.offer.chunk_count { self.offer.image_len } else { self.chunker.offset(end) };
        (start, stop.saturating_sub(start))
    }

    /// The CRC-32 of the bytes of chunks `first..end`, read back from the
    /// sink (the held chunk written first).
    pub fn range_crc<S: ImageSink + ?Sized>(&mut self, sink: &mut S, first: u16, end: u16) -> Result<u32, S::Error> {
        self.flush(sink)?;
        let (start, len) = self.byte_range(first, end);
        let mut digest = CRC32.digest();
        let mut buffer = [0u8; 256];
        let mut offset = 0u32;
        while offset < len {
            let want = ((len - offset) as usize).min(buffer.len());
            let got = sink.read_at(start + offset, &mut buffer[..want])?;
            if got == 0 {
                break;
            }
            digest.update(&buffer[..got]);
            offset += got as u32;
        }
        Ok(digest.finalize())
    }

    /// Forgets every chunk that has a byte in `from..to` (a range the store
    /// wiped), so that it is taken again; returns how many were forgotten.
    pub fn forget_bytes(&mut self, from: u32, to: u32) -> u16 {
        if to <= from || self.offer.chunk_count == 0 {
            return 0;
        }
        let size = u32::from(self.chunker.chunk_size());
        let first = from / size;
        let last = ((to - 1) / size).min(u32::from(self.offer.chunk_count) - 1);
        if self.held.as_ref().is_some_and(|held| (first..=last).contains(&u32::from(held.index))) {
            self.held = None;
        }
        let mut forgotten = 0;
        for index in first..=last {
            if self.received.contains(index as usize) {
                self.received.remove(index as usize);
                self.received_count -= 1;
                forgotten += 1;
            }
        }
        forgotten
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
        // Checked before the held copy is looked at: a copy that fails its
        // announced CRC is forged, and must not contest the real one.
        if let Some(table) = &self.chunk_crcs {
            match table.get(chunk.index) {
                None => return Err(ChunkError::Unannounced),
                Some(crc) if crc != CRC32.checksum(chunk.payload) => return Err(ChunkError::BadChunkCrc),
                Some(_) => {}
            }
        }
        let index = usize::from(chunk.index);
        if let Some(held) = self.held.as_ref().filter(|held| held.index == chunk.index) {
            if held.payload() == chunk.payload {
                return Ok(ChunkOutcome::Duplicate);
            }
            self.held = None;
            self.received.remove(index);
            self.received_count -= 1;
            return Ok(ChunkOutcome::Contested);
        }
        if self.received.contains(index) {
            return Ok(ChunkOutcome::Duplicate);
        }
        if self.received_count == 0 && self.held.is_none() {
            sink.reserve().map_err(ChunkError::Sink)?;
        }
        self.flush(sink).map_err(ChunkError::Sink)?;
        let mut payload = [0u8; MAX_CHUNK_PAYLOAD];
        let len = chunk.payload.len().min(MAX_CHUNK_PAYLOAD);
        payload[..len].copy_from_slice(&chunk.payload[..len]);
        self.held = Some(Held { index: chunk.index, len, payload });
        self.received.insert(index);
        self.received_count += 1;
        Ok(ChunkOutcome::Stored)
    }

    /// Writes the held chunk, if any, to the sink: before the image (or a
    /// part of it) is read back. A chunk the sink refuses is missing again.
    pub fn flush<S: ImageSink + ?Sized>(&mut self, sink: &mut S) -> Result<(), S::Error> {
        let Some(held) = self.held.take() else {
            return Ok(());
        };
        if let Err(error) = sink.write_at(self.chunker.offset(held.index), held.payload()) {
            self.received.remove(usize::from(held.index));
            self.received_count -= 1;
            return Err(error);
        }
        Ok(())
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
    pub fn verify<S: ImageSink + ?Sized>(&mut self, sink: &mut S) -> Result<(), VerifyError<S::Error>> {
        self.verify_with(sink, None)
    }

    /// Checks the whole image against the offered CRC-32 and, when given,
    /// the image MAC and the value it must have, in one read.
    pub fn verify_with<S: ImageSink + ?Sized>(
        &mut self,
        sink: &mut S,
        mut mac: Option<(ImageMac, &[u8; 32])>,
    ) -> Result<(), VerifyError<S::Error>> {
        if !self.is_filled() {
            return Err(VerifyError::Incomplete);
        }
        self.flush(sink).map_err(VerifyError::Sink)?;
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
            if let Some((mac, _)) = mac.as_mut() {
                mac.update(&buffer[..got]);
            }
            offset += got as u32;
        }
        if digest.finalize() != self.offer.crc32 {
            return Err(VerifyError::CrcMismatch);
        }
        match mac {
            Some((mac, expected)) => match mac.matches(expected) {
                true => Ok(()),
                false => Err(VerifyError::MacMismatch),
            },
            None => Ok(()),
        }
    }
}
