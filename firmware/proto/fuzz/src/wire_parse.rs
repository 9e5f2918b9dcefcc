//! The `wire_parse` target: untrusted bytes through the v1 frame parser: nothing panics, and whatever parses
//! re-emits to the very same bytes (untagged ones; a FRAME_LEN field comes back through `announce_frame_len`).

use nowcam_proto::wire::{announce_frame_len, flags, Error, Frame, FrameRepr, MAX_FRAME_LEN};

pub fn check(data: &[u8]) {
    let checked = Frame::new_checked(data).map(|_| ());
    match FrameRepr::parse_bytes(data) {
        Ok(repr) => {
            assert_eq!(checked, Ok(()));
            let announced = Frame::new_checked(data).ok().and_then(|frame| frame.announced_frame_len());
            let field = if announced.is_some() { 2 } else { 0 };
            let mut buffer = [0u8; MAX_FRAME_LEN];
            let len = repr.emit(&mut buffer).expect("a parsed frame re-emits");
            let len = match announced {
                Some(accepted) => announce_frame_len(&mut buffer, len, accepted).expect("the field fits again"),
                None => len,
            };
            assert_eq!(repr.buffer_len() + field, len);
            if data[2] & flags::TAGGED == 0 {
                assert_eq!(&buffer[..len], data);
            }
        }
        // Past the length checks, only a field's code can be refused.
        Err(Error::InvalidField) => assert_eq!(checked, Ok(())),
        Err(e) => assert_eq!(checked, Err(e)),
    }
}
