//! `cargo xtask soak`: build `nowcam` in release and run its soak, many
//! images through one link preset (10,000 through bursty20 unless told),
//! with a progress bar, ending with `soak: N images, N delivered, 0 corrupt,
//! 0 stuck`. Fails when an image was lost, corrupt or stuck. Too long for
//! the test command, which runs a short soak in its tests instead.

use anyhow::{bail, Result};

#[derive(clap::Args)]
pub struct Args {
    /// Images in all, over every camera
    #[arg(long, default_value_t = 10_000)]
    images: u64,
    /// A link preset: clean, random5, bursty20, edge30, dup1, reorder, delay
    #[arg(long, default_value = "bursty20")]
    preset: String,
    /// Cameras sending into the one receiver
    #[arg(long, default_value_t = 1)]
    cameras: u32,
}

pub fn run(args: Args) -> Result<()> {
    let command = [
        "soak".to_string(),
        "--images".to_string(),
        args.images.to_string(),
        "--preset".to_string(),
        args.preset,
        "--cameras".to_string(),
        args.cameras.to_string(),
    ];
    if !crate::hil::run_nowcam(&command)? {
        bail!("the soak lost, corrupted or stranded an image (see its last line)");
    }
    Ok(())
}
