//! The receiver node over the real image store: it erases ahead while idle,
//! answers offers with Busy until a slot is erased for them, and never
//! erases while a transfer is being received.

use std::collections::VecDeque;

use nowcam_app::{ReceiverNode, ReceiverNodeConfig, ReceiverNodeEvent};
use nowcam_ports::radio::{Received, SendReport, MAX_FRAME_LEN};
use nowcam_ports::{ImageStore, Instant, MacAddress, Radio, SendError, SendHandle, TelemetrySample, TelemetrySource};
use nowcam_proto::chunker::crc32;
use nowcam_proto::wire::{AbortReason, ChunkRepr, CompletionResult, FrameRepr, OfferRepr};
use nowcam_store::ram::RamFlash;
use nowcam_store::{Config, Store};

/// A radio the test fills and empties by hand.
#[derive(Default)]
struct ScriptRadio {
    inbox: VecDeque<(MacAddress, Vec<u8>)>,
    sent: Vec<(MacAddress, Vec<u8>)>,
}

impl Radio for ScriptRadio {
    fn address(&self) -> MacAddress {
        RECEIVER
    }

    fn send(&mut self, destination: MacAddress, frame: &[u8]) -> Result<SendHandle, SendError> {
        self.sent.push((destination, frame.to_vec()));
        Ok(SendHandle(self.sent.len() as u32))
    }

    fn poll_send_report(&mut self) -> Option<SendReport> {
        None
    }

    fn receive(&mut self, buffer: &mut [u8; MAX_FRAME_LEN]) -> Option<Received> {
        let (source, bytes) = self.inbox.pop_front()?;
        buffer[..bytes.len()].copy_from_slice(&bytes);
        Some(Received { source, destination: RECEIVER, len: bytes.len(), rssi: None })
    }

    fn channel(&self) -> u8 {
        1
    }

    fn set_channel(&mut self, _channel: u8) -> Result<(), SendError> {
        Ok(())
    }
}

struct Health;

impl TelemetrySource for Health {
    fn sample(&mut self) -> TelemetrySample {
        TelemetrySample { free_heap_bytes: 100_000, chip_temperature_centi_celsius: None }
    }
}

const RECEIVER: MacAddress = MacAddress([0x02, 0, 0, 0, 0, 9]);
const CAMERA_A: MacAddress = MacAddress([0x02, 0, 0, 0, 0, 1]);
const CAMERA_B: MacAddress = MacAddress([0x02, 0, 0, 0, 0, 2]);
const CHUNK: usize = 241;

/// Three slots of 8 KiB: two sectors each.
const SLOTS: Config = Config { slot_count: 3, slot_size: 8 * 1024 };

type Node = ReceiverNode<ScriptRadio, Store<RamFlash>, Health>;

fn node() -> Node {
    let flash = RamFlash::new(3 * 8 * 1024).unwrap();
    let store = Store::mount(flash, SLOTS).unwrap();
    Node::new(ReceiverNodeConfig::default(), ScriptRadio::default(), store, Health, 7)
}

fn image(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 % 253) as u8).collect()
}

fn offer(session: u32, data: &[u8]) -> OfferRepr {
    OfferRepr {
        session,
        image_len: data.len() as u32,
        chunk_size: CHUNK as u16,
        chunk_count: data.len().div_ceil(CHUNK) as u16,
        crc32: crc32(data),
        flags: 0,
    }
}

fn frame(repr: &FrameRepr<'_>) -> Vec<u8> {
    let mut buffer = [0u8; MAX_FRAME_LEN];
    let len = repr.emit(&mut buffer).unwrap();
    buffer[..len].to_vec()
}

/// Delivers one frame, polls once, and returns what the node answered.
fn exchange(node: &mut Node, now: Instant, source: MacAddress, bytes: Vec<u8>) -> Vec<FrameRepr<'static>> {
    node.radio_mut().inbox.push_back((source, bytes));
    node.poll(now);
    let sent = std::mem::take(&mut node.radio_mut().sent);
    sent.into_iter().map(|(_, bytes)| FrameRepr::parse_bytes(Box::leak(bytes.into_boxed_slice())).unwrap()).collect()
}

fn erases(node: &Node) -> u64 {
    node.store().flash().counters().erases
}

/// Polls with nothing arriving until erase-ahead has no more to do; returns the erases done.
fn idle_until_erased(node: &mut Node, now: Instant) -> u64 {
    let before = erases(node);
    for _ in 0..100 {
        if node.poll(now) != Some(now) {
            return erases(node) - before;
        }
    }
    panic!("erase-ahead does not end");
}

#[test]
fn busy_while_no_slot_is_ready_then_the_offer_is_taken() {
    let mut node = node();
    let data = image(5000);
    let now = Instant::from_millis(1);

    // Nothing is erased after a mount: the offer is answered Busy, and no slot is taken.
    let answer = exchange(&mut node, now, CAMERA_A, frame(&FrameRepr::Offer(offer(11, &data))));
    assert_eq!(answer, [FrameRepr::Abort { session: 11, reason: AbortReason::Busy }]);
    assert_eq!(node.stats().offers_not_ready, 1);
    assert!(!node.receiving());
    // The same poll began erasing ahead: the header sector, and it asks to go on at once.
    assert_eq!(erases(&node), 1);
    assert!(!node.store().ready_for(5000));

    // Idle polls finish the slot; then the camera's next offer is taken.
    assert_eq!(idle_until_erased(&mut node, now), 1);
    assert!(node.store().ready_for(5000));
    let answer = exchange(&mut node, now, CAMERA_A, frame(&FrameRepr::Offer(offer(12, &data))));
    assert!(matches!(answer[..], [FrameRepr::Status(_)]), "{answer:?}");
    assert!(node.receiving());

    // A second camera's offer meanwhile finds no slot erased ahead, and none is erased for it.
    let before = erases(&node);
    let other = image(3000);
    let answer = exchange(&mut node, now, CAMERA_B, frame(&FrameRepr::Offer(offer(21, &other))));
    assert_eq!(answer, [FrameRepr::Abort { session: 21, reason: AbortReason::Busy }]);

    // The transfer's chunks are written without a single erase.
    let mut last = Vec::new();
    for (index, payload) in data.chunks(CHUNK).enumerate() {
        let chunk = FrameRepr::Chunk(ChunkRepr { session: 12, index: index as u16, payload });
        last = exchange(&mut node, now, CAMERA_A, frame(&chunk));
    }
    assert_eq!(last.first(), Some(&FrameRepr::Completion { session: 12, result: CompletionResult::Stored }));
    assert_eq!(erases(&node), before + 1, "only erase-ahead's first step after the transfer");
    let mut stored = None;
    while let Some(event) = node.pop_event() {
        if let ReceiverNodeEvent::ImageStored { info, .. } = event {
            stored = Some(info);
        }
    }
    let info = stored.expect("the image was stored");
    assert_eq!(node.store().newest(), Some(info));

    // Idle again: the next slot is erased ahead, and the second camera is taken.
    idle_until_erased(&mut node, now);
    let answer = exchange(&mut node, now, CAMERA_B, frame(&FrameRepr::Offer(offer(22, &other))));
    assert!(matches!(answer[..], [FrameRepr::Status(_)]), "{answer:?}");
    assert_eq!(node.stats().offers_not_ready, 2);
}
