//! The fuzz targets' checks, as functions: the cargo-fuzz binaries call
//! them, and `tests/corpus.rs` replays the kept corpus and crash cases
//! through them with an ordinary `cargo test`. Also what they share: a
//! cursor over the fuzzer's bytes, and images made from a seed so a target
//! can send the right bytes without keeping them. The store is
//! `nowcam_proto::memory::MemoryStore` (feature `alloc`).

pub mod legacy_codec;
pub mod legacy_receiver;
pub mod receiver;
pub mod sender;
pub mod wire_parse;

/// Every target by name, for the corpus replay.
pub const TARGETS: [(&str, fn(&[u8])); 5] = [
    ("wire_parse", wire_parse::check),
    ("legacy_codec", legacy_codec::check),
    ("receiver", receiver::check),
    ("sender", sender::check),
    ("legacy_receiver", legacy_receiver::check),
];

/// Reads the fuzzer's input front to back; every read fails once it runs out.
pub struct Input<'a> {
    data: &'a [u8],
}

impl<'a> Input<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Self { data }
    }

    pub fn u8(&mut self) -> Option<u8> {
        let (first, rest) = self.data.split_first()?;
        self.data = rest;
        Some(*first)
    }

    pub fn u16(&mut self) -> Option<u16> {
        Some(u16::from_le_bytes([self.u8()?, self.u8()?]))
    }

    pub fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes([self.u8()?, self.u8()?, self.u8()?, self.u8()?]))
    }

    pub fn bool(&mut self) -> Option<bool> {
        Some(self.u8()? & 1 == 1)
    }

    /// Up to `len` bytes: fewer when the input ends first.
    pub fn bytes(&mut self, len: usize) -> &'a [u8] {
        let (taken, rest) = self.data.split_at(len.min(self.data.len()));
        self.data = rest;
        taken
    }
}

/// Byte `offset` of the image made from `seed`.
pub fn image_byte(seed: u32, offset: usize) -> u8 {
    (offset as u32).wrapping_mul(31).wrapping_add(seed.wrapping_mul(7)).wrapping_add(offset as u32 >> 8) as u8
}

/// `len` bytes of the image made from `seed`, from `offset` on.
pub fn image_bytes(seed: u32, offset: usize, len: usize) -> Vec<u8> {
    (offset..offset + len).map(|i| image_byte(seed, i)).collect()
}
