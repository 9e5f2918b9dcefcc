//! Where images come from: a camera, or a fixture compiled in or uploaded.

use nowcam_proto::wire::control::{ControlVariable, FrameSize};

/// Why a capture failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum CaptureError {
    /// the sensor did not answer or timed out
    Sensor,
    /// the frame did not fit the frame buffer
    Overflow,
    /// there is no image to send
    NoImage,
    /// the frame is still being captured: not a failure, the node asks again
    /// at its next poll (a camera that captures without blocking its
    /// executor prepares the frame first; see `SenderNode::capture_due`)
    NotReady,
}

impl core::fmt::Display for CaptureError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            CaptureError::Sensor => "the camera sensor did not answer",
            CaptureError::Overflow => "the frame did not fit the frame buffer",
            CaptureError::NoImage => "there is no image to send",
            CaptureError::NotReady => "the frame is still being captured",
        })
    }
}

impl core::error::Error for CaptureError {}

/// Why a camera-control request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ControlError {
    /// this source has no such setting
    Unsupported,
    /// the value is outside the setting's range
    OutOfRange,
    /// the sensor did not accept the write
    Sensor,
}

impl core::fmt::Display for ControlError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            ControlError::Unsupported => "this camera has no such setting",
            ControlError::OutOfRange => "the value is out of range",
            ControlError::Sensor => "the sensor did not accept the setting",
        })
    }
}

impl core::error::Error for ControlError {}

/// A source of JPEG frames.
///
/// One frame is current at a time: `capture` replaces it, `frame` reads it,
/// and it stays valid until the next `capture` (the sender reads it in pieces
/// for as long as a transfer runs).
pub trait FrameSource {
    /// Takes a new frame and returns its length in bytes.
    fn capture(&mut self) -> Result<usize, CaptureError>;

    /// The current frame's bytes (empty before the first capture).
    fn frame(&self) -> &[u8];

    /// Applies one esp32-camera `/control` setting.
    fn set_control(&mut self, variable: ControlVariable, value: i32) -> Result<(), ControlError>;

    /// Reads back one setting, `None` when this source does not have it.
    fn control(&self, variable: ControlVariable) -> Option<i32>;

    /// The configured frame size.
    fn frame_size(&self) -> FrameSize;
}
