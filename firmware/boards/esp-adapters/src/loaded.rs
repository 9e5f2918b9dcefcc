//! A frame source that sends an image the host loaded over the test
//! console, or a compiled-in fixture until one is loaded.

use core::cell::{Cell, UnsafeCell};

use nowcam_ports::{CaptureError, ControlError, FrameSource};
use nowcam_proto::chunker::crc32;
use nowcam_proto::wire::control::{ControlVariable, FrameSize};

/// Why a load step was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LoadError {
    /// the image is larger than the load buffer, or a chunk falls outside the image
    OutOfRange,
    /// no load was begun
    NotLoading,
    /// the loaded bytes do not match the CRC-32 the host sent
    CrcMismatch,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Sending the compiled-in fixture.
    Fixture,
    /// The host is writing an image of `len` bytes; nothing can be captured.
    Loading { len: usize },
    /// A loaded image of `len` bytes, checked against its CRC-32.
    Loaded { len: usize },
}

/// Serves the loaded image (or the fixture) on every capture.
///
/// The buffer is written through a shared reference while the node owns
/// this source, because the node offers only `source()`; see
/// [`LoadedSource::write`] for why that is sound.
pub struct LoadedSource {
    fixture: &'static [u8],
    buffer: UnsafeCell<&'static mut [u8]>,
    capacity: usize,
    state: Cell<State>,
    captured: Option<usize>,
    frame_size: FrameSize,
}

impl LoadedSource {
    /// `buffer` is the RAM an uploaded image may use; `fixture` is sent until one is loaded.
    pub fn new(fixture: &'static [u8], buffer: &'static mut [u8], frame_size: FrameSize) -> Self {
        LoadedSource {
            fixture,
            capacity: buffer.len(),
            buffer: UnsafeCell::new(buffer),
            state: Cell::new(State::Fixture),
            captured: None,
            frame_size,
        }
    }

    /// The largest image that can be loaded.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The length of the image a capture would send now, if any.
    pub fn ready_len(&self) -> Option<usize> {
        match self.state.get() {
            State::Fixture => (!self.fixture.is_empty()).then_some(self.fixture.len()),
            State::Loading { .. } => None,
            State::Loaded { len } => Some(len),
        }
    }

    /// Whether an uploaded image (rather than the fixture) is what gets sent.
    pub fn has_loaded_image(&self) -> bool {
        matches!(self.state.get(), State::Loaded { .. })
    }

    /// Starts loading an image of `len` bytes; the previous one is gone.
    ///
    /// # Safety
    /// No slice returned by [`FrameSource::frame`] may be alive, and no
    /// transfer may be reading the current frame: the caller holds the
    /// node that owns this source exclusively (`&mut` through its lock),
    /// and the node has no transfer in progress.
    pub unsafe fn begin(&self, len: usize) -> Result<(), LoadError> {
        if len > self.capacity() || len == 0 {
            return Err(LoadError::OutOfRange);
        }
        self.state.set(State::Loading { len });
        Ok(())
    }

    /// Writes one chunk at `offset` of the image being loaded.
    ///
    /// # Safety
    /// As for [`LoadedSource::begin`]: the caller holds the owning node
    /// exclusively, so no shared slice of the buffer exists while it is written.
    pub unsafe fn write(&self, offset: usize, data: &[u8]) -> Result<(), LoadError> {
        let State::Loading { len } = self.state.get() else {
            return Err(LoadError::NotLoading);
        };
        let end = offset.checked_add(data.len()).ok_or(LoadError::OutOfRange)?;
        if end > len {
            return Err(LoadError::OutOfRange);
        }
        // SAFETY: the caller guarantees exclusive access (see above).
        let buffer = unsafe { &mut *self.buffer.get() };
        buffer[offset..end].copy_from_slice(data);
        Ok(())
    }

    /// Finishes loading: the image becomes what captures send if its CRC-32 is `expected`.
    ///
    /// A mismatch leaves nothing loaded (the fixture is not sent either),
    /// so a half-loaded image can never go on the air.
    pub fn end(&self, expected: u32) -> Result<(), LoadError> {
        let State::Loading { len } = self.state.get() else {
            return Err(LoadError::NotLoading);
        };
        // SAFETY: only reads; writes happen under the same exclusive access as this call.
        let buffer: &[u8] = unsafe { &**self.buffer.get() };
        if crc32(&buffer[..len]) != expected {
            return Err(LoadError::CrcMismatch);
        }
        self.state.set(State::Loaded { len });
        Ok(())
    }
}

impl FrameSource for LoadedSource {
    fn capture(&mut self) -> Result<usize, CaptureError> {
        let len = self.ready_len().ok_or(CaptureError::NoImage)?;
        self.captured = Some(len);
        Ok(len)
    }

    fn frame(&self) -> &[u8] {
        let Some(len) = self.captured else {
            return &[];
        };
        match self.state.get() {
            State::Fixture => self.fixture,
            // SAFETY: a shared borrow of `self`; writes need the owning node
            // exclusively, so none can happen while this slice lives.
            State::Loaded { .. } => {
                let buffer: &[u8] = unsafe { &**self.buffer.get() };
                buffer.get(..len).unwrap_or(&[])
            }
            State::Loading { .. } => &[],
        }
    }

    /// A loaded image has no sensor settings.
    fn set_control(&mut self, _variable: ControlVariable, _value: i32) -> Result<(), ControlError> {
        Err(ControlError::Unsupported)
    }

    fn control(&self, _variable: ControlVariable) -> Option<i32> {
        None
    }

    fn frame_size(&self) -> FrameSize {
        self.frame_size
    }
}
