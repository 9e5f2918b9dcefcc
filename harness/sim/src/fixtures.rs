//! The fixture JPEGs, named by fixtures/manifest.toml.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use sha2::{Digest, Sha256};

/// One fixture named in the manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fixture {
    /// The file name, e.g. `vga-q12-20k.jpg`.
    pub name: String,
    pub bytes: u64,
    /// Lower-case hex.
    pub sha256: String,
}

/// The fixtures of one directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FixtureCatalog {
    dir: PathBuf,
    fixtures: Vec<Fixture>,
}

/// Why a fixture could not be found or read.
#[derive(Debug, thiserror::Error)]
pub enum FixtureError {
    #[error("{path}: cannot read: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("{path}: {message}")]
    Manifest { path: String, message: String },
    #[error("no fixture named {0:?}")]
    Unknown(String),
    #[error("{path}: sha256 {actual} does not match the manifest's {expected}")]
    Mismatch { path: String, expected: String, actual: String },
}

#[derive(Deserialize)]
struct RawManifest {
    #[serde(default)]
    fixture: Vec<RawFixture>,
}

/// Only the keys the harness needs; the manifest carries more (frame size, quality).
#[derive(Deserialize)]
struct RawFixture {
    name: String,
    bytes: u64,
    sha256: String,
}

/// Lower-case hex SHA-256 of `data`.
pub fn sha256_hex(data: &[u8]) -> String {
    let digest = Sha256::digest(data);
    let mut hex = String::with_capacity(64);
    for byte in digest.iter() {
        hex.push_str(&format!("{byte:02x}"));
    }
    hex
}

impl FixtureCatalog {
    /// Reads `dir/manifest.toml`.
    pub fn load(dir: &Path) -> Result<FixtureCatalog, FixtureError> {
        let path = dir.join("manifest.toml");
        let shown = path.display().to_string();
        let text =
            std::fs::read_to_string(&path).map_err(|source| FixtureError::Read { path: shown.clone(), source })?;
        let raw: RawManifest = toml::from_str(&text)
            .map_err(|e| FixtureError::Manifest { path: shown.clone(), message: e.message().to_owned() })?;
        let fixtures = raw
            .fixture
            .into_iter()
            .map(|f| Fixture { name: f.name, bytes: f.bytes, sha256: f.sha256.to_ascii_lowercase() })
            .collect();
        Ok(FixtureCatalog { dir: dir.to_path_buf(), fixtures })
    }

    /// A catalog from a list, for tests and for images outside fixtures/.
    pub fn from_fixtures(dir: &Path, fixtures: Vec<Fixture>) -> FixtureCatalog {
        FixtureCatalog { dir: dir.to_path_buf(), fixtures }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn manifest_path(&self) -> PathBuf {
        self.dir.join("manifest.toml")
    }

    /// Finds a fixture by its file name, with or without the `.jpg`.
    pub fn get(&self, name: &str) -> Option<&Fixture> {
        self.fixtures.iter().find(|f| f.name == name || f.name.strip_suffix(".jpg") == Some(name))
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.fixtures.iter().map(|f| f.name.as_str())
    }

    pub fn fixtures(&self) -> &[Fixture] {
        &self.fixtures
    }

    /// Reads a fixture and checks it against the manifest's SHA-256.
    pub fn read(&self, name: &str) -> Result<Vec<u8>, FixtureError> {
        let fixture = self.get(name).ok_or_else(|| FixtureError::Unknown(name.to_owned()))?;
        let path = self.dir.join(&fixture.name);
        let shown = path.display().to_string();
        let data = std::fs::read(&path).map_err(|source| FixtureError::Read { path: shown.clone(), source })?;
        let actual = sha256_hex(&data);
        if actual != fixture.sha256 {
            return Err(FixtureError::Mismatch { path: shown, expected: fixture.sha256.clone(), actual });
        }
        Ok(data)
    }
}

/// Deterministic filler bytes for a synthetic image: a JPEG start and end
/// marker around bytes from a fixed generator.
pub fn synthetic_image(len: usize) -> Vec<u8> {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15 ^ len as u64;
    let mut data: Vec<u8> = (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect();
    if len >= 4 {
        data[..2].copy_from_slice(&[0xff, 0xd8]);
        data[len - 2..].copy_from_slice(&[0xff, 0xd9]);
    }
    data
}
