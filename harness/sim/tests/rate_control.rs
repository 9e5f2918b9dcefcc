//! The sender's rate controller (`nowcam_proto::rate`) on links of fixed SNR,
//! where each rate's delivery follows the link model's NIST error-rate model
//! for a 250-byte frame: it settles on a rate within 10 % of the best
//! expected throughput, and finds it again after the SNR steps. Then the
//! same wired into the camera node (`phy_rate_mbps = "auto"`) through the
//! whole simulator, its outcomes learnt from the receiver's status answers.

use std::path::Path;
use std::sync::Arc;

use nowcam_app::AUTO_RATES;
use nowcam_link::airtime::{self, PhyRate};
use nowcam_link::{frame_success_probability, CHIP_SEND_OVERHEAD_NS};
use nowcam_proto::rate::{RateConfig, RateController};
use nowcam_proto::time::{Duration, Instant};
use nowcam_sim::fixtures::{synthetic_image, FixtureCatalog};
use nowcam_sim::run::{RunOptions, RunResult, SnrStep};
use nowcam_sim::scenario::Scenario;
use nowcam_sim::setup::prepare_with_images;

/// The ESP32's rates of 250-byte frames: DSSS/CCK and ERP-OFDM (every rate but HT).
fn rates() -> [PhyRate; 12] {
    let mut rates = PhyRate::ALL.into_iter().filter(|rate| !rate.is_ht());
    core::array::from_fn(|_| rates.next().expect("twelve DSSS/CCK and ERP-OFDM rates"))
}

/// What one broadcast 250-byte frame costs at each rate: its airtime, or the
/// chip's per-send software cost where that is longer.
fn frame_ns() -> [u32; 12] {
    rates().map(|rate| airtime::broadcast_send_ns(rate, 250, CHIP_SEND_OVERHEAD_NS))
}

fn success(snr_db: f64) -> [f64; 12] {
    rates().map(|rate| frame_success_probability(rate, snr_db, airtime::frame_len(250)))
}

/// Delivered frames per second at rate `i`.
fn throughput(snr_db: f64, i: usize) -> f64 {
    success(snr_db)[i] * 1e9 / f64::from(frame_ns()[i])
}

fn best_throughput(snr_db: f64) -> f64 {
    (0..rates().len()).map(|i| throughput(snr_db, i)).fold(0.0, f64::max)
}

/// Runs `frames` frames (one per frame time of the rate picked) at `snr_db`; returns the time reached.
fn drive(controller: &mut RateController<12>, snr_db: f64, from: Instant, frames: u32, seed: &mut u64) -> Instant {
    let p = success(snr_db);
    let costs = frame_ns();
    let mut now = from;
    for _ in 0..frames {
        let rate = controller.pick(now);
        *seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        let draw = (*seed >> 11) as f64 / (1u64 << 53) as f64;
        controller.report(rate, draw < p[rate]);
        now += Duration::from_micros(u64::from(costs[rate]).div_ceil(1_000));
    }
    now
}

#[test]
fn the_controller_settles_near_the_best_rate_at_each_snr() {
    for snr_db in [2.0, 6.0, 10.0, 14.0, 18.0, 22.0, 30.0] {
        let mut controller = RateController::new(frame_ns(), RateConfig::default()).unwrap();
        let mut seed = 7;
        drive(&mut controller, snr_db, Instant::ZERO, 20_000, &mut seed);
        let chosen = throughput(snr_db, controller.best());
        let best = best_throughput(snr_db);
        assert!(
            chosen >= 0.9 * best,
            "{snr_db} dB: chose {} ({chosen:.0}/s), best {best:.0}/s",
            rates()[controller.best()]
        );
    }
}

