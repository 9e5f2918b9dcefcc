//! A scenario run on boards: real ones, virtual ones, or Wokwi simulations.
//!
//! The run loads each sender's images over the test console, starts the
//! transfers, relays the frames of serial-radio boards through the link
//! model, reads every image the receiver stored back over the console, and
//! hands the bytes to the simulator's verdict.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nowcam_console::{HostMessage, RadioKind, Role, StoredImage, TransferOutcome, MAX_DATA_LEN};
use nowcam_link::airtime;
use nowcam_link::Preset;
use nowcam_proto::auth::Key;
use nowcam_proto::chunker::crc32;
use nowcam_proto::MacAddress;
use nowcam_sim::report::{Metrics, RunRecord, Status};
use nowcam_sim::scenario::{DirectionSpec, Expectation, ExpectedOutcome, Scenario};
use nowcam_sim::setup::{link_config, Needs};
use nowcam_sim::verdict::{
    attribute, judge_expectation, judge_image, ImageObservation, ImageResult, ReadBack, SenderOutcome, SentImages,
};

use crate::connect::{open_serial, start_virtual, start_wokwi, ConnectError, Connection, WokwiSimulation};
use crate::console::{BoardInfo, ConsoleLinkError, ConsoleWriter, Reply, Transmit};
use crate::inventory::{Board, BoardKind, BoardRole, Inventory};
use crate::relay::{Action, Relay, RelayCounters, RelayNode};

/// How long a board has to answer its first `Hello` after the port opens, by default.
pub const READY_TIMEOUT: Duration = Duration::from_secs(10);

/// How often the run asks the boards how far they are.
const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// The longest a board run waits for its transfers, whatever the scenario's virtual time limit.
pub const MAX_RUN_TIME: Duration = Duration::from_secs(300);

/// Where the boards of a run come from.
#[derive(Debug, Clone)]
pub enum Boards {
    /// The boards of an inventory; `exe` is the `nowcam` binary that runs
    /// virtual boards. With `key`, the boards run the authenticated mode:
    /// the virtual boards are started with its file, and real boards are
    /// assumed to have been built with the same key (`NOWCAM_KEY`).
    Inventory { inventory: Inventory, exe: PathBuf, key: Option<BoardsKey> },
    /// One Wokwi simulation per board: the receiver, then one per sender diagram.
    Wokwi { receiver: WokwiSimulation, senders: Vec<WokwiSimulation> },
}

impl Boards {
    /// The largest ESP-NOW frame the boards' builds use between them: a
    /// real board's ESP-NOW build takes v2's 1470 bytes, a virtual or Wokwi
    /// board's serial radio 250 (its frames must fit a console message).
    /// The boards negotiate it themselves; no console message changes it.
    pub fn frame_len(&self) -> usize {
        let serial = |chip: nowcam_chips::Chip| RadioKind::Serial.capacities(chip.capacities()).max_frame_len;
        match self {
            Boards::Inventory { inventory, .. } => inventory
                .boards
                .iter()
                .map(|board| match board.kind {
                    BoardKind::Serial(_) => RadioKind::EspNow.capacities(board.chip.capacities()).max_frame_len,
                    BoardKind::Virtual => serial(board.chip),
                })
                .min()
                .unwrap_or(nowcam_proto::wire::V1_MAX_FRAME_LEN),
            Boards::Wokwi { .. } => serial(nowcam_chips::Chip::Esp32C3),
        }
    }
}

/// The pre-shared key of a board run, and the file it came from (which
/// virtual boards are started with, so the key never appears in a command line).
#[derive(Debug, Clone)]
pub struct BoardsKey {
    pub key: Key,
    pub file: PathBuf,
}

impl Boards {
    /// The key the boards run the authenticated mode with, if any.
    pub fn key(&self) -> Option<&Key> {
        match self {
            Boards::Inventory { key, .. } => key.as_ref().map(|key| &key.key),
            Boards::Wokwi { .. } => None,
        }
    }
}

