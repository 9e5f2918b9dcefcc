//! A virtual board served over in-memory pipes, driven through the harness's
//! console: the same messages a chip answers.

use std::time::Duration;

use nowcam_console::{
    BoardMessage, ConsoleError, HostMessage, RadioKind, Role, TransferOutcome, TransferResult, MAX_DATA_LEN,
};
use nowcam_hil::console::{BoardConsole, ConsoleLinkError, Reply, REPLY_TIMEOUT};
use nowcam_hil::relay::{Action, Relay, RelayNode};
use nowcam_hil::virtual_board::{serve, BoardConfig, VirtualBoard, CAPACITIES};
use nowcam_link::LinkConfig;
use nowcam_proto::auth::Key;
use nowcam_proto::MacAddress;

fn start(role: Role) -> BoardConsole {
    let (host_reader, board_writer) = std::io::pipe().unwrap();
    let (board_reader, host_writer) = std::io::pipe().unwrap();
    let config = BoardConfig { role, mac: MacAddress([0x02, 0, 0, 0, 0, 7]), channel: 6, seed: 1, key: None };
    let board = VirtualBoard::new(config).unwrap();
    std::thread::spawn(move || serve(board, Box::new(board_reader), Box::new(board_writer)));
    BoardConsole::new("vb", 0, Box::new(host_reader), Box::new(host_writer), None)
}

#[test]
fn a_virtual_board_says_who_it_is() {
    let mut console = start(Role::Receiver);
    let info = console.handshake(Duration::from_secs(5)).unwrap();
    assert_eq!(info.role, Role::Receiver);
    assert_eq!(info.mac, MacAddress([0x02, 0, 0, 0, 0, 7]));
    assert_eq!(info.channel, 6);
    assert_eq!(info.radio, RadioKind::Serial);
    assert_eq!(info.capacities, CAPACITIES);
    assert_eq!(
        info.capacities,
        info.radio.capacities(info.chip.capacities()),
        "a virtual board runs its chip's serial-radio build numbers"
    );
    assert_eq!(info.capacities.max_frame_len, nowcam_console::SERIAL_RADIO_FRAME_LEN);
}

#[test]
fn a_loaded_image_is_checked_against_its_crc() {
    let mut console = start(Role::Sender);
    let image: Vec<u8> = (0..1000u32).map(|i| (i * 7) as u8).collect();
    console.expect_ack("begin", &HostMessage::LoadBegin { len: image.len() as u32 }).unwrap();
    for (k, piece) in image.chunks(MAX_DATA_LEN).enumerate() {
        let offset = (k * MAX_DATA_LEN) as u32;
        console.expect_ack("chunk", &HostMessage::LoadChunk { offset, data: piece }).unwrap();
    }
    let wrong = nowcam_proto::chunker::crc32(&image) ^ 1;
    match console.expect_ack("end", &HostMessage::LoadEnd { crc32: wrong }) {
        Err(ConsoleLinkError::Refused { error: ConsoleError::CrcMismatch, .. }) => {}
        other => panic!("expected a CRC mismatch, got {other:?}"),
    }
}

#[test]
fn requests_out_of_range_or_for_the_wrong_role_get_typed_errors() {
    let mut sender = start(Role::Sender);
    let check = |console: &mut BoardConsole, message: HostMessage<'_>, expected: ConsoleError| match console.request(
        "request",
        &message,
        REPLY_TIMEOUT,
    ) {
        Err(ConsoleLinkError::Refused { error, .. }) => assert_eq!(error, expected, "{message:?}"),
        other => panic!("{message:?}: expected {expected:?}, got {other:?}"),
    };
    check(&mut sender, HostMessage::LoadChunk { offset: 0, data: b"x" }, ConsoleError::NoImageLoaded);
    check(&mut sender, HostMessage::LoadBegin { len: u32::MAX }, ConsoleError::OutOfRange);
    check(&mut sender, HostMessage::StartTransfer { count: 1 }, ConsoleError::NoImageLoaded);
    check(&mut sender, HostMessage::ListImages, ConsoleError::WrongRole);
    check(&mut sender, HostMessage::SetFaults { seed: 1, preset: "stormy" }, ConsoleError::OutOfRange);
    check(&mut sender, HostMessage::SetPeer { receiver: [2; 6], channel: 14 }, ConsoleError::OutOfRange);
    let mut receiver = start(Role::Receiver);
    check(&mut receiver, HostMessage::ReadResults, ConsoleError::WrongRole);
    check(&mut receiver, HostMessage::ReadImage { sequence: 9, offset: 0, len: 16 }, ConsoleError::NotFound);
    match receiver.request("list", &HostMessage::ListImages, REPLY_TIMEOUT).unwrap() {
        Reply::Images(images) => assert!(images.is_empty()),
        other => panic!("{other:?}"),
    }
    receiver.expect_ack("faults", &HostMessage::SetFaults { seed: 3, preset: "edge30" }).unwrap();
}

