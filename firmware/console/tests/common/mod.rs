//! One message of every kind, and a framing written apart from the crate's
//! so that the tests do not check the codec against itself.
#![allow(dead_code)]

use nowcam_console::{
    BoardMessage, BoardTelemetry, Chip, ConsoleError, HostMessage, RadioKind, Ready, Role, StoredImage,
    TransferOutcome, TransferResult, MAX_ENCODED_LEN,
};

pub const SENDER: [u8; 6] = [0x02, 0x00, 0x00, 0x00, 0x00, 0x01];
pub const RECEIVER: [u8; 6] = [0x02, 0x00, 0x00, 0x00, 0x00, 0x02];

/// Every host message variant, named, in declaration order.
pub fn host_messages() -> Vec<(&'static str, HostMessage<'static>)> {
    vec![
        ("Hello", HostMessage::Hello),
        ("LoadBegin", HostMessage::LoadBegin { len: 48_213 }),
        ("LoadChunk", HostMessage::LoadChunk { offset: 256, data: &[0xFF, 0xD8, 0x00, 0xFF, 0xE0] }),
        ("LoadEnd", HostMessage::LoadEnd { crc32: 0xCBF4_3926 }),
        ("SetFaults", HostMessage::SetFaults { seed: 42, preset: "lossy-10" }),
        ("SetPeer", HostMessage::SetPeer { receiver: RECEIVER, channel: 6 }),
        ("StartTransfer", HostMessage::StartTransfer { count: 3 }),
        ("ReadResults", HostMessage::ReadResults),
        ("ListImages", HostMessage::ListImages),
        ("ReadImage", HostMessage::ReadImage { sequence: 7, offset: 512, len: 256 }),
        ("ReadTelemetry", HostMessage::ReadTelemetry),
        ("Reboot", HostMessage::Reboot),
        (
            "RadioDeliver",
            HostMessage::RadioDeliver {
                source: SENDER,
                destination: RECEIVER,
                rssi: -60,
                data: &[0x4E, 0x43, 0x01, 0x00],
            },
        ),
        ("RadioReport", HostMessage::RadioReport { handle: 300, acknowledged: true }),
    ]
}

pub fn ready() -> Ready<'static> {
    Ready {
        protocol_version: 2,
        firmware_version: "0.1.0",
        chip: Chip::Esp32C3,
        role: Role::Receiver,
        mac: RECEIVER,
        channel: 1,
        radio: RadioKind::Serial,
        capacities: nowcam_chips::ESP32C3,
    }
}

pub fn transfer(session: u32, outcome: TransferOutcome) -> TransferResult {
    TransferResult { session, len: 48_213, outcome, started_ms: 1_000, finished_ms: 3_250, retransmissions: 17 }
}

pub fn stored_image(sequence: u32) -> StoredImage {
    let mut sha256 = [0u8; 32];
    for (i, byte) in sha256.iter_mut().enumerate() {
        *byte = i as u8 * 8;
    }
    StoredImage { sequence, source: SENDER, len: 48_213, sha256 }
}

pub fn telemetry() -> BoardTelemetry {
    BoardTelemetry {
        uptime_ms: 86_400_000,
        free_heap: 123_456,
        temperature_centi: Some(-1_250),
        frames_sent: 2_000,
        frames_received: 1_990,
        receive_dropped: 3,
        send_failed: 12,
    }
}

/// Every board message variant, named, in declaration order.
pub fn board_messages() -> Vec<(&'static str, BoardMessage<'static>)> {
    vec![
        ("Ready", BoardMessage::Ready(ready())),
        ("Ack", BoardMessage::Ack),
        ("Error", BoardMessage::Error(ConsoleError::CrcMismatch)),
        (
            "Results",
            BoardMessage::Results {
                transfers: heapless::Vec::from_slice(&[
                    transfer(1, TransferOutcome::Stored),
                    transfer(2, TransferOutcome::TimedOut),
                ])
                .unwrap(),
            },
        ),
        ("Images", BoardMessage::Images { images: heapless::Vec::from_slice(&[stored_image(7)]).unwrap() }),
        ("ImageData", BoardMessage::ImageData { sequence: 7, offset: 512, data: &[0xFF, 0xD9] }),
        ("Telemetry", BoardMessage::Telemetry(telemetry())),
        ("Transmit", BoardMessage::Transmit { handle: 300, destination: RECEIVER, data: &[0x4E, 0x43, 0x02] }),
        ("Log", BoardMessage::Log("receiver: stored image 7")),
    ]
}

/// `bytes` as lower-case hex pairs separated by spaces.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect::<Vec<_>>().join(" ")
}

/// COBS as the textbook gives it, written apart from the crate's decoder.
pub fn cobs_encode(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0];
    let mut code_at = 0;
    for &byte in data {
        if byte == 0 {
            out[code_at] = (out.len() - code_at) as u8;
            code_at = out.len();
            out.push(0);
        } else {
            out.push(byte);
            if out.len() - code_at == 0xFF {
                out[code_at] = 0xFF;
                code_at = out.len();
                out.push(0);
            }
        }
    }
    out[code_at] = (out.len() - code_at) as u8;
    out
}

/// The bytes between the delimiters for a payload: COBS(payload ++ CRC-32 little-endian).
pub fn frame_of(payload: &[u8]) -> Vec<u8> {
    let crc = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC).checksum(payload);
    let mut data = payload.to_vec();
    data.extend_from_slice(&crc.to_le_bytes());
    cobs_encode(&data)
}

/// The full wire form of a payload, delimiters included.
pub fn wire_of(payload: &[u8]) -> Vec<u8> {
    let mut wire = vec![0];
    wire.extend(frame_of(payload));
    wire.push(0);
    wire
}

pub fn encode_host(id: u16, message: &HostMessage) -> Vec<u8> {
    let mut out = [0u8; MAX_ENCODED_LEN];
    let len = nowcam_console::encode_host(id, message, &mut out).expect("the message encodes");
    out[..len].to_vec()
}

pub fn encode_board(id: u16, message: &BoardMessage) -> Vec<u8> {
    let mut out = [0u8; MAX_ENCODED_LEN];
    let len = nowcam_console::encode_board(id, message, &mut out).expect("the message encodes");
    out[..len].to_vec()
}

/// The bytes between the delimiters of an encoded message.
pub fn inner(wire: &[u8]) -> Vec<u8> {
    assert_eq!((wire[0], wire[wire.len() - 1]), (0, 0), "a message starts and ends with a delimiter");
    wire[1..wire.len() - 1].to_vec()
}
