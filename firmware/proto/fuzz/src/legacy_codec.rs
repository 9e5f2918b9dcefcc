//! The `legacy_codec` target: untrusted bytes through the seed format's
//! parsers (metadata and data frames, and the test that tells it from v1):
//! nothing panics, and whatever parses re-emits to the very same bytes.

use nowcam_proto::legacy::{looks_legacy, DataFrame, Metadata};
use nowcam_proto::wire::MAX_FRAME_LEN;

pub fn check(data: &[u8]) {
    // Only the first byte and the length decide; any bytes may be asked.
    let _ = looks_legacy(data);
    if let Ok(metadata) = Metadata::parse(data) {
        assert_eq!(&metadata.emit()[..], data);
    }
    if let Ok(frame) = DataFrame::parse(data) {
        let mut buffer = [0u8; MAX_FRAME_LEN];
        assert_eq!(frame.emit(&mut buffer), Some(data.len()));
        assert_eq!(&buffer[..data.len()], data);
    }
}
