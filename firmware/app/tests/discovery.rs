//! Finding the receiver and finding it again: probe back-off, a receiver
//! that moves channel (as one does when it joins an access point), and the
//! node API the chip's test console drives.
//!
//! The air here is instantaneous and per channel: a unicast frame is
//! acknowledged exactly when its destination listens on the sender's
//! channel, as ESP-NOW's MAC-level acknowledgement is.

use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};
use std::rc::Rc;

use nowcam_app::{ReceiverNode, ReceiverNodeConfig, SenderNode, SenderNodeConfig, SenderNodeEvent};
use nowcam_ports::radio::{Received, SendReport, MAX_FRAME_LEN};
use nowcam_ports::{
    CaptureError, ControlError, FrameSource, ImageInfo, ImageStore, Instant, MacAddress, Radio, SendError, SendHandle,
    StoreError, TelemetrySample, TelemetrySource, WriteHandle,
};
use nowcam_proto::sender::SendError as TransferError;
use nowcam_proto::time::Duration;
use nowcam_proto::wire::control::{ControlVariable, FrameSize};
use nowcam_proto::wire::{AbortReason, FrameRepr};

const CAMERA: MacAddress = MacAddress([0x02, 0, 0, 0, 0, 1]);
const RECEIVER: MacAddress = MacAddress([0x02, 0, 0, 0, 0, 2]);
const OTHER_RECEIVER: MacAddress = MacAddress([0x02, 0, 0, 0, 0, 3]);

/// A frame put on the air: when, by whom, to whom, on which channel, and whether it was a probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Sent {
    at: Instant,
    source: MacAddress,
    destination: MacAddress,
    channel: u8,
    probe: bool,
}

#[derive(Default)]
struct World {
    now: Instant,
    /// The channel each station listens on; a station not here is off.
    channels: BTreeMap<[u8; 6], u8>,
    inboxes: BTreeMap<[u8; 6], VecDeque<(MacAddress, Vec<u8>)>>,
    sent: Vec<Sent>,
}

type Shared = Rc<RefCell<World>>;

struct AirRadio {
    address: MacAddress,
    world: Shared,
    reports: VecDeque<SendReport>,
    next_handle: u32,
}

impl AirRadio {
    fn new(address: MacAddress, channel: u8, world: &Shared) -> Self {
        world.borrow_mut().channels.insert(address.0, channel);
        AirRadio { address, world: world.clone(), reports: VecDeque::new(), next_handle: 0 }
    }
}

impl Radio for AirRadio {
    fn address(&self) -> MacAddress {
        self.address
    }

    fn send(&mut self, destination: MacAddress, frame: &[u8]) -> Result<SendHandle, SendError> {
        let mut world = self.world.borrow_mut();
        let channel = world.channels[&self.address.0];
        let probe = matches!(FrameRepr::parse_bytes(frame), Ok(FrameRepr::Probe(_)));
        let at = world.now;
        world.sent.push(Sent { at, source: self.address, destination, channel, probe });
        let listeners: Vec<[u8; 6]> = world
            .channels
            .iter()
            .filter(|(address, listening)| **listening == channel && **address != self.address.0)
            .filter(|(address, _)| destination.is_broadcast() || **address == destination.0)
            .map(|(address, _)| *address)
            .collect();
        for address in &listeners {
            world.inboxes.entry(*address).or_default().push_back((self.address, frame.to_vec()));
        }
        self.next_handle += 1;
        let handle = SendHandle(self.next_handle);
        // Broadcasts are never acknowledged on the air; ESP-NOW reports them as sent.
        let acknowledged = destination.is_broadcast() || !listeners.is_empty();
        self.reports.push_back(SendReport { handle, acknowledged });
        Ok(handle)
    }

    fn poll_send_report(&mut self) -> Option<SendReport> {
        self.reports.pop_front()
    }

    fn receive(&mut self, buffer: &mut [u8; MAX_FRAME_LEN]) -> Option<Received> {
        let (source, bytes) = self.world.borrow_mut().inboxes.get_mut(&self.address.0)?.pop_front()?;
        buffer[..bytes.len()].copy_from_slice(&bytes);
        Some(Received { source, destination: self.address, len: bytes.len(), rssi: Some(-50) })
    }

