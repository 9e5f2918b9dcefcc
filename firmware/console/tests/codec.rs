//! The codec: the encoded bytes of every message, and a typed error for every way a frame can be wrong.

mod common;

use common::*;
use nowcam_console::codec::{MAGIC, MAX_RUN_LEN};
use nowcam_console::{
    check_frame, decode_board, decode_host, BoardMessage, ConsoleError, DecodeError, EncodeError, HostMessage,
    StoredImage, TransferOutcome, MAX_DATA_LEN, MAX_ENCODED_LEN, MAX_LIST_LEN,
};

#[test]
fn host_messages_encoded() {
    let mut lines = String::new();
    for (id, (name, message)) in host_messages().into_iter().enumerate() {
        let wire = encode_host(id as u16 + 1, &message);
        lines += &format!("{name}: {}\n", hex(&wire));
    }
    insta::assert_snapshot!(lines);
}

#[test]
fn board_messages_encoded() {
    let mut lines = String::new();
    for (id, (name, message)) in board_messages().into_iter().enumerate() {
        let wire = encode_board(id as u16, &message);
        lines += &format!("{name}: {}\n", hex(&wire));
    }
    insta::assert_snapshot!(lines);
}

#[test]
fn every_message_decodes_to_itself() {
    for (name, message) in host_messages() {
        let mut frame = inner(&encode_host(0x1234, &message));
        assert_eq!(check_frame(&frame), Ok(()), "{name}");
        assert_eq!(decode_host(&mut frame), Ok((0x1234, message)), "{name}");
    }
    for (name, message) in board_messages() {
        let mut frame = inner(&encode_board(0xFFFF, &message));
        assert_eq!(check_frame(&frame), Ok(()), "{name}");
        assert_eq!(decode_board(&mut frame), Ok((0xFFFF, message)), "{name}");
    }
}

/// The envelope is the postcard struct `{ magic, version, id, body }`, and the
/// frame is COBS of it and its CRC-32, as an independent encoder writes it.
#[test]
fn the_frame_is_cobs_of_the_envelope_and_its_crc() {
    // Hello is variant 0; the id 300 is the varint ac 02.
    assert_eq!(encode_host(300, &HostMessage::Hello), wire_of(&[MAGIC, 2, 0xAC, 0x02, 0x00]));
    // LoadEnd is variant 3, its CRC a varint.
    assert_eq!(encode_host(1, &HostMessage::LoadEnd { crc32: 1 }), wire_of(&[MAGIC, 2, 0x01, 0x03, 0x01]));
    // Log is variant 8: a length and the bytes.
    assert_eq!(encode_board(0, &BoardMessage::Log("ok")), wire_of(&[MAGIC, 2, 0x00, 0x08, 0x02, b'o', b'k']));
}

fn check(frame: &[u8], expect: Result<(), DecodeError>) {
    assert_eq!(check_frame(frame), expect, "check_frame of {}", hex(frame));
    let host = decode_host(&mut frame.to_vec()).map(|_| ());
    let board = decode_board(&mut frame.to_vec()).map(|_| ());
    assert_eq!((host, board), (expect, expect), "decoding {}", hex(frame));
}

#[test]
fn bad_frames_get_typed_errors() {
    let good = inner(&encode_host(1, &HostMessage::Hello));
    assert_eq!(check_frame(&good), Ok(()));
    assert_eq!(decode_host(&mut good.clone()), Ok((1, HostMessage::Hello)));

    // A code byte of zero, and a code that runs past the end.
    check(&[0x00, 0x01], Err(DecodeError::Cobs));
    check(&[0x05, 0x01, 0x02], Err(DecodeError::Cobs));
    check(&[], Err(DecodeError::TooShort));
    check(&frame_of(&[MAGIC, 2]), Err(DecodeError::TooShort));
    check(b"hello world", Err(DecodeError::Cobs));
    check(&cobs_encode(b"hello world"), Err(DecodeError::Crc));

    let mut bad_crc = good.clone();
    let last = bad_crc.len() - 1;
    bad_crc[last] ^= 0x01;
    check(&bad_crc, Err(DecodeError::Crc));

    check(&frame_of(&[0xC6, 1, 1, 0]), Err(DecodeError::Magic));
    check(&vec![0x01; MAX_RUN_LEN + 1], Err(DecodeError::TooLong));
}

#[test]
fn a_message_of_another_version_is_told_apart() {
    let frame = frame_of(&[MAGIC, 1, 0x05, 0x00]);
    assert_eq!(check_frame(&frame), Ok(()));
    let error = decode_board(&mut frame.clone()).unwrap_err();
    assert_eq!(error, DecodeError::Version { found: 1 });
    assert!(!error.is_log_text());
    assert_eq!(error.console_error(), ConsoleError::VersionMismatch);
    assert_eq!(error.to_string(), "the peer speaks console protocol v1, this side v2");
}

#[test]
fn a_body_that_does_not_decode_is_a_postcard_error() {
    let cases: [(&str, &[u8]); 5] = [
        ("no body", &[MAGIC, 2, 0x00]),
        ("unknown variant", &[MAGIC, 2, 0x00, 0x0E]),
        ("truncated field", &[MAGIC, 2, 0x00, 0x01, 0x80]),
        ("bytes left over", &[MAGIC, 2, 0x00, 0x00, 0x00]),
        ("unterminated id", &[MAGIC, 2, 0x80, 0x80, 0x80, 0x80]),
    ];
    for (name, payload) in cases {
        let frame = frame_of(payload);
        assert_eq!(check_frame(&frame), Ok(()), "{name}");
        assert_eq!(decode_host(&mut frame.clone()).map(|_| ()), Err(DecodeError::Postcard), "{name}");
    }
    // A board message with a bool that is neither 0 nor 1 in a host message.
    let report = [MAGIC, 2, 0x00, 0x0D, 0x01, 0x02];
    assert_eq!(decode_host(&mut frame_of(&report)).map(|_| ()), Err(DecodeError::Postcard));
    // A board list longer than it may be.
    let mut images = vec![MAGIC, 2, 0x00, 0x04, MAX_LIST_LEN as u8 + 1];
    images.resize(images.len() + 100, 0x01);
    assert_eq!(decode_board(&mut frame_of(&images)).map(|_| ()), Err(DecodeError::Postcard));
}

