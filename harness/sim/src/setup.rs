//! Setting up a scenario run: the images each sender sends, the link
//! configuration, the receivers' image stores and the stations themselves.

use std::sync::Arc;

use nowcam_app::{LegacyPeers, RateCosts, RateMode, ReceiverNode, ReceiverNodeConfig, SenderNode, SenderNodeConfig};
use nowcam_chips::Capacities;
use nowcam_link::{airtime, Delay, DirectionConfig, Link, LinkConfig, LossModel, Outages, PhyRate, Preset};
use nowcam_proto::reassembler::Limits;
use nowcam_proto::receiver::ReceiverConfig;
use nowcam_proto::sender::SenderConfig;
use nowcam_proto::time::Duration;
use nowcam_proto::wire::control::FrameSize;
use nowcam_proto::wire::V1_MAX_FRAME_LEN;
use nowcam_store::ram::RamFlash;

use crate::power::{PowerFlash, PowerState};
use nowcam_store::{Config as StoreConfig, EraseStep, FlashTiming, ImageStore, Store, TimedFlash};

use crate::engine::{station_address, Engine};
use crate::fixtures::{synthetic_image, FixtureCatalog, FixtureError};
use crate::hostile::HostileStation;
use crate::nodes::{FixedTelemetry, FixtureSource, LegacyStation};
use crate::radio::SimRadio;
use crate::run::{HostileWatch, LegacySenderStation, ReceiverStation, RunOptions, SenderStation, SimStation};
use crate::scenario::{DirectionSpec, ImageRef, LinkSpec, LossSpec, Protocol, Scenario};

/// The capacities the simulator's node types are compiled with: the ESP32-C3
/// build's, so that a simulated result is one the chip can reproduce.
pub const NODE_CAPACITIES: Capacities = nowcam_chips::ESP32C3;
/// Bitmap words per receiving transfer (the replay's receiver uses it too).
pub const TRANSFER_WORDS: usize = NODE_CAPACITIES.transfer_words;

pub(crate) type AppSender = SenderNode<SimRadio, FixtureSource, FixedTelemetry, { NODE_CAPACITIES.sender_words }>;
pub(crate) type AppReceiver = ReceiverNode<
    SimRadio,
    Store<TimedFlash<PowerFlash>>,
    FixedTelemetry,
    { NODE_CAPACITIES.receiver_transfers },
    { NODE_CAPACITIES.transfer_words },
>;

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
    /// (Boxed: two `Capacities` would make every `Result` of this error large.)
    #[error("{scenario}: capacities {requested:?} differ from the {compiled:?} the simulated nodes are built with")]
    Capacities { scenario: String, requested: Box<Capacities>, compiled: Box<Capacities> },
    /// A node's frame size is larger than the frames the chip build's radio takes.
    #[error("{scenario}: {node}: frame_size {frame_size} is above the {max_frame_len}-byte frames the chip build's radio takes")]
    FrameSize { scenario: String, node: String, frame_size: u16, max_frame_len: usize },
}

/// A scenario with its images read, ready to run with any seed.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub scenario: Scenario,
    /// Per expanded sender, the images it sends, in order (repeats included).
    pub(crate) images: Vec<Vec<Arc<[u8]>>>,
    /// The SHA-256 of each image in `images`, hashed once for every run.
    pub(crate) images_sha256: Vec<Vec<String>>,
    pub(crate) link: LinkConfig,
    /// The chip build the nodes stand for: its queue depths size the radios,
    /// and `run` refuses capacities the node types were not compiled with.
    pub(crate) capacities: Capacities,
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
    let images_sha256 =
        images.iter().map(|list| list.iter().map(|image| crate::fixtures::sha256_hex(image)).collect()).collect();
    Ok(Prepared { scenario: scenario.clone(), images, images_sha256, link, capacities: NODE_CAPACITIES })
}

