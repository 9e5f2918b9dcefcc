//! Wire format v1, checked from the outside: every frame kind encoded to
//! bytes a person can read (insta snapshots), parsed back from bytes written
//! by hand from the layout documented in `wire/repr.rs`, and every way a
//! frame can be refused.

use std::fmt::Write as _;

use nowcam_proto::wire::control::ControlVariable;
use nowcam_proto::wire::{
    announce_frame_len, chunk_payload_for, ChallengeRepr, SegmentCrcsRepr, MAX_SEGMENT_CRCS, TAG_LEN,
};
use nowcam_proto::wire::{
    flags, AbortReason, ChunkRepr, CompletionResult, ControlCommand, ControlRequestRepr, ControlResponseRepr,
    ControlStatus, Error, Frame, FrameKind, FrameRepr, OfferRepr, ProbeRepr, StatusRepr, StatusRequestRepr,
    TelemetryRepr, HEADER_LEN, MAX_CHUNK_PAYLOAD, MAX_FRAME_LEN, OFFER_FLAG_JPEG,
};
use proptest::prelude::*;

/// The field widths of each kind after the header, written from the table in
/// `wire/repr.rs` rather than taken from the crate, so that a layout change
/// shows up as a snapshot diff and a failed width check here.
fn layout(kind: FrameKind) -> (&'static [(&'static str, usize)], Option<&'static str>) {
    match kind {
        FrameKind::Offer => (
            &[
                ("session", 4),
                ("image_len", 4),
                ("chunk_size", 2),
                ("chunk_count", 2),
                ("crc32", 4),
                ("offer_flags", 2),
            ],
            None,
        ),
        FrameKind::Chunk => (&[("session", 4), ("index", 2)], Some("payload")),
        FrameKind::StatusRequest => (&[("session", 4), ("poll", 2)], None),
        FrameKind::Status => (&[("session", 4), ("poll", 2), ("lowest_missing", 2)], Some("bitmap")),
        FrameKind::Completion => (&[("session", 4), ("result", 1)], None),
        FrameKind::Abort => (&[("session", 4), ("reason", 1)], None),
        FrameKind::ControlRequest => (&[("request", 2), ("command", 1), ("variable", 1), ("value", 4)], None),
        FrameKind::ControlResponse => (&[("request", 2), ("status", 1), ("variable", 1), ("value", 4)], None),
        FrameKind::Telemetry => (
            &[
                ("uptime_ms", 8),
                ("free_heap_bytes", 4),
                ("temperature", 2),
                ("rssi", 1),
                ("frames_sent", 4),
                ("retransmissions", 4),
            ],
            None,
        ),
        FrameKind::Probe | FrameKind::ProbeReply => (&[("nonce", 4), ("role", 1)], None),
        FrameKind::SegmentCrcs => (&[("session", 4), ("segment_chunks", 2), ("first_segment", 2)], Some("crcs")),
        FrameKind::Challenge => (&[("session", 4), ("nonce", 4)], None),
        FrameKind::SealedOffer => (
            &[
                ("session", 4),
                ("image_len", 4),
                ("chunk_size", 2),
                ("chunk_count", 2),
                ("crc32", 4),
                ("offer_flags", 2),
                ("image_mac", 32),
            ],
            None,
        ),
    }
}

fn hex(bytes: &[u8]) -> String {
    let mut out = String::new();
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        write!(out, "{b:02x}").unwrap();
    }
    out
}

/// One line per field; a variable tail is broken into lines of 16 bytes; a
/// tagged frame's tag is the last line.
fn dump(bytes: &[u8]) -> String {
    let tagged = bytes[2] & flags::TAGGED != 0;
    let (bytes, tag) = if tagged { bytes.split_at(bytes.len() - TAG_LEN) } else { (bytes, &[][..]) };
    let kind = FrameKind::from_code(bytes[1] & 0x0f).expect("emitted frames have a known kind");
    let (fields, tail) = layout(kind);
    let fixed: usize = fields.iter().map(|(_, width)| width).sum();
    assert_eq!(fixed, kind.fixed_len(), "{kind:?}: the documented widths");
    let mut out = format!("{kind:?}, {} bytes\n", bytes.len() + tag.len());
    let mut at = 0;
    let mut line = |name: &str, range: std::ops::Range<usize>| {
        writeln!(out, "{name:<16} {}", hex(&bytes[range])).unwrap();
    };
    for (name, width) in [("magic", 1), ("version_kind", 1), ("flags", 1)].into_iter().chain(fields.iter().copied()) {
        line(name, at..at + width);
        at += width;
    }
    match tail {
        Some(name) if at == bytes.len() => line(name, at..at),
        Some(name) => {
            for start in (at..bytes.len()).step_by(16) {
                line(name, start..(start + 16).min(bytes.len()));
            }
        }
        None => assert_eq!(at, bytes.len(), "{kind:?} has no variable part"),
    }
    if tagged {
        writeln!(out, "{:<16} {}", "tag", hex(tag)).unwrap();
    }
    out
}