#[test]
fn which_errors_are_log_text() {
    let text = [DecodeError::TooLong, DecodeError::Cobs, DecodeError::TooShort, DecodeError::Crc, DecodeError::Magic];
    for error in text {
        assert!(error.is_log_text(), "{error:?}");
        assert_eq!(error.console_error(), ConsoleError::Malformed);
    }
    assert!(!DecodeError::Postcard.is_log_text());
    assert!(!DecodeError::Version { found: 0 }.is_log_text());
}

#[test]
fn encode_refuses_a_buffer_too_small() {
    let wire = encode_host(1, &HostMessage::LoadBegin { len: 1000 });
    for len in 0..wire.len() {
        let mut out = vec![0u8; len];
        assert_eq!(
            nowcam_console::encode_host(1, &HostMessage::LoadBegin { len: 1000 }, &mut out),
            Err(EncodeError::TooLong),
            "buffer of {len}"
        );
    }
    let mut out = vec![0u8; wire.len()];
    assert_eq!(nowcam_console::encode_host(1, &HostMessage::LoadBegin { len: 1000 }, &mut out), Ok(wire.len()));
    assert_eq!(out, wire);
}

#[test]
fn encode_refuses_a_message_past_the_largest_length() {
    let text = "x".repeat(MAX_ENCODED_LEN);
    let mut out = vec![0u8; 4 * MAX_ENCODED_LEN];
    assert_eq!(nowcam_console::encode_board(0, &BoardMessage::Log(&text), &mut out), Err(EncodeError::TooLong));
}

/// The largest message of each kind fits `MAX_ENCODED_LEN`, with the
/// largest fields every value can have.
#[test]
fn the_largest_messages_fit() {
    let data = [0xFFu8; MAX_DATA_LEN];
    // Serial radios carry ESP-NOW v1 frames (SERIAL_RADIO_FRAME_LEN); the
    // chips' ESP-NOW radios send v2 ones, which never travel as console messages.
    let frame = [0xFFu8; nowcam_ports::radio::V1_MAX_FRAME_LEN];
    let full = [0xFFu8; 6];
    let host = [
        HostMessage::LoadChunk { offset: u32::MAX, data: &data },
        HostMessage::RadioDeliver { source: full, destination: full, rssi: -128, data: &frame },
        HostMessage::SetFaults { seed: u64::MAX, preset: "gilbert-elliott-bursty-outages" },
    ];
    for message in host {
        let mut out = [0u8; MAX_ENCODED_LEN];
        let len = nowcam_console::encode_host(u16::MAX, &message, &mut out).unwrap();
        assert_eq!(decode_host(&mut inner(&out[..len])), Ok((u16::MAX, message)));
    }
    let transfer = nowcam_console::TransferResult {
        session: u32::MAX,
        len: u32::MAX,
        outcome: TransferOutcome::Failed,
        started_ms: u64::MAX,
        finished_ms: u64::MAX,
        retransmissions: u32::MAX,
    };
    let image = StoredImage { sequence: u32::MAX, source: full, len: u32::MAX, sha256: [0xFF; 32] };
    let board = [
        BoardMessage::ImageData { sequence: u32::MAX, offset: u32::MAX, data: &data },
        BoardMessage::Transmit { handle: u32::MAX, destination: full, data: &frame },
        BoardMessage::Results { transfers: heapless::Vec::from_slice(&[transfer; MAX_LIST_LEN]).unwrap() },
        BoardMessage::Images { images: heapless::Vec::from_slice(&[image; MAX_LIST_LEN]).unwrap() },
    ];
    for message in board {
        let mut out = [0u8; MAX_ENCODED_LEN];
        let len = nowcam_console::encode_board(u16::MAX, &message, &mut out).unwrap();
        assert_eq!(decode_board(&mut inner(&out[..len])), Ok((u16::MAX, message)));
    }
}

#[test]
fn error_messages_are_lower_case_without_a_period() {
    let decode = [
        DecodeError::TooLong,
        DecodeError::Cobs,
        DecodeError::TooShort,
        DecodeError::Crc,
        DecodeError::Magic,
        DecodeError::Version { found: 9 },
        DecodeError::Postcard,
    ];
    let console = [
        ConsoleError::Malformed,
        ConsoleError::UnknownMessage,
        ConsoleError::VersionMismatch,
        ConsoleError::WrongRole,
        ConsoleError::NoImageLoaded,
        ConsoleError::CrcMismatch,
        ConsoleError::OutOfRange,
        ConsoleError::Busy,
        ConsoleError::NotFound,
        ConsoleError::Storage,
        ConsoleError::Radio,
    ];
    let messages = decode
        .iter()
        .map(ToString::to_string)
        .chain(console.iter().map(ToString::to_string))
        .chain([EncodeError::TooLong, EncodeError::Postcard].iter().map(ToString::to_string));
    for message in messages {
        assert!(message.starts_with(|c: char| c.is_lowercase()), "{message}");
        assert!(!message.ends_with('.'), "{message}");
    }
}
