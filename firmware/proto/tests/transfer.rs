//! Whole transfers through a scripted link: for any image, chunk size and
//! finite schedule of drops, duplicates and reordering that eventually
//! delivers, the receiver yields exactly the original bytes; forged and
//! corrupted frames yield the original or a typed error, never a panic and
//! never wrong bytes reported as stored.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use nowcam_proto::auth::Key;
use nowcam_proto::receiver::{Receiver, ReceiverConfig, ReceiverEvent, TransferStore};
use nowcam_proto::sender::{SendError, Sender, SenderConfig, SenderState};
use nowcam_proto::time::{Duration, Instant};
use nowcam_proto::wire::MAX_FRAME_LEN;
use nowcam_proto::MacAddress;
use proptest::prelude::*;

/// Chunk capacity of the test sender and receiver: 300 KB at 16-byte chunks.
const WORDS: usize = 600;

#[derive(Default)]
struct RamStore {
    slots: Vec<Option<Vec<u8>>>,
    committed: Vec<Vec<u8>>,
}

impl TransferStore for RamStore {
    type Slot = usize;
    type Error = ();

    fn begin(&mut self, len: u32) -> Result<usize, ()> {
        self.slots.push(Some(vec![0; len as usize]));
        Ok(self.slots.len() - 1)
    }

    fn write_at(&mut self, slot: usize, offset: u32, data: &[u8]) -> Result<(), ()> {
        let buffer = self.slots[slot].as_mut().ok_or(())?;
        buffer.get_mut(offset as usize..offset as usize + data.len()).ok_or(())?.copy_from_slice(data);
        Ok(())
    }

    fn read_at(&mut self, slot: usize, offset: u32, out: &mut [u8]) -> Result<usize, ()> {
        let buffer = self.slots[slot].as_ref().ok_or(())?;
        let start = (offset as usize).min(buffer.len());
        let n = out.len().min(buffer.len() - start);
        out[..n].copy_from_slice(&buffer[start..start + n]);
        Ok(n)
    }

    fn commit(&mut self, slot: usize, _crc32: u32) -> Result<(), ()> {
        let image = self.slots[slot].take().ok_or(())?;
        self.committed.push(image);
        Ok(())
    }

    fn abandon(&mut self, slot: usize) {
        self.slots[slot] = None;
    }
}

/// What the scripted link does to one frame.
#[derive(Debug, Clone, Copy)]
enum Fate {
    Deliver,
    Drop,
    Duplicate,
    /// Arrives this many frame times late (reordering).
    Late(u8),
    /// One byte flipped in flight.
    Corrupt(u8, u8),
}

fn fate() -> impl Strategy<Value = Fate> {
    prop_oneof![
        6 => Just(Fate::Deliver),
        3 => Just(Fate::Drop),
        1 => Just(Fate::Duplicate),
        1 => (1u8..6).prop_map(Fate::Late),
    ]
}

const SENDER: MacAddress = MacAddress([0x02, 0, 0, 0, 0, 1]);
const RECEIVER: MacAddress = MacAddress([0x02, 0, 0, 0, 0, 2]);

/// 1 Mbps DSSS, ESP32 timing: one unicast exchange of an L-byte payload.
fn exchange_us(len: usize) -> u64 {
    28 + 68 + 192 + 8 * (len as u64 + 43) + 10 + 304
}

enum Event {
    /// A frame arrives at the receiver (`true`) or the sender.
    Arrive(bool, Vec<u8>),
    /// The sender's radio reports a send.
    Report(bool),
}

struct Outcome {
    sender: SenderState,
    stored: Vec<Vec<u8>>,
    failed: usize,
    sim_time: Duration,
    stats: nowcam_proto::sender::SenderStats,
}

