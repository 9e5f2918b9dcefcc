//! `cargo xtask test`.

use anyhow::Result;

#[derive(clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> Result<()> {
    anyhow::bail!("`cargo xtask test` is not built yet")
}
