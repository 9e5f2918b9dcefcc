//! The camera's main loop: prepare a frame when one is due, poll the sender
//! node, report its events, sleep until its next deadline or the next radio
//! event.

use embassy_futures::select::select;
use embassy_time::Timer;
use esp_println::println;
use nowcam_app::{SenderNode, SenderNodeConfig, SenderNodeEvent};
use nowcam_esp_adapters::clock::{now, to_embassy};
use nowcam_esp_adapters::watchdog::{self, Watchdog};
use nowcam_esp_adapters::{radio_event, EspNowRadio, EspTelemetry};
use nowcam_proto::auth::Key;

use crate::camera::CameraSource;

/// Polls the node, and awaits the camera whenever the node wants a frame,
/// so that the radio pump keeps running during a capture; feeds the
/// watchdog at least every second.
pub async fn run(
    radio: EspNowRadio,
    source: CameraSource,
    telemetry: EspTelemetry,
    seed: u64,
    channel: Option<u8>,
    key: Option<Key>,
    mut watchdog: Watchdog,
) -> ! {
    // ESP-NOW v2's 1470-byte frames to a receiver that announces it takes them, 250 to others.
    let mut config = SenderNodeConfig {
        hop_channels: channel.is_none(),
        max_frame_len: nowcam_esp_adapters::chip::ESP_NOW_FRAME_LEN,
        ..SenderNodeConfig::default()
    };
    config.transfer.key = key;
    // With ESP-NOW encryption every frame goes unicast, so none is sent in the clear.
    config.broadcast_chunks = nowcam_esp_adapters::key::UNICAST_ENCRYPTION.is_none();
    let mut node: SenderNode<EspNowRadio, CameraSource, EspTelemetry, { nowcam_esp_adapters::chip::SENDER_WORDS }> =
        SenderNode::new(config, radio, source, telemetry, seed);
    loop {
        if node.capture_due(now()) {
            node.source_mut().prepare().await;
            watchdog.feed();
        }
        node.poll(now());
        while let Some(event) = node.pop_event() {
            report(event);
        }
        watchdog.feed();
        let deadline = node.poll_at().map(to_embassy);
        select(radio_event().wait(), Timer::at(watchdog::wake_by(deadline))).await;
    }
}

fn report(event: SenderNodeEvent) {
    match event {
        SenderNodeEvent::TransferDone { session, len, started, finished } => {
            let micros = finished.as_micros().saturating_sub(started.as_micros()).max(1);
            let kilobytes_per_second = u64::from(len) * 1_000_000 / micros / 1024;
            println!(
                "image sent: session {session:08x}, {len} bytes in {} ms ({kilobytes_per_second} KB/s)",
                micros / 1000
            );
        }
        other => println!("{other:?}"),
    }
}
