//! `nowcam`: run scenarios on the simulated ESP-NOW link, send one image
//! through it, replay captures, and measure the benchmark.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use nowcam_sim::capture::{read_capture_checked, write_capture, CaptureFormat};
use nowcam_sim::fixtures::{sha256_hex, FixtureCatalog};
use nowcam_sim::replay::replay;
use nowcam_sim::report::{reproduce_line, Metrics, Report, RunRecord, Status};
use nowcam_sim::run::RunOptions;
use nowcam_sim::scenario::Scenario;
use nowcam_sim::setup::{prepare, prepare_with_images};
use nowcam_sim::verdict::ImageRecord;

use crate::key_file::read_key;

mod bench;
mod boards;
mod hostile;
mod key_file;
mod serve;
mod soak;

#[derive(Parser)]
#[command(name = "nowcam", version, about = "Move JPEGs over a simulated ESP-NOW link, byte-exact, and prove it")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run scenarios (default: every scenarios/*.toml) and report
    ///
    /// Exit status: 0 when every run that ran passed, 1 when a run failed,
    /// 2 on an error, 3 when nothing was verified (every run was skipped,
    /// or there was nothing to run): a skipped run never counts as passed.
    Run(RunArgs),
    /// Send one image through the simulated link
    Transfer(TransferArgs),
    /// Reassemble every transfer found in a pcap or pcapng capture
    Replay(ReplayArgs),
    /// Measure efficiency against the airtime bound, the legacy sender, and host speed
    Bench(bench::Args),
    /// Send many images through a preset and check every one: soak and load
    Soak(soak::Args),
    /// Stand in for a board: the chip's node and test console on a pseudo-terminal, with a serial radio
    VirtualBoard(boards::VirtualBoardArgs),
    /// The whole system without hardware, in real time: simulated cameras, the receiver's own code and its HTTP API on loopback
    Serve(serve::ServeArgs),
    /// Record a receiver's MJPEG stream into a video file (MJPEG in AVI), with a progress bar
    Record(serve::RecordArgs),
    /// List the nowcam receivers that answer an mDNS query for `_http._tcp` (with TXT cam_name)
    Discover(serve::DiscoverArgs),
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Target {
    /// The discrete-event simulator (runs here)
    Sim,
    /// Two ESP32 simulations in Wokwi (needs a Wokwi token)
    Wokwi,
    /// Real boards on this machine's serial ports
    Board,
}

impl Target {
    fn name(self) -> &'static str {
        match self {
            Target::Sim => "sim",
            Target::Wokwi => "wokwi",
            Target::Board => "board",
        }
    }
}

#[derive(clap::Args)]
struct RunArgs {
    /// Scenario files; default every .toml in --scenarios
    scenarios: Vec<PathBuf>,
    /// Run every scenario in the authenticated mode with this pre-shared key
    /// (64 hexadecimal digits, or 32 raw bytes). On the simulator and on
    /// virtual boards (which are started with it); with --target board, real
    /// boards of the inventory are assumed to have been built with the same
    /// key (NOWCAM_KEY=<the 64 digits> cargo xtask firmware). Without it, a
    /// board run skips the scenarios that set a key. Not on Wokwi
    #[arg(long, value_name = "FILE")]
    key_file: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "sim")]
    target: Target,
    /// The board inventory (TOML) for --target board; named in the reproduction lines
    #[arg(long)]
    inventory: Option<PathBuf>,
    /// Seeds per scenario (default: each scenario's own `seeds`)
    #[arg(long)]
    seeds: Option<u32>,
    /// Before running, flash every real board of the inventory from this folder
    /// of images (`cargo xtask firmware` writes firmware/boards/target/nowcam)
    #[arg(long, value_name = "DIR", requires = "inventory")]
    flash: Option<PathBuf>,
    /// Seconds a board (or Wokwi simulation) has to answer the harness after its port opens
    #[arg(long, default_value_t = 10.0, value_parser = parse_seconds)]
    ready_timeout_s: f64,
    /// The first seed; seeds run from here upwards
    #[arg(long, default_value_t = 0)]
    seed_start: u64,
    /// Write report.json, junit.xml, summary.md and captures of failed runs here
    #[arg(long)]
    report: Option<PathBuf>,
    /// Run only part i of n (1-based), split by scenario
    #[arg(long, value_parser = parse_shard)]
    shard: Option<(usize, usize)>,
    #[arg(long, default_value = "scenarios")]
    scenarios_dir: PathBuf,
    #[arg(long, default_value = "fixtures")]
    fixtures: PathBuf,
}

