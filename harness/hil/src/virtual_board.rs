//! A virtual board: a host process that stands in for a chip. It runs the
//! same application node (`nowcam-app`) with the ESP32-C3 build's
//! capacities (as a serial-radio build holds them: v1 frames of 250 bytes),
//! the same test-console messages and a serial radio whose
//! frames travel as console messages, over a pseudo-terminal (or its own
//! standard input and output, the way `wokwi-cli --interactive` joins a
//! simulation's serial port).
//!
//! Its clock is the host's monotonic clock: a board runs in real time.

use std::io::{Read, Write};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::time::Duration as StdDuration;

use nowcam_app::{ReceiverNode, ReceiverNodeConfig, ReceiverNodeEvent, SenderNode, SenderNodeConfig, SenderNodeEvent};
use nowcam_chips::{Capacities, Chip, ESP32C3};
use nowcam_console::{
    decode_host, encode_board, frame_id, BoardMessage, BoardTelemetry, ConsoleError, FrameSplitter, HostMessage, Piece,
    RadioKind, Ready, Role, SerialRadio, StoredImage, TransferOutcome, TransferResult, MAX_DATA_LEN, MAX_ENCODED_LEN,
    MAX_LIST_LEN, PROTOCOL_VERSION,
};
use nowcam_link::{DirectionConfig, FaultInjector, Preset};
use nowcam_ports::store::ImageStore;
use nowcam_ports::{ImageInfo, Radio};
use nowcam_proto::auth::Key;
use nowcam_proto::sender::SendError;
use nowcam_proto::time::{Duration, Instant};
use nowcam_proto::wire::control::FrameSize;
use nowcam_proto::MacAddress;
use nowcam_sim::nodes::{FixedTelemetry, FixtureSource};
use nowcam_store::ram::RamFlash;
use nowcam_store::Store;
use serialport::SerialPort;
use sha2::{Digest, Sha256};

/// The capacities a virtual board runs with: the ESP32-C3 serial-radio
/// build's (the C3's numbers, with frames of at most 250 bytes, the most a
/// console message carries).
pub const CAPACITIES: Capacities = RadioKind::Serial.capacities(ESP32C3);

/// The largest frame the nodes send and take: what the serial radio carries.
const MAX_FRAME_LEN: u16 = CAPACITIES.max_frame_len as u16;

/// The image partition of the 4 MB boards (partitions.csv: `images`).
pub const PARTITION_BYTES: u32 = nowcam_chips::IMAGE_PARTITION_BYTES;

/// The largest image a virtual sender accepts to load: what the C3 build tracks.
pub const MAX_LOADED_IMAGE: u32 = (CAPACITIES.sender_words * 32 * 241) as u32;

type BoardRadio = FaultInjector<SerialRadio<{ CAPACITIES.radio_send_queue }, { CAPACITIES.radio_receive_queue }>>;
type VirtualSender = SenderNode<BoardRadio, FixtureSource, FixedTelemetry, { CAPACITIES.sender_words }>;
type VirtualReceiver = ReceiverNode<
    BoardRadio,
    Store<RamFlash>,
    FixedTelemetry,
    { CAPACITIES.receiver_transfers },
    { CAPACITIES.transfer_words },
>;

/// How a virtual board starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BoardConfig {
    pub role: Role,
    pub mac: MacAddress,
    pub channel: u8,
    pub seed: u64,
    /// The authenticated mode's pre-shared key; `None` runs the default mode.
    pub key: Option<Key>,
}

