//! A camera node and a receiver node joined by an in-memory radio pair:
//! discovery by probing across channels, images back to back, camera control
//! and telemetry, all through the nodes' public API.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

use nowcam_app::rate::{RateCosts, RateMode};
use nowcam_app::{
    ControlOutcome, LegacyPeers, ReceiverNode, ReceiverNodeConfig, ReceiverNodeEvent, SenderNode, SenderNodeConfig,
    SenderNodeEvent, TooManyLegacyPeers,
};
use nowcam_ports::radio::{PhyRate, Received, SendReport, MAX_FRAME_LEN};
use nowcam_ports::{
    CaptureError, ControlError, FrameSource, ImageInfo, ImageStore, Instant, MacAddress, Radio, SendError, SendHandle,
    StoreError, TelemetrySample, TelemetrySource, WriteHandle,
};
use nowcam_proto::auth::Key;
use nowcam_proto::legacy::Metadata;
use nowcam_proto::time::Duration;
use nowcam_proto::wire::control::{ControlVariable, FrameSize};
use nowcam_proto::wire::{ControlCommand, ControlStatus};

type Air = Rc<RefCell<VecDeque<(MacAddress, MacAddress, u8, Vec<u8>)>>>;

struct LoopRadio {
    address: MacAddress,
    channel: u8,
    air: Air,
    inbox: VecDeque<(MacAddress, Vec<u8>)>,
    reports: VecDeque<SendReport>,
    next_handle: u32,
    /// Every `set_rate` call, in order; refused (`Unsupported`) unless `rate_control`.
    rates_set: Vec<(MacAddress, PhyRate)>,
    rate_control: bool,
}

impl LoopRadio {
    fn new(address: MacAddress, channel: u8, air: Air) -> Self {
        Self {
            address,
            channel,
            air,
            inbox: VecDeque::new(),
            reports: VecDeque::new(),
            next_handle: 0,
            rates_set: Vec::new(),
            rate_control: true,
        }
    }
}

impl Radio for LoopRadio {
    fn address(&self) -> MacAddress {
        self.address
    }

    fn send(&mut self, destination: MacAddress, frame: &[u8]) -> Result<SendHandle, SendError> {
        if frame.len() > MAX_FRAME_LEN {
            return Err(SendError::FrameTooLong);
        }
        self.air.borrow_mut().push_back((self.address, destination, self.channel, frame.to_vec()));
        self.next_handle += 1;
        let handle = SendHandle(self.next_handle);
        self.reports.push_back(SendReport { handle, acknowledged: true });
        Ok(handle)
    }

    fn poll_send_report(&mut self) -> Option<SendReport> {
        self.reports.pop_front()
    }

    fn receive(&mut self, buffer: &mut [u8; MAX_FRAME_LEN]) -> Option<Received> {
        let (source, bytes) = self.inbox.pop_front()?;
        buffer[..bytes.len()].copy_from_slice(&bytes);
        Some(Received { source, destination: self.address, len: bytes.len(), rssi: Some(-40) })
    }

    fn channel(&self) -> u8 {
        self.channel
    }

    fn set_channel(&mut self, channel: u8) -> Result<(), SendError> {
        self.channel = channel;
        Ok(())
    }

    fn set_rate(&mut self, peer: MacAddress, rate: PhyRate) -> Result<(), SendError> {
        self.rates_set.push((peer, rate));
        if self.rate_control {
            Ok(())
        } else {
            Err(SendError::Unsupported)
        }
    }
}

struct Fixture {
    image: Vec<u8>,
    frame: Vec<u8>,
    quality: i32,
}

impl FrameSource for Fixture {
    fn capture(&mut self) -> Result<usize, CaptureError> {
        self.frame = self.image.clone();
        Ok(self.frame.len())
    }

    fn frame(&self) -> &[u8] {
        &self.frame
    }

