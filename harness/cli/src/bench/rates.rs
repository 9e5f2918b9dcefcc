//! `nowcam bench --rates`: one 100 KB image at 1, 11 and 54 Mbps, at a high
//! and a low signal-to-noise ratio, with the receiver's flash at its
//! datasheet latencies and without any. Groundwork of the PHY-rate issue
//! (issue 11): 250-byte v1 frames only, no rate adaptation yet, and no
//! targets — it shows where the time goes once the air is fast.
//!
//! Efficiency here is the airtime bound at the row's rate
//! ([`nowcam_link::lower_bound_at`], no software cost in it) over the time
//! taken; throughput counts the image's bytes over that time.

use std::sync::Arc;

use anyhow::Result;
use nowcam_sim::fixtures::FixtureCatalog;
use nowcam_sim::run::RunOptions;
use nowcam_sim::setup::Prepared;

/// The rates of the table, in Mbps.
const RATES_MBPS: [f64; 3] = [1.0, 11.0, 54.0];
/// A strong signal (every rate gets through) and a weak one (54 Mbps does not).
const SNRS_DB: [f64; 2] = [30.0, 10.0];
/// A row whose image has not arrived by then has failed.
const TIME_LIMIT_S: u32 = 20;

#[derive(serde::Serialize)]
pub struct RateRow {
    pub rate_mbps: f64,
    pub snr_db: f64,
    pub bytes: usize,
    /// Runs whose image arrived byte-exact, of the seeds tried.
    pub byte_exact: u64,
    pub seeds: u64,
    /// The airtime bound at this rate (mean loss 0: the SNR's loss is not in it).
    pub lower_bound_s: f64,
    /// Mean over the byte-exact runs, datasheet flash; `None` when none arrived.
    pub sim_time_s: Option<f64>,
    pub efficiency: Option<f64>,
    pub throughput_kbps: Option<f64>,
    /// The same with a flash that takes no time.
    pub ideal_flash_sim_time_s: Option<f64>,
    pub ideal_flash_throughput_kbps: Option<f64>,
    /// Mean time the receiver read no frame for flash work, datasheet flash.
    pub flash_stall_s: Option<f64>,
}

fn prepared(rate: f64, snr_db: f64, flash: &str, image: Arc<[u8]>) -> Result<Prepared> {
    super::one_image(TIME_LIMIT_S, flash, &format!("phy_rate_mbps = {rate}\nsnr_db = {snr_db}"), "nowcam", image)
}

/// Means over the byte-exact runs: (count, time, bound, stall).
fn measure(prepared: &Prepared, seeds: u64) -> Result<(u64, f64, f64, f64)> {
    let (mut exact, mut time, mut bound, mut stall) = (0u64, 0.0, 0.0f64, 0.0);
    for seed in 0..seeds {
        let result = prepared.run(seed, RunOptions::default())?;
        if result.passed {
            exact += 1;
            time += result.sim_time_s;
            stall += result.flash_stall_s;
            bound = bound.max(result.lower_bound_s);
        }
    }
    let n = exact.max(1) as f64;
    Ok((exact, time / n, bound, stall / n))
}

pub fn table(fixtures: &FixtureCatalog, seeds: u64) -> Result<Vec<RateRow>> {
    let image: Arc<[u8]> = fixtures.read("svga-q4-100k.jpg")?.into();
    let mut rows = Vec::new();
    for snr_db in SNRS_DB {
        for rate in RATES_MBPS {
            let (exact, time, bound, stall) = measure(&prepared(rate, snr_db, "datasheet", image.clone())?, seeds)?;
            let (ideal_exact, ideal_time, _, _) = measure(&prepared(rate, snr_db, "ideal", image.clone())?, seeds)?;
            let kbps = |time: f64| image.len() as f64 * 8.0 / 1000.0 / time;
            let arrived = exact > 0;
            rows.push(RateRow {
                rate_mbps: rate,
                snr_db,
                bytes: image.len(),
                byte_exact: exact,
                seeds,
                lower_bound_s: airtime_bound(rate, image.len()),
                sim_time_s: arrived.then_some(time),
                efficiency: (arrived && bound > 0.0).then(|| bound / time),
                throughput_kbps: arrived.then(|| kbps(time)),
                ideal_flash_sim_time_s: (ideal_exact > 0).then_some(ideal_time),
                ideal_flash_throughput_kbps: (ideal_exact > 0).then(|| kbps(ideal_time)),
                flash_stall_s: arrived.then_some(stall),
            });
        }
    }
    Ok(rows)
}

fn airtime_bound(rate_mbps: f64, bytes: usize) -> f64 {
    let rate = nowcam_sim::setup::phy_rate(rate_mbps).unwrap_or_default();
    nowcam_link::lower_bound_at(rate, bytes as u64, 0.0).unwrap_or(0) as f64 / 1e9
}

pub fn print(rows: &[RateRow]) {
    let cell = |value: Option<f64>, digits: usize| value.map_or("-".to_string(), |v| format!("{v:.digits$}"));
    println!(
        "{:>5} {:>6} {:>8} {:>8} {:>6} {:>8} {:>8} {:>8} {:>6} {:>7}",
        "Mbps", "SNR dB", "bound s", "time s", "eff", "kbps", "ideal s", "ideal kbps", "stall", "exact"
    );
    for r in rows {
        println!(
            "{:>5} {:>6} {:>8.3} {:>8} {:>6} {:>8} {:>8} {:>8} {:>6} {:>7}",
            r.rate_mbps,
            r.snr_db,
            r.lower_bound_s,
            cell(r.sim_time_s, 3),
            cell(r.efficiency, 3),
            cell(r.throughput_kbps, 0),
            cell(r.ideal_flash_sim_time_s, 3),
            cell(r.ideal_flash_throughput_kbps, 0),
            cell(r.flash_stall_s, 3),
            format!("{}/{}", r.byte_exact, r.seeds),
        );
    }
    println!();
    println!("100 KB image, 250-byte v1 frames, fixed rate (no adaptation yet), both directions at the SNR;");
    println!(
        "bound: airtime at the rate with no loss and no software cost; eff = bound / time; kbps = image bits / time;"
    );
    println!("ideal: a flash that takes no time; stall: s the receiver read no frame for flash work (page programs)");
    println!(
        "every send also pays the chip's software cost (286 us, an assumption: nowcam_link::CHIP_SEND_OVERHEAD_NS)"
    );
}
