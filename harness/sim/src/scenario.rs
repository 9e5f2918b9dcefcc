//! Scenario files: scenarios/*.toml, read into a private raw form and
//! validated into typed values.
//!
//! A bad file gets one error that names the file, the field and what was
//! expected, e.g. `scenarios/x.toml: link.preset: expected one of clean,
//! random5, bursty20, edge30, dup1, reorder, delay, found "lossy"`.
//!
//! A `[[senders]]` table's `channel` is where the camera starts (default 1).
//! By default the camera then finds its receiver as the chip does: it
//! probes, and hops through channels 1 to 13 until the receiver answers.
//! `discovery = false` pins it instead: it knows the receiver's address and
//! stays on `channel`, so a receiver tuned elsewhere never hears it. The
//! seed's (legacy) sender is always pinned.
//!
//! `flash` says how long the receivers' flash takes: `"datasheet"` (the
//! default) charges the typical erase and program times of the boards' SPI
//! NOR flash (`nowcam_store::FlashTiming::DATASHEET`), during which the
//! receiver reads no frame; `"ideal"` takes no time. Either way a receiver
//! starts with a slot erased ahead, as after a while of idling.
//!
//! `[hostile]` puts a hostile station on the receiver's channel
//! (`crate::hostile`): `forge_chunks` and `forge_status` are probabilities,
//! `flood_senders` a number of fake sender addresses, `replay_old` a switch.
//! The legitimate transfer is the first nowcam sender's.
//!
//! `frame_size` in a `[[senders]]` or `[[receivers]]` table is the largest
//! ESP-NOW frame that node sends and takes: 250 (v1, the default) to 1470
//! (v2). A camera and a receiver both above 250 agree on the smaller of the
//! two, and the camera cuts its chunks to fill it (1461 bytes at 1470); a
//! node at 250 keeps the other at 250-byte frames and 241-byte chunks.
//!
//! `power_cuts = ["mid-transfer", "mid-commit"]` cuts the power of that
//! sender's receiver during its transfers, one cut per transfer in order,
//! and reboots it with the flash keeping what the cut left (`crate::power`).

use std::fmt;
use std::path::{Path, PathBuf};

use nowcam_proto::auth::Key;
use nowcam_proto::time::Duration;
use serde::Deserialize;

use crate::fixtures::FixtureCatalog;

/// The link presets of shared/ESPNOW-FACTS.md, by name.
pub const PRESET_NAMES: [&str; 7] = ["clean", "random5", "bursty20", "edge30", "dup1", "reorder", "delay"];

/// The PHY rates ESP-NOW can send at, in Mbps.
pub const PHY_RATES_MBPS: [f64; 12] = [1.0, 2.0, 5.5, 11.0, 6.0, 9.0, 12.0, 18.0, 24.0, 36.0, 48.0, 54.0];

const DEFAULT_SEEDS: u32 = 3;
const DEFAULT_TIME_LIMIT_S: f64 = 600.0;
const DEFAULT_CHANNEL: u8 = 1;

/// A validated scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    /// The file stem: `edge30` for scenarios/edge30.toml.
    pub name: String,
    pub path: PathBuf,
    pub description: String,
    /// How many seeds `nowcam run` tries by default.
    pub seeds: u32,
    /// Virtual time after which the run stops, whatever state it is in.
    pub time_limit: Duration,
    /// How long the receivers' flash operations take.
    pub flash: FlashModel,
    /// The pre-shared key of the authenticated mode, for every nowcam sender
    /// and receiver of the scenario; `None` runs the default mode.
    pub key: Option<Key>,
    pub link: LinkSpec,
    pub senders: Vec<SenderSpec>,
    pub receivers: Vec<ReceiverSpec>,
    pub expect: Expectation,
    /// A hostile station on the air; [`HostileSpec::is_none`] when there is none.
    pub hostile: HostileSpec,
    /// Power cuts of the first nowcam sender's receiver, in order, one per
    /// transfer it receives (see `crate::power`).
    pub power_cuts: Vec<PowerCutAt>,
}

/// Where in a transfer the receiver's power is cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PowerCutAt {
    /// In the middle of the chunks: a chunk's write is torn.
    MidTransfer,
    /// In the commit: the last chunk is written, the header write is torn.
    MidCommit,
}

