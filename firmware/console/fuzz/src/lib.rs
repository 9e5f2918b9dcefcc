//! The test console's fuzz checks, as functions: the cargo-fuzz binary
//! calls them, and `tests/corpus.rs` replays the kept corpus and crash cases.
//!
//! `console_decode`: untrusted bytes through the splitter and both decoders: nothing panics,
//! `check_frame` and the decoders agree on what is log text, and whatever
//! decodes encodes and decodes to itself.

use nowcam_console::{
    check_frame, decode_board, decode_host, encode_board, encode_host, DecodeError, FrameSplitter, Piece,
    MAX_ENCODED_LEN,
};

/// Every target by name, for the corpus replay.
pub const TARGETS: [(&str, fn(&[u8])); 1] = [("console_decode", console_decode)];

fn decode(frame: &[u8]) {
    let checked = check_frame(frame);
    let mut buffer = [0u8; MAX_ENCODED_LEN];
    let len = frame.len().min(MAX_ENCODED_LEN);

    buffer[..len].copy_from_slice(&frame[..len]);
    let host = decode_host(&mut buffer[..len]).map(|(id, message)| {
        let mut out = [0u8; MAX_ENCODED_LEN];
        let written = encode_host(id, &message, &mut out).expect("a decoded message encodes");
        assert_eq!(decode_host(&mut out[1..written - 1]), Ok((id, message)));
    });
    agree(frame, checked, host.err());

    buffer[..len].copy_from_slice(&frame[..len]);
    let board = decode_board(&mut buffer[..len]).map(|(id, message)| {
        let mut out = [0u8; MAX_ENCODED_LEN];
        let written = encode_board(id, &message, &mut out).expect("a decoded message encodes");
        assert_eq!(decode_board(&mut out[1..written - 1]), Ok((id, message)));
    });
    agree(frame, checked, board.err());
}

fn agree(frame: &[u8], checked: Result<(), DecodeError>, decoded: Option<DecodeError>) {
    if frame.len() > MAX_ENCODED_LEN {
        // Only the first MAX_ENCODED_LEN bytes were decoded.
        return;
    }
    match checked {
        Err(error) => assert_eq!(decoded, Some(error)),
        Ok(()) => assert!(decoded.is_none_or(|error| !error.is_log_text())),
    }
}

/// The `console_decode` target.
pub fn console_decode(data: &[u8]) {
    decode(data);

    // The first byte picks the chunk size the port hands out.
    let Some((&chunk, stream)) = data.split_first() else { return };
    let chunk = usize::from(chunk).max(1);
    let mut small = FrameSplitter::<16>::new();
    let mut large = FrameSplitter::<MAX_ENCODED_LEN>::new();
    for bytes in stream.chunks(chunk) {
        small.feed(bytes, |piece| match piece {
            Piece::Frame(frame) => decode(frame),
            Piece::Text(text) => assert!(text.len() <= 16),
        });
        large.feed(bytes, |piece| match piece {
            Piece::Frame(frame) => {
                assert_eq!(check_frame(frame), Ok(()));
                decode(frame);
            }
            Piece::Text(text) => assert!(!text.is_empty() && text.len() <= MAX_ENCODED_LEN),
        });
    }
    assert!(small.flush().is_none_or(|text| text.len() <= 16));
    assert!(large.flush().is_none_or(|text| text.len() <= MAX_ENCODED_LEN));
}
