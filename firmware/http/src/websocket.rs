//! `GET /ws`: a WebSocket that pushes each new image as one binary message
//! (announced by a JSON text message with its id and camera) and the
//! receiver's status as JSON text when telemetry or an image arrives, at
//! most once a second.
//!
//! picoserve's own WebSocket sends a binary message only from one slice in
//! memory; an image on the chip lives in flash and may be larger than all
//! its free RAM. So the upgrade is answered here and each image goes out as
//! one frame whose header carries the image length, its payload streamed
//! from the store in pieces. picoserve reads the client's frames and drops
//! them; the socket wrapper parses them on the way ([`SocketLink`]), and the
//! feed answers a ping with a pong and a close with a close, between two of
//! its own messages (an image frame in flight is finished first: control
//! frames may not split a frame). After the close reply the response ends
//! and picoserve closes the connection.

use core::fmt::{self, Display, Formatter};

use embassy_futures::select::{select, Either};
use embassy_sync::blocking_mutex::raw::RawMutex;
use nowcam_ports::{Duration, Instant};
use picoserve::io::Write;
use picoserve::request::RequestParts;
use picoserve::response::custom::{CustomBody, CustomResponse};
use picoserve::response::{IntoResponse, StatusCode};

use crate::handlers::{Failure, StoredImage};
use crate::socket::{SocketLink, OPCODE_CLOSE};
use crate::status::StatusSnapshot;
use crate::{Api, Clock, ReceiverAccess};

/// The WebSocket handshake's constant (RFC 6455, section 1.3).
const GUID: &[u8] = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// Status messages are sent at most this often.
const STATUS_INTERVAL: Duration = Duration::from_secs(1);

/// A valid WebSocket upgrade request: the `Sec-WebSocket-Accept` it earns.
pub struct Upgrade {
    accept: [u8; 28],
}

impl Upgrade {
    /// The upgrade a request asks for; `None` when it is no WebSocket handshake.
    pub fn from_parts(parts: &RequestParts<'_>) -> Option<Self> {
        let headers = parts.headers();
        let upgrade = headers.get("upgrade").is_some_and(|value| {
            value.as_str().is_ok_and(|value| value.split(',').any(|v| v.trim().eq_ignore_ascii_case("websocket")))
        });
        let key = headers.get("sec-websocket-key").and_then(|key| key.as_str().ok()).map(str::trim);
        match (upgrade, key) {
            (true, Some(key)) if !key.is_empty() && key.len() <= 64 => Some(Upgrade { accept: accept_key(key) }),
            _ => None,
        }
    }
}

/// The answer to a `GET /ws` that is no WebSocket handshake.
pub fn not_an_upgrade() -> Failure {
    Failure::new(
        StatusCode::BAD_REQUEST,
        format_args!("GET /ws is a WebSocket: send Upgrade: websocket and a Sec-WebSocket-Key"),
    )
}

/// base64(SHA-1(key ++ GUID)).
fn accept_key(key: &str) -> [u8; 28] {
    let mut input = [0u8; 64 + GUID.len()];
    input[..key.len()].copy_from_slice(key.as_bytes());
    input[key.len()..key.len() + GUID.len()].copy_from_slice(GUID);
    let digest = sha1(&input[..key.len() + GUID.len()]);
    base64_20(&digest)
}

/// SHA-1 (FIPS 180-4) of a short message, written as a loop: the handshake
/// hashes 60 bytes once per connection, so size matters more than speed.
fn sha1(message: &[u8]) -> [u8; 20] {
    let mut state: [u32; 5] = [0x6745_2301, 0xefcd_ab89, 0x98ba_dcfe, 0x1032_5476, 0xc3d2_e1f0];
    let bit_len = (message.len() as u64) * 8;
    let blocks = (message.len() + 9).div_ceil(64);
    for block in 0..blocks {
        let mut w = [0u32; 80];
        for (index, word) in w.iter_mut().take(16).enumerate() {
            let mut bytes = [0u8; 4];
            for (offset, byte) in bytes.iter_mut().enumerate() {
                let at = block * 64 + index * 4 + offset;
                *byte = match at {
                    at if at < message.len() => message[at],
                    at if at == message.len() => 0x80,
                    at if at >= blocks * 64 - 8 => (bit_len >> (8 * (blocks * 64 - 1 - at))) as u8,
                    _ => 0,
                };
            }
            *word = u32::from_be_bytes(bytes);
        }
        for t in 16..80 {
            w[t] = (w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16]).rotate_left(1);
        }
        let [mut a, mut b, mut c, mut d, mut e] = state;
        for (t, word) in w.iter().enumerate() {
            let (f, k) = match t {
                0..=19 => ((b & c) | (!b & d), 0x5a82_7999),
                20..=39 => (b ^ c ^ d, 0x6ed9_eba1),
                40..=59 => ((b & c) | (b & d) | (c & d), 0x8f1b_bcdc),
                _ => (b ^ c ^ d, 0xca62_c1d6),
            };
            let next = a.rotate_left(5).wrapping_add(f).wrapping_add(e).wrapping_add(k).wrapping_add(*word);
            e = d;
            d = c;
            c = b.rotate_left(30);
            b = a;
            a = next;
        }
        for (value, add) in state.iter_mut().zip([a, b, c, d, e]) {
            *value = value.wrapping_add(add);
        }
    }
    let mut digest = [0u8; 20];
    for (chunk, value) in digest.chunks_mut(4).zip(state) {
        chunk.copy_from_slice(&value.to_be_bytes());
    }
    digest
}

