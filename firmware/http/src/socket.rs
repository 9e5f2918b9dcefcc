//! A socket wrapper that answers an oversized request with `431 Request
//! Header Fields Too Large`, and reads a WebSocket client's frames.
//!
//! picoserve reads the request line and headers into one buffer; when they
//! do not fit it reads into the empty rest of the buffer, gets 0 bytes and
//! answers 400 "Unexpected EOF" (or, on the chip, the client sees the
//! connection drop). This wrapper notices that empty read, fails it, and
//! when picoserve then aborts the connection writes the 431 response before
//! closing it.
//!
//! While `GET /ws` streams, picoserve reads what the client sends and drops
//! it (the body never sees the socket's reader). The wrapper parses those
//! bytes as WebSocket frames on their way through and leaves the reply a
//! close or a ping asks for in the connection's [`SocketLink`], where the
//! WebSocket body picks it up between two of its own messages.

use core::cell::Cell;
use core::task::{Poll, Waker};

use embassy_sync::blocking_mutex::raw::RawMutex;

use picoserve::io::{BaseWrite, Error, ErrorKind, ErrorType, Read, Socket, Write};
use picoserve::mem::BorrowedCursor;
use picoserve::time::Timer;
use picoserve::{Config, Router, Timeouts};

use crate::routes::Routes;
use crate::{Api, Clock, Port, ReceiverAccess};

/// The response to a request whose line and headers overflow the buffer.
pub const HEADERS_TOO_LARGE: &[u8] = b"HTTP/1.1 431 Request Header Fields Too Large\r\n\
Content-Type: text/plain; charset=utf-8\r\nContent-Length: 65\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n\
the request line and headers are larger than this server accepts\n";

/// Serves one connection on `port`: the API's routes, picoserve over a [`GuardedSocket`].
#[allow(clippy::too_many_arguments, reason = "one call site per runtime, each naming every part")]
pub async fn serve<M: RawMutex, N: ReceiverAccess, C: Clock, Runtime, T: Timer<Runtime>, S: Socket<Runtime>>(
    api: &Api<'_, M, N, C>,
    port: Port,
    timer: T,
    config: &Config,
    buffer: &mut [u8],
    socket: S,
) {
    let link = SocketLink::new();
    let router = Router::from_service(Routes { api, port, link: &link });
    let server = picoserve::Server::custom(&router, timer, config, buffer);
    // Errors end this connection only (a reset, a timeout); the caller accepts the next.
    let _ = server.serve(GuardedSocket::new(socket, &link)).await;
}

/// The longest payload of a WebSocket control frame (RFC 6455, section 5.5).
pub const CONTROL_PAYLOAD: usize = 125;

/// What one connection's socket wrapper and its handlers share.
pub struct SocketLink {
    oversized: Cell<bool>,
    /// Set by the WebSocket body once it streams: from then on, bytes from
    /// the client are WebSocket frames.
    websocket: Cell<bool>,
    incoming: Cell<IncomingFrame>,
    reply: Cell<Option<ControlReply>>,
    waker: Cell<Option<Waker>>,
}

impl SocketLink {
    pub fn new() -> Self {
        SocketLink {
            oversized: Cell::new(false),
            websocket: Cell::new(false),
            incoming: Cell::new(IncomingFrame::default()),
            reply: Cell::new(None),
            waker: Cell::new(None),
        }
    }

    /// Called by the WebSocket body when the upgrade has been answered.
    pub fn start_websocket(&self) {
        self.websocket.set(true);
    }

    /// Waits for a control frame the client asked for: the close reply, or a pong.
    pub async fn control_reply(&self) -> ControlReply {
        core::future::poll_fn(|context| match self.reply.take() {
            Some(reply) => Poll::Ready(reply),
            None => {
                self.waker.set(Some(context.waker().clone()));
                Poll::Pending
            }
        })
        .await
    }

    /// Parses bytes the client sent after the upgrade.
    fn client_bytes(&self, bytes: &[u8]) {
        let mut incoming = self.incoming.get();
        for &byte in bytes {
            if let Some(reply) = incoming.push(byte) {
                // A close answers everything: a pong still waiting is dropped for it.
                let closing = matches!(self.reply.get(), Some(ControlReply { opcode: OPCODE_CLOSE, .. }));
                if !closing {
                    self.reply.set(Some(reply));
                }
                if let Some(waker) = self.waker.take() {
                    waker.wake();
                }
            }
        }
        self.incoming.set(incoming);
    }
}