#[test]
fn the_controller_follows_an_snr_step_within_a_second() {
    let mut controller = RateController::new(frame_ns(), RateConfig::default()).unwrap();
    let mut seed = 11;
    let near_best = |controller: &RateController<12>, snr_db: f64| {
        throughput(snr_db, controller.best()) >= 0.9 * best_throughput(snr_db)
    };
    let now = drive(&mut controller, 30.0, Instant::ZERO, 20_000, &mut seed);
    assert!(near_best(&controller, 30.0), "{}", rates()[controller.best()]);
    // The camera walks behind a wall: 8 dB. Within a second it is back near the best.
    let mut at = now;
    let deadline = now + Duration::from_secs(1);
    while at < deadline {
        at = drive(&mut controller, 8.0, at, 100, &mut seed);
        if near_best(&controller, 8.0) {
            break;
        }
    }
    assert!(at < deadline, "still at {} a second after the step", rates()[controller.best()]);
    // And back: 30 dB again. From 18 Mbps up every rate costs the chip's
    // per-send time rather than its airtime, so any of them is as good.
    let start = at;
    while at < start + Duration::from_secs(2) && !near_best(&controller, 30.0) {
        at = drive(&mut controller, 30.0, at, 100, &mut seed);
    }
    assert!(near_best(&controller, 30.0), "at {} 2 s after the signal returned", rates()[controller.best()]);
}

/// `count` images of `len` bytes from a camera that found its receiver by
/// probing (so both use `frame_size`-byte frames from the first chunk on),
/// with the rate chosen per chunk (`phy_rate_mbps = "auto"`) at `snr_db`,
/// changed on both directions as `steps` say. Every image must arrive
/// byte-exact. The receiver's flash takes no time, so that chunks are lost
/// to noise only, not to a receive queue the flash keeps full (which the
/// controller also counts as loss, and rightly avoids).
fn auto_run(snr_db: f64, frame_size: u16, len: usize, count: usize, seed: u64, steps: &[SnrStep]) -> RunResult {
    let images = vec![format!("\"synthetic:{len}\""); count].join(", ");
    let text = format!(
        "time_limit_s = 120\nflash = \"ideal\"\n[link]\nphy_rate_mbps = \"auto\"\nsnr_db = {snr_db:?}\n[[senders]]\nimages = [{images}]\nframe_size = {frame_size}\ndiscovery = true\n[[receivers]]\nframe_size = {frame_size}\n"
    );
    let catalog = FixtureCatalog::from_fixtures(Path::new("fixtures"), Vec::new());
    let scenario = Scenario::parse(Path::new("auto.toml"), &text, &catalog).unwrap();
    let image: Arc<[u8]> = synthetic_image(len).into();
    let prepared = prepare_with_images(&scenario, vec![vec![image.clone(); count]]).unwrap();
    let result = prepared.run_with_snr_steps(seed, RunOptions { capture: false, keep_images: true }, steps).unwrap();
    assert!(result.passed, "{snr_db} dB: {:?}", result.failures);
    assert_eq!(result.received.len(), count);
    for received in &result.received {
        assert_eq!(&received.bytes[..], &image[..], "{snr_db} dB: not byte-exact");
    }
    result
}

/// What a chunk frame of `frame_size` bytes costs the camera at each rate the
/// camera chooses among, as the simulator tells its controller.
fn chunk_frame_ns(frame_size: u16) -> Vec<f64> {
    let link = nowcam_link::LinkConfig::default();
    let costs = nowcam_sim::setup::auto_rate_costs(&link).at(usize::from(frame_size));
    costs.iter().map(|&ns| f64::from(ns)).collect()
}

/// Expected chunks delivered per second at each of `AUTO_RATES` at `snr_db`.
fn chunk_throughput(snr_db: f64, frame_size: u16) -> Vec<f64> {
    let costs = chunk_frame_ns(frame_size);
    AUTO_RATES
        .iter()
        .zip(costs)
        .map(|(&rate, ns)| {
            frame_success_probability(rate, snr_db, airtime::frame_len(usize::from(frame_size))) * 1e9 / ns
        })
        .collect()
}

/// The index of `AUTO_RATES` a run's controller ended on.
fn final_index(result: &RunResult) -> usize {
    let name = result.final_rate.as_deref().expect("an auto run reports its final rate");
    AUTO_RATES.iter().position(|rate| rate.name() == name).expect("a rate of AUTO_RATES")
}

/// Whether the run's final rate is within 10 % of the best expected chunk throughput at `snr_db`.
fn near_best(result: &RunResult, snr_db: f64, frame_size: u16) -> bool {
    let throughput = chunk_throughput(snr_db, frame_size);
    let best = throughput.iter().copied().fold(0.0, f64::max);
    throughput[final_index(result)] >= 0.9 * best
}