impl PowerCutAt {
    pub const NAMES: [&'static str; 2] = ["mid-transfer", "mid-commit"];
}

/// What a hostile station on the receiver's channel does (shared/ESPNOW-FACTS.md, "Security facts").
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize)]
pub struct HostileSpec {
    /// Before a chunk of the legitimate transfer, with this probability, a
    /// forged copy of it with an altered payload goes on the air first.
    pub forge_chunks: f64,
    /// With this probability, a status request of the legitimate transfer
    /// is answered first by a forged Status claiming every chunk received.
    pub forge_status: f64,
    /// Fake sender addresses sending offers and chunks during the run.
    pub flood_senders: u32,
    /// Frames of an earlier session of the legitimate sender are replayed.
    pub replay_old: bool,
}

impl HostileSpec {
    /// The most fake senders a scenario may ask for.
    pub const MAX_FLOOD_SENDERS: u32 = 64;

    /// Whether no hostile station is asked for.
    pub fn is_none(&self) -> bool {
        self.forge_chunks == 0.0 && self.forge_status == 0.0 && self.flood_senders == 0 && !self.replay_old
    }
}

/// How long the receivers' flash operations take.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FlashModel {
    /// The typical times of the boards' flash datasheets.
    #[default]
    Datasheet,
    /// No time at all.
    Ideal,
}

impl FlashModel {
    pub const NAMES: [&'static str; 2] = ["datasheet", "ideal"];

    pub fn name(self) -> &'static str {
        match self {
            FlashModel::Datasheet => Self::NAMES[0],
            FlashModel::Ideal => Self::NAMES[1],
        }
    }

    /// The latencies this model charges.
    pub fn timing(self) -> nowcam_store::FlashTiming {
        match self {
            FlashModel::Datasheet => nowcam_store::FlashTiming::DATASHEET,
            FlashModel::Ideal => nowcam_store::FlashTiming::IDEAL,
        }
    }
}

impl fmt::Display for FlashModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The link between every sender and its receiver.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkSpec {
    /// Sender to receiver: offers, chunks, legacy frames.
    pub data: DirectionSpec,
    /// Receiver to sender: status, completion and the MAC acknowledgements of data frames.
    pub status: DirectionSpec,
    /// Windows in which nothing arrives in either direction.
    pub outages: Vec<Outage>,
    /// The rate of every frame whose radio sets none: with `auto_rate`, the
    /// receiver's answers and the camera's frames before its first choice (1 Mbps).
    pub phy_rate_mbps: f64,
    /// `phy_rate_mbps = "auto"`: the cameras choose each chunk's rate with
    /// the rate controller (`nowcam_app::rate`).
    pub auto_rate: bool,
}

/// One direction of a link: a preset, possibly with some parameters replaced.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DirectionSpec {
    pub preset: Option<String>,
    pub loss: Option<LossSpec>,
    pub duplicate: Option<f64>,
    pub reorder: Option<f64>,
    pub reorder_slots: Option<u32>,
    pub delay_ms: Option<f64>,
    pub jitter_ms: Option<f64>,
    pub spike_probability: Option<f64>,
    pub spike_ms: Option<f64>,
    /// The signal-to-noise ratio in dB: frames are also lost to noise by
    /// the NIST error-rate model for the link's rate and their length.
    pub snr_db: Option<f64>,
}

/// A loss process.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LossSpec {
    Bernoulli {
        probability: f64,
    },
    /// tc-netem `gemodel` parameters: p = P(G→B), r = P(B→G), loss h in Bad, k in Good.
    GilbertElliott {
        p: f64,
        r: f64,
        h: f64,
        k: f64,
    },
}

impl LossSpec {
    /// The long-run fraction of frames lost.
    pub fn mean_loss(&self) -> f64 {
        match *self {
            LossSpec::Bernoulli { probability } => probability,
            LossSpec::GilbertElliott { p, r, h, k } => {
                if p + r == 0.0 {
                    k
                } else {
                    p / (p + r) * h + r / (p + r) * k
                }
            }
        }
    }
}

/// A window of virtual time in which the link carries nothing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Outage {
    pub from: Duration,
    /// `None`: the outage never ends.
    pub to: Option<Duration>,
}

/// Which protocol a sender speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Protocol {
    Nowcam,
    /// The seed project's format and timing (500 ms after every frame).
    Legacy,
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Protocol::Nowcam => "nowcam",
            Protocol::Legacy => "legacy",
        })
    }
}