    fn set_control(&mut self, variable: ControlVariable, value: i32) -> Result<(), ControlError> {
        match variable {
            ControlVariable::Quality if variable.accepts(value) => {
                self.quality = value;
                Ok(())
            }
            ControlVariable::Quality => Err(ControlError::OutOfRange),
            _ => Err(ControlError::Unsupported),
        }
    }

    fn control(&self, variable: ControlVariable) -> Option<i32> {
        (variable == ControlVariable::Quality).then_some(self.quality)
    }

    fn frame_size(&self) -> FrameSize {
        FrameSize::Vga
    }
}

#[derive(Default)]
struct VecStore {
    pending: Vec<Option<Vec<u8>>>,
    images: Vec<(ImageInfo, Vec<u8>)>,
    /// How many of the next commits fail.
    fail_commits: usize,
    begins: usize,
}

impl ImageStore for VecStore {
    fn begin(&mut self, len: u32) -> Result<WriteHandle, StoreError> {
        self.begins += 1;
        self.pending.push(Some(vec![0; len as usize]));
        Ok(WriteHandle { slot: (self.pending.len() - 1) as u16, len })
    }

    fn write_at(&mut self, handle: WriteHandle, offset: u32, data: &[u8]) -> Result<(), StoreError> {
        let image = self.pending[handle.slot as usize].as_mut().ok_or(StoreError::BadHandle)?;
        image
            .get_mut(offset as usize..offset as usize + data.len())
            .ok_or(StoreError::OutOfBounds)?
            .copy_from_slice(data);
        Ok(())
    }

    fn read_pending_at(&mut self, handle: WriteHandle, offset: u32, buffer: &mut [u8]) -> Result<usize, StoreError> {
        let image = self.pending[handle.slot as usize].as_ref().ok_or(StoreError::BadHandle)?;
        let start = (offset as usize).min(image.len());
        let n = buffer.len().min(image.len() - start);
        buffer[..n].copy_from_slice(&image[start..start + n]);
        Ok(n)
    }

    fn commit(&mut self, handle: WriteHandle, crc32: u32) -> Result<ImageInfo, StoreError> {
        if self.fail_commits > 0 {
            self.fail_commits -= 1;
            return Err(StoreError::Flash);
        }
        let image = self.pending[handle.slot as usize].take().ok_or(StoreError::BadHandle)?;
        let info = ImageInfo { sequence: self.images.len() as u32 + 1, len: handle.len, crc32 };
        self.images.push((info, image));
        Ok(info)
    }

    fn abandon(&mut self, handle: WriteHandle) {
        self.pending[handle.slot as usize] = None;
    }

    fn newest(&self) -> Option<ImageInfo> {
        self.images.last().map(|(info, _)| *info)
    }

    fn list(&self, out: &mut [ImageInfo]) -> usize {
        let mut n = 0;
        for ((info, _), slot) in self.images.iter().rev().zip(out.iter_mut()) {
            *slot = *info;
            n += 1;
        }
        n
    }

    fn read_at(&mut self, sequence: u32, offset: u32, buffer: &mut [u8]) -> Result<usize, StoreError> {
        let (_, image) = self.images.iter().find(|(info, _)| info.sequence == sequence).ok_or(StoreError::NotFound)?;
        let start = (offset as usize).min(image.len());
        let n = buffer.len().min(image.len() - start);
        buffer[..n].copy_from_slice(&image[start..start + n]);
        Ok(n)
    }
}

struct Health;

impl TelemetrySource for Health {
    fn sample(&mut self) -> TelemetrySample {
        TelemetrySample { free_heap_bytes: 123_456, chip_temperature_centi_celsius: Some(4_250) }
    }
}

const CAMERA: MacAddress = MacAddress([0x02, 0, 0, 0, 0, 1]);
const RECEIVER: MacAddress = MacAddress([0x02, 0, 0, 0, 0, 2]);

type Camera = SenderNode<LoopRadio, Fixture, Health>;
type Station = ReceiverNode<LoopRadio, VecStore, Health>;

