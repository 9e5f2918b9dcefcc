//! Soak and load: many images through one preset, from one camera or
//! several into one receiver, judged image by image with the same verdict
//! as every run.
//!
//! A soak is a sequence of runs of at most `batch` images per camera, each
//! on fresh simulated nodes with its own seed, so that what a run keeps in
//! memory (every image read back, for the verdict) is freed before the next:
//! memory stays flat however many images go through. Node state therefore
//! does not carry from one batch to the next.

use std::path::Path;
use std::sync::Arc;

use crate::fixtures::FixtureCatalog;
use crate::run::RunOptions;
use crate::scenario::Scenario;
use crate::setup::{prepare_with_images, SetupError};
use crate::verdict::ImageResult;

/// What one soak asks for.
#[derive(Debug, Clone)]
pub struct SoakConfig {
    /// Images in all, over every camera.
    pub images: u64,
    pub preset: String,
    pub cameras: u32,
    /// Images per camera in one run.
    pub batch: u32,
    pub seed: u64,
    pub image: Arc<[u8]>,
}

/// What a soak saw, so far.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct SoakTotals {
    pub images: u64,
    /// Read back byte-exact.
    pub delivered: u64,
    /// Read back with other bytes, or stored and accounted for by no image.
    pub corrupt: u64,
    /// Still unfinished when the run's time limit passed.
    pub stuck: u64,
    /// Given up by the camera with a typed error (not corrupt, not stuck).
    pub failed: u64,
    /// The typed errors of the failed images, with how many times each.
    pub errors: Vec<(String, u64)>,
    pub runs: u64,
    /// Per camera: bytes delivered byte-exact and seconds of simulated time it took.
    pub per_camera: Vec<(u64, f64)>,
}

impl SoakTotals {
    /// The closing line: `soak: N images, N delivered, 0 corrupt, 0 stuck`.
    pub fn line(&self) -> String {
        format!(
            "soak: {} images, {} delivered, {} corrupt, {} stuck",
            self.images, self.delivered, self.corrupt, self.stuck
        )
    }

    pub fn passed(&self) -> bool {
        self.delivered == self.images && self.corrupt == 0 && self.stuck == 0
    }

    /// Each camera's throughput in bytes per simulated second.
    pub fn throughputs(&self) -> Vec<f64> {
        self.per_camera.iter().map(|(bytes, seconds)| *bytes as f64 / seconds.max(1e-9)).collect()
    }

    /// The highest throughput over the lowest (1 for a single camera).
    pub fn throughput_spread(&self) -> f64 {
        let throughputs = self.throughputs();
        let low = throughputs.iter().copied().fold(f64::INFINITY, f64::min);
        let high = throughputs.iter().copied().fold(0.0, f64::max);
        if low > 0.0 {
            high / low
        } else {
            f64::INFINITY
        }
    }
}

/// One run of the soak: `per_camera` images from each camera.
pub fn soak_run(config: &SoakConfig, run: u64, per_camera: u32, totals: &mut SoakTotals) -> Result<(), SetupError> {
    let text = format!(
        "seeds = 1\ntime_limit_s = {}\n[link]\npreset = {:?}\n[[senders]]\nname = \"cam\"\ncount = {}\nimages = [\"synthetic:{}\"]\nrepeat = {per_camera}\n[[receivers]]\nname = \"rx\"\n",
        // Generous: a stuck session shows as unfinished, not as a run that never ends.
        60.0 + f64::from(per_camera) * f64::from(config.cameras) * 5.0,
        config.preset,
        config.cameras,
        config.image.len(),
    );
    let catalog = FixtureCatalog::from_fixtures(Path::new("fixtures"), Vec::new());
    let scenario = Scenario::parse(Path::new("soak"), &text, &catalog)
        .map_err(|e| SetupError::Link { scenario: "soak".into(), message: e.to_string() })?;
    // Every image differs (a counter in its middle), so that the verdict
    // attributes each one read back to exactly the image it is.
    let images: Vec<Vec<Arc<[u8]>>> = (0..config.cameras)
        .map(|camera| (0..per_camera).map(|k| numbered(&config.image, run, camera, k)).collect())
        .collect();
    let prepared = prepare_with_images(&scenario, images)?;
    let result = prepared.run(crate::setup::mix(config.seed, run), RunOptions::default())?;
    totals.runs += 1;
    if totals.per_camera.len() < config.cameras as usize {
        totals.per_camera.resize(config.cameras as usize, (0, 0.0));
    }
    let mut last_finish = vec![0.0f64; config.cameras as usize];
    let mut bytes = vec![0u64; config.cameras as usize];
    let names: Vec<String> = scenario.expanded_senders().map(|(name, _)| name).collect();
    for image in &result.images {
        totals.images += 1;
        let camera = names.iter().position(|n| *n == image.sender).unwrap_or(0);
        match &image.result {
            ImageResult::ByteExact => {
                totals.delivered += 1;
                bytes[camera] += image.bytes as u64;
                last_finish[camera] = last_finish[camera].max(image.finished_s.unwrap_or(0.0));
            }
            ImageResult::Corrupt | ImageResult::Missing => totals.corrupt += 1,
            ImageResult::Unfinished => totals.stuck += 1,
            ImageResult::Failed { error } => {
                totals.failed += 1;
                match totals.errors.iter_mut().find(|(e, _)| e == error) {
                    Some((_, n)) => *n += 1,
                    None => totals.errors.push((error.clone(), 1)),
                }
            }
        }
    }
    // Images stored that no sender image accounts for are corrupt deliveries too.
    totals.corrupt += result.failures.iter().filter(|f| f.contains("no sender image accounts for")).count() as u64;
    for (camera, entry) in totals.per_camera.iter_mut().enumerate() {
        entry.0 += bytes[camera];
        entry.1 += last_finish[camera];
    }
    Ok(())
}

/// `image` with the run, camera and index written into its middle.
fn numbered(image: &[u8], run: u64, camera: u32, index: u32) -> Arc<[u8]> {
    let mut bytes = image.to_vec();
    let stamp = [run.to_le_bytes().as_slice(), &camera.to_le_bytes(), &index.to_le_bytes()].concat();
    let at = bytes.len().saturating_sub(stamp.len()) / 2;
    for (byte, value) in bytes[at..].iter_mut().zip(&stamp) {
        *byte = *value;
    }
    bytes.into()
}

/// Runs a whole soak, calling `progress` with the totals after every run.
pub fn soak(config: &SoakConfig, mut progress: impl FnMut(&SoakTotals)) -> Result<SoakTotals, SetupError> {
    let mut totals = SoakTotals::default();
    let per_run = u64::from(config.batch.max(1)) * u64::from(config.cameras.max(1));
    let mut run = 0;
    while totals.images < config.images {
        let left = config.images - totals.images;
        let per_camera = (left.min(per_run) / u64::from(config.cameras.max(1))).max(1) as u32;
        soak_run(config, run, per_camera, &mut totals)?;
        run += 1;
        progress(&totals);
    }
    Ok(totals)
}