/// An image a sender sends.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ImageRef {
    /// A fixture by its manifest name.
    Fixture(String),
    /// Deterministic filler bytes of this length (for limits no real JPEG reaches).
    Synthetic(u32),
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ImageRef::Fixture(name) => f.write_str(name),
            ImageRef::Synthetic(bytes) => write!(f, "synthetic:{bytes}"),
        }
    }
}

/// One sender node (or `count` identical ones).
#[derive(Debug, Clone, PartialEq)]
pub struct SenderSpec {
    pub name: String,
    pub protocol: Protocol,
    /// Sent in order, back to back; the list is repeated `repeat` times.
    pub images: Vec<ImageRef>,
    pub repeat: u32,
    pub count: u32,
    /// Index into [`Scenario::receivers`].
    pub to: usize,
    /// The channel the sender starts on.
    pub channel: u8,
    /// Find the receiver by probing, hopping channels until it answers (the
    /// chip's start-up). `false` pins the sender to `channel` with the
    /// receiver's address known; legacy senders are always pinned.
    pub discovery: bool,
    /// The largest frame the camera sends and takes (250 to 1470).
    pub frame_size: u16,
}

/// One receiver node.
#[derive(Debug, Clone, PartialEq)]
pub struct ReceiverSpec {
    pub name: String,
    pub channel: u8,
    /// Offers above this are refused (the protocol's default when `None`).
    pub max_image_bytes: Option<u32>,
    /// The largest frame the receiver sends and takes (250 to 1470).
    pub frame_size: u16,
}

/// The frame sizes a node may use: ESP-NOW v1's 250 bytes up to v2's 1470.
pub const FRAME_SIZES: std::ops::RangeInclusive<u16> = 250..=1470;

/// What a run must show to pass.
#[derive(Debug, Clone, PartialEq)]
pub struct Expectation {
    pub outcome: ExpectedOutcome,
    pub max_sim_time: Option<Duration>,
    pub min_efficiency: Option<f64>,
}

/// The result a run must end with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ExpectedOutcome {
    /// Every image arrives and matches the sent bytes.
    ByteExact,
    /// The receiver refuses the offer as too large and the sender reports it.
    RefusedTooLarge,
    /// The sender gives up at its deadline with the typed timeout error.
    TimedOut,
}

impl ExpectedOutcome {
    pub const NAMES: [&'static str; 3] = ["byte-exact", "refused: too large", "timed out"];

    pub fn name(self) -> &'static str {
        match self {
            ExpectedOutcome::ByteExact => Self::NAMES[0],
            ExpectedOutcome::RefusedTooLarge => Self::NAMES[1],
            ExpectedOutcome::TimedOut => Self::NAMES[2],
        }
    }
}

