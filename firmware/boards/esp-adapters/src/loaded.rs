//! A frame source that sends an image the host loaded over the test
//! console, or a compiled-in fixture until one is loaded.

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
/// The test console writes the buffer through the node that owns this
/// source (`SenderNode::source_mut`), under the node's lock and only while
/// no transfer reads the frame.
pub struct LoadedSource {
    fixture: &'static [u8],
    buffer: &'static mut [u8],
    state: State,
    captured: Option<usize>,
    frame_size: FrameSize,
}

impl LoadedSource {
    /// `buffer` is the RAM an uploaded image may use; `fixture` is sent until one is loaded.
    pub fn new(fixture: &'static [u8], buffer: &'static mut [u8], frame_size: FrameSize) -> Self {
        LoadedSource { fixture, buffer, state: State::Fixture, captured: None, frame_size }
    }

    /// The largest image that can be loaded.
    pub fn capacity(&self) -> usize {
        self.buffer.len()
    }

    /// The length of the image a capture would send now, if any.
    pub fn ready_len(&self) -> Option<usize> {
        match self.state {
            State::Fixture => (!self.fixture.is_empty()).then_some(self.fixture.len()),
            State::Loading { .. } => None,
            State::Loaded { len } => Some(len),
        }
    }

    /// Whether an uploaded image (rather than the fixture) is what gets sent.
    pub fn has_loaded_image(&self) -> bool {
        matches!(self.state, State::Loaded { .. })
    }

    /// Starts loading an image of `len` bytes; the previous one is gone.
    ///
    /// Call it only while no transfer reads the frame: the transfer in
    /// progress would send a mix of two images.
    pub fn begin(&mut self, len: usize) -> Result<(), LoadError> {
        if len > self.capacity() || len == 0 {
            return Err(LoadError::OutOfRange);
        }
        self.state = State::Loading { len };
        Ok(())
    }

    /// Writes one chunk at `offset` of the image being loaded.
    pub fn write(&mut self, offset: usize, data: &[u8]) -> Result<(), LoadError> {
        let State::Loading { len } = self.state else {
            return Err(LoadError::NotLoading);
        };
        let end = offset.checked_add(data.len()).ok_or(LoadError::OutOfRange)?;
        if end > len {
            return Err(LoadError::OutOfRange);
        }
        self.buffer[offset..end].copy_from_slice(data);
        Ok(())
    }

    /// Finishes loading: the image becomes what captures send if its CRC-32 is `expected`.
    ///
    /// A mismatch leaves nothing loaded (the fixture is not sent either),
    /// so a half-loaded image can never go on the air.
    pub fn end(&mut self, expected: u32) -> Result<(), LoadError> {
        let State::Loading { len } = self.state else {
            return Err(LoadError::NotLoading);
        };
        if crc32(&self.buffer[..len]) != expected {
            return Err(LoadError::CrcMismatch);
        }
        self.state = State::Loaded { len };
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
        match self.state {
            State::Fixture => self.fixture,
            State::Loaded { .. } => self.buffer.get(..len).unwrap_or(&[]),
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
