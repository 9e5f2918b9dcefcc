//! `cargo xtask bench`: build `nowcam` in release and run its benchmark,
//! writing target/nowcam/bench.json. Fails when a row misses its goal: in
//! the preset table, efficiency at least 0.85 with datasheet flash latency
//! and within 0.02 of the latency-free figure (every row starts with a slot
//! erased ahead); in the PHY-rate table, the targets of issue 11
//! (`nowcam bench --rates` prints them, each missed one marked MISSED).

use anyhow::{bail, Result};

#[derive(clap::Args)]
pub struct Args {
    /// Passed on to `nowcam bench` (its options and defaults: `--seeds N`,
    /// `--speed-seconds S`, `--rates`; `nowcam bench --help`)
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    nowcam_args: Vec<String>,
}

pub fn run(args: Args) -> Result<()> {
    let json = crate::project_root().join("target/nowcam/bench.json");
    let mut command = vec!["bench".to_string()];
    command.extend(args.nowcam_args);
    command.extend(["--json".to_string(), json.display().to_string()]);
    if !crate::hil::run_nowcam(&command)? {
        bail!("the benchmark missed a target (marked MISSED above) or failed");
    }
    Ok(())
}
