//! Properties: every message encodes and decodes to itself, and no byte
//! string makes the splitter or the decoders panic.

mod common;

use common::*;
use nowcam_console::{
    check_frame, decode_board, decode_host, BoardMessage, BoardTelemetry, Capacities, Chip, ConsoleError,
    FrameSplitter, HostMessage, Piece, RadioKind, Ready, Role, StoredImage, TransferOutcome, TransferResult,
    MAX_DATA_LEN, MAX_ENCODED_LEN, MAX_LIST_LEN, PROTOCOL_VERSION,
};
use proptest::collection::vec;
use proptest::prelude::*;

/// A host message that owns its bytes, so that a strategy can make it.
#[derive(Debug, Clone)]
enum OwnedHost {
    Hello,
    LoadBegin(u32),
    LoadChunk(u32, Vec<u8>),
    LoadEnd(u32),
    SetFaults(u64, String),
    SetPeer([u8; 6], u8),
    StartTransfer(u16),
    ReadResults,
    ListImages,
    ReadImage(u32, u32, u16),
    ReadTelemetry,
    Reboot,
    RadioDeliver([u8; 6], [u8; 6], i8, Vec<u8>),
    RadioReport(u32, bool),
}

impl OwnedHost {
    fn message(&self) -> HostMessage<'_> {
        match self {
            OwnedHost::Hello => HostMessage::Hello,
            OwnedHost::LoadBegin(len) => HostMessage::LoadBegin { len: *len },
            OwnedHost::LoadChunk(offset, data) => HostMessage::LoadChunk { offset: *offset, data },
            OwnedHost::LoadEnd(crc32) => HostMessage::LoadEnd { crc32: *crc32 },
            OwnedHost::SetFaults(seed, preset) => HostMessage::SetFaults { seed: *seed, preset },
            OwnedHost::SetPeer(receiver, channel) => HostMessage::SetPeer { receiver: *receiver, channel: *channel },
            OwnedHost::StartTransfer(count) => HostMessage::StartTransfer { count: *count },
            OwnedHost::ReadResults => HostMessage::ReadResults,
            OwnedHost::ListImages => HostMessage::ListImages,
            OwnedHost::ReadImage(sequence, offset, len) => {
                HostMessage::ReadImage { sequence: *sequence, offset: *offset, len: *len }
            }
            OwnedHost::ReadTelemetry => HostMessage::ReadTelemetry,
            OwnedHost::Reboot => HostMessage::Reboot,
            OwnedHost::RadioDeliver(source, destination, rssi, data) => {
                HostMessage::RadioDeliver { source: *source, destination: *destination, rssi: *rssi, data }
            }
            OwnedHost::RadioReport(handle, acknowledged) => {
                HostMessage::RadioReport { handle: *handle, acknowledged: *acknowledged }
            }
        }
    }
}

/// A board message that owns its bytes.
#[derive(Debug, Clone)]
enum OwnedBoard {
    Ready(String, Chip, Role, [u8; 6], u8, RadioKind, Capacities),
    Ack,
    Error(ConsoleError),
    Results(Vec<TransferResult>),
    Images(Vec<StoredImage>),
    ImageData(u32, u32, Vec<u8>),
    Telemetry(BoardTelemetry),
    Transmit(u32, [u8; 6], Vec<u8>),
    Log(String),
}