/// Why a virtual board could not start.
#[derive(Debug, thiserror::Error)]
pub enum VirtualBoardError {
    #[error("the image store did not mount: {0}")]
    Store(String),
    #[error("the console stream failed: {0}")]
    Io(#[from] std::io::Error),
}

fn clean_radio(config: &BoardConfig) -> BoardRadio {
    faulty(SerialRadio::new(config.mac, config.channel), "clean", config.seed)
        .expect("the clean preset is a valid link configuration")
}

fn faulty(
    radio: SerialRadio<{ CAPACITIES.radio_send_queue }, { CAPACITIES.radio_receive_queue }>,
    preset: &str,
    seed: u64,
) -> Result<BoardRadio, ConsoleError> {
    let direction: DirectionConfig = match preset {
        "clean" => DirectionConfig::default(),
        name => name.parse::<Preset>().map_err(|_| ConsoleError::OutOfRange)?.direction_config(),
    };
    let inner = radio;
    FaultInjector::new(inner, direction, direction, seed).map_err(|_| ConsoleError::OutOfRange)
}

enum Node {
    /// A sender before its first `StartTransfer`: just a radio.
    IdleSender(Box<BoardRadio>),
    Sender(Box<VirtualSender>),
    Receiver(Box<VirtualReceiver>),
    /// Only while a node is being rebuilt.
    Empty,
}

/// The board: its node and the console state around it.
pub struct VirtualBoard {
    config: BoardConfig,
    node: Node,
    clock: std::time::Instant,
    loading: Option<Vec<u8>>,
    image: Option<Arc<[u8]>>,
    peer: Option<(MacAddress, u8)>,
    results: Vec<TransferResult>,
    started: Vec<(u32, Instant)>,
    /// Source of each stored image, by sequence (the store keeps no addresses).
    sources: Vec<(u32, MacAddress)>,
    frames_received: u32,
    send_failed: u32,
    retransmissions_before: u32,
    /// Nodes started so far: each gets its own random stream, as a chip's RNG would give.
    nodes_started: u64,
}

impl VirtualBoard {
    pub fn new(config: BoardConfig) -> Result<VirtualBoard, VirtualBoardError> {
        let node = match config.role {
            Role::Sender => Node::IdleSender(Box::new(clean_radio(&config))),
            Role::Receiver => {
                let mut node_config = ReceiverNodeConfig::default();
                node_config.receiver.key = config.key;
                node_config.receiver.max_frame_len = MAX_FRAME_LEN;
                let max_image = node_config.receiver.limits.max_image_len;
                let store_config = nowcam_store::Config::for_partition(PARTITION_BYTES, 4096, max_image)
                    .map_err(|e| VirtualBoardError::Store(e.to_string()))?;
                let flash =
                    RamFlash::new(PARTITION_BYTES as usize).map_err(|e| VirtualBoardError::Store(e.to_string()))?;
                let store = Store::mount(flash, store_config).map_err(|e| VirtualBoardError::Store(e.to_string()))?;
                Node::Receiver(Box::new(ReceiverNode::new(
                    node_config,
                    clean_radio(&config),
                    store,
                    FixedTelemetry::default(),
                    config.seed,
                )))
            }
        };
        Ok(VirtualBoard {
            config,
            node,
            clock: std::time::Instant::now(),
            loading: None,
            image: None,
            peer: None,
            results: Vec::new(),
            started: Vec::new(),
            sources: Vec::new(),
            frames_received: 0,
            send_failed: 0,
            retransmissions_before: 0,
            nodes_started: 0,
        })
    }

    fn now(&self) -> Instant {
        Instant::from_micros(self.clock.elapsed().as_micros() as u64)
    }

    fn radio_mut(&mut self) -> Option<&mut BoardRadio> {
        match &mut self.node {
            Node::IdleSender(radio) => Some(radio),
            Node::Sender(node) => Some(node.radio_mut()),
            Node::Receiver(node) => Some(node.radio_mut()),
            Node::Empty => None,
        }
    }

    fn ready(&self) -> Ready<'static> {
        Ready {
            protocol_version: PROTOCOL_VERSION,
            firmware_version: concat!("virtual-", env!("CARGO_PKG_VERSION")),
            chip: Chip::Esp32C3,
            role: self.config.role,
            mac: self.config.mac.0,
            channel: self.config.channel,
            radio: RadioKind::Serial,
            capacities: CAPACITIES,
        }
    }