    fn channel(&self) -> u8 {
        self.world.borrow().channels.get(&self.address.0).copied().unwrap_or(0)
    }

    fn set_channel(&mut self, channel: u8) -> Result<(), SendError> {
        self.world.borrow_mut().channels.insert(self.address.0, channel);
        Ok(())
    }
}

struct Fixture {
    image: Vec<u8>,
    frame: Vec<u8>,
    captures: u32,
    /// A camera that captures in the background: `capture` hands over a
    /// prepared frame, and answers `NotReady` until one is.
    needs_preparing: bool,
    prepared: bool,
}

impl Fixture {
    fn new(len: usize) -> Self {
        let image = (0..len).map(|i| (i * 7 % 253) as u8).collect();
        Fixture { image, frame: Vec::new(), captures: 0, needs_preparing: false, prepared: false }
    }
}

impl FrameSource for Fixture {
    fn capture(&mut self) -> Result<usize, CaptureError> {
        if self.needs_preparing && !std::mem::take(&mut self.prepared) {
            return Err(CaptureError::NotReady);
        }
        self.captures += 1;
        self.frame = self.image.clone();
        Ok(self.frame.len())
    }

    fn frame(&self) -> &[u8] {
        &self.frame
    }

    fn set_control(&mut self, _variable: ControlVariable, _value: i32) -> Result<(), ControlError> {
        Err(ControlError::Unsupported)
    }

    fn control(&self, _variable: ControlVariable) -> Option<i32> {
        None
    }

    fn frame_size(&self) -> FrameSize {
        FrameSize::Vga
    }
}

#[derive(Default)]
struct VecStore {
    pending: Vec<Option<Vec<u8>>>,
    images: Vec<(ImageInfo, Vec<u8>)>,
}

impl ImageStore for VecStore {
    fn begin(&mut self, len: u32) -> Result<WriteHandle, StoreError> {
        self.pending.push(Some(vec![0; len as usize]));
        Ok(WriteHandle { slot: (self.pending.len() - 1) as u16, len })
    }

    fn write_at(&mut self, handle: WriteHandle, offset: u32, data: &[u8]) -> Result<(), StoreError> {
        let image = self.pending[handle.slot as usize].as_mut().ok_or(StoreError::BadHandle)?;
        let range = offset as usize..offset as usize + data.len();
        image.get_mut(range).ok_or(StoreError::OutOfBounds)?.copy_from_slice(data);
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
        TelemetrySample { free_heap_bytes: 1, chip_temperature_centi_celsius: None }
    }
}

type Camera = SenderNode<AirRadio, Fixture, Health>;
type Station = ReceiverNode<AirRadio, VecStore, Health>;

fn camera(world: &Shared, channel: u8, config: SenderNodeConfig) -> Camera {
    Camera::new(config, AirRadio::new(CAMERA, channel, world), Fixture::new(5_000), Health, 7)
}

fn station(world: &Shared, address: MacAddress, channel: u8) -> Station {
    Station::new(ReceiverNodeConfig::default(), AirRadio::new(address, channel, world), VecStore::default(), Health, 9)
}

/// Polls every node at its deadlines (frames arrive at once) from `from` to `until`; returns the camera's events.
fn run(
    world: &Shared,
    camera: &mut Camera,
    stations: &mut [&mut Station],
    from: Instant,
    until: Instant,
) -> Vec<SenderNodeEvent> {
    let mut now = from;
    let mut events = Vec::new();
    while now < until {
        world.borrow_mut().now = now;
        let mut next = camera.poll(now);
        for station in stations.iter_mut() {
            next = [next, station.poll(now)].into_iter().flatten().min();
        }
        // Frames and send reports of this round are read in the next, at the same
        // instant, as a radio event wakes a node on the chip.
        let reports =
            !camera.radio().reports.is_empty() || stations.iter().any(|station| !station.radio().reports.is_empty());
        let waiting = reports || world.borrow().inboxes.values().any(|inbox| !inbox.is_empty());
        while let Some(event) = camera.pop_event() {
            events.push(event);
        }
        if waiting {
            continue;
        }
        now = next.unwrap_or(until).max(now + Duration::from_micros(1));
    }
    events
}

