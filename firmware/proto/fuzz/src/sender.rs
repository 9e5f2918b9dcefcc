//! The `sender` target: a `Sender` fed any sequence of send reports,
//! refusals, frames from the receiver (well-formed ones for its session,
//! forged statuses and completions, raw bytes) and time: it never panics,
//! every frame it writes parses, every chunk it writes carries the image's
//! bytes at its offset, and once finished it writes nothing but an abort.

use nowcam_proto::sender::{Sender, SenderConfig, SenderState, Transmit};
use nowcam_proto::time::{Duration, Instant};
use nowcam_proto::wire::{AbortReason, CompletionResult, FrameRepr, StatusRepr, MAX_FRAME_LEN};

use crate::{image_bytes, Input};

/// Chunk capacity: 32 × 8 = 256 chunks, 61,696 bytes at 241.
const WORDS: usize = 8;

fn run(data: &[u8]) -> Option<()> {
    let mut input = Input::new(data);
    let len = usize::from(input.u16()?) % 40_000;
    let image = image_bytes(input.u32()?, 0, len);
    let config = SenderConfig { chunk_size: u16::from(input.u8()?).clamp(1, 241), ..SenderConfig::default() };
    let mut now = Instant::ZERO;
    let Ok(mut sender) = Sender::<WORDS>::new(config, input.u32()?, &image, now) else { return Some(()) };
    let session = sender.session();
    let chunk_size = usize::from(sender.offer().chunk_size);
    let mut buffer = [0u8; MAX_FRAME_LEN];
    let mut bitmap = [0u8; 32];

    loop {
        let op = input.u8()?;
        match op % 8 {
            0 | 1 => {
                let finished = sender.is_finished();
                let Some((written, transmit)) = sender.poll_transmit(now, &image, &mut buffer) else { continue };
                if finished {
                    assert_eq!(transmit, Transmit::Abort, "a finished sender writes only its abort");
                }
                let frame = FrameRepr::parse_bytes(&buffer[..written]).expect("the sender's frames parse");
                if let FrameRepr::Chunk(chunk) = frame {
                    assert_eq!(chunk.session, session);
                    let start = usize::from(chunk.index) * chunk_size;
                    assert_eq!(chunk.payload, &image[start..start + chunk.payload.len()], "a chunk carries the image");
                }
            }
            2 => sender.on_send_report(now, input.bool()?),
            3 => sender.on_send_refused(),
            4 => {
                // A status for this session (or another), any poll, any bitmap.
                let other = input.bool()?;
                let poll = input.u16()?;
                let lowest_missing = input.u16()?;
                let bytes = usize::from(input.u8()? % 33);
                for byte in bitmap.iter_mut().take(bytes) {
                    *byte = input.u8()?;
                }
                let status = StatusRepr {
                    session: if other { session ^ 1 } else { session },
                    poll,
                    lowest_missing,
                    bitmap: &bitmap[..bytes],
                };
                sender.handle(now, &FrameRepr::Status(status));
            }
            5 => {
                let result = match input.u8()? % 3 {
                    0 => CompletionResult::Stored,
                    1 => CompletionResult::CrcMismatch,
                    _ => CompletionResult::StoreFailed,
                };
                let frame = if input.bool()? {
                    FrameRepr::Completion { session, result }
                } else {
                    FrameRepr::Abort { session, reason: AbortReason::Cancelled }
                };
                sender.handle(now, &frame);
            }
            6 => {
                let len = usize::from(input.u8()?);
                if let Ok(frame) = FrameRepr::parse_bytes(input.bytes(len)) {
                    sender.handle(now, &frame);
                }
            }
            _ => {
                now += Duration::from_millis(u64::from(input.u8()?) * 4);
            }
        }
        // Issue 9: only the receiver's Completion of this transfer ends it, so
        // a sender that has sent nothing cannot be done (artifacts/sender/
        // keeps a forged Completion before the offer).
        if sender.state() == SenderState::Done {
            assert!(sender.stats().frames_sent > 0, "a transfer that sent nothing is done");
        }
    }
}

pub fn check(data: &[u8]) {
    run(data);
}
