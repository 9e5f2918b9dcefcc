//! `cargo xtask fixtures`.

use anyhow::Result;

#[derive(clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> Result<()> {
    anyhow::bail!("`cargo xtask fixtures` is not built yet")
}