/// Moves every frame on the air to its destination, if it listens on the same channel.
fn deliver(air: &Air, camera: &mut Camera, station: &mut Station) {
    while let Some((source, destination, channel, bytes)) = air.borrow_mut().pop_front() {
        for radio in [camera.radio_mut() as &mut LoopRadio, station.radio_mut()] {
            let addressed = destination == radio.address || destination == MacAddress::BROADCAST;
            if addressed && radio.address != source && radio.channel == channel {
                radio.inbox.push_back((source, bytes.clone()));
            }
        }
    }
}

fn run(camera: &mut Camera, station: &mut Station, air: &Air, from: Instant, until: Instant) -> Instant {
    let mut now = from;
    while now < until {
        let a = camera.poll(now);
        let b = station.poll(now);
        let busy = !air.borrow().is_empty();
        deliver(air, camera, station);
        if busy {
            continue;
        }
        let next = [a, b].into_iter().flatten().min().unwrap_or(until);
        now = next.max(now + Duration::from_micros(1));
    }
    now
}

/// A camera on channel 1 sending 20,000-byte images, and a receiver with the
/// default configuration on `receiver_channel`.
fn pair(config: SenderNodeConfig, receiver_channel: u8, air: &Air) -> (Camera, Station) {
    let fixture = Fixture { image: image(20_000), frame: Vec::new(), quality: 12 };
    let camera = Camera::new(config, LoopRadio::new(CAMERA, 1, air.clone()), fixture, Health, 1);
    let station = Station::new(
        ReceiverNodeConfig::default(),
        LoopRadio::new(RECEIVER, receiver_channel, air.clone()),
        VecStore::default(),
        Health,
        2,
    );
    (camera, station)
}

fn image(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251) as u8).collect()
}

#[test]
fn camera_finds_the_receiver_by_hopping_and_sends_images_back_to_back() {
    let air = Air::default();
    let config = SenderNodeConfig {
        capture_interval: Some(Duration::ZERO),
        image_limit: Some(3),
        ..SenderNodeConfig::default()
    };
    let (mut camera, mut station) = pair(config, 6, &air);
    run(&mut camera, &mut station, &air, Instant::ZERO, Instant::from_millis(10_000));

    let mut found = None;
    let mut done = 0;
    while let Some(event) = camera.pop_event() {
        match event {
            SenderNodeEvent::ReceiverFound { receiver, channel } => found = Some((receiver, channel)),
            SenderNodeEvent::TransferDone { .. } => done += 1,
            _ => {}
        }
    }
    assert_eq!(found, Some((RECEIVER, 6)));
    assert_eq!(done, 3);
    assert!(camera.is_idle());
    let images = &station.store().images;
    assert_eq!(images.len(), 3);
    assert!(images.iter().all(|(_, bytes)| *bytes == image(20_000)));
    assert_eq!(station.cameras()[0].images, 3);
}