fn parse_seconds(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(seconds) if seconds > 0.0 && seconds <= 3600.0 => Ok(seconds),
        _ => Err(format!("expected seconds between 0 and 3600, found {text:?}")),
    }
}

fn parse_shard(text: &str) -> Result<(usize, usize), String> {
    let (i, n) = text.split_once('/').ok_or_else(|| format!("expected i/n, found {text:?}"))?;
    let i: usize = i.parse().map_err(|_| format!("expected a shard number, found {i:?}"))?;
    let n: usize = n.parse().map_err(|_| format!("expected a shard count, found {n:?}"))?;
    if n == 0 || i == 0 || i > n {
        return Err(format!("expected 1 <= i <= n, found {i}/{n}"));
    }
    Ok((i, n))
}

/// How long the receiver's flash operations take.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum FlashArg {
    /// The typical erase and program times of the boards' SPI NOR flash datasheets
    Datasheet,
    /// No time at all
    Ideal,
}

impl FlashArg {
    pub(crate) fn name(self) -> &'static str {
        match self {
            FlashArg::Datasheet => "datasheet",
            FlashArg::Ideal => "ideal",
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ProtocolArg {
    Nowcam,
    Legacy,
}

#[derive(clap::Args)]
pub(crate) struct LinkFlags {
    /// A link preset: clean, random5, bursty20, edge30, dup1, reorder, delay
    #[arg(long)]
    preset: Option<String>,
    /// Bernoulli loss probability, both directions
    #[arg(long)]
    loss: Option<f64>,
    /// Gilbert-Elliott loss as p,r,h,k (tc-netem gemodel), both directions
    #[arg(long, value_name = "P,R,H,K")]
    gilbert_elliott: Option<String>,
    /// Probability that a delivered frame arrives twice
    #[arg(long)]
    duplicate: Option<f64>,
    /// Probability that a frame is held back behind later ones
    #[arg(long)]
    reorder: Option<f64>,
    #[arg(long)]
    delay_ms: Option<f64>,
    #[arg(long)]
    jitter_ms: Option<f64>,
    /// Nothing arrives from FROM to TO seconds (TO may be left out: forever)
    #[arg(long, value_name = "FROM..TO")]
    outage: Vec<String>,
    /// PHY rate in Mbps (1, 2, 5.5, 11, 6, 9, 12, 18, 24, 36, 48, 54), or
    /// `auto`: the camera picks each chunk's rate with its rate controller
    /// (the receiver's answers stay at 1 Mbps)
    #[arg(long, visible_alias = "phy-rate", value_parser = parse_phy_rate)]
    phy_rate_mbps: Option<PhyRateArg>,
    /// Signal-to-noise ratio in dB, both directions: frames are also lost to
    /// noise by the NIST error-rate model for the rate and their length
    #[arg(long, allow_hyphen_values = true)]
    snr_db: Option<f64>,
}

/// `--phy-rate`: a number of Mbps, or the rate controller.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum PhyRateArg {
    Mbps(f64),
    Auto,
}

fn parse_phy_rate(text: &str) -> Result<PhyRateArg, String> {
    if text.eq_ignore_ascii_case("auto") {
        return Ok(PhyRateArg::Auto);
    }
    text.parse::<f64>().map(PhyRateArg::Mbps).map_err(|_| format!("expected a number of Mbps or auto, found {text:?}"))
}

impl PhyRateArg {
    /// What the JSON report says: the number, or "auto".
    fn to_json(self) -> serde_json::Value {
        match self {
            PhyRateArg::Mbps(mbps) => serde_json::json!(mbps),
            PhyRateArg::Auto => serde_json::json!("auto"),
        }
    }
}

impl LinkFlags {
    /// The flags as a scenario `[link]` table, so that they are validated like scenario files.
    fn to_toml(&self) -> Result<String> {
        let mut out = String::from("[link]\n");
        if let Some(preset) = &self.preset {
            out.push_str(&format!("preset = {preset:?}\n"));
        }
        for (key, value) in [
            ("loss", self.loss),
            ("duplicate", self.duplicate),
            ("reorder", self.reorder),
            ("delay_ms", self.delay_ms),
            ("jitter_ms", self.jitter_ms),
            ("snr_db", self.snr_db),
        ] {
            if let Some(value) = value {
                out.push_str(&format!("{key} = {value:?}\n"));
            }
        }
        match self.phy_rate_mbps {
            Some(PhyRateArg::Mbps(mbps)) => out.push_str(&format!("phy_rate_mbps = {mbps:?}\n")),
            Some(PhyRateArg::Auto) => out.push_str("phy_rate_mbps = \"auto\"\n"),
            None => {}
        }
        if let Some(ge) = &self.gilbert_elliott {
            let parts: Vec<&str> = ge.split(',').map(str::trim).collect();
            let [p, r, h, k] = parts[..] else {
                bail!("--gilbert-elliott: expected p,r,h,k, found {ge:?}");
            };
            for value in [p, r, h, k] {
                value
                    .parse::<f64>()
                    .with_context(|| format!("--gilbert-elliott: expected a number, found {value:?}"))?;
            }
            out.push_str(&format!("gilbert_elliott = {{ p = {p}, r = {r}, h = {h}, k = {k} }}\n"));
        }
        for outage in &self.outage {
            let (from, to) =
                outage.split_once("..").with_context(|| format!("--outage: expected FROM..TO, found {outage:?}"))?;
            from.parse::<f64>().with_context(|| format!("--outage: expected seconds, found {from:?}"))?;
            out.push_str(&format!("[[link.outages]]\nfrom_s = {from}\n"));
            if !to.is_empty() {
                to.parse::<f64>().with_context(|| format!("--outage: expected seconds, found {to:?}"))?;
                out.push_str(&format!("to_s = {to}\n"));
            }
        }
        Ok(out)
    }