impl Default for SocketLink {
    fn default() -> Self {
        SocketLink::new()
    }
}

/// The close frame's opcode.
pub const OPCODE_CLOSE: u8 = 0x8;
const OPCODE_PING: u8 = 0x9;
/// The pong frame's opcode.
pub const OPCODE_PONG: u8 = 0xa;

/// A control frame the server owes the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ControlReply {
    pub opcode: u8,
    len: u8,
    payload: [u8; CONTROL_PAYLOAD],
}

impl ControlReply {
    pub fn payload(&self) -> &[u8] {
        &self.payload[..usize::from(self.len)]
    }
}

/// A client frame being read, one byte at a time (control traffic is small).
#[derive(Debug, Clone, Copy)]
struct IncomingFrame {
    header: [u8; 14],
    header_len: u8,
    /// Payload bytes of the frame read so far, and its length.
    position: u64,
    len: u64,
    payload: [u8; CONTROL_PAYLOAD],
    /// After a close, nothing more the client sends counts.
    closed: bool,
}

impl Default for IncomingFrame {
    fn default() -> Self {
        IncomingFrame {
            header: [0; 14],
            header_len: 0,
            position: 0,
            len: 0,
            payload: [0; CONTROL_PAYLOAD],
            closed: false,
        }
    }
}

impl IncomingFrame {
    /// The header's length once its first two bytes are in: 2, the extended
    /// length (0, 2 or 8 bytes) and the mask (4 bytes when masked).
    fn header_needed(&self) -> usize {
        let extended = match self.header[1] & 0x7f {
            126 => 2,
            127 => 8,
            _ => 0,
        };
        let mask = if self.header[1] & 0x80 != 0 { 4 } else { 0 };
        2 + extended + mask
    }

    fn push(&mut self, byte: u8) -> Option<ControlReply> {
        if self.closed {
            return None;
        }
        let header_len = usize::from(self.header_len);
        if header_len < 2 || header_len < self.header_needed() {
            self.header[header_len] = byte;
            self.header_len += 1;
            if usize::from(self.header_len) < 2 || usize::from(self.header_len) < self.header_needed() {
                return None;
            }
            self.len = match self.header[1] & 0x7f {
                126 => u64::from(u16::from_be_bytes([self.header[2], self.header[3]])),
                127 => u64::from_be_bytes([
                    self.header[2],
                    self.header[3],
                    self.header[4],
                    self.header[5],
                    self.header[6],
                    self.header[7],
                    self.header[8],
                    self.header[9],
                ]),
                len => u64::from(len),
            };
            self.position = 0;
            return if self.len == 0 { self.finish() } else { None };
        }
        let mask = if self.header[1] & 0x80 != 0 {
            let at = self.header_needed() - 4;
            self.header[at + (self.position % 4) as usize]
        } else {
            0
        };
        if let Some(slot) = usize::try_from(self.position).ok().and_then(|at| self.payload.get_mut(at)) {
            *slot = byte ^ mask;
        }
        self.position += 1;
        if self.position == self.len {
            self.finish()
        } else {
            None
        }
    }

    /// A whole frame is in: what it asks of the server, and a fresh header.
    fn finish(&mut self) -> Option<ControlReply> {
        let opcode = self.header[0] & 0x0f;
        let len = self.len.min(CONTROL_PAYLOAD as u64) as u8;
        self.header_len = 0;
        self.header[1] = 0;
        let mut reply = ControlReply { opcode, len, payload: self.payload };
        match opcode {
            OPCODE_CLOSE => {
                self.closed = true;
                // The reply echoes the client's status code and no reason
                // (RFC 6455, section 5.5.1); a one-byte body has no code.
                reply.len = if reply.len >= 2 { 2 } else { 0 };
                Some(reply)
            }
            OPCODE_PING => {
                reply.opcode = OPCODE_PONG;
                Some(reply)
            }
            // Data from the client and its pongs ask for nothing.
            _ => None,
        }
    }
}