#[test]
fn control_requests_reach_the_camera_and_telemetry_comes_back() {
    let air = Air::default();
    let config = SenderNodeConfig {
        receiver: Some(RECEIVER),
        capture_interval: None,
        telemetry_interval: Some(Duration::from_millis(400)),
        ..SenderNodeConfig::default()
    };
    let fixture = Fixture { image: image(3_000), frame: Vec::new(), quality: 12 };
    let mut camera = Camera::new(config, LoopRadio::new(CAMERA, 1, air.clone()), fixture, Health, 1);
    let mut station = Station::new(
        ReceiverNodeConfig::default(),
        LoopRadio::new(RECEIVER, 1, air.clone()),
        VecStore::default(),
        Health,
        2,
    );
    run(&mut camera, &mut station, &air, Instant::ZERO, Instant::from_millis(450));

    let set = station
        .request_control(Instant::from_millis(450), CAMERA, ControlCommand::Set, ControlVariable::Quality, 20)
        .unwrap();
    let bad = station
        .request_control(Instant::from_millis(450), CAMERA, ControlCommand::Set, ControlVariable::Quality, 99)
        .unwrap();
    let capture = station
        .request_control(Instant::from_millis(450), CAMERA, ControlCommand::CaptureNow, ControlVariable::Quality, 0)
        .unwrap();
    deliver(&air, &mut camera, &mut station);
    run(&mut camera, &mut station, &air, Instant::from_millis(450), Instant::from_millis(2_000));

    let mut answers = Vec::new();
    let mut telemetry = None;
    while let Some(event) = station.pop_event() {
        match event {
            ReceiverNodeEvent::Control { request, outcome } => answers.push((request, outcome)),
            ReceiverNodeEvent::Telemetry { telemetry: t, .. } => telemetry = Some(t),
            _ => {}
        }
    }
    let answer = |id| answers.iter().find(|(request, _)| *request == id).map(|(_, outcome)| *outcome);
    assert_eq!(
        answer(set),
        Some(ControlOutcome::Answered { status: ControlStatus::Ok, variable: ControlVariable::Quality, value: 20 })
    );
    assert!(matches!(answer(bad), Some(ControlOutcome::Answered { status: ControlStatus::OutOfRange, .. })));
    assert!(matches!(answer(capture), Some(ControlOutcome::Answered { status: ControlStatus::Ok, .. })));
    assert_eq!(camera.source().quality, 20);
    assert_eq!(station.store().images.len(), 1, "capture-now sent one image");
    let telemetry = telemetry.expect("telemetry arrived");
    assert_eq!(telemetry.free_heap_bytes, 123_456);
    assert_eq!(telemetry.chip_temperature_centi_celsius, Some(4_250));
}

#[test]
fn an_unanswered_control_request_times_out() {
    let air = Air::default();
    let mut station = Station::new(
        ReceiverNodeConfig::default(),
        LoopRadio::new(RECEIVER, 1, air.clone()),
        VecStore::default(),
        Health,
        2,
    );
    let id = station.request_control(Instant::ZERO, CAMERA, ControlCommand::Get, ControlVariable::Quality, 0).unwrap();
    assert_eq!(station.poll(Instant::from_millis(100)), Some(Instant::from_millis(500)));
    station.poll(Instant::from_millis(500));
    assert_eq!(
        station.pop_event(),
        Some(ReceiverNodeEvent::Control { request: id, outcome: ControlOutcome::TimedOut })
    );
}

const KEY: Key = Key::new([0x5a; 32]);

fn keyed_nodes(camera_key: Option<Key>, receiver_key: Option<Key>, air: &Air, images: u32) -> (Camera, Station) {
    let mut config = SenderNodeConfig {
        capture_interval: Some(Duration::ZERO),
        image_limit: Some(images),
        ..SenderNodeConfig::default()
    };
    config.transfer.key = camera_key;
    let fixture = Fixture { image: image(20_000), frame: Vec::new(), quality: 12 };
    let camera = Camera::new(config, LoopRadio::new(CAMERA, 1, air.clone()), fixture, Health, 1);
    let mut station_config = ReceiverNodeConfig::default();
    station_config.receiver.key = receiver_key;
    let station =
        Station::new(station_config, LoopRadio::new(RECEIVER, 6, air.clone()), VecStore::default(), Health, 2);
    (camera, station)
}

#[test]
fn authenticated_nodes_discover_each_other_and_deliver() {
    let air = Air::default();
    let (mut camera, mut station) = keyed_nodes(Some(KEY), Some(KEY), &air, 2);
    run(&mut camera, &mut station, &air, Instant::ZERO, Instant::from_millis(10_000));
    let images = &station.store().images;
    assert_eq!(images.len(), 2);
    assert!(images.iter().all(|(_, bytes)| *bytes == image(20_000)));
    let stats = station.stats();
    assert_eq!(stats.protocol.rejected, 0);
    assert_eq!(stats.application_dropped_auth, 0);
    assert_eq!(camera.stats().dropped_auth, 0);
}

