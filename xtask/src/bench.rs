//! `cargo xtask bench`: build `nowcam` in release and run its benchmark,
//! writing target/nowcam/bench.json. Fails when a row misses its goal: in
//! the preset table, efficiency at least 0.85 with datasheet flash latency
//! and within 0.02 of the latency-free figure (every row starts with a slot
//! erased ahead); in the PHY-rate table, the targets of issue 11
//! (`nowcam bench --rates` prints them, each missed one marked MISSED).

use std::process::Command;

use anyhow::{bail, Context, Result};

#[derive(clap::Args)]
pub struct Args {
    /// Seeds per row for the nowcam sender
    #[arg(long, default_value_t = 200)]
    seeds: u64,
    /// Wall-clock seconds spent measuring host speed
    #[arg(long, default_value_t = 2.0)]
    speed_seconds: f64,
}

pub fn run(args: Args) -> Result<()> {
    let root = crate::project_root();
    let binary = crate::hil::build_nowcam()?;
    let status = Command::new(&binary)
        .current_dir(&root)
        .args([
            "bench",
            "--seeds",
            &args.seeds.to_string(),
            "--speed-seconds",
            &args.speed_seconds.to_string(),
            "--json",
        ])
        .arg(root.join("target/nowcam/bench.json"))
        .status()
        .with_context(|| format!("running {}", binary.display()))?;
    if !status.success() {
        bail!("the benchmark missed a target (marked MISSED above) or failed");
    }
    Ok(())
}
