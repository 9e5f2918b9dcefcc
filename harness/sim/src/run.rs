//! One scenario run: build the stations and links from a scenario and a
//! seed, run the event loop, check every received image against the bytes
//! sent, and judge the result against the scenario's expectation.

use std::sync::Arc;

use nowcam_app::{ReceiverNode, ReceiverNodeConfig, ReceiverNodeEvent, SenderNode, SenderNodeConfig, SenderNodeEvent};
use nowcam_chips::Capacities;
use nowcam_link::{airtime, Delay, DirectionConfig, Link, LinkConfig, LossModel, Outages, PhyRate, Preset};
use nowcam_ports::store::ImageStore;
use nowcam_proto::reassembler::Limits;
use nowcam_proto::receiver::ReceiverConfig;
use nowcam_proto::sender::SendError;
use nowcam_proto::time::{Duration, Instant};
use nowcam_proto::wire::control::FrameSize;
use nowcam_proto::wire::AbortReason;
use nowcam_proto::MacAddress;
use nowcam_store::ram::RamFlash;
use nowcam_store::{Config as StoreConfig, Store, DATA_OFFSET};

use crate::capture::CapturedFrame;
use crate::engine::{station_address, AirCounters, Engine, Station};
use crate::fixtures::{synthetic_image, FixtureCatalog, FixtureError};
use crate::nodes::{receiver_busy_ns, FixedTelemetry, FixtureSource, LegacyStation};
use crate::radio::SimRadio;
use crate::scenario::{DirectionSpec, ExpectedOutcome, ImageRef, LinkSpec, LossSpec, Protocol, Scenario};

/// The capacities the simulator's node types are compiled with: the ESP32-C3
/// build's, so that a simulated result is one the chip can reproduce.
pub const NODE_CAPACITIES: Capacities = nowcam_chips::ESP32C3;
/// Bitmap words per receiving transfer (the replay's receiver uses it too).
pub const TRANSFER_WORDS: usize = NODE_CAPACITIES.transfer_words;

type AppSender = SenderNode<SimRadio, FixtureSource, FixedTelemetry, { nowcam_chips::ESP32C3.sender_words }>;
type AppReceiver = ReceiverNode<
    SimRadio,
    Store<RamFlash>,
    FixedTelemetry,
    { nowcam_chips::ESP32C3.receiver_transfers },
    { nowcam_chips::ESP32C3.transfer_words },
>;

/// Virtual time the loop keeps running after the last sender finished, so
/// that frames still in flight (delays, held-back frames) land.
const GRACE: Duration = Duration::from_millis(200);

/// Why a run could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error(transparent)]
    Fixture(#[from] FixtureError),
    #[error("{scenario}: link: {message}")]
    Link { scenario: String, message: String },
    #[error("{scenario}: receiver {receiver}: image store: {message}")]
    Store { scenario: String, receiver: String, message: String },
    /// The run asks for node capacities other than those the simulator's node types are compiled with.
    #[error("{scenario}: capacities {requested:?} differ from the {compiled:?} the simulated nodes are built with")]
    Capacities { scenario: String, requested: Capacities, compiled: Capacities },
}

/// A scenario with its images read, ready to run with any seed.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub scenario: Scenario,
    /// Per expanded sender, the images it sends, in order (repeats included).
    images: Vec<Vec<Arc<[u8]>>>,
    link: LinkConfig,
    /// The chip build the nodes stand for: its queue depths size the radios,
    /// and `run` refuses capacities the node types were not compiled with.
    capacities: Capacities,
}

/// Resolves the images of a scenario and checks its link settings.
pub fn prepare(scenario: &Scenario, fixtures: &FixtureCatalog) -> Result<Prepared, SetupError> {
    let mut cache: Vec<(ImageRef, Arc<[u8]>)> = Vec::new();
    let mut images = Vec::new();
    for (_, sender) in scenario.expanded_senders() {
        let mut list = Vec::new();
        for _ in 0..sender.repeat {
            for image in &sender.images {
                let bytes = match cache.iter().find(|(r, _)| r == image) {
                    Some((_, bytes)) => bytes.clone(),
                    None => {
                        let bytes: Arc<[u8]> = match image {
                            ImageRef::Fixture(name) => fixtures.read(name)?.into(),
                            ImageRef::Synthetic(len) => synthetic_image(*len as usize).into(),
                        };
                        cache.push((image.clone(), bytes.clone()));
                        bytes
                    }
                };
                list.push(bytes);
            }
        }
        images.push(list);
    }
    prepare_with_images(scenario, images)
}