fn direction_config(spec: &DirectionSpec) -> Result<DirectionConfig, String> {
    let mut config = match &spec.preset {
        Some(name) => name.parse::<Preset>().map_err(|e| e.to_string())?.direction_config(),
        None => DirectionConfig::default(),
    };
    if let Some(loss) = spec.loss {
        config.loss = match loss {
            LossSpec::Bernoulli { probability: 0.0 } => LossModel::Lossless,
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
    if spec.snr_db.is_some() {
        config.snr_db = spec.snr_db;
    }
    Ok(config)
}

/// The PHY rate of `mbps` megabits a second (1, 2, 5.5, 11, 6 ... 54).
pub fn phy_rate(mbps: f64) -> Result<PhyRate, String> {
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

/// What a chunk frame costs the camera at each rate the controller chooses
/// among: its broadcast airtime (DIFS, the mean first backoff, the frame),
/// or the chip's per-send time where that is longer, as the engine spaces a
/// station's sends. The controller starts at the fastest rate, as the chip's does.
pub fn auto_rate_costs(link: &LinkConfig) -> RateCosts {
    let overhead_ns = link.send_overhead_ns;
    RateCosts::camera(|rate, frame_len| airtime::broadcast_send_ns(rate, frame_len, overhead_ns))
}

/// Mixes a seed with a stream number into an independent seed (splitmix64).
pub fn mix(seed: u64, stream: u64) -> u64 {
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

    /// The station index of the hostile station, when the scenario has one:
    /// after the senders and the receivers.
    pub(crate) fn hostile_index(&self) -> Option<usize> {
        (!self.scenario.hostile.is_none()).then(|| self.images.len() + self.scenario.receivers.len())
    }

    /// The legitimate transfer a hostile station attacks: the first nowcam
    /// sender's station index and its receiver's index among the receivers.
    fn victim(&self) -> Option<(usize, usize)> {
        self.hostile_index()?;
        self.first_nowcam_sender()
    }

    /// The first nowcam sender's station index and its receiver's index among the receivers.
    fn first_nowcam_sender(&self) -> Option<(usize, usize)> {
        self.scenario
            .expanded_senders()
            .enumerate()
            .find(|(_, (_, spec))| spec.protocol == Protocol::Nowcam)
            .map(|(index, (_, spec))| (index, spec.to))
    }

    /// Builds the stations and links of one run with one seed.
    pub(crate) fn build(&self, seed: u64, options: RunOptions) -> Result<Engine<SimStation>, SetupError> {
        let scenario = &self.scenario;
        if self.capacities != NODE_CAPACITIES {
            return Err(SetupError::Capacities {
                scenario: scenario.name.clone(),
                requested: Box::new(self.capacities),
                compiled: Box::new(NODE_CAPACITIES),
            });
        }
        let senders: Vec<_> = scenario.expanded_senders().collect();
        let frame_sizes = senders
            .iter()
            .map(|(name, spec)| (format!("sender {name}"), spec.frame_size))
            .chain(scenario.receivers.iter().map(|spec| (format!("receiver {}", spec.name), spec.frame_size)));
        for (node, frame_size) in frame_sizes {
            if usize::from(frame_size) > self.capacities.max_frame_len {
                return Err(SetupError::FrameSize {
                    scenario: scenario.name.clone(),
                    node,
                    frame_size,
                    max_frame_len: self.capacities.max_frame_len,
                });
            }
        }
        let receiver_base = senders.len();
        let mut stations = Vec::with_capacity(senders.len() + scenario.receivers.len());
        for (index, ((name, spec), images)) in senders.iter().zip(&self.images).enumerate() {
            let radio = SimRadio::new(station_address(index), spec.channel, self.capacities)
                .with_max_frame_len(usize::from(spec.frame_size));
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
                        transfer: SenderConfig { key: scenario.key, ..SenderConfig::default() },
                        max_frame_len: spec.frame_size,
                        rate: if scenario.link.auto_rate {
                            RateMode::Auto(auto_rate_costs(&self.link))
                        } else {
                            RateMode::Radio
                        },
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
                    image_count: images.len(),
                })),
            };
            stations.push(station);
        }
        for (index, spec) in scenario.receivers.iter().enumerate() {
            let address = station_address(receiver_base + index);
            // A receiver takes the seed's legacy format only from cameras configured as legacy ones.
            let mut legacy_peers = LegacyPeers::default();
            for (sender, (_, sender_spec)) in senders.iter().enumerate() {
                if sender_spec.to == index && sender_spec.protocol == Protocol::Legacy {
                    legacy_peers.push(station_address(sender)).map_err(|error| SetupError::Store {
                        scenario: scenario.name.clone(),
                        receiver: spec.name.clone(),
                        message: error.to_string(),
                    })?;
                }
            }
            let limit = spec.max_image_bytes.unwrap_or(Limits::default().max_image_len);
            let timing = scenario.flash.timing();
            let victim = self.victim().filter(|(_, receiver)| *receiver == index);
            let powered = self
                .first_nowcam_sender()
                .filter(|(_, receiver)| !scenario.power_cuts.is_empty() && *receiver == index);
            // Under attack or power cuts, the receiver starts with an image
            // stored before the run, which must survive it.
            let earlier = (victim.is_some() || powered.is_some()).then(|| synthetic_image(EARLIER_IMAGE_LEN));
            let (store, earlier_sequence) = receiver_store(limit, timing, earlier.as_deref()).map_err(|message| {
                SetupError::Store { scenario: scenario.name.clone(), receiver: spec.name.clone(), message }
            })?;
            let slots = store.config().slot_count;
            let config = ReceiverNodeConfig {
                receiver: ReceiverConfig {
                    limits: Limits { max_image_len: limit },
                    key: scenario.key,
                    max_frame_len: spec.frame_size,
                    ..ReceiverConfig::default()
                },
                legacy_peers,
                ..ReceiverNodeConfig::default()
            };
            let radio =
                SimRadio::new(address, spec.channel, self.capacities).with_max_frame_len(usize::from(spec.frame_size));
            let node_seed = mix(seed, 2_000 + index as u64);
            let node = ReceiverNode::new(config, radio, store, FixedTelemetry::default(), node_seed);
            let mut station = ReceiverStation::new(node);
            if powered.is_some() {
                station.power = Some(Box::new(crate::run::PowerSetup {
                    state: PowerState::new(&scenario.power_cuts),
                    config,
                    seed: node_seed,
                    store_config: station.node.store().config(),
                }));
            }
            if victim.is_some() {
                station.watch = Some(Box::new(HostileWatch {
                    by_kind: Default::default(),
                    legitimate: (0..senders.len()).map(station_address).collect(),
                    commits: Vec::new(),
                    earlier: earlier_sequence.zip(earlier),
                    earlier_evicted_early: false,
                    slots,
                    peak_open_transfers: 0,
                }));
            }
            stations.push(SimStation::Receiver(Box::new(station)));
        }
        let hostile = self.victim().map(|(sender, receiver)| {
            let index = receiver_base + scenario.receivers.len();
            let channel = scenario.receivers[receiver].channel;
            let radio = SimRadio::new(station_address(index), channel, self.capacities);
            let victim = station_address(sender);
            let receiver = station_address(receiver_base + receiver);
            let station = HostileStation::new(radio, scenario.hostile, victim, receiver, mix(seed, 3_000));
            stations.push(SimStation::Hostile(Box::new(station)));
            (index, sender, receiver_base + self.victim().map_or(0, |(_, r)| r))
        });

        let mut engine = Engine::new(stations, self.link.phy_rate);
        engine.set_send_overhead(self.link.send_overhead_ns);
        for (index, (_, spec)) in senders.iter().enumerate() {
            let mut config = self.link;
            config.channel_a = spec.channel;
            config.channel_b = scenario.receivers[spec.to].channel;
            let link = Link::new(config, mix(seed, index as u64))
                .map_err(|e| SetupError::Link { scenario: scenario.name.clone(), message: e.to_string() })?;
            engine.connect(index, receiver_base + spec.to, link);
        }
        if let Some((index, sender, receiver)) = hostile {
            // The hostile station sits close to both ends: a clean link to each.
            for (to, stream) in [(receiver, 3_001), (sender, 3_002)] {
                let mut config = LinkConfig::symmetric(DirectionConfig::default());
                config.phy_rate = self.link.phy_rate;
                config.channel_a = scenario.receivers[self.victim().map_or(0, |(_, r)| r)].channel;
                config.channel_b = config.channel_a;
                let link = Link::new(config, mix(seed, stream))
                    .map_err(|e| SetupError::Link { scenario: scenario.name.clone(), message: e.to_string() })?;
                engine.connect(index, to, link);
            }
            engine.set_hostile(index);
        }
        if options.capture {
            engine.enable_capture();
        }

        Ok(engine)
    }
}

