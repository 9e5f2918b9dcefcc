//! What the HTTP API reads from and asks of a receiver node.

use nowcam_app::receiver::{ControlRequestError, ReceiverNodeStats};
use nowcam_app::{CameraInfo, ReceiverNode};
use nowcam_ports::{ImageInfo, ImageStore, Instant, MacAddress, Radio, StoreError, TelemetrySample, TelemetrySource};
use nowcam_proto::wire::control::ControlVariable;
use nowcam_proto::wire::ControlCommand;

/// The node's images, cameras, telemetry and camera control, as the
/// handlers use them. [`ReceiverNode`] implements it; a composition root
/// whose node sits inside a type of its own forwards to it.
pub trait ReceiverAccess {
    /// The newest committed image.
    fn newest_image(&self) -> Option<ImageInfo>;
    /// Committed images, newest first, into `out`; returns how many.
    fn images(&self, out: &mut [ImageInfo]) -> usize;
    /// Reads part of a committed image; 0 at its end.
    fn read_image(&mut self, sequence: u32, offset: u32, buffer: &mut [u8]) -> Result<usize, StoreError>;
    /// The cameras heard from (online or not).
    fn cameras(&self) -> &[CameraInfo];
    /// This node's address, channel, health and counters.
    fn own_status(&mut self) -> OwnStatus;
    /// Sends a camera-control request; the answer arrives as a node event.
    fn request_control(
        &mut self,
        now: Instant,
        camera: MacAddress,
        command: ControlCommand,
        variable: ControlVariable,
        value: i32,
    ) -> Result<u16, ControlRequestError>;
}

/// The receiver's own state for `/status` and `/metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OwnStatus {
    pub address: MacAddress,
    pub channel: u8,
    pub telemetry: TelemetrySample,
    pub stats: ReceiverNodeStats,
    /// Transfers being received now.
    pub active_transfers: u8,
}

impl<R: Radio, S: ImageStore, T: TelemetrySource, const TRANSFERS: usize, const WORDS: usize> ReceiverAccess
    for ReceiverNode<R, S, T, TRANSFERS, WORDS>
{
    fn newest_image(&self) -> Option<ImageInfo> {
        self.store().newest()
    }

    fn images(&self, out: &mut [ImageInfo]) -> usize {
        self.store().list(out)
    }

    fn read_image(&mut self, sequence: u32, offset: u32, buffer: &mut [u8]) -> Result<usize, StoreError> {
        self.store_mut().read_at(sequence, offset, buffer)
    }

    fn cameras(&self) -> &[CameraInfo] {
        ReceiverNode::cameras(self)
    }

    fn own_status(&mut self) -> OwnStatus {
        OwnStatus {
            address: self.radio().address(),
            channel: self.radio().channel(),
            telemetry: self.own_telemetry(),
            stats: self.stats(),
            active_transfers: self.active_transfers().count() as u8,
        }
    }

    fn request_control(
        &mut self,
        now: Instant,
        camera: MacAddress,
        command: ControlCommand,
        variable: ControlVariable,
        value: i32,
    ) -> Result<u16, ControlRequestError> {
        ReceiverNode::request_control(self, now, camera, command, variable, value)
    }
}