#[test]
fn a_camera_with_another_key_stores_nothing() {
    let air = Air::default();
    let (mut camera, mut station) = keyed_nodes(Some(Key::new([0x5b; 32])), Some(KEY), &air, 1);
    camera.set_receiver(Some(RECEIVER));
    camera.radio_mut().channel = 6;
    run(&mut camera, &mut station, &air, Instant::ZERO, Instant::from_millis(2_000));
    assert!(station.store().images.is_empty());
    assert_eq!(station.store().begins, 0, "no slot for a forged transfer");
    assert!(station.stats().protocol.dropped.refused + station.stats().protocol.dropped.bad_tag > 0);
    // And a camera without a key, to a receiver with one.
    let air = Air::default();
    let (mut camera, mut station) = keyed_nodes(None, Some(KEY), &air, 1);
    camera.set_receiver(Some(RECEIVER));
    camera.radio_mut().channel = 6;
    run(&mut camera, &mut station, &air, Instant::ZERO, Instant::from_millis(2_000));
    assert!(station.store().images.is_empty());
    assert!(station.stats().protocol.dropped.untagged > 0);
}

#[test]
fn a_failed_image_is_offered_again() {
    let air = Air::default();
    let (mut camera, mut station) = keyed_nodes(None, None, &air, 1);
    station.store_mut().fail_commits = 1;
    run(&mut camera, &mut station, &air, Instant::ZERO, Instant::from_millis(5_000));
    let mut failed = 0;
    let mut done = 0;
    while let Some(event) = camera.pop_event() {
        match event {
            SenderNodeEvent::TransferFailed { .. } => failed += 1,
            SenderNodeEvent::TransferDone { .. } => done += 1,
            _ => {}
        }
    }
    assert_eq!((done, failed), (1, 0), "the failed attempt was retried, not reported");
    assert_eq!(camera.stats().image_retries, 1);
    assert_eq!(station.store().images.len(), 1);
}

#[test]
fn the_retries_are_bounded() {
    let air = Air::default();
    let (mut camera, mut station) = keyed_nodes(None, None, &air, 1);
    station.store_mut().fail_commits = usize::MAX;
    run(&mut camera, &mut station, &air, Instant::ZERO, Instant::from_millis(10_000));
    let mut failed = Vec::new();
    while let Some(event) = camera.pop_event() {
        if let SenderNodeEvent::TransferFailed { error, .. } = event {
            failed.push(error);
        }
    }
    assert_eq!(failed, [nowcam_proto::sender::SendError::StoreFailed]);
    assert_eq!(camera.stats().image_retries, 2);
    assert_eq!(camera.stats().images_failed, 1);
}

/// Seed-format frames: taken only from a configured legacy camera.
#[test]
fn legacy_frames_only_from_configured_cameras() {
    const LEGACY: MacAddress = MacAddress([0x02, 0, 0, 0, 0, 9]);
    let data = image(300);
    let metadata = Metadata::for_image(300, 128).emit().to_vec();
    let mut frames = vec![metadata];
    for (index, payload) in data.chunks(128).enumerate() {
        let mut frame = (index as u16).to_be_bytes().to_vec();
        frame.extend_from_slice(payload);
        frames.push(frame);
    }
    for (peers, stored) in [(LegacyPeers::none(), 0), (LegacyPeers::new(&[LEGACY]).unwrap(), 1)] {
        let air = Air::default();
        let config = ReceiverNodeConfig { legacy_peers: peers, ..ReceiverNodeConfig::default() };
        let mut station =
            Station::new(config, LoopRadio::new(RECEIVER, 6, air.clone()), VecStore::default(), Health, 2);
        // A forged 12-byte frame from another address first: never metadata.
        station.radio_mut().inbox.push_back((CAMERA, Metadata::for_image(0, 128).emit().to_vec()));
        for (i, frame) in frames.iter().enumerate() {
            station.radio_mut().inbox.push_back((LEGACY, frame.clone()));
            station.poll(Instant::from_millis(i as u64));
        }
        assert_eq!(station.store().images.len(), stored, "{peers:?}");
        assert_eq!(station.store().begins, stored);
        assert_eq!(station.stats().legacy_refused as usize, 1 + (1 - stored) * frames.len());
    }
    assert_eq!(LegacyPeers::new(&[LEGACY; 9]).map(|p| p.as_slice().len()), Ok(1), "listed once");
    let many: Vec<MacAddress> = (0..9u8).map(|i| MacAddress([2, 0, 0, 0, 1, i])).collect();
    assert_eq!(LegacyPeers::new(&many), Err(TooManyLegacyPeers));
}

