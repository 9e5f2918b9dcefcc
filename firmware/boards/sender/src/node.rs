//! The sender's main loop: `nowcam_app::SenderNode` driven by the clock and the radio.

use embassy_futures::select::select;
use embassy_time::{Duration, Instant, Timer};
use esp_println::println;
use nowcam_app::{RateCosts, RateMode, SenderNodeConfig, SenderNodeEvent};
use nowcam_console::TransferOutcome;
use nowcam_esp_adapters::clock::{now, to_embassy};
use nowcam_esp_adapters::radio::BuildRate;
use nowcam_esp_adapters::watchdog::{self, Watchdog};
use nowcam_esp_adapters::{radio_event, test_console};
use nowcam_link::{airtime, CHIP_SEND_OVERHEAD_NS};
use nowcam_proto::auth::Key;
use nowcam_proto::sender::SendError;

use crate::SharedNode;

/// How long after boot a host has to speak before the sender sends on its own.
pub const HOST_WINDOW: Duration = Duration::from_secs(3);

/// How often the sender sends on its own, without a host.
const INTERVAL: nowcam_ports::Duration = nowcam_ports::Duration::from_secs(10);

/// Polls the node whenever its deadline passes or the radio (or the console)
/// has news, and at least every second to feed the watchdog, forever.
///
/// The lock is held only for one poll, so the console reads and writes the node between polls.
pub async fn run(node: &'static SharedNode, mut watchdog: Watchdog) -> ! {
    let sending_alone_from = Instant::now() + HOST_WINDOW;
    let mut sending_alone = false;
    loop {
        let deadline = {
            let mut node = node.lock().await;
            if !sending_alone && !test_console::host_attached() && Instant::now() >= sending_alone_from {
                // No host: open the radio to any receiver and send the fixture, as before the console.
                sending_alone = true;
                node.radio_mut().hold(false);
                node.set_capture_interval(Some(INTERVAL));
            } else if sending_alone && test_console::host_attached() {
                // A host spoke: from now on it decides when to send.
                sending_alone = false;
                node.set_capture_interval(None);
            }
            let now = now();
            node.poll(now);
            while let Some(event) = node.pop_event() {
                let now_ms = now.as_micros() / 1000;
                let retransmissions = node.stats().retransmissions;
                // Whether the host asked for another transfer after this one.
                let again = match event {
                    SenderNodeEvent::TransferStarted { session, len } => {
                        test_console::transfer_started(session, len, now_ms, retransmissions);
                        false
                    }
                    SenderNodeEvent::TransferDone { session, .. } => {
                        test_console::transfer_finished(session, TransferOutcome::Stored, now_ms, retransmissions)
                    }
                    SenderNodeEvent::TransferFailed { session, error } => {
                        test_console::transfer_finished(session, outcome(error), now_ms, retransmissions)
                    }
                    SenderNodeEvent::CaptureFailed(_) => {
                        test_console::stop_sending();
                        false
                    }
                    _ => false,
                };
                if again {
                    node.capture_now();
                }
                report(event);
            }
            test_console::node_polled();
            // After the events: a capture asked for above makes this "now".
            node.poll_at()
        };
        watchdog.feed();
        let waiting_for_host = !sending_alone && !test_console::host_attached();
        let deadline = match (deadline.map(to_embassy), waiting_for_host) {
            (Some(deadline), true) => Some(deadline.min(sending_alone_from)),
            (None, true) => Some(sending_alone_from),
            (deadline, false) => deadline,
        };
        select(Timer::at(watchdog::wake_by(deadline)), radio_event().wait()).await;
    }
}

/// The node's configuration: hop channels unless one is fixed (at build
/// time, or because frames travel over the console); capture only when
/// asked, by the host or by [`run`] when there is no host; authenticated
/// when a key was given at build time.
pub fn config(channel_fixed: bool, key: Option<Key>, rate: BuildRate) -> SenderNodeConfig {
    let mut config =
        SenderNodeConfig { hop_channels: !channel_fixed, capture_interval: None, ..SenderNodeConfig::default() };
    config.transfer.key = key;
    // A fixed rate is set once, before the first frame; none leaves
    // esp-radio's 1 Mbps. The controller weighs each rate as the simulator's
    // does: the broadcast airtime, or the chip's per-send cost where longer.
    config.rate = match rate {
        BuildRate::Radio => RateMode::Radio,
        BuildRate::Fixed(rate) => RateMode::Fixed(rate),
        BuildRate::Auto => RateMode::Auto(RateCosts::camera(|rate, frame_len| {
            airtime::broadcast_send_ns(rate, frame_len, CHIP_SEND_OVERHEAD_NS)
        })),
    };
    // With ESP-NOW encryption every frame goes unicast, so none is sent in the clear.
    config.broadcast_chunks = nowcam_esp_adapters::key::UNICAST_ENCRYPTION.is_none();
    config
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
        SenderNodeEvent::ReceiverLost { receiver } => {
            println!("receiver {receiver} stopped answering; looking for a receiver again")
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
