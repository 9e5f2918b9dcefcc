//! The seeded link: determinism, the presets' statistics, ESP-NOW semantics
//! and configuration errors.

use std::fmt::Write as _;

use nowcam_link::airtime::{self, mean_backoff_ns};
use nowcam_link::{
    Backoff, Delay, Direction, DirectionConfig, DropReason, Link, LinkConfig, LinkConfigError, LinkError, LossModel,
    MacRetry, Outages, Preset, Reorder, Station, Transmission, TxQueue, DEFAULT_TX_QUEUE_LIMIT, MAX_OUTAGES,
};

const MS: u64 = 1_000_000;
const US: u64 = 1_000;

/// Sends `count` frames back to back, alternating directions every `every`
/// frames when `every` is not 0, and returns what became of them.
fn run(link: &mut Link, count: usize, every: usize, len: usize) -> Vec<(u64, Transmission)> {
    let mut now = 0;
    let mut trace = Vec::with_capacity(count);
    for index in 0..count {
        let direction = if every != 0 && index % every == every - 1 { Direction::BToA } else { Direction::AToB };
        let transmission = link.transmit(now, direction, len, false).unwrap();
        trace.push((now, transmission));
        now += transmission.airtime_ns;
    }
    trace
}

fn link(config: LinkConfig, seed: u64) -> Link {
    Link::new(config, seed).unwrap()
}

#[test]
fn same_seed_gives_the_same_trace() {
    for preset in Preset::ALL {
        let first = run(&mut link(preset.config(), 42), 2_000, 3, 250);
        let second = run(&mut link(preset.config(), 42), 2_000, 3, 250);
        assert_eq!(first, second, "{preset}");
    }
}

#[test]
fn different_seeds_give_different_traces() {
    for preset in [Preset::Random5, Preset::Bursty20, Preset::Edge30, Preset::Clean, Preset::Delay] {
        let first = run(&mut link(preset.config(), 1), 2_000, 3, 250);
        let second = run(&mut link(preset.config(), 2), 2_000, 3, 250);
        assert_ne!(first, second, "{preset}");
    }
}

#[test]
fn presets_have_their_documented_mean_loss() {
    let documented = [
        (Preset::Clean, 0.0),
        (Preset::Random5, 0.05),
        (Preset::Bursty20, 0.20),
        (Preset::Edge30, 0.30),
        (Preset::Dup1, 0.0),
        (Preset::Reorder, 0.0),
        (Preset::Delay, 0.0),
    ];
    for (preset, loss) in documented {
        assert!((preset.mean_loss() - loss).abs() < 1e-12, "{preset}: {}", preset.mean_loss());
    }
}

#[test]
fn presets_lose_their_mean_loss_in_the_long_run() {
    const FRAMES: usize = 200_000;
    for preset in Preset::ALL {
        for direction in Direction::ALL {
            // Per attempt: the loss model's own rate, without MAC retries hiding it.
            let mut link = link(LinkConfig { mac_retry: MacRetry::Off, ..preset.config() }, 0x5eed);
            let mut now = 0;
            for _ in 0..FRAMES {
                let transmission = link.transmit(now, direction, 250, false).unwrap();
                now += transmission.airtime_ns;
            }
            let counters = link.counters(direction);
            assert_eq!(counters.sent, FRAMES as u64);
            assert_eq!(counters.lost + counters.delivered, counters.sent);
            assert_eq!(counters.lost, counters.lost_to_model);
            let measured = counters.lost as f64 / FRAMES as f64;
            assert!(
                (measured - preset.mean_loss()).abs() < 0.01,
                "{preset} {direction}: measured {measured}, documented {}",
                preset.mean_loss()
            );
        }
    }
}

#[test]
fn acks_are_lost_at_the_reverse_direction_rate() {
    const FRAMES: usize = 100_000;
    // One attempt per send, so that every ACK draw is seen.
    let mut config = LinkConfig { mac_retry: MacRetry::Off, ..LinkConfig::default() };
    config.b_to_a.loss = LossModel::Bernoulli { p: 0.1 };
    let mut link = link(config, 9);
    let mut unacknowledged = 0;
    for index in 0..FRAMES {
        let transmission = link.transmit(index as u64 * 3 * MS, Direction::AToB, 250, false).unwrap();
        assert!(transmission.delivered());
        if !transmission.acknowledged {
            unacknowledged += 1;
            assert_eq!(transmission.ack_drop, Some(DropReason::LossModel));
        }
    }
    let rate = unacknowledged as f64 / FRAMES as f64;
    assert!((rate - 0.1).abs() < 0.005, "{rate}");
    let reverse = link.counters(Direction::BToA);
    assert_eq!(reverse.acks_sent, FRAMES as u64);
    assert_eq!(reverse.acks_lost, unacknowledged);
    assert_eq!(reverse.sent, 0);
}