/// Like [`prepare`], with the images given per expanded sender (for images outside fixtures/).
pub fn prepare_with_images(scenario: &Scenario, images: Vec<Vec<Arc<[u8]>>>) -> Result<Prepared, SetupError> {
    let link =
        link_config(&scenario.link).map_err(|message| SetupError::Link { scenario: scenario.name.clone(), message })?;
    Ok(Prepared { scenario: scenario.clone(), images, link, capacities: NODE_CAPACITIES })
}

fn direction_config(spec: &DirectionSpec) -> Result<DirectionConfig, String> {
    let mut config = match &spec.preset {
        Some(name) => name.parse::<Preset>().map_err(|e| e.to_string())?.direction_config(),
        None => DirectionConfig::default(),
    };
    if let Some(loss) = spec.loss {
        config.loss = match loss {
            LossSpec::Bernoulli { probability } if probability == 0.0 => LossModel::Lossless,
            LossSpec::Bernoulli { probability } => LossModel::Bernoulli { p: probability },
            LossSpec::GilbertElliott { p, r, h, k } => LossModel::GilbertElliott { p, r, h, k },
        };
    }
    if let Some(duplicate) = spec.duplicate {
        config.duplicate = duplicate;
    }
    if let Some(reorder) = spec.reorder {
        config.reorder.probability = reorder;
    }
    if let Some(slots) = spec.reorder_slots {
        config.reorder.max_slots = slots.clamp(1, 255) as u8;
        config.reorder.min_slots = config.reorder.min_slots.min(config.reorder.max_slots);
    }
    let ms = |v: f64| (v * 1e6).round() as u64;
    let delay = config.delay;
    config.delay = Delay {
        base_ns: spec.delay_ms.map_or(delay.base_ns, ms),
        jitter_ns: spec.jitter_ms.map_or(delay.jitter_ns, ms),
        spike_probability: spec.spike_probability.unwrap_or(delay.spike_probability),
        spike_ns: spec.spike_ms.map_or(delay.spike_ns, ms),
    };
    Ok(config)
}

fn phy_rate(mbps: f64) -> Result<PhyRate, String> {
    PhyRate::ALL
        .into_iter()
        .find(|rate| rate.name().parse::<f64>().ok() == Some(mbps))
        .ok_or_else(|| format!("no PHY rate of {mbps} Mbps"))
}

/// The link model's configuration for a scenario's link: A is the sender, B the receiver.
pub fn link_config(spec: &LinkSpec) -> Result<LinkConfig, String> {
    let mut config = LinkConfig::symmetric(DirectionConfig::default());
    config.a_to_b = direction_config(&spec.data)?;
    config.b_to_a = direction_config(&spec.status)?;
    config.phy_rate = phy_rate(spec.phy_rate_mbps)?;
    let mut outages = Outages::new();
    for outage in &spec.outages {
        let start = outage.from.as_micros().saturating_mul(1_000);
        let end = outage.to.map_or(u64::MAX, |to| to.as_micros().saturating_mul(1_000));
        outages.push(start, end).map_err(|e| e.to_string())?;
    }
    config.outages = outages;
    config.validate().map_err(|e| e.to_string())?;
    Ok(config)
}

/// What one sender did with one image.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case", tag = "result")]
pub enum ImageResult {
    /// The receiver stored it and its bytes match.
    ByteExact,
    /// The receiver stored bytes that differ from the ones sent.
    Corrupt,
    /// The sender's transfer failed with this typed error.
    Failed { error: String },
    /// The run ended before the image was sent or confirmed.
    Unfinished,
}

/// One image of one sender.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ImageRecord {
    pub sender: String,
    pub bytes: usize,
    #[serde(flatten)]
    pub result: ImageResult,
    /// Virtual time at which the sender learned the outcome, in seconds.
    pub finished_s: Option<f64>,
}

/// The result of one run of one scenario with one seed.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RunResult {
    pub scenario: String,
    pub seed: u64,
    pub passed: bool,
    /// Why the run failed its expectation, empty when it passed.
    pub failures: Vec<String>,
    #[serde(flatten)]
    pub air: AirCounters,
    pub retransmissions: u64,
    pub images: Vec<ImageRecord>,
    /// From the start to the moment the last sender learned its last outcome.
    pub sim_time_s: f64,
    /// The airtime lower bound of every image delivered byte-exact, at the data direction's mean loss.
    pub lower_bound_s: f64,
    /// `lower_bound_s / sim_time_s` (0 when nothing was bounded).
    pub efficiency: f64,
    #[serde(skip)]
    pub capture: Option<Vec<CapturedFrame>>,
    #[serde(skip)]
    pub received: Vec<ReceivedImage>,
}