impl fmt::Display for ExpectedOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a scenario file was refused.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("{path}: cannot read: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("{path}: {message}")]
    Syntax { path: String, message: String },
    #[error("{path}: {field}: expected {expected}, found {found}")]
    Invalid { path: String, field: String, expected: String, found: String },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    description: Option<String>,
    seeds: Option<i64>,
    time_limit_s: Option<f64>,
    flash: Option<String>,
    key_hex: Option<String>,
    link: Option<RawLink>,
    #[serde(default)]
    senders: Vec<RawSender>,
    #[serde(default)]
    receivers: Vec<RawReceiver>,
    expect: Option<RawExpect>,
    hostile: Option<RawHostile>,
    #[serde(default)]
    power_cuts: Vec<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawHostile {
    forge_chunks: Option<f64>,
    forge_status: Option<f64>,
    flood_senders: Option<i64>,
    replay_old: Option<bool>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawLink {
    preset: Option<String>,
    loss: Option<f64>,
    gilbert_elliott: Option<RawGilbertElliott>,
    duplicate: Option<f64>,
    reorder: Option<f64>,
    reorder_slots: Option<i64>,
    delay_ms: Option<f64>,
    jitter_ms: Option<f64>,
    spike_probability: Option<f64>,
    spike_ms: Option<f64>,
    snr_db: Option<f64>,
    data: Option<RawDirection>,
    status: Option<RawDirection>,
    #[serde(default)]
    outages: Vec<RawOutage>,
    phy_rate_mbps: Option<RawPhyRate>,
}

/// `phy_rate_mbps`: a number of Mbps, or "auto".
#[derive(Deserialize, Clone)]
#[serde(untagged)]
enum RawPhyRate {
    Mbps(f64),
    Name(String),
}

impl RawLink {
    /// The keys written directly under `[link]`, which apply to both directions.
    fn both(&self) -> RawDirection {
        RawDirection {
            preset: self.preset.clone(),
            loss: self.loss,
            gilbert_elliott: self.gilbert_elliott,
            duplicate: self.duplicate,
            reorder: self.reorder,
            reorder_slots: self.reorder_slots,
            delay_ms: self.delay_ms,
            jitter_ms: self.jitter_ms,
            spike_probability: self.spike_probability,
            spike_ms: self.spike_ms,
            snr_db: self.snr_db,
        }
    }
}

#[derive(Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
struct RawDirection {
    preset: Option<String>,
    loss: Option<f64>,
    gilbert_elliott: Option<RawGilbertElliott>,
    duplicate: Option<f64>,
    reorder: Option<f64>,
    reorder_slots: Option<i64>,
    delay_ms: Option<f64>,
    jitter_ms: Option<f64>,
    spike_probability: Option<f64>,
    spike_ms: Option<f64>,
    snr_db: Option<f64>,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(deny_unknown_fields)]
struct RawGilbertElliott {
    p: f64,
    r: f64,
    h: f64,
    k: f64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOutage {
    from_s: f64,
    to_s: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSender {
    name: Option<String>,
    protocol: Option<String>,
    images: Vec<String>,
    repeat: Option<i64>,
    count: Option<i64>,
    to: Option<String>,
    channel: Option<i64>,
    discovery: Option<bool>,
    frame_size: Option<i64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawReceiver {
    name: Option<String>,
    channel: Option<i64>,
    max_image_bytes: Option<i64>,
    frame_size: Option<i64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExpect {
    result: Option<String>,
    max_sim_time_s: Option<f64>,
    min_efficiency: Option<f64>,
}

/// Validation state: the file name for messages.
struct Check<'a> {
    path: &'a str,
}

impl Check<'_> {
    fn invalid(
        &self,
        field: impl Into<String>,
        expected: impl Into<String>,
        found: impl Into<String>,
    ) -> ScenarioError {
        ScenarioError::Invalid {
            path: self.path.to_owned(),
            field: field.into(),
            expected: expected.into(),
            found: found.into(),
        }
    }

    fn fraction(&self, field: &str, value: Option<f64>) -> Result<Option<f64>, ScenarioError> {
        match value {
            Some(v) if !(0.0..=1.0).contains(&v) => {
                Err(self.invalid(field, "a probability from 0 to 1", v.to_string()))
            }
            other => Ok(other),
        }
    }

    fn non_negative(&self, field: &str, value: Option<f64>) -> Result<Option<f64>, ScenarioError> {
        match value {
            Some(v) if !(v >= 0.0 && v.is_finite()) => {
                Err(self.invalid(field, "a finite number of at least 0", v.to_string()))
            }
            other => Ok(other),
        }
    }

    fn count(&self, field: &str, value: Option<i64>, default: u32, min: i64, max: i64) -> Result<u32, ScenarioError> {
        match value {
            None => Ok(default),
            Some(v) if (min..=max).contains(&v) => Ok(v as u32),
            Some(v) => Err(self.invalid(field, format!("an integer from {min} to {max}"), v.to_string())),
        }
    }

    fn frame_size(&self, field: &str, value: Option<i64>) -> Result<u16, ScenarioError> {
        let (min, max) = (i64::from(*FRAME_SIZES.start()), i64::from(*FRAME_SIZES.end()));
        Ok(self.count(field, value, u32::from(*FRAME_SIZES.start()), min, max)? as u16)
    }

    fn seconds(&self, field: &str, value: f64) -> Result<Duration, ScenarioError> {
        if value >= 0.0 && value.is_finite() && value < 1e9 {
            Ok(Duration::from_micros((value * 1e6).round() as u64))
        } else {
            Err(self.invalid(field, "a number of seconds of at least 0", value.to_string()))
        }
    }

    fn direction(&self, field: &str, raw: &RawDirection) -> Result<DirectionSpec, ScenarioError> {
        let preset = match &raw.preset {
            Some(name) if !PRESET_NAMES.contains(&name.as_str()) => {
                return Err(self.invalid(
                    format!("{field}preset"),
                    format!("one of {}", PRESET_NAMES.join(", ")),
                    format!("{name:?}"),
                ));
            }
            other => other.clone(),
        };
        let loss = match (raw.loss, raw.gilbert_elliott) {
            (Some(_), Some(_)) => {
                return Err(self.invalid(format!("{field}loss"), "either loss or gilbert_elliott, not both", "both"));
            }
            (Some(probability), None) => {
                self.fraction(&format!("{field}loss"), Some(probability))?;
                Some(LossSpec::Bernoulli { probability })
            }
            (None, Some(ge)) => {
                for (name, value) in [("p", ge.p), ("r", ge.r), ("h", ge.h), ("k", ge.k)] {
                    self.fraction(&format!("{field}gilbert_elliott.{name}"), Some(value))?;
                }
                Some(LossSpec::GilbertElliott { p: ge.p, r: ge.r, h: ge.h, k: ge.k })
            }
            (None, None) => None,
        };
        Ok(DirectionSpec {
            preset,
            loss,
            duplicate: self.fraction(&format!("{field}duplicate"), raw.duplicate)?,
            reorder: self.fraction(&format!("{field}reorder"), raw.reorder)?,
            reorder_slots: match raw.reorder_slots {
                None => None,
                Some(v) => Some(self.count(&format!("{field}reorder_slots"), Some(v), 0, 1, 64)?),
            },
            delay_ms: self.non_negative(&format!("{field}delay_ms"), raw.delay_ms)?,
            jitter_ms: self.non_negative(&format!("{field}jitter_ms"), raw.jitter_ms)?,
            spike_probability: self.fraction(&format!("{field}spike_probability"), raw.spike_probability)?,
            spike_ms: self.non_negative(&format!("{field}spike_ms"), raw.spike_ms)?,
            snr_db: match raw.snr_db {
                Some(snr_db) if !nowcam_link::SNR_RANGE_DB.contains(&snr_db) => {
                    return Err(self.invalid(
                        format!("{field}snr_db"),
                        format!(
                            "a signal-to-noise ratio in dB from {} to {}",
                            nowcam_link::SNR_RANGE_DB.start(),
                            nowcam_link::SNR_RANGE_DB.end()
                        ),
                        snr_db.to_string(),
                    ));
                }
                other => other,
            },
        })
    }
}

/// Fills the fields `over` leaves unset from `base`.
fn overlay(base: &RawDirection, over: &RawDirection) -> RawDirection {
    let replaces_loss = over.loss.is_some() || over.gilbert_elliott.is_some();
    RawDirection {
        preset: over.preset.clone().or_else(|| base.preset.clone()),
        loss: if replaces_loss { over.loss } else { base.loss },
        gilbert_elliott: if replaces_loss { over.gilbert_elliott } else { base.gilbert_elliott },
        duplicate: over.duplicate.or(base.duplicate),
        reorder: over.reorder.or(base.reorder),
        reorder_slots: over.reorder_slots.or(base.reorder_slots),
        delay_ms: over.delay_ms.or(base.delay_ms),
        jitter_ms: over.jitter_ms.or(base.jitter_ms),
        spike_probability: over.spike_probability.or(base.spike_probability),
        spike_ms: over.spike_ms.or(base.spike_ms),
        snr_db: over.snr_db.or(base.snr_db),
    }
}

fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

impl Scenario {
    /// Reads and validates one scenario file.
    pub fn load(path: &Path, fixtures: &FixtureCatalog) -> Result<Scenario, ScenarioError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ScenarioError::Read { path: path.display().to_string(), source })?;
        Scenario::parse(path, &text, fixtures)
    }

    /// Validates scenario text; `path` names the file in errors and gives the scenario its name.
    pub fn parse(path: &Path, text: &str, fixtures: &FixtureCatalog) -> Result<Scenario, ScenarioError> {
        let shown = path.display().to_string();
        let check = Check { path: &shown };
        let raw: RawScenario = toml::from_str(text)
            .map_err(|error| ScenarioError::Syntax { path: shown.clone(), message: syntax_message(text, &error) })?;

        let name = path.file_stem().and_then(|s| s.to_str()).unwrap_or("scenario").to_owned();
        let seeds = check.count("seeds", raw.seeds, DEFAULT_SEEDS, 1, 10_000)?;
        let time_limit = check.seconds("time_limit_s", raw.time_limit_s.unwrap_or(DEFAULT_TIME_LIMIT_S))?;
        if time_limit == Duration::ZERO {
            return Err(check.invalid("time_limit_s", "a number of seconds above 0", "0"));
        }

        let flash = match raw.flash.as_deref() {
            None | Some("datasheet") => FlashModel::Datasheet,
            Some("ideal") => FlashModel::Ideal,
            Some(other) => {
                return Err(check.invalid("flash", "one of datasheet, ideal", format!("{other:?}")));
            }
        };

        let key = match raw.key_hex.as_deref() {
            None => None,
            Some(hex) => Some(Key::from_hex(hex).map_err(|_| {
                check.invalid("key_hex", "64 hexadecimal digits (a 32-byte key)", format!("{} characters", hex.len()))
            })?),
        };

        let raw_link = raw.link.unwrap_or_default();
        let both = raw_link.both();
        let data = check
            .direction("link.data.", &overlay(&both, &raw_link.data.clone().unwrap_or_default()))
            .map_err(|e| rename_both(e, raw_link.data.is_none()))?;
        let status = check
            .direction("link.status.", &overlay(&both, &raw_link.status.clone().unwrap_or_default()))
            .map_err(|e| rename_both(e, raw_link.status.is_none()))?;
        let mut outages = Vec::new();
        for (i, outage) in raw_link.outages.iter().enumerate() {
            let from = check.seconds(&format!("link.outages[{i}].from_s"), outage.from_s)?;
            let to = match outage.to_s {
                None => None,
                Some(to_s) => {
                    let to = check.seconds(&format!("link.outages[{i}].to_s"), to_s)?;
                    if to <= from {
                        return Err(check.invalid(
                            format!("link.outages[{i}].to_s"),
                            format!("a time after from_s ({})", outage.from_s),
                            to_s.to_string(),
                        ));
                    }
                    Some(to)
                }
            };
            outages.push(Outage { from, to });
        }
        let (phy_rate_mbps, auto_rate) = match raw_link.phy_rate_mbps.clone() {
            None => (1.0, false),
            Some(RawPhyRate::Mbps(mbps)) => (mbps, false),
            Some(RawPhyRate::Name(name)) if name == "auto" => (1.0, true),
            Some(RawPhyRate::Name(name)) => {
                return Err(check.invalid(
                    "link.phy_rate_mbps",
                    "one of 1, 2, 5.5, 11, 6, 9, 12, 18, 24, 36, 48, 54 or \"auto\"",
                    format!("{name:?}"),
                ))
            }
        };
        if !PHY_RATES_MBPS.contains(&phy_rate_mbps) {
            return Err(check.invalid(
                "link.phy_rate_mbps",
                "one of 1, 2, 5.5, 11, 6, 9, 12, 18, 24, 36, 48, 54 or \"auto\"",
                phy_rate_mbps.to_string(),
            ));
        }
        let link = LinkSpec { data, status, outages, phy_rate_mbps, auto_rate };

        if raw.receivers.is_empty() {
            return Err(check.invalid("receivers", "at least one [[receivers]] table", "none"));
        }
        let mut receivers = Vec::new();
        for (i, receiver) in raw.receivers.iter().enumerate() {
            let name = receiver.name.clone().unwrap_or_else(|| format!("receiver{i}"));
            if !valid_name(&name) {
                return Err(check.invalid(
                    format!("receivers[{i}].name"),
                    "letters, digits, - and _",
                    format!("{name:?}"),
                ));
            }
            if receivers.iter().any(|r: &ReceiverSpec| r.name == name) {
                return Err(check.invalid(
                    format!("receivers[{i}].name"),
                    "a name no other receiver has",
                    format!("{name:?}"),
                ));
            }
            let channel =
                check.count(&format!("receivers[{i}].channel"), receiver.channel, u32::from(DEFAULT_CHANNEL), 1, 14)?
                    as u8;
            let max_image_bytes = match receiver.max_image_bytes {
                None => None,
                Some(v) => {
                    Some(check.count(&format!("receivers[{i}].max_image_bytes"), Some(v), 0, 1, 16 * 1024 * 1024)?)
                }
            };
            let frame_size = check.frame_size(&format!("receivers[{i}].frame_size"), receiver.frame_size)?;
            receivers.push(ReceiverSpec { name, channel, max_image_bytes, frame_size });
        }

        if raw.senders.is_empty() {
            return Err(check.invalid("senders", "at least one [[senders]] table", "none"));
        }
        let mut senders = Vec::new();
        for (i, sender) in raw.senders.iter().enumerate() {
            let field = |f: &str| format!("senders[{i}].{f}");
            let name = sender.name.clone().unwrap_or_else(|| format!("sender{i}"));
            if !valid_name(&name) {
                return Err(check.invalid(field("name"), "letters, digits, - and _", format!("{name:?}")));
            }
            let protocol = match sender.protocol.as_deref() {
                None | Some("nowcam") => Protocol::Nowcam,
                Some("legacy") => Protocol::Legacy,
                Some(other) => {
                    return Err(check.invalid(field("protocol"), "one of nowcam, legacy", format!("{other:?}")))
                }
            };
            if sender.images.is_empty() {
                return Err(check.invalid(field("images"), "at least one image", "[]"));
            }
            let mut images = Vec::new();
            for (j, image) in sender.images.iter().enumerate() {
                images.push(parse_image(&check, &format!("senders[{i}].images[{j}]"), image, fixtures)?);
            }
            let repeat = check.count(&field("repeat"), sender.repeat, 1, 1, 10_000)?;
            let count = check.count(&field("count"), sender.count, 1, 1, 64)?;
            let to = match &sender.to {
                None if receivers.len() == 1 => 0,
                None => {
                    return Err(check.invalid(field("to"), "the name of a receiver (there are several)", "nothing"))
                }
                Some(to) => receivers.iter().position(|r| &r.name == to).ok_or_else(|| {
                    let names: Vec<&str> = receivers.iter().map(|r| r.name.as_str()).collect();
                    check.invalid(field("to"), format!("one of {}", names.join(", ")), format!("{to:?}"))
                })?,
            };
            let channel = check.count(&field("channel"), sender.channel, u32::from(DEFAULT_CHANNEL), 1, 14)? as u8;
            let discovery = match (protocol, sender.discovery) {
                (Protocol::Legacy, Some(true)) => {
                    return Err(check.invalid(
                        field("discovery"),
                        "false or nothing for a legacy sender (the seed's sender knows its receiver)",
                        "true",
                    ))
                }
                (Protocol::Legacy, _) => false,
                (Protocol::Nowcam, discovery) => discovery.unwrap_or(true),
            };
            let frame_size = check.frame_size(&field("frame_size"), sender.frame_size)?;
            if protocol == Protocol::Legacy && frame_size != *FRAME_SIZES.start() {
                return Err(check.invalid(
                    field("frame_size"),
                    "250 or nothing for a legacy sender (the seed's format is ESP-NOW v1)",
                    frame_size.to_string(),
                ));
            }
            senders.push(SenderSpec { name, protocol, images, repeat, count, to, channel, discovery, frame_size });
        }

        let raw_expect = raw.expect.unwrap_or(RawExpect { result: None, max_sim_time_s: None, min_efficiency: None });
        let outcome = match raw_expect.result.as_deref() {
            None | Some("byte-exact") => ExpectedOutcome::ByteExact,
            Some("refused: too large") => ExpectedOutcome::RefusedTooLarge,
            Some("timed out") => ExpectedOutcome::TimedOut,
            Some(other) => {
                let names: Vec<String> = ExpectedOutcome::NAMES.iter().map(|n| format!("{n:?}")).collect();
                return Err(check.invalid(
                    "expect.result",
                    format!("one of {}", names.join(", ")),
                    format!("{other:?}"),
                ));
            }
        };
        let max_sim_time = raw_expect.max_sim_time_s.map(|s| check.seconds("expect.max_sim_time_s", s)).transpose()?;
        let min_efficiency = match raw_expect.min_efficiency {
            Some(e) if !(e > 0.0 && e <= 1.0) => {
                return Err(check.invalid("expect.min_efficiency", "a number above 0 and at most 1", e.to_string()))
            }
            other => other,
        };

        let raw_hostile = raw.hostile.unwrap_or_default();
        let hostile = HostileSpec {
            forge_chunks: check.fraction("hostile.forge_chunks", raw_hostile.forge_chunks)?.unwrap_or(0.0),
            forge_status: check.fraction("hostile.forge_status", raw_hostile.forge_status)?.unwrap_or(0.0),
            flood_senders: check.count(
                "hostile.flood_senders",
                raw_hostile.flood_senders,
                0,
                0,
                i64::from(HostileSpec::MAX_FLOOD_SENDERS),
            )?,
            replay_old: raw_hostile.replay_old.unwrap_or(false),
        };
        if !hostile.is_none() && !senders.iter().any(|s| s.protocol == Protocol::Nowcam) {
            return Err(check.invalid(
                "hostile",
                "a nowcam sender whose transfer the hostile station attacks",
                "only legacy senders",
            ));
        }

        let mut power_cuts = Vec::new();
        for (i, cut) in raw.power_cuts.iter().enumerate() {
            power_cuts.push(match cut.as_str() {
                "mid-transfer" => PowerCutAt::MidTransfer,
                "mid-commit" => PowerCutAt::MidCommit,
                other => {
                    return Err(check.invalid(
                        format!("power_cuts[{i}]"),
                        format!("one of {}", PowerCutAt::NAMES.join(", ")),
                        format!("{other:?}"),
                    ))
                }
            });
        }
        if !power_cuts.is_empty() && !senders.iter().any(|s| s.protocol == Protocol::Nowcam) {
            return Err(check.invalid(
                "power_cuts",
                "a nowcam sender whose receiver loses power",
                "only legacy senders",
            ));
        }

        Ok(Scenario {
            name,
            path: path.to_path_buf(),
            description: raw.description.unwrap_or_default(),
            seeds,
            time_limit,
            flash,
            key,
            link,
            senders,
            receivers,
            expect: Expectation { outcome, max_sim_time, min_efficiency },
            hostile,
            power_cuts,
        })
    }

    /// Every scenario file in `dir`, sorted by name.
    pub fn load_dir(dir: &Path, fixtures: &FixtureCatalog) -> Result<Vec<Scenario>, ScenarioError> {
        let shown = dir.display().to_string();
        let entries = std::fs::read_dir(dir).map_err(|source| ScenarioError::Read { path: shown.clone(), source })?;
        let mut paths = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|source| ScenarioError::Read { path: shown.clone(), source })?;
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "toml") {
                paths.push(path);
            }
        }
        paths.sort();
        paths.iter().map(|p| Scenario::load(p, fixtures)).collect()
    }

    /// Sender nodes with `count` expanded, in node order.
    pub fn expanded_senders(&self) -> impl Iterator<Item = (String, &SenderSpec)> {
        self.senders.iter().flat_map(|s| {
            (0..s.count).map(move |k| (if s.count == 1 { s.name.clone() } else { format!("{}-{}", s.name, k + 1) }, s))
        })
    }
}