/// The lengths of the runs of consecutive losses.
fn loss_runs(config: DirectionConfig, seed: u64, frames: usize) -> Vec<u64> {
    let mut link = link(LinkConfig::symmetric(config), seed);
    let mut runs = Vec::new();
    let mut current = 0;
    for _ in 0..frames {
        let lost = !link.transmit(0, Direction::AToB, 250, true).unwrap().delivered();
        if lost {
            current += 1;
        } else if current > 0 {
            runs.push(current);
            current = 0;
        }
    }
    runs
}

#[test]
fn gilbert_elliott_bursts_last_one_over_r_frames() {
    for r in [0.2, 0.5, 0.8] {
        let config = DirectionConfig {
            loss: LossModel::GilbertElliott { p: 0.05, r, h: 1.0, k: 0.0 },
            ..DirectionConfig::default()
        };
        let runs = loss_runs(config, 3, 200_000);
        let mean = runs.iter().sum::<u64>() as f64 / runs.len() as f64;
        assert!((mean - 1.0 / r).abs() < 0.05 / r, "r = {r}: mean burst {mean}");
    }
}

#[test]
fn bernoulli_losses_come_one_at_a_time_mostly() {
    let runs = loss_runs(Preset::Random5.direction_config(), 3, 200_000);
    let mean = runs.iter().sum::<u64>() as f64 / runs.len() as f64;
    // A geometric run with continuation probability 0.05 has mean 1/0.95.
    assert!((mean - 1.0 / 0.95).abs() < 0.01, "{mean}");
}

/// A transmission without what the other direction decides (its ACK).
fn without_ack(transmission: &Transmission) -> Transmission {
    Transmission { acknowledged: false, ack_drop: None, ..*transmission }
}

#[test]
fn one_direction_does_not_change_the_others_draws() {
    let b_to_a = DirectionConfig {
        loss: LossModel::GilbertElliott { p: 0.1, r: 0.3, h: 0.9, k: 0.01 },
        duplicate: 0.05,
        reorder: Reorder { probability: 0.1, min_slots: 1, max_slots: 4 },
        delay: Delay { base_ns: 2 * MS, jitter_ns: MS, spike_probability: 0.05, spike_ns: 20 * MS },
        snr_db: None,
    };
    let mut reference = None;
    for a_to_b in Preset::ALL.map(Preset::direction_config) {
        let config =
            LinkConfig { a_to_b, b_to_a, backoff: Backoff::Sampled, mac_retry: MacRetry::Off, ..LinkConfig::default() };
        let trace = run(&mut link(config, 77), 3_000, 3, 200);
        let ours: Vec<Transmission> = trace
            .iter()
            .map(|(_, transmission)| transmission)
            .filter(|transmission| transmission.direction == Direction::BToA)
            .map(without_ack)
            .collect();
        assert_eq!(ours.len(), 1_000);
        match &reference {
            None => reference = Some(ours),
            Some(reference) => assert_eq!(reference, &ours),
        }
    }
}

#[test]
fn changing_duplication_keeps_the_loss_pattern() {
    let lost = |duplicate| {
        let config = DirectionConfig { duplicate, ..Preset::Edge30.direction_config() };
        let mut link = link(LinkConfig::symmetric(config), 5);
        (0..5_000).map(|_| link.transmit(0, Direction::AToB, 250, false).unwrap().delivered()).collect::<Vec<_>>()
    };
    assert_eq!(lost(0.0), lost(0.5));
}

