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

pub mod record;
pub mod world;

use std::future::Future;
use std::time::Duration as StdDuration;

use anyhow::{Context, Result};
use embassy_futures::join::{join3, join_array};
use embassy_futures::select::select;
use embassy_sync::blocking_mutex::raw::NoopRawMutex;
use embassy_sync::mutex::Mutex;
use nowcam_http::{Api, Clock, Identity, Journal, Port};
use nowcam_ports::Instant;
use picoserve::routing::PathRouter;
use picoserve::Router;
use tokio::net::TcpListener;

pub use world::{World, WorldConfig, WorldError};

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

/// Serves the API of the receiver in `world` on `http` (and the MJPEG
/// stream on `stream`) until `shutdown` resolves, running the world in real
/// time meanwhile. Call it inside a tokio runtime (any flavour: it spawns
/// nothing).
pub async fn serve(
    http: TcpListener,
    stream: Option<TcpListener>,
    world: World,
    shutdown: impl Future<Output = ()>,
) -> Result<()> {
    let node = Mutex::<NoopRawMutex, World>::new(world);
    let journal = Journal::<NoopRawMutex>::new();
    let clock = HostClock::new();
    let identity = Identity { name: "nowcam-serve", version: env!("CARGO_PKG_VERSION") };
    let api = Api::new(&node, &journal, clock, identity);
    let router = nowcam_http::router(&api, Port::Main);
    let stream_router = nowcam_http::router(&api, Port::Stream);
    let config = picoserve::Config::new(nowcam_http::TIMEOUTS);
    let main_workers = join_array::<_, HTTP_WORKERS>(core::array::from_fn(|_| worker(&http, &router, &config)));
    let stream_workers = async {
        if let Some(listener) = &stream {
            join_array::<_, STREAM_WORKERS>(core::array::from_fn(|_| worker(listener, &stream_router, &config))).await;
        }
    };
    select(shutdown, join3(drive(&node, &journal, clock), main_workers, stream_workers)).await;
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

/// Accepts and serves one connection at a time, forever.
async fn worker<P: PathRouter>(listener: &TcpListener, router: &Router<P>, config: &picoserve::Config) {
    let mut buffer = vec![0u8; nowcam_http::REQUEST_BUFFER];
    loop {
        let Ok((socket, _)) = listener.accept().await else {
            // Out of file descriptors or the like: wait a little instead of spinning.
            tokio::time::sleep(StdDuration::from_millis(50)).await;
            continue;
        };
        let _ = socket.set_nodelay(true);
        nowcam_http::serve(router, picoserve::time::TokioTimer, config, &mut buffer, socket).await;
    }
}

/// Binds the listeners, builds the world and serves until `shutdown`, on a
/// tokio runtime of its own (one thread). `on_ready` gets the addresses
/// actually bound (port 0 picks a free one).
///
/// The runtime runs on a thread with a large stack: polling picoserve's
/// nested futures takes several megabytes of stack in a debug build, more
/// than a test thread's 2 MB.
pub fn run(
    http: std::net::SocketAddr,
    stream: Option<std::net::SocketAddr>,
    config: WorldConfig,
    on_ready: impl FnOnce(std::net::SocketAddr, Option<std::net::SocketAddr>) + Send,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<()> {
    std::thread::scope(|scope| {
        std::thread::Builder::new()
            .name("nowcam-serve".into())
            .stack_size(SERVER_STACK)
            .spawn_scoped(scope, move || run_here(http, stream, config, on_ready, shutdown))
            .context("starting the server thread")?
            .join()
            .unwrap_or_else(|_| Err(anyhow::anyhow!("the server thread panicked")))
    })
}

/// The server thread's stack.
const SERVER_STACK: usize = 64 << 20;

fn run_here(
    http: std::net::SocketAddr,
    stream: Option<std::net::SocketAddr>,
    config: WorldConfig,
    on_ready: impl FnOnce(std::net::SocketAddr, Option<std::net::SocketAddr>),
    shutdown: impl Future<Output = ()>,
) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().context("starting tokio")?;
    runtime.block_on(async {
        let http = TcpListener::bind(http).await.with_context(|| format!("binding {http}"))?;
        let stream = match stream {
            Some(address) => Some(TcpListener::bind(address).await.with_context(|| format!("binding {address}"))?),
            None => None,
        };
        let world = World::new(&config)?;
        on_ready(http.local_addr()?, stream.as_ref().map(|s| s.local_addr()).transpose()?);
        // The workers' futures hold picoserve's buffers: hundreds of KB, on the heap rather than the stack.
        Box::pin(serve(http, stream, world, shutdown)).await
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
