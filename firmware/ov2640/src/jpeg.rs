//! Finding the JPEG inside what the DVP port delivered for one frame.
//!
//! The OV2640 pads each JPEG frame with zeros up to the end of the frame's
//! lines, so the image ends at its end-of-image marker, not where the frame
//! ends.

/// Start-of-image marker.
pub const START_OF_IMAGE: [u8; 2] = [0xFF, 0xD8];

/// End-of-image marker.
pub const END_OF_IMAGE: [u8; 2] = [0xFF, 0xD9];

/// Why a frame holds no JPEG.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum JpegError {
    /// the frame does not begin with a start-of-image marker
    MissingStart,
    /// the frame has no end-of-image marker
    MissingEnd,
}

impl core::fmt::Display for JpegError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            JpegError::MissingStart => "the frame does not begin with a JPEG start-of-image marker",
            JpegError::MissingEnd => "the frame has no JPEG end-of-image marker",
        })
    }
}

impl core::error::Error for JpegError {}

/// The length of the JPEG at the start of `frame`, up to and including its
/// last end-of-image marker.
///
/// The last marker, not the first, so that a marker inside an embedded
/// thumbnail cannot cut the image short.
pub fn jpeg_len(frame: &[u8]) -> Result<usize, JpegError> {
    if !frame.starts_with(&START_OF_IMAGE) {
        return Err(JpegError::MissingStart);
    }
    frame
        .windows(2)
        .rposition(|pair| pair == END_OF_IMAGE)
        .filter(|&at| at >= START_OF_IMAGE.len())
        .map(|at| at + END_OF_IMAGE.len())
        .ok_or(JpegError::MissingEnd)
}
