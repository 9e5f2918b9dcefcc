//! The verdict every backend gives: each image judged from the bytes sent and
//! the bytes read back from the receiver's store, and the run judged against
//! the scenario's expectation.
//!
//! Architecture Invariant: this module knows no simulator type. Its inputs
//! are plain data (names, indices, byte slices, addresses, numbers, the
//! scenario's expectation), so the simulator, the board backend and the
//! Wokwi backend call the same functions and write the same reports.

use crate::fixtures::sha256_hex;
use crate::scenario::{Expectation, ExpectedOutcome};
use nowcam_proto::sender::SendError;
use nowcam_proto::time::Duration;
use nowcam_proto::wire::AbortReason;

/// What a sender reported about one image, before anything is read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SenderOutcome {
    /// The sender learned that the receiver stored it (or, for a sender
    /// without confirmations, it sent the whole image).
    Delivered,
    /// The sender's transfer failed; the text names the typed error.
    Failed(String),
    /// The run ended before the sender learned an outcome.
    Unfinished,
}

/// How one image ended, from the sender's outcome and the read-back bytes.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case", tag = "result")]
pub enum ImageResult {
    /// Delivered, and the bytes read back have the length and SHA-256 of the bytes sent.
    ByteExact,
    /// The receiver stored bytes whose length or SHA-256 differ from the bytes sent.
    Corrupt,
    /// The sender reported delivery, but nothing of it was read back from the receiver.
    Missing,
    /// The sender's transfer failed with this typed error.
    Failed { error: String },
    /// The run ended before the sender learned an outcome.
    Unfinished,
}

impl ImageResult {
    /// The result as report.json spells it.
    pub fn name(&self) -> &'static str {
        match self {
            ImageResult::ByteExact => "byte-exact",
            ImageResult::Corrupt => "corrupt",
            ImageResult::Missing => "missing",
            ImageResult::Failed { .. } => "failed",
            ImageResult::Unfinished => "unfinished",
        }
    }
}

/// One image of one sender, as report.json shows it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ImageRecord {
    pub sender: String,
    /// The image's index among the images this sender sends (repeats included), from 0.
    pub image: usize,
    /// Length of the bytes sent.
    pub bytes: usize,
    pub sha256_sent: String,
    /// Length of the bytes read back, when something was read back.
    pub bytes_received: Option<usize>,
    /// SHA-256 of the bytes read back, `None` when nothing was read back.
    pub sha256_received: Option<String>,
    /// The bytes read back have the length and SHA-256 of the bytes sent.
    pub byte_exact: bool,
    #[serde(flatten)]
    pub result: ImageResult,
    /// When the sender learned the outcome, in seconds from the start of the run.
    pub finished_s: Option<f64>,
}

/// Everything a backend observed about one image.
#[derive(Debug, Clone)]
pub struct ImageObservation<'a> {
    pub sender: &'a str,
    pub image: usize,
    pub sent: &'a [u8],
    pub outcome: SenderOutcome,
    /// The bytes read back from the receiver's store; `None` when it holds no such image.
    pub received: Option<&'a [u8]>,
    pub finished_s: Option<f64>,
}

/// Judges one image. `byte_exact` compares the length and SHA-256 of the
/// bytes sent with those of the bytes read back, never what the sender heard.
pub fn judge_image(observation: ImageObservation<'_>) -> ImageRecord {
    let ImageObservation { sender, image, sent, outcome, received, finished_s } = observation;
    let sha256_sent = sha256_hex(sent);
    let sha256_received = received.map(sha256_hex);
    let bytes_received = received.map(<[u8]>::len);
    let byte_exact = bytes_received == Some(sent.len()) && sha256_received.as_deref() == Some(sha256_sent.as_str());
    let result = match outcome {
        _ if received.is_some() && !byte_exact => ImageResult::Corrupt,
        SenderOutcome::Failed(error) => ImageResult::Failed { error },
        SenderOutcome::Unfinished => ImageResult::Unfinished,
        SenderOutcome::Delivered if byte_exact => ImageResult::ByteExact,
        SenderOutcome::Delivered => ImageResult::Missing,
    };
    ImageRecord {
        sender: sender.to_owned(),
        image,
        bytes: sent.len(),
        sha256_sent,
        bytes_received,
        sha256_received,
        byte_exact,
        result,
        finished_s,
    }
}

impl ImageRecord {
    /// Why this image is not a byte-exact delivery, naming the sender and the image; `None` when it is.
    pub fn problem(&self, time_limit: Duration) -> Option<String> {
        let what = format!("{} image {}", self.sender, self.image);
        match &self.result {
            ImageResult::ByteExact => None,
            ImageResult::Corrupt => Some(format!(
                "{what}: read back {} bytes with sha256 {}, sent {} bytes with sha256 {}",
                self.bytes_received.unwrap_or(0),
                self.sha256_received.as_deref().unwrap_or("-"),
                self.bytes,
                self.sha256_sent
            )),
            ImageResult::Missing => {
                Some(format!("{what}: the sender reported delivery but the receiver's store holds no such image"))
            }
            ImageResult::Failed { error } => Some(format!("{what}: failed: {error}")),
            ImageResult::Unfinished => Some(format!("{what}: not delivered within {time_limit}")),
        }
    }
}

