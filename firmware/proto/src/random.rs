//! Session ids, nonces and probe nonces need to differ across boots and
//! nodes: SplitMix64 seeded by the board (hardware RNG) or the simulator
//! (scenario seed). It is not a cryptographic generator: what the
//! authenticated mode needs of a receiver nonce is that it does not repeat,
//! which a 2^64-period sequence from a random seed gives.

#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub const fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub fn next_u32(&mut self) -> u32 {
        self.next_u64() as u32
    }

    /// A value that is never 0.
    pub fn next_nonzero_u32(&mut self) -> u32 {
        loop {
            let value = self.next_u32();
            if value != 0 {
                return value;
            }
        }
    }
}
