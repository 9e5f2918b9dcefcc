//! Splitting an image into chunks, and the CRC-32 that seals it.

use crate::wire::{ChunkRepr, FrameRepr, MAX_CHUNK_PAYLOAD};

/// CRC-32 (ISO-HDLC, the zlib and Ethernet one) of a whole image.
///
/// On a chip the `crc` crate's 1 KiB table keeps flash small; on a host
/// crc32fast (carry-less multiplication where the CPU has it) makes the
/// simulator's integrity checks cheap. Both give the same value, which the
/// tests check; either is used as `CRC32.checksum(data)` or through
/// `CRC32.digest()`, `update` and `finalize`.
#[cfg(target_os = "none")]
pub const CRC32: crc::Crc<u32, crc::Table<1>> = crc::Crc::<u32, crc::Table<1>>::new(&crc::CRC_32_ISO_HDLC);
#[cfg(not(target_os = "none"))]
pub const CRC32: host::Crc32 = host::Crc32;

#[cfg(not(target_os = "none"))]
pub mod host {
    //! The host's CRC-32, with the `crc` crate's calling convention.

    /// CRC-32 over crc32fast.
    #[derive(Debug, Clone, Copy)]
    pub struct Crc32;

    /// A CRC-32 fed piece by piece.
    #[derive(Debug, Clone)]
    pub struct Digest(crc32fast::Hasher);

    impl Crc32 {
        pub fn checksum(&self, data: &[u8]) -> u32 {
            crc32fast::hash(data)
        }

        pub fn digest(&self) -> Digest {
            Digest(crc32fast::Hasher::new())
        }
    }

    impl Digest {
        pub fn update(&mut self, data: &[u8]) {
            self.0.update(data);
        }

        pub fn finalize(self) -> u32 {
            self.0.finalize()
        }
    }
}

pub fn crc32(data: &[u8]) -> u32 {
    CRC32.checksum(data)
}

/// The chunk geometry of one image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Chunker {
    image_len: u32,
    chunk_size: u16,
}

/// Why an image cannot be split as asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ChunkerError {
    /// the chunk size is zero or larger than a frame carries
    BadChunkSize,
    /// the image needs more than 65,535 chunks
    TooManyChunks,
    /// the image is empty: there is nothing to send
    EmptyImage,
}

impl core::fmt::Display for ChunkerError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            ChunkerError::BadChunkSize => "the chunk size is zero or larger than a frame carries",
            ChunkerError::TooManyChunks => "the image needs more than 65535 chunks",
            ChunkerError::EmptyImage => "the image is empty",
        })
    }
}

impl core::error::Error for ChunkerError {}

impl Chunker {
    pub fn new(image_len: u32, chunk_size: u16) -> Result<Self, ChunkerError> {
        if chunk_size == 0 || usize::from(chunk_size) > MAX_CHUNK_PAYLOAD {
            return Err(ChunkerError::BadChunkSize);
        }
        if Self::count_for(image_len, chunk_size) > u32::from(u16::MAX) {
            return Err(ChunkerError::TooManyChunks);
        }
        Ok(Self { image_len, chunk_size })
    }

    /// The number of chunks an image of `image_len` bytes needs at `chunk_size`.
    pub const fn count_for(image_len: u32, chunk_size: u16) -> u32 {
        image_len.div_ceil(chunk_size as u32)
    }

    pub fn image_len(&self) -> u32 {
        self.image_len
    }

    pub fn chunk_size(&self) -> u16 {
        self.chunk_size
    }

    pub fn count(&self) -> u16 {
        Self::count_for(self.image_len, self.chunk_size) as u16
    }

    /// The byte offset of chunk `index`.
    pub fn offset(&self, index: u16) -> u32 {
        u32::from(index) * u32::from(self.chunk_size)
    }

    /// The payload length of chunk `index`, `None` past the last chunk.
    pub fn len_of(&self, index: u16) -> Option<usize> {
        if index >= self.count() {
            return None;
        }
        let remaining = self.image_len - self.offset(index);
        Some(remaining.min(u32::from(self.chunk_size)) as usize)
    }

    /// The chunk frame for `index` of `image`.
    pub fn chunk<'a>(&self, session: u32, index: u16, image: &'a [u8]) -> Option<FrameRepr<'a>> {
        let start = self.offset(index) as usize;
        let payload = image.get(start..start + self.len_of(index)?)?;
        Some(FrameRepr::Chunk(ChunkRepr { session, index, payload }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The host's CRC-32 gives what the chips' table gives, whole and in pieces.
    #[test]
    fn the_host_crc_matches_the_chips() {
        let chip = crc::Crc::<u32, crc::Table<1>>::new(&crc::CRC_32_ISO_HDLC);
        let mut data = [0u8; 5000];
        let mut x = 1u32;
        for byte in data.iter_mut() {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            *byte = (x >> 16) as u8;
        }
        for len in [0, 1, 3, 241, 4999, 5000] {
            assert_eq!(CRC32.checksum(&data[..len]), chip.checksum(&data[..len]), "{len} bytes");
        }
        let mut digest = CRC32.digest();
        for piece in data.chunks(241) {
            digest.update(piece);
        }
        assert_eq!(digest.finalize(), chip.checksum(&data));
    }

    #[test]
    fn geometry_of_an_uneven_image() {
        let c = Chunker::new(1000, 241).unwrap();
        assert_eq!(c.count(), 5);
        assert_eq!(c.len_of(3), Some(241));
        assert_eq!(c.len_of(4), Some(1000 - 4 * 241));
        assert_eq!(c.len_of(5), None);
    }

    #[test]
    fn empty_image_has_no_chunks() {
        assert_eq!(Chunker::new(0, 241).unwrap().count(), 0);
    }

    #[test]
    fn limits() {
        assert_eq!(Chunker::new(10, 0), Err(ChunkerError::BadChunkSize));
        assert!(Chunker::new(10, 1461).is_ok(), "a v2 frame carries 1461 bytes of chunk");
        assert_eq!(Chunker::new(10, 1462), Err(ChunkerError::BadChunkSize));
        assert_eq!(Chunker::new(70_000, 1), Err(ChunkerError::TooManyChunks));
    }

    #[test]
    fn crc_matches_the_check_value() {
        assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
    }
}
