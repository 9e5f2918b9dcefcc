//! The on-device fault injector around a fake radio.

use std::collections::VecDeque;

use nowcam_link::{Direction, DirectionConfig, FaultInjector, LinkConfigError, LossModel, Preset};
use nowcam_ports::radio::{Radio, Received, SendError, SendHandle, SendReport, MAX_FRAME_LEN};
use nowcam_ports::MacAddress;

const PEER: MacAddress = MacAddress([2, 0, 0, 0, 0, 1]);
const OWN: MacAddress = MacAddress([2, 0, 0, 0, 0, 2]);

/// A radio whose air is two queues: what it sent, and what it will receive.
/// Every send is reported acknowledged, under handles far from the injector's.
#[derive(Debug, Default)]
struct FakeRadio {
    sent: Vec<(MacAddress, Vec<u8>)>,
    reports: VecDeque<SendReport>,
    inbox: VecDeque<Vec<u8>>,
    channel: u8,
}

impl FakeRadio {
    fn with_inbox(frames: impl IntoIterator<Item = Vec<u8>>) -> Self {
        FakeRadio { inbox: frames.into_iter().collect(), ..FakeRadio::default() }
    }
}

impl Radio for FakeRadio {
    fn address(&self) -> MacAddress {
        OWN
    }

    fn send(&mut self, destination: MacAddress, frame: &[u8]) -> Result<SendHandle, SendError> {
        let handle = SendHandle(1_000 + self.sent.len() as u32);
        self.sent.push((destination, frame.to_vec()));
        self.reports.push_back(SendReport { handle, acknowledged: true });
        Ok(handle)
    }

    fn poll_send_report(&mut self) -> Option<SendReport> {
        self.reports.pop_front()
    }

    fn receive(&mut self, buffer: &mut [u8; MAX_FRAME_LEN]) -> Option<Received> {
        let frame = self.inbox.pop_front()?;
        buffer[..frame.len()].copy_from_slice(&frame);
        Some(Received { source: PEER, destination: OWN, len: frame.len(), rssi: Some(-40) })
    }

    fn channel(&self) -> u8 {
        self.channel
    }

    fn set_channel(&mut self, channel: u8) -> Result<(), SendError> {
        self.channel = channel;
        Ok(())
    }
}

fn with_loss(p: f64) -> DirectionConfig {
    DirectionConfig { loss: LossModel::Bernoulli { p }, ..DirectionConfig::default() }
}

fn with_duplicate(duplicate: f64) -> DirectionConfig {
    DirectionConfig { duplicate, ..DirectionConfig::default() }
}

fn injector(radio: FakeRadio, outgoing: DirectionConfig, incoming: DirectionConfig) -> FaultInjector<FakeRadio> {
    FaultInjector::new(radio, outgoing, incoming, 99).unwrap()
}

fn drain_reports(radio: &mut impl Radio) -> Vec<SendReport> {
    std::iter::from_fn(|| radio.poll_send_report()).collect()
}

fn drain_received(radio: &mut impl Radio) -> Vec<Vec<u8>> {
    let mut buffer = [0; MAX_FRAME_LEN];
    std::iter::from_fn(|| radio.receive(&mut buffer).map(|received| buffer[..received.len].to_vec())).collect()
}

#[test]
fn a_lossless_injector_passes_everything_through() {
    let mut radio = injector(
        FakeRadio::with_inbox([vec![1, 2, 3], vec![4]]),
        DirectionConfig::default(),
        DirectionConfig::default(),
    );
    let first = radio.send(PEER, b"hello").unwrap();
    let second = radio.send(MacAddress::BROADCAST, b"all").unwrap();
    assert_ne!(first, second);
    assert_eq!(
        drain_reports(&mut radio),
        [SendReport { handle: first, acknowledged: true }, SendReport { handle: second, acknowledged: true },]
    );
    assert_eq!(drain_received(&mut radio), [vec![1, 2, 3], vec![4]]);
    assert_eq!(radio.inner().sent, [(PEER, b"hello".to_vec()), (MacAddress::BROADCAST, b"all".to_vec())]);
    assert_eq!(radio.address(), OWN);
    radio.set_channel(6).unwrap();
    assert_eq!(radio.channel(), 6);
}

