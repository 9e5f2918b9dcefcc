//! `cargo xtask fixtures`: the fixture JPEGs in `fixtures/`.
//!
//! Every fixture is rendered from a seed into a synthetic but photo-like scene (sky, clouds,
//! sun, hills, a field, a road, buildings, trees, lens vignetting and sensor grain) and encoded
//! with the pure-Rust `jpeg-encoder` crate. Nothing is downloaded, and the same code gives the
//! same bytes on every run and every machine: the scene uses only integer hashing and the
//! exactly rounded float operations (`+ - * /`, `sqrt`, `floor`), never `sin` or `exp` whose
//! results differ between math libraries.
//!
//! `fixtures/manifest.toml` and `fixtures/README.md` are written from the same data, so the
//! table a person reads is the one the checks use.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

#[derive(clap::Args)]
pub struct Args {
    /// Verify the files in fixtures/ against fixtures/manifest.toml (size and sha256) instead
    /// of regenerating them
    #[arg(long)]
    check: bool,
}

pub fn run(args: Args) -> Result<()> {
    let directory = fixtures_dir();
    if args.check {
        let count = check(&directory)?;
        println!("{count} fixtures match {}", directory.join(MANIFEST).display());
        return Ok(());
    }
    let fixtures = generate_all()?;
    write_all(&directory, &fixtures)?;
    for fixture in &fixtures {
        println!(
            "{:<32} {:>4}x{:<4} {:>8} bytes",
            fixture.name,
            fixture.spec.frame_size.width,
            fixture.spec.frame_size.height,
            fixture.bytes.len()
        );
    }
    println!("wrote {} fixtures, {MANIFEST} and {README} to {}", fixtures.len(), directory.display());
    Ok(())
}

/// The manifest file, inside the fixtures directory.
pub const MANIFEST: &str = "manifest.toml";
/// The generated README, inside the fixtures directory.
pub const README: &str = "README.md";

/// `fixtures/` at the root of the repository.
pub fn fixtures_dir() -> PathBuf {
    crate::project_root().join("fixtures")
}

/// An OV2640 frame size, as esp32-camera names it.
///
/// This mirrors `nowcam_proto::wire::control::FrameSize`; xtask keeps its own copy so that
/// regenerating fixtures does not depend on the protocol crate building.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameSize {
    pub name: &'static str,
    pub width: u16,
    pub height: u16,
}

impl FrameSize {
    pub const QQVGA: Self = Self::new("QQVGA", 160, 120);
    pub const QCIF: Self = Self::new("QCIF", 176, 144);
    pub const HQVGA: Self = Self::new("HQVGA", 240, 176);
    pub const QVGA: Self = Self::new("QVGA", 320, 240);
    pub const CIF: Self = Self::new("CIF", 400, 296);
    pub const HVGA: Self = Self::new("HVGA", 480, 320);
    pub const VGA: Self = Self::new("VGA", 640, 480);
    pub const SVGA: Self = Self::new("SVGA", 800, 600);
    pub const XGA: Self = Self::new("XGA", 1024, 768);
    pub const HD: Self = Self::new("HD", 1280, 720);
    pub const SXGA: Self = Self::new("SXGA", 1280, 1024);
    pub const UXGA: Self = Self::new("UXGA", 1600, 1200);

    /// The frame sizes from QQVGA to UXGA (esp32-camera also has 96X96 and 240X240).
    pub const ALL: [Self; 12] = [
        Self::QQVGA,
        Self::QCIF,
        Self::HQVGA,
        Self::QVGA,
        Self::CIF,
        Self::HVGA,
        Self::VGA,
        Self::SVGA,
        Self::XGA,
        Self::HD,
        Self::SXGA,
        Self::UXGA,
    ];

    const fn new(name: &'static str, width: u16, height: u16) -> Self {
        Self { name, width, height }
    }

    /// The frame size with this esp32-camera name, if it is one of [`FrameSize::ALL`].
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|size| size.name == name)
    }
}

/// How one fixture is made.
#[derive(Debug, Clone, Copy)]
pub struct Spec {
    pub frame_size: FrameSize,
    /// The OV2640 quality setting, 4 (best) to 63 (worst), as esp32-camera takes it.
    pub quality: u8,
    pub progressive: bool,
    pub grayscale: bool,
    /// The approximate size that a benchmark relies on, written into the name (`20k`).
    pub size_tag: Option<&'static str>,
    pub seed: u64,
    /// Contrast of the fine texture (grass, walls, clouds), 0 to about 2.
    pub detail: f32,
    /// Standard deviation of the sensor noise, in 8-bit code values.
    pub grain: f32,
}

impl Spec {
    /// `<framesize>-q<quality>[-progressive][-gray][-<size>].jpg`
    pub fn name(&self) -> String {
        let mut name = format!("{}-q{}", self.frame_size.name.to_ascii_lowercase(), self.quality);
        if self.progressive {
            name.push_str("-progressive");
        }
        if self.grayscale {
            name.push_str("-gray");
        }
        if let Some(tag) = self.size_tag {
            name.push('-');
            name.push_str(tag);
        }
        name.push_str(".jpg");
        name
    }

    /// The 1..=100 quality that `jpeg-encoder` takes for this OV2640 quality.
    pub fn encoder_quality(&self) -> u8 {
        encoder_quality(self.quality)
    }
}

/// Maps an OV2640 quality (4..=63, lower is better) to a libjpeg-style quality (1..=100).
///
/// The sensor's own quantization tables are not the standard ones; this mapping keeps the order
/// (a lower OV2640 number is a larger, better file) and the rough sizes of its frames: the
/// OV2640 number times 12.5 is taken as libjpeg's table scale in percent.
pub fn encoder_quality(ov2640_quality: u8) -> u8 {
    let scale = u32::from(ov2640_quality.max(1)) * 25 / 2;
    let quality = if scale <= 100 { (200 - scale) / 2 } else { 5000 / scale };
    quality.clamp(1, 100) as u8
}

