//! The `wire_parse` target: untrusted bytes through the v1 frame parser: nothing panics, and whatever parses
//! re-emits to the very same bytes (for a TAGGED frame: the same bytes without its 8-byte tag and flag, which
//! the authenticated mode's seal adds after `emit`).

use nowcam_proto::wire::{flags, Error, Frame, FrameRepr, MAX_FRAME_LEN, TAG_LEN};

/// The frame's flags byte.
const FLAGS_OFFSET: usize = 2;

pub fn check(data: &[u8]) {
    let checked = Frame::new_checked(data).map(|_| ());
    match FrameRepr::parse_bytes(data) {
        Ok(repr) => {
            assert_eq!(checked, Ok(()));
            let tagged = data[FLAGS_OFFSET] & flags::TAGGED != 0;
            let len = data.len() - if tagged { TAG_LEN } else { 0 };
            assert_eq!(repr.buffer_len(), len);
            let mut buffer = [0u8; MAX_FRAME_LEN];
            assert_eq!(repr.emit(&mut buffer), Ok(len));
            let mut expected = [0u8; MAX_FRAME_LEN];
            expected[..len].copy_from_slice(&data[..len]);
            expected[FLAGS_OFFSET] &= !flags::TAGGED;
            assert_eq!(&buffer[..len], &expected[..len]);
        }
        // Past the length checks, only a field's code can be refused.
        Err(Error::InvalidField) => assert_eq!(checked, Ok(())),
        Err(e) => assert_eq!(checked, Err(e)),
    }
}