fn emit(repr: &FrameRepr<'_>) -> Vec<u8> {
    let mut buffer = [0u8; MAX_FRAME_LEN];
    let len = repr.emit(&mut buffer).expect("the repr fits a frame");
    assert_eq!(len, repr.buffer_len());
    buffer[..len].to_vec()
}

const OFFER: OfferRepr = OfferRepr {
    session: 0x1234_5678,
    image_len: 20_000,
    chunk_size: 241,
    chunk_count: 83,
    crc32: 0xcbf4_3926,
    flags: OFFER_FLAG_JPEG,
};
const PAYLOAD: [u8; 19] = *b"\xff\xd8\xff\xe0JFIF-chunk-zero";
/// Three segment CRCs, little-endian: 0xcbf43926, 0x00000001, 0xdeadbeef.
const CRCS: [u8; 12] = [0x26, 0x39, 0xf4, 0xcb, 0x01, 0x00, 0x00, 0x00, 0xef, 0xbe, 0xad, 0xde];
const IMAGE_MAC: [u8; 32] = [
    0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11, 0x12,
    0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f,
];
const BITMAP: [u8; 3] = [0b0000_0101, 0x00, 0x80];
const TELEMETRY: TelemetryRepr = TelemetryRepr {
    uptime_ms: 0x0102_0304_0506_0708,
    free_heap_bytes: 180_000,
    chip_temperature_centi_celsius: Some(-1_250),
    rssi: Some(-67),
    frames_sent: 1_000,
    retransmissions: 42,
};

/// Every kind with fixed values, named for its snapshot.
fn every_kind() -> Vec<(&'static str, FrameRepr<'static>)> {
    vec![
        ("offer", FrameRepr::Offer(OFFER)),
        ("chunk", FrameRepr::Chunk(ChunkRepr { session: 0x1234_5678, index: 0x0102, payload: &PAYLOAD })),
        ("status_request", FrameRepr::StatusRequest(StatusRequestRepr { session: 0x1234_5678, poll: 7 })),
        (
            "status",
            FrameRepr::Status(StatusRepr {
                session: 0x1234_5678,
                poll: StatusRepr::UNSOLICITED,
                lowest_missing: 3,
                bitmap: &BITMAP,
            }),
        ),
        ("completion", FrameRepr::Completion { session: 0x1234_5678, result: CompletionResult::CrcMismatch }),
        ("abort", FrameRepr::Abort { session: 0x1234_5678, reason: AbortReason::UnknownSession }),
        (
            "control_request",
            FrameRepr::ControlRequest(ControlRequestRepr {
                request: 0x0a0b,
                command: ControlCommand::Set,
                variable: ControlVariable::Brightness,
                value: -2,
            }),
        ),
        (
            "control_response",
            FrameRepr::ControlResponse(ControlResponseRepr {
                request: 0x0a0b,
                status: ControlStatus::OutOfRange,
                variable: ControlVariable::ExposureValue,
                value: 1_200,
            }),
        ),
        ("telemetry", FrameRepr::Telemetry(TELEMETRY)),
        ("probe", FrameRepr::Probe(ProbeRepr { nonce: 0xdead_beef, role: 0 })),
        ("probe_reply", FrameRepr::ProbeReply(ProbeRepr { nonce: 0xdead_beef, role: 1 })),
        (
            "segment_crcs",
            FrameRepr::SegmentCrcs(SegmentCrcsRepr {
                session: 0x1234_5678,
                segment_chunks: 16,
                first_segment: 57,
                crcs: &CRCS,
            }),
        ),
        ("challenge", FrameRepr::Challenge(ChallengeRepr { session: 0x1234_5678, nonce: 0x0bad_cafe })),
        ("sealed_offer", FrameRepr::SealedOffer { offer: OFFER, image_mac: IMAGE_MAC }),
    ]
}