#[test]
fn outages_drop_everything_in_their_window() {
    let mut outages = Outages::new();
    outages.push(10 * MS, 20 * MS).unwrap();
    let mut link = link(LinkConfig { outages, mac_retry: MacRetry::Off, ..Preset::Clean.config() }, 1);
    // Data frames start 95.5 µs (DIFS and mean backoff) after the send.
    let data_start = airtime::DIFS_NS + mean_backoff_ns(0);
    for direction in Direction::ALL {
        for broadcast in [false, true] {
            for start in [10 * MS, 12 * MS, 20 * MS - 1] {
                let transmission = link.transmit(start - data_start, direction, 250, broadcast).unwrap();
                assert_eq!(transmission.drop, Some(DropReason::Outage), "{direction} at {start}");
                assert!(!transmission.delivered());
                assert_eq!(transmission.acknowledged, broadcast);
            }
            for start in [10 * MS - 1, 20 * MS, 40 * MS] {
                let transmission = link.transmit(start - data_start, direction, 250, broadcast).unwrap();
                assert_eq!(transmission.drop, None, "{direction} at {start}");
                assert!(transmission.delivered());
            }
        }
        let counters = link.counters(direction);
        assert_eq!(counters.lost_to_outage, 6);
        assert_eq!(counters.delivered, 6);
    }
}

#[test]
fn an_outage_can_swallow_just_the_ack() {
    let mut outages = Outages::new();
    outages.push(10 * MS, 20 * MS).unwrap();
    let mut link = link(LinkConfig { outages, mac_retry: MacRetry::Off, ..LinkConfig::default() }, 1);
    // The ACK starts 2641.5 µs after the send: DIFS, backoff, data, SIFS.
    let now = 10 * MS - 2_641_500;
    let transmission = link.transmit(now, Direction::AToB, 250, false).unwrap();
    assert!(transmission.delivered());
    assert!(!transmission.acknowledged);
    assert_eq!(transmission.ack_drop, Some(DropReason::Outage));
    let transmission = link.transmit(now - 1, Direction::AToB, 250, false).unwrap();
    assert!(transmission.acknowledged);
}

#[test]
fn outages_are_checked_when_added() {
    let mut outages = Outages::new();
    assert_eq!(outages.push(5, 5), Err(LinkConfigError::EmptyOutage { start_ns: 5, end_ns: 5 }));
    assert_eq!(outages.push(6, 5), Err(LinkConfigError::EmptyOutage { start_ns: 6, end_ns: 5 }));
    for index in 0..MAX_OUTAGES as u64 {
        outages.push(index * 10, index * 10 + 5).unwrap();
    }
    assert_eq!(outages.push(1_000, 2_000), Err(LinkConfigError::TooManyOutages));
    assert_eq!(outages.as_slice().len(), MAX_OUTAGES);
    assert!(outages.contains(10));
    assert!(!outages.contains(15));
}

#[test]
fn channel_mismatch_delivers_nothing() {
    let mut link = link(LinkConfig { channel_b: 6, ..LinkConfig::default() }, 1);
    for direction in Direction::ALL {
        for broadcast in [false, true] {
            let transmission = link.transmit(0, direction, 100, broadcast).unwrap();
            assert_eq!(transmission.drop, Some(DropReason::ChannelMismatch));
            assert_eq!(transmission.acknowledged, broadcast);
            assert_eq!(transmission.ack_drop, None);
        }
        assert_eq!(link.counters(direction).lost_to_channel, 2);
    }
    link.set_channel(Station::A, 6).unwrap();
    let transmission = link.transmit(0, Direction::AToB, 100, false).unwrap();
    assert!(transmission.delivered());
    assert!(transmission.acknowledged);
    assert_eq!(link.set_channel(Station::A, 15), Err(LinkConfigError::Channel { station: Station::A, channel: 15 }));
    assert_eq!(link.set_channel(Station::B, 0), Err(LinkConfigError::Channel { station: Station::B, channel: 0 }));
    assert_eq!(link.config().channel_a, 6);
}

#[test]
fn payloads_over_1470_bytes_are_refused() {
    let mut link = link(LinkConfig::default(), 1);
    assert_eq!(link.transmit(0, Direction::AToB, 1_471, false), Err(LinkError::FrameTooLong { len: 1_471 }));
    assert_eq!(link.transmit(0, Direction::BToA, 4_000, true), Err(LinkError::FrameTooLong { len: 4_000 }));
    assert_eq!(link.counters(Direction::AToB).sent, 0);
    // v2 frames are carried, and cost their airtime (7-byte element headers per 250 bytes).
    let v2 = link.transmit(0, Direction::AToB, 1_470, false).expect("a v2 frame");
    let v1 = link.transmit(0, Direction::AToB, 250, false).expect("a v1 frame");
    assert!(v2.airtime_ns > 4 * v1.airtime_ns, "{} vs {}", v2.airtime_ns, v1.airtime_ns);
    assert!(link.transmit(0, Direction::AToB, 0, false).is_ok());
    assert_eq!(
        LinkError::FrameTooLong { len: 1_471 }.to_string(),
        "the payload of 1471 bytes is longer than the 1470 ESP-NOW v2 carries"
    );
}

