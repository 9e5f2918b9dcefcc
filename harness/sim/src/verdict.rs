//! Judging a run: every image against the bytes sent, and the run against
//! the scenario's expectation.

use nowcam_link::airtime;
use nowcam_proto::sender::SendError;
use nowcam_proto::wire::AbortReason;
use nowcam_proto::MacAddress;

use crate::capture::CapturedFrame;
use crate::engine::{station_address, AirCounters, Engine};
use crate::run::{RunOptions, SimStation};
use crate::scenario::ExpectedOutcome;
use crate::setup::Prepared;

/// What one sender did with one image.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case", tag = "result")]
pub enum ImageResult {
    /// The receiver stored it and its bytes match.
    ByteExact,
    /// The receiver stored bytes that differ from the ones sent.
    Corrupt,
    /// The sender's transfer failed with this typed error.
    Failed { error: String },
    /// The run ended before the image was sent or confirmed.
    Unfinished,
}

/// One image of one sender.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ImageRecord {
    pub sender: String,
    pub bytes: usize,
    #[serde(flatten)]
    pub result: ImageResult,
    /// Virtual time at which the sender learned the outcome, in seconds.
    pub finished_s: Option<f64>,
}

/// The result of one run of one scenario with one seed.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RunResult {
    pub scenario: String,
    pub seed: u64,
    pub passed: bool,
    /// Why the run failed its expectation, empty when it passed.
    pub failures: Vec<String>,
    #[serde(flatten)]
    pub air: AirCounters,
    pub retransmissions: u64,
    pub images: Vec<ImageRecord>,
    /// From the start to the moment the last sender learned its last outcome.
    pub sim_time_s: f64,
    /// The airtime lower bound of every image delivered byte-exact, at the data direction's mean loss.
    pub lower_bound_s: f64,
    /// `lower_bound_s / sim_time_s` (0 when nothing was bounded).
    pub efficiency: f64,
    #[serde(skip)]
    pub capture: Option<Vec<CapturedFrame>>,
    #[serde(skip)]
    pub received: Vec<ReceivedImage>,
}

/// An image a receiver stored, with its bytes (kept only when asked for).
#[derive(Debug, Clone)]
pub struct ReceivedImage {
    pub source: MacAddress,
    pub bytes: Vec<u8>,
}