#[test]
fn every_kind_encodes_as_snapshotted() {
    for (name, repr) in every_kind() {
        insta::assert_snapshot!(name, dump(&emit(&repr)));
    }
}

#[test]
fn every_kind_round_trips() {
    for (name, repr) in every_kind() {
        let bytes = emit(&repr);
        assert_eq!(FrameRepr::parse_bytes(&bytes), Ok(repr), "{name}");
        assert_eq!(repr.kind() as u8, bytes[1] & 0x0f, "{name}");
    }
}

/// Parses `bytes` and compares with the expected repr or error.
fn check(bytes: &[u8], expect: Result<FrameRepr<'_>, Error>) {
    assert_eq!(FrameRepr::parse_bytes(bytes), expect, "bytes {}", hex(bytes));
}

#[test]
fn literal_frames_parse() {
    check(
        &[
            0x6e, 0x11, 0x00, // header: magic, version 1 | Offer, no flags
            0x78, 0x56, 0x34, 0x12, // session
            0x20, 0x4e, 0x00, 0x00, // image size 20,000
            0xf1, 0x00, // chunk size 241
            0x53, 0x00, // chunk count 83
            0x26, 0x39, 0xf4, 0xcb, // CRC-32
            0x01, 0x00, // flags: JPEG
        ],
        Ok(FrameRepr::Offer(OFFER)),
    );
    check(
        &[0x6e, 0x12, 0x00, 0x01, 0x00, 0x00, 0x00, 0x05, 0x00, b'a', b'b', b'c'],
        Ok(FrameRepr::Chunk(ChunkRepr { session: 1, index: 5, payload: b"abc" })),
    );
    check(
        &[0x6e, 0x12, 0x00, 0x01, 0x00, 0x00, 0x00, 0xff, 0xff],
        Ok(FrameRepr::Chunk(ChunkRepr { session: 1, index: 0xffff, payload: &[] })),
    );
    check(
        &[0x6e, 0x13, 0x00, 0x02, 0x00, 0x00, 0x00, 0x09, 0x00],
        Ok(FrameRepr::StatusRequest(StatusRequestRepr { session: 2, poll: 9 })),
    );
    check(
        &[0x6e, 0x14, 0x00, 0x02, 0x00, 0x00, 0x00, 0xff, 0xff, 0x53, 0x00],
        Ok(FrameRepr::Status(StatusRepr {
            session: 2,
            poll: StatusRepr::UNSOLICITED,
            lowest_missing: 83,
            bitmap: &[],
        })),
    );
    check(
        &[0x6e, 0x14, 0x00, 0x02, 0x00, 0x00, 0x00, 0x01, 0x00, 0x03, 0x00, 0x05, 0x80],
        Ok(FrameRepr::Status(StatusRepr { session: 2, poll: 1, lowest_missing: 3, bitmap: &[0x05, 0x80] })),
    );
    check(
        &[0x6e, 0x15, 0x00, 0x03, 0x00, 0x00, 0x00, 0x00],
        Ok(FrameRepr::Completion { session: 3, result: CompletionResult::Stored }),
    );
    check(
        &[0x6e, 0x15, 0x00, 0x03, 0x00, 0x00, 0x00, 0x02],
        Ok(FrameRepr::Completion { session: 3, result: CompletionResult::StoreFailed }),
    );
    check(
        &[0x6e, 0x16, 0x00, 0x04, 0x00, 0x00, 0x00, 0x01],
        Ok(FrameRepr::Abort { session: 4, reason: AbortReason::TooLarge }),
    );
    check(
        &[0x6e, 0x16, 0x00, 0x04, 0x00, 0x00, 0x00, 0x07],
        Ok(FrameRepr::Abort { session: 4, reason: AbortReason::TimedOut }),
    );
    check(
        &[0x6e, 0x17, 0x00, 0x01, 0x01, 0x00, 0x00, 0xfe, 0xff, 0xff, 0xff],
        Ok(FrameRepr::ControlRequest(ControlRequestRepr {
            request: 0x0101,
            command: ControlCommand::Set,
            variable: ControlVariable::FrameSize,
            value: -2,
        })),
    );
    check(
        &[0x6e, 0x17, 0x00, 0x02, 0x00, 0x02, 0x1a, 0x00, 0x00, 0x00, 0x00],
        Ok(FrameRepr::ControlRequest(ControlRequestRepr {
            request: 2,
            command: ControlCommand::CaptureNow,
            variable: ControlVariable::LedIntensity,
            value: 0,
        })),
    );
    check(
        &[0x6e, 0x18, 0x00, 0x02, 0x00, 0x04, 0x01, 0x3f, 0x00, 0x00, 0x00],
        Ok(FrameRepr::ControlResponse(ControlResponseRepr {
            request: 2,
            status: ControlStatus::CameraError,
            variable: ControlVariable::Quality,
            value: 63,
        })),
    );
    check(
        &[
            0x6e, 0x19, 0x00, // header
            0xe8, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // uptime 1,000 ms
            0x00, 0x00, 0x01, 0x00, // free heap 65,536
            0x00, 0x80, // temperature i16::MIN: unknown
            0x00, // RSSI 0: unknown
            0x05, 0x00, 0x00, 0x00, // frames sent
            0x06, 0x00, 0x00, 0x00, // retransmissions
        ],
        Ok(FrameRepr::Telemetry(TelemetryRepr {
            uptime_ms: 1_000,
            free_heap_bytes: 65_536,
            chip_temperature_centi_celsius: None,
            rssi: None,
            frames_sent: 5,
            retransmissions: 6,
        })),
    );
    check(
        &[
            0x6e, 0x19, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xc4, 0x09, 0xb0,
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        ],
        Ok(FrameRepr::Telemetry(TelemetryRepr {
            chip_temperature_centi_celsius: Some(2_500),
            rssi: Some(-80),
            ..TelemetryRepr::default()
        })),
    );
    check(
        &[0x6e, 0x1a, 0x00, 0xef, 0xbe, 0xad, 0xde, 0x00],
        Ok(FrameRepr::Probe(ProbeRepr { nonce: 0xdead_beef, role: 0 })),
    );
    check(
        &[0x6e, 0x1b, 0x00, 0xef, 0xbe, 0xad, 0xde, 0x01],
        Ok(FrameRepr::ProbeReply(ProbeRepr { nonce: 0xdead_beef, role: 1 })),
    );
    check(
        &[
            0x6e, 0x1c, 0x00, // header: SegmentCrcs
            0x05, 0x00, 0x00, 0x00, // session 5
            0x10, 0x00, // 16 chunks per segment
            0x02, 0x00, // from segment 2
            0x26, 0x39, 0xf4, 0xcb, // CRC of segment 2
            0x01, 0x00, 0x00, 0x00, // CRC of segment 3
        ],
        Ok(FrameRepr::SegmentCrcs(SegmentCrcsRepr {
            session: 5,
            segment_chunks: 16,
            first_segment: 2,
            crcs: &[0x26, 0x39, 0xf4, 0xcb, 0x01, 0x00, 0x00, 0x00],
        })),
    );
    check(
        &[0x6e, 0x1d, 0x00, 0x05, 0x00, 0x00, 0x00, 0xfe, 0xca, 0xad, 0x0b],
        Ok(FrameRepr::Challenge(ChallengeRepr { session: 5, nonce: 0x0bad_cafe })),
    );
    let mut sealed = vec![
        0x6e, 0x1e, 0x00, // header: SealedOffer
        0x78, 0x56, 0x34, 0x12, 0x20, 0x4e, 0x00, 0x00, 0xf1, 0x00, 0x53, 0x00, 0x26, 0x39, 0xf4, 0xcb, 0x01, 0x00,
    ];
    sealed.extend_from_slice(&IMAGE_MAC);
    check(&sealed, Ok(FrameRepr::SealedOffer { offer: OFFER, image_mac: IMAGE_MAC }));
    // A tagged frame: the fields, then 8 bytes of tag, which parsing leaves to `auth`.
    check(
        &[0x6e, 0x13, 0x80, 0x02, 0x00, 0x00, 0x00, 0x09, 0x00, 1, 2, 3, 4, 5, 6, 7, 8],
        Ok(FrameRepr::StatusRequest(StatusRequestRepr { session: 2, poll: 9 })),
    );
    check(
        &[0x6e, 0x12, 0x80, 0x01, 0x00, 0x00, 0x00, 0x05, 0x00, b'a', b'b', b'c', 1, 2, 3, 4, 5, 6, 7, 8],
        Ok(FrameRepr::Chunk(ChunkRepr { session: 1, index: 5, payload: b"abc" })),
    );
}

