//! `nowcam virtual-board`, and scenario runs on boards (`--target board`,
//! `--target wokwi`).

use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::ValueEnum;
use nowcam_hil::virtual_board::{serve_on_pty, serve_on_stdio, BoardConfig};
use nowcam_proto::MacAddress;

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum RoleArg {
    Sender,
    Receiver,
}

#[derive(clap::Args)]
pub(crate) struct VirtualBoardArgs {
    #[arg(long, value_enum)]
    role: RoleArg,
    /// The board's address, as 02:4e:43:00:00:01
    #[arg(long, value_parser = parse_mac)]
    mac: MacAddress,
    /// The WiFi channel the board listens on
    #[arg(long, default_value_t = 1)]
    channel: u8,
    /// Seeds the node's random numbers (session ids, backoff)
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Serve on a new pseudo-terminal and print `pty PATH` (the default)
    #[arg(long, conflicts_with = "stdio")]
    pty: bool,
    /// Serve on standard input and output, as wokwi-cli --interactive joins a simulation
    #[arg(long)]
    stdio: bool,
}

pub(crate) fn parse_mac(text: &str) -> Result<MacAddress, String> {
    let parts: Vec<&str> = text.split(':').collect();
    let mut bytes = [0u8; 6];
    if parts.len() != 6 {
        return Err(format!("expected six hex bytes separated by ':', found {text:?}"));
    }
    for (byte, part) in bytes.iter_mut().zip(parts) {
        *byte = u8::from_str_radix(part, 16).map_err(|_| format!("expected a hex byte, found {part:?} in {text:?}"))?;
    }
    Ok(MacAddress(bytes))
}

pub(crate) fn virtual_board(args: VirtualBoardArgs) -> Result<ExitCode> {
    if !(1..=13).contains(&args.channel) {
        bail!("--channel: expected 1 to 13, found {}", args.channel);
    }
    let config = BoardConfig {
        role: match args.role {
            RoleArg::Sender => nowcam_console::Role::Sender,
            RoleArg::Receiver => nowcam_console::Role::Receiver,
        },
        mac: args.mac,
        channel: args.channel,
        seed: args.seed,
    };
    if args.stdio {
        serve_on_stdio(config).context("serving the virtual board on standard input and output")?;
    } else {
        serve_on_pty(config, std::io::stdout()).context("serving the virtual board on a pseudo-terminal")?;
    }
    Ok(ExitCode::SUCCESS)
}