/// Every fixture, smallest frame first. The `detail` and `grain` values were tuned by hand so
/// that the sizes span about 2 KB to over 200 KB and the tagged files hit their sizes.
pub const SPECS: [Spec; 12] = [
    Spec {
        frame_size: FrameSize::QQVGA,
        quality: 25,
        progressive: false,
        grayscale: false,
        size_tag: None,
        seed: 0x5eed_0001,
        detail: 1.5,
        grain: 3.0,
    },
    Spec {
        frame_size: FrameSize::QCIF,
        quality: 20,
        progressive: false,
        grayscale: true,
        size_tag: None,
        seed: 0x5eed_0002,
        detail: 0.8,
        grain: 2.5,
    },
    Spec {
        frame_size: FrameSize::HQVGA,
        quality: 15,
        progressive: false,
        grayscale: false,
        size_tag: None,
        seed: 0x5eed_0003,
        detail: 0.8,
        grain: 2.5,
    },
    Spec {
        frame_size: FrameSize::QVGA,
        quality: 12,
        progressive: false,
        grayscale: false,
        size_tag: None,
        seed: 0x5eed_0004,
        detail: 0.9,
        grain: 3.0,
    },
    Spec {
        frame_size: FrameSize::CIF,
        quality: 10,
        progressive: true,
        grayscale: false,
        size_tag: None,
        seed: 0x5eed_0005,
        detail: 0.9,
        grain: 3.0,
    },
    Spec {
        frame_size: FrameSize::HVGA,
        quality: 12,
        progressive: false,
        grayscale: false,
        size_tag: None,
        seed: 0x5eed_0006,
        detail: 0.9,
        grain: 3.0,
    },
    Spec {
        frame_size: FrameSize::VGA,
        quality: 12,
        progressive: false,
        grayscale: false,
        size_tag: Some("20k"),
        seed: 0x5eed_0007,
        detail: 0.7,
        grain: 3.0,
    },
    Spec {
        frame_size: FrameSize::SVGA,
        quality: 4,
        progressive: false,
        grayscale: false,
        size_tag: Some("100k"),
        seed: 0x5eed_0008,
        detail: 2.0,
        grain: 5.0,
    },
    Spec {
        frame_size: FrameSize::XGA,
        quality: 10,
        progressive: true,
        grayscale: false,
        size_tag: None,
        seed: 0x5eed_0009,
        detail: 1.0,
        grain: 3.0,
    },
    Spec {
        frame_size: FrameSize::HD,
        quality: 12,
        progressive: false,
        grayscale: false,
        size_tag: None,
        seed: 0x5eed_000a,
        detail: 1.0,
        grain: 3.0,
    },
    Spec {
        frame_size: FrameSize::SXGA,
        quality: 15,
        progressive: false,
        grayscale: true,
        size_tag: None,
        seed: 0x5eed_000b,
        detail: 1.0,
        grain: 3.0,
    },
    Spec {
        frame_size: FrameSize::UXGA,
        quality: 8,
        progressive: false,
        grayscale: false,
        size_tag: None,
        seed: 0x5eed_000c,
        detail: 2.0,
        grain: 5.0,
    },
];

/// One fixture rendered and encoded in memory.
pub struct Generated {
    pub spec: Spec,
    pub name: String,
    pub bytes: Vec<u8>,
}

/// Renders and encodes every fixture in [`SPECS`].
pub fn generate_all() -> Result<Vec<Generated>> {
    SPECS.iter().map(generate).collect()
}

/// Renders and encodes one fixture.
pub fn generate(spec: &Spec) -> Result<Generated> {
    let name = spec.name();
    let pixels = scene::render(spec);
    let bytes = encode(spec, &pixels).with_context(|| format!("encoding {name}"))?;
    Ok(Generated { spec: *spec, name, bytes })
}

fn encode(spec: &Spec, pixels: &[u8]) -> Result<Vec<u8>> {
    use jpeg_encoder::{ColorType, Encoder, SamplingFactor};

    let mut bytes = Vec::new();
    let mut encoder = Encoder::new(&mut bytes, spec.encoder_quality());
    encoder.set_progressive(spec.progressive);
    let color_type = if spec.grayscale {
        ColorType::Luma
    } else {
        // The OV2640 writes 4:2:2 (two luma blocks per chroma block, side by side).
        encoder.set_sampling_factor(SamplingFactor::F_2_1);
        ColorType::Rgb
    };
    encoder.encode(pixels, spec.frame_size.width, spec.frame_size.height, color_type)?;
    Ok(bytes)
}

/// `fixtures/manifest.toml`, as read and written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub fixture: Vec<ManifestEntry>,
}

/// One `[[fixture]]` of the manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestEntry {
    /// The file name inside `fixtures/`.
    pub name: String,
    /// The esp32-camera frame size name (`QQVGA` .. `UXGA`).
    pub frame_size: String,
    pub width: u16,
    pub height: u16,
    /// The OV2640 quality (4 best .. 63 worst).
    pub quality: u8,
    /// The libjpeg-style quality the encoder was given.
    pub encoder_quality: u8,
    pub progressive: bool,
    pub grayscale: bool,
    pub seed: u64,
    pub bytes: u64,
    /// Lower-case hex.
    pub sha256: String,
}

