//! The receiver's HTTP API (`nowcam-http`, the handlers `nowcam serve`
//! runs on the host too): four connections on port 80 and the MJPEG stream
//! on port 81, as esp32-camera serves it.
//!
//! Each connection is a task of its own with its own buffers, so the number
//! of connections is bounded by the task pool; the handlers lock the node
//! only to read one 1 KB piece of flash or copy a snapshot, never across a
//! socket write, so a slow client stalls only its own task and image
//! reception goes on.

use embassy_executor::Spawner;
use embassy_net::tcp::TcpSocket;
use embassy_net::Stack;
use embassy_sync::blocking_mutex::raw::NoopRawMutex;
use embassy_time::{Duration, Timer};
use nowcam_esp_adapters::clock::{now, to_embassy};
use nowcam_http::{Api, Clock, Identity, Journal, Port, REQUEST_BUFFER};
use nowcam_ports::Instant;
use static_cell::StaticCell;

use crate::{BoardNode, SharedNode};

/// Connections served at once on port 80.
pub const HTTP_TASKS: usize = 4;
/// Connections served at once on port 81 (the stream).
pub const STREAM_TASKS: usize = 1;
/// TCP sockets the HTTP server needs from the network stack.
pub const SOCKETS: usize = HTTP_TASKS + STREAM_TASKS;

/// TCP buffers per connection: requests are small, responses stream out.
const TCP_RX: usize = 1024;
const TCP_TX: usize = 2048;

type BoardApi = Api<'static, NoopRawMutex, BoardNode, ChipClock>;

/// The chip's clock and embassy's timer.
#[derive(Clone, Copy)]
pub struct ChipClock;

impl Clock for ChipClock {
    fn now(&self) -> Instant {
        now()
    }

    async fn sleep_until(&self, deadline: Instant) {
        Timer::at(to_embassy(deadline)).await
    }
}

pub fn spawn(
    spawner: Spawner,
    stack: Stack<'static>,
    node: &'static SharedNode,
    journal: &'static Journal<NoopRawMutex>,
) {
    static API: StaticCell<BoardApi> = StaticCell::new();
    let identity = Identity { name: "nowcam", version: env!("CARGO_PKG_VERSION") };
    let api: &'static BoardApi = API.init(Api::new(node, journal, ChipClock, identity));
    for _ in 0..HTTP_TASKS {
        spawner.spawn(http_task(stack, api, Port::Main).expect("the HTTP task pool holds every HTTP task"));
    }
    for _ in 0..STREAM_TASKS {
        spawner.spawn(http_task(stack, api, Port::Stream).expect("the HTTP task pool holds every HTTP task"));
    }
}

/// Accepts one connection at a time on the port's number and serves it.
/// Both ports run this one task (and one route service), so the flash holds
/// the serving code once.
#[embassy_executor::task(pool_size = SOCKETS)]
async fn http_task(stack: Stack<'static>, api: &'static BoardApi, port: Port) -> ! {
    let number = match port {
        Port::Main => 80,
        Port::Stream => 81,
    };
    let config = picoserve::Config::new(nowcam_http::TIMEOUTS);
    let mut tcp_rx = [0; TCP_RX];
    let mut tcp_tx = [0; TCP_TX];
    let mut http_buffer = [0; REQUEST_BUFFER];
    loop {
        let mut socket = TcpSocket::new(stack, &mut tcp_rx, &mut tcp_tx);
        if socket.accept(number).await.is_err() {
            continue;
        }
        // A client that vanishes without closing frees the task within a minute.
        socket.set_keep_alive(Some(Duration::from_secs(30)));
        socket.set_timeout(Some(Duration::from_secs(45)));
        nowcam_http::serve(api, port, picoserve::time::EmbassyTimer, &config, &mut http_buffer, socket).await;
    }
}