/// Errors in the shared `[link]` keys are reported without the direction
/// prefix the checker added, since the user wrote them once for both.
fn rename_both(error: ScenarioError, shared: bool) -> ScenarioError {
    match error {
        ScenarioError::Invalid { path, field, expected, found } if shared => {
            let field = field.replacen("link.data.", "link.", 1).replacen("link.status.", "link.", 1);
            ScenarioError::Invalid { path, field, expected, found }
        }
        other => other,
    }
}

fn parse_image(
    check: &Check<'_>,
    field: &str,
    image: &str,
    fixtures: &FixtureCatalog,
) -> Result<ImageRef, ScenarioError> {
    if let Some(bytes) = image.strip_prefix("synthetic:") {
        return match bytes.parse::<u32>() {
            Ok(n) if n <= 16 * 1024 * 1024 => Ok(ImageRef::Synthetic(n)),
            _ => Err(check.invalid(field, "synthetic:<bytes> with at most 16 MiB", format!("{image:?}"))),
        };
    }
    if fixtures.get(image).is_some() {
        Ok(ImageRef::Fixture(image.to_owned()))
    } else {
        let names = fixtures.names().collect::<Vec<_>>().join(", ");
        Err(check.invalid(
            field,
            format!("a fixture from {} ({names}) or synthetic:<bytes>", fixtures.manifest_path().display()),
            format!("{image:?}"),
        ))
    }
}

/// Turns a TOML error into `line L, column C: message`.
fn syntax_message(text: &str, error: &toml::de::Error) -> String {
    let message = error.message().trim_end_matches('.').to_owned();
    match error.span() {
        Some(span) => {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
            format!("line {line}, column {column}: {message}")
        }
        None => message,
    }
}