#[test]
fn broadcast_never_reports_an_ack_failure() {
    let mut link = link(Preset::Edge30.config(), 11);
    let mut lost = 0;
    for _ in 0..10_000 {
        let transmission = link.transmit(0, Direction::AToB, 250, true).unwrap();
        assert!(transmission.acknowledged);
        assert_eq!(transmission.ack_drop, None);
        assert_eq!(transmission.attempts, 1);
        assert_eq!(transmission.airtime_ns, airtime::attempt_ns(transmission_rate(&link), 250, true, 67_500));
        lost += usize::from(!transmission.delivered());
    }
    assert!(lost > 2_000, "the frames themselves are still lost: {lost}");
    assert_eq!(link.counters(Direction::BToA).acks_sent, 0);
}

fn transmission_rate(link: &Link) -> nowcam_link::PhyRate {
    link.config().phy_rate
}

#[test]
fn unicast_exchange_takes_the_documented_airtime() {
    let mut link = link(LinkConfig::default(), 1);
    let transmission = link.transmit(0, Direction::AToB, 250, false).unwrap();
    assert_eq!(transmission.airtime_ns, 2_945_500);
    assert_eq!(transmission.data_offset_ns, 95_500);
    assert_eq!(transmission.attempts, 1);
    assert_eq!(transmission.copies, [Some(nowcam_link::Delivery { delay_ns: 0, duplicate: false }), None]);
    assert_eq!(transmission.to_string(), "a->b unicast 250B air=2945.5us attempts=1 delivered(+0us) acked");
}

#[test]
fn mac_retries_spend_attempts_with_a_doubling_window() {
    let config = LinkConfig { mac_retry: MacRetry::Fixed(2), channel_b: 11, ..LinkConfig::default() };
    let mut link = link(config, 1);
    let transmission = link.transmit(0, Direction::AToB, 250, false).unwrap();
    assert_eq!(transmission.attempts, 3);
    let without_backoff = 28 * US + 2_536 * US + 10 * US + 304 * US;
    assert_eq!(transmission.airtime_ns, 3 * without_backoff + 67_500 + 139_500 + 283_500);
    assert_eq!(transmission.data_offset_ns, 2 * without_backoff + 67_500 + 139_500 + 28 * US + 283_500);
    assert!(!transmission.acknowledged);
    assert_eq!(link.counters(Direction::AToB).attempts, 3);

    // Broadcast is never retried.
    assert_eq!(link.transmit(0, Direction::AToB, 250, true).unwrap().attempts, 1);
}

#[test]
fn mac_retries_recover_lost_frames() {
    let mut config = Preset::Random5.config();
    config.mac_retry = MacRetry::Fixed(3);
    let mut link = link(config, 4);
    let mut attempts_seen = [0u32; 5];
    for _ in 0..50_000 {
        let transmission = link.transmit(0, Direction::AToB, 250, false).unwrap();
        attempts_seen[usize::from(transmission.attempts)] += 1;
        if transmission.acknowledged {
            assert!(transmission.delivered());
        }
    }
    let counters = link.counters(Direction::AToB);
    // Each attempt fails when the data (5 %) or the ACK (5 %) is lost: 9.75 %.
    // Four attempts all failing on the data alone is 0.05^4.
    assert!(counters.lost < 5, "{counters:?}");
    assert!(attempts_seen[2] > 4_000 && attempts_seen[4] > 10, "{attempts_seen:?}");
}