/// Gaps between successive probes, in milliseconds, as (gap, how many in a row).
fn probe_gaps(world: &Shared) -> Vec<(u64, usize)> {
    let times: Vec<Instant> = world.borrow().sent.iter().filter(|sent| sent.probe).map(|sent| sent.at).collect();
    let mut runs: Vec<(u64, usize)> = Vec::new();
    for pair in times.windows(2) {
        let gap = pair[1].saturating_since(pair[0]).as_millis();
        match runs.last_mut() {
            Some((last, count)) if *last == gap => *count += 1,
            _ => runs.push((gap, 1)),
        }
    }
    runs
}

#[test]
fn probes_back_off_sweep_by_sweep_up_to_the_cap_while_hopping() {
    let world = Shared::default();
    let mut camera = camera(&world, 1, SenderNodeConfig { capture_interval: None, ..SenderNodeConfig::default() });
    run(&world, &mut camera, &mut [], Instant::ZERO, Instant::from_millis(60_000));
    let gaps = probe_gaps(&world);
    // 13 channels at 30 ms, then each sweep at twice the gap, until 500 ms.
    assert_eq!(&gaps[..5], &[(30, 13), (60, 13), (120, 13), (240, 13), (480, 13)]);
    assert_eq!(gaps[5].0, 500);
    assert_eq!(gaps.len(), 6, "{gaps:?}");
    // The steady rate: two probes a second instead of 33.
    let last_ten_seconds =
        world.borrow().sent.iter().filter(|sent| sent.probe && sent.at >= Instant::from_millis(50_000)).count();
    assert_eq!(last_ten_seconds, 20);
    // Every channel gets probes at every gap.
    let channels: std::collections::BTreeSet<u8> = world.borrow().sent.iter().map(|sent| sent.channel).collect();
    assert_eq!(channels.len(), 13);
    assert_eq!(camera.stats().probes_sent as usize, world.borrow().sent.len());
}

#[test]
fn probes_back_off_probe_by_probe_on_a_fixed_channel() {
    let world = Shared::default();
    let config = SenderNodeConfig { hop_channels: false, capture_interval: None, ..SenderNodeConfig::default() };
    let mut camera = camera(&world, 6, config);
    run(&world, &mut camera, &mut [], Instant::ZERO, Instant::from_millis(5_000));
    let gaps = probe_gaps(&world);
    assert_eq!(&gaps[..5], &[(30, 1), (60, 1), (120, 1), (240, 1), (480, 1)]);
    assert_eq!(gaps[5].0, 500);
    assert!(world.borrow().sent.iter().all(|sent| sent.channel == 6));
}

#[test]
fn the_camera_finds_the_receiver_again_after_it_moves_channel() {
    let world = Shared::default();
    let config = SenderNodeConfig {
        capture_interval: Some(Duration::from_secs(2)),
        telemetry_interval: None,
        ..SenderNodeConfig::default()
    };
    let mut camera = camera(&world, 1, config);
    let mut receiver = station(&world, RECEIVER, 6);
    let before = run(&world, &mut camera, &mut [&mut receiver], Instant::ZERO, Instant::from_millis(3_000));
    assert!(before.contains(&SenderNodeEvent::ReceiverFound { receiver: RECEIVER, channel: 6 }), "{before:?}");
    let stored_before = receiver.store().images.len();
    assert_eq!(stored_before, 2, "images at 0 s and 2 s");

    // The receiver joins an access point on channel 11, between two images.
    world.borrow_mut().channels.insert(RECEIVER.0, 11);
    let after =
        run(&world, &mut camera, &mut [&mut receiver], Instant::from_millis(3_000), Instant::from_millis(20_000));

    let lost = after.iter().position(|event| *event == SenderNodeEvent::ReceiverLost { receiver: RECEIVER });
    let found =
        after.iter().position(|event| *event == SenderNodeEvent::ReceiverFound { receiver: RECEIVER, channel: 11 });
    assert!(matches!((lost, found), (Some(lost), Some(found)) if lost < found), "{after:?}");
    // The image offered into silence is not given up: the receiver was lost
    // well before the transfer's own 60 s deadline, and the same image went
    // again under a new session once the receiver was found.
    assert!(!after.iter().any(|event| matches!(event, SenderNodeEvent::TransferFailed { .. })), "{after:?}");
    assert_eq!(camera.stats().image_retries, 1);
    let retried = after[found.unwrap()..].iter().find_map(|event| match event {
        SenderNodeEvent::TransferStarted { len, .. } => Some(*len),
        _ => None,
    });
    assert_eq!(retried, Some(5_000), "the kept image is offered once the receiver is found: {after:?}");
    assert!(receiver.store().images.len() > stored_before + 3, "images flow again on channel 11");
    assert!(receiver.store().images.iter().all(|(_, bytes)| *bytes == Fixture::new(5_000).image));
    assert_eq!(camera.stats().receivers_lost, 1);
    // The last answer came with the image of 2 s; the offer at 4 s goes
    // unanswered, and the receiver counts as lost once 16 frames went
    // unacknowledged and 3 s passed since that last answer.
    let first_probe_after_loss = world
        .borrow()
        .sent
        .iter()
        .find(|sent| sent.probe && sent.at > Instant::from_millis(3_000))
        .map(|sent| sent.at)
        .expect("the camera probed again");
    assert!(first_probe_after_loss >= Instant::from_millis(5_000), "{first_probe_after_loss:?}");
    assert!(first_probe_after_loss <= Instant::from_millis(6_000), "{first_probe_after_loss:?}");
}

