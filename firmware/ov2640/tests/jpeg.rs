//! Where the JPEG ends inside a DVP frame.

use nowcam_ov2640::{jpeg_len, JpegError};

fn check(frame: &[u8], expected: Result<usize, JpegError>) {
    assert_eq!(jpeg_len(frame), expected, "{frame:02x?}");
}

#[test]
fn the_image_ends_at_the_end_of_image_marker_before_the_padding() {
    check(&[0xFF, 0xD8, 0x01, 0x02, 0xFF, 0xD9, 0, 0, 0, 0], Ok(6));
    check(&[0xFF, 0xD8, 0xFF, 0xD9], Ok(4));
}

#[test]
fn the_last_marker_wins_over_a_thumbnail_s_marker() {
    check(&[0xFF, 0xD8, 0xFF, 0xD9, 0x10, 0xFF, 0xD9, 0x00], Ok(7));
}

#[test]
fn frames_without_markers_are_refused() {
    check(&[], Err(JpegError::MissingStart));
    check(&[0x00, 0xFF, 0xD8, 0xFF, 0xD9], Err(JpegError::MissingStart));
    check(&[0xFF, 0xD8, 0x00, 0x00], Err(JpegError::MissingEnd));
    // The start marker's own 0xD8 byte cannot pair with a following 0xD9.
    check(&[0xFF, 0xD8, 0xD9], Err(JpegError::MissingEnd));
    check(&[0xFF, 0xD8], Err(JpegError::MissingEnd));
    assert_eq!(JpegError::MissingEnd.to_string(), "the frame has no JPEG end-of-image marker");
}
