//! A socket wrapper that answers an oversized request with `431 Request
//! Header Fields Too Large`.
//!
//! picoserve reads the request line and headers into one buffer; when they
//! do not fit it reads into the empty rest of the buffer, gets 0 bytes and
//! answers 400 "Unexpected EOF" (or, on the chip, the client sees the
//! connection drop). This wrapper notices that empty read, fails it, and
//! when picoserve then aborts the connection writes the 431 response before
//! closing it.

use core::cell::Cell;

use picoserve::io::{BaseWrite, Error, ErrorKind, ErrorType, Read, Socket, Write};
use picoserve::mem::BorrowedCursor;
use picoserve::routing::PathRouter;
use picoserve::time::Timer;
use picoserve::{Config, Router, Timeouts};

/// The response to a request whose line and headers overflow the buffer.
pub const HEADERS_TOO_LARGE: &[u8] = b"HTTP/1.1 431 Request Header Fields Too Large\r\n\
Content-Type: text/plain; charset=utf-8\r\nContent-Length: 65\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n\
the request line and headers are larger than this server accepts\n";

/// Serves one connection: picoserve over a [`GuardedSocket`].
pub async fn serve<Runtime, T: Timer<Runtime>, P: PathRouter, S: Socket<Runtime>>(
    router: &Router<P>,
    timer: T,
    config: &Config,
    buffer: &mut [u8],
    socket: S,
) {
    let server = picoserve::Server::custom(router, timer, config, buffer);
    // Errors end this connection only (a reset, a timeout); the caller accepts the next.
    let _ = server.serve(GuardedSocket::new(socket)).await;
}

/// See the module documentation.
pub struct GuardedSocket<S> {
    inner: S,
    oversized: Cell<bool>,
}

impl<S> GuardedSocket<S> {
    pub fn new(inner: S) -> Self {
        GuardedSocket { inner, oversized: Cell::new(false) }
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
    oversized: &'a Cell<bool>,
}

impl<R: Read> ErrorType for GuardedRead<'_, R> {
    type Error = GuardError<R::Error>;
}

impl<R: Read> Read for GuardedRead<'_, R> {
    async fn read(&mut self, buffer: &mut [u8]) -> Result<usize, Self::Error> {
        if buffer.is_empty() {
            // Only picoserve's request reader asks with no room left.
            self.oversized.set(true);
            return Err(GuardError::HeadersTooLarge);
        }
        self.inner.read(buffer).await.map_err(GuardError::Io)
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

impl<Runtime, S: Socket<Runtime>> Socket<Runtime> for GuardedSocket<S> {
    type Error = GuardError<S::Error>;
    type ReadHalf<'a>
        = GuardedRead<'a, S::ReadHalf<'a>>
    where
        S: 'a;
    type WriteHalf<'a>
        = GuardedWrite<S::WriteHalf<'a>>
    where
        S: 'a;

    fn split(&mut self) -> (Self::ReadHalf<'_>, Self::WriteHalf<'_>) {
        let GuardedSocket { inner, oversized } = self;
        let (read, write) = inner.split();
        (GuardedRead { inner: read, oversized }, GuardedWrite { inner: write })
    }

    async fn abort<T: Timer<Runtime>>(
        mut self,
        timeouts: &Timeouts,
        timer: &T,
    ) -> Result<(), picoserve::Error<Self::Error>> {
        if !self.oversized.get() {
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
