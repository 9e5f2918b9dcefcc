//! The slot header: the record whose write commits an image.

/// Marks a slot header: `NCIM`.
pub const MAGIC: [u8; 4] = *b"NCIM";

/// The on-flash format this crate writes for an image stored in place, and reads.
pub const FORMAT_VERSION: u16 = 1;

/// The format of an image with relocated bytes (a segment repair wrote them
/// again in the slot's spare space): the header also gives where the
/// relocation table lies. A store of format 1 only sees such a slot as free.
pub const FORMAT_VERSION_RELOCATED: u16 = 2;

/// Bytes in a header.
pub const HEADER_LEN: usize = 32;

/// Where the image data starts within a slot: the header plus 32 reserved
/// bytes, so that the data starts on a write boundary of any flash whose
/// write size divides 64.
pub const DATA_OFFSET: u32 = 64;

/// The CRC used for the image data and for the header itself: the
/// protocol's CRC-32 (a small table on a chip, crc32fast on a host).
pub(crate) use nowcam_proto::chunker::CRC32;

mod field {
    use core::ops::Range;

    pub const MAGIC: Range<usize> = 0..4;
    pub const VERSION: Range<usize> = 4..6;
    pub const SEQUENCE: Range<usize> = 8..12;
    pub const LENGTH: Range<usize> = 12..16;
    pub const IMAGE_CRC: Range<usize> = 16..20;
    pub const REMAP_TABLE: Range<usize> = 20..24;
    pub const HEADER_CRC: Range<usize> = 28..32;
}

/// The fields of a committed image's header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Header {
    pub sequence: u32,
    pub len: u32,
    pub crc32: u32,
    /// The slot offset of the relocation table (`crate::remap`); 0 for an
    /// image stored in place (format 1).
    pub remap_table: u32,
}

impl Header {
    /// Parses a header; `None` when the bytes are not a whole header of this
    /// format (erased, torn, another version or garbage).
    pub fn parse(bytes: &[u8; HEADER_LEN]) -> Option<Header> {
        if bytes[field::MAGIC] != MAGIC {
            return None;
        }
        let version = u16::from_le_bytes([bytes[4], bytes[5]]);
        if version != FORMAT_VERSION && version != FORMAT_VERSION_RELOCATED {
            return None;
        }
        let stored_crc = read_u32(bytes, field::HEADER_CRC.start);
        if CRC32.checksum(&bytes[..field::HEADER_CRC.start]) != stored_crc {
            return None;
        }
        let remap_table = match version {
            FORMAT_VERSION_RELOCATED => match read_u32(bytes, field::REMAP_TABLE.start) {
                0 => return None,
                table => table,
            },
            _ => 0,
        };
        Some(Header {
            sequence: read_u32(bytes, field::SEQUENCE.start),
            len: read_u32(bytes, field::LENGTH.start),
            crc32: read_u32(bytes, field::IMAGE_CRC.start),
            remap_table,
        })
    }

    /// The header's bytes; the reserved fields are zero, and so is the
    /// table's offset in format 1.
    pub fn emit(&self) -> [u8; HEADER_LEN] {
        let mut bytes = [0u8; HEADER_LEN];
        bytes[field::MAGIC].copy_from_slice(&MAGIC);
        let version = if self.remap_table == 0 { FORMAT_VERSION } else { FORMAT_VERSION_RELOCATED };
        bytes[field::VERSION].copy_from_slice(&version.to_le_bytes());
        bytes[field::REMAP_TABLE].copy_from_slice(&self.remap_table.to_le_bytes());
        bytes[field::SEQUENCE].copy_from_slice(&self.sequence.to_le_bytes());
        bytes[field::LENGTH].copy_from_slice(&self.len.to_le_bytes());
        bytes[field::IMAGE_CRC].copy_from_slice(&self.crc32.to_le_bytes());
        let crc = CRC32.checksum(&bytes[..field::HEADER_CRC.start]);
        bytes[field::HEADER_CRC].copy_from_slice(&crc.to_le_bytes());
        bytes
    }
}

fn read_u32(bytes: &[u8; HEADER_LEN], at: usize) -> u32 {
    u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: Header = Header { sequence: 0x0102_0304, len: 0x0000_1000, crc32: 0xcbf4_3926, remap_table: 0 };

    #[test]
    fn emit_matches_the_documented_layout() {
        let bytes = HEADER.emit();
        assert_eq!(
            bytes[..28],
            [
                0x4e, 0x43, 0x49, 0x4d, // magic
                0x01, 0x00, // version
                0x00, 0x00, // reserved
                0x04, 0x03, 0x02, 0x01, // sequence
                0x00, 0x10, 0x00, 0x00, // length
                0x26, 0x39, 0xf4, 0xcb, // image CRC-32
                0, 0, 0, 0, 0, 0, 0, 0, // reserved
            ]
        );
        let crc = CRC32.checksum(&bytes[..28]);
        assert_eq!(bytes[28..], crc.to_le_bytes());
    }

    #[test]
    fn parse_reads_back_what_emit_wrote() {
        assert_eq!(Header::parse(&HEADER.emit()), Some(HEADER));
    }

    #[test]
    fn a_relocated_image_has_format_2_and_its_table() {
        let relocated = Header { remap_table: 0x2000, ..HEADER };
        let bytes = relocated.emit();
        assert_eq!(bytes[4..6], [2, 0]);
        assert_eq!(bytes[20..24], [0x00, 0x20, 0, 0]);
        assert_eq!(Header::parse(&bytes), Some(relocated));
        // Format 2 without a table is not a header this store wrote.
        let mut bytes = HEADER.emit();
        bytes[4] = 2;
        let crc = CRC32.checksum(&bytes[..28]);
        bytes[28..].copy_from_slice(&crc.to_le_bytes());
        assert_eq!(Header::parse(&bytes), None);
    }

    #[test]
    fn parse_refuses_erased_torn_and_foreign_headers() {
        assert_eq!(Header::parse(&[0xff; HEADER_LEN]), None);
        assert_eq!(Header::parse(&[0x00; HEADER_LEN]), None);
        let whole = HEADER.emit();
        for torn_at in 0..HEADER_LEN {
            let mut torn = [0xff; HEADER_LEN];
            torn[..torn_at].copy_from_slice(&whole[..torn_at]);
            assert_eq!(Header::parse(&torn), None, "torn after {torn_at} bytes");
        }
        for bit in 0..HEADER_LEN * 8 {
            let mut flipped = whole;
            flipped[bit / 8] ^= 1 << (bit % 8);
            assert_eq!(Header::parse(&flipped), None, "bit {bit} flipped");
        }
    }

    #[test]
    fn the_crc_is_crc32_iso_hdlc() {
        assert_eq!(CRC32.checksum(b"123456789"), 0xcbf4_3926);
    }
}