/// An image a receiver stored, with its bytes (kept only when asked for).
#[derive(Debug, Clone)]
pub struct ReceivedImage {
    pub source: MacAddress,
    pub bytes: Vec<u8>,
}

impl RunResult {
    pub fn images_byte_exact(&self) -> usize {
        self.images.iter().filter(|i| i.result == ImageResult::ByteExact).count()
    }
}

struct SenderStation {
    node: AppSender,
    name: String,
    outcomes: Vec<(ImageResult, Option<Instant>)>,
    image_count: usize,
}

struct ReceiverStation {
    node: AppReceiver,
    stored: Vec<(MacAddress, u32)>,
    read_buffer: Vec<u8>,
    keep_images: bool,
    kept: Vec<ReceivedImage>,
    /// Per source: the images it sends and how many were checked so far.
    expected: Vec<(MacAddress, Vec<Arc<[u8]>>, usize)>,
    corrupt: Vec<MacAddress>,
    /// How long the last poll keeps the node busy: see [`receiver_busy_ns`].
    busy_ns: u64,
}

struct LegacySenderStation {
    node: LegacyStation,
    name: String,
    receiver: usize,
    image_count: usize,
}

enum SimStation {
    Sender(Box<SenderStation>),
    Receiver(Box<ReceiverStation>),
    Legacy(Box<LegacySenderStation>),
}

impl Station for SimStation {
    fn poll(&mut self, now: Instant) -> Option<Instant> {
        match self {
            SimStation::Sender(s) => {
                let next = s.node.poll(now);
                while let Some(event) = s.node.pop_event() {
                    match event {
                        SenderNodeEvent::TransferDone { finished, .. } => {
                            s.outcomes.push((ImageResult::ByteExact, Some(finished)))
                        }
                        SenderNodeEvent::TransferFailed { error, .. } => {
                            s.outcomes.push((ImageResult::Failed { error: error_name(error) }, Some(now)))
                        }
                        _ => {}
                    }
                }
                next
            }
            SimStation::Receiver(r) => {
                let waiting = r.node.radio().waiting();
                let flash = r.node.store().flash().counters();
                let next = r.node.poll(now);
                let read = waiting.saturating_sub(r.node.radio().waiting());
                r.busy_ns = receiver_busy_ns(read, flash, r.node.store().flash().counters());
                while let Some(event) = r.node.pop_event() {
                    if let ReceiverNodeEvent::ImageStored { source, info, .. } = event {
                        r.check(source, info.sequence, info.len);
                    }
                }
                next
            }
            SimStation::Legacy(l) => l.node.poll(now),
        }
    }

    fn take_busy_ns(&mut self) -> u64 {
        match self {
            SimStation::Receiver(r) => std::mem::take(&mut r.busy_ns),
            // A camera reads only status frames and reports; its work is small next to the air.
            SimStation::Sender(_) | SimStation::Legacy(_) => 0,
        }
    }

    fn radio(&self) -> &SimRadio {
        match self {
            SimStation::Sender(s) => s.node.radio(),
            SimStation::Receiver(r) => r.node.radio(),
            SimStation::Legacy(l) => l.node.radio(),
        }
    }

    fn radio_mut(&mut self) -> &mut SimRadio {
        match self {
            SimStation::Sender(s) => s.node.radio_mut(),
            SimStation::Receiver(r) => r.node.radio_mut(),
            SimStation::Legacy(l) => l.node.radio_mut(),
        }
    }
}

impl ReceiverStation {
    /// Reads a newly stored image back and compares it with the one its sender sent next.
    fn check(&mut self, source: MacAddress, sequence: u32, len: u32) {
        self.read_buffer.clear();
        self.read_buffer.resize(len as usize, 0);
        let mut offset = 0usize;
        while offset < self.read_buffer.len() {
            match self.node.store_mut().read_at(sequence, offset as u32, &mut self.read_buffer[offset..]) {
                Ok(0) | Err(_) => break,
                Ok(n) => offset += n,
            }
        }
        let intact = offset == self.read_buffer.len();
        self.stored.push((source, sequence));
        let matched = match self.expected.iter_mut().find(|(address, _, _)| *address == source) {
            Some((_, images, next)) => {
                let expected = images.get(*next);
                *next += 1;
                intact && expected.is_some_and(|image| image[..] == self.read_buffer[..])
            }
            None => false,
        };
        if !matched {
            self.corrupt.push(source);
        }
        if self.keep_images {
            self.kept.push(ReceivedImage { source, bytes: self.read_buffer.clone() });
        }
    }
}

