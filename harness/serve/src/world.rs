//! The simulated system `nowcam serve` runs in real time: cameras
//! (`nowcam_app::SenderNode`) sending fixture images to one receiver
//! (`nowcam_app::ReceiverNode`, the receiver's own code) through the
//! simulator's engine and link model, with the simulator's adapters.
//!
//! The engine keeps virtual time; [`World::advance`] runs it up to the wall
//! clock, so the nodes live in real time as a chip would.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use nowcam_app::receiver::ControlRequestError;
use nowcam_app::{CameraInfo, ReceiverNode, ReceiverNodeConfig, ReceiverNodeEvent, SenderNode, SenderNodeConfig};
use nowcam_chips::Capacities;
use nowcam_http::{OwnStatus, ReceiverAccess};
use nowcam_link::{DirectionConfig, Link, LinkConfig, Preset};
use nowcam_ports::camera::{CaptureError, ControlError, FrameSource};
use nowcam_ports::telemetry::{TelemetrySample, TelemetrySource};
use nowcam_ports::{ImageInfo, Instant, MacAddress, StoreError};
use nowcam_proto::time::Duration;
use nowcam_proto::wire::control::{ControlVariable, FrameSize};
use nowcam_proto::wire::ControlCommand;
use nowcam_sim::engine::{station_address, Engine, Station};
use nowcam_sim::radio::SimRadio;
use nowcam_store::ram::RamFlash;
use nowcam_store::Store;

/// The chip build the simulated nodes stand for (the simulator's).
const CAPACITIES: Capacities = nowcam_chips::ESP32C3;
/// The boards' image partition (partitions.csv: `images`).
const PARTITION_BYTES: u32 = nowcam_chips::IMAGE_PARTITION_BYTES;
/// The receiver polls itself at least this often, so that a control request
/// an HTTP handler queued goes on the air within this time.
const SELF_POLL: Duration = Duration::from_millis(5);

type Camera = SenderNode<SimRadio, LoopingSource, DriftingTelemetry, { CAPACITIES.sender_words }>;
pub type Receiver = ReceiverNode<
    SimRadio,
    Store<RamFlash>,
    DriftingTelemetry,
    { CAPACITIES.receiver_transfers },
    { CAPACITIES.transfer_words },
>;

/// How the simulated system is set up.
#[derive(Debug, Clone)]
pub struct WorldConfig {
    pub cameras: usize,
    /// A link preset of `nowcam-link` (`clean`, `random5`, ...), both directions.
    pub preset: String,
    /// Each camera captures this often.
    pub interval: Duration,
    /// The images the cameras send, in turn.
    pub images: Vec<Arc<[u8]>>,
    pub seed: u64,
    /// The cameras' power: on until switched off.
    pub camera_power: CameraPower,
}

/// The cameras' power switch, shared by its clones: switched off, every
/// camera stops as a board whose power is cut (it answers nothing), while
/// the receiver goes on. Tests switch it to see what clients get from a
/// camera that went away.
#[derive(Debug, Clone, Default)]
pub struct CameraPower {
    off: Arc<AtomicBool>,
}

impl CameraPower {
    pub fn switch_off(&self) {
        self.off.store(true, Ordering::Relaxed);
    }

    pub fn is_on(&self) -> bool {
        !self.off.load(Ordering::Relaxed)
    }
}

/// Why the world could not be built.
#[derive(Debug, thiserror::Error)]
pub enum WorldError {
    #[error("unknown link preset {0:?} (one of clean, random5, bursty20, edge30, dup1, reorder, delay)")]
    Preset(String),
    #[error("the link model refused its configuration: {0}")]
    Link(String),
    #[error("the receiver's image store: {0}")]
    Store(String),
    #[error("cameras need at least one image to send")]
    NoImages,
}

enum Node {
    Camera(Box<Camera>),
    Receiver(Box<Receiver>),
}

/// One station of the engine.
pub struct ServeStation {
    node: Node,
    /// A station without power is never polled: it sends and answers nothing.
    powered: bool,
    /// Events the receiver reported since the last [`World::take_events`].
    events: Vec<(Instant, ReceiverNodeEvent)>,
}

