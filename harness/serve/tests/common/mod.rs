//! A `nowcam serve` on 127.0.0.1 with free ports, for the tests, and the
//! clients' plumbing: raw HTTP, external tools with bounded waits.

#![allow(dead_code, reason = "each test binary uses part of this module")]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nowcam_serve::{Bind, CameraPower, WorldConfig};

/// Every wait of a test gives up after this long.
pub const WAIT: Duration = Duration::from_secs(30);

/// The fixtures the simulated cameras send: small ones, so images come often.
pub const FIXTURES: [&str; 3] = ["qvga-q12.jpg", "hvga-q12.jpg", "vga-q12-20k.jpg"];

pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

pub fn fixtures() -> Vec<Vec<u8>> {
    FIXTURES.iter().map(|name| std::fs::read(fixtures_dir().join(name)).expect("the fixture is readable")).collect()
}

/// A server running on a thread of its own; stopped when dropped.
pub struct Server {
    pub http: SocketAddr,
    pub stream: SocketAddr,
    /// The mDNS responder, on loopback.
    pub mdns: SocketAddr,
    /// Switches the simulated cameras off.
    pub camera_power: CameraPower,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    pub fn start(cameras: usize, interval_ms: u64) -> Server {
        let images: Vec<Arc<[u8]>> = fixtures().into_iter().map(Into::into).collect();
        let config = WorldConfig {
            cameras,
            preset: "clean".into(),
            interval: nowcam_proto::time::Duration::from_millis(interval_ms),
            images,
            seed: 7,
            camera_power: CameraPower::default(),
        };
        let camera_power = config.camera_power.clone();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let localhost: SocketAddr = "127.0.0.1:0".parse().expect("an address");
        let thread = std::thread::spawn(move || {
            let bind = Bind {
                http: localhost,
                stream: Some(localhost),
                mdns: Some(
                    nowcam_serve::discovery::bind_responder(nowcam_serve::MdnsBind::Address(localhost))
                        .expect("a loopback UDP socket"),
                ),
            };
            nowcam_serve::run(
                bind,
                config,
                |bound| {
                    let _ = ready_tx.send((
                        bound.http,
                        bound.stream.expect("a stream port was asked for"),
                        bound.mdns.expect("an mDNS address was asked for"),
                    ));
                },
                async {
                    let _ = stopped.await;
                },
            )
            .expect("nowcam serve runs");
        });
        let (http, stream, mdns) = ready_rx.recv_timeout(WAIT).expect("the server starts");
        eprintln!("nowcam serve on http://{http}/ and http://{stream}/, mDNS on {mdns}");
        Server { http, stream, mdns, camera_power, stop: Some(stop), thread: Some(thread) }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.http)
    }

    /// Waits until the receiver has stored an image (and heard telemetry).
    pub fn wait_for_image(&self) {
        let deadline = Instant::now() + WAIT;
        loop {
            let response = get(self.http, "/status");
            if response.body_text().contains("\"newest_image\":{")
                && !response.body_text().contains("\"telemetry\":null")
            {
                return;
            }
            assert!(Instant::now() < deadline, "no image within {WAIT:?}: {}", response.body_text());
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A response read whole from the socket.
pub struct Response {
    pub raw: Vec<u8>,
    pub head: String,
    pub body: Vec<u8>,
}

impl Response {
    pub fn status(&self) -> u16 {
        self.head.split(' ').nth(1).and_then(|code| code.parse().ok()).unwrap_or(0)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim().eq_ignore_ascii_case(name).then(|| value.trim())
        })
    }

    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Sends `request` as is and reads the response until the server closes.
pub fn raw(address: SocketAddr, request: &[u8]) -> Response {
    let mut socket = TcpStream::connect_timeout(&address, WAIT).expect("the server accepts");
    socket.set_read_timeout(Some(WAIT)).expect("a read timeout");
    socket.write_all(request).expect("the request is sent");
    let mut raw = Vec::new();
    socket.read_to_end(&mut raw).expect("the response is read");
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("the response has a head");
    Response { head: String::from_utf8_lossy(&raw[..split]).into_owned(), body: raw[split + 4..].to_vec(), raw }
}

pub fn get(address: SocketAddr, path: &str) -> Response {
    raw(address, format!("GET {path} HTTP/1.1\r\nHost: nowcam\r\nConnection: close\r\n\r\n").as_bytes())
}

/// A client tool the tests run, found on PATH. `None` means skip, except
/// where the test command asked for every client (`NOWCAM_REQUIRE_CLIENTS=1`).
pub fn tool(name: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH")
        .and_then(|path| std::env::split_paths(&path).map(|dir| dir.join(name)).find(|path| path.is_file()));
    missing_unless_required(found, name)
}

/// The Python of the virtual environment `cargo xtask test` makes.
pub fn python() -> Option<PathBuf> {
    let found = std::env::var_os("NOWCAM_PYTHON").map(PathBuf::from).or_else(|| {
        let default = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/client-venv/bin/python");
        default.is_file().then_some(default)
    });
    missing_unless_required(found, "python (a venv with requests and opencv-python-headless)")
}

fn missing_unless_required(found: Option<PathBuf>, name: &str) -> Option<PathBuf> {
    if found.is_none() {
        assert!(
            std::env::var("NOWCAM_REQUIRE_CLIENTS").as_deref() != Ok("1"),
            "{name} is missing although the test command installs it"
        );
        eprintln!("skipped: {name} is not installed (`cargo xtask client-tools` installs it)");
    }
    found
}

/// Runs `command` to its end, killing it after `limit`.
pub fn run_bounded(command: &mut Command, limit: Duration) -> Output {
    let mut child =
        command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("the tool starts");
    let deadline = Instant::now() + limit;
    loop {
        if child.try_wait().expect("the tool can be waited for").is_some() {
            return child.wait_with_output().expect("the tool's output");
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let output = child.wait_with_output().expect("the tool's output");
            panic!(
                "{command:?} did not finish within {limit:?}\nstdout: {}\nstderr: {}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("nowcam-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    dir
}
