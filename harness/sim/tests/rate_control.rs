//! The sender's rate controller (`nowcam_proto::rate`) on links of fixed SNR,
//! where each rate's delivery follows the link model's NIST error-rate model
//! for a 250-byte frame: it settles on a rate within 10 % of the best
//! expected throughput, and finds it again after the SNR steps.

use std::path::Path;
use std::sync::Arc;

use nowcam_link::airtime::{self, PhyRate};
use nowcam_sim::fixtures::{synthetic_image, FixtureCatalog};
use nowcam_sim::run::{RunOptions, RunResult, SnrStep};
use nowcam_sim::scenario::Scenario;
use nowcam_sim::setup::prepare_with_images;
use nowcam_link::{frame_success_probability, CHIP_SEND_OVERHEAD_NS};
use nowcam_proto::rate::{RateConfig, RateController};
use nowcam_proto::time::{Duration, Instant};

/// The ESP32's rates of 250-byte frames: DSSS/CCK and ERP-OFDM (every rate but HT).
fn rates() -> [PhyRate; 12] {
    let mut rates = PhyRate::ALL.into_iter().filter(|rate| !rate.is_ht());
    core::array::from_fn(|_| rates.next().expect("twelve DSSS/CCK and ERP-OFDM rates"))
}

/// What one broadcast 250-byte frame costs at each rate: its airtime, or the
/// chip's per-send software cost where that is longer.
fn frame_ns() -> [u32; 12] {
    rates().map(|rate| {
        let air = airtime::attempt_ns(rate, 250, true, airtime::mean_backoff_ns(0));
        air.max(CHIP_SEND_OVERHEAD_NS) as u32
    })
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

/// One image of `len` bytes with the rate chosen per chunk (`phy_rate_mbps =
/// "auto"`) at `snr_db`, with `frame_size`-byte frames on both sides; the
/// SNR of both directions changes as `steps` say.
fn auto_run(snr_db: f64, frame_size: u16, len: usize, seed: u64, steps: &[SnrStep]) -> RunResult {
    let text = format!(
        "time_limit_s = 120\n[link]\nphy_rate_mbps = \"auto\"\nsnr_db = {snr_db}\n[[senders]]\nimages = [\"synthetic:{len}\"]\nframe_size = {frame_size}\n[[receivers]]\nframe_size = {frame_size}\n"
    );
    let catalog = FixtureCatalog::from_fixtures(Path::new("fixtures"), Vec::new());
    let scenario = Scenario::parse(Path::new("auto.toml"), &text, &catalog).unwrap();
    let image: Arc<[u8]> = synthetic_image(len).into();
    let prepared = prepare_with_images(&scenario, vec![vec![image.clone()]]).unwrap();
    let result =
        prepared.run_with_snr_steps(seed, RunOptions { capture: false, keep_images: true }, steps).unwrap();
    assert!(result.passed, "{snr_db} dB: {:?}", result.failures);
    assert_eq!(&result.received[0].bytes[..], &image[..], "{snr_db} dB: not byte-exact");
    result
}

/// The rate most chunks went at.
fn most_used(result: &RunResult) -> &str {
    result.rates_used.iter().max_by_key(|used| used.chunks).map_or("none", |used| used.rate.as_str())
}

#[test]
fn the_wired_controller_converges_on_a_high_rate_at_30_db_and_a_low_one_at_8_db() {
    for frame_size in [250u16, 1470] {
        let clear = auto_run(30.0, frame_size, 300_000, 3, &[]);
        eprintln!("30 dB, {frame_size}: {} s, {:?}, final {:?}", clear.sim_time_s, clear.rates_used, clear.final_rate);
        let noisy = auto_run(8.0, frame_size, 100_000, 3, &[]);
        eprintln!("8 dB, {frame_size}: {} s, {:?}, final {:?}", noisy.sim_time_s, noisy.rates_used, noisy.final_rate);
    }
}
