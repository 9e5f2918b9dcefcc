//! A fake receiver node behind [`ReceiverAccess`]: three small stored
//! images from two cameras, and camera control that records every request
//! and answers it when the connection goes idle.

use nowcam_app::receiver::{ControlRequestError, ReceiverNodeStats};
use nowcam_app::{CameraInfo, ControlOutcome, ReceiverNodeEvent};
use nowcam_http::{OwnStatus, ReceiverAccess};
use nowcam_ports::{ImageInfo, Instant, MacAddress, StoreError, TelemetrySample};
use nowcam_proto::wire::control::ControlVariable;
use nowcam_proto::wire::{ControlCommand, ControlStatus, TelemetryRepr};

/// The two cameras heard from.
pub const CAMERAS: [MacAddress; 2] = [MacAddress([0x02, 0x6e, 0x63, 0, 0, 1]), MacAddress([0x02, 0x6e, 0x63, 0, 0, 2])];

/// The stored images' sequence numbers, lengths and cameras: one shorter
/// than a piece of [`nowcam_http::PIECE`] bytes, two longer.
const IMAGES: [(u32, u32, usize); 3] = [(7, 37, 0), (8, 1500, 1), (9, 2100, 0)];

/// One call of [`ReceiverAccess::request_control`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ControlCall {
    pub camera: MacAddress,
    pub command: ControlCommand,
    pub variable: ControlVariable,
    pub value: i32,
}

pub struct FakeReceiver {
    /// Oldest first.
    images: Vec<(ImageInfo, Vec<u8>)>,
    cameras: Vec<CameraInfo>,
    calls: Vec<ControlCall>,
    /// Requests sent and not yet answered: their ids and what they asked.
    unanswered: Vec<(u16, ControlVariable, i32)>,
}

impl FakeReceiver {
    pub fn new() -> Self {
        let images = IMAGES.iter().map(|&(sequence, len, _)| {
            let bytes = image_bytes(sequence, len);
            (ImageInfo { sequence, len, crc32: sequence.wrapping_mul(0x9e37_79b9) }, bytes)
        });
        let telemetry = TelemetryRepr {
            uptime_ms: 61_000,
            free_heap_bytes: 120_000,
            chip_temperature_centi_celsius: Some(4_150),
            rssi: Some(-52),
            frames_sent: 900,
            retransmissions: 4,
        };
        let camera = |address, telemetry| CameraInfo {
            address,
            last_heard: Instant::from_micros(0),
            rssi: Some(-50),
            telemetry,
            images: 2,
            legacy: false,
        };
        FakeReceiver {
            images: images.collect(),
            cameras: vec![camera(CAMERAS[0], Some(telemetry)), camera(CAMERAS[1], None)],
            calls: Vec::new(),
            unanswered: Vec::new(),
        }
    }

    /// The events that stored the images, for the journal.
    pub fn stored_events(&self) -> impl Iterator<Item = ReceiverNodeEvent> + '_ {
        self.images.iter().zip(IMAGES).map(|((info, _), (_, _, camera))| ReceiverNodeEvent::ImageStored {
            source: CAMERAS[camera],
            info: *info,
            legacy: false,
        })
    }

    /// The stored images as they were put in, oldest first.
    pub fn originals() -> Vec<(u32, Vec<u8>)> {
        IMAGES.iter().map(|&(sequence, len, _)| (sequence, image_bytes(sequence, len))).collect()
    }

    /// Every control request the handlers sent.
    pub fn calls(&self) -> &[ControlCall] {
        &self.calls
    }

    /// Answers every request sent so far, as a camera would: in turn an
    /// acceptance, a refusal and no answer (the node's timeout).
    pub fn answer(&mut self) -> Vec<ReceiverNodeEvent> {
        self.unanswered
            .drain(..)
            .map(|(request, variable, value)| {
                let outcome = match request % 3 {
                    0 => ControlOutcome::Answered { status: ControlStatus::Ok, variable, value },
                    1 => ControlOutcome::Answered { status: ControlStatus::OutOfRange, variable, value },
                    _ => ControlOutcome::TimedOut,
                };
                ReceiverNodeEvent::Control { request, outcome }
            })
            .collect()
    }
}

impl Default for FakeReceiver {
    fn default() -> Self {
        FakeReceiver::new()
    }
}

/// A JPEG's start and end markers around bytes that differ per image.
fn image_bytes(sequence: u32, len: u32) -> Vec<u8> {
    let mut bytes: Vec<u8> = (0..len).map(|at| (at.wrapping_mul(31) ^ sequence) as u8).collect();
    let n = bytes.len();
    bytes[..2].copy_from_slice(&[0xff, 0xd8]);
    bytes[n - 2..].copy_from_slice(&[0xff, 0xd9]);
    bytes
}

impl ReceiverAccess for FakeReceiver {
    fn newest_image(&self) -> Option<ImageInfo> {
        self.images.last().map(|(info, _)| *info)
    }

    fn images(&self, out: &mut [ImageInfo]) -> usize {
        let mut count = 0;
        for (slot, (info, _)) in out.iter_mut().zip(self.images.iter().rev()) {
            *slot = *info;
            count += 1;
        }
        count
    }

    fn read_image(&mut self, sequence: u32, offset: u32, buffer: &mut [u8]) -> Result<usize, StoreError> {
        let (_, bytes) = self.images.iter().find(|(info, _)| info.sequence == sequence).ok_or(StoreError::NotFound)?;
        let rest = bytes.get(offset as usize..).ok_or(StoreError::OutOfBounds)?;
        let count = rest.len().min(buffer.len());
        buffer[..count].copy_from_slice(&rest[..count]);
        Ok(count)
    }

    fn cameras(&self) -> &[CameraInfo] {
        &self.cameras
    }

    fn own_status(&mut self) -> OwnStatus {
        OwnStatus {
            address: MacAddress([0x02, 0x6e, 0x63, 0, 0, 0x10]),
            channel: 6,
            telemetry: TelemetrySample { free_heap_bytes: 150_000, chip_temperature_centi_celsius: None },
            stats: ReceiverNodeStats { images_stored: IMAGES.len() as u32, ..ReceiverNodeStats::default() },
            active_transfers: 0,
        }
    }

    fn request_control(
        &mut self,
        _now: Instant,
        camera: MacAddress,
        command: ControlCommand,
        variable: ControlVariable,
        value: i32,
    ) -> Result<u16, ControlRequestError> {
        let request = self.calls.len() as u16;
        self.calls.push(ControlCall { camera, command, variable, value });
        self.unanswered.push((request, variable, value));
        Ok(request)
    }
}
