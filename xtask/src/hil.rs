//! `cargo xtask hil`.

use anyhow::Result;

#[derive(clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> Result<()> {
    anyhow::bail!("`cargo xtask hil` is not built yet")
}