impl Manifest {
    fn from_generated(fixtures: &[Generated]) -> Self {
        let fixture = fixtures
            .iter()
            .map(|fixture| ManifestEntry {
                name: fixture.name.clone(),
                frame_size: fixture.spec.frame_size.name.to_owned(),
                width: fixture.spec.frame_size.width,
                height: fixture.spec.frame_size.height,
                quality: fixture.spec.quality,
                encoder_quality: fixture.spec.encoder_quality(),
                progressive: fixture.spec.progressive,
                grayscale: fixture.spec.grayscale,
                seed: fixture.spec.seed,
                bytes: fixture.bytes.len() as u64,
                sha256: sha256_hex(&fixture.bytes),
            })
            .collect();
        Self { fixture }
    }

    /// The entry for a file name.
    pub fn get(&self, name: &str) -> Option<&ManifestEntry> {
        self.fixture.iter().find(|entry| entry.name == name)
    }

    fn to_text(&self) -> Result<String> {
        let body = toml::to_string(self).context("serializing the fixture manifest")?;
        Ok(format!(
            "# Generated by `cargo xtask fixtures`; do not edit by hand.\n\
             # `cargo xtask fixtures --check` verifies the files against it.\n\n{body}"
        ))
    }
}

/// Reads and validates `manifest.toml` in `directory`.
pub fn load_manifest(directory: &Path) -> Result<Manifest> {
    let path = directory.join(MANIFEST);
    let text = fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let manifest: Manifest = toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    for entry in &manifest.fixture {
        let Some(size) = FrameSize::from_name(&entry.frame_size) else {
            bail!(
                "{}: fixture {} has frame_size {:?}, expected one of {}",
                path.display(),
                entry.name,
                entry.frame_size,
                FrameSize::ALL.map(|size| size.name).join(", ")
            );
        };
        if (size.width, size.height) != (entry.width, entry.height) {
            bail!(
                "{}: fixture {} is {}x{}, but {} is {}x{}",
                path.display(),
                entry.name,
                entry.width,
                entry.height,
                size.name,
                size.width,
                size.height
            );
        }
        if entry.name.contains(['/', '\\']) || !entry.name.ends_with(".jpg") {
            bail!("{}: fixture name {:?} must be a plain file name ending in .jpg", path.display(), entry.name);
        }
    }
    Ok(manifest)
}

/// Checks every file the manifest in `directory` lists (size, then sha256), and that no other
/// `.jpg` lies beside them. Returns the number of fixtures checked, or an error naming every
/// file that is wrong.
pub fn check(directory: &Path) -> Result<usize> {
    let manifest = load_manifest(directory)?;
    let mut problems = Vec::new();
    for entry in &manifest.fixture {
        let path = directory.join(&entry.name);
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(error) => {
                problems.push(format!("{}: cannot be read: {error}", path.display()));
                continue;
            }
        };
        if bytes.len() as u64 != entry.bytes {
            problems.push(format!("{}: is {} bytes, the manifest says {}", path.display(), bytes.len(), entry.bytes));
            continue;
        }
        let sha256 = sha256_hex(&bytes);
        if sha256 != entry.sha256 {
            problems.push(format!("{}: sha256 is {sha256}, the manifest says {}", path.display(), entry.sha256));
        }
    }
    for name in jpeg_names(directory)? {
        if manifest.get(&name).is_none() {
            problems.push(format!("{}: is not in the manifest", directory.join(name).display()));
        }
    }
    if !problems.is_empty() {
        bail!(
            "{} fixture problem(s); run `cargo xtask fixtures` to regenerate:\n{}",
            problems.len(),
            problems.join("\n")
        );
    }
    Ok(manifest.fixture.len())
}

/// The `.jpg` files directly inside `directory`, sorted.
fn jpeg_names(directory: &Path) -> Result<Vec<String>> {
    let mut names = Vec::new();
    for entry in fs::read_dir(directory).with_context(|| format!("listing {}", directory.display()))? {
        let entry = entry.with_context(|| format!("listing {}", directory.display()))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(".jpg") && entry.path().is_file() {
            names.push(name);
        }
    }
    names.sort();
    Ok(names)
}

