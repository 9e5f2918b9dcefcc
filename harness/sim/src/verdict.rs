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
    /// The SHA-256 of `sent` when the caller has it already; hashed here otherwise.
    pub sent_sha256: Option<&'a str>,
    pub outcome: SenderOutcome,
    /// The bytes read back from the receiver's store; `None` when it holds no such image.
    pub received: Option<&'a [u8]>,
    pub finished_s: Option<f64>,
}

/// Judges one image. `byte_exact` compares the length and SHA-256 of the
/// bytes sent with those of the bytes read back, never what the sender heard.
pub fn judge_image(observation: ImageObservation<'_>) -> ImageRecord {
    let ImageObservation { sender, image, sent, sent_sha256, outcome, received, finished_s } = observation;
    let sha256_sent = sent_sha256.map_or_else(|| sha256_hex(sent), str::to_owned);
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
/// (it is corrupt), to the one of the same length that differs in the fewest
/// bytes (a damaged image stays closest to its original), else to the next one.
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
            .or_else(|| {
                rest.clone()
                    .filter(|&k| images[k].len() == read.bytes.len())
                    .min_by_key(|&k| images[k].iter().zip(read.bytes).filter(|(a, b)| a != b).count())
            })
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

#[cfg(test)]
mod tests {
    use super::*;

    const CAMERA: [u8; 6] = [2, 0, 0, 0, 0, 1];
    const OTHER: [u8; 6] = [2, 0, 0, 0, 0, 2];

    fn observe<'a>(sent: &'a [u8], outcome: SenderOutcome, received: Option<&'a [u8]>) -> ImageRecord {
        judge_image(ImageObservation {
            sender: "cam",
            image: 3,
            sent,
            sent_sha256: None,
            outcome,
            received,
            finished_s: Some(1.5),
        })
    }

    fn byte_exact() -> Expectation {
        Expectation { outcome: ExpectedOutcome::ByteExact, max_sim_time: None, min_efficiency: None }
    }

    #[test]
    fn the_same_bytes_read_back_are_byte_exact() {
        let image = observe(b"jpeg bytes", SenderOutcome::Delivered, Some(b"jpeg bytes"));
        assert_eq!(image.result, ImageResult::ByteExact);
        assert!(image.byte_exact);
        assert_eq!(image.sha256_received.as_deref(), Some(image.sha256_sent.as_str()));
        assert_eq!(image.bytes_received, Some(10));
        assert_eq!(image.problem(Duration::from_secs(1)), None);
    }

    #[test]
    fn different_bytes_of_the_same_length_are_corrupt_whatever_the_sender_heard() {
        let image = observe(b"jpeg bytes", SenderOutcome::Delivered, Some(b"jpeg bytez"));
        assert_eq!(image.result, ImageResult::Corrupt);
        assert!(!image.byte_exact);
        assert_ne!(image.sha256_received.as_deref(), Some(image.sha256_sent.as_str()));
        let problem = image.problem(Duration::from_secs(1)).unwrap();
        assert!(problem.starts_with("cam image 3: read back 10 bytes with sha256 "), "{problem}");
    }

    #[test]
    fn a_short_read_back_is_corrupt_with_its_length() {
        let image = observe(b"jpeg bytes", SenderOutcome::Delivered, Some(b"jpeg"));
        assert_eq!(image.result, ImageResult::Corrupt);
        assert_eq!((image.bytes, image.bytes_received), (10, Some(4)));
        assert!(!image.byte_exact);
    }

    #[test]
    fn nothing_read_back_is_never_byte_exact() {
        let delivered = observe(b"jpeg", SenderOutcome::Delivered, None);
        assert_eq!(delivered.result, ImageResult::Missing);
        assert_eq!((delivered.byte_exact, delivered.sha256_received.clone()), (false, None));
        let failed = observe(b"jpeg", SenderOutcome::Failed("timed out".into()), None);
        assert_eq!(failed.result, ImageResult::Failed { error: "timed out".into() });
        let unfinished = observe(b"jpeg", SenderOutcome::Unfinished, None);
        assert_eq!(unfinished.result, ImageResult::Unfinished);
        assert!(!unfinished.byte_exact);
    }

    #[test]
    fn a_corrupt_image_is_attributed_to_its_sender_and_index() {
        let (a0, a1, b0, b1) = (&b"a0-image"[..], &b"a1-image"[..], &b"b0-picture"[..], &b"b1-picture"[..]);
        let senders =
            [SentImages { source: CAMERA, images: vec![a0, a1] }, SentImages { source: OTHER, images: vec![b0, b1] }];
        // The other camera's image 0 never arrived; its image 1 arrived with one byte changed.
        let stored = [
            ReadBack { source: CAMERA, bytes: a0 },
            ReadBack { source: OTHER, bytes: b"b1-pictura" },
            ReadBack { source: CAMERA, bytes: a1 },
        ];
        let attribution = attribute(&senders, &stored);
        assert_eq!(attribution.received, vec![vec![Some(a0), Some(a1)], vec![None, Some(&b"b1-pictura"[..])]]);
        assert!(attribution.unattributed.is_empty());
        let image = judge_image(ImageObservation {
            sender: "other",
            image: 1,
            sent: b1,
            sent_sha256: None,
            outcome: SenderOutcome::Delivered,
            received: attribution.received[1][1],
            finished_s: None,
        });
        assert_eq!(image.result, ImageResult::Corrupt);
        let failures = judge_expectation(&byte_exact(), Duration::from_secs(1), &[image], 1.0, 0.0);
        assert_eq!(failures.len(), 1);
        assert!(failures[0].starts_with("other image 1: read back 10 bytes"), "{failures:?}");
    }

    #[test]
    fn an_image_given_up_on_leaves_a_gap_and_the_next_one_keeps_its_index() {
        let images = vec![&b"first"[..], &b"second"[..], &b"third"[..]];
        let senders = [SentImages { source: CAMERA, images }];
        let stored = [ReadBack { source: CAMERA, bytes: b"third" }];
        let attribution = attribute(&senders, &stored);
        assert_eq!(attribution.received, vec![vec![None, None, Some(&b"third"[..])]]);
    }

    #[test]
    fn an_image_from_an_unknown_source_or_one_too_many_is_unattributed() {
        let senders = [SentImages { source: CAMERA, images: vec![&b"only"[..]] }];
        let stored = [
            ReadBack { source: CAMERA, bytes: b"only" },
            ReadBack { source: CAMERA, bytes: b"only" },
            ReadBack { source: OTHER, bytes: b"stray" },
        ];
        let attribution = attribute(&senders, &stored);
        assert_eq!(attribution.unattributed.len(), 2);
        let failures = attribution.failures();
        assert_eq!(
            failures[1],
            "the receiver stored an image of 5 bytes from 02:00:00:00:00:02 that no sender image accounts for"
        );
    }

    #[test]
    fn the_expectation_is_judged_from_plain_data() {
        let delivered = observe(b"jpeg", SenderOutcome::Delivered, Some(b"jpeg"));
        let refused = observe(b"jpeg", SenderOutcome::Failed("refused: too large".into()), None);
        let mut expect = byte_exact();
        expect.max_sim_time = Some(Duration::from_secs(2));
        expect.min_efficiency = Some(0.5);
        let limit = Duration::from_secs(10);
        assert!(judge_expectation(&expect, limit, std::slice::from_ref(&delivered), 1.0, 0.9).is_empty());
        assert_eq!(
            judge_expectation(&expect, limit, std::slice::from_ref(&delivered), 3.0, 0.9),
            ["run time 3.000 s is over the bound of 2.000 s"]
        );
        assert_eq!(
            judge_expectation(&expect, limit, std::slice::from_ref(&delivered), 1.0, 0.25),
            ["efficiency 0.250 is under the bound of 0.5"]
        );
        let unfinished = observe(b"jpeg", SenderOutcome::Unfinished, None);
        assert_eq!(
            judge_expectation(&expect, limit, &[unfinished], 1.0, 0.9),
            ["cam image 3: not delivered within 10.000000s"]
        );

        let refuse =
            Expectation { outcome: ExpectedOutcome::RefusedTooLarge, max_sim_time: None, min_efficiency: None };
        assert!(judge_expectation(&refuse, limit, std::slice::from_ref(&refused), 1.0, 0.0).is_empty());
        assert_eq!(
            judge_expectation(&refuse, limit, &[delivered], 1.0, 0.0),
            ["cam image 3: expected refused: too large, got an image in the receiver's store"]
        );
    }

    #[test]
    fn report_json_gives_every_image_field() {
        let json = serde_json::to_value(observe(b"jpeg", SenderOutcome::Failed("timed out".into()), None)).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "sender": "cam",
                "image": 3,
                "bytes": 4,
                "sha256_sent": sha256_hex(b"jpeg"),
                "bytes_received": null,
                "sha256_received": null,
                "byte_exact": false,
                "result": "failed",
                "error": "timed out",
                "finished_s": 1.5,
            })
        );
        let json = serde_json::to_value(observe(b"jpeg", SenderOutcome::Delivered, Some(b"jpeg"))).unwrap();
        assert_eq!(
            (&json["result"], &json["byte_exact"]),
            (&serde_json::json!("byte-exact"), &serde_json::json!(true))
        );
        assert_eq!(json["sha256_received"], json["sha256_sent"]);
    }
}
