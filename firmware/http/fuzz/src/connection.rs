//! One connection in memory, in virtual time: a client socket whose reads
//! return the input and whose writes collect the output, a clock and timer
//! that move only when nothing else can happen, and the loop that polls the
//! connection's future to its end.
//!
//! Nothing here waits on the wall clock. When the future is pending and
//! nothing woke it, the loop makes the next thing happen, in this order:
//! the cameras answer the control requests sent so far, then the client
//! sends its next flight of bytes (see [`Shape::one_request_at_a_time`]),
//! then (in [`Closing::WhenQuiet`]) the client closes its side, then time
//! jumps to the earliest timer, then (in [`Closing::AfterTimers`]) the
//! client closes.
//! When none of those is left, the connection would wait forever: a hang.

use std::cell::{Cell, RefCell};
use std::convert::Infallible;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use nowcam_ports::Instant;
use picoserve::io::{BaseWrite, ErrorType, Read, Socket, Write};
use picoserve::mem::{BorrowedBuffer, BorrowedCursor};
use picoserve::time::{Duration, Timer};
use picoserve::Timeouts;

/// How often the connection's future may be polled before it counts as hung.
pub const POLLS: usize = 20_000;

/// When the client closes its side of the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Closing {
    /// As soon as the server has nothing left to do without a timer (a
    /// client that reads every answer, then hangs up).
    WhenQuiet,
    /// Only once no timer is left either (a client that keeps the connection
    /// open until the server's timeouts end it).
    AfterTimers,
}

/// How the client's bytes and the server's writes are cut up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    /// Bytes a read returns at most.
    pub read: usize,
    /// Bytes a write takes at most.
    pub write: usize,
    pub closing: Closing,
    /// Whether the client sends what follows each blank line (the end of a
    /// request's headers) only once the server is quiet, as a browser waits
    /// for each answer, and as a WebSocket client must wait for the `101`
    /// before it sends frames (RFC 6455, section 4.1). Otherwise it sends
    /// everything at once: pipelined requests.
    pub one_request_at_a_time: bool,
    /// Whether picoserve keeps the connection after a response (the chip
    /// and `nowcam serve` close it; keep-alive answers pipelined requests).
    pub keep_alive: bool,
    /// The port the connection came in on (on the stream port `/` is the MJPEG stream).
    pub port: nowcam_http::Port,
}

/// What the client and the clock share with the loop.
pub struct Virtual {
    now: Cell<u64>,
    timers: RefCell<Vec<(u64, Waker)>>,
    closed: Cell<bool>,
    reader: RefCell<Option<Waker>>,
    /// Bytes of the input the client has sent, and where its later flights end.
    sent: Cell<usize>,
    flights: RefCell<Vec<usize>>,
}

impl Virtual {
    pub fn new() -> Self {
        Virtual {
            now: Cell::new(0),
            timers: RefCell::new(Vec::new()),
            closed: Cell::new(false),
            reader: RefCell::new(None),
            sent: Cell::new(0),
            flights: RefCell::new(Vec::new()),
        }
    }

    pub fn now(&self) -> Instant {
        Instant::from_micros(self.now.get())
    }

    async fn sleep_until(&self, deadline: u64) {
        std::future::poll_fn(|context| {
            if self.now.get() >= deadline {
                return Poll::Ready(());
            }
            let mut timers = self.timers.borrow_mut();
            if !timers.iter().any(|(at, waker)| *at == deadline && waker.will_wake(context.waker())) {
                timers.push((deadline, context.waker().clone()));
            }
            Poll::Pending
        })
        .await
    }

    /// Moves time to the earliest timer and wakes what waits for it; false when no timer is set.
    fn advance(&self) -> bool {
        let mut timers = self.timers.borrow_mut();
        let Some(next) = timers.iter().map(|(at, _)| *at).min() else { return false };
        self.now.set(self.now.get().max(next));
        timers.retain(|(at, waker)| {
            if *at <= next {
                waker.wake_by_ref();
            }
            *at > next
        });
        true
    }

    /// The client sends its next flight; false when it has sent everything.
    fn send_next(&self) -> bool {
        let mut flights = self.flights.borrow_mut();
        if flights.is_empty() {
            return false;
        }
        self.sent.set(flights.remove(0));
        if let Some(reader) = self.reader.borrow_mut().take() {
            reader.wake();
        }
        true
    }

    /// The client closes its side; false when it already had.
    fn close(&self) -> bool {
        if self.closed.replace(true) {
            return false;
        }
        if let Some(reader) = self.reader.borrow_mut().take() {
            reader.wake();
        }
        true
    }
}

impl Default for Virtual {
    fn default() -> Self {
        Virtual::new()
    }
}

/// picoserve's runtime marker for this module's socket and timer.
pub struct VirtualRuntime;

/// The node's clock and picoserve's timer, both in virtual time.
#[derive(Clone, Copy)]
pub struct VirtualClock<'a>(pub &'a Virtual);

impl nowcam_http::Clock for VirtualClock<'_> {
    fn now(&self) -> Instant {
        self.0.now()
    }

    async fn sleep_until(&self, deadline: Instant) {
        self.0.sleep_until(deadline.as_micros()).await
    }
}

impl Timer<VirtualRuntime> for VirtualClock<'_> {
    fn delay(&self, duration: Duration) -> impl Future<Output = ()> {
        let deadline = self.0.now.get().saturating_add(duration.as_millis().saturating_mul(1000));
        self.0.sleep_until(deadline)
    }
}