/// Writes the fixtures, the manifest and the README into `directory`, and removes `.jpg` files
/// there that are no longer generated (fixtures/captures/ is left alone).
fn write_all(directory: &Path, fixtures: &[Generated]) -> Result<()> {
    fs::create_dir_all(directory).with_context(|| format!("creating {}", directory.display()))?;
    for name in jpeg_names(directory)? {
        if !fixtures.iter().any(|fixture| fixture.name == name) {
            let path = directory.join(name);
            fs::remove_file(&path).with_context(|| format!("removing {}", path.display()))?;
        }
    }
    for fixture in fixtures {
        let path = directory.join(&fixture.name);
        fs::write(&path, &fixture.bytes).with_context(|| format!("writing {}", path.display()))?;
    }
    let manifest = Manifest::from_generated(fixtures).to_text()?;
    let path = directory.join(MANIFEST);
    fs::write(&path, manifest).with_context(|| format!("writing {}", path.display()))?;
    let path = directory.join(README);
    fs::write(&path, readme_text(fixtures)).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

fn readme_text(fixtures: &[Generated]) -> String {
    let benchmark = fixtures
        .iter()
        .filter(|fixture| fixture.spec.size_tag.is_some())
        .map(|fixture| format!("`{}`", fixture.name))
        .collect::<Vec<_>>()
        .join(" and ");
    let mut text = format!(
        "<!-- Generated by `cargo xtask fixtures` (xtask/src/fixtures.rs); do not edit by hand. -->\n\
         # Fixture JPEGs\n\
         \n\
         Test and benchmark images at the OV2640's frame sizes, from QQVGA to UXGA.\n\
         \n\
         ## Provenance\n\
         \n\
         Every image here is synthetic and made by `cargo xtask fixtures` \
         (`xtask/src/fixtures.rs`); none is a photograph and nothing is downloaded. \
         Each fixture has a seed, and the seed alone picks the scene: a sky with clouds and a \
         sun, hills, a field with a road, buildings with windows, trees, then lens vignetting \
         and sensor grain, so that the files compress like camera frames do. The images are \
         encoded with the pure-Rust `jpeg-encoder` crate (pinned to one version, because the \
         bytes depend on it), colour images with 4:2:2 chroma subsampling as the OV2640 \
         writes them. The generator uses only integer hashing and exactly rounded float \
         operations, so every run on every machine writes the same bytes.\n\
         \n\
         `quality` is the OV2640 setting (4 best .. 63 worst) that esp32-camera takes; \
         `encoder quality` is the libjpeg-style quality (1 .. 100) the encoder was given for \
         it, at a table scale of 12.5 % per OV2640 step. The sensor's own tables differ; the \
         mapping keeps their order (a lower number is a larger, better file) and the rough \
         sizes.\n\
         \n\
         `manifest.toml` lists every file with its frame size, dimensions, qualities, mode, \
         seed, size and sha256.\n\
         \n\
         ## Regenerating and checking\n\
         \n\
         ```sh\n\
         cargo xtask fixtures          # rewrite the images, manifest.toml and this README\n\
         cargo xtask fixtures --check  # verify the files against manifest.toml (size, sha256)\n\
         cargo test -p xtask           # also decode every file and regenerate in memory\n\
         ```\n\
         \n\
         The benchmark uses the files whose names end in a size ({benchmark}); the tests \
         keep them within 10 % of it.\n\
         \n\
         Recordings from real boards live in `captures/`, not here.\n\
         \n\
         ## License\n\
         \n\
         The images in this directory are dedicated to the public domain under CC0-1.0 \
         (<https://creativecommons.org/publicdomain/zero/1.0/>).\n\
         \n\
         ## Files\n\
         \n\
         | file | frame size | dimensions | quality | encoder quality | mode | bytes |\n\
         | --- | --- | --- | ---: | ---: | --- | ---: |\n",
    );
    for fixture in fixtures {
        let spec = &fixture.spec;
        let mode = match (spec.progressive, spec.grayscale) {
            (false, false) => "baseline, colour",
            (false, true) => "baseline, grayscale",
            (true, false) => "progressive, colour",
            (true, true) => "progressive, grayscale",
        };
        // Writing to a String cannot fail.
        let _ = writeln!(
            text,
            "| `{}` | {} | {}x{} | {} | {} | {} | {} |",
            fixture.name,
            spec.frame_size.name,
            spec.frame_size.width,
            spec.frame_size.height,
            spec.quality,
            spec.encoder_quality(),
            mode,
            fixture.bytes.len()
        );
    }
    text
}

/// Lower-case hex sha256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut hex = String::with_capacity(64);
    for byte in digest.iter() {
        let _ = write!(hex, "{byte:02x}");
    }
    hex
}

/// The synthetic scene: pixels from a seed.
mod scene {
    use super::Spec;

    /// SplitMix64, written out here because `rand`'s generators may change their output
    /// between versions, and with it every fixture byte.
    struct SplitMix64(u64);

    impl SplitMix64 {
        fn next_u64(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            mix(self.0)
        }

        /// Uniform in `0.0..1.0`.
        fn unit(&mut self) -> f32 {
            (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
        }

        fn range(&mut self, low: f32, high: f32) -> f32 {
            low + (high - low) * self.unit()
        }
    }