#[test]
fn bytes_that_are_not_a_message_never_hang_the_board() {
    use std::io::Write;
    let (host_reader, board_writer) = std::io::pipe().unwrap();
    let (board_reader, mut host_writer) = std::io::pipe().unwrap();
    let config = BoardConfig { role: Role::Receiver, mac: MacAddress([2; 6]), channel: 1, seed: 1, key: None };
    let board = VirtualBoard::new(config).unwrap();
    std::thread::spawn(move || serve(board, Box::new(board_reader), Box::new(board_writer)));
    host_writer.write_all(b"\0garbage that is no message\0\xff\xfe\0").unwrap();
    let mut console = BoardConsole::new("vb", 0, Box::new(host_reader), Box::new(host_writer), None);
    console.handshake(Duration::from_secs(5)).unwrap();
}

/// An intact frame of console v1 whose message is none this side knows:
/// magic, version, request id 9, then message number 200, with its CRC-32.
fn unknown_message_frame() -> Vec<u8> {
    let mut envelope = vec![0xc7, nowcam_console::PROTOCOL_VERSION, 0x09, 0xc8, 0x01];
    let crc = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC).checksum(&envelope);
    envelope.extend_from_slice(&crc.to_le_bytes());
    let mut framed = vec![0u8; cobs::max_encoding_length(envelope.len()) + 2];
    let len = cobs::encode(&envelope, &mut framed[1..]);
    framed.truncate(len + 1);
    framed.insert(0, 0);
    framed.push(0);
    framed
}

#[test]
fn an_unknown_message_gets_an_error_reply_with_its_id() {
    use std::io::{Read, Write};
    let (mut host_reader, board_writer) = std::io::pipe().unwrap();
    let (board_reader, mut host_writer) = std::io::pipe().unwrap();
    let config = BoardConfig { role: Role::Receiver, mac: MacAddress([2; 6]), channel: 1, seed: 1, key: None };
    let board = VirtualBoard::new(config).unwrap();
    std::thread::spawn(move || serve(board, Box::new(board_reader), Box::new(board_writer)));
    host_writer.write_all(&unknown_message_frame()).unwrap();
    let mut splitter = nowcam_console::FrameSplitter::<{ nowcam_console::MAX_ENCODED_LEN }>::new();
    let mut buffer = [0u8; 256];
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while std::time::Instant::now() < deadline {
        let n = host_reader.read(&mut buffer).unwrap();
        for &byte in &buffer[..n] {
            if let Some(nowcam_console::Piece::Frame(frame)) = splitter.push(byte) {
                if let Ok((9, message)) = nowcam_console::decode_board(frame) {
                    assert_eq!(message, nowcam_console::BoardMessage::Error(ConsoleError::Malformed));
                    return;
                }
            }
        }
    }
    panic!("no error reply to request 9 within 5 s");
}

const SENDER: MacAddress = MacAddress([0x02, 0, 0, 0, 0, 0x51]);
const RECEIVER: MacAddress = MacAddress([0x02, 0, 0, 0, 0, 0x52]);