#[test]
fn a_short_silence_does_not_lose_the_receiver() {
    let world = Shared::default();
    let config = SenderNodeConfig {
        capture_interval: None,
        telemetry_interval: Some(Duration::from_millis(100)),
        ..SenderNodeConfig::default()
    };
    let mut camera = camera(&world, 6, config);
    let mut receiver = station(&world, RECEIVER, 6);
    run(&world, &mut camera, &mut [&mut receiver], Instant::ZERO, Instant::from_millis(1_000));
    assert_eq!(camera.receiver(), Some(RECEIVER));
    // Off the air for 2.5 s: 25 unanswered telemetry frames, but under 3 s.
    world.borrow_mut().channels.remove(&RECEIVER.0);
    let silent =
        run(&world, &mut camera, &mut [&mut receiver], Instant::from_millis(1_000), Instant::from_millis(3_500));
    world.borrow_mut().channels.insert(RECEIVER.0, 6);
    let back = run(&world, &mut camera, &mut [&mut receiver], Instant::from_millis(3_500), Instant::from_millis(8_000));
    assert!(silent.iter().chain(&back).all(|event| !matches!(event, SenderNodeEvent::ReceiverLost { .. })));
    assert_eq!(camera.receiver(), Some(RECEIVER));
}

#[test]
fn a_receiver_that_was_named_is_kept_through_any_silence() {
    let world = Shared::default();
    let config = SenderNodeConfig {
        receiver: Some(RECEIVER),
        hop_channels: false,
        capture_interval: None,
        telemetry_interval: Some(Duration::from_millis(100)),
        ..SenderNodeConfig::default()
    };
    let mut camera = camera(&world, 6, config);
    let events = run(&world, &mut camera, &mut [], Instant::ZERO, Instant::from_millis(10_000));
    assert!(events.is_empty(), "{events:?}");
    assert_eq!(camera.receiver(), Some(RECEIVER));
    assert_eq!(camera.stats().probes_sent, 0);
}

#[test]
fn leaving_the_receivers_channel_starts_probing_at_once() {
    let world = Shared::default();
    let config = SenderNodeConfig { capture_interval: None, telemetry_interval: None, ..SenderNodeConfig::default() };
    let mut camera = camera(&world, 3, config);
    let mut receiver = station(&world, RECEIVER, 3);
    run(&world, &mut camera, &mut [&mut receiver], Instant::ZERO, Instant::from_millis(100));
    assert_eq!(camera.receiver(), Some(RECEIVER));
    camera.radio_mut().set_channel(9).unwrap();
    let events = run(&world, &mut camera, &mut [&mut receiver], Instant::from_millis(100), Instant::from_millis(1_000));
    assert_eq!(events[0], SenderNodeEvent::ReceiverLost { receiver: RECEIVER });
    assert!(events.contains(&SenderNodeEvent::ReceiverFound { receiver: RECEIVER, channel: 3 }), "{events:?}");
}

