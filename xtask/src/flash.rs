//! `cargo xtask flash`: builds one binary, flashes it and opens the monitor.
//!
//! espflash's library talks to serial ports only with its `serialport`
//! feature, which needs libudev on Linux; so this shells out to an installed
//! `espflash` binary and says so when it is missing.

use std::path::Path;
use std::process::Command;

use anyhow::{bail, ensure, Context, Result};

use crate::firmware::{self, Chip, Role};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Chip on the board
    #[arg(long, value_enum)]
    pub chip: Chip,
    /// Serial port of the board, e.g. /dev/ttyACM0
    #[arg(long)]
    pub port: String,
    /// Binary to flash
    #[arg(long, value_enum, default_value = "receiver")]
    pub role: Role,
}

pub fn run(args: Args) -> Result<()> {
    check_port(&args.port)?;
    let espflash = find_espflash()?;
    let elf = firmware::build_for_flashing(args.chip, args.role)?;
    let status = Command::new(&espflash)
        .arg("flash")
        .arg("--monitor")
        .args(["--chip", args.chip.feature()])
        .args(["--port", &args.port])
        .arg("--partition-table")
        .arg(firmware::partition_table())
        .arg(&elf)
        .status()
        .with_context(|| format!("running {}", espflash.display()))?;
    ensure!(status.success(), "espflash failed to flash {} on {}", elf.display(), args.port);
    Ok(())
}

/// Fails early, before a build, when the port is not there.
pub fn check_port(port: &str) -> Result<()> {
    if !Path::new(port).exists() {
        bail!("no such port: {port} (is the board plugged in? ports are usually /dev/ttyACM0 or /dev/ttyUSB0)");
    }
    Ok(())
}

/// The `espflash` on the PATH.
fn find_espflash() -> Result<std::path::PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path).map(|dir| dir.join("espflash")).find(|candidate| candidate.is_file()).context(
        "espflash is not installed: install it with `cargo install espflash --locked` (it needs libudev-dev on Linux)",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: Args,
    }

    #[test]
    fn chip_and_port_are_required_and_role_defaults_to_receiver() {
        let cli = Cli::try_parse_from(["flash", "--chip", "esp32c3", "--port", "/dev/ttyACM0"])
            .expect("valid arguments parse");
        assert_eq!(cli.args.chip, Chip::Esp32c3);
        assert_eq!(cli.args.port, "/dev/ttyACM0");
        assert_eq!(cli.args.role, Role::Receiver);
        let sender = Cli::try_parse_from(["flash", "--chip", "esp32c6", "--port", "COM3", "--role", "sender"])
            .expect("valid arguments parse");
        assert_eq!(sender.args.role, Role::Sender);
    }

    #[test]
    fn missing_port_argument_is_an_error() {
        let error = Cli::try_parse_from(["flash", "--chip", "esp32c3"]).err().expect("--port is required");
        assert!(error.to_string().contains("--port"), "{error}");
    }

    #[test]
    fn a_port_that_does_not_exist_fails_before_building() {
        let port = std::env::temp_dir().join("nowcam-no-such-port-ttyACM9");
        let port = port.to_str().expect("the temp dir is UTF-8");
        let error = run(Args { chip: Chip::Esp32c3, port: port.to_owned(), role: Role::Sender })
            .expect_err("the port does not exist");
        assert_eq!(
            error.to_string(),
            format!("no such port: {port} (is the board plugged in? ports are usually /dev/ttyACM0 or /dev/ttyUSB0)")
        );
    }
}
