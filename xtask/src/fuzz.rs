//! `cargo xtask fuzz [--seconds N] [--target NAME]`: runs every cargo-fuzz
//! target (or one) for N seconds each on the machine's nightly toolchain,
//! installing nightly (`rustup toolchain install nightly --profile minimal`)
//! and cargo-fuzz (`cargo install cargo-fuzz --locked`) when missing.
//!
//! Each fuzz crate keeps its corpus in `corpus/<target>/` and the crash
//! cases found so far in `artifacts/<target>/`; both are in the repository
//! and `cargo xtask test` replays them through the same checks with an
//! ordinary `cargo test` of each fuzz crate (see [`test_all`]). New inputs
//! the fuzzer finds go to `target/fuzz/corpus/<target>/` (kept out of the
//! repository: copy the few that matter), crashes to `artifacts/<target>/`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, ensure, Context, Result};

use crate::project_root;

/// The fuzz crates, relative to the root, and their targets.
pub const FUZZ_CRATES: [(&str, &[&str]); 4] = [
    ("firmware/proto/fuzz", &["wire_parse", "legacy_codec", "receiver", "sender", "legacy_receiver"]),
    ("firmware/console/fuzz", &["console_decode"]),
    ("firmware/http/fuzz", &["http_request"]),
    ("harness/fuzz", &["scenario_parse", "inventory_parse"]),
];

#[derive(clap::Args)]
pub struct Args {
    /// Seconds per target
    #[arg(long, default_value_t = 60)]
    seconds: u64,
    /// Run only this target
    #[arg(long)]
    target: Option<String>,
}

/// What one target's run did.
struct Outcome {
    target: String,
    executions: u64,
    seconds: f64,
}

pub fn run(args: Args) -> Result<()> {
    ensure_nightly()?;
    ensure_cargo_fuzz()?;
    let root = project_root();
    let mut outcomes = Vec::new();
    let mut matched = false;
    for (directory, targets) in FUZZ_CRATES {
        for target in targets.iter().filter(|t| args.target.as_deref().is_none_or(|wanted| wanted == **t)) {
            matched = true;
            outcomes.push(fuzz_one(&root, directory, target, args.seconds)?);
        }
    }
    if !matched {
        let names: Vec<&str> = FUZZ_CRATES.iter().flat_map(|(_, targets)| targets.iter().copied()).collect();
        bail!("no fuzz target {:?}: expected one of {}", args.target.unwrap_or_default(), names.join(", "));
    }
    println!("\n{:<18} {:>14} {:>9} {:>12}", "target", "executions", "seconds", "exec/s");
    for outcome in &outcomes {
        println!(
            "{:<18} {:>14} {:>9.1} {:>12.0}",
            outcome.target,
            outcome.executions,
            outcome.seconds,
            outcome.executions as f64 / outcome.seconds.max(1e-9)
        );
    }
    Ok(())
}

/// Fuzzes one target: the repository's corpus as seeds, new inputs into
/// target/fuzz/corpus/<target>/, crashes into the crate's artifacts/<target>/.
fn fuzz_one(root: &Path, directory: &str, target: &str, seconds: u64) -> Result<Outcome> {
    let crate_dir = root.join(directory);
    let kept = crate_dir.join("corpus").join(target);
    let found = root.join("target/fuzz/corpus").join(target);
    let artifacts = crate_dir.join("artifacts").join(target);
    for dir in [&kept, &found, &artifacts] {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    println!("\n==> fuzzing {target} ({directory}) for {seconds} s");
    let started = Instant::now();
    let output = Command::new("cargo")
        .args(["+nightly", "fuzz", "run", "--fuzz-dir"])
        .arg(&crate_dir)
        .args(["--target-dir"])
        .arg(root.join("target/fuzz"))
        .arg(target)
        .arg(&found)
        .arg(&kept)
        .arg("--")
        .arg(format!("-max_total_time={seconds}"))
        .arg(format!("-artifact_prefix={}/", artifacts.display()))
        .current_dir(root)
        .output()
        .with_context(|| format!("running `cargo +nightly fuzz run {target}`"))?;
    let elapsed = started.elapsed().as_secs_f64();
    let log = String::from_utf8_lossy(&output.stderr);
    let log_path = root.join("target/fuzz").join(format!("{target}.log"));
    std::fs::write(&log_path, log.as_bytes()).with_context(|| format!("writing {}", log_path.display()))?;
    ensure!(
        output.status.success(),
        "fuzz target {target} failed (log: {}); the crash input is in {}:\n{}",
        log_path.display(),
        artifacts.display(),
        log.lines().rev().take(30).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n")
    );
    let executions = executions(&log).with_context(|| format!("no execution count in {}", log_path.display()))?;
    let seconds = run_seconds(&log).unwrap_or(elapsed);
    println!("{target}: {executions} executions in {seconds:.0} s");
    Ok(Outcome { target: target.to_owned(), executions, seconds })
}

/// libFuzzer's closing line: `Done 1234567 runs in 61 second(s)`.
fn executions(log: &str) -> Option<u64> {
    let line = log.lines().rev().find(|line| line.starts_with("Done "))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn run_seconds(log: &str) -> Option<f64> {
    let line = log.lines().rev().find(|line| line.starts_with("Done "))?;
    line.split_whitespace().nth(4)?.parse().ok()
}

/// Replays every fuzz crate's corpus and crash cases with an ordinary
/// (stable) `cargo test` of the crate, which also builds every fuzz target
/// binary, so that none rots. They share one target directory.
pub fn test_all() -> Result<()> {
    let root = project_root();
    for (directory, _) in FUZZ_CRATES {
        let manifest = root.join(directory).join("Cargo.toml");
        crate::test::cargo(&[
            "test",
            "--locked",
            "--manifest-path",
            &manifest.display().to_string(),
            "--target-dir",
            &fuzz_check_dir().display().to_string(),
        ])?;
    }
    Ok(())
}

/// Where the stable builds of the fuzz crates go.
fn fuzz_check_dir() -> PathBuf {
    project_root().join("target/fuzz-check")
}

fn ensure_nightly() -> Result<()> {
    let output = Command::new("rustup")
        .args(["toolchain", "list"])
        .output()
        .context("running `rustup toolchain list` (is rustup installed?)")?;
    if String::from_utf8_lossy(&output.stdout).lines().any(|line| line.starts_with("nightly")) {
        return Ok(());
    }
    println!("installing the nightly toolchain (cargo fuzz needs it)");
    let status = Command::new("rustup")
        .args(["toolchain", "install", "nightly", "--profile", "minimal"])
        .status()
        .context("running `rustup toolchain install nightly`")?;
    ensure!(status.success(), "`rustup toolchain install nightly --profile minimal` failed");
    Ok(())
}

fn ensure_cargo_fuzz() -> Result<()> {
    let present =
        Command::new("cargo").args(["+nightly", "fuzz", "--version"]).output().is_ok_and(|out| out.status.success());
    if present {
        return Ok(());
    }
    println!("installing cargo-fuzz");
    let status = Command::new("cargo")
        .args(["install", "cargo-fuzz", "--locked"])
        .status()
        .context("running `cargo install cargo-fuzz --locked`")?;
    ensure!(status.success(), "`cargo install cargo-fuzz --locked` failed");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libfuzzer_closing_line_gives_executions_and_seconds() {
        let log = "#2 INITED\n#1000 pulse\nDone 1234567 runs in 61 second(s)\n";
        assert_eq!(executions(log), Some(1_234_567));
        assert_eq!(run_seconds(log), Some(61.0));
        assert_eq!(executions("crash"), None);
    }
}