#[test]
fn poll_at_is_now_while_a_capture_is_asked_for() {
    let world = Shared::default();
    let config = on_demand();
    let mut camera = camera(&world, 1, config);
    let mut receiver = station(&world, RECEIVER, 1);
    assert_eq!(camera.poll(Instant::from_millis(5)), None);
    assert!(!camera.capture_due(Instant::from_millis(5)));
    camera.capture_now();
    assert!(camera.capture_due(Instant::from_millis(6)));
    assert!(camera.poll_at().is_some_and(|at| at <= Instant::from_millis(6)));
    run(&world, &mut camera, &mut [&mut receiver], Instant::from_millis(6), Instant::from_millis(2_000));
    assert_eq!(receiver.store().images.len(), 1);
    assert_eq!(camera.source().captures, 1);
}

#[test]
fn the_capture_interval_can_be_set_while_running() {
    let world = Shared::default();
    let config = on_demand();
    let mut camera = camera(&world, 1, config);
    let mut receiver = station(&world, RECEIVER, 1);
    run(&world, &mut camera, &mut [&mut receiver], Instant::ZERO, Instant::from_millis(3_000));
    assert_eq!(receiver.store().images.len(), 0);
    camera.set_capture_interval(Some(Duration::from_secs(1)));
    // Setting the same interval again does not restart the schedule.
    camera.set_capture_interval(Some(Duration::from_secs(1)));
    run(&world, &mut camera, &mut [&mut receiver], Instant::from_millis(3_000), Instant::from_millis(5_500));
    assert_eq!(receiver.store().images.len(), 3, "at 3, 4 and 5 s");
    camera.set_capture_interval(None);
    run(&world, &mut camera, &mut [&mut receiver], Instant::from_millis(5_500), Instant::from_millis(9_000));
    assert_eq!(receiver.store().images.len(), 3);
}

#[test]
fn set_receiver_switches_receivers_and_none_starts_probing() {
    let world = Shared::default();
    let config = SenderNodeConfig { capture_interval: None, telemetry_interval: None, ..SenderNodeConfig::default() };
    let mut camera = camera(&world, 4, config);
    let mut first = station(&world, RECEIVER, 4);
    let mut second = station(&world, OTHER_RECEIVER, 4);
    camera.set_receiver(Some(OTHER_RECEIVER));
    camera.capture_now();
    run(&world, &mut camera, &mut [&mut first, &mut second], Instant::ZERO, Instant::from_millis(1_000));
    assert_eq!((first.store().images.len(), second.store().images.len()), (0, 1));
    assert_eq!(camera.stats().probes_sent, 0);

    // Switching mid-transfer cancels the transfer to the old receiver.
    camera.capture_now();
    camera.poll(Instant::from_millis(1_000));
    assert!(camera.transfer().is_some());
    camera.set_receiver(Some(RECEIVER));
    assert!(camera.transfer().is_none());
    let events: Vec<SenderNodeEvent> = std::iter::from_fn(|| camera.pop_event()).collect();
    let cancelled = |event: &SenderNodeEvent| {
        matches!(event, SenderNodeEvent::TransferFailed { error: TransferError::Refused(AbortReason::Cancelled), .. })
    };
    assert!(events.iter().any(cancelled), "{events:?}");

    camera.set_receiver(None);
    let events = run(
        &world,
        &mut camera,
        &mut [&mut first, &mut second],
        Instant::from_millis(1_000),
        Instant::from_millis(2_000),
    );
    assert!(camera.stats().probes_sent >= 1);
    assert!(
        events.iter().any(|event| matches!(event, SenderNodeEvent::ReceiverFound { channel: 4, .. })),
        "{events:?}"
    );
}

#[test]
fn source_mut_reaches_the_frame_source() {
    let world = Shared::default();
    let mut camera = camera(&world, 1, SenderNodeConfig::default());
    camera.source_mut().image = vec![1, 2, 3];
    assert_eq!(camera.source().image, vec![1, 2, 3]);
}

