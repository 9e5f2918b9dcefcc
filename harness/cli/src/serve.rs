//! `nowcam serve` and `nowcam record`: the arguments, and the calls into `nowcam-serve`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use nowcam_proto::time::Duration;
use nowcam_serve::WorldConfig;

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
    };
    let stream = SocketAddr::new(args.http.ip(), args.stream_port);
    nowcam_serve::run(
        args.http,
        Some(stream),
        config,
        |http, stream| {
            println!("nowcam serve: http://{http}/ (API and page)");
            if let Some(stream) = stream {
                println!("nowcam serve: http://{stream}/ (MJPEG stream, as esp32-camera's port 81)");
            }
            println!("nowcam serve: Ctrl-C stops");
        },
        nowcam_serve::interrupted(),
    )
    .context("nowcam serve")?;
    Ok(ExitCode::SUCCESS)
}