/// Bytes of the image a receiver under attack holds from before the run.
const EARLIER_IMAGE_LEN: usize = 3_001;

/// An image store laid out as the receiver board lays out its own: the
/// board's image partition ([`nowcam_chips::IMAGE_PARTITION_BYTES`]) cut
/// into slots for images of up to `limit` bytes (the receiver's limit, 512
/// KiB unless the scenario says less: four 576 KiB slots), on a RAM flash
/// with the latencies of `timing`. A slot holds far more than a 20 KB
/// image, as on the chip: erase-ahead erases all of it between transfers,
/// and a segment repair relocates bad segments into what the image leaves.
///
/// The store starts with its slots erased ahead as the board keeps them
/// (all but two: two of four): the receiver was idle before the run, which
/// is its steady state between images. That erase counts as flash erase
/// time of the run, not as time the receiver was busy during it.
///
/// `earlier`, when given, is committed first: an image from before the run
/// (its sequence number is returned with the store).
fn receiver_store(
    limit: u32,
    timing: FlashTiming,
    earlier: Option<&[u8]>,
) -> Result<(Store<TimedFlash<PowerFlash>>, Option<u32>), String> {
    const SECTOR: u32 = 4096;
    let partition = nowcam_chips::IMAGE_PARTITION_BYTES;
    let config = StoreConfig::for_partition(partition, SECTOR, limit).map_err(|e| e.to_string())?;
    let ram = RamFlash::new(partition as usize).map_err(|e| e.to_string())?;
    let flash = TimedFlash::new(PowerFlash::new(ram, config.slot_size), timing);
    let mut store = Store::mount(flash, config).map_err(|e| e.to_string())?;
    let earlier = match earlier {
        Some(bytes) => {
            let handle = store.begin(bytes.len() as u32).map_err(|e| e.to_string())?;
            store.write_at(handle, 0, bytes).map_err(|e| e.to_string())?;
            let info = store.commit(handle, nowcam_proto::chunker::crc32(bytes)).map_err(|e| e.to_string())?;
            Some(info.sequence)
        }
        None => None,
    };
    // The store keeps as many slots erased ahead as on the board (all but two).
    while store.erase_ahead().map_err(|e| e.to_string())? == EraseStep::Erased {}
    store.flash_mut().take_busy();
    Ok((store, earlier))
}

