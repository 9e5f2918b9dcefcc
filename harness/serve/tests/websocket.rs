//! `GET /ws` against `nowcam serve` on 127.0.0.1, with a WebSocket client
//! written here (RFC 6455 framing over a plain `TcpStream`): the server
//! answers a ping with a pong and a close frame with a close frame, then
//! closes the connection, while images keep streaming.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Instant;

use common::{Server, WAIT};

/// The client's masking key; any four bytes do.
const MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// Opcodes (RFC 6455, section 5.2).
const BINARY: u8 = 0x2;
const CLOSE: u8 = 0x8;
const PING: u8 = 0x9;
const PONG: u8 = 0xa;

/// Opens `/ws` and checks the handshake's `101` and `Sec-WebSocket-Accept`.
fn open(server: &Server) -> TcpStream {
    let mut socket = TcpStream::connect(server.http).expect("the server accepts");
    socket.set_read_timeout(Some(WAIT)).expect("a read timeout");
    socket
        .write_all(
            b"GET /ws HTTP/1.1\r\nHost: nowcam\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        )
        .expect("the handshake is sent");
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        socket.read_exact(&mut byte).expect("the upgrade's response arrives");
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).expect("the response head is text");
    assert!(head.starts_with("HTTP/1.1 101"), "not switching protocols: {head}");
    assert!(head.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"), "wrong accept key: {head}");
    socket
}

/// Sends one masked frame, as a client must.
fn send(socket: &mut TcpStream, opcode: u8, payload: &[u8]) {
    assert!(payload.len() < 126, "control frames only here");
    let mut frame = vec![0x80 | opcode, 0x80 | payload.len() as u8];
    frame.extend_from_slice(&MASK);
    frame.extend(payload.iter().enumerate().map(|(at, byte)| byte ^ MASK[at % 4]));
    socket.write_all(&frame).expect("the frame is sent");
}

/// Reads one server frame: its first byte (FIN and opcode) and payload.
fn receive(socket: &mut TcpStream) -> (u8, Vec<u8>) {
    let mut start = [0u8; 2];
    socket.read_exact(&mut start).expect("a frame arrives");
    assert_eq!(start[1] & 0x80, 0, "server frames are not masked");
    let len = match start[1] & 0x7f {
        126 => {
            let mut bytes = [0u8; 2];
            socket.read_exact(&mut bytes).expect("the extended length");
            u64::from(u16::from_be_bytes(bytes))
        }
        127 => {
            let mut bytes = [0u8; 8];
            socket.read_exact(&mut bytes).expect("the extended length");
            u64::from_be_bytes(bytes)
        }
        len => u64::from(len),
    };
    let mut payload = vec![0u8; usize::try_from(len).expect("a frame that fits memory")];
    socket.read_exact(&mut payload).expect("the frame's payload");
    (start[0], payload)
}

/// Reads frames until one with `opcode`; returns its payload and how many
/// images came before it. Images keep coming, so the wait has a deadline
/// of its own besides each read's timeout.
fn receive_until(socket: &mut TcpStream, opcode: u8) -> (Vec<u8>, usize) {
    let deadline = Instant::now() + WAIT;
    let mut images = 0;
    loop {
        assert!(Instant::now() < deadline, "no frame with opcode {opcode:#x} within {WAIT:?}");
        let (first, payload) = receive(socket);
        assert_eq!(first & 0x80, 0x80, "every server frame is final");
        match first & 0x0f {
            found if found == opcode => return (payload, images),
            BINARY => {
                assert!(payload.starts_with(&[0xff, 0xd8]), "a binary message is a JPEG");
                images += 1;
            }
            CLOSE => panic!("the server closed before sending opcode {opcode:#x}"),
            _ => {}
        }
    }
}

#[test]
fn ping_gets_pong_and_close_gets_close_then_the_connection_ends() {
    let server = Server::start(1, 200);
    server.wait_for_image();
    let mut socket = open(&server);
    let (_, images) = receive_until(&mut socket, BINARY);
    assert_eq!(images, 0, "the first binary frame is the image itself");

    send(&mut socket, PING, b"are you there");
    let (pong, _) = receive_until(&mut socket, PONG);
    assert_eq!(pong, b"are you there", "the pong echoes the ping's payload");

    // 1000: normal closure, and a reason the reply need not repeat.
    send(&mut socket, CLOSE, b"\x03\xe8bye");
    let (close, _) = receive_until(&mut socket, CLOSE);
    assert_eq!(close, [0x03, 0xe8], "the close reply echoes the status code");
    let mut rest = Vec::new();
    let read = socket.read_to_end(&mut rest);
    assert!(matches!(read, Ok(0)), "the server closes the connection after its close frame: {read:?}, {rest:?}");
}