#[test]
fn the_wired_controller_converges_on_a_high_rate_at_30_db_and_a_low_one_at_8_db() {
    for frame_size in [250u16, 1470] {
        for seed in [1, 2] {
            let clear = auto_run(30.0, frame_size, 200_000, 1, seed, &[]);
            let chosen = AUTO_RATES[final_index(&clear)];
            assert!(near_best(&clear, 30.0, frame_size), "30 dB, {frame_size} B: ended at {chosen}");
            assert!(chosen.is_ofdm() && chosen.name().parse::<f64>().unwrap() >= 18.0, "30 dB: {chosen}");
            let noisy = auto_run(8.0, frame_size, 100_000, 1, seed, &[]);
            let chosen = AUTO_RATES[final_index(&noisy)];
            assert!(near_best(&noisy, 8.0, frame_size), "8 dB, {frame_size} B: ended at {chosen}");
            assert!(chosen.name().parse::<f64>().unwrap() <= 12.0, "8 dB: {chosen}");
            // Most chunks go at the rate it converged on, or near it: not at 1 Mbps.
            let at_one = noisy.rates_used.iter().find(|used| used.rate == "1").map_or(0, |used| used.chunks);
            let total: u64 = noisy.rates_used.iter().map(|used| used.chunks).sum();
            assert!(at_one * 4 < total, "8 dB, {frame_size} B: {:?}", noisy.rates_used);
        }
    }
}

#[test]
fn the_wired_controller_follows_an_snr_step_down_and_back_up() {
    // Images of 300 KB in 1470-byte frames: the camera walks behind a wall
    // 0.2 s in (30 dB to 8 dB), and (in the second run) comes back at 0.8 s.
    let step = |at_ms: u64, snr_db: f64| SnrStep { at: Duration::from_millis(at_ms), snr_db: Some(snr_db) };
    let down = auto_run(30.0, 1470, 300_000, 3, 5, &[step(200, 8.0)]);
    let chosen = AUTO_RATES[final_index(&down)];
    assert!(near_best(&down, 8.0, 1470), "after the step down: ended at {chosen}");
    assert!(chosen.name().parse::<f64>().unwrap() <= 12.0, "after the step down: {chosen}");
    assert!(down.sim_time_s > 0.5, "the step came before the end: {} s", down.sim_time_s);
    let back = auto_run(30.0, 1470, 300_000, 8, 5, &[step(200, 8.0), step(800, 30.0)]);
    let chosen = AUTO_RATES[final_index(&back)];
    assert!(back.sim_time_s > 1.2, "the step back came well before the end: {} s", back.sim_time_s);
    // Back at 30 dB it climbs to the fast rates again. Not necessarily to
    // 54 Mbps: at these rates the receiver's flash, not the air, sets the
    // pace, and chunks its full receive queue drops count as lost.
    let mbps = chosen.name().parse::<f64>().unwrap();
    assert!(chosen.is_ofdm() && mbps >= 24.0, "after the step back up: ended at {chosen}, {:?}", back.rates_used);
}

/// A new transfer's first rate costs a few chunks when it does not get
/// through, not a poll interval: the camera asks for a status every
/// `LEARNING_POLL_INTERVAL` chunks while its controller has no outcome of
/// the rate it sends at, and folds the answer at once. At 10 dB nothing
/// above 18 Mbps gets a 1470-byte frame through; the controller starts at 54.
#[test]
fn a_rate_that_fails_at_the_start_costs_a_few_chunks() {
    for seed in [1, 2, 3] {
        let run = auto_run(10.0, 1470, 100_000, 1, seed, &[]);
        let lost_fast: u64 = run
            .rates_used
            .iter()
            .filter(|used| ["24", "36", "48", "54"].contains(&used.rate.as_str()))
            .map(|used| used.chunks)
            .sum();
        // The first learning interval and what goes while its answer comes,
        // then a sample now and then: 53 at 54 Mbps alone before the
        // learning interval (a whole poll interval of 48).
        assert!(lost_fast <= 24, "seed {seed}: {lost_fast} chunks above 18 Mbps: {:?}", run.rates_used);
        assert_eq!(run.final_rate.as_deref(), Some("18"), "seed {seed}");
    }
}