#[test]
fn new_kinds_refuse_bad_fields() {
    // SegmentCrcs: no CRC, a CRC cut short, zero chunks per segment, too many CRCs.
    check(&[0x6e, 0x1c, 0x00, 5, 0, 0, 0, 16, 0, 0, 0], Err(Error::Truncated));
    check(&[0x6e, 0x1c, 0x00, 5, 0, 0, 0, 16, 0, 0, 0, 1, 2, 3], Err(Error::Truncated));
    check(&[0x6e, 0x1c, 0x00, 5, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4], Err(Error::InvalidField));
    let mut long = vec![0x6e, 0x1c, 0x00, 5, 0, 0, 0, 16, 0, 0, 0];
    long.resize(long.len() + (MAX_SEGMENT_CRCS + 1) * 4, 0);
    check(&long, Err(Error::TooLong));
    // Challenge: nonce 0 is reserved for frames outside a transfer.
    check(&[0x6e, 0x1d, 0x00, 5, 0, 0, 0, 0, 0, 0, 0], Err(Error::InvalidField));
    // SealedOffer: the image MAC cut short.
    let mut sealed = zeroed(FrameKind::SealedOffer);
    sealed.pop();
    check(&sealed, Err(Error::Truncated));
    // A tagged frame shorter than its fields and tag.
    check(&[0x6e, 0x13, 0x80, 0x02, 0x00, 0x00, 0x00, 0x09, 0x00, 1, 2, 3, 4, 5, 6, 7], Err(Error::Truncated));
    let challenge = FrameRepr::Challenge(ChallengeRepr { session: 1, nonce: 0 });
    assert_eq!(challenge.emit(&mut [0u8; MAX_FRAME_LEN]), Err(Error::InvalidField));
}

