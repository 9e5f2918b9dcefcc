//! The test console: a byte stream to the host (USB serial on the chip, a pipe in the simulator).

/// A console that never blocks.
pub trait Console {
    /// Writes as many bytes as fit now and returns how many.
    fn write(&mut self, data: &[u8]) -> usize;

    /// Reads the bytes waiting, up to `buffer.len()`, and returns how many.
    fn read(&mut self, buffer: &mut [u8]) -> usize;
}