#[test]
fn sampled_backoff_is_uniform_over_the_window() {
    let config = LinkConfig { backoff: Backoff::Sampled, ..LinkConfig::default() };
    let mut link = link(config, 8);
    let mut seen = [0u32; 16];
    let mut total = 0;
    const FRAMES: u64 = 32_000;
    for _ in 0..FRAMES {
        let transmission = link.transmit(0, Direction::AToB, 250, false).unwrap();
        let backoff = transmission.data_offset_ns - airtime::DIFS_NS;
        assert_eq!(backoff % airtime::SLOT_NS, 0);
        seen[(backoff / airtime::SLOT_NS) as usize] += 1;
        total += backoff;
        assert_eq!(transmission.airtime_ns, 2_945_500 - 67_500 + backoff);
    }
    assert!(seen.iter().all(|&count| count > 1_700), "{seen:?}");
    let mean = total as f64 / FRAMES as f64;
    assert!((mean - 67_500.0).abs() < 1_500.0, "{mean}");
}

#[test]
fn dup1_duplicates_one_percent_after_the_original() {
    let mut link = link(Preset::Dup1.config(), 21);
    const FRAMES: u64 = 100_000;
    for _ in 0..FRAMES {
        let transmission = link.transmit(0, Direction::AToB, 250, false).unwrap();
        let copies: Vec<_> = transmission.deliveries().collect();
        if let [original, duplicate] = copies[..] {
            assert!(!original.duplicate && duplicate.duplicate);
            assert!(duplicate.delay_ns > original.delay_ns);
        }
    }
    let duplicated = link.counters(Direction::AToB).duplicated as f64 / FRAMES as f64;
    assert!((duplicated - 0.01).abs() < 0.002, "{duplicated}");
}

#[test]
fn reorder_holds_two_percent_back_one_to_four_slots() {
    let mut link = link(Preset::Reorder.config(), 22);
    const FRAMES: u64 = 100_000;
    let mut slots_seen = [0u32; 5];
    for _ in 0..FRAMES {
        let transmission = link.transmit(0, Direction::AToB, 250, false).unwrap();
        slots_seen[usize::from(transmission.hold_back_slots)] += 1;
    }
    assert!(slots_seen[1..].iter().all(|&count| count > 350), "{slots_seen:?}");
    let reordered = link.counters(Direction::AToB).reordered as f64 / FRAMES as f64;
    assert!((reordered - 0.02).abs() < 0.002, "{reordered}");
}

#[test]
fn delay_preset_jitters_and_spikes() {
    let mut link = link(Preset::Delay.config(), 23);
    const FRAMES: u64 = 100_000;
    let mut spikes = 0;
    for _ in 0..FRAMES {
        let delay = link.transmit(0, Direction::BToA, 250, false).unwrap().copies[0].unwrap().delay_ns;
        if delay > 3 * MS {
            assert!((21 * MS..=23 * MS).contains(&delay), "{delay}");
            spikes += 1;
        } else {
            assert!(delay >= MS, "{delay}");
        }
    }
    let rate = spikes as f64 / FRAMES as f64;
    assert!((rate - 0.01).abs() < 0.002, "{rate}");
}

#[test]
fn clean_preset_delays_two_plus_or_minus_one_ms() {
    let mut link = link(Preset::Clean.config(), 24);
    let delays: Vec<u64> = (0..10_000)
        .map(|_| link.transmit(0, Direction::AToB, 250, false).unwrap().copies[0].unwrap().delay_ns)
        .collect();
    assert!(delays.iter().all(|delay| (MS..=3 * MS).contains(delay)));
    let mean = delays.iter().sum::<u64>() as f64 / delays.len() as f64;
    assert!((mean - 2e6).abs() < 2e4, "{mean}");
}

#[test]
fn tx_queue_refuses_the_frame_past_the_limit() {
    let link = link(LinkConfig::default(), 1);
    let mut queue = link.tx_queue();
    assert_eq!(queue.limit(), DEFAULT_TX_QUEUE_LIMIT);
    for _ in 0..DEFAULT_TX_QUEUE_LIMIT {
        queue.try_push().unwrap();
    }
    assert!(queue.is_full());
    assert_eq!(queue.try_push(), Err(LinkError::QueueFull));
    queue.pop();
    assert_eq!(queue.len(), DEFAULT_TX_QUEUE_LIMIT - 1);
    queue.try_push().unwrap();

    let mut empty = TxQueue::new(1);
    empty.pop();
    assert!(empty.is_empty());
}