/// A valid frame of `kind` with a zeroed body of the kind's fixed length.
fn zeroed(kind: FrameKind) -> Vec<u8> {
    let mut bytes = vec![0x6e, 0x10 | kind as u8, 0x00];
    bytes.resize(HEADER_LEN + kind.fixed_len(), 0);
    bytes
}

#[test]
fn header_errors() {
    check(&[], Err(Error::Truncated));
    check(&[0x6e], Err(Error::Truncated));
    check(&[0x6e, 0x13], Err(Error::Truncated));
    check(&[0x00, 0x13], Err(Error::Truncated));
    check(&[0x6d, 0x13, 0x00, 0x02, 0x00, 0x00, 0x00, 0x09, 0x00], Err(Error::BadMagic));
    // A legacy data frame for chunk 0x0102 starts with a byte far from the magic.
    check(&[0x01, 0x02, 0xff, 0xd8], Err(Error::BadMagic));
    check(&[0x6e, 0x23, 0x00, 0x02, 0x00, 0x00, 0x00, 0x09, 0x00], Err(Error::UnsupportedVersion));
    check(&[0x6e, 0x03, 0x00, 0x02, 0x00, 0x00, 0x00, 0x09, 0x00], Err(Error::UnsupportedVersion));
    check(&[0x6e, 0x10, 0x00], Err(Error::UnknownKind));
    check(&[0x6e, 0x10, 0x00, 0x01, 0x02], Err(Error::UnknownKind));
    check(&[0x6e, 0x1f, 0x00], Err(Error::UnknownKind));
    check(&[0x6e, 0x1f, 0x00, 0x00, 0x00], Err(Error::UnknownKind));
    for flag in [0x01, 0x20, 0xe0, 0xff] {
        let mut bytes = zeroed(FrameKind::StatusRequest);
        bytes[2] = flag;
        check(&bytes, Err(Error::UnsupportedFlags));
    }
    // FRAME_LEN is known, and its field must be there.
    let mut bytes = zeroed(FrameKind::StatusRequest);
    bytes[2] = 0x40;
    check(&bytes, Err(Error::Truncated));
}

