//! The receiver's main loop: `nowcam_app::ReceiverNode` driven by the clock and the radio.

use embassy_futures::select::select;
use embassy_time::Timer;
use esp_println::println;
use nowcam_app::ReceiverNodeEvent;
use nowcam_esp_adapters::clock::{now, to_embassy};
use nowcam_esp_adapters::watchdog::{self, Watchdog};
use nowcam_esp_adapters::{radio_event, test_console};

use crate::{SharedJournal, SharedNode};

/// Polls the node whenever its deadline passes or the radio has news, and
/// at least every second to feed the watchdog, forever.
///
/// The lock is held only for one poll, so the HTTP tasks read the store
/// between polls. Every event goes to the HTTP server's journal too.
pub async fn run(node: &'static SharedNode, journal: &'static SharedJournal, mut watchdog: Watchdog) -> ! {
    loop {
        let deadline = {
            let mut node = node.lock().await;
            let polled_at = now();
            let deadline = node.poll(polled_at);
            while let Some(event) = node.pop_event() {
                journal.record(polled_at, &event);
                if let ReceiverNodeEvent::ImageStored { source, info, .. } = event {
                    test_console::image_stored(info.sequence, source);
                }
                report(event);
            }
            test_console::node_polled();
            deadline
        };
        watchdog.feed();
        select(Timer::at(watchdog::wake_by(deadline.map(to_embassy))), radio_event().wait()).await;
    }
}

fn report(event: ReceiverNodeEvent) {
    match event {
        ReceiverNodeEvent::ImageStored { source, info, legacy } => {
            let format = if legacy { " (legacy format)" } else { "" };
            println!("image {} from {source}: {} bytes{format}", info.sequence, info.len)
        }
        ReceiverNodeEvent::TransferFailed { source, session } => {
            println!("transfer {session:08x} from {source} failed")
        }
        ReceiverNodeEvent::Control { request, outcome } => {
            println!("camera control request {request}: {outcome:?}")
        }
        // Telemetry arrives every few seconds per camera; /status shows it.
        ReceiverNodeEvent::Telemetry { .. } => {}
    }
}