/// Runs the pair like [`run`], and returns every frame put on the air with its source and destination.
fn run_logged(
    camera: &mut Camera,
    station: &mut Station,
    air: &Air,
    until: Instant,
) -> Vec<(MacAddress, MacAddress, nowcam_proto::wire::FrameKind)> {
    let mut log = Vec::new();
    let mut now = Instant::ZERO;
    while now < until {
        let a = camera.poll(now);
        let b = station.poll(now);
        let busy = !air.borrow().is_empty();
        for (source, destination, _, bytes) in air.borrow().iter() {
            let frame = nowcam_proto::wire::FrameRepr::parse_bytes(bytes).expect("the nodes' own frames parse");
            log.push((*source, *destination, frame.kind()));
        }
        deliver(air, camera, station);
        if busy {
            continue;
        }
        let next = [a, b].into_iter().flatten().min().unwrap_or(until);
        now = next.max(now + Duration::from_micros(1));
    }
    log
}

/// Chunks and polls go to the broadcast address by default (no MAC ACK, so
/// no MAC retry of a chunk that arrived); offers stay unicast, so only the
/// chosen receiver takes the transfer. `broadcast_chunks: false` sends all
/// to the receiver.
#[test]
fn chunks_and_polls_are_broadcast_unless_configured_otherwise() {
    use nowcam_proto::wire::FrameKind;
    for broadcast_chunks in [true, false] {
        let air = Air::default();
        let config = SenderNodeConfig {
            receiver: Some(RECEIVER),
            capture_interval: Some(Duration::ZERO),
            image_limit: Some(1),
            broadcast_chunks,
            ..SenderNodeConfig::default()
        };
        let (mut camera, mut station) = pair(config, 1, &air);
        let log = run_logged(&mut camera, &mut station, &air, Instant::from_millis(5_000));
        assert_eq!(station.store().images.len(), 1, "broadcast_chunks {broadcast_chunks}");
        assert_eq!(station.store().images[0].1, image(20_000));
        let to = |kind: FrameKind| -> Vec<MacAddress> {
            log.iter()
                .filter(|(source, _, k)| *source == CAMERA && *k == kind)
                .map(|(_, destination, _)| *destination)
                .collect()
        };
        let expected = if broadcast_chunks { MacAddress::BROADCAST } else { RECEIVER };
        let chunks = to(FrameKind::Chunk);
        assert!(chunks.len() >= 20_000usize.div_ceil(241), "{} chunks", chunks.len());
        assert!(chunks.iter().all(|d| *d == expected), "chunks went to {chunks:?}");
        let polls = to(FrameKind::StatusRequest);
        assert!(!polls.is_empty());
        assert!(polls.iter().all(|d| *d == expected));
        let offers = to(FrameKind::Offer);
        assert!(!offers.is_empty());
        assert!(offers.iter().all(|d| *d == RECEIVER));
    }
}

/// With ESP-NOW encryption the receiver answers probes to the broadcast
/// address (a camera cannot read an encrypted reply from a receiver it does
/// not know yet); the camera still finds it and delivers.
#[test]
fn probe_replies_can_go_to_the_broadcast_address() {
    use nowcam_proto::wire::FrameKind;
    let air = Air::default();
    let config = SenderNodeConfig {
        capture_interval: Some(Duration::ZERO),
        image_limit: Some(1),
        ..SenderNodeConfig::default()
    };
    let (mut camera, _) = pair(config, 4, &air);
    let receiver_config = ReceiverNodeConfig { broadcast_probe_replies: true, ..ReceiverNodeConfig::default() };
    let mut station =
        Station::new(receiver_config, LoopRadio::new(RECEIVER, 4, air.clone()), VecStore::default(), Health, 2);
    let log = run_logged(&mut camera, &mut station, &air, Instant::from_millis(5_000));
    let replies: Vec<_> = log.iter().filter(|(_, _, kind)| *kind == FrameKind::ProbeReply).collect();
    assert!(!replies.is_empty());
    assert!(replies
        .iter()
        .all(|(source, destination, _)| *source == RECEIVER && *destination == MacAddress::BROADCAST));
    assert_eq!(station.store().images.len(), 1);
    assert_eq!(station.store().images[0].1, image(20_000));
}