#[test]
fn presets_parse_from_their_names() {
    for preset in Preset::ALL {
        assert_eq!(preset.name().parse::<Preset>(), Ok(preset));
        assert_eq!(preset.to_string(), preset.name());
    }
    let error = "edge31".parse::<Preset>().unwrap_err();
    assert_eq!(
        error.to_string(),
        "unknown link preset, expected one of clean, random5, bursty20, edge30, dup1, reorder, delay"
    );
}

/// Checks that `change` applied to the default configuration is refused with `expected`.
fn check_invalid(change: impl FnOnce(&mut LinkConfig), expected: LinkConfigError) {
    let mut config = LinkConfig::default();
    change(&mut config);
    assert_eq!(Link::new(config, 0).err(), Some(expected));
    assert_eq!(config.validate(), Err(expected));
}

#[test]
fn invalid_configurations_are_refused() {
    use Direction::{AToB, BToA};
    let ge = |p, r, h, k| LossModel::GilbertElliott { p, r, h, k };
    check_invalid(
        |c| c.a_to_b.loss = LossModel::Bernoulli { p: 1.5 },
        LinkConfigError::Probability { direction: AToB, field: "loss.p" },
    );
    check_invalid(
        |c| c.b_to_a.loss = LossModel::Bernoulli { p: f64::NAN },
        LinkConfigError::Probability { direction: BToA, field: "loss.p" },
    );
    check_invalid(|c| c.a_to_b.loss = ge(0.1, 0.0, 1.0, 0.0), LinkConfigError::NoRecovery { direction: AToB });
    check_invalid(
        |c| c.a_to_b.loss = ge(0.1, 0.2, -0.1, 0.0),
        LinkConfigError::Probability { direction: AToB, field: "loss.h" },
    );
    check_invalid(
        |c| c.b_to_a.loss = ge(0.1, 0.2, 1.0, 2.0),
        LinkConfigError::Probability { direction: BToA, field: "loss.k" },
    );
    check_invalid(
        |c| c.b_to_a.loss = ge(0.1, 1.2, 1.0, 0.0),
        LinkConfigError::Probability { direction: BToA, field: "loss.r" },
    );
    check_invalid(|c| c.a_to_b.duplicate = -0.01, LinkConfigError::Probability { direction: AToB, field: "duplicate" });
    check_invalid(
        |c| c.a_to_b.reorder.probability = 2.0,
        LinkConfigError::Probability { direction: AToB, field: "reorder.probability" },
    );
    check_invalid(|c| c.b_to_a.reorder.min_slots = 0, LinkConfigError::ReorderRange { direction: BToA });
    check_invalid(
        |c| c.b_to_a.reorder = Reorder { probability: 0.1, min_slots: 5, max_slots: 4 },
        LinkConfigError::ReorderRange { direction: BToA },
    );
    check_invalid(
        |c| c.a_to_b.delay = Delay { base_ns: MS, jitter_ns: 2 * MS, ..Delay::default() },
        LinkConfigError::JitterExceedsBase { direction: AToB },
    );
    check_invalid(
        |c| c.a_to_b.delay.spike_probability = 1.01,
        LinkConfigError::Probability { direction: AToB, field: "delay.spike_probability" },
    );
    check_invalid(|c| c.channel_a = 0, LinkConfigError::Channel { station: Station::A, channel: 0 });
    check_invalid(|c| c.channel_b = 15, LinkConfigError::Channel { station: Station::B, channel: 15 });
    check_invalid(|c| c.tx_queue_limit = 0, LinkConfigError::QueueLimitZero);
    check_invalid(|c| c.mac_retry = MacRetry::Fixed(16), LinkConfigError::TooManyRetries { retries: 16 });
}

#[test]
fn configuration_errors_read_well() {
    let messages = [
        (
            LinkConfigError::Probability { direction: Direction::AToB, field: "loss.p" },
            "a->b: `loss.p` is not a probability between 0 and 1",
        ),
        (
            LinkConfigError::NoRecovery { direction: Direction::BToA },
            "b->a: the Gilbert-Elliott recovery probability `loss.r` is 0, so a burst would never end",
        ),
        (LinkConfigError::Channel { station: Station::B, channel: 15 }, "station b: channel 15 is outside 1 to 14"),
        (LinkConfigError::TooManyOutages, "a link holds at most 32 outages"),
    ];
    for (error, message) in messages {
        assert_eq!(error.to_string(), message);
    }
}