#[test]
fn length_errors() {
    let fixed = [
        FrameKind::Offer,
        FrameKind::StatusRequest,
        FrameKind::Completion,
        FrameKind::Abort,
        FrameKind::ControlRequest,
        FrameKind::ControlResponse,
        FrameKind::Telemetry,
        FrameKind::Probe,
        FrameKind::ProbeReply,
        FrameKind::Challenge,
        FrameKind::SealedOffer,
    ];
    for kind in fixed {
        let mut bytes = zeroed(kind);
        // A zeroed Abort has reason 0, which is invalid; make it a valid one.
        if kind == FrameKind::Abort {
            bytes[7] = AbortReason::Busy as u8;
        }
        // A zeroed Challenge has nonce 0, which is reserved.
        if kind == FrameKind::Challenge {
            bytes[7] = 1;
        }
        assert!(FrameRepr::parse_bytes(&bytes).is_ok(), "{kind:?} at its length");
        bytes.push(0);
        check(&bytes, Err(Error::TooLong));
        bytes.truncate(bytes.len() - 2);
        check(&bytes, Err(Error::Truncated));
    }
    for kind in [FrameKind::Chunk, FrameKind::Status, FrameKind::SegmentCrcs] {
        let mut bytes = zeroed(kind);
        bytes.pop();
        check(&bytes, Err(Error::Truncated));
    }

    let mut chunk = zeroed(FrameKind::Chunk);
    chunk.resize(MAX_FRAME_LEN, 0xaa);
    assert!(matches!(
        FrameRepr::parse_bytes(&chunk),
        Ok(FrameRepr::Chunk(ChunkRepr { payload, .. })) if payload.len() == MAX_CHUNK_PAYLOAD
    ));
    chunk.push(0xaa);
    check(&chunk, Err(Error::TooLong));
    // Too long is told before anything else, even a bad magic.
    check(&[0u8; MAX_FRAME_LEN + 1], Err(Error::TooLong));
}

#[test]
fn invalid_field_codes() {
    let cases: &[(FrameKind, usize, u8)] = &[
        // (kind, offset of the code in the frame, invalid code)
        (FrameKind::Completion, 7, 3),
        (FrameKind::Completion, 7, 0xff),
        (FrameKind::Abort, 7, 0),
        (FrameKind::Abort, 7, 11),
        (FrameKind::Abort, 7, 0xff),
        (FrameKind::ControlRequest, 5, 3),
        (FrameKind::ControlRequest, 6, 27),
        (FrameKind::ControlRequest, 6, 0xff),
        (FrameKind::ControlResponse, 5, 5),
        (FrameKind::ControlResponse, 6, 27),
    ];
    for &(kind, offset, code) in cases {
        let mut bytes = zeroed(kind);
        bytes[offset] = code;
        check(&bytes, Err(Error::InvalidField));
    }
}

#[test]
fn emit_errors() {
    for (name, repr) in every_kind() {
        let mut small = vec![0u8; repr.buffer_len() - 1];
        assert_eq!(repr.emit(&mut small), Err(Error::BufferTooSmall), "{name}");
    }
    let payload = [0u8; MAX_CHUNK_PAYLOAD + 1];
    let chunk = FrameRepr::Chunk(ChunkRepr { session: 1, index: 0, payload: &payload });
    let mut buffer = [0u8; MAX_FRAME_LEN + 16];
    assert_eq!(chunk.emit(&mut buffer), Err(Error::TooLong));
    let bitmap = [0u8; MAX_FRAME_LEN - 11 + 1];
    let status = FrameRepr::Status(StatusRepr { session: 1, poll: 0, lowest_missing: 0, bitmap: &bitmap });
    assert_eq!(status.emit(&mut buffer), Err(Error::TooLong));
    let status = FrameRepr::Status(StatusRepr { session: 1, poll: 0, lowest_missing: 0, bitmap: &bitmap[1..] });
    assert_eq!(status.emit(&mut buffer), Ok(MAX_FRAME_LEN));
}

#[test]
fn checked_frame_accessors() {
    let bytes = emit(&FrameRepr::StatusRequest(StatusRequestRepr { session: 0x0403_0201, poll: 0x0605 }));
    let frame = Frame::new_checked(&bytes[..]).expect("a valid frame");
    assert_eq!(frame.version(), 1);
    assert_eq!(frame.kind(), Some(FrameKind::StatusRequest));
    assert_eq!(frame.flags(), 0);
    assert_eq!(frame.body(), &[1, 2, 3, 4, 5, 6]);
    assert_eq!(frame.body_ref(), &[1, 2, 3, 4, 5, 6]);
    assert_eq!(frame.into_inner(), &bytes[..]);

    assert!(matches!(Frame::new_checked(&bytes[..2]), Err(Error::Truncated)));
    assert!(matches!(Frame::new_checked(&[0x6e, 0x1a, 0x20, 0, 0, 0, 0, 0][..]), Err(Error::UnsupportedFlags)));
    assert_eq!(frame_len_of(&bytes), None, "no FRAME_LEN flag, no field");
    assert!(matches!(Frame::new_checked(&[0x6e, 0x1a, 0x80, 0, 0, 0, 0, 0][..]), Err(Error::Truncated)));
    let tagged = [0x6e, 0x1a, 0x80, 1, 2, 3, 4, 0, 9, 9, 9, 9, 9, 9, 9, 9];
    let frame = Frame::new_checked(&tagged[..]).expect("a tagged probe");
    assert!(frame.is_tagged());
    assert_eq!(frame.body(), &[1, 2, 3, 4, 0]);
    assert_eq!(frame.tag(), &[9; TAG_LEN]);

    let mut buffer = [0u8; HEADER_LEN + 2];
    let mut frame = Frame::new_unchecked(&mut buffer[..]);
    frame.set_header(FrameKind::Chunk, 0);
    frame.body_mut().copy_from_slice(&[0xaa, 0xbb]);
    assert_eq!(buffer, [0x6e, 0x12, 0x00, 0xaa, 0xbb]);
}