impl OwnedBoard {
    fn message(&self) -> BoardMessage<'_> {
        match self {
            OwnedBoard::Ready(firmware_version, chip, role, mac, channel, radio, capacities) => {
                BoardMessage::Ready(Ready {
                    protocol_version: 2,
                    firmware_version,
                    chip: *chip,
                    role: *role,
                    mac: *mac,
                    channel: *channel,
                    radio: *radio,
                    capacities: *capacities,
                })
            }
            OwnedBoard::Ack => BoardMessage::Ack,
            OwnedBoard::Error(error) => BoardMessage::Error(*error),
            OwnedBoard::Results(transfers) => {
                BoardMessage::Results { transfers: heapless::Vec::from_slice(transfers).unwrap() }
            }
            OwnedBoard::Images(images) => BoardMessage::Images { images: heapless::Vec::from_slice(images).unwrap() },
            OwnedBoard::ImageData(sequence, offset, data) => {
                BoardMessage::ImageData { sequence: *sequence, offset: *offset, data }
            }
            OwnedBoard::Telemetry(telemetry) => BoardMessage::Telemetry(*telemetry),
            OwnedBoard::Transmit(handle, destination, data) => {
                BoardMessage::Transmit { handle: *handle, destination: *destination, data }
            }
            OwnedBoard::Log(line) => BoardMessage::Log(line),
        }
    }
}

fn host_message() -> impl Strategy<Value = OwnedHost> {
    prop_oneof![
        Just(OwnedHost::Hello),
        any::<u32>().prop_map(OwnedHost::LoadBegin),
        (any::<u32>(), vec(any::<u8>(), 0..=MAX_DATA_LEN))
            .prop_map(|(offset, data)| OwnedHost::LoadChunk(offset, data)),
        any::<u32>().prop_map(OwnedHost::LoadEnd),
        (any::<u64>(), "\\PC{0,40}").prop_map(|(seed, preset)| OwnedHost::SetFaults(seed, preset)),
        (any::<[u8; 6]>(), any::<u8>()).prop_map(|(receiver, channel)| OwnedHost::SetPeer(receiver, channel)),
        any::<u16>().prop_map(OwnedHost::StartTransfer),
        Just(OwnedHost::ReadResults),
        Just(OwnedHost::ListImages),
        any::<(u32, u32, u16)>().prop_map(|(sequence, offset, len)| OwnedHost::ReadImage(sequence, offset, len)),
        Just(OwnedHost::ReadTelemetry),
        Just(OwnedHost::Reboot),
        (any::<[u8; 6]>(), any::<[u8; 6]>(), any::<i8>(), vec(any::<u8>(), 0..=250))
            .prop_map(|(source, destination, rssi, data)| OwnedHost::RadioDeliver(source, destination, rssi, data)),
        any::<(u32, bool)>().prop_map(|(handle, acknowledged)| OwnedHost::RadioReport(handle, acknowledged)),
    ]
}

fn console_error() -> impl Strategy<Value = ConsoleError> {
    prop::sample::select(vec![
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
    ])
}

fn transfer_result() -> impl Strategy<Value = TransferResult> {
    let outcome = prop::sample::select(vec![
        TransferOutcome::Stored,
        TransferOutcome::Refused,
        TransferOutcome::TimedOut,
        TransferOutcome::Failed,
    ]);
    (any::<u32>(), any::<u32>(), outcome, any::<u64>(), any::<u64>(), any::<u32>()).prop_map(
        |(session, len, outcome, started_ms, finished_ms, retransmissions)| TransferResult {
            session,
            len,
            outcome,
            started_ms,
            finished_ms,
            retransmissions,
        },
    )
}

fn stored_image() -> impl Strategy<Value = StoredImage> {
    (any::<u32>(), any::<[u8; 6]>(), any::<u32>(), any::<[u8; 32]>())
        .prop_map(|(sequence, source, len, sha256)| StoredImage { sequence, source, len, sha256 })
}

fn telemetry() -> impl Strategy<Value = BoardTelemetry> {
    (any::<u64>(), any::<u32>(), any::<Option<i16>>(), any::<(u32, u32, u32, u32)>()).prop_map(
        |(uptime_ms, free_heap, temperature_centi, (frames_sent, frames_received, receive_dropped, send_failed))| {
            BoardTelemetry {
                uptime_ms,
                free_heap,
                temperature_centi,
                frames_sent,
                frames_received,
                receive_dropped,
                send_failed,
            }
        },
    )
}