#[test]
fn edge_probabilities_are_exact() {
    let mut config = LinkConfig::default();
    config.a_to_b.loss = LossModel::Bernoulli { p: 1.0 };
    config.b_to_a.duplicate = 1.0;
    let mut link = link(config, 3);
    for _ in 0..1_000 {
        assert!(!link.transmit(0, Direction::AToB, 10, false).unwrap().delivered());
        assert_eq!(link.transmit(0, Direction::BToA, 10, false).unwrap().deliveries().count(), 2);
    }
}

#[test]
fn edge30_trace_snapshot() {
    let mut link = link(LinkConfig { mac_retry: MacRetry::Off, ..Preset::Edge30.config() }, 2024);
    let mut text = String::new();
    let mut now = 0;
    for index in 0..40 {
        let (direction, len) = if index % 8 == 7 { (Direction::BToA, 12) } else { (Direction::AToB, 250) };
        let transmission = link.transmit(now, direction, len, false).unwrap();
        writeln!(text, "{:>9}us {transmission}", now / US).unwrap();
        now += transmission.airtime_ns;
    }
    for direction in Direction::ALL {
        writeln!(text, "{direction}: {:?}", link.counters(direction)).unwrap();
    }
    insta::assert_snapshot!(text);
}

#[test]
fn every_feature_trace_snapshot() {
    let mut outages = Outages::new();
    outages.push(30 * MS, 40 * MS).unwrap();
    let config = LinkConfig {
        a_to_b: DirectionConfig {
            loss: Preset::Edge30.direction_config().loss,
            duplicate: 0.15,
            reorder: Reorder { probability: 0.15, min_slots: 1, max_slots: 4 },
            delay: Delay { base_ns: 2 * MS, jitter_ns: MS, spike_probability: 0.1, spike_ns: 20 * MS },
            snr_db: None,
        },
        b_to_a: Preset::Bursty20.direction_config(),
        backoff: Backoff::Sampled,
        mac_retry: MacRetry::Fixed(2),
        outages,
        ..LinkConfig::default()
    };
    let mut link = link(config, 7);
    let mut text = String::new();
    let mut now = 0;
    for index in 0..30 {
        let broadcast = index % 5 == 4;
        let transmission = link.transmit(now, Direction::AToB, 200, broadcast).unwrap();
        writeln!(text, "{:>9}us {transmission}", now / US).unwrap();
        now += transmission.airtime_ns;
    }
    writeln!(text, "a->b: {:?}", link.counters(Direction::AToB)).unwrap();
    insta::assert_snapshot!(text);
}

#[test]
fn the_chip_mac_retry_is_the_default() {
    assert_eq!(LinkConfig::default().mac_retry, MacRetry::Chip);
    for preset in Preset::ALL {
        assert_eq!(preset.config().mac_retry, MacRetry::Chip, "{preset}");
    }
}

#[test]
fn the_chip_retries_5_to_11_times_over_about_20_ms() {
    // Channel mismatch: no attempt is ever acknowledged.
    let config = LinkConfig { channel_b: 6, ..LinkConfig::default() };
    let full = link(config, 1).transmit(0, Direction::AToB, 250, false).unwrap();
    assert_eq!(full.attempts, 6, "{full}");
    assert!((20 * MS..24 * MS).contains(&full.airtime_ns), "{full}");
    let short = link(config, 1).transmit(0, Direction::AToB, 16, false).unwrap();
    assert!((5..=11).contains(&short.attempts), "{short}");
    assert!(short.attempts > full.attempts, "{short}");
    assert!(short.airtime_ns >= 20 * MS, "{short}");
    // Broadcast is never retried.
    let broadcast = link(config, 1).transmit(0, Direction::AToB, 250, true).unwrap();
    assert_eq!(broadcast.attempts, 1);
}

#[test]
fn the_chip_retry_stops_at_the_first_ack() {
    let mut config = LinkConfig::default();
    config.a_to_b.loss = LossModel::Bernoulli { p: 0.5 };
    let mut link = link(config, 3);
    let mut retried = 0;
    for k in 0..200u64 {
        let t = link.transmit(k * 30 * MS, Direction::AToB, 250, false).unwrap();
        if t.acknowledged {
            assert!(t.drop.is_none() && t.airtime_ns <= 24 * MS, "{t}");
        }
        retried += u64::from(t.attempts > 1);
    }
    assert!(retried > 50, "{retried}");
    // With half the attempts lost and 6 tries, almost every frame gets through.
    assert!(link.counters(Direction::AToB).delivered >= 195);
}