#[test]
fn status_has_and_covered_until() {
    let status = StatusRepr { session: 1, poll: 0, lowest_missing: 3, bitmap: &[0b0000_0101, 0x80] };
    let expect = [
        (0, Some(true)),
        (2, Some(true)),
        (3, Some(false)),
        (4, Some(true)),
        (5, Some(false)),
        (6, Some(true)),
        (7, Some(false)),
        (18, Some(false)),
        (19, Some(true)),
        (20, None),
        (u16::MAX, None),
    ];
    for (index, has) in expect {
        assert_eq!(status.has(index), has, "chunk {index}");
    }
    assert_eq!(status.covered_until(), 20);

    let everything = StatusRepr { session: 1, poll: 0, lowest_missing: 83, bitmap: &[] };
    assert_eq!(everything.has(82), Some(true));
    assert_eq!(everything.has(84), None);
    assert_eq!(everything.covered_until(), 84);

    let last = StatusRepr { session: 1, poll: 0, lowest_missing: u16::MAX, bitmap: &[0xff; MAX_FRAME_LEN - 11] };
    assert_eq!(last.has(u16::MAX), Some(false));
    assert_eq!(last.covered_until(), 65_536 + 1459 * 8);
}

#[test]
fn telemetry_unknowns_travel_as_sentinels() {
    let unknown = TelemetryRepr::default();
    let bytes = emit(&FrameRepr::Telemetry(unknown));
    assert_eq!(&bytes[HEADER_LEN + 12..HEADER_LEN + 15], &[0x00, 0x80, 0x00]);
    assert_eq!(FrameRepr::parse_bytes(&bytes), Ok(FrameRepr::Telemetry(unknown)));
}