impl RunResult {
    pub fn images_byte_exact(&self) -> usize {
        self.images.iter().filter(|i| i.result == ImageResult::ByteExact).count()
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

impl Prepared {
    pub(crate) fn judge(
        &self,
        seed: u64,
        engine: &mut Engine<SimStation>,
        end_ns: u64,
        options: RunOptions,
    ) -> RunResult {
        let scenario = &self.scenario;
        let mut images = Vec::new();
        let mut retransmissions = 0u64;
        let mut failures = Vec::new();
        let mut received = Vec::new();
        let corrupt_from: Vec<MacAddress> = engine
            .stations()
            .filter_map(|s| match s {
                SimStation::Receiver(r) => Some(r.corrupt.clone()),
                _ => None,
            })
            .flatten()
            .collect();
        for (index, station) in engine.stations().enumerate() {
            match station {
                SimStation::Sender(s) => {
                    retransmissions += u64::from(s.node.stats().retransmissions);
                    let corrupt = corrupt_from.iter().filter(|a| **a == station_address(index)).count();
                    for k in 0..s.image_count {
                        let (mut result, finished) =
                            s.outcomes.get(k).cloned().unwrap_or((ImageResult::Unfinished, None));
                        // The sender only knows the receiver's CRC-32 said yes; the bytes are checked here.
                        if result == ImageResult::ByteExact && k < corrupt {
                            result = ImageResult::Corrupt;
                        }
                        let bytes = self.images[index].get(k).map_or(0, |i| i.len());
                        images.push(ImageRecord {
                            sender: s.name.clone(),
                            bytes,
                            result,
                            finished_s: finished.map(|f| f.as_micros() as f64 / 1e6),
                        });
                    }
                }
                SimStation::Legacy(l) => {
                    retransmissions += l.node.retransmissions();
                    let address = station_address(index);
                    let receiver = engine.station(self.scenario.expanded_senders().count() + l.receiver);
                    let (stored, corrupt) = match receiver {
                        SimStation::Receiver(r) => (
                            r.stored.iter().filter(|(a, _)| *a == address).count(),
                            r.corrupt.iter().filter(|a| **a == address).count(),
                        ),
                        _ => (0, 0),
                    };
                    for k in 0..l.image_count {
                        let result = if k < stored.saturating_sub(corrupt) {
                            ImageResult::ByteExact
                        } else if k < stored {
                            ImageResult::Corrupt
                        } else {
                            ImageResult::Unfinished
                        };
                        let finished = (k + 1 == l.image_count).then(|| l.node.finished_at()).flatten();
                        let bytes = self.images[index].get(k).map_or(0, |i| i.len());
                        images.push(ImageRecord {
                            sender: l.name.clone(),
                            bytes,
                            result,
                            finished_s: finished.map(|f| f.as_micros() as f64 / 1e6),
                        });
                    }
                }
                SimStation::Receiver(r) => {
                    if options.keep_images {
                        received.extend(r.kept.iter().cloned());
                    }
                }
            }
        }

        let sim_time_s = end_ns as f64 / 1e9;
        // Only delivered images are bounded: a refused offer has no transfer time to compare.
        let loss = self.link.a_to_b.mean_loss();
        let lower_bound_s = images
            .iter()
            .filter(|i| i.result == ImageResult::ByteExact)
            .map(|i| airtime::lower_bound_at(self.link.phy_rate, i.bytes as u64, loss).unwrap_or(0))
            .sum::<u64>() as f64
            / 1e9;
        let efficiency = if sim_time_s > 0.0 && lower_bound_s > 0.0 { lower_bound_s / sim_time_s } else { 0.0 };
        let expect = &scenario.expect;
        match expect.outcome {
            ExpectedOutcome::ByteExact => {
                for (k, image) in images.iter().enumerate() {
                    match &image.result {
                        ImageResult::ByteExact => {}
                        ImageResult::Corrupt => failures
                            .push(format!("{} image {}: received bytes differ from the bytes sent", image.sender, k)),
                        ImageResult::Failed { error } => {
                            failures.push(format!("{} image {}: failed: {}", image.sender, k, error))
                        }
                        ImageResult::Unfinished => failures.push(format!(
                            "{} image {}: not delivered within {} of virtual time",
                            image.sender, k, scenario.time_limit
                        )),
                    }
                }
            }
            ExpectedOutcome::RefusedTooLarge | ExpectedOutcome::TimedOut => {
                let wanted = expect.outcome.name();
                for image in &images {
                    match &image.result {
                        ImageResult::Failed { error } if error == wanted => {}
                        other => failures.push(format!("{}: expected {wanted}, got {}", image.sender, describe(other))),
                    }
                }
            }
        }
        if failures.is_empty() {
            if let Some(max) = expect.max_sim_time {
                if sim_time_s > max.as_secs_f64() {
                    failures.push(format!(
                        "simulated time {sim_time_s:.3} s is over the bound of {:.3} s",
                        max.as_secs_f64()
                    ));
                }
            }
            if let Some(min) = expect.min_efficiency {
                if efficiency < min {
                    failures.push(format!("efficiency {efficiency:.3} is under the bound of {min}"));
                }
            }
        }
        RunResult {
            scenario: scenario.name.clone(),
            seed,
            passed: failures.is_empty(),
            failures,
            air: engine.counters(),
            retransmissions,
            images,
            sim_time_s,
            lower_bound_s,
            efficiency,
            capture: options.capture.then(|| engine.take_capture()),
            received,
        }
    }
}

fn describe(result: &ImageResult) -> String {
    match result {
        ImageResult::ByteExact => "byte-exact delivery".to_owned(),
        ImageResult::Corrupt => "corrupt delivery".to_owned(),
        ImageResult::Failed { error } => error.clone(),
        ImageResult::Unfinished => "no outcome before the time limit".to_owned(),
    }
}