/// With an SNR, data frames are lost to noise as the NIST model says for
/// their rate and length, and MAC ACKs (14 bytes, at the ACK rate) far less.
#[test]
fn noise_loss_follows_the_error_rate_model_per_rate_and_length() {
    use nowcam_link::airtime::PhyRate;
    use nowcam_link::error_rate::frame_success_probability;
    for (rate, snr_db) in [
        (PhyRate::Ofdm54Mbps, 19.0),
        (PhyRate::Ofdm54Mbps, 40.0),
        (PhyRate::Dsss1Mbps, -2.0),
        (PhyRate::Ofdm24Mbps, 11.5),
    ] {
        let direction = DirectionConfig { snr_db: Some(snr_db), ..DirectionConfig::default() };
        let config = LinkConfig { phy_rate: rate, mac_retry: MacRetry::Off, ..LinkConfig::symmetric(direction) };
        let mut link = link(config, 11);
        let sends = 20_000u32;
        let mut lost = 0u32;
        let mut acks_lost = 0u32;
        for _ in 0..sends {
            let transmission = link.transmit(0, Direction::AToB, 250, false).unwrap();
            match transmission.drop {
                Some(DropReason::Noise) => lost += 1,
                None if transmission.ack_drop == Some(DropReason::Noise) => acks_lost += 1,
                None => {}
                other => panic!("{rate}: unexpected drop {other:?}"),
            }
        }
        let expected = 1.0 - frame_success_probability(rate, snr_db, airtime::frame_len(250));
        let measured = f64::from(lost) / f64::from(sends);
        assert!((measured - expected).abs() < 0.015, "{rate} at {snr_db} dB: lost {measured}, model {expected}");
        let ack_expected = 1.0 - frame_success_probability(airtime::ack_rate(rate), snr_db, airtime::ACK_LEN);
        // ACKs are drawn only for delivered frames: judged where enough were.
        let delivered = sends - lost;
        if delivered >= 2_000 {
            let ack_measured = f64::from(acks_lost) / f64::from(delivered);
            assert!(
                (ack_measured - ack_expected).abs() < 0.02,
                "{rate} at {snr_db} dB: ACKs lost {ack_measured}, model {ack_expected}"
            );
        }
        assert!(ack_expected <= expected, "{rate} at {snr_db} dB: a 14-byte ACK fares no worse than 293 bytes");
        assert_eq!(link.counters(Direction::AToB).lost_to_noise, u64::from(lost));
    }
}

#[test]
fn high_rates_need_a_better_signal_than_1_mbps() {
    use nowcam_link::airtime::PhyRate;
    let lost = |rate: PhyRate, snr_db: f64| {
        let direction = DirectionConfig { snr_db: Some(snr_db), ..DirectionConfig::default() };
        let config = LinkConfig { phy_rate: rate, mac_retry: MacRetry::Off, ..LinkConfig::symmetric(direction) };
        let mut link = link(config, 3);
        (0..2_000).filter(|_| !link.transmit(0, Direction::AToB, 250, false).unwrap().delivered()).count()
    };
    // At 10 dB, 1 Mbps gets everything through and 54 Mbps nothing; at 30 dB both do.
    assert_eq!(lost(PhyRate::Dsss1Mbps, 10.0), 0);
    assert_eq!(lost(PhyRate::Ofdm54Mbps, 10.0), 2_000);
    assert_eq!(lost(PhyRate::Ofdm54Mbps, 30.0), 0);
}

#[test]
fn an_snr_outside_the_range_is_refused() {
    for snr_db in [f64::NAN, f64::INFINITY, -21.0, 81.0] {
        let direction = DirectionConfig { snr_db: Some(snr_db), ..DirectionConfig::default() };
        let config = LinkConfig { b_to_a: direction, ..LinkConfig::default() };
        assert_eq!(Link::new(config, 1).err(), Some(LinkConfigError::Snr { direction: Direction::BToA }), "{snr_db}");
    }
}

/// The presets carry no SNR: their draws, and so every earlier result, stay as they were.
#[test]
fn presets_have_no_noise() {
    for preset in Preset::ALL {
        assert_eq!(preset.direction_config().snr_db, None, "{preset}");
    }
}
