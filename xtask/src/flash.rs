//! `cargo xtask flash`.

use anyhow::Result;

#[derive(clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> Result<()> {
    anyhow::bail!("`cargo xtask flash` is not built yet")
}
