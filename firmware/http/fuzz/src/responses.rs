//! Reads what the server wrote on one connection as HTTP/1.1 responses:
//! each a status line, headers and a body of its `Content-Length` (with
//! none, no body on a connection kept alive, else a body that runs to the
//! end: the MJPEG stream, checked part by part), or a `101` followed by
//! WebSocket frames. Image bodies must be the
//! stored image byte for byte.

use nowcam_http::BOUNDARY;

/// The stored images: sequence number and bytes.
pub type Images<'a> = &'a [(u32, Vec<u8>)];

/// Checks `output`; the error says what is wrong and where.
pub fn check(output: &[u8], images: Images<'_>) -> Result<(), String> {
    let mut rest = output;
    while !rest.is_empty() {
        let at = output.len() - rest.len();
        let response = Head::parse(rest).map_err(|error| format!("the response at byte {at}: {error}"))?;
        rest = &rest[response.len..];
        if response.status == 500 || !(100..=599).contains(&response.status) {
            return Err(format!("the response at byte {at} has status {}", response.status));
        }
        if response.status == 101 {
            return websocket(rest, images).map_err(|error| format!("the WebSocket after byte {at}: {error}"));
        }
        match response.content_length {
            Some(len) => {
                let body = rest.get(..len).ok_or_else(|| {
                    format!("the response at byte {at} announces {len} bytes of body and has {}", rest.len())
                })?;
                if response.content_type.as_deref() == Some("image/jpeg") {
                    same_image(body, response.image_id, images)
                        .map_err(|error| format!("the response at byte {at}: {error}"))?;
                }
                rest = &rest[len..];
            }
            None if response.content_type.as_deref().is_some_and(|kind| kind.starts_with("multipart/")) => {
                return mjpeg(rest, images).map_err(|error| format!("the stream after byte {at}: {error}"));
            }
            // Without a length, a response on a connection kept alive has
            // no body (the answer to HEAD); the next bytes are the next response.
            None if response.keep_alive => {}
            // Otherwise its body runs to the end of the connection.
            None => return Ok(()),
        }
    }
    Ok(())
}

/// A status line and headers.
struct Head {
    /// Bytes of the status line and headers, the blank line included.
    len: usize,
    status: u16,
    content_length: Option<usize>,
    content_type: Option<String>,
    /// `Connection: keep-alive`.
    keep_alive: bool,
    image_id: Option<u32>,
}

impl Head {
    fn parse(bytes: &[u8]) -> Result<Head, String> {
        let rest =
            bytes.strip_prefix(b"HTTP/1.1 ").ok_or_else(|| format!("no \"HTTP/1.1 \" in {:?}", preview(bytes)))?;
        let digits = rest.get(..3).filter(|digits| digits.iter().all(u8::is_ascii_digit));
        let digits = digits.ok_or_else(|| format!("no three-digit status in {:?}", preview(bytes)))?;
        let status = std::str::from_utf8(digits).map_err(|error| error.to_string())?.parse().map_err(|_| "status")?;
        let mut head = Head::fields(bytes)?;
        head.status = status;
        Ok(head)
    }

    /// Reads the lines of a head up to its blank line; the first is the
    /// status line (or a multipart part's boundary) and is skipped.
    fn fields(bytes: &[u8]) -> Result<Head, String> {
        let end = find(bytes, b"\r\n\r\n").ok_or_else(|| format!("headers without an end in {:?}", preview(bytes)))?;
        let text =
            std::str::from_utf8(&bytes[..end]).map_err(|_| format!("headers not UTF-8: {:?}", preview(bytes)))?;
        let mut head = Head {
            len: end + 4,
            status: 0,
            content_length: None,
            content_type: None,
            image_id: None,
            keep_alive: false,
        };
        for line in text.split("\r\n").skip(1) {
            let (name, value) =
                line.split_once(':').ok_or_else(|| format!("a header line without a colon: {line:?}"))?;
            let value = value.trim();
            match name.to_ascii_lowercase().as_str() {
                "content-length" => {
                    if head.content_length.is_some() {
                        return Err("two Content-Length headers".into());
                    }
                    head.content_length = Some(value.parse().map_err(|_| format!("Content-Length {value:?}"))?);
                }
                "content-type" => head.content_type = Some(value.to_owned()),
                "connection" => head.keep_alive |= value.eq_ignore_ascii_case("keep-alive"),
                "x-image-id" => head.image_id = Some(value.parse().map_err(|_| format!("X-Image-Id {value:?}"))?),
                _ => {}
            }
        }
        Ok(head)
    }
}