/// Standard base64 of 20 bytes, with its one padding character.
fn base64_20(bytes: &[u8; 20]) -> [u8; 28] {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = [b'='; 28];
    for (index, group) in bytes.chunks(3).enumerate() {
        let b = [group[0], *group.get(1).unwrap_or(&0), *group.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let symbols = group.len() + 1;
        for position in 0..symbols {
            out[index * 4 + position] = ALPHABET[((n >> (18 - 6 * position)) & 0x3f) as usize];
        }
    }
    out
}

struct AcceptValue([u8; 28]);

impl Display for AcceptValue {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        // Base64 is ASCII.
        f.write_str(core::str::from_utf8(&self.0).map_err(|_| fmt::Error)?)
    }
}

pub async fn upgrade<'a, M: RawMutex, N: ReceiverAccess, C: Clock>(
    api: &'a Api<'a, M, N, C>,
    upgrade: Upgrade,
    link: &'a SocketLink,
) -> impl IntoResponse + 'a {
    CustomResponse::build(StatusCode::SWITCHING_PROTOCOLS)
        .with_header("Upgrade", "websocket")
        .with_header("Connection", "Upgrade")
        .with_header("Sec-WebSocket-Accept", AcceptValue(upgrade.accept))
        .with_body(Feed { api, link })
}

struct Feed<'a, M: RawMutex, N, C> {
    api: &'a Api<'a, M, N, C>,
    link: &'a SocketLink,
}

/// Writes a frame header: final frame, `opcode`, server frames unmasked.
async fn frame_header<W: Write>(writer: &mut W, opcode: u8, len: usize) -> Result<(), W::Error> {
    let first = 0x80 | opcode;
    if len < 126 {
        writer.write_all(&[first, len as u8]).await
    } else if let Ok(len) = u16::try_from(len) {
        let [high, low] = len.to_be_bytes();
        writer.write_all(&[first, 126, high, low]).await
    } else {
        writer.write_all(&[first, 127]).await?;
        writer.write_all(&(len as u64).to_be_bytes()).await
    }
}

/// One text message from a `Display` value (formatted twice: to measure, to send).
async fn text<W: Write>(writer: &mut W, value: impl Display) -> Result<(), W::Error> {
    let mut counter = Counter(0);
    let _ = fmt::write(&mut counter, format_args!("{value}"));
    frame_header(writer, 1, counter.0).await?;
    writer.write_fmt(format_args!("{value}")).await
}

struct Counter(usize);

impl fmt::Write for Counter {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0 += s.len();
        Ok(())
    }
}

struct ImageAnnouncement {
    id: u32,
    camera: Option<nowcam_ports::MacAddress>,
    size: u32,
}

impl Display for ImageAnnouncement {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{{\"type\":\"image\",\"id\":{},\"size\":{},\"camera\":", self.id, self.size)?;
        match self.camera {
            Some(camera) => write!(f, "\"{camera}\"}}"),
            None => f.write_str("null}"),
        }
    }
}

struct StatusMessage(StatusSnapshot);

impl Display for StatusMessage {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{{\"type\":\"status\",\"status\":{}}}", self.0)
    }
}

impl<M: RawMutex, N: ReceiverAccess, C: Clock> CustomBody for Feed<'_, M, N, C> {
    async fn write_response_body<W: Write>(self, mut writer: W) -> Result<(), W::Error> {
        let api = self.api;
        self.link.start_websocket();
        let mut sent_image = None;
        let mut sent_status: Option<Instant> = None;
        let mut telemetry_seen = None;
        let mut seen = api.journal.generation();
        loop {
            let newest = api.node.lock().await.newest_image();
            if let Some(info) = newest.filter(|info| Some(info.sequence) != sent_image) {
                let camera = api.journal.image(info.sequence).map(|record| record.source);
                text(&mut writer, ImageAnnouncement { id: info.sequence, camera, size: info.len }).await?;
                frame_header(&mut writer, 2, info.len as usize).await?;
                let whole = StoredImage { api, info }.write_bytes(&mut writer).await?;
                if !whole {
                    // The frame announced the whole image: what came next
                    // would be read as its bytes. End the connection instead.
                    return Ok(());
                }
                sent_image = Some(info.sequence);
            }
            let now = api.clock.now();
            let telemetry = api.journal.counters().telemetry_frames;
            let due = sent_status.is_none_or(|at| now.saturating_since(at) >= STATUS_INTERVAL);
            if due && telemetry_seen != Some((telemetry, sent_image)) {
                text(&mut writer, StatusMessage(StatusSnapshot::take(api).await)).await?;
                sent_status = Some(now);
                telemetry_seen = Some((telemetry, sent_image));
            }
            writer.flush().await?;
            match select(api.journal.changed(seen), self.link.control_reply()).await {
                Either::First(generation) => seen = generation,
                Either::Second(reply) => {
                    frame_header(&mut writer, reply.opcode, reply.payload().len()).await?;
                    writer.write_all(reply.payload()).await?;
                    writer.flush().await?;
                    if reply.opcode == OPCODE_CLOSE {
                        return Ok(());
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::format;
    use std::string::String;

    use super::accept_key;

    #[test]
    fn sha1_of_known_messages() {
        // FIPS 180 examples: one block, and two blocks.
        let hex = |digest: [u8; 20]| digest.iter().fold(String::new(), |text, b| text + &format!("{b:02x}"));
        assert_eq!(hex(super::sha1(b"abc")), "a9993e364706816aba3e25717850c26c9cd0d89d");
        assert_eq!(
            hex(super::sha1(b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")),
            "84983e441c3bd26ebaae4aa1f95129e5e54670f1"
        );
        assert_eq!(hex(super::sha1(b"")), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    }

    #[test]
    fn accept_key_of_rfc_6455_example() {
        assert_eq!(&accept_key("dGhlIHNhbXBsZSBub25jZQ=="), b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    }
}
