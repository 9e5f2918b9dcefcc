//! The camera's main loop: poll the sender node, report its events, sleep
//! until its next deadline or the next radio event.

use embassy_futures::select::select;
use embassy_time::Timer;
use esp_println::println;
use nowcam_app::{SenderNode, SenderNodeConfig, SenderNodeEvent};
use nowcam_esp_adapters::clock::{now, to_embassy};
use nowcam_esp_adapters::{radio_event, EspNowRadio, EspTelemetry};

use crate::camera::CameraSource;

pub async fn run(
    radio: EspNowRadio,
    source: CameraSource,
    telemetry: EspTelemetry,
    seed: u64,
    channel: Option<u8>,
) -> ! {
    let config = SenderNodeConfig { hop_channels: channel.is_none(), ..SenderNodeConfig::default() };
    let mut node: SenderNode<EspNowRadio, CameraSource, EspTelemetry, { nowcam_esp_adapters::chip::SENDER_WORDS }> =
        SenderNode::new(config, radio, source, telemetry, seed);
    loop {
        let next = node.poll(now());
        while let Some(event) = node.pop_event() {
            report(event);
        }
        match next {
            Some(at) => {
                select(radio_event().wait(), Timer::at(to_embassy(at))).await;
            }
            None => radio_event().wait().await,
        }
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
