//! The harness's side of the test console: one connection per board, over
//! any byte stream (a serial port, a pseudo-terminal, wokwi-cli's stdio).
//!
//! A reader thread splits the stream into console messages and log text.
//! Replies go to the one request waiting for them (matched by id); radio
//! frames of serial-radio boards go to the run's relay; everything else the
//! board prints is kept as its serial log. Every wait has a timeout.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nowcam_chips::{Capacities, Chip};
use nowcam_console::{
    decode_board, encode_host, BoardMessage, BoardTelemetry, ConsoleError, DecodeError, FrameSplitter, HostMessage,
    Piece, RadioKind, Role, StoredImage, TransferResult, MAX_ENCODED_LEN, PROTOCOL_VERSION,
};
use nowcam_proto::MacAddress;

/// How long a board may take to answer an ordinary request.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(5);

/// What a board said about itself after boot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoardInfo {
    pub protocol_version: u8,
    pub firmware_version: String,
    pub chip: Chip,
    pub role: Role,
    pub mac: MacAddress,
    pub channel: u8,
    pub radio: RadioKind,
    pub capacities: Capacities,
}

/// A reply, owned, so that it can cross from the reader thread.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    Ready(BoardInfo),
    Ack,
    Error(ConsoleError),
    Results(Vec<TransferResult>),
    Images(Vec<StoredImage>),
    ImageData { sequence: u32, offset: u32, data: Vec<u8> },
    Telemetry(BoardTelemetry),
}

/// A frame a serial-radio board put on its radio.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// The board's index in the run.
    pub board: usize,
    pub handle: u32,
    pub destination: MacAddress,
    pub data: Vec<u8>,
    pub at: Instant,
}

