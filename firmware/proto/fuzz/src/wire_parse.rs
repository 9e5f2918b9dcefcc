//! The `wire_parse` target: untrusted bytes through the v1 frame parser: nothing panics, and whatever parses
//! re-emits to the very same bytes (for a TAGGED frame: the same bytes without its 8-byte tag and flag, which
//! the authenticated mode's seal adds after `emit`; a FRAME_LEN field comes back through `announce_frame_len`).

use nowcam_proto::wire::{announce_frame_len, flags, Error, Frame, FrameRepr, MAX_FRAME_LEN, TAG_LEN};

/// The frame's flags byte.
const FLAGS_OFFSET: usize = 2;

pub fn check(data: &[u8]) {
    let checked = Frame::new_checked(data).map(|_| ());
    match FrameRepr::parse_bytes(data) {
        Ok(repr) => {
            assert_eq!(checked, Ok(()));
            let tagged = data[FLAGS_OFFSET] & flags::TAGGED != 0;
            let untagged_len = data.len() - if tagged { TAG_LEN } else { 0 };
            let announced = Frame::new_checked(data).ok().and_then(|frame| frame.announced_frame_len());
            let field = if announced.is_some() { 2 } else { 0 };
            let mut buffer = [0u8; MAX_FRAME_LEN];
            let len = repr.emit(&mut buffer).expect("a parsed frame re-emits");
            let len = match announced {
                Some(accepted) => announce_frame_len(&mut buffer, len, accepted).expect("the field fits again"),
                None => len,
            };
            assert_eq!(repr.buffer_len() + field, len);
            assert_eq!(len, untagged_len);
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