    /// Runs the node; returns when it wants to run again.
    pub fn poll(&mut self) -> Option<Instant> {
        let now = self.now();
        match &mut self.node {
            Node::Sender(node) => {
                let next = node.poll(now);
                while let Some(event) = node.pop_event() {
                    match event {
                        SenderNodeEvent::TransferStarted { session, .. } => self.started.push((session, now)),
                        SenderNodeEvent::TransferDone { session, len, started, finished } => {
                            let retransmissions = node.stats().retransmissions;
                            self.results.push(TransferResult {
                                session,
                                len,
                                outcome: TransferOutcome::Stored,
                                started_ms: started.as_micros() / 1000,
                                finished_ms: finished.as_micros() / 1000,
                                retransmissions: retransmissions - self.retransmissions_before,
                            });
                            self.retransmissions_before = retransmissions;
                        }
                        SenderNodeEvent::TransferFailed { session, error } => {
                            let started = self.started.iter().find(|(s, _)| *s == session).map_or(now, |(_, at)| *at);
                            let retransmissions = node.stats().retransmissions;
                            self.results.push(TransferResult {
                                session,
                                len: 0,
                                outcome: match error {
                                    SendError::Refused(_) => TransferOutcome::Refused,
                                    SendError::TimedOut => TransferOutcome::TimedOut,
                                    _ => TransferOutcome::Failed,
                                },
                                started_ms: started.as_micros() / 1000,
                                finished_ms: now.as_micros() / 1000,
                                retransmissions: retransmissions - self.retransmissions_before,
                            });
                            self.retransmissions_before = retransmissions;
                        }
                        _ => {}
                    }
                }
                next
            }
            Node::Receiver(node) => {
                let next = node.poll(now);
                while let Some(event) = node.pop_event() {
                    if let ReceiverNodeEvent::ImageStored { source, info, .. } = event {
                        self.sources.push((info.sequence, source));
                        if self.sources.len() > 64 {
                            self.sources.remove(0);
                        }
                    }
                }
                next
            }
            Node::IdleSender(_) | Node::Empty => None,
        }
    }