    /// The SplitMix64 finalizer: a good 64-bit avalanche.
    fn mix(mut z: u64) -> u64 {
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn hash(a: i64, b: i64, seed: u64) -> u64 {
        mix(seed ^ (a as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ (b as u64).wrapping_mul(0xc2b2_ae3d_27d4_eb4f))
    }

    /// The lattice value at an integer point, uniform in `0.0..1.0`.
    fn lattice(x: i64, y: i64, seed: u64) -> f32 {
        (hash(x, y, seed) >> 40) as f32 / (1u64 << 24) as f32
    }

    fn smooth(t: f32) -> f32 {
        t * t * (3.0 - 2.0 * t)
    }

    fn smoothstep(low: f32, high: f32, x: f32) -> f32 {
        smooth(((x - low) / (high - low)).clamp(0.0, 1.0))
    }

    fn lerp(a: f32, b: f32, t: f32) -> f32 {
        a + (b - a) * t
    }

    fn lerp3(a: [f32; 3], b: [f32; 3], t: f32) -> [f32; 3] {
        [lerp(a[0], b[0], t), lerp(a[1], b[1], t), lerp(a[2], b[2], t)]
    }

    fn scale3(a: [f32; 3], factor: f32) -> [f32; 3] {
        [a[0] * factor, a[1] * factor, a[2] * factor]
    }

    /// Value noise in `0.0..1.0`, smooth between integer lattice points.
    fn value_noise(x: f32, y: f32, seed: u64) -> f32 {
        let x_floor = x.floor();
        let y_floor = y.floor();
        let (ix, iy) = (x_floor as i64, y_floor as i64);
        let tx = smooth(x - x_floor);
        let ty = smooth(y - y_floor);
        let top = lerp(lattice(ix, iy, seed), lattice(ix + 1, iy, seed), tx);
        let bottom = lerp(lattice(ix, iy + 1, seed), lattice(ix + 1, iy + 1, seed), tx);
        lerp(top, bottom, ty)
    }

    /// Fractal (octave-summed) value noise in `0.0..1.0`.
    fn fbm(x: f32, y: f32, octaves: u32, seed: u64) -> f32 {
        let mut sum = 0.0;
        let mut amplitude = 1.0;
        let mut total = 0.0;
        let mut frequency = 1.0;
        for octave in 0..octaves {
            sum += amplitude * value_noise(x * frequency, y * frequency, seed + octave as u64);
            total += amplitude;
            amplitude *= 0.5;
            frequency *= 2.0;
        }
        sum / total
    }

    struct Building {
        left: f32,
        width: f32,
        /// Where it stands on the ground (y, in heights).
        base: f32,
        height: f32,
        color: [f32; 3],
        columns: f32,
        rows: f32,
        seed: u64,
    }

    struct Tree {
        x: f32,
        base: f32,
        radius: f32,
        seed: u64,
    }

    /// Everything the seed decides. Coordinates are in image heights: `y` runs from 0 (top)
    /// to 1 (bottom) and `x` from 0 to the aspect ratio, so shapes keep their proportions at
    /// every frame size.
    struct Scene {
        seed: u64,
        aspect: f32,
        horizon: f32,
        hill_height: f32,
        sun: (f32, f32, f32),
        sky_top: [f32; 3],
        sky_horizon: [f32; 3],
        field_green: [f32; 3],
        field_brown: [f32; 3],
        road_x: f32,
        road_drift: f32,
        buildings: Vec<Building>,
        trees: Vec<Tree>,
        detail: f32,
        grain: f32,
        /// Pixels per unit (the frame height in pixels), for texture at the pixel scale.
        pixels_per_unit: f32,
    }

    impl Scene {
        fn new(spec: &Spec) -> Self {
            let mut rng = SplitMix64(spec.seed);
            let aspect = f32::from(spec.frame_size.width) / f32::from(spec.frame_size.height);
            let horizon = rng.range(0.42, 0.56);
            let sun = (rng.range(0.1, aspect - 0.1), rng.range(0.08, horizon - 0.15), rng.range(0.03, 0.06));
            let warmth = rng.range(0.0, 1.0);
            let sky_top = lerp3([28.0, 72.0, 160.0], [60.0, 90.0, 150.0], warmth);
            let sky_horizon = lerp3([185.0, 210.0, 235.0], [235.0, 205.0, 170.0], warmth);
            let field_green = [rng.range(55.0, 85.0), rng.range(95.0, 125.0), rng.range(30.0, 50.0)];
            let field_brown = [rng.range(110.0, 140.0), rng.range(90.0, 110.0), rng.range(55.0, 70.0)];
            let road_x = rng.range(0.35, aspect - 0.35);
            let road_drift = rng.range(-0.4, 0.4);

            let building_count = 2 + (rng.next_u64() % 4) as usize;
            let mut buildings: Vec<Building> = (0..building_count)
                .map(|index| {
                    let base = horizon + rng.range(0.02, 0.2);
                    let height = rng.range(0.12, 0.38);
                    let width = rng.range(0.1, 0.28);
                    let shade = rng.range(0.0, 1.0);
                    Building {
                        left: rng.range(-0.05, aspect - width + 0.05),
                        width,
                        base,
                        height,
                        color: lerp3([178.0, 160.0, 140.0], [120.0, 125.0, 135.0], shade),
                        columns: (3 + rng.next_u64() % 5) as f32,
                        rows: (3 + rng.next_u64() % 7) as f32,
                        seed: spec.seed ^ (0xb1d0 + index as u64),
                    }
                })
                .collect();
            // Far buildings first, so that near ones are drawn over them.
            buildings.sort_by(|a, b| a.base.total_cmp(&b.base));

            let tree_count = 3 + (rng.next_u64() % 6) as usize;
            let mut trees: Vec<Tree> = (0..tree_count)
                .map(|index| {
                    let base = horizon + rng.range(0.03, 0.45);
                    // Nearer trees (lower in the frame) look larger.
                    let radius = (base - horizon) * rng.range(0.25, 0.45) + 0.02;
                    Tree { x: rng.range(0.0, aspect), base, radius, seed: spec.seed ^ (0x7ee0 + index as u64) }
                })
                .collect();
            trees.sort_by(|a, b| a.base.total_cmp(&b.base));

            Self {
                seed: spec.seed,
                aspect,
                horizon,
                hill_height: rng.range(0.04, 0.12),
                sun,
                sky_top,
                sky_horizon,
                field_green,
                field_brown,
                road_x,
                road_drift,
                buildings,
                trees,
                detail: spec.detail,
                grain: spec.grain,
                pixels_per_unit: f32::from(spec.frame_size.height),
            }
        }

        /// Texture a couple of pixels across, around 1.0: what a sharp lens resolves on grass,
        /// leaves and walls at every frame size, and what makes a real frame's size grow with
        /// its pixel count.
        fn fine(&self, x: f32, y: f32, seed: u64, strength: f32) -> f32 {
            let frequency = self.pixels_per_unit / 1.7;
            let noise = value_noise(x * frequency, y * frequency, seed);
            1.0 + (noise - 0.5) * strength * self.detail
        }

        fn sky(&self, x: f32, y: f32) -> [f32; 3] {
            let t = (y / self.horizon).clamp(0.0, 1.0);
            let mut color = lerp3(self.sky_top, self.sky_horizon, t * t);
            let (sun_x, sun_y, sun_radius) = self.sun;
            let distance = ((x - sun_x) * (x - sun_x) + (y - sun_y) * (y - sun_y)).sqrt();
            let glow = (1.0 - distance / (sun_radius * 5.0)).max(0.0);
            color = lerp3(color, [255.0, 244.0, 220.0], glow * glow * 0.6);
            let disc = smoothstep(sun_radius, sun_radius * 0.9, distance);
            color = lerp3(color, [255.0, 252.0, 240.0], disc);
            let cloud_noise = fbm(x * 2.5 + 7.0, y * 7.0, 5, self.seed ^ 0xc10d);
            let fade = ((self.horizon - y) / self.horizon * 1.5).clamp(0.0, 1.0);
            let cover = smoothstep(0.5, 0.72, cloud_noise) * fade;
            let puff = fbm(x * 24.0, y * 48.0, 3, self.seed ^ 0xc10e);
            let underside = 0.78 + 0.22 * cloud_noise + (puff - 0.5) * 0.25 * self.detail;
            lerp3(color, scale3([246.0, 246.0, 250.0], underside), cover)
        }

        fn hill_top(&self, x: f32) -> f32 {
            self.horizon - self.hill_height * fbm(x * 3.0, 0.5, 4, self.seed ^ 0x4111)
        }

        fn hills(&self, x: f32, y: f32) -> [f32; 3] {
            let texture = fbm(x * 60.0, y * 60.0, 3, self.seed ^ 0x4112);
            let haze = ((y - self.hill_top(x)) / self.hill_height).clamp(0.0, 1.0);
            let base = lerp3([70.0, 98.0, 96.0], [120.0, 140.0, 150.0], 1.0 - haze * 0.6);
            let fine = self.fine(x, y, self.seed ^ 0x4113, 0.12);
            scale3(base, (1.0 + (texture - 0.5) * 0.3 * self.detail) * fine)
        }

        fn ground(&self, x: f32, y: f32) -> [f32; 3] {
            // `depth` is 0 at the horizon and 1 at the bottom edge; dividing by it gives the
            // ground-plane coordinates that make texture shrink towards the horizon.
            let depth = ((y - self.horizon) / (1.0 - self.horizon)).max(0.0);
            let distance = 1.0 / (depth + 0.06);
            let ground_x = (x - self.aspect / 2.0) * distance;
            let patches = fbm(ground_x * 0.8, distance * 0.8, 3, self.seed ^ 0x9a55);
            let mut color = lerp3(self.field_green, self.field_brown, smoothstep(0.4, 0.65, patches));
            let grass = fbm(ground_x * 25.0, distance * 25.0, 3, self.seed ^ 0x9a56);
            let fine = self.fine(x, y, self.seed ^ 0x9a57, 0.4);
            color = scale3(color, (0.7 + 0.45 * depth + (grass - 0.5) * 0.8 * self.detail) * fine);

            let road_center = self.road_x + self.road_drift * depth;
            let road_half_width = 0.01 + 0.3 * depth;
            let offset = (x - road_center).abs();
            if offset < road_half_width {
                let gravel = value_noise(ground_x * 90.0, distance * 90.0, self.seed ^ 0x70ad);
                let mut asphalt = 92.0 + 30.0 * depth + (gravel - 0.5) * 40.0 * self.detail;
                let dash = distance * 2.0 - (distance * 2.0).floor();
                if offset < road_half_width * 0.03 && dash < 0.5 {
                    asphalt = 220.0;
                }
                let edge = smoothstep(road_half_width, road_half_width * 0.9, offset);
                color = lerp3(color, [asphalt, asphalt, asphalt + 4.0], edge);
            }
            color
        }

        fn building(&self, building: &Building, x: f32, y: f32) -> Option<[f32; 3]> {
            let side = building.width * 0.25;
            let top = building.base - building.height;
            if y < top || y > building.base || x < building.left {
                return None;
            }
            let u = (x - building.left) / building.width;
            let v = (building.base - y) / building.height;
            let grime = fbm(x * 80.0, y * 80.0, 2, building.seed);
            let texture = (1.0 + (grime - 0.5) * 0.25 * self.detail) * self.fine(x, y, building.seed ^ 1, 0.15);
            if u > 1.0 {
                // The side wall, in shadow, seen at an angle.
                return (x < building.left + building.width + side).then(|| scale3(building.color, 0.62 * texture));
            }
            let column = u * building.columns;
            let row = v * building.rows;
            let cell_x = column - column.floor();
            let cell_y = row - row.floor();
            let in_window = (0.22..0.78).contains(&cell_x) && (0.25..0.75).contains(&cell_y);
            if in_window && v < 0.96 {
                let lit = hash(column.floor() as i64, row.floor() as i64, building.seed).is_multiple_of(5);
                let color =
                    if lit { [235.0, 205.0, 130.0] } else { lerp3([40.0, 55.0, 75.0], [120.0, 145.0, 170.0], cell_y) };
                return Some(scale3(color, texture));
            }
            let roof = if v > 0.96 { 0.7 } else { 1.0 };
            Some(scale3(building.color, texture * roof))
        }

        fn tree(&self, tree: &Tree, x: f32, y: f32) -> Option<[f32; 3]> {
            let center_y = tree.base - tree.radius * 1.6;
            let dx = x - tree.x;
            let dy = y - center_y;
            let distance = (dx * dx + dy * dy).sqrt();
            let leaves = fbm(x * 40.0, y * 40.0, 3, tree.seed);
            if distance < tree.radius * (0.7 + 0.5 * leaves) {
                // Light from the upper left: darker towards the lower right.
                let light = 1.0 - 0.35 * ((dx + dy) / tree.radius).clamp(-1.0, 1.0);
                let fine = fbm(x * 150.0, y * 150.0, 2, tree.seed ^ 1);
                let shade = light * (0.75 + (fine - 0.5) * 0.9 * self.detail) * self.fine(x, y, tree.seed ^ 2, 0.5);
                return Some(scale3([52.0, 84.0, 40.0], shade));
            }
            let trunk_half_width = tree.radius * 0.12;
            if dx.abs() < trunk_half_width && y > center_y && y < tree.base {
                return Some([78.0, 60.0, 44.0]);
            }
            None
        }

        fn pixel(&self, x: f32, y: f32) -> [f32; 3] {
            let mut color = if y < self.hill_top(x) {
                self.sky(x, y)
            } else if y < self.horizon {
                self.hills(x, y)
            } else {
                self.ground(x, y)
            };
            for building in &self.buildings {
                if let Some(wall) = self.building(building, x, y) {
                    color = wall;
                }
            }
            for tree in &self.trees {
                if let Some(leaves) = self.tree(tree, x, y) {
                    color = leaves;
                }
            }
            let dx = x - self.aspect / 2.0;
            let dy = y - 0.5;
            let corner = self.aspect * self.aspect / 4.0 + 0.25;
            scale3(color, 1.0 - 0.35 * (dx * dx + dy * dy) / corner)
        }
    }

    /// Renders the scene of `spec` as RGB (or luma, for a grayscale spec) bytes, row by row.
    pub(super) fn render(spec: &Spec) -> Vec<u8> {
        let scene = Scene::new(spec);
        let width = usize::from(spec.frame_size.width);
        let height = usize::from(spec.frame_size.height);
        let channels = if spec.grayscale { 1 } else { 3 };
        let mut pixels = Vec::with_capacity(width * height * channels);
        let scale = 1.0 / f32::from(spec.frame_size.height);
        for row in 0..height {
            let y = (row as f32 + 0.5) * scale;
            for column in 0..width {
                let x = (column as f32 + 0.5) * scale;
                let color = scene.pixel(x, y);
                // Sensor grain: mostly luma, a little chroma, from a per-pixel hash so that it
                // does not depend on the order pixels are visited in.
                let noise = hash(column as i64, row as i64, spec.seed ^ 0x6a41);
                let uniform = |shift: u32| ((noise >> shift) & 0xffff) as f32 / 65535.0;
                let luma_noise = (uniform(0) + uniform(16) + uniform(32) - 1.5) * 2.0 * scene.grain;
                let chroma = uniform(48) - 0.5;
                let rgb = [
                    color[0] + luma_noise + chroma * scene.grain,
                    color[1] + luma_noise,
                    color[2] + luma_noise - chroma * scene.grain,
                ];
                let [r, g, b] = rgb.map(|value| (value + 0.5).clamp(0.0, 255.0) as u8);
                if spec.grayscale {
                    pixels.push(luma(r, g, b));
                } else {
                    pixels.extend_from_slice(&[r, g, b]);
                }
            }
        }
        pixels
    }

    /// BT.601 luma, in the fixed point `jpeg-encoder` uses for its own conversion.
    fn luma(r: u8, g: u8, b: u8) -> u8 {
        let sum = 19595 * u32::from(r) + 38470 * u32::from(g) + 7471 * u32::from(b);
        ((sum + 0x7fff) >> 16) as u8
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest() -> Manifest {
        load_manifest(&fixtures_dir()).expect("fixtures/manifest.toml loads")
    }

    #[test]
    fn manifest_matches_the_files_on_disk() {
        let directory = fixtures_dir();
        let manifest = manifest();
        assert!(manifest.fixture.len() >= 9, "{} fixtures", manifest.fixture.len());
        for entry in &manifest.fixture {
            let bytes = fs::read(directory.join(&entry.name)).expect(&entry.name);
            assert_eq!(bytes.len() as u64, entry.bytes, "{}", entry.name);
            assert_eq!(sha256_hex(&bytes), entry.sha256, "{}", entry.name);
        }
        assert_eq!(check(&directory).expect("check passes"), manifest.fixture.len());
    }

    #[test]
    fn every_fixture_decodes_with_the_manifest_dimensions_and_mode() {
        use jpeg_decoder::{CodingProcess, Decoder, PixelFormat};

        for entry in &manifest().fixture {
            let bytes = fs::read(fixtures_dir().join(&entry.name)).expect(&entry.name);
            let mut decoder = Decoder::new(bytes.as_slice());
            let pixels = decoder.decode().unwrap_or_else(|error| panic!("{} does not decode: {error}", entry.name));
            let info = decoder.info().expect("decoded images have info");
            assert_eq!((info.width, info.height), (entry.width, entry.height), "{}", entry.name);
            let (format, channels) = if entry.grayscale { (PixelFormat::L8, 1) } else { (PixelFormat::RGB24, 3) };
            assert_eq!(info.pixel_format, format, "{}", entry.name);
            assert_eq!(pixels.len(), usize::from(entry.width) * usize::from(entry.height) * channels, "{}", entry.name);
            let process = if entry.progressive { CodingProcess::DctProgressive } else { CodingProcess::DctSequential };
            assert_eq!(info.coding_process, process, "{}", entry.name);
        }
    }

    #[test]
    fn fixtures_cover_progressive_grayscale_and_the_frame_size_range() {
        let manifest = manifest();
        assert!(manifest.fixture.iter().any(|entry| entry.progressive));
        assert!(manifest.fixture.iter().any(|entry| entry.grayscale));
        assert!(manifest.fixture.iter().any(|entry| !entry.grayscale && !entry.progressive));
        for frame_size in ["QQVGA", "VGA", "SVGA", "UXGA"] {
            assert!(manifest.fixture.iter().any(|entry| entry.frame_size == frame_size), "no {frame_size} fixture");
        }
        let mut qualities: Vec<u8> = manifest.fixture.iter().map(|entry| entry.quality).collect();
        qualities.sort_unstable();
        qualities.dedup();
        assert!(qualities.len() >= 4, "qualities {qualities:?}");
    }

    #[test]
    fn sizes_span_about_2_kb_to_over_200_kb() {
        let manifest = manifest();
        let smallest = manifest.fixture.iter().map(|entry| entry.bytes).min().unwrap();
        let largest = manifest.fixture.iter().map(|entry| entry.bytes).max().unwrap();
        assert!((1_500..=2_600).contains(&smallest), "smallest is {smallest} bytes");
        assert!(largest > 200_000, "largest is {largest} bytes");
    }

    #[test]
    fn the_benchmark_fixtures_have_the_sizes_their_names_promise() {
        let manifest = manifest();
        let twenty = manifest.get("vga-q12-20k.jpg").expect("vga-q12-20k.jpg is listed");
        assert!((18_000..=22_000).contains(&twenty.bytes), "{} bytes", twenty.bytes);
        let hundred = manifest.get("svga-q4-100k.jpg").expect("svga-q4-100k.jpg is listed");
        assert!((92_000..=108_000).contains(&hundred.bytes), "{} bytes", hundred.bytes);
    }

    #[test]
    fn regenerating_in_memory_gives_the_same_bytes_as_on_disk() {
        let directory = fixtures_dir();
        let fixtures = generate_all().expect("fixtures generate");
        for fixture in &fixtures {
            let on_disk = fs::read(directory.join(&fixture.name)).expect(&fixture.name);
            assert!(on_disk == fixture.bytes, "{} differs from its generator", fixture.name);
        }
        let manifest_text = Manifest::from_generated(&fixtures).to_text().unwrap();
        assert_eq!(
            fs::read_to_string(directory.join(MANIFEST)).unwrap(),
            manifest_text,
            "fixtures/manifest.toml is stale; run `cargo xtask fixtures`"
        );
        assert_eq!(
            fs::read_to_string(directory.join(README)).unwrap(),
            readme_text(&fixtures),
            "fixtures/README.md is stale; run `cargo xtask fixtures`"
        );
    }

    #[test]
    fn names_follow_the_pattern_and_are_unique() {
        let mut names: Vec<String> = SPECS.iter().map(Spec::name).collect();
        assert_eq!(names[0], "qqvga-q25.jpg");
        assert!(names.contains(&"xga-q10-progressive.jpg".to_owned()));
        assert!(names.contains(&"sxga-q15-gray.jpg".to_owned()));
        names.sort();
        names.dedup();
        assert_eq!(names.len(), SPECS.len());
    }

    #[test]
    fn ov2640_quality_maps_to_a_falling_encoder_quality() {
        assert_eq!(encoder_quality(4), 75);
        assert_eq!(encoder_quality(8), 50);
        assert_eq!(encoder_quality(12), 33);
        assert_eq!(encoder_quality(63), 6);
        for quality in 4..63 {
            assert!(encoder_quality(quality) >= encoder_quality(quality + 1), "{quality}");
        }
    }

    /// A copy of the real fixtures in a scratch directory that the test may damage.
    fn scratch_copy(test: &str) -> PathBuf {
        let scratch = std::env::temp_dir().join(format!("nowcam-xtask-fixtures-{test}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&scratch);
        fs::create_dir_all(&scratch).unwrap();
        let source = fixtures_dir();
        for name in jpeg_names(&source).unwrap().into_iter().chain([MANIFEST.to_owned()]) {
            fs::copy(source.join(&name), scratch.join(&name)).unwrap();
        }
        scratch
    }

    #[test]
    fn check_names_a_changed_file() {
        let scratch = scratch_copy("changed");
        let path = scratch.join("vga-q12-20k.jpg");
        let mut bytes = fs::read(&path).unwrap();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0x40;
        fs::write(&path, bytes).unwrap();
        let error = format!("{:#}", check(&scratch).unwrap_err());
        fs::remove_dir_all(&scratch).unwrap();
        assert!(error.contains("vga-q12-20k.jpg: sha256 is"), "{error}");
        assert!(error.starts_with("1 fixture problem(s)"), "{error}");
    }

    #[test]
    fn check_names_a_truncated_a_missing_and_an_unlisted_file() {
        let scratch = scratch_copy("missing");
        let truncated = scratch.join("qvga-q12.jpg");
        let bytes = fs::read(&truncated).unwrap();
        fs::write(&truncated, &bytes[..bytes.len() - 1]).unwrap();
        fs::remove_file(scratch.join("uxga-q8.jpg")).unwrap();
        fs::write(scratch.join("stray.jpg"), b"not a fixture").unwrap();
        let error = format!("{:#}", check(&scratch).unwrap_err());
        fs::remove_dir_all(&scratch).unwrap();
        assert!(error.starts_with("3 fixture problem(s)"), "{error}");
        assert!(error.contains("qvga-q12.jpg: is"), "{error}");
        assert!(error.contains("uxga-q8.jpg: cannot be read"), "{error}");
        assert!(error.contains("stray.jpg: is not in the manifest"), "{error}");
    }

    #[test]
    fn a_manifest_with_wrong_dimensions_is_rejected_with_the_file_named() {
        let scratch = scratch_copy("dimensions");
        let path = scratch.join(MANIFEST);
        let text = fs::read_to_string(&path).unwrap();
        fs::write(&path, text.replacen("width = 160", "width = 161", 1)).unwrap();
        let error = format!("{:#}", load_manifest(&scratch).unwrap_err());
        fs::remove_dir_all(&scratch).unwrap();
        assert!(error.contains("manifest.toml: fixture qqvga-q25.jpg is 161x120"), "{error}");
    }
}