/// Why a run on boards failed before it could be judged.
#[derive(Debug, thiserror::Error)]
pub enum BoardRunError {
    #[error(transparent)]
    Connect(#[from] ConnectError),
    #[error(transparent)]
    Console(#[from] ConsoleLinkError),
    #[error("board {board}: the inventory says {expected}, the board says {found}")]
    Mismatch { board: String, expected: String, found: String },
    #[error("{scenario}: link: {message}")]
    Link { scenario: String, message: String },
}

/// What one sender of a board run sent, and what it heard back.
#[derive(Debug, Clone)]
pub struct SenderEvidence {
    pub name: String,
    pub mac: MacAddress,
    pub images: Vec<Arc<[u8]>>,
    /// Per image: the outcome, when it came (seconds from the start), and the retransmissions it took.
    pub outcomes: Vec<(SenderOutcome, Option<f64>, u32)>,
}

/// A run on boards, ready to be judged.
#[derive(Debug, Clone)]
pub struct BoardEvidence {
    pub senders: Vec<SenderEvidence>,
    /// Every image read back from the receiver's store, in commit order, with its source.
    pub read_back: Vec<(MacAddress, Vec<u8>)>,
    pub wall_time_s: f64,
    pub relay: RelayCounters,
    /// Each board's name and serial log.
    pub logs: Vec<(String, String)>,
}

/// The outcome of asking for a run.
#[derive(Debug)]
pub enum BoardRun {
    Skipped(String),
    Ran(BoardEvidence),
}

impl BoardEvidence {
    /// Judges the run with the simulator's verdict: every image from the bytes
    /// read back over the console, then the scenario's expectation.
    pub fn judge(&self, scenario: &Scenario, seed: u64, target: &str, path: &str, reproduce: String) -> RunRecord {
        let sent: Vec<SentImages<'_>> = self
            .senders
            .iter()
            .map(|s| SentImages { source: s.mac.0, images: s.images.iter().map(|i| &i[..]).collect() })
            .collect();
        let stored: Vec<ReadBack<'_>> =
            self.read_back.iter().map(|(source, bytes)| ReadBack { source: source.0, bytes }).collect();
        let attribution = attribute(&sent, &stored);
        let mut images = Vec::new();
        let mut retransmissions = 0u64;
        for (k, sender) in self.senders.iter().enumerate() {
            for (index, bytes) in sender.images.iter().enumerate() {
                let (outcome, finished_s, retries) =
                    sender.outcomes.get(index).cloned().unwrap_or((SenderOutcome::Unfinished, None, 0));
                retransmissions += u64::from(retries);
                images.push(judge_image(ImageObservation {
                    sender: &sender.name,
                    image: index,
                    sent: bytes,
                    sent_sha256: None,
                    outcome,
                    received: attribution.received[k][index],
                    finished_s,
                }));
            }
        }
        let loss = link_config(&scenario.link).map_or(0.0, |config| config.a_to_b.mean_loss());
        let rate = link_config(&scenario.link).map_or(nowcam_link::PhyRate::Dsss1Mbps, |config| config.phy_rate);
        let lower_bound_s = images
            .iter()
            .filter(|i| i.result == ImageResult::ByteExact)
            .map(|i| airtime::lower_bound_at(rate, i.bytes as u64, loss).unwrap_or(0))
            .sum::<u64>() as f64
            / 1e9;
        let efficiency =
            if self.wall_time_s > 0.0 && lower_bound_s > 0.0 { lower_bound_s / self.wall_time_s } else { 0.0 };
        // A scenario's time and efficiency bounds are the simulator's, in virtual
        // time; a board run's clock is the host's wall clock, so they are
        // reported (metrics) and not judged. Every image is judged as anywhere.
        let expect = Expectation { max_sim_time: None, min_efficiency: None, ..scenario.expect.clone() };
        let mut failures = judge_expectation(&expect, scenario.time_limit, &images, self.wall_time_s, efficiency);
        failures.extend(attribution.failures());
        let passed = failures.is_empty();
        RunRecord {
            scenario: scenario.name.clone(),
            path: path.to_owned(),
            seed,
            target: target.to_owned(),
            status: if passed { Status::Passed } else { Status::Failed },
            message: (!passed).then(|| failures.join("; ")),
            failures,
            reproduce,
            capture: None,
            images,
            metrics: Some(Metrics {
                frames_sent: self.relay.frames_sent,
                frames_lost: self.relay.frames_lost,
                frames_duplicated: self.relay.frames_duplicated,
                sends_refused: 0,
                retransmissions,
                sim_time_s: self.wall_time_s,
                lower_bound_s,
                efficiency,
            }),
        }
    }
}

/// What these boards offer a scenario.
pub fn offered(boards: &Boards) -> Needs {
    match boards {
        Boards::Inventory { inventory, .. } => {
            let real = inventory.boards.iter().any(|b| matches!(b.kind, BoardKind::Serial(_)));
            Needs {
                senders: inventory.with_role(BoardRole::Sender).count(),
                receivers: usize::from(inventory.with_role(BoardRole::Receiver).next().is_some()),
                // Real radios take faults only as on-device presets (checked below); the relay applies any.
                link_faults: true,
                legacy: false,
                outages: !real,
                // Real boards' ESP-NOW builds use v2 frames; serial radios v1.
                v2_frames: boards.frame_len() > nowcam_proto::wire::V1_MAX_FRAME_LEN,
                // The chip's sender takes its rate, auto included, at build
                // time (NOWCAM_PHY_RATE), which no console message changes;
                // a virtual board's serial radio takes none.
                auto_rate: false,
                // Nor a fixed rate; a virtual board's relay loses frames by
                // the link model at the scenario's rate.
                fixed_rate: !real,
            }
        }
        Boards::Wokwi { senders, .. } => Needs {
            senders: senders.len(),
            receivers: 1,
            link_faults: true,
            legacy: false,
            outages: true,
            v2_frames: false,
            auto_rate: false,
            fixed_rate: true,
        },
    }
}

/// Why these boards cannot run this scenario, if they cannot.
pub fn skip_reason(scenario: &Scenario, boards: &Boards) -> Option<String> {
    if let Some(reason) = scenario.needs().unmet_by(&offered(boards)) {
        return Some(reason);
    }
    if scenario.receivers.len() != 1 {
        return Some(format!("needs {} receivers; a board run drives one", scenario.receivers.len()));
    }
    if let Some(key) = &scenario.key {
        if boards.key() != Some(key) {
            return Some(
                "runs the authenticated mode with a key these boards were not given (--key-file; real boards take theirs at build time, NOWCAM_KEY)"
                    .into(),
            );
        }
    }
    if scenario.receivers[0].max_image_bytes.is_some() {
        return Some("needs a receiver with a smaller image limit; boards run the default build".into());
    }
    if scenario.expect.outcome != ExpectedOutcome::ByteExact {
        return Some(format!("expects {}, which costs the sender's deadline in real time", scenario.expect.outcome));
    }
    if let Boards::Inventory { inventory, .. } = boards {
        let real = inventory.boards.iter().any(|b| matches!(b.kind, BoardKind::Serial(_)));
        if real && preset_only(scenario).is_none() {
            return Some("a real radio takes link faults only as a named preset on both directions".into());
        }
    }
    None
}

/// The preset a scenario's link is, when it is exactly one named preset.
fn preset_only(scenario: &Scenario) -> Option<&str> {
    let link = &scenario.link;
    let plain = |d: &DirectionSpec| {
        d.loss.is_none()
            && d.duplicate.is_none()
            && d.reorder.is_none()
            && d.reorder_slots.is_none()
            && d.delay_ms.is_none()
            && d.jitter_ms.is_none()
            && d.spike_probability.is_none()
            && d.spike_ms.is_none()
            && d.snr_db.is_none()
    };
    if !link.outages.is_empty() || !plain(&link.data) || !plain(&link.status) || link.data.preset != link.status.preset
    {
        return None;
    }
    match link.data.preset.as_deref() {
        None => Some("clean"),
        Some(name) => name.parse::<Preset>().ok().map(|_| name),
    }
}

struct Node {
    name: String,
    connection: Connection,
    role: BoardRole,
    mac: MacAddress,
    radio: RadioKind,
}

struct SenderState {
    node: usize,
    name: String,
    images: Vec<Arc<[u8]>>,
    /// The image being sent, and the sessions of the results the board listed before it started:
    /// the board keeps only its last few results, so a new one is told apart by its session.
    current: Option<(usize, BTreeSet<u32>)>,
    outcomes: Vec<(SenderOutcome, Option<f64>, u32)>,
}

/// Runs one scenario with one seed on `boards`.
pub fn run(
    boards: &Boards,
    scenario: &Scenario,
    images: &[Vec<Arc<[u8]>>],
    seed: u64,
    log_dir: Option<&std::path::Path>,
    ready_timeout: Duration,
) -> Result<BoardRun, BoardRunError> {
    if let Some(reason) = skip_reason(scenario, boards) {
        return Ok(BoardRun::Skipped(reason));
    }
    let sender_count = scenario.expanded_senders().count();
    let channel = scenario.receivers[0].channel;
    let (radio_tx, radio_rx) = mpsc::channel::<Transmit>();

    let mut nodes = connect_all(boards, sender_count, channel, seed, &radio_tx)?;
    drop(radio_tx);
    for node in &mut nodes {
        if let Some(dir) = log_dir {
            let file = format!("{}-seed{seed}-{}.log", scenario.name, node.name);
            node.connection.console.keep_log(&dir.join(file));
        }
        let info = node.connection.console.handshake(ready_timeout)?;
        let expected = match node.role {
            BoardRole::Sender => Role::Sender,
            BoardRole::Receiver => Role::Receiver,
        };
        if info.role != expected {
            return Err(BoardRunError::Mismatch {
                board: node.name.clone(),
                expected: format!("role {}", node.role),
                found: format!("role {:?}", info.role),
            });
        }
        if let Some(mismatch) = capacities_mismatch(&info) {
            return Err(BoardRunError::Mismatch { board: node.name.clone(), expected: mismatch.0, found: mismatch.1 });
        }
        node.mac = info.mac;
        node.radio = info.radio;
    }

    let started = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let relay_thread = start_relay(scenario, seed, &nodes, radio_rx, started, stop.clone())?;

    if let Some(preset) = preset_only(scenario) {
        for node in nodes.iter_mut().filter(|n| n.radio == RadioKind::EspNow) {
            node.connection.console.expect_ack("set faults", &HostMessage::SetFaults { seed, preset })?;
        }
    }
    let receiver = 0;
    let receiver_mac = nodes[receiver].mac;
    let mut known: BTreeSet<u32> = list_images(&mut nodes[receiver])?.iter().map(|i| i.sequence).collect();
    let mut read_back: Vec<(u32, MacAddress, Vec<u8>)> = Vec::new();

    let mut senders: Vec<SenderState> = scenario
        .expanded_senders()
        .zip(images)
        .enumerate()
        .map(|(k, ((name, _), images))| SenderState {
            node: k + 1,
            name,
            images: images.clone(),
            current: None,
            outcomes: Vec::new(),
        })
        .collect();
    // Load every sender's first image before any transfer starts, so that they start together.
    for sender in &mut senders {
        let node = &mut nodes[sender.node];
        node.connection.console.expect_ack("set peer", &HostMessage::SetPeer { receiver: receiver_mac.0, channel })?;
        if let Some(image) = sender.images.first() {
            load_image(node, image)?;
        }
    }
    for sender in &mut senders {
        if !sender.images.is_empty() {
            let before = sessions(&read_results(&mut nodes[sender.node])?);
            nodes[sender.node].connection.console.expect_ack("start", &HostMessage::StartTransfer { count: 1 })?;
            sender.current = Some((0, before));
        }
    }

    let limit = Duration::from_micros(scenario.time_limit.as_micros()).min(MAX_RUN_TIME);
    while started.elapsed() < limit && senders.iter().any(|s| s.current.is_some()) {
        std::thread::sleep(POLL_INTERVAL);
        collect_images(&mut nodes[receiver], &mut known, &mut read_back)?;
        for sender in &mut senders {
            let Some((index, before)) = &sender.current else { continue };
            let index = *index;
            let results = read_results(&mut nodes[sender.node])?;
            let Some(result) = results.iter().find(|r| !before.contains(&r.session)) else { continue };
            let outcome = match result.outcome {
                TransferOutcome::Stored => SenderOutcome::Delivered,
                TransferOutcome::Refused => SenderOutcome::Failed("refused".into()),
                TransferOutcome::TimedOut => SenderOutcome::Failed("timed out".into()),
                TransferOutcome::Failed => SenderOutcome::Failed("failed".into()),
            };
            sender.outcomes.push((outcome, Some(started.elapsed().as_secs_f64()), result.retransmissions));
            sender.current = None;
            let next = index + 1;
            if let Some(image) = sender.images.get(next).cloned() {
                let node = &mut nodes[sender.node];
                load_image(node, &image)?;
                let before = sessions(&read_results(node)?);
                node.connection.console.expect_ack("start", &HostMessage::StartTransfer { count: 1 })?;
                sender.current = Some((next, before));
            }
        }
    }
    collect_images(&mut nodes[receiver], &mut known, &mut read_back)?;
    let wall_time_s = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let relay = relay_thread.join().unwrap_or_default();

    let logs = nodes
        .iter()
        .map(|node| {
            let _ = node.connection.console.save_log();
            (node.name.clone(), node.connection.console.log_text())
        })
        .collect();
    let senders = senders
        .into_iter()
        .map(|sender| SenderEvidence {
            mac: nodes[sender.node].mac,
            name: sender.name,
            images: sender.images,
            outcomes: sender.outcomes,
        })
        .collect();
    let read_back = read_back.into_iter().map(|(_, source, bytes)| (source, bytes)).collect();
    Ok(BoardRun::Ran(BoardEvidence { senders, read_back, wall_time_s, relay, logs }))
}

/// Why a board's ready message shows stale firmware, as what was expected
/// and what was found; `None` when its capacities are the table's numbers
/// for its chip as a build with its radio holds them (`nowcam_chips`, and
/// a serial radio carries 250-byte frames at most). Every field counts,
/// the largest frame among them.
pub fn capacities_mismatch(info: &BoardInfo) -> Option<(String, String)> {
    let expected = info.radio.capacities(info.chip.capacities());
    (info.capacities != expected).then(|| {
        (
            format!("the {} build's capacities with a {:?} radio, {expected:?}", info.chip, info.radio),
            format!("{:?} (flash the current firmware)", info.capacities),
        )
    })
}

fn connect_all(
    boards: &Boards,
    senders: usize,
    channel: u8,
    seed: u64,
    radio: &mpsc::Sender<Transmit>,
) -> Result<Vec<Node>, BoardRunError> {
    let mut nodes = Vec::with_capacity(senders + 1);
    match boards {
        Boards::Inventory { inventory, exe, key } => {
            let receiver = inventory.with_role(BoardRole::Receiver).next();
            let chosen: Vec<&Board> =
                receiver.into_iter().chain(inventory.with_role(BoardRole::Sender).take(senders)).collect();
            for (index, board) in chosen.into_iter().enumerate() {
                let connection = match &board.kind {
                    BoardKind::Serial(port) => open_serial(board, port, index, None)?,
                    BoardKind::Virtual => start_virtual(
                        exe,
                        board,
                        index,
                        channel,
                        seed,
                        key.as_ref().map(|key| key.file.as_path()),
                        Some(radio.clone()),
                    )?,
                };
                nodes.push(Node {
                    name: board.name.clone(),
                    connection,
                    role: board.role,
                    mac: MacAddress([0; 6]),
                    radio: RadioKind::EspNow,
                });
            }
        }
        Boards::Wokwi { receiver, senders: simulations } => {
            let chosen = std::iter::once(receiver).chain(simulations.iter().take(senders));
            for (index, simulation) in chosen.enumerate() {
                let (role, name) = if index == 0 {
                    (BoardRole::Receiver, "receiver".to_owned())
                } else {
                    (BoardRole::Sender, format!("sender-{index}"))
                };
                let connection = start_wokwi(simulation, &name, index, Some(radio.clone()))?;
                nodes.push(Node { name, connection, role, mac: MacAddress([0; 6]), radio: RadioKind::Serial });
            }
        }
    }
    Ok(nodes)
}

fn start_relay(
    scenario: &Scenario,
    seed: u64,
    nodes: &[Node],
    transmits: Receiver<Transmit>,
    started: Instant,
    stop: Arc<AtomicBool>,
) -> Result<std::thread::JoinHandle<RelayCounters>, BoardRunError> {
    let config = link_config(&scenario.link)
        .map_err(|message| BoardRunError::Link { scenario: scenario.name.clone(), message })?;
    let relay_nodes: Vec<RelayNode> =
        nodes.iter().map(|n| RelayNode { address: n.mac, channel: scenario.receivers[0].channel }).collect();
    let pairs: Vec<(usize, usize)> = (1..nodes.len()).map(|sender| (sender, 0)).collect();
    let mut relay = Relay::new(relay_nodes, &pairs, config, seed)
        .map_err(|error| BoardRunError::Link { scenario: scenario.name.clone(), message: error.to_string() })?;
    let writers: Vec<ConsoleWriter> = nodes.iter().map(|n| n.connection.console.writer()).collect();
    Ok(std::thread::spawn(move || {
        let now_ns = || started.elapsed().as_nanos() as u64;
        while !stop.load(Ordering::Relaxed) {
            while let Some(action) = relay.due(now_ns()) {
                let _ = match action {
                    Action::Deliver { to, source, destination, data } => writers[to].send(&HostMessage::RadioDeliver {
                        source: source.0,
                        destination: destination.0,
                        rssi: -60,
                        data: &data,
                    }),
                    Action::Report { to, handle, acknowledged } => {
                        writers[to].send(&HostMessage::RadioReport { handle, acknowledged })
                    }
                };
            }
            let wait = relay
                .next_due_ns()
                .map_or(Duration::from_millis(20), |due| Duration::from_nanos(due.saturating_sub(now_ns())))
                .min(Duration::from_millis(20));
            match transmits.recv_timeout(wait) {
                Ok(frame) => {
                    let at = frame.at.saturating_duration_since(started).as_nanos() as u64;
                    relay.transmit(at, frame.board, frame.handle, frame.destination, &frame.data);
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
        }
        relay.counters()
    }))
}

fn load_image(node: &mut Node, image: &[u8]) -> Result<(), ConsoleLinkError> {
    let console = &mut node.connection.console;
    console.expect_ack("load begin", &HostMessage::LoadBegin { len: image.len() as u32 })?;
    for (k, piece) in image.chunks(MAX_DATA_LEN).enumerate() {
        let offset = (k * MAX_DATA_LEN) as u32;
        console.expect_ack("load chunk", &HostMessage::LoadChunk { offset, data: piece })?;
    }
    console.expect_ack("load end", &HostMessage::LoadEnd { crc32: crc32(image) })
}

fn read_results(node: &mut Node) -> Result<Vec<nowcam_console::TransferResult>, ConsoleLinkError> {
    match node.connection.console.request("read results", &HostMessage::ReadResults, crate::console::REPLY_TIMEOUT)? {
        Reply::Results(results) => Ok(results),
        other => Err(unexpected(node, "read results", other)),
    }
}

fn sessions(results: &[nowcam_console::TransferResult]) -> BTreeSet<u32> {
    results.iter().map(|r| r.session).collect()
}

fn list_images(node: &mut Node) -> Result<Vec<StoredImage>, ConsoleLinkError> {
    match node.connection.console.request("list images", &HostMessage::ListImages, crate::console::REPLY_TIMEOUT)? {
        Reply::Images(images) => Ok(images),
        other => Err(unexpected(node, "list images", other)),
    }
}

fn unexpected(node: &Node, request: &'static str, reply: Reply) -> ConsoleLinkError {
    ConsoleLinkError::Unexpected { board: node.name.clone(), request, reply: format!("{reply:?}") }
}

/// Reads back every image the receiver stored that was not read yet, oldest first.
fn collect_images(
    node: &mut Node,
    known: &mut BTreeSet<u32>,
    read_back: &mut Vec<(u32, MacAddress, Vec<u8>)>,
) -> Result<(), ConsoleLinkError> {
    let mut fresh: Vec<StoredImage> =
        list_images(node)?.into_iter().filter(|image| !known.contains(&image.sequence)).collect();
    fresh.sort_by_key(|image| image.sequence);
    for image in fresh {
        let bytes = read_image(node, &image)?;
        known.insert(image.sequence);
        read_back.push((image.sequence, MacAddress(image.source), bytes));
    }
    Ok(())
}

/// Reads one stored image in pieces. The board's own SHA-256 is not trusted:
/// the verdict hashes the bytes that crossed the console.
fn read_image(node: &mut Node, image: &StoredImage) -> Result<Vec<u8>, ConsoleLinkError> {
    let mut bytes = Vec::with_capacity(image.len as usize);
    while bytes.len() < image.len as usize {
        let offset = bytes.len() as u32;
        let len = (image.len as usize - bytes.len()).min(MAX_DATA_LEN) as u16;
        let request = HostMessage::ReadImage { sequence: image.sequence, offset, len };
        match node.connection.console.request("read image", &request, crate::console::REPLY_TIMEOUT)? {
            Reply::ImageData { data, offset: got, .. } if got == offset && !data.is_empty() => {
                bytes.extend_from_slice(&data)
            }
            Reply::ImageData { .. } => break,
            other => return Err(unexpected(node, "read image", other)),
        }
    }
    Ok(bytes)
}
