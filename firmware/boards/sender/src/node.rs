//! The sender's main loop: `nowcam_app::SenderNode` driven by the clock and the radio.

use embassy_futures::select::select;
use embassy_time::Timer;
use esp_println::println;
use nowcam_app::{SenderNode, SenderNodeConfig, SenderNodeEvent};
use nowcam_esp_adapters::clock::{now, to_embassy};
use nowcam_esp_adapters::{radio_event, EspNowRadio, EspTelemetry, FixtureSource};

pub type Node = SenderNode<EspNowRadio, FixtureSource, EspTelemetry, { nowcam_esp_adapters::chip::SENDER_WORDS }>;

/// Polls the node whenever its deadline passes or the radio has news, forever.
pub async fn run(node: &mut Node) -> ! {
    loop {
        let deadline = node.poll(now());
        while let Some(event) = node.pop_event() {
            report(event);
        }
        match deadline {
            Some(deadline) => {
                select(Timer::at(to_embassy(deadline)), radio_event().wait()).await;
            }
            None => radio_event().wait().await,
        }
    }
}

/// The node's configuration: hop channels unless one was fixed at build time.
pub fn config(channel_fixed: bool) -> SenderNodeConfig {
    SenderNodeConfig { hop_channels: !channel_fixed, ..SenderNodeConfig::default() }
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