/// The name of a typed sender error, as scenario expectations spell it.
pub fn error_name(error: SendError) -> String {
    match error {
        SendError::Refused(AbortReason::TooLarge) => "refused: too large".to_owned(),
        SendError::TimedOut => "timed out".to_owned(),
        other => other.to_string(),
    }
}

/// What to keep from a run beyond its counters.
#[derive(Debug, Clone, Copy, Default)]
pub struct RunOptions {
    /// Record every frame on the air.
    pub capture: bool,
    /// Keep the bytes of every image a receiver stored.
    pub keep_images: bool,
}

fn mix(seed: u64, stream: u64) -> u64 {
    let mut z = seed ^ stream.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Prepared {
    /// Every expanded sender's images, in order.
    pub fn images(&self) -> &[Vec<Arc<[u8]>>] {
        &self.images
    }

    /// The same scenario for the nodes of another chip build; [`Prepared::run`]
    /// refuses it unless the simulator's node types hold the same capacities.
    pub fn with_capacities(mut self, capacities: Capacities) -> Prepared {
        self.capacities = capacities;
        self
    }

    pub fn capacities(&self) -> Capacities {
        self.capacities
    }

    /// Runs the scenario with one seed.
    pub fn run(&self, seed: u64, options: RunOptions) -> Result<RunResult, SetupError> {
        let scenario = &self.scenario;
        if self.capacities != NODE_CAPACITIES {
            return Err(SetupError::Capacities {
                scenario: scenario.name.clone(),
                requested: self.capacities,
                compiled: NODE_CAPACITIES,
            });
        }
        let senders: Vec<_> = scenario.expanded_senders().collect();
        let receiver_base = senders.len();
        let mut stations = Vec::with_capacity(senders.len() + scenario.receivers.len());
        for (index, ((name, spec), images)) in senders.iter().zip(&self.images).enumerate() {
            let radio = SimRadio::new(station_address(index), spec.channel, self.capacities);
            let destination = station_address(receiver_base + spec.to);
            let station = match spec.protocol {
                Protocol::Nowcam => {
                    // With discovery the camera probes and hops channels until its receiver
                    // answers, as the chip starts; a pinned camera knows the receiver and stays put.
                    let config = SenderNodeConfig {
                        receiver: (!spec.discovery).then_some(destination),
                        hop_channels: spec.discovery,
                        capture_interval: Some(Duration::ZERO),
                        image_limit: Some(images.len() as u32),
                        pause_between_images: Duration::ZERO,
                        ..SenderNodeConfig::default()
                    };
                    let source = FixtureSource::new(images.clone(), FrameSize::Uxga);
                    let node = SenderNode::new(
                        config,
                        radio,
                        source,
                        FixedTelemetry::default(),
                        mix(seed, 1_000 + index as u64),
                    );
                    SimStation::Sender(Box::new(SenderStation {
                        node,
                        name: name.clone(),
                        outcomes: Vec::new(),
                        image_count: images.len(),
                    }))
                }
                Protocol::Legacy => SimStation::Legacy(Box::new(LegacySenderStation {
                    node: LegacyStation::new(radio, destination, images.clone()),
                    name: name.clone(),
                    receiver: spec.to,
                    image_count: images.len(),
                })),
            };
            stations.push(station);
        }
        for (index, spec) in scenario.receivers.iter().enumerate() {
            let address = station_address(receiver_base + index);
            let mut expected = Vec::new();
            let mut largest = 4096u32;
            let mut feeding = 0u32;
            for (sender, ((_, sender_spec), images)) in senders.iter().zip(&self.images).enumerate() {
                if sender_spec.to == index {
                    feeding += 1;
                    expected.push((station_address(sender), images.clone(), 0));
                    largest = largest.max(images.iter().map(|i| i.len() as u32).max().unwrap_or(0));
                }
            }
            let limit = spec.max_image_bytes.unwrap_or(Limits::default().max_image_len);
            let store = receiver_store(largest.min(limit), feeding).map_err(|message| SetupError::Store {
                scenario: scenario.name.clone(),
                receiver: spec.name.clone(),
                message,
            })?;
            let config = ReceiverNodeConfig {
                receiver: ReceiverConfig { limits: Limits { max_image_len: limit }, ..ReceiverConfig::default() },
                ..ReceiverNodeConfig::default()
            };
            let radio = SimRadio::new(address, spec.channel, self.capacities);
            let node =
                ReceiverNode::new(config, radio, store, FixedTelemetry::default(), mix(seed, 2_000 + index as u64));
            stations.push(SimStation::Receiver(Box::new(ReceiverStation {
                node,
                stored: Vec::new(),
                read_buffer: Vec::new(),
                keep_images: options.keep_images,
                kept: Vec::new(),
                expected,
                corrupt: Vec::new(),
                busy_ns: 0,
            })));
        }

        let mut engine = Engine::new(stations, self.link.phy_rate);
        for (index, (_, spec)) in senders.iter().enumerate() {
            let mut config = self.link;
            config.channel_a = spec.channel;
            config.channel_b = scenario.receivers[spec.to].channel;
            let link = Link::new(config, mix(seed, index as u64))
                .map_err(|e| SetupError::Link { scenario: scenario.name.clone(), message: e.to_string() })?;
            engine.connect(index, receiver_base + spec.to, link);
        }
        if options.capture {
            engine.enable_capture();
        }

        let limit_ns = scenario.time_limit.as_micros().saturating_mul(1_000);
        engine.start();
        let mut finished_ns = None;
        let mut pending = senders.len();
        let mut done = vec![false; senders.len()];
        loop {
            let stop_ns =
                finished_ns.map_or(limit_ns, |f: u64| f.saturating_add(GRACE.as_micros() * 1_000).min(limit_ns));
            let Some(polled) = engine.step(stop_ns) else { break };
            if polled < senders.len() && !done[polled] && sender_finished(engine.station(polled)) {
                done[polled] = true;
                pending -= 1;
                if pending == 0 {
                    finished_ns = Some(engine.now_ns());
                }
            }
        }
        let end_ns = finished_ns.unwrap_or(limit_ns.max(engine.now_ns()));
        Ok(self.judge(seed, &mut engine, end_ns, options))
    }

    fn judge(&self, seed: u64, engine: &mut Engine<SimStation>, end_ns: u64, options: RunOptions) -> RunResult {
        let scenario = &self.scenario;
        let mut images = Vec::new();
        let mut retransmissions = 0u64;
        let mut failures = Vec::new();
        let mut received = Vec::new();
        let corrupt_from: Vec<MacAddress> = engine
            .stations()
            .filter_map(|s| match s {
                SimStation::Receiver(r) => Some(r.corrupt.clone()),
                _ => None,
            })
            .flatten()
            .collect();
        for (index, station) in engine.stations().enumerate() {
            match station {
                SimStation::Sender(s) => {
                    retransmissions += u64::from(s.node.stats().retransmissions);
                    let corrupt = corrupt_from.iter().filter(|a| **a == station_address(index)).count();
                    for k in 0..s.image_count {
                        let (mut result, finished) =
                            s.outcomes.get(k).cloned().unwrap_or((ImageResult::Unfinished, None));
                        // The sender only knows the receiver's CRC-32 said yes; the bytes are checked here.
                        if result == ImageResult::ByteExact && k < corrupt {
                            result = ImageResult::Corrupt;
                        }
                        let bytes = self.images[index].get(k).map_or(0, |i| i.len());
                        images.push(ImageRecord {
                            sender: s.name.clone(),
                            bytes,
                            result,
                            finished_s: finished.map(|f| f.as_micros() as f64 / 1e6),
                        });
                    }
                }
                SimStation::Legacy(l) => {
                    retransmissions += l.node.retransmissions();
                    let address = station_address(index);
                    let receiver = engine.station(self.scenario.expanded_senders().count() + l.receiver);
                    let (stored, corrupt) = match receiver {
                        SimStation::Receiver(r) => (
                            r.stored.iter().filter(|(a, _)| *a == address).count(),
                            r.corrupt.iter().filter(|a| **a == address).count(),
                        ),
                        _ => (0, 0),
                    };
                    for k in 0..l.image_count {
                        let result = if k < stored.saturating_sub(corrupt) {
                            ImageResult::ByteExact
                        } else if k < stored {
                            ImageResult::Corrupt
                        } else {
                            ImageResult::Unfinished
                        };
                        let finished = (k + 1 == l.image_count).then(|| l.node.finished_at()).flatten();
                        let bytes = self.images[index].get(k).map_or(0, |i| i.len());
                        images.push(ImageRecord {
                            sender: l.name.clone(),
                            bytes,
                            result,
                            finished_s: finished.map(|f| f.as_micros() as f64 / 1e6),
                        });
                    }
                }
                SimStation::Receiver(r) => {
                    if options.keep_images {
                        received.extend(r.kept.iter().cloned());
                    }
                }
            }
        }

        let sim_time_s = end_ns as f64 / 1e9;
        // Only delivered images are bounded: a refused offer has no transfer time to compare.
        let loss = self.link.a_to_b.mean_loss();
        let lower_bound_s = images
            .iter()
            .filter(|i| i.result == ImageResult::ByteExact)
            .map(|i| airtime::lower_bound_at(self.link.phy_rate, i.bytes as u64, loss).unwrap_or(0))
            .sum::<u64>() as f64
            / 1e9;
        let efficiency = if sim_time_s > 0.0 && lower_bound_s > 0.0 { lower_bound_s / sim_time_s } else { 0.0 };
        let expect = &scenario.expect;
        match expect.outcome {
            ExpectedOutcome::ByteExact => {
                for (k, image) in images.iter().enumerate() {
                    match &image.result {
                        ImageResult::ByteExact => {}
                        ImageResult::Corrupt => failures
                            .push(format!("{} image {}: received bytes differ from the bytes sent", image.sender, k)),
                        ImageResult::Failed { error } => {
                            failures.push(format!("{} image {}: failed: {}", image.sender, k, error))
                        }
                        ImageResult::Unfinished => failures.push(format!(
                            "{} image {}: not delivered within {} of virtual time",
                            image.sender, k, scenario.time_limit
                        )),
                    }
                }
            }
            ExpectedOutcome::RefusedTooLarge | ExpectedOutcome::TimedOut => {
                let wanted = expect.outcome.name();
                for image in &images {
                    match &image.result {
                        ImageResult::Failed { error } if error == wanted => {}
                        other => failures.push(format!("{}: expected {wanted}, got {}", image.sender, describe(other))),
                    }
                }
            }
        }
        if failures.is_empty() {
            if let Some(max) = expect.max_sim_time {
                if sim_time_s > max.as_secs_f64() {
                    failures.push(format!(
                        "simulated time {sim_time_s:.3} s is over the bound of {:.3} s",
                        max.as_secs_f64()
                    ));
                }
            }
            if let Some(min) = expect.min_efficiency {
                if efficiency < min {
                    failures.push(format!("efficiency {efficiency:.3} is under the bound of {min}"));
                }
            }
        }
        RunResult {
            scenario: scenario.name.clone(),
            seed,
            passed: failures.is_empty(),
            failures,
            air: engine.counters(),
            retransmissions,
            images,
            sim_time_s,
            lower_bound_s,
            efficiency,
            capture: options.capture.then(|| engine.take_capture()),
            received,
        }
    }
}

fn describe(result: &ImageResult) -> String {
    match result {
        ImageResult::ByteExact => "byte-exact delivery".to_owned(),
        ImageResult::Corrupt => "corrupt delivery".to_owned(),
        ImageResult::Failed { error } => error.clone(),
        ImageResult::Unfinished => "no outcome before the time limit".to_owned(),
    }
}

fn sender_finished(station: &SimStation) -> bool {
    match station {
        SimStation::Sender(s) => s.outcomes.len() >= s.image_count,
        SimStation::Legacy(l) => l.node.finished_at().is_some(),
        SimStation::Receiver(_) => false,
    }
}

/// An image store on a RAM flash, sized for images up to `largest` bytes and
/// `senders` concurrent transfers, keeping the two newest images.
fn receiver_store(largest: u32, senders: u32) -> Result<Store<RamFlash>, String> {
    const SECTOR: u32 = 4096;
    let slot_size = (DATA_OFFSET + largest).div_ceil(SECTOR) * SECTOR;
    let slots = (2 + senders.clamp(1, nowcam_store::MAX_PENDING as u32)).max(3);
    let partition = slot_size * slots;
    let config = StoreConfig::for_partition(partition, SECTOR, largest).map_err(|e| e.to_string())?;
    let flash = RamFlash::new(partition as usize).map_err(|e| e.to_string())?;
    Store::mount(flash, config).map_err(|e| e.to_string())
}
