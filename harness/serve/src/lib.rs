//! `nowcam serve`: the whole system without hardware, in real time.
//! Simulated cameras send fixture images through the simulated link to a
//! simulated receiver running the receiver's own code, and the receiver's
//! own HTTP API (`nowcam-http`, the handlers the chip serves) answers on
//! loopback. `nowcam record` (in [`record`]) saves a receiver's stream.
//!
//! Like the chip, the server holds a fixed number of connections: each
//! worker accepts one connection at a time and serves it, so everything
//! runs as one future on one thread (picoserve's futures are not `Send`),
//! borrowing the node, the journal and the listeners.

pub mod discovery;
pub mod record;
pub mod world;

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration as StdDuration;

use anyhow::{Context, Result};
use embassy_futures::join::{join4, join_array};
use embassy_futures::select::select;
use embassy_sync::blocking_mutex::raw::NoopRawMutex;
use embassy_sync::mutex::Mutex;
use nowcam_http::{Api, Clock, Identity, Journal, Port};
use nowcam_ports::Instant;
use tokio::net::TcpListener;

pub use discovery::{MdnsBind, MdnsListener};
pub use world::{CameraPower, World, WorldConfig, WorldError};

/// Connections served at once on the main port and on the stream port.
pub const HTTP_WORKERS: usize = 16;
pub const STREAM_WORKERS: usize = 8;

/// How often the simulated nodes catch up with the wall clock.
const TICK: StdDuration = StdDuration::from_millis(2);

/// The host's clock: microseconds since the server started, tokio's timer.
#[derive(Debug, Clone, Copy)]
pub struct HostClock {
    start: tokio::time::Instant,
}

impl HostClock {
    pub fn new() -> HostClock {
        HostClock { start: tokio::time::Instant::now() }
    }
}

impl Default for HostClock {
    fn default() -> Self {
        HostClock::new()
    }
}

impl Clock for HostClock {
    fn now(&self) -> Instant {
        Instant::from_micros(self.start.elapsed().as_micros() as u64)
    }

    async fn sleep_until(&self, deadline: Instant) {
        tokio::time::sleep_until(self.start + StdDuration::from_micros(deadline.as_micros())).await
    }
}

/// The mDNS responder's socket, and whether it is joined to the group.
pub struct MdnsSocket {
    pub socket: tokio::net::UdpSocket,
    pub group: bool,
}

/// Serves the API of the receiver in `world` on `http` (and the MJPEG
/// stream on `stream`) until `shutdown` resolves, running the world in real
/// time meanwhile, and answers mDNS queries on `mdns`. Call it inside a
/// tokio runtime (any flavour: it spawns nothing).
pub async fn serve(
    http: TcpListener,
    stream: Option<TcpListener>,
    mdns: Option<MdnsSocket>,
    world: World,
    shutdown: impl Future<Output = ()>,
) -> Result<()> {
    let node = Mutex::<NoopRawMutex, World>::new(world);
    let journal = Journal::<NoopRawMutex>::new();
    let clock = HostClock::new();
    let identity = Identity { name: "nowcam-serve", version: env!("CARGO_PKG_VERSION") };
    let http_address = http.local_addr().context("the HTTP listener's address")?;
    // One instance per port, so that several servers on one machine stay apart.
    let instance = format!("nowcam-serve-{}", http_address.port());
    let announced_ip = match http_address.ip() {
        std::net::IpAddr::V4(ip) => ip,
        std::net::IpAddr::V6(_) => std::net::Ipv4Addr::UNSPECIFIED,
    };
    let announcement =
        nowcam_http::mdns::Announcement::new(&instance, &instance, identity.name, http_address.port(), announced_ip)
            .map_err(|error| anyhow::anyhow!("the mDNS names: {error}"))?;
    let responder = async {
        match &mdns {
            Some(mdns) => discovery::respond(&mdns.socket, announcement, mdns.group).await,
            None => core::future::pending().await,
        }
    };
    let api = Api::new(&node, &journal, clock, identity);
    let config = picoserve::Config::new(nowcam_http::TIMEOUTS);
    let main_workers =
        join_array::<_, HTTP_WORKERS>(core::array::from_fn(|_| worker(&http, &api, Port::Main, &config)));
    let stream_workers = async {
        if let Some(listener) = &stream {
            join_array::<_, STREAM_WORKERS>(core::array::from_fn(|_| worker(listener, &api, Port::Stream, &config)))
                .await;
        }
    };
    select(shutdown, join4(drive(&node, &journal, clock), main_workers, stream_workers, responder)).await;
    Ok(())
}