/// The client's end of the connection.
pub struct MemorySocket<'a> {
    input: &'a [u8],
    /// Bytes of the input the server has read.
    position: usize,
    output: &'a RefCell<Vec<u8>>,
    shape: Shape,
    world: &'a Virtual,
}

impl<'a> MemorySocket<'a> {
    pub fn new(input: &'a [u8], output: &'a RefCell<Vec<u8>>, shape: Shape, world: &'a Virtual) -> Self {
        let mut flights: Vec<usize> = match shape.one_request_at_a_time {
            true => input.windows(4).enumerate().filter(|(_, w)| *w == b"\r\n\r\n").map(|(at, _)| at + 4).collect(),
            false => Vec::new(),
        };
        flights.push(input.len());
        world.sent.set(flights.remove(0));
        *world.flights.borrow_mut() = flights;
        MemorySocket { input, position: 0, output, shape, world }
    }
}

pub struct MemoryRead<'s, 'a> {
    input: &'a [u8],
    position: &'s mut usize,
    limit: usize,
    world: &'a Virtual,
}

impl ErrorType for MemoryRead<'_, '_> {
    type Error = Infallible;
}

impl Read for MemoryRead<'_, '_> {
    async fn read(&mut self, buffer: &mut [u8]) -> Result<usize, Infallible> {
        std::future::poll_fn(|context| {
            let available = self.world.sent.get() - *self.position;
            if buffer.is_empty() || (*self.position == self.input.len() && self.world.closed.get()) {
                return Poll::Ready(Ok(0));
            }
            if available == 0 {
                // The client waits for the answers before it sends more, or closes.
                *self.world.reader.borrow_mut() = Some(context.waker().clone());
                return Poll::Pending;
            }
            let count = available.min(buffer.len()).min(self.limit);
            buffer[..count].copy_from_slice(&self.input[*self.position..][..count]);
            *self.position += count;
            Poll::Ready(Ok(count))
        })
        .await
    }
}

pub struct MemoryWrite<'a> {
    output: &'a RefCell<Vec<u8>>,
    limit: usize,
}

impl ErrorType for MemoryWrite<'_> {
    type Error = Infallible;
}

impl BaseWrite for MemoryWrite<'_> {
    async fn write(&mut self, buffer: &[u8]) -> Result<usize, Infallible> {
        let count = buffer.len().min(self.limit);
        self.output.borrow_mut().extend_from_slice(&buffer[..count]);
        Ok(count)
    }

    async fn flush(&mut self) -> Result<(), Infallible> {
        Ok(())
    }
}

impl Write for MemoryWrite<'_> {
    async fn write_with<F: FnOnce(BorrowedCursor<'_>) -> R, R>(&mut self, f: F) -> Result<R, Infallible> {
        let mut space = vec![0; self.limit];
        let mut buffer = BorrowedBuffer::new(&mut space);
        let result = f(buffer.unfilled());
        self.output.borrow_mut().extend_from_slice(buffer.filled());
        Ok(result)
    }
}

impl<'a> Socket<VirtualRuntime> for MemorySocket<'a> {
    type Error = Infallible;
    type ReadHalf<'s>
        = MemoryRead<'s, 'a>
    where
        Self: 's;
    type WriteHalf<'s>
        = MemoryWrite<'a>
    where
        Self: 's;

    fn split(&mut self) -> (Self::ReadHalf<'_>, Self::WriteHalf<'_>) {
        let read =
            MemoryRead { input: self.input, position: &mut self.position, limit: self.shape.read, world: self.world };
        (read, MemoryWrite { output: self.output, limit: self.shape.write })
    }

    async fn abort<T: Timer<VirtualRuntime>>(
        self,
        _timeouts: &Timeouts,
        _timer: &T,
    ) -> Result<(), picoserve::Error<Infallible>> {
        Ok(())
    }

    async fn shutdown<T: Timer<VirtualRuntime>>(
        self,
        _timeouts: &Timeouts,
        _timer: &T,
    ) -> Result<(), picoserve::Error<Infallible>> {
        Ok(())
    }
}

/// Why a connection did not end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hang {
    /// Pending with nothing left that could wake it.
    Stuck,
    /// Still going after [`POLLS`] polls.
    TooManyPolls,
}

struct Flag(AtomicBool);

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.0.store(true, Ordering::Relaxed);
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Polls `future` to its end in virtual time. `deliver` is the node's
/// side: it hands over what happened since it was last called (the
/// cameras' answers) and says whether there was anything.
pub fn run<F: Future>(
    future: F,
    world: &Virtual,
    closing: Closing,
    mut deliver: impl FnMut() -> bool,
) -> Result<(F::Output, usize), Hang> {
    let mut future = Box::pin(future);
    let flag = Arc::new(Flag(AtomicBool::new(false)));
    let waker = Waker::from(flag.clone());
    let mut context = Context::from_waker(&waker);
    for polls in 1..=POLLS {
        flag.0.store(false, Ordering::Relaxed);
        if let Poll::Ready(output) = future.as_mut().poll(&mut context) {
            return Ok((output, polls));
        }
        let woken = flag.0.load(Ordering::Relaxed);
        let progress = woken
            || deliver()
            || world.send_next()
            || (closing == Closing::WhenQuiet && world.close())
            || world.advance()
            || world.close();
        if !progress {
            return Err(Hang::Stuck);
        }
    }
    Err(Hang::TooManyPolls)
}