    /// The frames the node put on its serial radio since the last call, as console messages.
    pub fn drain_transmits(&mut self, mut write: impl FnMut(&BoardMessage<'_>)) {
        if let Some(radio) = self.radio_mut() {
            while let Some(frame) = radio.inner_mut().next_transmit() {
                write(&BoardMessage::from(frame));
            }
        }
    }

    /// Answers one host message; `reply` gets the answer (none for radio messages).
    pub fn handle(&mut self, message: HostMessage<'_>, reply: &mut dyn FnMut(&BoardMessage<'_>)) {
        let answer: Result<Option<BoardMessage<'_>>, ConsoleError> = match message {
            HostMessage::Hello => Ok(Some(BoardMessage::Ready(self.ready()))),
            HostMessage::RadioDeliver { source, destination, rssi, data } => {
                self.frames_received += 1;
                if let Some(radio) = self.radio_mut() {
                    // A full queue drops the frame, as esp-radio's does; the radio counts it.
                    let _ = radio.inner_mut().deliver(source, destination, rssi, data);
                }
                return;
            }
            HostMessage::RadioReport { handle, acknowledged } => {
                if !acknowledged {
                    self.send_failed += 1;
                }
                if let Some(radio) = self.radio_mut() {
                    // A report for a frame not in flight (a late or repeated one) is ignored.
                    let _ = radio.inner_mut().report(handle, acknowledged);
                }
                return;
            }
            HostMessage::ReadTelemetry => Ok(Some(BoardMessage::Telemetry(BoardTelemetry {
                uptime_ms: self.clock.elapsed().as_millis() as u64,
                free_heap: FixedTelemetry::default().0.free_heap_bytes,
                temperature_centi: None,
                frames_sent: match &self.node {
                    Node::Sender(node) => node.stats().frames_sent,
                    _ => 0,
                },
                frames_received: self.frames_received,
                receive_dropped: 0,
                send_failed: self.send_failed,
            }))),
            HostMessage::Reboot => Ok(Some(BoardMessage::Ack)),
            HostMessage::SetFaults { seed, preset } => self.set_faults(seed, preset).map(|()| Some(BoardMessage::Ack)),
            HostMessage::LoadBegin { len } => self.load_begin(len).map(|()| Some(BoardMessage::Ack)),
            HostMessage::LoadChunk { offset, data } => self.load_chunk(offset, data).map(|()| Some(BoardMessage::Ack)),
            HostMessage::LoadEnd { crc32 } => self.load_end(crc32).map(|()| Some(BoardMessage::Ack)),
            HostMessage::SetPeer { receiver, channel } => {
                if self.config.role != Role::Sender {
                    Err(ConsoleError::WrongRole)
                } else if !(1..=13).contains(&channel) {
                    Err(ConsoleError::OutOfRange)
                } else {
                    self.peer = Some((MacAddress(receiver), channel));
                    Ok(Some(BoardMessage::Ack))
                }
            }
            HostMessage::StartTransfer { count } => self.start(count).map(|()| Some(BoardMessage::Ack)),
            HostMessage::ReadResults => {
                if self.config.role != Role::Sender {
                    Err(ConsoleError::WrongRole)
                } else {
                    let skip = self.results.len().saturating_sub(MAX_LIST_LEN);
                    Ok(Some(BoardMessage::Results { transfers: self.results[skip..].iter().copied().collect() }))
                }
            }
            HostMessage::ListImages => self.list_images().map(|images| Some(BoardMessage::Images { images })),
            HostMessage::ReadImage { sequence, offset, len } => {
                let mut buffer = [0u8; MAX_DATA_LEN];
                match self.read_image(sequence, offset, len, &mut buffer) {
                    Ok(n) => {
                        reply(&BoardMessage::ImageData { sequence, offset, data: &buffer[..n] });
                        return;
                    }
                    Err(error) => Err(error),
                }
            }
        };
        match answer {
            Ok(Some(message)) => reply(&message),
            Ok(None) => {}
            Err(error) => reply(&BoardMessage::Error(error)),
        }
    }

    fn set_faults(&mut self, seed: u64, preset: &str) -> Result<(), ConsoleError> {
        if preset != "clean" && preset.parse::<Preset>().is_err() {
            return Err(ConsoleError::OutOfRange);
        }
        let rebuild = |radio: BoardRadio| faulty(radio.into_inner(), preset, seed);
        match std::mem::replace(&mut self.node, Node::Empty) {
            Node::IdleSender(radio) => self.node = Node::IdleSender(Box::new(rebuild(*radio)?)),
            Node::Sender(node) => {
                let (radio, _, _) = node.into_parts();
                self.node = Node::IdleSender(Box::new(rebuild(radio)?));
            }
            Node::Receiver(node) => {
                let (radio, store, telemetry) = node.into_parts();
                let radio = rebuild(radio)?;
                let mut node_config = ReceiverNodeConfig::default();
                node_config.receiver.key = self.config.key;
                self.node = Node::Receiver(Box::new(ReceiverNode::new(node_config, radio, store, telemetry, seed)));
            }
            Node::Empty => return Err(ConsoleError::Busy),
        }
        Ok(())
    }

    fn sender_only(&self) -> Result<(), ConsoleError> {
        if self.config.role == Role::Sender {
            Ok(())
        } else {
            Err(ConsoleError::WrongRole)
        }
    }

    fn load_begin(&mut self, len: u32) -> Result<(), ConsoleError> {
        self.sender_only()?;
        if len == 0 || len > MAX_LOADED_IMAGE {
            return Err(ConsoleError::OutOfRange);
        }
        self.loading = Some(vec![0; len as usize]);
        Ok(())
    }

    fn load_chunk(&mut self, offset: u32, data: &[u8]) -> Result<(), ConsoleError> {
        self.sender_only()?;
        let buffer = self.loading.as_mut().ok_or(ConsoleError::NoImageLoaded)?;
        let start = offset as usize;
        let end = start.checked_add(data.len()).ok_or(ConsoleError::OutOfRange)?;
        buffer.get_mut(start..end).ok_or(ConsoleError::OutOfRange)?.copy_from_slice(data);
        Ok(())
    }

    fn load_end(&mut self, crc32: u32) -> Result<(), ConsoleError> {
        self.sender_only()?;
        let buffer = self.loading.take().ok_or(ConsoleError::NoImageLoaded)?;
        if nowcam_proto::chunker::crc32(&buffer) != crc32 {
            return Err(ConsoleError::CrcMismatch);
        }
        self.image = Some(buffer.into());
        Ok(())
    }

    fn start(&mut self, count: u16) -> Result<(), ConsoleError> {
        self.sender_only()?;
        let image = self.image.clone().ok_or(ConsoleError::NoImageLoaded)?;
        let (receiver, channel) = self.peer.ok_or(ConsoleError::NotFound)?;
        if count == 0 {
            return Err(ConsoleError::OutOfRange);
        }
        let radio = match std::mem::replace(&mut self.node, Node::Empty) {
            Node::IdleSender(radio) => *radio,
            Node::Sender(node) if node.is_idle() => node.into_parts().0,
            busy => {
                self.node = busy;
                return Err(ConsoleError::Busy);
            }
        };
        let mut radio = radio;
        if radio.inner_mut().set_channel(channel).is_err() {
            self.node = Node::IdleSender(Box::new(radio));
            return Err(ConsoleError::Radio);
        }
        let mut config = SenderNodeConfig {
            receiver: Some(receiver),
            hop_channels: false,
            capture_interval: Some(Duration::ZERO),
            image_limit: Some(u32::from(count)),
            pause_between_images: Duration::ZERO,
            max_frame_len: MAX_FRAME_LEN,
            ..SenderNodeConfig::default()
        };
        config.transfer.key = self.config.key;
        let source = FixtureSource::new(vec![image; usize::from(count)], FrameSize::Uxga);
        self.retransmissions_before = 0;
        self.nodes_started += 1;
        let seed = nowcam_sim::setup::mix(self.config.seed, self.nodes_started);
        self.node = Node::Sender(Box::new(SenderNode::new(config, radio, source, FixedTelemetry::default(), seed)));
        Ok(())
    }

    fn store(&mut self) -> Result<&mut Store<RamFlash>, ConsoleError> {
        match &mut self.node {
            Node::Receiver(node) => Ok(node.store_mut()),
            _ => Err(ConsoleError::WrongRole),
        }
    }

    fn list_images(&mut self) -> Result<heapless::Vec<StoredImage, MAX_LIST_LEN>, ConsoleError> {
        let sources = self.sources.clone();
        let store = self.store()?;
        let mut infos = [ImageInfo { sequence: 0, len: 0, crc32: 0 }; MAX_LIST_LEN];
        let count = store.list(&mut infos);
        let mut images = heapless::Vec::new();
        for info in &infos[..count] {
            let mut hasher = Sha256::new();
            let mut offset = 0u32;
            let mut buffer = [0u8; 1024];
            while offset < info.len {
                match store.read_at(info.sequence, offset, &mut buffer) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        hasher.update(&buffer[..n]);
                        offset += n as u32;
                    }
                }
            }
            let source = sources.iter().find(|(s, _)| *s == info.sequence).map_or([0; 6], |(_, mac)| mac.0);
            let _ = images.push(StoredImage {
                sequence: info.sequence,
                source,
                len: info.len,
                sha256: hasher.finalize().into(),
            });
        }
        Ok(images)
    }

    fn read_image(&mut self, sequence: u32, offset: u32, len: u16, buffer: &mut [u8]) -> Result<usize, ConsoleError> {
        let len = usize::from(len).min(buffer.len());
        let store = self.store()?;
        store.read_at(sequence, offset, &mut buffer[..len]).map_err(|error| match error {
            nowcam_ports::StoreError::NotFound => ConsoleError::NotFound,
            nowcam_ports::StoreError::OutOfBounds => ConsoleError::OutOfRange,
            _ => ConsoleError::Storage,
        })
    }
}

