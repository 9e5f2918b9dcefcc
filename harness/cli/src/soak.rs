//! `nowcam soak`: many images through one preset, with a progress bar,
//! ending with `soak: N images, N delivered, 0 corrupt, 0 stuck` (exit
//! status 1 otherwise); see `nowcam_sim::soak`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{ensure, Context, Result};
use nowcam_sim::scenario::PRESET_NAMES;
use nowcam_sim::soak::{soak, SoakConfig};

#[derive(clap::Args)]
pub(crate) struct Args {
    /// Images in all, over every camera
    #[arg(long)]
    images: u64,
    /// A link preset: clean, random5, bursty20, edge30, dup1, reorder, delay
    #[arg(long)]
    preset: String,
    /// Cameras sending into the one receiver
    #[arg(long, default_value_t = 1)]
    cameras: u32,
    /// The image each camera sends, again and again
    #[arg(long, default_value = "fixtures/vga-q12-20k.jpg")]
    image: PathBuf,
    /// Images per camera in one simulated run (fresh nodes per run, so memory stays flat)
    #[arg(long, default_value_t = 200)]
    batch: u32,
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

pub(crate) fn run(args: Args) -> Result<ExitCode> {
    ensure!(
        PRESET_NAMES.contains(&args.preset.as_str()),
        "--preset: expected one of {}, found {:?}",
        PRESET_NAMES.join(", "),
        args.preset
    );
    ensure!((1..=64).contains(&args.cameras), "--cameras: expected 1 to 64, found {}", args.cameras);
    ensure!(args.images > 0, "--images: expected at least 1");
    let image = std::fs::read(&args.image).with_context(|| format!("reading {}", args.image.display()))?;
    let config = SoakConfig {
        images: args.images,
        preset: args.preset.clone(),
        cameras: args.cameras,
        batch: args.batch.max(1),
        seed: args.seed,
        image: image.into(),
    };
    let bar = crate::progress(args.images);
    let started = std::time::Instant::now();
    let totals = soak(&config, |totals| {
        bar.set_position(totals.images.min(args.images));
        bar.set_message(format!("{} delivered, {} corrupt, {} stuck", totals.delivered, totals.corrupt, totals.stuck));
    })?;
    bar.finish_and_clear();
    let simulated: f64 = totals.per_camera.iter().map(|(_, seconds)| *seconds).fold(0.0, f64::max);
    let delivered: u64 = totals.per_camera.iter().map(|(bytes, _)| bytes).sum();
    println!("{delivered} bytes delivered in {simulated:.1} s of simulated time");
    if args.cameras > 1 {
        let throughputs: Vec<String> = totals.throughputs().iter().map(|t| format!("{:.1}", t / 1000.0)).collect();
        println!(
            "per-camera throughput (KB/s simulated): {}; highest/lowest {:.2}",
            throughputs.join(" "),
            totals.throughput_spread()
        );
    }
    println!(
        "{} runs, {} failed with a typed error, {:.1} s on this host, peak RSS {}",
        totals.runs,
        totals.failed,
        started.elapsed().as_secs_f64(),
        peak_rss().unwrap_or_else(|| "unknown".into())
    );
    for (error, count) in &totals.errors {
        println!("  failed {count}: {error}");
    }
    println!("{}", totals.line());
    Ok(if totals.passed() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// The process's peak resident set size (Linux: VmHWM in /proc/self/status).
fn peak_rss() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status.lines().find_map(|line| line.strip_prefix("VmHWM:")).map(|v| v.trim().to_owned())
}