fn capacities() -> impl Strategy<Value = Capacities> {
    // A chip's usize is 32 bits wide.
    any::<[u32; 7]>().prop_map(|sizes| Capacities {
        receiver_transfers: sizes[0] as usize,
        transfer_words: sizes[1] as usize,
        sender_words: sizes[2] as usize,
        radio_receive_queue: sizes[3] as usize,
        radio_send_queue: sizes[4] as usize,
        sends_in_flight: sizes[5] as usize,
        max_frame_len: sizes[6] as usize,
    })
}

fn board_message() -> impl Strategy<Value = OwnedBoard> {
    let ready = (
        "\\PC{0,40}",
        prop::sample::select(Chip::ALL.to_vec()),
        prop::sample::select(vec![Role::Sender, Role::Receiver]),
        any::<[u8; 6]>(),
        any::<u8>(),
        prop::sample::select(vec![RadioKind::EspNow, RadioKind::Serial]),
        capacities(),
    )
        .prop_map(|(version, chip, role, mac, channel, radio, capacities)| {
            OwnedBoard::Ready(version, chip, role, mac, channel, radio, capacities)
        });
    prop_oneof![
        ready,
        Just(OwnedBoard::Ack),
        console_error().prop_map(OwnedBoard::Error),
        vec(transfer_result(), 0..=MAX_LIST_LEN).prop_map(OwnedBoard::Results),
        vec(stored_image(), 0..=MAX_LIST_LEN).prop_map(OwnedBoard::Images),
        (any::<u32>(), any::<u32>(), vec(any::<u8>(), 0..=MAX_DATA_LEN))
            .prop_map(|(sequence, offset, data)| OwnedBoard::ImageData(sequence, offset, data)),
        telemetry().prop_map(OwnedBoard::Telemetry),
        (any::<u32>(), any::<[u8; 6]>(), vec(any::<u8>(), 0..=250))
            .prop_map(|(handle, destination, data)| OwnedBoard::Transmit(handle, destination, data)),
        "\\PC{0,40}".prop_map(OwnedBoard::Log),
    ]
}

/// The shape every encoded message has: delimited, no zero inside, within the largest length.
fn assert_framed(wire: &[u8]) {
    assert!(wire.len() <= MAX_ENCODED_LEN);
    assert_eq!((wire[0], wire[wire.len() - 1]), (0, 0));
    assert!(!wire[1..wire.len() - 1].contains(&0));
    assert_eq!(check_frame(&inner(wire)), Ok(()));
}

/// Decoding any bytes: `check_frame` agrees with the decoders about what is log text.
fn assert_decoders_agree(frame: &[u8]) {
    let host = decode_host(&mut frame.to_vec()).map(|_| ()).err();
    let board = decode_board(&mut frame.to_vec()).map(|_| ()).err();
    match check_frame(frame) {
        Err(error) => {
            assert!(error.is_log_text());
            assert_eq!((host, board), (Some(error), Some(error)));
        }
        Ok(()) => {
            for error in [host, board].into_iter().flatten() {
                assert!(!error.is_log_text(), "{error:?} after check_frame passed");
            }
        }
    }
}

/// A u16 as postcard writes it: seven bits a byte, low bits first.
fn varint(mut value: u16) -> Vec<u8> {
    let mut bytes = Vec::new();
    while value >= 0x80 {
        bytes.push(value as u8 | 0x80);
        value >>= 7;
    }
    bytes.push(value as u8);
    bytes
}

