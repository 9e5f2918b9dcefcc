//! `cargo xtask`: the only build logic of nowcam. CI calls it; so do people.

use anyhow::Result;
use clap::{Parser, Subcommand};

mod bench;
mod deps;
mod firmware;
mod fixtures;
mod flash;
mod fuzz;
mod hil;
mod lint;
mod soak;
mod test;

#[derive(Parser)]
#[command(name = "cargo xtask", about = "nowcam build, test and hardware-in-the-loop tasks")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Install what the tests need, then run every test and the firmware budgets (what CI runs)
    Test(test::Args),
    /// Build, then run the scenarios (the main job)
    Hil(hil::Args),
    /// Run the efficiency and speed benchmark
    Bench(bench::Args),
    /// Regenerate the fixture JPEGs and their manifest
    Fixtures(fixtures::Args),
    /// Build the firmware and make flash images
    Firmware(firmware::Args),
    /// Flash a board and open the monitor
    Flash(flash::Args),
    /// Lint the GitHub workflows with actionlint (one of the steps of `test`)
    Lint(lint::Args),
    /// Run the cargo-fuzz targets on the nightly toolchain (installs it and cargo-fuzz when missing)
    Fuzz(fuzz::Args),
    /// Soak: 10,000 images through bursty20 (or --images N --preset NAME --cameras K), with a progress bar
    Soak(soak::Args),
    /// Install what the HTTP client tests run: ffmpeg, chromium, a Python venv (one of the steps of `test`)
    ClientTools,
}

fn main() -> Result<()> {
    match Cli::parse().command {
        Command::Test(args) => test::run(args),
        Command::Hil(args) => hil::run(args),
        Command::Bench(args) => bench::run(args),
        Command::Fixtures(args) => fixtures::run(args),
        Command::Firmware(args) => firmware::run(args),
        Command::Flash(args) => flash::run(args),
        Command::Lint(args) => lint::run(args),
        Command::Fuzz(args) => fuzz::run(args),
        Command::Soak(args) => soak::run(args),
        Command::ClientTools => deps::install_client_tools(),
    }
}

/// The root of the repository (xtask lives one level below it).
pub fn project_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask lives inside the repository").to_path_buf()
}