/// See the module documentation.
pub struct GuardedSocket<'l, S> {
    inner: S,
    link: &'l SocketLink,
}

impl<'l, S> GuardedSocket<'l, S> {
    pub fn new(inner: S, link: &'l SocketLink) -> Self {
        GuardedSocket { inner, link }
    }
}

/// An error of the wrapped socket, or the request overflowing the buffer.
#[derive(Debug)]
pub enum GuardError<E> {
    Io(E),
    HeadersTooLarge,
}

impl<E: core::fmt::Display> core::fmt::Display for GuardError<E> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            GuardError::Io(error) => error.fmt(f),
            GuardError::HeadersTooLarge => f.write_str("the request line and headers overflow the buffer"),
        }
    }
}

impl<E: core::fmt::Debug + core::fmt::Display> core::error::Error for GuardError<E> {}

impl<E: Error> Error for GuardError<E> {
    fn kind(&self) -> ErrorKind {
        match self {
            GuardError::Io(error) => error.kind(),
            GuardError::HeadersTooLarge => ErrorKind::OutOfMemory,
        }
    }
}

pub struct GuardedRead<'a, R> {
    inner: R,
    link: &'a SocketLink,
}

impl<R: Read> ErrorType for GuardedRead<'_, R> {
    type Error = GuardError<R::Error>;
}

impl<R: Read> Read for GuardedRead<'_, R> {
    async fn read(&mut self, buffer: &mut [u8]) -> Result<usize, Self::Error> {
        if buffer.is_empty() {
            // Only picoserve's request reader asks with no room left.
            self.link.oversized.set(true);
            return Err(GuardError::HeadersTooLarge);
        }
        let read = self.inner.read(buffer).await.map_err(GuardError::Io)?;
        if self.link.websocket.get() {
            self.link.client_bytes(&buffer[..read]);
        }
        Ok(read)
    }
}

pub struct GuardedWrite<W> {
    inner: W,
}

impl<W: Write> ErrorType for GuardedWrite<W> {
    type Error = GuardError<W::Error>;
}

impl<W: Write> BaseWrite for GuardedWrite<W> {
    async fn write(&mut self, buffer: &[u8]) -> Result<usize, Self::Error> {
        self.inner.write(buffer).await.map_err(GuardError::Io)
    }

    async fn flush(&mut self) -> Result<(), Self::Error> {
        self.inner.flush().await.map_err(GuardError::Io)
    }
}

impl<W: Write> Write for GuardedWrite<W> {
    async fn write_with<F: FnOnce(BorrowedCursor<'_>) -> R, R>(&mut self, f: F) -> Result<R, Self::Error> {
        self.inner.write_with(f).await.map_err(GuardError::Io)
    }
}

fn wrap_error<E>(error: picoserve::Error<E>) -> picoserve::Error<GuardError<E>>
where
    E: picoserve::io::Error,
{
    match error {
        picoserve::Error::BadRequest => picoserve::Error::BadRequest,
        picoserve::Error::Read(error) => picoserve::Error::Read(GuardError::Io(error)),
        picoserve::Error::ReadTimeout(error) => picoserve::Error::ReadTimeout(error),
        picoserve::Error::Write(error) => picoserve::Error::Write(GuardError::Io(error)),
        picoserve::Error::WriteTimeout(error) => picoserve::Error::WriteTimeout(error),
    }
}

impl<'l, Runtime, S: Socket<Runtime>> Socket<Runtime> for GuardedSocket<'l, S> {
    type Error = GuardError<S::Error>;
    type ReadHalf<'a>
        = GuardedRead<'a, S::ReadHalf<'a>>
    where
        Self: 'a;
    type WriteHalf<'a>
        = GuardedWrite<S::WriteHalf<'a>>
    where
        Self: 'a;

    fn split(&mut self) -> (Self::ReadHalf<'_>, Self::WriteHalf<'_>) {
        let GuardedSocket { inner, link } = self;
        let (read, write) = inner.split();
        (GuardedRead { inner: read, link }, GuardedWrite { inner: write })
    }