/// A sender and a receiver virtual board, each with its own key, driven in
/// this thread through the relay on a clean link, as the board backend
/// drives them over their consoles: the sender sends one image, and after
/// its result (or `wait` of wall time) the receiver's list of stored images
/// and the sender's results are returned.
fn one_transfer(sender_key: Option<Key>, receiver_key: Option<Key>, wait: Duration) -> (usize, Vec<TransferResult>) {
    let board = |role, mac, key| VirtualBoard::new(BoardConfig { role, mac, channel: 1, seed: 3, key }).unwrap();
    let mut boards = [board(Role::Sender, SENDER, sender_key), board(Role::Receiver, RECEIVER, receiver_key)];
    let ack = |board: &mut VirtualBoard, message: HostMessage<'_>| {
        let mut acked = false;
        board.handle(message, &mut |reply| acked = matches!(reply, BoardMessage::Ack));
        assert!(acked);
    };
    let image: Vec<u8> = (0..3_000u32).map(|i| (i * 31 + 7) as u8).collect();
    ack(&mut boards[0], HostMessage::LoadBegin { len: image.len() as u32 });
    for (k, piece) in image.chunks(MAX_DATA_LEN).enumerate() {
        ack(&mut boards[0], HostMessage::LoadChunk { offset: (k * MAX_DATA_LEN) as u32, data: piece });
    }
    ack(&mut boards[0], HostMessage::LoadEnd { crc32: nowcam_proto::chunker::crc32(&image) });
    ack(&mut boards[0], HostMessage::SetPeer { receiver: RECEIVER.0, channel: 1 });
    ack(&mut boards[0], HostMessage::StartTransfer { count: 1 });
    let nodes = vec![RelayNode { address: SENDER, channel: 1 }, RelayNode { address: RECEIVER, channel: 1 }];
    let mut relay = Relay::new(nodes, &[(0, 1)], LinkConfig::default(), 5).unwrap();
    let results = |board: &mut VirtualBoard| {
        let mut results = Vec::new();
        board.handle(HostMessage::ReadResults, &mut |reply| {
            if let BoardMessage::Results { transfers } = reply {
                results = transfers.to_vec();
            }
        });
        results
    };
    let started = std::time::Instant::now();
    while started.elapsed() < wait && results(&mut boards[0]).is_empty() {
        let now_ns = started.elapsed().as_nanos() as u64;
        for (from, board) in boards.iter_mut().enumerate() {
            board.poll();
            board.drain_transmits(|message| {
                if let BoardMessage::Transmit { handle, destination, data } = message {
                    relay.transmit(now_ns, from, *handle, MacAddress(*destination), data);
                }
            });
        }
        while let Some(action) = relay.due(now_ns) {
            let (to, message) = match &action {
                Action::Deliver { to, source, destination, data } => {
                    (*to, HostMessage::RadioDeliver { source: source.0, destination: destination.0, rssi: -40, data })
                }
                Action::Report { to, handle, acknowledged } => {
                    (*to, HostMessage::RadioReport { handle: *handle, acknowledged: *acknowledged })
                }
            };
            boards[to].handle(message, &mut |_| {});
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    let mut stored = usize::MAX;
    boards[1].handle(HostMessage::ListImages, &mut |reply| {
        if let BoardMessage::Images { images } = reply {
            stored = images.len();
        }
    });
    (stored, results(&mut boards[0]))
}

/// Two boards with the same key store the image; a board built with another
/// key than the camera's stores nothing: every frame fails its tag.
#[test]
fn a_board_with_another_key_stores_nothing() {
    let key = Key::new(core::array::from_fn(|i| i as u8 + 1));
    let other = Key::new(core::array::from_fn(|i| 0xa0 ^ i as u8));
    let (stored, results) = one_transfer(Some(key), Some(key), Duration::from_secs(10));
    assert_eq!(stored, 1, "the same key: {results:?}");
    assert_eq!(results.first().map(|r| r.outcome), Some(TransferOutcome::Stored));
    let (stored, results) = one_transfer(Some(key), Some(other), Duration::from_secs(2));
    assert_eq!(stored, 0, "another key: {results:?}");
    assert!(results.iter().all(|r| r.outcome != TransferOutcome::Stored), "{results:?}");
    let (stored, _) = one_transfer(None, Some(other), Duration::from_secs(2));
    assert_eq!(stored, 0, "no key at all");
}

/// A board still running firmware of the first console protocol: its
/// `Ready` (recorded from that version, firmware/console/tests/compat.rs)
/// cannot be read, and the handshake says so rather than timing out.
#[test]
fn a_board_speaking_another_console_version_is_told_apart() {
    const READY_V1: [u8; 43] = [
        0x00, 0x03, 0xc7, 0x01, 0x01, 0x12, 0x01, 0x0e, 0x30, 0x2e, 0x31, 0x2e, 0x30, 0x2b, 0x67, 0x39, 0x32, 0x64,
        0x37, 0x63, 0x30, 0x30, 0x02, 0x04, 0x24, 0x6f, 0x28, 0x0f, 0x10, 0x01, 0x06, 0x01, 0x04, 0x44, 0x44, 0x0a,
        0x08, 0x01, 0xca, 0x6e, 0x96, 0x25, 0x00,
    ];
    let (host_reader, mut board_writer) = std::io::pipe().unwrap();
    let (mut board_reader, host_writer) = std::io::pipe().unwrap();
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        let mut buffer = [0u8; 256];
        // Whatever the host asks, the old board answers with its Ready.
        while board_reader.read(&mut buffer).is_ok_and(|n| n > 0) {
            if board_writer.write_all(&READY_V1).is_err() {
                return;
            }
        }
    });
    let mut console = BoardConsole::new("old", 0, Box::new(host_reader), Box::new(host_writer), None);
    let started = std::time::Instant::now();
    match console.handshake(Duration::from_secs(5)) {
        Err(ConsoleLinkError::Version { found, .. }) => assert_eq!(found, 1),
        other => panic!("expected a version error, got {other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(2), "told apart at once, not at the timeout");
}
