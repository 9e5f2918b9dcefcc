//! Replaying a capture: every transfer in it, nowcam v1 or the seed's legacy
//! format (told apart by the first byte), reassembled by the protocol
//! crate's own receivers into the images the receiver would have stored.

use nowcam_proto::legacy::{looks_legacy, LegacyEvent, LegacyReceiver};
use nowcam_proto::receiver::{Receiver, ReceiverConfig, ReceiverEvent, TransferStore};
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

/// Slots in memory: the host's [`TransferStore`].
#[derive(Default)]
struct MemoryStore {
    slots: Vec<Option<Vec<u8>>>,
    committed: Vec<Vec<u8>>,
}

impl TransferStore for MemoryStore {
    type Slot = usize;
    type Error = ();

    fn begin(&mut self, len: u32) -> Result<usize, ()> {
        self.slots.push(Some(vec![0; len as usize]));
        Ok(self.slots.len() - 1)
    }

    fn write_at(&mut self, slot: usize, offset: u32, data: &[u8]) -> Result<(), ()> {
        let buffer = self.slots.get_mut(slot).and_then(Option::as_mut).ok_or(())?;
        let start = offset as usize;
        buffer.get_mut(start..start + data.len()).ok_or(())?.copy_from_slice(data);
        Ok(())
    }

    fn read_at(&mut self, slot: usize, offset: u32, out: &mut [u8]) -> Result<usize, ()> {
        let buffer = self.slots.get(slot).and_then(Option::as_ref).ok_or(())?;
        let rest = buffer.get(offset as usize..).ok_or(())?;
        let n = rest.len().min(out.len());
        out[..n].copy_from_slice(&rest[..n]);
        Ok(n)
    }

    fn commit(&mut self, slot: usize, _crc32: u32) -> Result<(), ()> {
        let buffer = self.slots.get_mut(slot).and_then(Option::take).ok_or(())?;
        self.committed.push(buffer);
        Ok(())
    }

    fn abandon(&mut self, slot: usize) {
        if let Some(entry) = self.slots.get_mut(slot) {
            *entry = None;
        }
    }
}

/// Finds and reassembles every transfer in `frames` (in capture order);
/// frames the capture marks as dropped by the link model are skipped.
pub fn replay(frames: &[CapturedFrame]) -> Vec<ReplayedImage> {
    let config = ReceiverConfig { idle_timeout: Duration::from_secs(3600), ..ReceiverConfig::default() };
    let mut receiver: Box<Receiver<usize, 16, TRANSFER_WORDS>> = Box::new(Receiver::new(config));
    let mut legacy: Vec<(MacAddress, LegacyReceiver<usize, TRANSFER_WORDS>)> = Vec::new();
    let mut store = MemoryStore::default();
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
            if let Some(bytes) = store.committed.pop() {
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
