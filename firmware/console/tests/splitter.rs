//! The frame splitter: frames and println text on one line, in chunks of any size.

mod common;

use common::*;
use nowcam_console::{decode_host, FrameSplitter, HostMessage, Piece, MAX_ENCODED_LEN};

/// Feeds `input` in chunks of `chunk` bytes, then flushes; renders every piece on a line.
fn split<const N: usize>(input: &[u8], chunk: usize) -> (String, u32) {
    let mut splitter = FrameSplitter::<N>::new();
    let mut rendered = String::new();
    for bytes in input.chunks(chunk) {
        splitter.feed(bytes, |piece| match piece {
            Piece::Frame(frame) => match decode_host(frame) {
                Ok((id, message)) => rendered += &format!("frame {id} {message:?}\n"),
                Err(error) => rendered += &format!("bad frame {error:?}\n"),
            },
            Piece::Text(text) => rendered += &format!("text {:?}\n", String::from_utf8_lossy(text)),
        });
    }
    if let Some(text) = splitter.flush() {
        rendered += &format!("flush {:?}\n", String::from_utf8_lossy(text));
    }
    assert_eq!(splitter.pending(), 0);
    (rendered, splitter.overflows())
}

/// Splits `input` in every chunk size from 1 to its length: each gives `expect`.
fn check<const N: usize>(input: &[u8], expect: &str, overflows: u32) {
    for chunk in 1..=input.len().max(1) {
        let (rendered, counted) = split::<N>(input, chunk);
        assert_eq!(rendered, expect, "chunks of {chunk}");
        assert_eq!(counted, overflows, "overflows with chunks of {chunk}");
    }
}

fn stream(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

fn hello(id: u16) -> Vec<u8> {
    encode_host(id, &HostMessage::Hello)
}

#[test]
fn text_alone_is_text() {
    check::<MAX_ENCODED_LEN>(b"", "", 0);
    check::<MAX_ENCODED_LEN>(b"booting\r\n", "flush \"booting\\r\\n\"\n", 0);
    check::<MAX_ENCODED_LEN>(b"one\n\0two\n", "text \"one\\n\"\nflush \"two\\n\"\n", 0);
}

#[test]
fn frames_between_println_text() {
    let input = stream(&[b"boot\n", &hello(1), b"stored 7\n", &hello(2), &hello(3), b"done\n"]);
    check::<MAX_ENCODED_LEN>(
        &input,
        "text \"boot\\n\"\nframe 1 Hello\ntext \"stored 7\\n\"\nframe 2 Hello\nframe 3 Hello\nflush \"done\\n\"\n",
        0,
    );
}

#[test]
fn runs_that_fail_the_checks_are_text() {
    let mut bad_crc = hello(1);
    bad_crc[5] ^= 0x40;
    let wrong_magic = wire_of(&[0xC6, 1, 1, 0]);
    let input = stream(&[&bad_crc, &wrong_magic, &cobs_encode(b"no crc"), b"\0"]);
    let expect = format!(
        "text {:?}\ntext {:?}\ntext {:?}\n",
        String::from_utf8_lossy(&inner(&bad_crc)),
        String::from_utf8_lossy(&inner(&wrong_magic)),
        String::from_utf8_lossy(&cobs_encode(b"no crc")),
    );
    check::<MAX_ENCODED_LEN>(&input, &expect, 0);
}

/// A frame of another version passes the splitter: the decoder names the version.
#[test]
fn a_frame_of_another_version_is_a_frame() {
    check::<MAX_ENCODED_LEN>(&wire_of(&[0xC7, 1, 1, 0]), "bad frame Version { found: 1 }\n", 0);
}

#[test]
fn an_over_long_run_is_text_up_to_the_next_delimiter() {
    let input = stream(&[b"0123456789abcdefXYZ", b"\0", &hello(4)]);
    check::<8>(b"0123456789abcdefXYZ\0", "text \"01234567\"\ntext \"89abcdef\"\ntext \"XYZ\"\n", 1);
    check::<16>(&input, "text \"0123456789abcdef\"\ntext \"XYZ\"\nframe 4 Hello\n", 1);
    // The tail of an over-long run is text even when it holds a whole frame.
    let input = stream(&[b"0123456789abcdefXYZ", &inner(&hello(5)), b"\0", &hello(6)]);
    let expect = format!(
        "text \"0123456789abcdef\"\ntext {:?}\nframe 6 Hello\n",
        String::from_utf8_lossy(&stream(&[b"XYZ", &inner(&hello(5))]))
    );
    check::<16>(&input, &expect, 1);
    // Two over-long runs count twice; flushing the rest of one keeps it text.
    check::<4>(b"abcdef\0ghijk", "text \"abcd\"\ntext \"ef\"\ntext \"ghij\"\nflush \"k\"\n", 2);
}

#[test]
fn a_frame_that_fills_the_buffer_exactly_is_a_frame() {
    let wire = hello(7);
    const HELLO_FRAME_LEN: usize = 9;
    assert_eq!(inner(&wire).len(), HELLO_FRAME_LEN);
    check::<HELLO_FRAME_LEN>(&wire, "frame 7 Hello\n", 0);
    check::<{ HELLO_FRAME_LEN - 1 }>(
        &wire,
        &format!(
            "text {:?}\ntext {:?}\n",
            String::from_utf8_lossy(&inner(&wire)[..8]),
            String::from_utf8_lossy(&inner(&wire)[8..])
        ),
        1,
    );
}

#[test]
fn push_byte_by_byte_hands_out_the_frame_at_its_closing_delimiter() {
    let wire = encode_host(9, &HostMessage::LoadChunk { offset: 0, data: &[0; 32] });
    let mut splitter = FrameSplitter::<MAX_ENCODED_LEN>::new();
    for (index, &byte) in wire.iter().enumerate() {
        let piece = splitter.push(byte);
        if index + 1 < wire.len() {
            assert_eq!(piece, None, "byte {index}");
        } else {
            let Some(Piece::Frame(frame)) = piece else { panic!("the closing delimiter ends a frame") };
            assert_eq!(decode_host(frame), Ok((9, HostMessage::LoadChunk { offset: 0, data: &[0; 32] })));
        }
    }
    assert_eq!(splitter.pending(), 0);
}

#[test]
fn every_message_passes_the_splitter() {
    let mut input = Vec::new();
    let mut expect = String::new();
    for (id, (_, message)) in host_messages().into_iter().enumerate() {
        input.extend(encode_host(id as u16, &message));
        expect += &format!("frame {id} {message:?}\n");
    }
    for chunk in [1, 2, 3, 64, input.len()] {
        assert_eq!(split::<MAX_ENCODED_LEN>(&input, chunk), (expect.clone(), 0), "chunks of {chunk}");
    }
}