/// Runs one transfer. `forward` and `backward` script the first frames of
/// each direction; every later frame is delivered. `forged` frames are
/// injected at the receiver, as if from the sender's address, before the
/// frame with that sequence number.
fn run(
    image: &[u8],
    config: SenderConfig,
    forward: &[Fate],
    backward: &[Fate],
    forged: &[(usize, Vec<u8>)],
) -> Outcome {
    run_with(image, config, forward, backward, forged, &[])
}

/// As [`run`]; `forged_back` frames are injected at the sender, as if from
/// the receiver, before the receiver's reply with that sequence number. The
/// receiver has the sender's key.
fn run_with(
    image: &[u8],
    config: SenderConfig,
    forward: &[Fate],
    backward: &[Fate],
    forged: &[(usize, Vec<u8>)],
    forged_back: &[(usize, Vec<u8>)],
) -> Outcome {
    let mut now = Instant::ZERO;
    let mut sender = Sender::<WORDS>::new(config, 0x5eed_0001, image, now).expect("image fits the test capacity");
    let receiver_config = ReceiverConfig { key: config.key, ..ReceiverConfig::default() };
    let mut receiver = Receiver::<usize, 2, WORDS>::with_seed(receiver_config, 42);
    let mut store = RamStore::default();
    let mut queue: BinaryHeap<Reverse<(u64, u64, usize)>> = BinaryHeap::new();
    let mut events: Vec<Option<Event>> = Vec::new();
    let mut seq = 0u64;
    let mut air_free = 0u64;
    let (mut sent_forward, mut sent_backward) = (0usize, 0usize);
    let mut outcome = Outcome {
        sender: SenderState::Offering,
        stored: Vec::new(),
        failed: 0,
        sim_time: Duration::ZERO,
        stats: Default::default(),
    };
    let mut buffer = [0u8; MAX_FRAME_LEN];

    let mut schedule =
        |queue: &mut BinaryHeap<Reverse<(u64, u64, usize)>>, events: &mut Vec<Option<Event>>, at: u64, event: Event| {
            seq += 1;
            events.push(Some(event));
            queue.push(Reverse((at, seq, events.len() - 1)));
        };

    for _ in 0..2_000_000 {
        // The sender sends while it may.
        while let Some((len, _)) = sender.poll_transmit(now, image, &mut buffer) {
            let mut frame = buffer[..len].to_vec();
            for (at, bytes) in forged {
                if *at == sent_forward {
                    schedule(&mut queue, &mut events, now.as_micros(), Event::Arrive(true, bytes.clone()));
                }
            }
            let fate = forward.get(sent_forward).copied().unwrap_or(Fate::Deliver);
            sent_forward += 1;
            let start = air_free.max(now.as_micros());
            let end = start + exchange_us(len);
            air_free = end;
            let delivered = !matches!(fate, Fate::Drop);
            schedule(&mut queue, &mut events, end, Event::Report(delivered));
            match fate {
                Fate::Drop => {}
                Fate::Deliver => schedule(&mut queue, &mut events, end, Event::Arrive(true, frame)),
                Fate::Duplicate => {
                    schedule(&mut queue, &mut events, end, Event::Arrive(true, frame.clone()));
                    schedule(&mut queue, &mut events, end + 1, Event::Arrive(true, frame));
                }
                Fate::Late(n) => {
                    schedule(&mut queue, &mut events, end + u64::from(n) * 3_000, Event::Arrive(true, frame))
                }
                Fate::Corrupt(at, with) => {
                    let i = usize::from(at) % frame.len();
                    frame[i] ^= with | 1;
                    schedule(&mut queue, &mut events, end, Event::Arrive(true, frame));
                }
            }
        }
        if sender.is_finished() {
            break;
        }
        let wake = sender.poll_at().map(|t| t.as_micros());
        let next = queue.peek().map(|Reverse((at, _, _))| *at);
        let at = match (next, wake) {
            (Some(a), Some(b)) => a.min(b),
            (Some(a), None) | (None, Some(a)) => a,
            (None, None) => break,
        };
        now = Instant::from_micros(at.max(now.as_micros()));
        while let Some(Reverse((t, _, index))) = queue.peek().copied() {
            if t > now.as_micros() {
                break;
            }
            queue.pop();
            match events[index].take() {
                Some(Event::Report(acknowledged)) => sender.on_send_report(now, acknowledged),
                Some(Event::Arrive(true, bytes)) => {
                    let mut reply = [0u8; MAX_FRAME_LEN];
                    if let Ok(handled) = receiver.handle(now, SENDER, &bytes, &mut store, &mut reply) {
                        if let Some(ReceiverEvent::Failed { .. }) = handled.event {
                            outcome.failed += 1;
                        }
                        if let Some(len) = handled.reply_len {
                            for (at, bytes) in forged_back {
                                if *at == sent_backward {
                                    schedule(
                                        &mut queue,
                                        &mut events,
                                        now.as_micros(),
                                        Event::Arrive(false, bytes.clone()),
                                    );
                                }
                            }
                            let fate = backward.get(sent_backward).copied().unwrap_or(Fate::Deliver);
                            sent_backward += 1;
                            let start = air_free.max(now.as_micros());
                            air_free = start + exchange_us(len);
                            if !matches!(fate, Fate::Drop) {
                                schedule(
                                    &mut queue,
                                    &mut events,
                                    air_free,
                                    Event::Arrive(false, reply[..len].to_vec()),
                                );
                            }
                        }
                    }
                }
                Some(Event::Arrive(false, bytes)) => {
                    let _ = sender.receive(now, &bytes);
                }
                None => {}
            }
        }
        let _ = receiver.poll(now, &mut store);
        let _ = RECEIVER;
    }
    outcome.sender = sender.state();
    outcome.stats = sender.stats();
    outcome.stored = store.committed;
    outcome.sim_time = now - Instant::ZERO;
    outcome
}

