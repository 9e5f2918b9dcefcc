//! `cargo xtask hil`: build `nowcam` in release, then run every scenario and
//! write the reports under target/nowcam/.

use std::process::Command;

use anyhow::{bail, Context, Result};

#[derive(clap::Args)]
pub struct Args {
    /// Seeds per scenario (default: each scenario's own)
    #[arg(long)]
    seeds: Option<u32>,
    /// The first seed
    #[arg(long)]
    seed_start: Option<u64>,
    /// Run only part i of n (1-based), for CI matrices
    #[arg(long)]
    shard: Option<String>,
    /// sim (default), wokwi or board
    #[arg(long, default_value = "sim")]
    target: String,
    /// Scenario files; default every scenarios/*.toml
    scenarios: Vec<String>,
}

pub fn run(args: Args) -> Result<()> {
    let root = crate::project_root();
    let binary = build_nowcam()?;
    let report = root.join("target/nowcam");
    let mut command = Command::new(&binary);
    command.current_dir(&root).arg("run").arg("--target").arg(&args.target).arg("--report").arg(&report);
    if let Some(seeds) = args.seeds {
        command.arg("--seeds").arg(seeds.to_string());
    }
    if let Some(start) = args.seed_start {
        command.arg("--seed-start").arg(start.to_string());
    }
    if let Some(shard) = &args.shard {
        command.arg("--shard").arg(shard);
    }
    command.args(&args.scenarios);
    let status = command.status().with_context(|| format!("running {}", binary.display()))?;
    if let Ok(summary) = std::env::var("GITHUB_STEP_SUMMARY") {
        let markdown = std::fs::read_to_string(report.join("summary.md")).unwrap_or_default();
        let _ = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(summary)
            .and_then(|mut f| std::io::Write::write_all(&mut f, markdown.as_bytes()));
    }
    if !status.success() {
        bail!("scenarios failed; reports in {}", report.display());
    }
    Ok(())
}

/// Builds the `nowcam` binary in release and returns its path.
pub fn build_nowcam() -> Result<std::path::PathBuf> {
    let root = crate::project_root();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(&cargo)
        .current_dir(&root)
        .args(["build", "--release", "-p", "nowcam", "--bin", "nowcam"])
        .status()
        .context("running cargo build")?;
    if !status.success() {
        bail!("building nowcam failed");
    }
    Ok(root.join("target/release/nowcam"))
}