/// Serves `board` on a byte stream until the stream closes.
pub fn serve(
    mut board: VirtualBoard,
    reader: Box<dyn Read + Send>,
    mut writer: Box<dyn Write + Send>,
) -> Result<(), VirtualBoardError> {
    let (tx, rx) = mpsc::channel::<Vec<u8>>();
    std::thread::spawn(move || {
        let mut reader = reader;
        let mut buffer = [0u8; 1024];
        loop {
            match reader.read(&mut buffer) {
                Ok(0) => return,
                Ok(n) => {
                    if tx.send(buffer[..n].to_vec()).is_err() {
                        return;
                    }
                }
                Err(error)
                    if matches!(error.kind(), std::io::ErrorKind::TimedOut | std::io::ErrorKind::Interrupted) => {}
                Err(_) => return,
            }
        }
    });
    let mut out = Vec::with_capacity(4096);
    let emit = |out: &mut Vec<u8>, id: u16, message: &BoardMessage<'_>| {
        let mut frame = [0u8; MAX_ENCODED_LEN];
        if let Ok(len) = encode_board(id, message, &mut frame) {
            out.extend_from_slice(&frame[..len]);
        }
    };
    emit(&mut out, 0, &BoardMessage::Ready(board.ready()));
    writeln!(out, "virtual {} {} on channel {}", board.config.role_name(), board.config.mac, board.config.channel)?;
    let mut splitter = FrameSplitter::<{ MAX_ENCODED_LEN }>::new();
    loop {
        let next = board.poll();
        board.drain_transmits(|message| emit(&mut out, 0, message));
        if !out.is_empty() {
            writer.write_all(&out)?;
            writer.flush()?;
            out.clear();
        }
        let wait = next.map_or(StdDuration::from_millis(50), |at| {
            StdDuration::from_micros(at.as_micros().saturating_sub(board.now().as_micros()))
                .min(StdDuration::from_millis(50))
        });
        let bytes = match rx.recv_timeout(wait) {
            Ok(bytes) => bytes,
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => return Ok(()),
        };
        for byte in bytes {
            let Some(Piece::Frame(frame)) = splitter.push(byte) else { continue };
            let mut copy = frame.to_vec();
            match decode_host(&mut copy) {
                Ok((id, message)) => board.handle(message, &mut |reply| emit(&mut out, id, reply)),
                // An intact frame that is no message this board knows: answered, never left hanging.
                Err(error) => {
                    let id = frame_id(frame).unwrap_or(0);
                    emit(&mut out, id, &BoardMessage::Error(error.console_error()))
                }
            }
        }
    }
}

