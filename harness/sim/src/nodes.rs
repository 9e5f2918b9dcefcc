//! The simulated adapters of the ports, and the legacy sender model.

use std::sync::Arc;

use nowcam_ports::camera::{CaptureError, ControlError, FrameSource};
use nowcam_ports::radio::{Radio, MAX_FRAME_LEN};
use nowcam_ports::telemetry::{TelemetrySample, TelemetrySource};
use nowcam_proto::legacy::LegacySender;
use nowcam_proto::time::{Duration, Instant};
use nowcam_proto::wire::control::{ControlVariable, FrameSize};
use nowcam_proto::MacAddress;

use crate::radio::SimRadio;

/// A camera that "captures" fixture images, one after another.
pub struct FixtureSource {
    images: Vec<Arc<[u8]>>,
    /// The image `frame` returns; `None` before the first capture.
    current: Option<usize>,
    next: usize,
    controls: Vec<(ControlVariable, i32)>,
    frame_size: FrameSize,
}

impl FixtureSource {
    pub fn new(images: Vec<Arc<[u8]>>, frame_size: FrameSize) -> FixtureSource {
        FixtureSource { images, current: None, next: 0, controls: Vec::new(), frame_size }
    }

    /// How many images were captured so far.
    pub fn captured(&self) -> usize {
        self.next
    }

    /// Whether every image has been captured.
    pub fn exhausted(&self) -> bool {
        self.next >= self.images.len()
    }
}

impl FrameSource for FixtureSource {
    fn capture(&mut self) -> Result<usize, CaptureError> {
        let index = self.next;
        let image = self.images.get(index).ok_or(CaptureError::NoImage)?;
        self.current = Some(index);
        self.next += 1;
        Ok(image.len())
    }

    fn frame(&self) -> &[u8] {
        self.current.and_then(|i| self.images.get(i)).map_or(&[], |image| image)
    }

    fn set_control(&mut self, variable: ControlVariable, value: i32) -> Result<(), ControlError> {
        match self.controls.iter_mut().find(|(v, _)| *v == variable) {
            Some(entry) => entry.1 = value,
            None => self.controls.push((variable, value)),
        }
        Ok(())
    }

    fn control(&self, variable: ControlVariable) -> Option<i32> {
        self.controls.iter().find(|(v, _)| *v == variable).map(|(_, value)| *value)
    }

    fn frame_size(&self) -> FrameSize {
        self.frame_size
    }
}

/// Health readings that never change.
#[derive(Debug, Clone, Copy)]
pub struct FixedTelemetry(pub TelemetrySample);

impl Default for FixedTelemetry {
    fn default() -> Self {
        FixedTelemetry(TelemetrySample { free_heap_bytes: 180_000, chip_temperature_centi_celsius: Some(4_150) })
    }
}

impl TelemetrySource for FixedTelemetry {
    fn sample(&mut self) -> TelemetrySample {
        self.0
    }
}

/// The seed project's sender (an AI-Thinker ESP32-CAM running the Arduino
/// sketch): images back to back, each with the seed's format and timing.
pub struct LegacyStation {
    radio: SimRadio,
    destination: MacAddress,
    images: Vec<Arc<[u8]>>,
    next_image: usize,
    sender: Option<LegacySender>,
    frames_sent: u64,
    retransmissions: u64,
    finished_at: Option<Instant>,
    buffer: [u8; MAX_FRAME_LEN],
}

impl LegacyStation {
    pub fn new(radio: SimRadio, destination: MacAddress, images: Vec<Arc<[u8]>>) -> LegacyStation {
        LegacyStation {
            radio,
            destination,
            images,
            next_image: 0,
            sender: None,
            frames_sent: 0,
            retransmissions: 0,
            finished_at: None,
            buffer: [0; MAX_FRAME_LEN],
        }
    }

    pub fn radio(&self) -> &SimRadio {
        &self.radio
    }

    pub fn radio_mut(&mut self) -> &mut SimRadio {
        &mut self.radio
    }

    /// When the last image's last frame was acknowledged by the MAC.
    pub fn finished_at(&self) -> Option<Instant> {
        self.finished_at
    }

    pub fn images_sent(&self) -> usize {
        self.next_image
    }

    pub fn frames_sent(&self) -> u64 {
        self.frames_sent + self.sender.as_ref().map_or(0, |s| u64::from(s.frames_sent()))
    }

    pub fn retransmissions(&self) -> u64 {
        self.retransmissions + self.sender.as_ref().map_or(0, |s| u64::from(s.retransmissions()))
    }

    pub fn poll(&mut self, now: Instant) -> Option<Instant> {
        while let Some(report) = self.radio.poll_send_report() {
            if let Some(sender) = &mut self.sender {
                sender.on_send_report(report.acknowledged);
            }
        }
        // The seed has no receive path: whatever arrives is dropped.
        let mut sink = [0u8; MAX_FRAME_LEN];
        while self.radio.receive(&mut sink).is_some() {}
        loop {
            if self.sender.as_ref().is_none_or(LegacySender::is_finished) {
                if let Some(done) = self.sender.take() {
                    self.frames_sent += u64::from(done.frames_sent());
                    self.retransmissions += u64::from(done.retransmissions());
                }
                let Some(image) = self.images.get(self.next_image) else {
                    if self.finished_at.is_none() {
                        self.finished_at = Some(now);
                    }
                    return None;
                };
                self.next_image += 1;
                self.sender = Some(LegacySender::seed(image.len() as u32, now));
            }
            let (Some(sender), Some(image)) = (&mut self.sender, self.images.get(self.next_image - 1)) else {
                return None;
            };
            match sender.poll_transmit(now, image, &mut self.buffer) {
                Some(len) => {
                    if self.radio.send(self.destination, &self.buffer[..len]).is_err() {
                        // The seed ignores a failed esp_now_send; its report never comes, so
                        // the frame counts as failed and is sent again after the gap.
                        sender.on_send_report(false);
                    }
                }
                None if sender.is_finished() => continue,
                None => return sender.poll_at(),
            }
        }
    }
}

/// CPU time a receiver spends on one received frame, on an ESP32-C3 at
/// 160 MHz: the Wi-Fi driver's receive path and esp-radio's callback copying
/// up to 250 bytes into its queue, the board's radio task moving it to the
/// node, then the node's parse, bitmap update and CRC-32 over up to 241
/// bytes. About 8,000 cycles all told; an estimate, not a measurement.
pub const RECEIVE_CPU_NS: u64 = 50_000;

/// How long a receiver's poll keeps it from reading the radio: the frames it
/// read, and the flash time the store was charged meanwhile
/// ([`nowcam_store::TimedFlash`], with the latencies of the scenario's flash
/// model).
///
/// The node calls the store synchronously, and esp-storage waits for every
/// flash operation to finish; meanwhile the driver keeps taking frames into
/// esp-radio's receive queue, which holds 10 and drops the rest. That is how
/// the receive queue overflows on the chip: air delivers a frame every 3 ms
/// at most, faster than the node reads only while it waits for flash.
pub fn receiver_busy_ns(frames_read: usize, flash: Duration) -> u64 {
    frames_read as u64 * RECEIVE_CPU_NS + flash.as_micros() * 1_000
}
