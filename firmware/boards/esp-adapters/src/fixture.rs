//! A frame source that replays one JPEG compiled into the image, for boards
//! without a camera and for repeatable on-air tests.

use nowcam_ports::{CaptureError, ControlError, FrameSource};
use nowcam_proto::wire::control::{ControlVariable, FrameSize};

/// Serves the same JPEG on every capture.
pub struct FixtureSource {
    jpeg: &'static [u8],
    frame_size: FrameSize,
    captured: bool,
}

impl FixtureSource {
    /// `frame_size` is what the fixture's dimensions correspond to, reported to `/status`.
    pub const fn new(jpeg: &'static [u8], frame_size: FrameSize) -> Self {
        FixtureSource { jpeg, frame_size, captured: false }
    }
}

impl FrameSource for FixtureSource {
    fn capture(&mut self) -> Result<usize, CaptureError> {
        if self.jpeg.is_empty() {
            return Err(CaptureError::NoImage);
        }
        self.captured = true;
        Ok(self.jpeg.len())
    }

    fn frame(&self) -> &[u8] {
        if self.captured {
            self.jpeg
        } else {
            &[]
        }
    }

    /// A compiled-in fixture has no sensor settings.
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
