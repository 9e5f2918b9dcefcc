//! `nowcam serve` and `nowcam record`: the arguments, and the calls into `nowcam-serve`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use nowcam_proto::time::Duration;
use nowcam_serve::{MdnsBind, WorldConfig};

#[derive(clap::Args)]
pub(crate) struct ServeArgs {
    /// Where the HTTP API listens (port 0 picks a free port and prints it)
    #[arg(long, default_value = "127.0.0.1:8080")]
    http: SocketAddr,
    /// The MJPEG stream's own port (esp32-camera serves its stream on 81), on the same address; 0 picks a free one
    #[arg(long, default_value_t = 8081)]
    stream_port: u16,
    /// Simulated cameras
    #[arg(long, default_value_t = 1)]
    cameras: usize,
    /// The link model, both directions: clean, random5, bursty20, edge30, dup1, reorder, delay
    #[arg(long, default_value = "clean")]
    preset: String,
    /// Each camera captures this often (milliseconds)
    #[arg(long, default_value_t = 1000)]
    interval_ms: u64,
    /// The directory of JPEGs the cameras send, in turn
    #[arg(long, default_value = "fixtures")]
    fixtures: PathBuf,
    /// Seed of the link model
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Where the mDNS responder listens: the mDNS group 224.0.0.251:5353
    /// (default; on failure serve goes on without it), another UDP address
    /// (unicast only, e.g. 127.0.0.1:0), or `off`
    #[arg(long)]
    mdns: Option<String>,
}

pub(crate) fn serve(args: ServeArgs) -> Result<ExitCode> {
    anyhow::ensure!(
        (1..=8).contains(&args.cameras),
        "--cameras: expected 1 to 8 (the receiver tracks 8), found {}",
        args.cameras
    );
    let images = nowcam_serve::load_images(&args.fixtures)?;
    let config = WorldConfig {
        cameras: args.cameras,
        preset: args.preset,
        interval: Duration::from_millis(args.interval_ms.max(1)),
        images,
        seed: args.seed,
        camera_power: nowcam_serve::CameraPower::default(),
    };
    let stream = SocketAddr::new(args.http.ip(), args.stream_port);
    let mdns = match args.mdns.as_deref() {
        Some("off") => None,
        Some(text) => {
            let bind = text.parse::<MdnsBind>().map_err(|_| {
                anyhow::anyhow!("--mdns: expected an address such as 127.0.0.1:0, or off, found {text:?}")
            })?;
            Some(nowcam_serve::discovery::bind_responder(bind).context("--mdns")?)
        }
        None => match nowcam_serve::discovery::bind_responder(MdnsBind::Group) {
            Ok(listener) => Some(listener),
            Err(error) => {
                println!("nowcam serve: no mDNS ({error}); --mdns 127.0.0.1:0 answers on loopback");
                None
            }
        },
    };
    let bind = nowcam_serve::Bind { http: args.http, stream: Some(stream), mdns };
    nowcam_serve::run(
        bind,
        config,
        |bound| {
            println!("nowcam serve: http://{}/ (API and page)", bound.http);
            if let Some(stream) = bound.stream {
                println!("nowcam serve: http://{stream}/ (MJPEG stream, as esp32-camera's port 81)");
            }
            if let Some(mdns) = bound.mdns {
                println!("nowcam serve: mDNS on {mdns} (nowcam discover --via {mdns})");
            }
            println!("nowcam serve: Ctrl-C stops");
        },
        nowcam_serve::interrupted(),
    )
    .context("nowcam serve")?;
    Ok(ExitCode::SUCCESS)
}

#[derive(clap::Args)]
pub(crate) struct DiscoverArgs {
    /// Where the query goes: the mDNS group (default) or one responder, e.g. `nowcam serve --mdns`'s address
    #[arg(long, default_value = "224.0.0.251:5353")]
    via: SocketAddr,
    /// How long to gather answers (seconds)
    #[arg(long, default_value_t = 2.0)]
    timeout_s: f64,
    /// Print the receivers as JSON
    #[arg(long)]
    json: bool,
}

pub(crate) fn discover(args: DiscoverArgs) -> Result<ExitCode> {
    anyhow::ensure!(
        args.timeout_s > 0.0 && args.timeout_s.is_finite() && args.timeout_s <= 600.0,
        "--timeout-s: expected a number of seconds above 0 and up to 600, found {}",
        args.timeout_s
    );
    let discovery = nowcam_serve::discovery::discover(args.via, std::time::Duration::from_secs_f64(args.timeout_s))
        .context("nowcam discover")?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&discovery.receivers).context("the receivers as JSON")?);
    } else if discovery.receivers.is_empty() {
        println!("no receiver answered within {} s", args.timeout_s);
    } else {
        println!("{:<28} {:<20} url", "instance", "cam_name");
        for receiver in &discovery.receivers {
            println!("{:<28} {:<20} {}", receiver.instance, receiver.cam_name, receiver.url);
        }
    }
    if discovery.other_services > 0 || discovery.malformed > 0 {
        eprintln!(
            "also heard: {} HTTP services without cam_name, {} malformed packets",
            discovery.other_services, discovery.malformed
        );
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("length").args(["frames", "seconds"])))]
pub(crate) struct RecordArgs {
    /// The MJPEG stream: a receiver's /stream, its port 81, or `nowcam serve`'s
    url: String,
    /// The video file to write (MJPEG in AVI; ffmpeg and VLC play it)
    #[arg(long)]
    out: PathBuf,
    /// Stop after this many frames
    #[arg(long)]
    frames: Option<u32>,
    /// Stop after this many seconds (default: 10 when neither is given)
    #[arg(long)]
    seconds: Option<f64>,
}

pub(crate) fn record(args: RecordArgs) -> Result<ExitCode> {
    use nowcam_serve::record::Until;
    let until = match (args.frames, args.seconds) {
        (Some(frames), _) => Until::Frames(frames.max(1)),
        (None, Some(seconds)) if seconds > 0.0 && seconds.is_finite() => {
            Until::Elapsed(std::time::Duration::from_secs_f64(seconds))
        }
        (None, Some(seconds)) => anyhow::bail!("--seconds: expected a positive number, found {seconds}"),
        (None, None) => Until::Elapsed(std::time::Duration::from_secs(10)),
    };
    let bar = match until {
        Until::Frames(frames) => crate::progress(u64::from(frames)),
        Until::Elapsed(limit) => crate::progress(limit.as_secs().max(1)),
    };
    bar.set_message(format!("recording {}", args.url));
    let recorded = nowcam_serve::record::record(&args.url, &args.out, until, |frames, seconds| match until {
        Until::Frames(_) => bar.set_position(u64::from(frames)),
        Until::Elapsed(_) => {
            bar.set_position(seconds as u64);
            bar.set_message(format!("{frames} frames"));
        }
    })
    .with_context(|| format!("recording {}", args.url))?;
    bar.finish_and_clear();
    println!(
        "{}: {} frames of {}x{} in {:.1} s (MJPEG in AVI)",
        args.out.display(),
        recorded.frames,
        recorded.width,
        recorded.height,
        recorded.seconds
    );
    Ok(ExitCode::SUCCESS)
}