/// What a scenario needs from a target, so that a target that cannot
/// provide it reports the scenario as skipped with a reason, never as passed.
/// The same struct describes what a target offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct Needs {
    /// Senders, after expanding `count`.
    pub senders: usize,
    pub receivers: usize,
    /// Loss, duplication, reordering or delay on the link (anything but a clean link).
    pub link_faults: bool,
    /// A sender of the seed project's legacy format.
    pub legacy: bool,
    /// Link outages.
    pub outages: bool,
    /// ESP-NOW v2 frames (a node's `frame_size` above 250).
    pub v2_frames: bool,
    /// The cameras' rate controller (`phy_rate_mbps = "auto"`).
    pub auto_rate: bool,
    /// Every frame at a PHY rate other than ESP-NOW's 1 Mbps (`phy_rate_mbps`).
    pub fixed_rate: bool,
}

impl Needs {
    /// Why a target offering `offered` cannot run a scenario that needs `self`; `None` when it can.
    pub fn unmet_by(&self, offered: &Needs) -> Option<String> {
        let mut missing = Vec::new();
        if self.senders > offered.senders {
            missing.push(format!("{} senders, the target has {}", self.senders, offered.senders));
        }
        if self.receivers > offered.receivers {
            missing.push(format!("{} receivers, the target has {}", self.receivers, offered.receivers));
        }
        for (needed, offered, what) in [
            (self.link_faults, offered.link_faults, "link faults"),
            (self.legacy, offered.legacy, "a legacy sender"),
            (self.outages, offered.outages, "link outages"),
            (self.v2_frames, offered.v2_frames, "ESP-NOW v2 frames"),
            (self.auto_rate, offered.auto_rate, "the rate controller (phy_rate_mbps = \"auto\")"),
            (self.fixed_rate, offered.fixed_rate, "a PHY rate other than 1 Mbps (phy_rate_mbps)"),
        ] {
            if needed && !offered {
                missing.push(format!("{what}, which the target cannot provide"));
            }
        }
        (!missing.is_empty()).then(|| format!("needs {}", missing.join("; ")))
    }
}

impl Scenario {
    /// What this scenario needs from a target.
    pub fn needs(&self) -> Needs {
        let faulty = |spec: &DirectionSpec| {
            let positive = |value: Option<f64>| value.is_some_and(|v| v > 0.0);
            spec.preset.as_deref().is_some_and(|preset| preset != "clean")
                || spec.loss.is_some_and(|loss| loss.mean_loss() > 0.0)
                || [spec.duplicate, spec.reorder, spec.delay_ms, spec.jitter_ms, spec.spike_probability]
                    .into_iter()
                    .any(positive)
                // Noise: frames lost by the error-rate model at their rate.
                || spec.snr_db.is_some()
        };
        Needs {
            senders: self.expanded_senders().count(),
            receivers: self.receivers.len(),
            link_faults: faulty(&self.link.data) || faulty(&self.link.status),
            legacy: self.senders.iter().any(|sender| sender.protocol == Protocol::Legacy),
            outages: !self.link.outages.is_empty(),
            v2_frames: self.senders.iter().any(|sender| usize::from(sender.frame_size) > V1_MAX_FRAME_LEN)
                || self.receivers.iter().any(|receiver| usize::from(receiver.frame_size) > V1_MAX_FRAME_LEN),
            auto_rate: self.link.auto_rate,
            fixed_rate: !self.link.auto_rate && self.link.phy_rate_mbps != 1.0,
        }
    }
}
