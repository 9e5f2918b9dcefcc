//! Replaying a capture: every transfer in it, nowcam (v1 or v2 frames) or the seed's legacy
//! format (told apart by the first byte), reassembled by the protocol
//! crate's own receivers into the images the receiver would have stored.

use nowcam_proto::legacy::{looks_legacy, LegacyEvent, LegacyReceiver};
use nowcam_proto::memory::MemoryStore;
use nowcam_proto::receiver::{Receiver, ReceiverConfig, ReceiverEvent};
use nowcam_proto::time::{Duration, Instant};
use nowcam_proto::wire::MAX_FRAME_LEN;
use nowcam_proto::MacAddress;

use crate::capture::{CapturedFrame, Fate};
use crate::setup::TRANSFER_WORDS;

/// The format a replayed image arrived in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    Nowcam,
    Legacy,
}

/// One image found in a capture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayedImage {
    pub source: MacAddress,
    pub destination: MacAddress,
    pub format: Format,
    /// Capture time of the frame that completed it, in nanoseconds.
    pub time_ns: u64,
    pub bytes: Vec<u8>,
}

/// Finds and reassembles every transfer in `frames` (in capture order);
/// frames the capture marks as dropped by the link model are skipped.
pub fn replay(frames: &[CapturedFrame]) -> Vec<ReplayedImage> {
    // A replay takes what any receiver took: ESP-NOW v2 frames too.
    let config = ReceiverConfig {
        idle_timeout: Duration::from_secs(3600),
        max_frame_len: MAX_FRAME_LEN as u16,
        ..ReceiverConfig::default()
    };
    let mut receiver: Box<Receiver<usize, 16, TRANSFER_WORDS>> = Box::new(Receiver::new(config));
    let mut legacy: Vec<(MacAddress, LegacyReceiver<usize, TRANSFER_WORDS>)> = Vec::new();
    let mut store = MemoryStore::new();
    let mut reply = [0u8; MAX_FRAME_LEN];
    let mut images = Vec::new();
    for frame in frames.iter().filter(|f| f.fate != Fate::Dropped) {
        let now = Instant::from_micros(frame.time_ns / 1_000);
        let stored = if looks_legacy(&frame.body) {
            let position = match legacy.iter().position(|(source, _)| *source == frame.source) {
                Some(position) => position,
                None => {
                    legacy.push((
                        frame.source,
                        LegacyReceiver::new(config.limits.max_image_len, Duration::from_secs(3600)),
                    ));
                    legacy.len() - 1
                }
            };
            matches!(legacy[position].1.handle(now, &frame.body, &mut store), Ok(LegacyEvent::Stored { .. }))
                .then_some(Format::Legacy)
        } else {
            match receiver.handle(now, frame.source, &frame.body, &mut store, &mut reply) {
                Ok(handled) => matches!(handled.event, Some(ReceiverEvent::Stored { .. })).then_some(Format::Nowcam),
                Err(_) => None,
            }
        };
        if let Some(format) = stored {
            if let Some((bytes, _)) = store.committed.pop() {
                images.push(ReplayedImage {
                    source: frame.source,
                    destination: frame.destination,
                    format,
                    time_ns: frame.time_ns,
                    bytes,
                });
            }
        }
    }
    images
}
