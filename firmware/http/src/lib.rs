//! The receiver's HTTP API, written once: the same picoserve handlers run on
//! the chip (embassy-net) and on the host (`nowcam serve`, tokio).
//!
//! | path | what |
//! |---|---|
//! | `GET /` | the live page (stored gzip-compressed) |
//! | `GET /image`, `GET /capture` | the newest image; `/capture?fresh=1` asks the camera for a new one first |
//! | `GET /images`, `GET /images/{id}.jpg` | the stored images as JSON, and one of them |
//! | `GET /stream` | MJPEG (`multipart/x-mixed-replace`) of images as they arrive |
//! | `GET /ws` | WebSocket: a binary message per new image, JSON telemetry; pings get a pong, a close gets a close |
//! | `GET /status` | esp32-camera's JSON keys, link statistics, the cameras' telemetry |
//! | `GET /control?var=&val=` | esp32-camera control, forwarded to the camera over ESP-NOW |
//! | `GET /metrics` | Prometheus text format |
//!
//! Any other method, `HEAD` included, gets 405: picoserve's `get` answered
//! `HEAD` by compiling every handler a second time (see `routes.rs`).
//!
//! Discovery is in [`mdns`]: the answers to mDNS queries for `_http._tcp`
//! (TXT `cam_name`), built here once for the chip and `nowcam serve`.
//!
//! The handlers reach the node through [`ReceiverAccess`] behind an async
//! mutex held only for one short step at a time (one 1 KB piece of an image,
//! one snapshot of the state), never across a socket write, so a slow client
//! never keeps the node from receiving. What the node's events tell and the
//! store does not keep lives in a [`Journal`], fed by the composition root.
//!
//! Architecture Invariant: this crate knows the node application, the ports
//! and picoserve; no chip, no adapter, no runtime. The clock and timers come
//! in through [`Clock`], sockets through picoserve's `Socket` trait.
#![no_std]

mod access;
mod handlers;
mod journal;
pub mod mdns;
mod routes;
mod socket;
mod status;
mod stream;
mod websocket;

use embassy_sync::blocking_mutex::raw::RawMutex;
use embassy_sync::mutex::Mutex;
use nowcam_ports::Instant;

pub use access::{OwnStatus, ReceiverAccess};
pub use journal::{ImageRecord, Journal, JournalCounters};
pub use socket::{serve, ControlReply, GuardedSocket, SocketLink, HEADERS_TOO_LARGE};
pub use stream::BOUNDARY;

/// Bytes of the buffer a request's line and headers must fit in (a larger
/// request gets 431); the same on the chip and the host.
pub const REQUEST_BUFFER: usize = 2048;

/// picoserve's timeouts, the same on the chip and the host.
pub const TIMEOUTS: picoserve::Timeouts = picoserve::Timeouts {
    start_read_request: picoserve::time::Duration::from_secs(5),
    persistent_start_read_request: picoserve::time::Duration::from_secs(1),
    read_request: picoserve::time::Duration::from_secs(2),
    write: picoserve::time::Duration::from_secs(5),
};

/// Bytes of an image read per lock of the node: the node waits at most for
/// one such flash read.
pub const PIECE: usize = 1024;

/// How long `/capture?fresh=1` waits for the camera's new image once it
/// accepted the request.
pub const FRESH_IMAGE_TIMEOUT: nowcam_ports::Duration = nowcam_ports::Duration::from_secs(10);

/// A camera is listed online while it was heard from within this time (the node's camera timeout).
pub const CAMERA_ONLINE: nowcam_ports::Duration = nowcam_ports::Duration::from_secs(30);

/// The clock of the runtime: the node's time base, and a timer.
#[allow(async_fn_in_trait, reason = "picoserve runs each connection on one thread, so no future needs Send")]
pub trait Clock {
    fn now(&self) -> Instant;
    async fn sleep_until(&self, deadline: Instant);
}

/// What the receiver calls itself in `/status` (esp32-camera's `cam_name`
/// and `code_ver`) and in the page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Identity {
    pub name: &'static str,
    pub version: &'static str,
}

/// Everything a handler needs: the node, the journal, the clock.
pub struct Api<'a, M: RawMutex, N, C> {
    pub node: &'a Mutex<M, N>,
    pub journal: &'a Journal<M>,
    pub clock: C,
    pub identity: Identity,
}

impl<'a, M: RawMutex, N: ReceiverAccess, C: Clock> Api<'a, M, N, C> {
    pub fn new(node: &'a Mutex<M, N>, journal: &'a Journal<M>, clock: C, identity: Identity) -> Self {
        Api { node, journal, clock, identity }
    }
}

/// Which port a connection came in on: esp32-camera serves its stream on a
/// port of its own (81), where `/` is the stream rather than the page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Port {
    Main,
    Stream,
}