fn image_of(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

#[test]
fn clean_link_delivers_and_is_near_the_airtime_bound() {
    let image = image_of(100_000, 7);
    let outcome = run(&image, SenderConfig::default(), &[], &[], &[]);
    assert_eq!(outcome.sender, SenderState::Done);
    assert_eq!(outcome.stored, vec![image]);
    // The bound: ceil(100000 / 250) frames of one 250-byte exchange each.
    let bound_us = 400.0 * 2945.5;
    let efficiency = bound_us / outcome.sim_time.as_micros() as f64;
    eprintln!("clean 100 KB: efficiency {efficiency:.3} over {}", outcome.sim_time);
    // The default mode's chunk CRCs cost two frames per 57 chunks (3.5 %).
    assert!(efficiency > 0.86, "efficiency {efficiency:.3} over {}", outcome.sim_time);
}

#[test]
fn lost_status_frames_are_recovered_by_the_timeout() {
    let image = image_of(30_000, 3);
    let backward = [Fate::Drop; 12];
    let outcome = run(&image, SenderConfig::default(), &[], &backward, &[]);
    assert_eq!(outcome.sender, SenderState::Done);
    assert_eq!(outcome.stored, vec![image]);
}

#[test]
fn a_dead_link_times_out_with_a_typed_error() {
    let image = image_of(5_000, 3);
    let forward = vec![Fate::Drop; 100_000];
    let config = SenderConfig { deadline: Duration::from_secs(5), ..SenderConfig::default() };
    let outcome = run(&image, config, &forward, &[], &[]);
    assert_eq!(outcome.sender, SenderState::Failed(SendError::TimedOut));
    assert!(outcome.stored.is_empty());
}

#[test]
fn a_forged_chunk_with_wrong_bytes_is_never_stored_as_the_image() {
    let image = image_of(2_000, 9);
    // A forged chunk 0 of the right session that beats the real one.
    let mut forged = vec![0x6e, 0x12, 0x00];
    forged.extend_from_slice(&0x5eed_0001u32.to_le_bytes());
    forged.extend_from_slice(&0u16.to_le_bytes());
    forged.extend(std::iter::repeat_n(0xaa, 241));
    let outcome = run(&image, announcing(), &[], &[], &[(1, forged)]);
    assert!(outcome.stored.iter().all(|stored| *stored == image));
    // The forged copy comes before chunk 0's CRC is announced and is
    // dropped; the real one follows the announcement and is taken.
    assert_eq!(outcome.sender, SenderState::Done);
    assert_eq!(outcome.stored, vec![image]);
    assert_eq!(outcome.failed, 0);
    assert_eq!(outcome.stats.repair_rounds, 0);
    assert_eq!(outcome.stats.retransmissions, 0);
}

/// The hole the held-back chunk left: a forged chunk 0 after the
/// announcement of its CRC, whose real copy is lost on the air. The forged
/// copy fails its CRC and is never written (on flash it could not be undone),
/// chunk 0 stays missing and goes again, and no repair round is needed.
#[test]
fn a_forged_chunk_whose_real_copy_is_lost_is_refused_by_its_announced_crc() {
    let image = image_of(2_000, 9);
    let mut forged = vec![0x6e, 0x12, 0x00];
    forged.extend_from_slice(&0x5eed_0001u32.to_le_bytes());
    forged.extend_from_slice(&0u16.to_le_bytes());
    forged.extend(std::iter::repeat_n(0xaa, 241));
    // Frames forward: the offer, chunks 0..9's CRCs, chunk 0 (lost), ...
    let forward = [Fate::Deliver, Fate::Deliver, Fate::Drop];
    let outcome = run(&image, announcing(), &forward, &[], &[(2, forged.clone()), (3, forged)]);
    assert_eq!(outcome.sender, SenderState::Done);
    assert_eq!(outcome.stored, vec![image]);
    assert_eq!(outcome.failed, 0);
    assert_eq!(outcome.stats.repair_rounds, 0);
    assert_eq!(outcome.stats.retransmissions, 1);
}

/// What chunk CRCs cannot stop: a forger that also announces its own CRC
/// for the chunk (a later announcement replaces an earlier one). Its chunk
/// is taken and the image fails its CRC-32; it is never stored wrong. This
/// RAM store rewrites in place, so the segment repair fixes it (the camera
/// announces the window again before the chunk goes again); on flash the
/// transfer would fail as StoreFailed and the camera would offer the image
/// again. Only the authenticated mode stops this forger.
#[test]
fn a_forger_of_the_chunk_crcs_too_costs_a_repair_but_never_a_wrong_image() {
    let image = image_of(2_000, 9);
    let payload = [0xaa; 241];
    let mut announcement = vec![0x6e, 0x1c, 0x00];
    announcement.extend_from_slice(&0x5eed_0001u32.to_le_bytes());
    announcement.extend_from_slice(&1u16.to_le_bytes());
    announcement.extend_from_slice(&0u16.to_le_bytes());
    announcement.extend_from_slice(&nowcam_proto::chunker::crc32(&payload).to_le_bytes());
    let mut forged = vec![0x6e, 0x12, 0x00];
    forged.extend_from_slice(&0x5eed_0001u32.to_le_bytes());
    forged.extend_from_slice(&0u16.to_le_bytes());
    forged.extend_from_slice(&payload);
    // Frames forward: the offer, chunks 0..9's CRCs, chunk 0 (lost), ...
    let forward = [Fate::Deliver, Fate::Deliver, Fate::Drop];
    let outcome = run(&image, announcing(), &forward, &[], &[(2, announcement), (2, forged)]);
    assert_eq!(outcome.sender, SenderState::Done);
    assert_eq!(outcome.stored, vec![image]);
    assert!(outcome.stats.repair_rounds >= 1);
}

/// Forged chunks on every third frame, for several rounds: each fails its
/// announced CRC, none reaches the store, and no repair round is needed.
#[test]
fn repeated_forged_chunks_are_refused_by_their_announced_crcs() {
    let image = image_of(20_000, 11);
    let mut forged = Vec::new();
    for at in (1..300).step_by(3) {
        let index = (at / 3) as u16 % 83;
        let mut bytes = vec![0x6e, 0x12, 0x00];
        bytes.extend_from_slice(&0x5eed_0001u32.to_le_bytes());
        bytes.extend_from_slice(&index.to_le_bytes());
        let len = if index == 82 { 20_000 - 82 * 241 } else { 241 };
        bytes.extend(std::iter::repeat_n(0x55, len));
        forged.push((at, bytes));
    }
    let outcome = run(&image, announcing(), &[], &[], &forged);
    assert_eq!(outcome.sender, SenderState::Done);
    assert_eq!(outcome.stored, vec![image]);
    assert_eq!(outcome.stats.repair_rounds, 0);
}

/// A forged Status claiming every chunk arrived, answering each poll before
/// the receiver does: the receiver's later answers are authoritative, and
/// only its Completion ends the transfer.
#[test]
fn a_forged_all_received_status_cannot_end_a_transfer() {
    let image = image_of(30_000, 5);
    let count: u16 = 30_000u16.div_ceil(241);
    let forged_back: Vec<(usize, Vec<u8>)> = (1..40)
        .map(|at| {
            let mut bytes = vec![0x6e, 0x14, 0x00];
            bytes.extend_from_slice(&0x5eed_0001u32.to_le_bytes());
            // Any poll id the sender may have outstanding: forge the next few.
            bytes.extend_from_slice(&((at as u16).saturating_sub(1)).to_le_bytes());
            bytes.extend_from_slice(&count.to_le_bytes());
            (at, bytes)
        })
        .collect();
    // Drop the first 60 chunks so the forged claims are false.
    let forward = [vec![Fate::Deliver], vec![Fate::Drop; 60]].concat();
    let outcome = run_with(&image, SenderConfig::default(), &forward, &[], &[], &forged_back);
    assert_eq!(outcome.sender, SenderState::Done);
    assert_eq!(outcome.stored, vec![image]);
    assert!(outcome.stats.unconfirmed > 0, "chunks confirmed by the forgeries were sent again");
}

/// A forged Completion of `Stored` (and an UnknownSession abort) heard
/// before the transfer has sent its chunks: neither can end it, since the
/// receiver cannot have checked an image it has not been sent.
#[test]
fn a_forged_completion_before_the_chunks_cannot_end_a_transfer() {
    let image = image_of(5_000, 3);
    let mut completion = vec![0x6e, 0x15, 0x00];
    completion.extend_from_slice(&0x5eed_0001u32.to_le_bytes());
    completion.push(0);
    let mut abort = vec![0x6e, 0x16, 0x00];
    abort.extend_from_slice(&0x5eed_0001u32.to_le_bytes());
    abort.push(5);
    let forged_back = [(0, completion.clone()), (0, abort), (1, completion)];
    let outcome = run_with(&image, SenderConfig::default(), &[], &[], &[], &forged_back);
    assert_eq!(outcome.sender, SenderState::Done);
    assert_eq!(outcome.stored, vec![image]);
    assert_eq!(outcome.stats.chunks_sent, 21, "every chunk went, once");
    assert_eq!(outcome.stats.restarts, 0);
}

const KEY: Key = Key::new([0x42; 32]);

#[test]
fn authenticated_transfer_delivers_and_is_near_the_airtime_bound() {
    let image = image_of(100_000, 7);
    let config = SenderConfig { key: Some(KEY), ..SenderConfig::default() };
    let outcome = run(&image, config, &[], &[], &[]);
    assert_eq!(outcome.sender, SenderState::Done);
    assert_eq!(outcome.stored, vec![image.clone()]);
    let bound_us = 400.0 * 2945.5;
    let efficiency = bound_us / outcome.sim_time.as_micros() as f64;
    let default = run(&image, SenderConfig::default(), &[], &[], &[]);
    let default_efficiency = bound_us / default.sim_time.as_micros() as f64;
    eprintln!(
        "clean 100 KB: authenticated efficiency {efficiency:.3} over {} ({} chunks), default {default_efficiency:.3} over {} ({} chunks)",
        outcome.sim_time, outcome.stats.chunks_sent, default.sim_time, default.stats.chunks_sent
    );
    // 233-byte chunks instead of 241: 430 chunks instead of 415.
    assert_eq!(outcome.stats.chunks_sent, 430);
    assert!(efficiency > 0.87, "efficiency {efficiency:.3} over {}", outcome.sim_time);
}

#[test]
fn authenticated_forged_chunks_are_dropped_before_the_store() {
    let image = image_of(2_000, 9);
    let mut forged = Vec::new();
    for (at, tagged) in [(1, false), (2, true), (3, false)] {
        let mut bytes = vec![0x6e, 0x12, if tagged { 0x80 } else { 0x00 }];
        bytes.extend_from_slice(&0x5eed_0001u32.to_le_bytes());
        bytes.extend_from_slice(&0u16.to_le_bytes());
        bytes.extend(std::iter::repeat_n(0xaa, 233));
        if tagged {
            bytes.extend_from_slice(&[0; 8]);
        }
        forged.push((at, bytes));
    }
    let config = SenderConfig { key: Some(KEY), ..SenderConfig::default() };
    let outcome = run(&image, config, &[], &[], &forged);
    assert_eq!(outcome.sender, SenderState::Done);
    assert_eq!(outcome.stored, vec![image]);
    assert_eq!(outcome.stats.repair_rounds, 0, "no forged byte reached the store");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn any_schedule_that_eventually_delivers_yields_the_original(
        len in prop_oneof![1usize..2_000, 2_000usize..300_000],
        seed in any::<u64>(),
        chunk_size in prop_oneof![Just(241u16), 16u16..=241],
        forward in proptest::collection::vec(fate(), 0..400),
        backward in proptest::collection::vec(fate(), 0..40),
    ) {
        let image = image_of(len, seed);
        let config = SenderConfig { chunk_size, deadline: Duration::from_secs(3_600), ..SenderConfig::default() };
        let outcome = run(&image, config, &forward, &backward, &[]);
        prop_assert_eq!(outcome.sender, SenderState::Done);
        prop_assert_eq!(outcome.stored.len(), 1);
        prop_assert!(outcome.stored[0] == image, "stored bytes differ from the original");
    }

    #[test]
    fn forged_and_corrupted_frames_never_store_wrong_bytes(
        len in 1usize..20_000,
        seed in any::<u64>(),
        forward in proptest::collection::vec(prop_oneof![
            4 => fate(),
            1 => (any::<u8>(), any::<u8>()).prop_map(|(a, b)| Fate::Corrupt(a, b)),
        ], 0..200),
        forged in proptest::collection::vec((0usize..150, proptest::collection::vec(any::<u8>(), 0..260)), 0..20),
    ) {
        let image = image_of(len, seed);
        let config = SenderConfig { deadline: Duration::from_secs(600), ..SenderConfig::default() };
        let outcome = run(&image, config, &forward, &[], &forged);
        for stored in &outcome.stored {
            prop_assert!(*stored == image, "a stored image differs from the original");
        }
        match outcome.sender {
            SenderState::Done => prop_assert_eq!(outcome.stored.len(), 1),
            SenderState::Failed(_) => {}
            other => prop_assert!(false, "transfer neither done nor failed: {:?}", other),
        }
    }
}

/// The sender's configuration with chunk CRCs announced ahead (what the
/// camera node uses for an image offered again after a failure).
fn announcing() -> SenderConfig {
    SenderConfig { chunk_crcs: true, ..SenderConfig::default() }
}