    pub(crate) fn describe(&self) -> String {
        match (&self.preset, self.loss, &self.gilbert_elliott) {
            (Some(preset), None, None) if self.outage.is_empty() => preset.clone(),
            (None, None, None) if self.outage.is_empty() && self.duplicate.is_none() && self.reorder.is_none() => {
                "lossless".into()
            }
            _ => "custom".into(),
        }
    }
}

#[derive(clap::Args)]
struct TransferArgs {
    /// The JPEG (or any file) to send
    image: PathBuf,
    #[command(flatten)]
    link: LinkFlags,
    #[command(flatten)]
    hostile: hostile::HostileFlags,
    #[arg(long, value_enum, default_value = "nowcam")]
    protocol: ProtocolArg,
    /// The receiver's flash latencies; the receiver starts with a slot erased ahead either way
    #[arg(long, value_enum, default_value = "datasheet")]
    flash: FlashArg,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Write the image the receiver stored here
    #[arg(long)]
    out: Option<PathBuf>,
    /// Write every frame on the air here (.pcapng: with drop/duplicate comments; else pcap, radiotap)
    #[arg(long)]
    pcap: Option<PathBuf>,
    /// Print one JSON object instead of text
    #[arg(long)]
    json: bool,
    /// The authenticated mode's pre-shared key: 64 hexadecimal digits, or 32 raw bytes
    #[arg(long, value_name = "FILE")]
    key_file: Option<PathBuf>,
    /// Give up after this much virtual time
    #[arg(long, default_value_t = 1200.0)]
    time_limit_s: f64,
    /// The largest ESP-NOW frame camera and receiver use: 250 (v1) to 1470 (v2, chunks of 1461 bytes)
    #[arg(long, value_name = "BYTES", default_value_t = 250, allow_hyphen_values = true)]
    frame_size: i64,
    /// Where to send it: the simulator, boards of an inventory, or Wokwi
    #[arg(long, value_enum, default_value = "sim")]
    target: Target,
    /// The board inventory (TOML) for --target board
    #[arg(long)]
    inventory: Option<PathBuf>,
    /// Seconds a board has to answer the harness after its port opens
    #[arg(long, default_value_t = 10.0, value_parser = parse_seconds)]
    ready_timeout_s: f64,
}

#[derive(clap::Args)]
struct ReplayArgs {
    /// A pcap (link type 105 or 127) or pcapng capture
    capture: PathBuf,
    /// Write the images here
    #[arg(long)]
    out: Option<PathBuf>,
    #[arg(long)]
    json: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => run(args),
        Command::Transfer(args) => transfer(args),
        Command::Replay(args) => replay_command(args),
        Command::Bench(args) => bench::run(args),
        Command::Soak(args) => soak::run(args),
        Command::VirtualBoard(args) => boards::virtual_board(args),
        Command::Serve(args) => serve::serve(args),
        Command::Record(args) => serve::record(args),
        Command::Discover(args) => serve::discover(args),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}

fn progress(len: u64) -> ProgressBar {
    let target =
        if std::io::stderr().is_terminal() { ProgressDrawTarget::stderr() } else { ProgressDrawTarget::hidden() };
    let bar = ProgressBar::with_draw_target(Some(len), target);
    if let Ok(style) = ProgressStyle::with_template("{bar:30} {pos}/{len} {msg}") {
        bar.set_style(style);
    }
    bar
}

/// Exit status of a run in which nothing was verified: every run skipped, or nothing to run.
const EXIT_NOTHING_VERIFIED: u8 = 3;

/// A path as the reproduction line shows it: relative to the working
/// directory (the root of the clone under `cargo xtask hil`) when it lies below it.
fn shown_path(path: &Path) -> String {
    let relative = std::env::current_dir().ok().and_then(|dir| path.strip_prefix(dir).ok().map(Path::to_path_buf));
    relative.as_deref().unwrap_or(path).display().to_string()
}

fn run(args: RunArgs) -> Result<ExitCode> {
    let fixtures = FixtureCatalog::load(&args.fixtures).context("reading the fixture manifest")?;
    let mut scenarios = if args.scenarios.is_empty() {
        Scenario::load_dir(&args.scenarios_dir, &fixtures)?
    } else {
        args.scenarios.iter().map(|p| Scenario::load(p, &fixtures)).collect::<Result<Vec<_>, _>>()?
    };
    if let Some((i, n)) = args.shard {
        scenarios = scenarios.into_iter().enumerate().filter(|(k, _)| k % n == i - 1).map(|(_, s)| s).collect();
    }
    let key = read_key(args.key_file.as_deref())?;
    if let Some(key) = key {
        if args.target == Target::Wokwi {
            bail!("--key-file does not work on Wokwi: its firmware is built without NOWCAM_KEY");
        }
        for scenario in &mut scenarios {
            scenario.key = Some(key);
        }
    }
    // Wokwi bills simulated minutes: one seed per scenario unless asked for more.
    let seeds_of = |s: &Scenario| args.seeds.unwrap_or(if args.target == Target::Wokwi { 1 } else { s.seeds });
    let total: u64 = scenarios.iter().map(|s| u64::from(seeds_of(s))).sum();
    let bar = progress(total);
    let mut runs = Vec::new();
    let captures = args.report.as_ref().map(|dir| dir.join("captures"));
    let board_logs = args.report.as_ref().map(|dir| dir.join("boards"));
    let boards = match args.target {
        Target::Sim => None,
        target => Some(boards::boards_for(
            target == Target::Wokwi,
            args.inventory.as_deref(),
            args.flash.as_deref(),
            key.zip(args.key_file.clone()),
        )?),
    };
    for scenario in &scenarios {
        let seeds = seeds_of(scenario);
        bar.set_message(scenario.name.clone());
        let path = shown_path(&scenario.path);
        let inventory = args.inventory.as_deref().map(shown_path);
        let reproduce = |seed| reproduce_line(&path, seed, args.target.name(), inventory.as_deref());
        if args.target != Target::Sim {
            let boards = match &boards {
                Some(Ok(boards)) if scenario.hostile.is_none() => boards,
                _ => {
                    let why = if scenario.hostile.is_none() {
                        boards.as_ref().and_then(|b| b.as_ref().err()).map_or("no boards", String::as_str)
                    } else {
                        "hostile injection runs on the simulator only"
                    };
                    for seed in args.seed_start..args.seed_start + u64::from(seeds) {
                        println!("skipped: {} seed {seed} on {}: {why}", scenario.name, args.target.name());
                        runs.push(RunRecord::skipped(
                            &scenario.name,
                            &path,
                            seed,
                            args.target.name(),
                            why,
                            reproduce(seed),
                        ));
                        bar.inc(1);
                    }
                    continue;
                }
            };
            let prepared = prepare(scenario, &fixtures)?;
            for seed in args.seed_start..args.seed_start + u64::from(seeds) {
                let context = boards::RunContext {
                    target: args.target.name(),
                    path: &path,
                    reproduce: reproduce(seed),
                    log_dir: board_logs.as_deref(),
                    ready_timeout: std::time::Duration::from_secs_f64(args.ready_timeout_s),
                };
                let (record, _) = boards::run_on_boards(boards, scenario, prepared.images(), seed, context);
                match record.status {
                    Status::Skipped => println!(
                        "skipped: {} seed {seed} on {}: {}",
                        scenario.name,
                        args.target.name(),
                        record.message.as_deref().unwrap_or("").trim_start_matches("skipped: ")
                    ),
                    Status::Failed => bar.suspend(|| {
                        eprintln!("FAILED {} seed {seed} on {}:", scenario.name, args.target.name());
                        for failure in &record.failures {
                            eprintln!("  {failure}");
                        }
                        eprintln!("  reproduce: {}", record.reproduce);
                    }),
                    Status::Passed => {}
                }
                runs.push(record);
                bar.inc(1);
            }
            continue;
        }
        let prepared = prepare(scenario, &fixtures)?;
        for seed in args.seed_start..args.seed_start + u64::from(seeds) {
            let result = prepared.run(seed, RunOptions::default())?;
            let reproduce = reproduce(seed);
            let mut capture = None;
            if !result.passed {
                bar.suspend(|| {
                    eprintln!("FAILED {} seed {seed}:", scenario.name);
                    for failure in &result.failures {
                        eprintln!("  {failure}");
                    }
                    eprintln!("  reproduce: {reproduce}");
                });
                if let Some(dir) = &captures {
                    // Runs are deterministic, so running again with the recorder on gives the same trace.
                    let again = prepared.run(seed, RunOptions { capture: true, keep_images: false })?;
                    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
                    let file = dir.join(format!("{}-seed{seed}.pcapng", scenario.name));
                    let writer = std::io::BufWriter::new(
                        std::fs::File::create(&file).with_context(|| format!("creating {}", file.display()))?,
                    );
                    let channel = scenario.receivers.first().map_or(1, |r| r.channel);
                    write_capture(writer, CaptureFormat::PcapNg, channel, &again.capture.unwrap_or_default())?;
                    capture = Some(file.display().to_string());
                }
            }
            runs.push(RunRecord::from_sim(&path, reproduce, capture, &result));
            bar.inc(1);
        }
    }
    bar.finish_and_clear();
    let report = Report { target: args.target.name().into(), runs };
    print!("{}", report.table());
    if let Some(dir) = &args.report {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let json = serde_json::to_string_pretty(&report)?;
        for (name, text) in [("report.json", json), ("junit.xml", report.junit()), ("summary.md", report.markdown())] {
            let path = dir.join(name);
            std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        }
        println!("reports in {}", dir.display());
    }
    let failed: Vec<&RunRecord> = report.runs.iter().filter(|r| r.status == Status::Failed).collect();
    if !failed.is_empty() {
        println!("\nreproduce the failures with:");
        for run in failed {
            println!("  {}", run.reproduce);
        }
        return Ok(ExitCode::FAILURE);
    }
    if report.passed() == 0 {
        println!(
            "nothing was verified on {}: {} runs skipped, none passed (exit status {EXIT_NOTHING_VERIFIED})",
            report.target,
            report.skipped()
        );
        return Ok(ExitCode::from(EXIT_NOTHING_VERIFIED));
    }
    Ok(ExitCode::SUCCESS)
}

fn transfer(args: TransferArgs) -> Result<ExitCode> {
    let image = std::fs::read(&args.image).with_context(|| format!("reading {}", args.image.display()))?;
    let protocol = match args.protocol {
        ProtocolArg::Nowcam => "nowcam",
        ProtocolArg::Legacy => "legacy",
    };
    let text = format!(
        "seeds = 1\ntime_limit_s = {}\nflash = \"{}\"\n{}[[senders]]\nname = \"camera\"\nprotocol = \"{protocol}\"\nimages = [\"synthetic:{}\"]\n{}[[receivers]]\nname = \"receiver\"\nframe_size = {}\n{}",
        args.time_limit_s,
        args.flash.name(),
        args.link.to_toml()?,
        image.len(),
        // The seed's sender is ESP-NOW v1 only: a larger size goes to the receiver alone.
        if args.protocol == ProtocolArg::Legacy { String::new() } else { format!("frame_size = {}\n", args.frame_size) },
        args.frame_size,
        args.hostile.to_toml()
    );
    let catalog = FixtureCatalog::from_fixtures(Path::new("fixtures"), Vec::new());
    let mut scenario = Scenario::parse(Path::new("command line"), &text, &catalog)?;
    scenario.key = read_key(args.key_file.as_deref())?;
    let sent: Arc<[u8]> = image.into();
    if args.target != Target::Sim {
        if args.hostile.any() {
            bail!("hostile injection runs on the simulator only (--target sim)");
        }
        return transfer_on_boards(&args, &scenario, sent, protocol);
    }
    let prepared = prepare_with_images(&scenario, vec![vec![sent.clone()]])?;
    let result = prepared.run(args.seed, RunOptions { capture: args.pcap.is_some(), keep_images: true })?;
    // The verdict judged the one image from the bytes sent and the bytes read back from the receiver's store.
    let image = result.images.first().context("the run judged no image")?;
    let byte_exact = result.passed && image.byte_exact;
    let received = result.received.first().map(|r| r.bytes.clone());
    if let (Some(path), Some(bytes)) = (&args.out, &received) {
        std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))?;
    }
    if let Some(path) = &args.pcap {
        let writer = std::io::BufWriter::new(
            std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?,
        );
        write_capture(writer, CaptureFormat::from_path(path), 1, result.capture.as_deref().unwrap_or_default())?;
    }
    let report = TransferReport {
        target: Target::Sim,
        protocol,
        byte_exact,
        image: Some(image),
        metrics: Metrics::from(&result),
        flash: Some((args.flash.name(), result.flash_erase_s, result.flash_stall_s)),
        failures: &result.failures,
        hostile: result.hostile.as_ref(),
        frame_size: result.air.largest_frame,
        rates_used: &result.rates_used,
        final_rate: result.final_rate.as_deref(),
    };
    report.print(&args, sent.len());
    Ok(if byte_exact { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

fn transfer_on_boards(args: &TransferArgs, scenario: &Scenario, sent: Arc<[u8]>, protocol: &str) -> Result<ExitCode> {
    let key = scenario.key.zip(args.key_file.clone());
    let boards = match boards::boards_for(args.target == Target::Wokwi, args.inventory.as_deref(), None, key)? {
        Ok(boards) => boards,
        Err(why) => {
            println!("skipped: transfer on {}: {why}", args.target.name());
            return Ok(ExitCode::from(EXIT_NOTHING_VERIFIED));
        }
    };
    // The boards' builds fix their frame size (they negotiate it between
    // them): a different one asked for is refused, not silently ignored.
    let frame_len = boards.frame_len();
    if args.frame_size != 250 && args.frame_size != frame_len as i64 {
        bail!(
            "--frame-size {} cannot be set on {}: the boards' builds use {frame_len}-byte frames (real boards' ESP-NOW \
             v2, a serial radio's v1); leave --frame-size out",
            args.frame_size,
            args.target.name()
        );
    }
    let ready = std::time::Duration::from_secs_f64(args.ready_timeout_s);
    let (record, received) =
        boards::transfer_on_boards(&boards, scenario, sent.clone(), args.seed, args.target.name(), ready);
    if record.status == Status::Skipped {
        println!("{} (transfer on {})", record.message.as_deref().unwrap_or("skipped"), args.target.name());
        return Ok(ExitCode::from(EXIT_NOTHING_VERIFIED));
    }
    let image = record.images.first();
    let byte_exact = record.status == Status::Passed && image.is_some_and(|i| i.byte_exact);
    if let (Some(path), Some(bytes)) = (&args.out, &received) {
        std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))?;
    }
    let report = TransferReport {
        target: args.target,
        protocol,
        byte_exact,
        image,
        metrics: record.metrics.unwrap_or_default(),
        // A board's flash is not timed from here.
        flash: None,
        failures: &record.failures,
        hostile: None,
        // What the boards' builds use between them (not measured on the air).
        frame_size: frame_len as u64,
        rates_used: &[],
        final_rate: None,
    };
    report.print(args, sent.len());
    Ok(if byte_exact { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// What `nowcam transfer` prints, the same on every target.
struct TransferReport<'a> {
    target: Target,
    protocol: &'a str,
    byte_exact: bool,
    image: Option<&'a ImageRecord>,
    metrics: Metrics,
    /// The flash model, and the seconds spent erasing for the image and stalled during the transfer.
    flash: Option<(&'a str, f64, f64)>,
    failures: &'a [String],
    /// What a hostile station sent and what became of it.
    hostile: Option<&'a nowcam_sim::hostile::HostileReport>,
    /// The longest frame put on the air, in bytes.
    frame_size: u64,
    /// Chunks per rate, and the controller's best rate at the end (`--phy-rate auto`).
    rates_used: &'a [nowcam_sim::run::RateUse],
    final_rate: Option<&'a str>,
}

impl TransferReport<'_> {
    fn print(&self, args: &TransferArgs, bytes: usize) {
        let metrics = &self.metrics;
        if args.json {
            let json = serde_json::json!({
                "ok": self.byte_exact,
                "target": self.target.name(),
                "protocol": self.protocol,
                "preset": args.link.describe(),
                "seed": args.seed,
                "bytes": bytes,
                "sha256_sent": self.image.map(|i| i.sha256_sent.clone()),
                "sha256_received": self.image.and_then(|i| i.sha256_received.clone()),
                "byte_exact": self.byte_exact,
                "frames_sent": metrics.frames_sent,
                "frames_lost": metrics.frames_lost,
                "frames_duplicated": metrics.frames_duplicated,
                "retransmissions": metrics.retransmissions,
                "sim_time_s": metrics.sim_time_s,
                "lower_bound_s": metrics.lower_bound_s,
                "efficiency": metrics.efficiency,
                "phy_rate": args.link.phy_rate_mbps.unwrap_or(PhyRateArg::Mbps(1.0)).to_json(),
                "rates_used": (!self.rates_used.is_empty()).then_some(self.rates_used),
                "final_rate": self.final_rate,
                "frame_size": self.frame_size,
                "snr_db": args.link.snr_db,
                "throughput_kbps": (self.byte_exact && metrics.sim_time_s > 0.0)
                    .then(|| bytes as f64 * 8.0 / 1000.0 / metrics.sim_time_s),
                "flash": self.flash.map(|(model, _, _)| model),
                "flash_erase_s": self.flash.map(|(_, erase, _)| erase),
                "flash_stall_s": self.flash.map(|(_, _, stall)| stall),
                "failures": self.failures,
                "hostile": self.hostile,
            });
            println!("{json}");
            return;
        }
        println!(
            "{}: {bytes} bytes on {} over {} ({}), seed {}: {:.3} s{}, lower bound {:.3} s, efficiency {:.3}, {} frames sent, {} lost, {} retransmissions",
            if self.byte_exact { "byte-exact" } else { "FAILED" },
            self.target.name(),
            args.link.describe(),
            self.protocol,
            args.seed,
            metrics.sim_time_s,
            if self.target == Target::Sim { " simulated" } else { "" },
            metrics.lower_bound_s,
            metrics.efficiency,
            metrics.frames_sent,
            metrics.frames_lost,
            metrics.retransmissions
        );
        if let Some((model, erase, stall)) = self.flash {
            println!(
                "flash ({model}): {erase:.3} s erasing for the image (erased ahead, before the transfer), {stall:.3} s stalled during the transfer"
            );
        }
        for line in self.hostile.map(|h| h.lines()).unwrap_or_default() {
            println!("{line}");
        }
        for failure in self.failures {
            println!("  {failure}");
        }
    }
}

fn replay_command(args: ReplayArgs) -> Result<ExitCode> {
    let file = std::fs::File::open(&args.capture).with_context(|| format!("opening {}", args.capture.display()))?;
    let contents = read_capture_checked(std::io::BufReader::new(file))
        .with_context(|| format!("reading {}", args.capture.display()))?;
    let frames = contents.frames;
    let images = replay(&frames);
    if let Some(dir) = &args.out {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let mut listed = Vec::new();
    for (index, image) in images.iter().enumerate() {
        let name = format!("image-{index:03}-{}.jpg", image.source.to_string().replace(':', ""));
        if let Some(dir) = &args.out {
            let path = dir.join(&name);
            std::fs::write(&path, &image.bytes).with_context(|| format!("writing {}", path.display()))?;
        }
        listed.push(serde_json::json!({
            "file": name,
            "source": image.source.to_string(),
            "destination": image.destination.to_string(),
            "format": image.format,
            "time_s": image.time_ns as f64 / 1e9,
            "bytes": image.bytes.len(),
            "sha256": sha256_hex(&image.bytes),
        }));
    }
    if args.json {
        println!(
            "{}",
            serde_json::json!({ "frames": frames.len(), "fcs_dropped": contents.fcs_errors, "images": listed })
        );
    } else {
        println!("{} frames, {} dropped for a wrong FCS, {} images", frames.len(), contents.fcs_errors, images.len());
        for entry in &listed {
            println!(
                "  {} {} {} bytes from {} sha256 {}",
                entry["file"].as_str().unwrap_or(""),
                entry["format"],
                entry["bytes"],
                entry["source"].as_str().unwrap_or(""),
                entry["sha256"].as_str().unwrap_or("")
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