#[test]
fn a_camera_that_prepares_its_frame_is_asked_again_until_it_is_ready() {
    let world = Shared::default();
    let config = SenderNodeConfig {
        receiver: Some(RECEIVER),
        capture_interval: Some(Duration::from_millis(1_000)),
        telemetry_interval: None,
        ..SenderNodeConfig::default()
    };
    let mut camera = camera(&world, 1, config);
    camera.source_mut().needs_preparing = true;
    let mut receiver = station(&world, RECEIVER, 1);

    // A poll without a prepared frame captures nothing and fails nothing: the capture stays due.
    assert!(camera.capture_due(Instant::ZERO));
    camera.poll(Instant::ZERO);
    assert_eq!(camera.pop_event(), None);
    assert!(camera.transfer().is_none());
    assert!(camera.capture_due(Instant::ZERO));
    assert_eq!(camera.poll_at(), Some(Instant::ZERO));

    // The board's loop: when a capture is due, prepare the frame (on the chip, awaiting the camera), then poll.
    let mut now = Instant::ZERO;
    while now < Instant::from_millis(3_500) {
        world.borrow_mut().now = now;
        if camera.capture_due(now) {
            camera.source_mut().prepared = true;
        }
        let next = [camera.poll(now), receiver.poll(now)].into_iter().flatten().min();
        let busy = !camera.radio().reports.is_empty()
            || !receiver.radio().reports.is_empty()
            || world.borrow().inboxes.values().any(|inbox| !inbox.is_empty());
        if !busy {
            now = next.unwrap_or(Instant::from_millis(3_500)).max(now + Duration::from_micros(1));
        }
    }
    assert_eq!(receiver.store().images.len(), 4, "at 0, 1, 2 and 3 s");
    assert_eq!(camera.stats().images_failed, 0);
}

#[test]
fn v2_frames_are_agreed_by_probe_and_dropped_when_the_receiver_refuses_them() {
    let world = Shared::default();
    let config = SenderNodeConfig {
        capture_interval: Some(Duration::from_secs(2)),
        telemetry_interval: None,
        max_frame_len: 1470,
        ..SenderNodeConfig::default()
    };
    let mut camera = camera(&world, 1, config);
    let v2_config = |max_frame_len| {
        let mut config = ReceiverNodeConfig::default();
        config.receiver.max_frame_len = max_frame_len;
        config
    };
    let mut receiver =
        Station::new(v2_config(1470), AirRadio::new(RECEIVER, 1, &world), VecStore::default(), Health, 9);
    run(&world, &mut camera, &mut [&mut receiver], Instant::ZERO, Instant::from_millis(1_000));
    assert_eq!(camera.frame_len(), 1470, "the probe reply announced 1470");
    assert_eq!(receiver.store().images.len(), 1);
    let camera_frames = |world: &Shared| world.borrow().sent.iter().filter(|sent| sent.source == CAMERA).count();
    let sent_before = camera_frames(&world);
    assert!(sent_before < 10, "5,000 bytes in 4 chunks of 1461 and a few control frames: {sent_before}");

    // The receiver restarts with v1 frames only: the next offer of 1461-byte
    // chunks is refused, and the camera goes back to 241-byte ones for the same image.
    world.borrow_mut().inboxes.clear();
    let mut receiver = Station::new(v2_config(250), AirRadio::new(RECEIVER, 1, &world), VecStore::default(), Health, 9);
    let events =
        run(&world, &mut camera, &mut [&mut receiver], Instant::from_millis(1_000), Instant::from_millis(3_000));
    assert!(!events.iter().any(|event| matches!(event, SenderNodeEvent::TransferFailed { .. })), "{events:?}");
    assert_eq!(camera.frame_len(), 250);
    assert_eq!(camera.stats().image_retries, 1);
    assert_eq!(receiver.store().images.len(), 1);
    assert!(receiver.store().images.iter().all(|(_, bytes)| *bytes == Fixture::new(5_000).image));
}

/// A camera that knows its receiver and sends only when asked, without telemetry.
fn on_demand() -> SenderNodeConfig {
    SenderNodeConfig {
        receiver: Some(RECEIVER),
        capture_interval: None,
        telemetry_interval: None,
        ..SenderNodeConfig::default()
    }
}