/// Bytes that often pass the header checks, so the property reaches the bodies.
fn frame_like() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..300),
        (0u8..16, any::<bool>(), any::<bool>(), prop::collection::vec(any::<u8>(), 0..1480)).prop_map(
            |(kind, tagged, frame_len, body)| {
                let bits = if tagged { flags::TAGGED } else { 0 } | if frame_len { flags::FRAME_LEN } else { 0 };
                let mut bytes = vec![0x6e, 0x10 | kind, bits];
                bytes.extend(body);
                bytes
            }
        ),
        (1u8..15, any::<bool>(), prop::collection::vec(any::<u8>(), 0..60)).prop_map(|(kind, frame_len, body)| {
            let kind = FrameKind::from_code(kind).unwrap();
            let field = if frame_len { 2 } else { 0 };
            let mut bytes = vec![0x6e, 0x10 | kind as u8, if frame_len { flags::FRAME_LEN } else { 0 }];
            bytes.extend(body.into_iter().take(kind.fixed_len() + field));
            bytes.resize(HEADER_LEN + kind.fixed_len() + field, 0);
            bytes
        }),
        (1u8..15, prop::collection::vec(any::<u8>(), 0..60)).prop_map(|(kind, body)| {
            let kind = FrameKind::from_code(kind).unwrap();
            let mut bytes = vec![0x6e, 0x10 | kind as u8, 0x00];
            bytes.extend(body.into_iter().take(kind.fixed_len()));
            bytes.resize(HEADER_LEN + kind.fixed_len(), 0);
            bytes
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    #[test]
    fn parse_never_panics_and_reemits_the_same_bytes(bytes in frame_like()) {
        let checked = Frame::new_checked(&bytes[..]).map(|_| ());
        match FrameRepr::parse_bytes(&bytes) {
            Ok(repr) => {
                prop_assert_eq!(checked, Ok(()));
                // A tagged frame re-emits untagged: the flag clear, the tag gone;
                // the FRAME_LEN field comes back through announce_frame_len.
                let mut untagged = bytes.clone();
                if bytes[2] & flags::TAGGED != 0 {
                    untagged[2] &= !flags::TAGGED;
                    untagged.truncate(bytes.len() - TAG_LEN);
                }
                let announced = frame_len_of(&bytes);
                let field = if announced.is_some() { 2 } else { 0 };
                prop_assert_eq!(repr.buffer_len() + field, untagged.len());
                let mut buffer = [0u8; MAX_FRAME_LEN];
                let len = repr.emit(&mut buffer);
                prop_assert_eq!(len, Ok(untagged.len() - field));
                let len = match announced {
                    Some(accepted) => announce_frame_len(&mut buffer, untagged.len() - field, accepted),
                    None => Ok(untagged.len()),
                };
                prop_assert_eq!(len, Ok(untagged.len()));
                prop_assert_eq!(&buffer[..untagged.len()], &untagged[..]);
            }
            // Past the length checks, only a field's code can be refused.
            Err(Error::InvalidField) => prop_assert_eq!(checked, Ok(())),
            Err(e) => prop_assert_eq!(checked, Err(e)),
        }
    }
}

fn frame_len_of(bytes: &[u8]) -> Option<u16> {
    Frame::new_checked(bytes).ok().and_then(|frame| frame.announced_frame_len())
}

#[test]
fn frame_len_field_is_announced_and_read_back() {
    // A probe reply announcing 1470-byte frames: the field follows the kind's
    // fields, the flag is bit 6, and a parser without the field sees the same reply.
    let reply = FrameRepr::ProbeReply(ProbeRepr { nonce: 0x0403_0201, role: 1 });
    let mut buffer = [0u8; MAX_FRAME_LEN];
    let len = reply.emit(&mut buffer).unwrap();
    let len = announce_frame_len(&mut buffer, len, 1470).unwrap();
    assert_eq!(&buffer[..len], &[0x6e, 0x1b, 0x40, 1, 2, 3, 4, 1, 0xbe, 0x05]);
    assert_eq!(frame_len_of(&buffer[..len]), Some(1470));
    assert_eq!(FrameRepr::parse_bytes(&buffer[..len]), Ok(reply));
    // Announced once only, and never after the tag.
    assert_eq!(announce_frame_len(&mut buffer, len, 1470), Err(Error::InvalidField));
    let mut tagged = [0x6e, 0x1b, 0x80, 1, 2, 3, 4, 1, 9, 9, 9, 9, 9, 9, 9, 9, 0, 0];
    assert_eq!(announce_frame_len(&mut tagged, 16, 1470), Err(Error::InvalidField));
    // With a tag after it, the field sits before the tag.
    let both = [0x6e, 0x1b, 0xc0, 1, 2, 3, 4, 1, 0xfa, 0x00, 9, 9, 9, 9, 9, 9, 9, 9];
    let frame = Frame::new_checked(&both[..]).expect("a tagged probe reply with FRAME_LEN");
    assert_eq!(frame.announced_frame_len(), Some(250));
    assert_eq!(frame.body(), &[1, 2, 3, 4, 1]);
    // A Status keeps its bitmap apart from the field.
    let status = FrameRepr::Status(StatusRepr { session: 7, poll: 0xffff, lowest_missing: 2, bitmap: &[0x0f] });
    let len = status.emit(&mut buffer).unwrap();
    let len = announce_frame_len(&mut buffer, len, 1000).unwrap();
    assert_eq!(FrameRepr::parse_bytes(&buffer[..len]), Ok(status));
    assert_eq!(frame_len_of(&buffer[..len]), Some(1000));
    // No room left for the field in a full frame.
    let full = FrameRepr::Chunk(ChunkRepr { session: 1, index: 0, payload: &[0; MAX_CHUNK_PAYLOAD] });
    let len = full.emit(&mut buffer).unwrap();
    assert_eq!(announce_frame_len(&mut buffer, len, 1470), Err(Error::TooLong));
}

#[test]
fn chunk_payload_for_frame_sizes() {
    assert_eq!(chunk_payload_for(250, false), 241);
    assert_eq!(chunk_payload_for(250, true), 233);
    assert_eq!(chunk_payload_for(1470, false), 1461);
    assert_eq!(chunk_payload_for(1470, true), 1453);
    assert_eq!(chunk_payload_for(100, false), 241, "every peer takes v1 frames");
    assert_eq!(chunk_payload_for(5000, false), 1461, "no frame is larger than v2's");
}