/// Runs the simulated nodes up to the wall clock, feeding the receiver's events to the journal.
async fn drive(node: &Mutex<NoopRawMutex, World>, journal: &Journal<NoopRawMutex>, clock: HostClock) {
    loop {
        {
            let mut world = node.lock().await;
            world.advance(clock.now());
            for (at, event) in world.take_events() {
                journal.record(at, &event);
            }
        }
        tokio::time::sleep(TICK).await;
    }
}

/// The API as `nowcam serve` runs it.
type HostApi<'a> = Api<'a, NoopRawMutex, World, HostClock>;

/// Accepts and serves one connection at a time, forever.
async fn worker(listener: &TcpListener, api: &HostApi<'_>, port: Port, config: &picoserve::Config) {
    let mut buffer = vec![0u8; nowcam_http::REQUEST_BUFFER];
    loop {
        let Ok((socket, _)) = listener.accept().await else {
            // Out of file descriptors or the like: wait a little instead of spinning.
            tokio::time::sleep(StdDuration::from_millis(50)).await;
            continue;
        };
        let _ = socket.set_nodelay(true);
        nowcam_http::serve(api, port, picoserve::time::TokioTimer, config, &mut buffer, socket).await;
    }
}

/// Where `nowcam serve` listens (port 0 picks a free port).
#[derive(Debug)]
pub struct Bind {
    pub http: SocketAddr,
    /// The MJPEG stream's own port (esp32-camera's port 81).
    pub stream: Option<SocketAddr>,
    /// The mDNS responder's socket, bound by the caller ([`discovery::bind_responder`]).
    pub mdns: Option<MdnsListener>,
}

/// The addresses actually bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bound {
    pub http: SocketAddr,
    pub stream: Option<SocketAddr>,
    pub mdns: Option<SocketAddr>,
}

/// Binds the listeners, builds the world and serves until `shutdown`, on a
/// tokio runtime of its own (one thread). `on_ready` gets the addresses
/// actually bound (port 0 picks a free one).
///
/// The runtime runs on a thread with a large stack: polling picoserve's
/// nested futures takes several megabytes of stack in a debug build, more
/// than a test thread's 2 MB.
pub fn run(
    bind: Bind,
    config: WorldConfig,
    on_ready: impl FnOnce(Bound) + Send,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<()> {
    std::thread::scope(|scope| {
        std::thread::Builder::new()
            .name("nowcam-serve".into())
            .stack_size(SERVER_STACK)
            .spawn_scoped(scope, move || run_here(bind, config, on_ready, shutdown))
            .context("starting the server thread")?
            .join()
            .unwrap_or_else(|_| Err(anyhow::anyhow!("the server thread panicked")))
    })
}

/// The server thread's stack.
const SERVER_STACK: usize = 64 << 20;

fn run_here(
    bind: Bind,
    config: WorldConfig,
    on_ready: impl FnOnce(Bound),
    shutdown: impl Future<Output = ()>,
) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().context("starting tokio")?;
    runtime.block_on(async {
        let http = TcpListener::bind(bind.http).await.with_context(|| format!("binding {}", bind.http))?;
        let stream = match bind.stream {
            Some(address) => Some(TcpListener::bind(address).await.with_context(|| format!("binding {address}"))?),
            None => None,
        };
        let mdns = match bind.mdns {
            Some(MdnsListener { socket, group }) => {
                socket.set_nonblocking(true).context("the mDNS socket")?;
                let socket = tokio::net::UdpSocket::from_std(socket).context("the mDNS socket")?;
                Some(MdnsSocket { socket, group })
            }
            None => None,
        };
        let world = World::new(&config)?;
        on_ready(Bound {
            http: http.local_addr()?,
            stream: stream.as_ref().map(|s| s.local_addr()).transpose()?,
            mdns: mdns.as_ref().map(|m| m.socket.local_addr()).transpose()?,
        });
        // The workers' futures hold picoserve's buffers: hundreds of KB, on the heap rather than the stack.
        Box::pin(serve(http, stream, mdns, world, shutdown)).await
    })
}

/// The `.jpg` files of `dir`, sorted by name.
pub fn load_images(dir: &std::path::Path) -> Result<Vec<std::sync::Arc<[u8]>>> {
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| {
            path.extension().is_some_and(|ext| ext.eq_ignore_ascii_case("jpg") || ext.eq_ignore_ascii_case("jpeg"))
        })
        .collect();
    paths.sort();
    anyhow::ensure!(!paths.is_empty(), "{}: no .jpg files", dir.display());
    paths
        .into_iter()
        .map(|path| std::fs::read(&path).map(Into::into).with_context(|| format!("reading {}", path.display())))
        .collect()
}

/// Resolves when the process gets Ctrl-C (SIGINT).
pub async fn interrupted() {
    if tokio::signal::ctrl_c().await.is_err() {
        // No signal handling here: run until killed.
        core::future::pending::<()>().await
    }
}