impl Station for ServeStation {
    fn poll(&mut self, now: Instant) -> Option<Instant> {
        if !self.powered {
            return None;
        }
        match &mut self.node {
            Node::Camera(camera) => {
                let next = camera.poll(now);
                while camera.pop_event().is_some() {}
                next
            }
            Node::Receiver(receiver) => {
                let next = receiver.poll(now);
                while let Some(event) = receiver.pop_event() {
                    self.events.push((now, event));
                }
                let self_poll = now + SELF_POLL;
                Some(next.map_or(self_poll, |next| next.min(self_poll)))
            }
        }
    }

    fn radio(&self) -> &SimRadio {
        match &self.node {
            Node::Camera(camera) => camera.radio(),
            Node::Receiver(receiver) => receiver.radio(),
        }
    }

    fn radio_mut(&mut self) -> &mut SimRadio {
        match &mut self.node {
            Node::Camera(camera) => camera.radio_mut(),
            Node::Receiver(receiver) => receiver.radio_mut(),
        }
    }
}

/// The receiver is station 0; cameras follow.
pub struct World {
    engine: Engine<ServeStation>,
    started: bool,
    camera_power: CameraPower,
}

impl World {
    pub fn new(config: &WorldConfig) -> Result<World, WorldError> {
        // A receiver alone (no camera) is allowed: it shows the API before any image.
        if config.cameras > 0 && config.images.is_empty() {
            return Err(WorldError::NoImages);
        }
        let direction: DirectionConfig = match config.preset.as_str() {
            "clean" => DirectionConfig::default(),
            name => name.parse::<Preset>().map_err(|_| WorldError::Preset(name.into()))?.direction_config(),
        };
        let link_config = LinkConfig::symmetric(direction);
        let node_config = ReceiverNodeConfig::default();
        let max_image = node_config.receiver.limits.max_image_len;
        let store_config = nowcam_store::Config::for_partition(PARTITION_BYTES, 4096, max_image)
            .map_err(|e| WorldError::Store(e.to_string()))?;
        let flash = RamFlash::new(PARTITION_BYTES as usize).map_err(|e| WorldError::Store(e.to_string()))?;
        let store = Store::mount(flash, store_config).map_err(|e| WorldError::Store(e.to_string()))?;
        let receiver_radio = SimRadio::new(station_address(0), 1, CAPACITIES);
        let receiver = ReceiverNode::new(
            node_config,
            receiver_radio,
            store,
            DriftingTelemetry::new(0, 4_150, 150_000),
            config.seed,
        );
        let mut stations =
            vec![ServeStation { node: Node::Receiver(Box::new(receiver)), powered: true, events: Vec::new() }];
        for index in 0..config.cameras {
            let sender_config = SenderNodeConfig {
                capture_interval: Some(config.interval),
                telemetry_interval: Some(Duration::from_secs(1)),
                ..SenderNodeConfig::default()
            };
            let source = LoopingSource::new(config.images.clone(), index);
            let radio = SimRadio::new(station_address(index + 1), 1, CAPACITIES);
            let telemetry = DriftingTelemetry::new(index as u32 + 1, 3_800 + 120 * index as i16, 90_000);
            let camera = SenderNode::new(sender_config, radio, source, telemetry, config.seed ^ (index as u64 + 1));
            stations.push(ServeStation { node: Node::Camera(Box::new(camera)), powered: true, events: Vec::new() });
        }
        let mut engine = Engine::new(stations, link_config.phy_rate);
        engine.set_send_overhead(link_config.send_overhead_ns);
        for index in 0..config.cameras {
            let link = Link::new(link_config, config.seed.wrapping_add(index as u64 * 7919))
                .map_err(|e| WorldError::Link(e.to_string()))?;
            engine.connect(index + 1, 0, link);
        }
        Ok(World { engine, started: false, camera_power: config.camera_power.clone() })
    }

    /// Runs everything due up to `now` (the wall clock since start).
    pub fn advance(&mut self, now: Instant) {
        if !self.started {
            self.engine.start();
            self.started = true;
        }
        if !self.camera_power.is_on() {
            for index in 1..self.engine.stations().count() {
                self.engine.station_mut(index).powered = false;
            }
        }
        let limit = now.as_micros().saturating_mul(1_000);
        while self.engine.step(limit).is_some() {}
    }

    /// The receiver's events since the last call, with when they happened.
    pub fn take_events(&mut self) -> Vec<(Instant, ReceiverNodeEvent)> {
        std::mem::take(&mut self.engine.station_mut(0).events)
    }