#[test]
fn dropped_sends_never_reach_the_radio_and_report_like_esp_now() {
    let mut radio = injector(FakeRadio::default(), with_loss(1.0), DirectionConfig::default());
    let unicast = radio.send(PEER, b"lost").unwrap();
    let broadcast = radio.send(MacAddress::BROADCAST, b"lost too").unwrap();
    assert!(radio.inner().sent.is_empty());
    assert_eq!(
        drain_reports(&mut radio),
        [SendReport { handle: unicast, acknowledged: false }, SendReport { handle: broadcast, acknowledged: true },]
    );
    let counters = radio.outgoing_counters();
    assert_eq!((counters.sent, counters.lost, counters.delivered), (2, 2, 0));
}

#[test]
fn too_many_unpolled_drops_fill_the_queue() {
    let mut radio = injector(FakeRadio::default(), with_loss(1.0), DirectionConfig::default());
    for _ in 0..32 {
        radio.send(PEER, b"x").unwrap();
    }
    assert_eq!(radio.send(PEER, b"x"), Err(SendError::QueueFull));
    assert!(radio.poll_send_report().is_some());
    assert!(radio.send(PEER, b"x").is_ok());
}

#[test]
fn a_lost_ack_fails_a_delivered_unicast_send() {
    let mut radio = injector(FakeRadio::default(), DirectionConfig::default(), with_loss(1.0));
    let unicast = radio.send(PEER, b"arrives").unwrap();
    let broadcast = radio.send(MacAddress::BROADCAST, b"arrives").unwrap();
    assert_eq!(radio.inner().sent.len(), 2);
    assert_eq!(
        drain_reports(&mut radio),
        [SendReport { handle: unicast, acknowledged: false }, SendReport { handle: broadcast, acknowledged: true },]
    );
    let counters = radio.incoming_counters();
    assert_eq!((counters.acks_sent, counters.acks_lost), (1, 1));
}

#[test]
fn incoming_loss_hides_received_frames() {
    let mut radio =
        injector(FakeRadio::with_inbox((0..10u8).map(|index| vec![index])), DirectionConfig::default(), with_loss(1.0));
    assert!(drain_received(&mut radio).is_empty());
    assert!(radio.inner().inbox.is_empty());
    assert_eq!(radio.incoming_counters().lost, 10);
}

#[test]
fn incoming_duplicates_arrive_twice_with_the_same_bytes() {
    let mut radio =
        injector(FakeRadio::with_inbox([vec![7; 250], vec![8; 3]]), DirectionConfig::default(), with_duplicate(1.0));
    assert_eq!(drain_received(&mut radio), [vec![7; 250], vec![7; 250], vec![8; 3], vec![8; 3]]);
    assert_eq!(radio.incoming_counters().duplicated, 2);
}

#[test]
fn outgoing_duplicates_go_twice_but_report_once() {
    let mut radio = injector(FakeRadio::default(), with_duplicate(1.0), DirectionConfig::default());
    let handle = radio.send(PEER, b"twice").unwrap();
    assert_eq!(radio.inner().sent, [(PEER, b"twice".to_vec()), (PEER, b"twice".to_vec())]);
    assert_eq!(drain_reports(&mut radio), [SendReport { handle, acknowledged: true }]);
    assert_eq!(radio.outgoing_counters().duplicated, 1);
}

#[test]
fn frames_over_1470_bytes_are_refused() {
    let mut radio = injector(FakeRadio::default(), DirectionConfig::default(), DirectionConfig::default());
    assert_eq!(radio.send(PEER, &[0; 1471]), Err(SendError::FrameTooLong));
    assert!(radio.inner().sent.is_empty());
}

#[test]
fn random_loss_is_seeded_and_near_its_rate() {
    let run = |seed| {
        let config = Preset::Random5.direction_config();
        let mut radio = FaultInjector::new(FakeRadio::default(), config, config, seed).unwrap();
        for index in 0..20_000u32 {
            radio.send(PEER, &index.to_le_bytes()).unwrap();
            radio.poll_send_report().unwrap();
        }
        radio.into_inner().sent
    };
    let first = run(1);
    assert_eq!(first, run(1));
    assert_ne!(first, run(2));
    let lost = 1.0 - first.len() as f64 / 20_000.0;
    assert!((lost - 0.05).abs() < 0.006, "{lost}");
}

#[test]
fn invalid_models_are_refused() {
    let error = FaultInjector::new(FakeRadio::default(), with_loss(2.0), DirectionConfig::default(), 0).err();
    assert_eq!(error, Some(LinkConfigError::Probability { direction: Direction::AToB, field: "loss.p" }));
    let error = FaultInjector::new(FakeRadio::default(), DirectionConfig::default(), with_duplicate(-1.0), 0).err();
    assert_eq!(error, Some(LinkConfigError::Probability { direction: Direction::BToA, field: "duplicate" }));
}
