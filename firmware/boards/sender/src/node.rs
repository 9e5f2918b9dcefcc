//! The sender's main loop.

use esp_println::println;
use nowcam_esp_adapters::{radio_event, EspNowRadio, EspTelemetry, FixtureSource};
use nowcam_ports::radio::MAX_FRAME_LEN;
use nowcam_ports::Radio;

pub async fn run(
    mut radio: EspNowRadio,
    _source: FixtureSource,
    _telemetry: EspTelemetry,
    _seed: u64,
    _channel: Option<u8>,
) -> ! {
    let mut buffer = [0; MAX_FRAME_LEN];
    let mut received = 0u32;
    loop {
        radio_event().wait().await;
        while radio.receive(&mut buffer).is_some() {
            received += 1;
        }
        while radio.poll_send_report().is_some() {}
        println!("{received} frames received");
    }
}
