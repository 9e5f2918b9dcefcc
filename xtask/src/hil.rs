//! `cargo xtask hil`: build `nowcam` in release, then run every scenario and
//! write the reports under target/nowcam/. Every failure prints a line that
//! runs exactly that scenario and seed again with this same command.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

#[derive(clap::Args)]
#[command(after_help = "Exit status: 0 when every run that ran passed, 1 when one failed, \
3 when nothing was verified (every run skipped: no board, no Wokwi token), never 0 for that")]
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
    /// The board inventory (TOML), passed on to `nowcam run --inventory`
    #[arg(long)]
    inventory: Option<PathBuf>,
    /// Scenario files; default every scenarios/*.toml
    scenarios: Vec<PathBuf>,
}

/// Exit status of `nowcam run` when nothing was verified (every run skipped).
const EXIT_NOTHING_VERIFIED: i32 = 3;

/// `nowcam` runs from the root of the clone: a path given relative to the
/// caller's directory becomes relative to the root (or absolute outside it),
/// so that the reproduction lines it prints work from the root.
fn from_root(path: &Path, root: &Path) -> Result<PathBuf> {
    let absolute = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir().context("reading the working directory")?.join(path)
    };
    let absolute = absolute.canonicalize().with_context(|| format!("reading {}", path.display()))?;
    let root = root.canonicalize().with_context(|| format!("reading {}", root.display()))?;
    Ok(absolute.strip_prefix(&root).map(Path::to_path_buf).unwrap_or(absolute))
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
    if let Some(inventory) = &args.inventory {
        command.arg("--inventory").arg(from_root(inventory, &root)?);
        if args.target == "board" {
            let chips = serial_chips(inventory);
            if !chips.is_empty() {
                for chip in &chips {
                    crate::firmware::run(crate::firmware::Args {
                        chip: Some(*chip),
                        role: None,
                        release: true,
                        variant: Some(crate::firmware::Variant::Standard),
                    })?;
                }
                command.arg("--flash").arg(crate::firmware::boards_dir().join("target").join("nowcam"));
            }
        }
    }
    for scenario in &args.scenarios {
        command.arg(from_root(scenario, &root)?);
    }
    let status = command.status().with_context(|| format!("running {}", binary.display()))?;
    if let Ok(summary) = std::env::var("GITHUB_STEP_SUMMARY") {
        let markdown = std::fs::read_to_string(report.join("summary.md")).unwrap_or_default();
        let _ = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(summary)
            .and_then(|mut f| std::io::Write::write_all(&mut f, markdown.as_bytes()));
    }
    if status.code() == Some(EXIT_NOTHING_VERIFIED) {
        eprintln!("skipped: nothing was verified on target {}; reports in {}", args.target, report.display());
        std::process::exit(EXIT_NOTHING_VERIFIED);
    }
    if !status.success() {
        bail!("scenarios failed; reports in {}", report.display());
    }
    Ok(())
}

/// The chips of the real (serial) boards an inventory lists, to build their
/// firmware before `nowcam run --flash`. A file that does not parse yields
/// none: `nowcam run` reports what is wrong with it, naming the field.
fn serial_chips(inventory: &Path) -> Vec<crate::firmware::Chip> {
    #[derive(serde::Deserialize)]
    struct Raw {
        #[serde(default)]
        board: Vec<RawBoard>,
    }
    #[derive(serde::Deserialize)]
    struct RawBoard {
        kind: Option<String>,
        chip: Option<String>,
    }
    let Ok(text) = std::fs::read_to_string(inventory) else { return Vec::new() };
    let Ok(raw) = toml::from_str::<Raw>(&text) else { return Vec::new() };
    let mut chips: Vec<crate::firmware::Chip> = raw
        .board
        .iter()
        .filter(|b| b.kind.as_deref() == Some("serial"))
        .filter_map(|b| <crate::firmware::Chip as clap::ValueEnum>::from_str(b.chip.as_deref()?, true).ok())
        .collect();
    chips.sort();
    chips.dedup();
    chips
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

/// Builds `nowcam` in release and runs it with `args` from the repository
/// root; returns whether it exited 0.
pub fn run_nowcam(args: &[String]) -> Result<bool> {
    let binary = build_nowcam()?;
    let status = Command::new(&binary)
        .current_dir(crate::project_root())
        .args(args)
        .status()
        .with_context(|| format!("running {}", binary.display()))?;
    Ok(status.success())
}
