//! The sender's main loop: `nowcam_app::SenderNode` driven by the clock and the radio.

use embassy_futures::select::select;
use embassy_time::{Duration, Instant, Timer};
use esp_println::println;
use nowcam_app::{SenderNodeConfig, SenderNodeEvent};
use nowcam_console::TransferOutcome;
use nowcam_esp_adapters::clock::{now, to_embassy};
use nowcam_esp_adapters::{radio_event, test_console};
use nowcam_proto::sender::SendError;

use crate::SharedNode;

/// How long after boot a host has to speak before the sender sends on its own.
pub const HOST_WINDOW: Duration = Duration::from_secs(3);

/// How often the sender sends on its own, without a host.
const INTERVAL: Duration = Duration::from_secs(10);

/// Polls the node whenever its deadline passes or the radio (or the console) has news, forever.
///
/// The lock is held only for one poll, so the console reads and writes the node between polls.
pub async fn run(node: &'static SharedNode) -> ! {
    let mut next_own_capture = Instant::now() + HOST_WINDOW;
    loop {
        let (deadline, poll_again) = {
            let mut node = node.lock().await;
            let mut capture = false;
            if !test_console::host_attached() && Instant::now() >= next_own_capture {
                // No host: open the radio to any receiver and send the fixture, as before the console.
                node.radio_mut().hold(false);
                capture = node.transfer().is_none();
                next_own_capture += INTERVAL;
            }
            if capture {
                node.capture_now();
            }
            let now = now();
            let deadline = node.poll(now);
            let mut poll_again = false;
            while let Some(event) = node.pop_event() {
                let now_ms = now.as_micros() / 1000;
                let retransmissions = node.stats().retransmissions;
                match event {
                    SenderNodeEvent::TransferStarted { session, len } => {
                        test_console::transfer_started(session, len, now_ms, retransmissions)
                    }
                    SenderNodeEvent::TransferDone { session, .. } => {
                        let again =
                            test_console::transfer_finished(session, TransferOutcome::Stored, now_ms, retransmissions);
                        if again {
                            node.capture_now();
                            poll_again = true;
                        }
                    }
                    SenderNodeEvent::TransferFailed { session, error } => {
                        let again = test_console::transfer_finished(session, outcome(error), now_ms, retransmissions);
                        if again {
                            node.capture_now();
                            poll_again = true;
                        }
                    }
                    SenderNodeEvent::CaptureFailed(_) => test_console::stop_sending(),
                    _ => {}
                }
                report(event);
            }
            test_console::node_polled();
            (deadline, poll_again)
        };
        if poll_again {
            continue;
        }
        let own_capture = (!test_console::host_attached()).then_some(next_own_capture);
        let wake = match (deadline.map(to_embassy), own_capture) {
            (Some(deadline), Some(own)) => Some(deadline.min(own)),
            (deadline, own) => deadline.or(own),
        };
        match wake {
            Some(at) => {
                select(Timer::at(at), radio_event().wait()).await;
            }
            None => radio_event().wait().await,
        }
    }
}

/// The node's configuration: hop channels unless one is fixed (at build
/// time, or because frames travel over the console); capture only when
/// asked, by the host or by [`run`] when there is no host.
pub fn config(channel_fixed: bool) -> SenderNodeConfig {
    SenderNodeConfig { hop_channels: !channel_fixed, capture_interval: None, ..SenderNodeConfig::default() }
}

fn outcome(error: SendError) -> TransferOutcome {
    match error {
        SendError::Refused(_) => TransferOutcome::Refused,
        SendError::TimedOut => TransferOutcome::TimedOut,
        SendError::Chunker(_) | SendError::CrcMismatch | SendError::StoreFailed => TransferOutcome::Failed,
    }
}

fn report(event: SenderNodeEvent) {
    match event {
        SenderNodeEvent::ReceiverFound { receiver, channel } => {
            println!("receiver {receiver} found on channel {channel}")
        }
        SenderNodeEvent::TransferStarted { session, len } => {
            println!("transfer {session:08x}: sending {len} bytes")
        }
        SenderNodeEvent::TransferDone { session, len, started, finished } => {
            let millis = finished.saturating_since(started).as_millis();
            println!("transfer {session:08x}: {len} bytes confirmed in {millis} ms")
        }
        SenderNodeEvent::TransferFailed { session, error } => {
            println!("transfer {session:08x} failed: {error}")
        }
        SenderNodeEvent::CaptureFailed(error) => println!("capture failed: {error}"),
        SenderNodeEvent::Control { variable, status } => {
            println!("camera control {variable:?}: {status:?}")
        }
    }
}