    async fn abort<T: Timer<Runtime>>(
        mut self,
        timeouts: &Timeouts,
        timer: &T,
    ) -> Result<(), picoserve::Error<Self::Error>> {
        if !self.link.oversized.get() {
            return self.inner.abort(timeouts, timer).await.map_err(wrap_error);
        }
        {
            let (_, mut writer) = self.inner.split();
            let written = timer
                .run_with_timeout(timeouts.write, async {
                    writer.write_all(HEADERS_TOO_LARGE).await?;
                    writer.flush().await
                })
                .await;
            match written {
                Ok(Ok(())) => {}
                Ok(Err(error)) => return Err(picoserve::Error::Write(GuardError::Io(error))),
                Err(timeout) => return Err(picoserve::Error::WriteTimeout(timeout)),
            }
        }
        self.inner.shutdown(timeouts, timer).await.map_err(wrap_error)
    }

    async fn shutdown<T: Timer<Runtime>>(
        self,
        timeouts: &Timeouts,
        timer: &T,
    ) -> Result<(), picoserve::Error<Self::Error>> {
        self.inner.shutdown(timeouts, timer).await.map_err(wrap_error)
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::vec::Vec;

    use proptest::prelude::*;

    use super::{ControlReply, SocketLink, OPCODE_CLOSE, OPCODE_PONG};

    /// A masked client frame: FIN, `opcode`, `payload` (length forms by size).
    fn frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
        let mask = [1, 2, 3, 4];
        let mut bytes = std::vec![0x80 | opcode];
        match payload.len() {
            len if len < 126 => bytes.push(0x80 | len as u8),
            len if len <= 0xffff => {
                bytes.push(0x80 | 126);
                bytes.extend_from_slice(&(len as u16).to_be_bytes());
            }
            len => {
                bytes.push(0x80 | 127);
                bytes.extend_from_slice(&(len as u64).to_be_bytes());
            }
        }
        bytes.extend_from_slice(&mask);
        bytes.extend(payload.iter().enumerate().map(|(at, byte)| byte ^ mask[at % 4]));
        bytes
    }

    /// Feeds `bytes` to a link in reads of `read` bytes; the reply it holds then.
    fn check(bytes: &[u8], read: usize) -> Option<(u8, Vec<u8>)> {
        let link = SocketLink::new();
        for piece in bytes.chunks(read) {
            link.client_bytes(piece);
        }
        link.reply.take().map(|reply: ControlReply| (reply.opcode, reply.payload().to_vec()))
    }

    #[test]
    fn a_ping_asks_for_a_pong_with_its_payload_in_any_pieces() {
        for read in [1, 3, 1000] {
            assert_eq!(check(&frame(0x9, b"hello"), read), Some((OPCODE_PONG, b"hello".to_vec())), "reads of {read}");
        }
    }

    #[test]
    fn a_close_asks_for_a_close_echoing_only_the_status_code() {
        assert_eq!(check(&frame(0x8, b"\x03\xe8bye"), 2), Some((OPCODE_CLOSE, std::vec![0x03, 0xe8])));
        assert_eq!(check(&frame(0x8, b""), 1), Some((OPCODE_CLOSE, std::vec![])));
        assert_eq!(check(&frame(0x8, b"\x03"), 1), Some((OPCODE_CLOSE, std::vec![])));
    }

    #[test]
    fn data_frames_of_every_length_form_ask_for_nothing_and_keep_the_framing() {
        for len in [0, 125, 126, 70_000] {
            let mut bytes = frame(0x2, &std::vec![0xaa; len]);
            bytes.extend(frame(0x9, b"after"));
            assert_eq!(check(&bytes, 7), Some((OPCODE_PONG, b"after".to_vec())), "after {len} bytes of data");
        }
    }

    #[test]
    fn after_a_close_nothing_else_counts_and_a_pending_pong_gives_way() {
        let mut bytes = frame(0x9, b"ping");
        bytes.extend(frame(0x8, b"\x03\xe8"));
        bytes.extend(frame(0x9, b"late"));
        assert_eq!(check(&bytes, 5), Some((OPCODE_CLOSE, std::vec![0x03, 0xe8])));
    }

    proptest! {
        /// Any bytes from a client, in reads of any size: never a panic,
        /// and the same reply whatever the reads' sizes.
        #[test]
        fn arbitrary_client_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600), read in 1usize..64) {
            prop_assert_eq!(check(&bytes, read), check(&bytes, bytes.len().max(1)));
        }
    }
}