/// The name of a typed sender error, as scenario expectations spell it.
pub fn error_name(error: SendError) -> String {
    match error {
        SendError::Refused(AbortReason::TooLarge) => "refused: too large".to_owned(),
        SendError::TimedOut => "timed out".to_owned(),
        other => other.to_string(),
    }
}

/// The images one sender sent, in order, and the address its frames come from.
#[derive(Debug, Clone)]
pub struct SentImages<'a> {
    pub source: [u8; 6],
    pub images: Vec<&'a [u8]>,
}

/// One image read back from a receiver's store, in the order the store committed them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadBack<'a> {
    pub source: [u8; 6],
    pub bytes: &'a [u8],
}

/// Read-back images assigned to the sender images they are.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attribution<'a> {
    /// Per sender (in the order given), per image: the bytes read back for it.
    pub received: Vec<Vec<Option<&'a [u8]>>>,
    /// Read-back images that belong to no sender image: an unknown source, or more images than it sent.
    pub unattributed: Vec<ReadBack<'a>>,
}

/// Assigns every read-back image to a sender by source address, and to one
/// of its images by order: the images a source stored follow the order it
/// sent them, but one it gave up on may be missing. So a stored image goes
/// to the first image not yet assigned whose bytes it equals; failing that
/// (it is corrupt), to the first one of the same length, else to the next one.
pub fn attribute<'a>(senders: &[SentImages<'_>], stored: &[ReadBack<'a>]) -> Attribution<'a> {
    let mut received: Vec<Vec<Option<&'a [u8]>>> = senders.iter().map(|s| vec![None; s.images.len()]).collect();
    let mut next = vec![0usize; senders.len()];
    let mut unattributed = Vec::new();
    for read in stored {
        let Some(index) = senders.iter().position(|s| s.source == read.source) else {
            unattributed.push(*read);
            continue;
        };
        let images = &senders[index].images;
        let rest = next[index]..images.len();
        let slot = rest
            .clone()
            .find(|&k| images[k] == read.bytes)
            .or_else(|| rest.clone().find(|&k| images[k].len() == read.bytes.len()))
            .or_else(|| rest.clone().next());
        match slot {
            Some(k) => {
                received[index][k] = Some(read.bytes);
                next[index] = k + 1;
            }
            None => unattributed.push(*read),
        }
    }
    Attribution { received, unattributed }
}

impl Attribution<'_> {
    /// One failure per read-back image that belongs to no sender image.
    pub fn failures(&self) -> Vec<String> {
        self.unattributed
            .iter()
            .map(|read| {
                let address: Vec<String> = read.source.iter().map(|b| format!("{b:02x}")).collect();
                format!(
                    "the receiver stored an image of {} bytes from {} that no sender image accounts for",
                    read.bytes.len(),
                    address.join(":")
                )
            })
            .collect()
    }
}

/// Judges a run against the scenario's expectation: every image's result,
/// then (only when those hold) the time and efficiency bounds. `elapsed_s`
/// is the run's time (virtual on the simulator); `efficiency` is 0 when
/// nothing was bounded. Returns one failure per unmet expectation, empty
/// when the run passed.
pub fn judge_expectation(
    expect: &Expectation,
    time_limit: Duration,
    images: &[ImageRecord],
    elapsed_s: f64,
    efficiency: f64,
) -> Vec<String> {
    let mut failures = Vec::new();
    match expect.outcome {
        ExpectedOutcome::ByteExact => failures.extend(images.iter().filter_map(|image| image.problem(time_limit))),
        ExpectedOutcome::RefusedTooLarge | ExpectedOutcome::TimedOut => {
            let wanted = expect.outcome.name();
            for image in images {
                let got = match &image.result {
                    _ if image.sha256_received.is_some() => "an image in the receiver's store".to_owned(),
                    ImageResult::Failed { error } if error == wanted => continue,
                    other => describe(other),
                };
                failures.push(format!("{} image {}: expected {wanted}, got {got}", image.sender, image.image));
            }
        }
    }
    if failures.is_empty() {
        if let Some(max) = expect.max_sim_time {
            if elapsed_s > max.as_secs_f64() {
                failures.push(format!("run time {elapsed_s:.3} s is over the bound of {:.3} s", max.as_secs_f64()));
            }
        }
        if let Some(min) = expect.min_efficiency {
            if efficiency < min {
                failures.push(format!("efficiency {efficiency:.3} is under the bound of {min}"));
            }
        }
    }
    failures
}

fn describe(result: &ImageResult) -> String {
    match result {
        ImageResult::ByteExact => "byte-exact delivery".to_owned(),
        ImageResult::Corrupt => "corrupt delivery".to_owned(),
        ImageResult::Missing => "a delivery the receiver's store does not hold".to_owned(),
        ImageResult::Failed { error } => error.clone(),
        ImageResult::Unfinished => "no outcome before the time limit".to_owned(),
    }
}