impl BoardConfig {
    fn role_name(&self) -> &'static str {
        match self.role {
            Role::Sender => "sender",
            Role::Receiver => "receiver",
        }
    }
}

/// Serves a board on a new pseudo-terminal, after writing `pty PATH` to `announce`.
pub fn serve_on_pty(config: BoardConfig, mut announce: impl Write) -> Result<(), VirtualBoardError> {
    let board = VirtualBoard::new(config)?;
    let (mut master, slave) = serialport::TTYPort::pair().map_err(|e| std::io::Error::other(e.to_string()))?;
    master.set_timeout(StdDuration::from_millis(100)).map_err(|e| std::io::Error::other(e.to_string()))?;
    let path = slave.name().ok_or_else(|| std::io::Error::other("the pseudo-terminal has no name"))?;
    writeln!(announce, "pty {path}")?;
    announce.flush()?;
    let reader = master.try_clone_native().map_err(|e| std::io::Error::other(e.to_string()))?;
    // The slave stays open here, so the terminal survives until the harness opens it.
    let result = serve(board, Box::new(reader), Box::new(master));
    drop(slave);
    result
}

/// Serves a board on this process's standard input and output, the way
/// `wokwi-cli --interactive` joins a simulation's serial port.
pub fn serve_on_stdio(config: BoardConfig) -> Result<(), VirtualBoardError> {
    let board = VirtualBoard::new(config)?;
    serve(board, Box::new(std::io::stdin()), Box::new(std::io::stdout()))
}