/// Images of a camera with `rate` to a receiver over the loop radio (every frame arrives).
fn rated_images(rate: RateMode, rate_control: bool) -> (Camera, Station) {
    let air = Air::default();
    let config = SenderNodeConfig {
        capture_interval: Some(Duration::ZERO),
        image_limit: Some(3),
        rate,
        ..SenderNodeConfig::default()
    };
    let (mut camera, mut station) = pair(config, 1, &air);
    camera.radio_mut().rate_control = rate_control;
    run(&mut camera, &mut station, &air, Instant::ZERO, Instant::from_millis(10_000));
    assert_eq!(station.store().images.len(), 3);
    assert!(station.store().images.iter().all(|(_, bytes)| *bytes == image(20_000)));
    (camera, station)
}

/// A frame at each rate costs its airtime in some made-up unit: the faster, the cheaper.
fn costs() -> RateCosts {
    RateCosts::new(
        |rate, len| (len as u32 + 50) * 1_000 / (u32::from(rate.name().len() as u8) + rate as u32 + 1),
        Default::default(),
    )
}

#[test]
fn the_radio_rate_is_set_only_when_it_changes() {
    // By default the node never touches the radio's rate.
    let (camera, _) = rated_images(RateMode::Radio, true);
    assert!(camera.radio().rates_set.is_empty());
    // A fixed rate is set once for the broadcast address (probes, chunks) and once for the receiver.
    let (camera, _) = rated_images(RateMode::Fixed(PhyRate::Ofdm24Mbps), true);
    assert_eq!(
        camera.radio().rates_set,
        [(MacAddress::BROADCAST, PhyRate::Ofdm24Mbps), (RECEIVER, PhyRate::Ofdm24Mbps)]
    );
    // Adapted, the rate changes, but never to the rate a peer is known to
    // have: the broadcast address starts at ESP-NOW's 1 Mbps, a unicast peer
    // at a rate unknown (the radio keeps rates per peer), so it is set once first.
    let (camera, _) = rated_images(RateMode::Auto(costs()), true);
    let rates = &camera.radio().rates_set;
    assert!(rates.len() > 2, "{rates:?}");
    for peer in [MacAddress::BROADCAST, RECEIVER] {
        let mut last = peer.is_broadcast().then_some(PhyRate::Dsss1Mbps);
        for (_, rate) in rates.iter().filter(|(address, _)| *address == peer) {
            assert_ne!(Some(*rate), last, "{peer:?} set to the rate it had: {rates:?}");
            last = Some(*rate);
        }
    }
    // Every chunk is counted at a rate, and the controller learnt from the receiver's answers.
    let chunks: u32 = camera.chunks_by_rate().iter().sum();
    assert!(chunks >= 3 * 83, "{:?}", camera.chunks_by_rate());
    let (stats, _) = camera.rate_stats().unwrap();
    assert!(stats.iter().any(|rate| rate.probability_ppm == Some(1_000_000)), "{stats:?}");
    // A radio that cannot set rates is asked once; its frames stay at its own
    // rate (1 Mbps by the port's contract), and after the refusal none is counted.
    let (camera, _) = rated_images(RateMode::Auto(costs()), false);
    assert_eq!(camera.radio().rates_set.len(), 1, "{:?}", camera.radio().rates_set);
    let counted = camera.chunks_by_rate();
    assert!(counted[0] <= 1 && counted[1..].iter().all(|&chunks| chunks == 0), "{counted:?}");
}