    pub fn receiver(&self) -> &Receiver {
        match &self.engine.station(0).node {
            Node::Receiver(receiver) => receiver,
            Node::Camera(_) => unreachable!("station 0 is the receiver"),
        }
    }

    pub fn receiver_mut(&mut self) -> &mut Receiver {
        match &mut self.engine.station_mut(0).node {
            Node::Receiver(receiver) => receiver,
            Node::Camera(_) => unreachable!("station 0 is the receiver"),
        }
    }
}

impl ReceiverAccess for World {
    fn newest_image(&self) -> Option<ImageInfo> {
        self.receiver().newest_image()
    }

    fn images(&self, out: &mut [ImageInfo]) -> usize {
        self.receiver().images(out)
    }

    fn read_image(&mut self, sequence: u32, offset: u32, buffer: &mut [u8]) -> Result<usize, StoreError> {
        self.receiver_mut().read_image(sequence, offset, buffer)
    }

    fn cameras(&self) -> &[CameraInfo] {
        ReceiverAccess::cameras(self.receiver())
    }

    fn own_status(&mut self) -> OwnStatus {
        self.receiver_mut().own_status()
    }

    fn request_control(
        &mut self,
        now: Instant,
        camera: MacAddress,
        command: ControlCommand,
        variable: ControlVariable,
        value: i32,
    ) -> Result<u16, ControlRequestError> {
        ReceiverAccess::request_control(self.receiver_mut(), now, camera, command, variable, value)
    }
}

/// A camera that captures the fixture images in turn, forever, starting at
/// its own offset so that several cameras show different images.
pub struct LoopingSource {
    images: Vec<Arc<[u8]>>,
    next: usize,
    current: Option<usize>,
    controls: Vec<(ControlVariable, i32)>,
}

impl LoopingSource {
    pub fn new(images: Vec<Arc<[u8]>>, offset: usize) -> LoopingSource {
        let next = offset % images.len().max(1);
        LoopingSource { images, next, current: None, controls: Vec::new() }
    }
}

impl FrameSource for LoopingSource {
    fn capture(&mut self) -> Result<usize, CaptureError> {
        let image = self.images.get(self.next).ok_or(CaptureError::NoImage)?;
        self.current = Some(self.next);
        self.next = (self.next + 1) % self.images.len();
        Ok(image.len())
    }

    fn frame(&self) -> &[u8] {
        self.current.and_then(|index| self.images.get(index)).map_or(&[], |image| image)
    }

    fn set_control(&mut self, variable: ControlVariable, value: i32) -> Result<(), ControlError> {
        if !variable.accepts(value) {
            return Err(ControlError::OutOfRange);
        }
        match self.controls.iter_mut().find(|(v, _)| *v == variable) {
            Some(entry) => entry.1 = value,
            None => self.controls.push((variable, value)),
        }
        Ok(())
    }

    fn control(&self, variable: ControlVariable) -> Option<i32> {
        self.controls.iter().find(|(v, _)| *v == variable).map(|(_, value)| *value)
    }

    fn frame_size(&self) -> FrameSize {
        FrameSize::Vga
    }
}

/// Health readings that wander a little with every sample, so the page's
/// chart has something to draw; no clock, only the sample count.
pub struct DriftingTelemetry {
    samples: u32,
    phase: u32,
    centi_celsius: i16,
    free_heap: u32,
}

impl DriftingTelemetry {
    pub fn new(phase: u32, centi_celsius: i16, free_heap: u32) -> DriftingTelemetry {
        DriftingTelemetry { samples: 0, phase, centi_celsius, free_heap }
    }
}

impl TelemetrySource for DriftingTelemetry {
    fn sample(&mut self) -> TelemetrySample {
        self.samples = self.samples.wrapping_add(1);
        // A triangle wave of period 40 samples: ±2 °C and ±4 KB.
        let step = (self.samples.wrapping_add(self.phase * 7) % 40) as i32;
        let wave = if step < 20 { step - 10 } else { 30 - step };
        TelemetrySample {
            free_heap_bytes: (self.free_heap as i32 + wave * 400) as u32,
            chip_temperature_centi_celsius: Some(self.centi_celsius + (wave * 20) as i16),
        }
    }
}