/// Why talking to a board failed.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleLinkError {
    #[error("board {board}: no answer to {request} within {after:?}")]
    Timeout { board: String, request: &'static str, after: Duration },
    #[error("board {board}: the console closed ({why})")]
    Closed { board: String, why: String },
    #[error("board {board}: {request} failed: {error}")]
    Refused { board: String, request: &'static str, error: ConsoleError },
    #[error("board {board}: {request}: unexpected reply {reply}")]
    Unexpected { board: String, request: &'static str, reply: String },
    #[error("board {board}: cannot write to the console: {source}")]
    Write { board: String, source: std::io::Error },
    #[error("board {board}: speaks test-console version {found}, this harness speaks {PROTOCOL_VERSION}")]
    Version { board: String, found: u8 },
}

enum Incoming {
    Reply(u16, Reply),
    /// A `Ready` nobody asked for: the board (re)booted.
    Boot(BoardInfo),
    /// A console message of another protocol version (a board flashed
    /// with older or newer firmware): nothing it says can be read.
    Version(u8),
    Closed(String),
}

/// The writing half of a board's console, for the relay's radio messages.
#[derive(Clone)]
pub struct ConsoleWriter {
    name: String,
    writer: Arc<Mutex<Box<dyn Write + Send>>>,
}

impl ConsoleWriter {
    /// Sends a message that gets no reply (`RadioDeliver`, `RadioReport`).
    pub fn send(&self, message: &HostMessage<'_>) -> Result<(), ConsoleLinkError> {
        self.write(0, message)
    }

    fn write(&self, id: u16, message: &HostMessage<'_>) -> Result<(), ConsoleLinkError> {
        let mut buffer = [0u8; MAX_ENCODED_LEN];
        let len = encode_host(id, message, &mut buffer).map_err(|error| ConsoleLinkError::Write {
            board: self.name.clone(),
            source: std::io::Error::other(error.to_string()),
        })?;
        let mut writer = self.writer.lock().map_err(|_| ConsoleLinkError::Closed {
            board: self.name.clone(),
            why: "the writer was poisoned".into(),
        })?;
        writer
            .write_all(&buffer[..len])
            .and_then(|()| writer.flush())
            .map_err(|source| ConsoleLinkError::Write { board: self.name.clone(), source })
    }
}

/// One board's console.
pub struct BoardConsole {
    name: String,
    writer: ConsoleWriter,
    incoming: Receiver<Incoming>,
    next_id: u16,
    log: Arc<Mutex<Vec<u8>>>,
    log_path: Option<PathBuf>,
    reader: Option<JoinHandle<()>>,
    /// The latest `Ready` the board sent.
    pub info: Option<BoardInfo>,
}

impl BoardConsole {
    /// Starts reading `reader`; radio frames of a serial-radio board go to `radio` tagged with `index`.
    pub fn new(
        name: &str,
        index: usize,
        reader: Box<dyn Read + Send>,
        writer: Box<dyn Write + Send>,
        radio: Option<Sender<Transmit>>,
    ) -> BoardConsole {
        let (tx, incoming) = mpsc::channel();
        let log = Arc::new(Mutex::new(Vec::new()));
        let thread_log = log.clone();
        let thread = std::thread::Builder::new()
            .name(format!("console-{name}"))
            .spawn(move || read_loop(reader, index, tx, radio, thread_log))
            .ok();
        BoardConsole {
            name: name.to_owned(),
            writer: ConsoleWriter { name: name.to_owned(), writer: Arc::new(Mutex::new(writer)) },
            incoming,
            next_id: 1,
            log,
            log_path: None,
            reader: thread,
            info: None,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Keeps the board's serial log in `path` (written on [`BoardConsole::save_log`] and on drop).
    pub fn keep_log(&mut self, path: &Path) {
        self.log_path = Some(path.to_owned());
    }

    /// Writes what the board printed so far to its log file.
    pub fn save_log(&self) -> std::io::Result<()> {
        if let Some(path) = &self.log_path {
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            let bytes = self.log.lock().map(|log| log.clone()).unwrap_or_default();
            std::fs::write(path, bytes)?;
        }
        Ok(())
    }

    /// The board's serial log so far, as text.
    pub fn log_text(&self) -> String {
        self.log.lock().map(|log| String::from_utf8_lossy(&log).into_owned()).unwrap_or_default()
    }

    /// The writing half, to share with the relay.
    pub fn writer(&self) -> ConsoleWriter {
        self.writer.clone()
    }

    /// Sends a request and waits up to `timeout` for its reply.
    pub fn request(
        &mut self,
        what: &'static str,
        message: &HostMessage<'_>,
        timeout: Duration,
    ) -> Result<Reply, ConsoleLinkError> {
        let id = self.next_id;
        self.next_id = self.next_id.checked_add(1).unwrap_or(1);
        self.writer.write(id, message)?;
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.incoming.recv_timeout(left) {
                Ok(Incoming::Reply(got, reply)) if got == id => {
                    return match reply {
                        Reply::Error(error) => {
                            Err(ConsoleLinkError::Refused { board: self.name.clone(), request: what, error })
                        }
                        Reply::Ready(info) => {
                            self.info = Some(info.clone());
                            Ok(Reply::Ready(info))
                        }
                        other => Ok(other),
                    }
                }
                // A board that could not read a request's id answers it with id 0;
                // requests go one at a time, so it is this one's.
                Ok(Incoming::Reply(0, Reply::Error(error))) => {
                    return Err(ConsoleLinkError::Refused { board: self.name.clone(), request: what, error })
                }
                // A late reply to an earlier request that timed out.
                Ok(Incoming::Reply(..)) => {}
                Ok(Incoming::Boot(info)) => self.info = Some(info),
                Ok(Incoming::Version(found)) => {
                    return Err(ConsoleLinkError::Version { board: self.name.clone(), found })
                }
                Ok(Incoming::Closed(why)) => return Err(ConsoleLinkError::Closed { board: self.name.clone(), why }),
                Err(RecvTimeoutError::Timeout) => {
                    return Err(ConsoleLinkError::Timeout { board: self.name.clone(), request: what, after: timeout })
                }
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(ConsoleLinkError::Closed { board: self.name.clone(), why: "the reader stopped".into() })
                }
            }
        }
    }

    /// Asks the board who it is, retrying until `timeout`: a board that is
    /// still booting misses the first `Hello`s.
    pub fn handshake(&mut self, timeout: Duration) -> Result<BoardInfo, ConsoleLinkError> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let attempt = left.min(Duration::from_millis(500));
            match self.request("hello", &HostMessage::Hello, attempt) {
                Ok(Reply::Ready(info)) => {
                    if info.protocol_version != PROTOCOL_VERSION {
                        return Err(ConsoleLinkError::Version {
                            board: self.name.clone(),
                            found: info.protocol_version,
                        });
                    }
                    return Ok(info);
                }
                Ok(other) => {
                    return Err(ConsoleLinkError::Unexpected {
                        board: self.name.clone(),
                        request: "hello",
                        reply: format!("{other:?}"),
                    })
                }
                Err(ConsoleLinkError::Timeout { .. }) if Instant::now() < deadline => continue,
                Err(ConsoleLinkError::Timeout { .. }) => {
                    return Err(ConsoleLinkError::Timeout {
                        board: self.name.clone(),
                        request: "its ready message",
                        after: timeout,
                    })
                }
                Err(error) => return Err(error),
            }
        }
    }

    /// Sends a request that must be answered with `Ack`.
    pub fn expect_ack(&mut self, what: &'static str, message: &HostMessage<'_>) -> Result<(), ConsoleLinkError> {
        match self.request(what, message, REPLY_TIMEOUT)? {
            Reply::Ack => Ok(()),
            other => Err(ConsoleLinkError::Unexpected {
                board: self.name.clone(),
                request: what,
                reply: format!("{other:?}"),
            }),
        }
    }
}

