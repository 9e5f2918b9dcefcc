//! `nowcam virtual-board`, and scenario runs on boards (`--target board`,
//! `--target wokwi`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use clap::ValueEnum;
use nowcam_hil::backend::{self, BoardRun, Boards, BoardsKey};
use nowcam_hil::connect::resolve_port;
use nowcam_hil::connect::{WokwiSimulation, WOKWI_TOKEN_VARIABLE};
use nowcam_hil::flash::{flash, merged_image, Flashed};
use nowcam_hil::inventory::{BoardKind, Inventory};
use nowcam_hil::virtual_board::{serve_on_pty, serve_on_stdio, BoardConfig};
use nowcam_proto::auth::Key;
use nowcam_proto::MacAddress;
use nowcam_sim::report::{RunRecord, Status};
use nowcam_sim::scenario::Scenario;

use crate::key_file::read_key;

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
    /// Run the authenticated mode with this pre-shared key (64 hexadecimal
    /// digits, or 32 raw bytes), as a chip built with NOWCAM_KEY does
    #[arg(long, value_name = "FILE")]
    key_file: Option<PathBuf>,
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
        key: read_key(args.key_file.as_deref())?,
    };
    if config.key.is_some() {
        // On standard error, which `nowcam run` passes through: its log says which mode its boards run.
        eprintln!("virtual board {}: authenticated mode (pre-shared key from --key-file)", config.mac);
    }
    if args.stdio {
        serve_on_stdio(config).context("serving the virtual board on standard input and output")?;
    } else {
        serve_on_pty(config, std::io::stdout()).context("serving the virtual board on a pseudo-terminal")?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The boards a `--target board` or `--target wokwi` run uses, or why none can run.
pub(crate) fn boards_for(
    wokwi: bool,
    inventory: Option<&Path>,
    flash_from: Option<&Path>,
    key: Option<(Key, PathBuf)>,
) -> Result<Result<Boards, String>> {
    if wokwi {
        return Ok(wokwi_boards());
    }
    let Some(path) = inventory else {
        bail!("--target board needs --inventory FILE (see ci/boards.example.toml; ci/boards.virtual.toml runs virtual boards)");
    };
    let inventory = Inventory::load(path)?;
    if let Some(firmware) = flash_from {
        flash_serial_boards(&inventory, firmware)?;
    }
    let exe = std::env::current_exe().context("finding the nowcam binary, which runs the virtual boards")?;
    // Absolute, so that the virtual boards find the file whatever their directory.
    let key = match key {
        Some((key, file)) => Some(BoardsKey {
            key,
            file: std::path::absolute(&file).with_context(|| format!("resolving {}", file.display()))?,
        }),
        None => None,
    };
    Ok(Ok(Boards::Inventory { inventory, exe, key }))
}

/// Flashes every real board of the inventory with its chip's and role's
/// merged image; espflash skips what a board already holds.
fn flash_serial_boards(inventory: &Inventory, firmware: &Path) -> Result<()> {
    for board in &inventory.boards {
        let BoardKind::Serial(port) = &board.kind else { continue };
        let port = resolve_port(board, port)?;
        let image = merged_image(firmware, board.chip, board.role);
        println!("board {}: flashing {} on {port}", board.name, image.display());
        match flash(&board.name, &port, board.chip, &image)? {
            Flashed::Written => println!("board {}: flashed", board.name),
            Flashed::Unchanged => println!("board {}: already runs this build, nothing written", board.name),
        }
    }
    Ok(())
}

/// The Wokwi projects of the ESP32-C3 serial-radio build: the receiver and
/// two senders, each diagram with its own MAC address.
fn wokwi_boards() -> Result<Boards, String> {
    if std::env::var_os(WOKWI_TOKEN_VARIABLE).is_none_or(|token| token.is_empty()) {
        return Err(format!("no {WOKWI_TOKEN_VARIABLE}"));
    }
    let program = match std::env::var_os("NOWCAM_WOKWI_CLI") {
        Some(program) => PathBuf::from(program),
        None => {
            // The projects point at these files; without them wokwi-cli fails after connecting.
            for role in ["receiver", "sender"] {
                let elf = Path::new(WOKWI_FIRMWARE).join(format!("{role}.elf"));
                if !elf.is_file() {
                    return Err(format!(
                        "no {} (build it with `cargo xtask firmware --chip esp32c3 --variant wokwi --release`)",
                        elf.display()
                    ));
                }
            }
            PathBuf::from("wokwi-cli")
        }
    };
    let logs = PathBuf::from("target/nowcam/boards");
    let simulation = |project: &str, role: &str, diagram: Option<&str>, log: &str| WokwiSimulation {
        program: program.clone(),
        project: PathBuf::from("ci/wokwi").join(project),
        timeout_ms: WOKWI_TIMEOUT_MS,
        serial_log: logs.join(format!("wokwi-{role}-{log}.log")),
        diagram: diagram.map(str::to_owned),
    };
    Ok(Boards::Wokwi {
        receiver: simulation("esp32c3-receiver", "receiver", None, "1"),
        senders: vec![
            simulation("esp32c3-sender", "sender", None, "1"),
            simulation("esp32c3-sender", "sender", Some("diagram.sender-2.json"), "2"),
        ],
    })
}

/// Where `cargo xtask firmware --variant wokwi` puts the serial-radio builds the Wokwi projects run.
const WOKWI_FIRMWARE: &str = "firmware/boards/target/nowcam/esp32c3-wokwi";

/// Simulated time a Wokwi simulation may run: longer than any board run waits.
const WOKWI_TIMEOUT_MS: u64 = 600_000;

/// How a board run is named and reported.
pub(crate) struct RunContext<'a> {
    pub target: &'a str,
    /// The scenario file as the report shows it.
    pub path: &'a str,
    pub reproduce: String,
    /// Where each board's serial log goes.
    pub log_dir: Option<&'a Path>,
    pub ready_timeout: std::time::Duration,
}