proptest! {
    #[test]
    fn host_messages_round_trip(id in any::<u16>(), message in host_message()) {
        let message = message.message();
        let wire = encode_host(id, &message);
        assert_framed(&wire);
        let mut frame = inner(&wire);
        prop_assert_eq!(decode_host(&mut frame), Ok((id, message)));
    }

    #[test]
    fn board_messages_round_trip(id in any::<u16>(), message in board_message()) {
        let message = message.message();
        let wire = encode_board(id, &message);
        assert_framed(&wire);
        let mut frame = inner(&wire);
        prop_assert_eq!(decode_board(&mut frame), Ok((id, message)));
    }

    #[test]
    fn any_bytes_decode_without_panic(frame in vec(any::<u8>(), 0..600)) {
        assert_decoders_agree(&frame);
    }

    /// Past COBS, CRC and magic, any body: the decoders refuse with a typed error or decode
    /// a message that encodes and decodes to itself.
    #[test]
    fn any_body_decodes_without_panic(id in any::<u16>(), body in vec(any::<u8>(), 0..300)) {
        let mut payload = vec![0xC7, PROTOCOL_VERSION];
        payload.extend(varint(id));
        payload.extend(&body);
        let frame = frame_of(&payload);
        assert_decoders_agree(&frame);
        if let Ok((decoded_id, message)) = decode_host(&mut frame.clone()) {
            prop_assert_eq!(decoded_id, id);
            let mut again = inner(&encode_host(id, &message));
            prop_assert_eq!(decode_host(&mut again), Ok((id, message)));
        }
        if let Ok((decoded_id, message)) = decode_board(&mut frame.clone()) {
            prop_assert_eq!(decoded_id, id);
            let wire = encode_board(id, &message);
            let mut frame = inner(&wire);
        prop_assert_eq!(decode_board(&mut frame), Ok((id, message)));
        }
    }

    #[test]
    fn any_bytes_split_without_panic(bytes in vec(any::<u8>(), 0..2000), chunks in vec(1usize..80, 1..20)) {
        let mut small = FrameSplitter::<16>::new();
        let mut large = FrameSplitter::<MAX_ENCODED_LEN>::new();
        let mut rest = &bytes[..];
        for &chunk in chunks.iter().cycle() {
            if rest.is_empty() {
                break;
            }
            let (now, later) = rest.split_at(chunk.min(rest.len()));
            rest = later;
            small.feed(now, |piece| match piece {
                Piece::Frame(frame) => { assert!(frame.len() <= 16); let _ = decode_host(frame); }
                Piece::Text(text) => assert!(text.len() <= 16),
            });
            large.feed(now, |piece| match piece {
                Piece::Frame(frame) => { assert_decoders_agree(frame); let _ = decode_board(frame); }
                Piece::Text(text) => assert!(text.len() <= MAX_ENCODED_LEN),
            });
            prop_assert!(small.pending() <= 16 && large.pending() <= MAX_ENCODED_LEN);
        }
        prop_assert!(small.flush().is_none_or(|text| text.len() <= 16));
        prop_assert!(large.flush().is_none_or(|text| text.len() <= MAX_ENCODED_LEN));
    }

    /// Println text (never a zero byte) between messages, in any chunking:
    /// the splitter hands back every message, and all the text.
    #[test]
    fn messages_and_text_split_apart(
        parts in vec((vec(1u8..=255, 0..700), board_message()), 0..6),
        tail in vec(1u8..=255, 0..100),
        chunks in vec(1usize..600, 1..20),
    ) {
        let mut stream = Vec::new();
        let mut text = Vec::new();
        let mut frames = Vec::new();
        for (id, (line, message)) in parts.iter().enumerate() {
            stream.extend(line);
            text.extend(line);
            let wire = encode_board(id as u16, &message.message());
            frames.push(inner(&wire));
            stream.extend(wire);
        }
        stream.extend(&tail);
        text.extend(&tail);

        let mut splitter = FrameSplitter::<MAX_ENCODED_LEN>::new();
        let mut seen_frames = Vec::new();
        let mut seen_text = Vec::new();
        let mut rest = &stream[..];
        for &chunk in chunks.iter().cycle() {
            if rest.is_empty() {
                break;
            }
            let (now, later) = rest.split_at(chunk.min(rest.len()));
            rest = later;
            splitter.feed(now, |piece| match piece {
                Piece::Frame(frame) => seen_frames.push(frame.to_vec()),
                Piece::Text(bytes) => seen_text.extend_from_slice(bytes),
            });
        }
        seen_text.extend_from_slice(splitter.flush().unwrap_or_default());
        prop_assert_eq!(seen_frames, frames);
        prop_assert_eq!(seen_text, text);
    }
}