fn same_image(body: &[u8], id: Option<u32>, images: Images<'_>) -> Result<(), String> {
    let id = id.ok_or("an image without X-Image-Id")?;
    let (_, stored) = images.iter().find(|(sequence, _)| *sequence == id).ok_or(format!("image {id} is not stored"))?;
    if body != stored.as_slice() {
        return Err(format!("image {id} differs from the stored one ({} bytes, stored {})", body.len(), stored.len()));
    }
    Ok(())
}

/// MJPEG parts, each a whole stored image, to the end of the connection.
fn mjpeg(mut rest: &[u8], images: Images<'_>) -> Result<(), String> {
    let delimiter = format!("--{BOUNDARY}\r\n");
    while !rest.is_empty() {
        if !rest.starts_with(delimiter.as_bytes()) {
            return Err(format!("a part that does not start with the boundary: {:?}", preview(rest)));
        }
        let head = Head::fields(rest)?;
        rest = &rest[head.len..];
        let len = head.content_length.ok_or("a part without Content-Length")?;
        let body = rest.get(..len).ok_or_else(|| format!("a part of {len} bytes cut at {}", rest.len()))?;
        same_image(body, head.image_id, images)?;
        rest = rest[len..].strip_prefix(b"\r\n").ok_or("a part not followed by CRLF")?;
    }
    Ok(())
}

/// Server frames: final, unmasked, text (UTF-8), binary (a stored image),
/// close (last, empty or a status code) or pong.
fn websocket(mut rest: &[u8], images: Images<'_>) -> Result<(), String> {
    while !rest.is_empty() {
        let [first, second, ..] = *rest else { return Err("a frame cut inside its header".into()) };
        if first & 0xf0 != 0x80 || second & 0x80 != 0 {
            return Err(format!("a frame header {first:#04x} {second:#04x}: not final, reserved bits or masked"));
        }
        let (len, header): (Option<u64>, usize) = match second & 0x7f {
            126 => (rest.get(2..4).map(|b| u64::from(u16::from_be_bytes([b[0], b[1]]))), 4),
            127 => (rest.get(2..10).map(|b| u64::from_be_bytes(b.try_into().expect("eight bytes"))), 10),
            len => (Some(u64::from(len)), 2),
        };
        let len = len.ok_or("a frame cut inside its length")?;
        let payload = usize::try_from(len)
            .ok()
            .and_then(|len| rest.get(header..header.checked_add(len)?))
            .ok_or_else(|| format!("a frame of {len} bytes cut at {}", rest.len() - header))?;
        rest = &rest[header + payload.len()..];
        match first & 0x0f {
            0x1 => {
                std::str::from_utf8(payload).map_err(|_| "a text frame not UTF-8")?;
            }
            0x2 => {
                if !images.iter().any(|(_, image)| image.as_slice() == payload) {
                    return Err(format!("a binary frame of {} bytes that is no stored image", payload.len()));
                }
            }
            0x8 => {
                if !matches!(payload.len(), 0 | 2) {
                    return Err(format!("a close frame of {} bytes", payload.len()));
                }
                if !rest.is_empty() {
                    return Err(format!("{} bytes after the close frame", rest.len()));
                }
            }
            0xa if payload.len() <= 125 => {}
            opcode => return Err(format!("a frame with opcode {opcode:#x} of {} bytes", payload.len())),
        }
    }
    Ok(())
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|window| window == needle)
}

fn preview(bytes: &[u8]) -> String {
    String::from_utf8_lossy(&bytes[..bytes.len().min(80)]).into_owned()
}