/// Runs one scenario with one seed on boards and judges it; a board that
/// fails (no ready message, a closed port) fails the run, with the reason.
pub(crate) fn run_on_boards(
    boards: &Boards,
    scenario: &Scenario,
    images: &[Vec<Arc<[u8]>>],
    seed: u64,
    context: RunContext<'_>,
) -> (RunRecord, Vec<Vec<u8>>) {
    let RunContext { target, path, reproduce, log_dir, ready_timeout } = context;
    if let Some(dir) = log_dir {
        let _ = std::fs::create_dir_all(dir);
    }
    match backend::run(boards, scenario, images, seed, log_dir, ready_timeout) {
        Ok(BoardRun::Skipped(reason)) => {
            (RunRecord::skipped(&scenario.name, path, seed, target, &reason, reproduce), Vec::new())
        }
        Ok(BoardRun::Ran(evidence)) => {
            let record = evidence.judge(scenario, seed, target, path, reproduce);
            (record, evidence.read_back.into_iter().map(|(_, bytes)| bytes).collect())
        }
        Err(error) => {
            let failure = format!("{error}");
            let record = RunRecord {
                scenario: scenario.name.clone(),
                path: path.to_owned(),
                seed,
                target: target.to_owned(),
                status: Status::Failed,
                message: Some(failure.clone()),
                failures: vec![failure],
                reproduce,
                capture: None,
                images: Vec::new(),
                metrics: None,
            };
            (record, Vec::new())
        }
    }
}

/// `nowcam transfer --target board|wokwi`: one image from the first sender
/// board to the receiver board, with the same JSON keys as on the simulator.
pub(crate) fn transfer_on_boards(
    boards: &Boards,
    scenario: &Scenario,
    image: Arc<[u8]>,
    seed: u64,
    target: &str,
    ready_timeout: std::time::Duration,
) -> (RunRecord, Option<Vec<u8>>) {
    let context = RunContext { target, path: "command line", reproduce: String::new(), log_dir: None, ready_timeout };
    let (record, mut read_back) = run_on_boards(boards, scenario, &[vec![image]], seed, context);
    let received = (!read_back.is_empty()).then(|| read_back.remove(0));
    (record, received)
}