impl Drop for BoardConsole {
    fn drop(&mut self) {
        let _ = self.save_log();
        // The reader ends when its stream closes; it is not joined, so a
        // port that never closes cannot hang the harness.
        drop(self.reader.take());
    }
}

fn read_loop(
    mut reader: Box<dyn Read + Send>,
    index: usize,
    tx: Sender<Incoming>,
    radio: Option<Sender<Transmit>>,
    log: Arc<Mutex<Vec<u8>>>,
) {
    let mut splitter = FrameSplitter::<{ MAX_ENCODED_LEN }>::new();
    let mut buffer = [0u8; 1024];
    loop {
        let n = match reader.read(&mut buffer) {
            Ok(0) => {
                let _ = tx.send(Incoming::Closed("end of stream".into()));
                return;
            }
            Ok(n) => n,
            Err(error) if error.kind() == std::io::ErrorKind::TimedOut => continue,
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(error) => {
                let _ = tx.send(Incoming::Closed(error.to_string()));
                return;
            }
        };
        for &byte in &buffer[..n] {
            let Some(piece) = splitter.push(byte) else { continue };
            match piece {
                Piece::Text(text) => append(&log, text),
                Piece::Frame(frame) => {
                    let mut copy = frame.to_vec();
                    match decode_board(&mut copy) {
                        Ok((id, message)) => dispatch(id, message, index, &tx, radio.as_ref(), &log),
                        Err(DecodeError::Version { found }) => {
                            append(&log, frame);
                            let _ = tx.send(Incoming::Version(found));
                        }
                        Err(_) => append(&log, frame),
                    }
                }
            }
        }
    }
}

fn append(log: &Mutex<Vec<u8>>, bytes: &[u8]) {
    if let Ok(mut log) = log.lock() {
        log.extend_from_slice(bytes);
        if !bytes.ends_with(b"\n") {
            log.push(b'\n');
        }
    }
}

fn dispatch(
    id: u16,
    message: BoardMessage<'_>,
    index: usize,
    tx: &Sender<Incoming>,
    radio: Option<&Sender<Transmit>>,
    log: &Mutex<Vec<u8>>,
) {
    let reply = match message {
        BoardMessage::Transmit { handle, destination, data } => {
            if let Some(radio) = radio {
                let _ = radio.send(Transmit {
                    board: index,
                    handle,
                    destination: MacAddress(destination),
                    data: data.to_vec(),
                    at: Instant::now(),
                });
            }
            return;
        }
        BoardMessage::Log(text) => {
            append(log, text.as_bytes());
            return;
        }
        BoardMessage::Ready(ready) => {
            let info = BoardInfo {
                protocol_version: ready.protocol_version,
                firmware_version: ready.firmware_version.to_owned(),
                chip: ready.chip,
                role: ready.role,
                mac: MacAddress(ready.mac),
                channel: ready.channel,
                radio: ready.radio,
                capacities: ready.capacities,
            };
            append(log, format!("[harness] ready: {info:?}").as_bytes());
            if id == 0 {
                let _ = tx.send(Incoming::Boot(info));
                return;
            }
            Reply::Ready(info)
        }
        BoardMessage::Ack => Reply::Ack,
        BoardMessage::Error(error) => Reply::Error(error),
        BoardMessage::Results { transfers } => Reply::Results(transfers.iter().copied().collect()),
        BoardMessage::Images { images } => Reply::Images(images.iter().copied().collect()),
        BoardMessage::ImageData { sequence, offset, data } => {
            Reply::ImageData { sequence, offset, data: data.to_vec() }
        }
        BoardMessage::Telemetry(telemetry) => Reply::Telemetry(telemetry),
    };
    let _ = tx.send(Incoming::Reply(id, reply));
}
