//! Reading a pre-shared key file (`--key-file`), shared by `nowcam transfer`,
//! `nowcam run` and `nowcam virtual-board`.

use std::path::Path;

use anyhow::{Context, Result};
use nowcam_proto::auth::Key;

/// Reads a pre-shared key file: 64 hexadecimal digits (whitespace around
/// them is ignored), or exactly 32 raw bytes.
pub(crate) fn read_key(path: Option<&Path>) -> Result<Option<Key>> {
    let Some(path) = path else { return Ok(None) };
    let bytes = std::fs::read(path).with_context(|| format!("reading the key file {}", path.display()))?;
    let key = match std::str::from_utf8(&bytes) {
        Ok(text) if !text.trim().is_empty() && text.trim().len() == 64 => Key::from_hex(text).ok(),
        _ => Key::from_slice(&bytes).ok(),
    };
    key.map(Some).with_context(|| {
        format!("{}: expected 64 hexadecimal digits or 32 raw bytes, found {} bytes", path.display(), bytes.len())
    })
}
