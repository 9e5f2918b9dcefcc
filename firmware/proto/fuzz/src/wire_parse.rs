//! The `wire_parse` target: untrusted bytes through the v1 frame parser: nothing panics, and whatever parses
//! re-emits to the very same bytes.

use nowcam_proto::wire::{Error, Frame, FrameRepr, MAX_FRAME_LEN};

pub fn check(data: &[u8]) {
    let checked = Frame::new_checked(data).map(|_| ());
    match FrameRepr::parse_bytes(data) {
        Ok(repr) => {
            assert_eq!(checked, Ok(()));
            assert_eq!(repr.buffer_len(), data.len());
            let mut buffer = [0u8; MAX_FRAME_LEN];
            assert_eq!(repr.emit(&mut buffer), Ok(data.len()));
            assert_eq!(&buffer[..data.len()], data);
        }
        // Past the length checks, only a field's code can be refused.
        Err(Error::InvalidField) => assert_eq!(checked, Ok(())),
        Err(e) => assert_eq!(checked, Err(e)),
    }
}
