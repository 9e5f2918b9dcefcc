//! A radio whose frames travel as console messages, for boards without air
//! between them (Wokwi, virtual boards): the host relays the frames.
//!
//! It keeps esp-radio's queue discipline, so the application sees the same
//! back-pressure as on a chip: `send` queues up to `TX` frames (the one on
//! the air included) and answers `QueueFull` past that; one frame is on the
//! air at a time, until its report arrives; received frames past `RX` wait
//! in no queue and are dropped.

use heapless::Deque;
use nowcam_ports::radio::{Radio, Received, SendError, SendHandle, SendReport, MAX_FRAME_LEN};
use nowcam_proto::MacAddress;

use crate::message::{BoardMessage, SERIAL_RADIO_FRAME_LEN};

/// The largest frame a serial radio carries: ESP-NOW v1's, so that a frame
/// fits one console message (the queue slots are sized by it).
const FRAME_LEN: usize = SERIAL_RADIO_FRAME_LEN;
const _: () = assert!(FRAME_LEN <= u8::MAX as usize, "a frame's length is kept in a u8");

/// A frame with its bytes inline, so that the queues never allocate.
#[derive(Debug, Clone, Copy)]
struct Frame {
    /// The handle of a frame to send; unused for a received one.
    handle: SendHandle,
    source: MacAddress,
    destination: MacAddress,
    rssi: i8,
    len: u8,
    bytes: [u8; FRAME_LEN],
}

impl Frame {
    fn new(handle: SendHandle, source: MacAddress, destination: MacAddress, rssi: i8, data: &[u8]) -> Frame {
        let mut bytes = [0; FRAME_LEN];
        bytes[..data.len()].copy_from_slice(data);
        // The callers refuse frames past FRAME_LEN (250), so the length fits a u8.
        Frame { handle, source, destination, rssi, len: data.len() as u8, bytes }
    }

    fn data(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

/// A frame for the console writer to send as [`BoardMessage::Transmit`] (id 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Transmit<'a> {
    pub handle: u32,
    pub destination: [u8; 6],
    pub data: &'a [u8],
}

impl<'a> From<Transmit<'a>> for BoardMessage<'a> {
    fn from(transmit: Transmit<'a>) -> BoardMessage<'a> {
        BoardMessage::Transmit { handle: transmit.handle, destination: transmit.destination, data: transmit.data }
    }
}

/// Why the radio did not take a frame the host delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum DeliverError {
    /// the receive queue is full, so the frame was dropped
    QueueFull,
    /// the frame is longer than 250 bytes
    FrameTooLong,
}

impl core::fmt::Display for DeliverError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            DeliverError::QueueFull => "the receive queue is full, so the frame was dropped",
            DeliverError::FrameTooLong => "the frame is longer than 250 bytes",
        })
    }
}

impl core::error::Error for DeliverError {}

/// Why the radio did not take a send report from the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ReportError {
    /// no frame with this handle is on the air
    NotInFlight,
}

impl core::fmt::Display for ReportError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            ReportError::NotInFlight => "no frame with this handle is on the air",
        })
    }
}

impl core::error::Error for ReportError {}

/// An ESP-NOW radio over the test console.
///
/// The board's console task moves frames: it writes what
/// [`SerialRadio::next_transmit`] hands out, and passes
/// [`crate::HostMessage::RadioDeliver`] to [`SerialRadio::deliver`] and
/// [`crate::HostMessage::RadioReport`] to [`SerialRadio::report`].
#[derive(Debug, Clone)]
pub struct SerialRadio<const TX: usize, const RX: usize> {
    address: MacAddress,
    channel: u8,
    next_handle: u32,
    transmit: Deque<Frame, TX>,
    /// Whether the head of `transmit` has gone to the console writer.
    in_flight: bool,
    reports: Deque<SendReport, TX>,
    received: Deque<Frame, RX>,
    frames_sent: u32,
    frames_received: u32,
    receive_dropped: u32,
    send_refused: u32,
    send_failed: u32,
}

impl<const TX: usize, const RX: usize> SerialRadio<TX, RX> {
    pub const fn new(address: MacAddress, channel: u8) -> Self {
        SerialRadio {
            address,
            channel,
            next_handle: 0,
            transmit: Deque::new(),
            in_flight: false,
            reports: Deque::new(),
            received: Deque::new(),
            frames_sent: 0,
            frames_received: 0,
            receive_dropped: 0,
            send_refused: 0,
            send_failed: 0,
        }
    }

    /// The oldest queued frame, for the console writer, when no other frame
    /// is on the air; it stays on the air until [`SerialRadio::report`].
    pub fn next_transmit(&mut self) -> Option<Transmit<'_>> {
        if self.in_flight {
            return None;
        }
        let frame = self.transmit.front()?;
        self.in_flight = true;
        Some(Transmit { handle: frame.handle.0, destination: frame.destination.0, data: frame.data() })
    }

    /// The frame on the air, again, for a console writer that could not write it.
    pub fn in_flight(&self) -> Option<Transmit<'_>> {
        let frame = self.transmit.front().filter(|_| self.in_flight)?;
        Some(Transmit { handle: frame.handle.0, destination: frame.destination.0, data: frame.data() })
    }

    /// The host's report for the frame on the air; the next frame may then go.
    pub fn report(&mut self, handle: u32, acknowledged: bool) -> Result<(), ReportError> {
        match self.transmit.front() {
            Some(frame) if self.in_flight && frame.handle.0 == handle => {}
            _ => return Err(ReportError::NotInFlight),
        }
        self.finish(acknowledged);
        Ok(())
    }

    /// Gives up the frame on the air as unacknowledged, for when the host
    /// is gone or has started over (a new [`crate::HostMessage::Hello`]) and
    /// its report will never come.
    pub fn abandon_in_flight(&mut self) {
        if self.in_flight {
            self.finish(false);
        }
    }

    fn finish(&mut self, acknowledged: bool) {
        self.in_flight = false;
        if let Some(frame) = self.transmit.pop_front() {
            self.frames_sent = self.frames_sent.saturating_add(1);
            if !acknowledged {
                self.send_failed = self.send_failed.saturating_add(1);
            }
            // At most TX frames are queued, so at most TX reports wait; when
            // the application never polls them, the oldest gives way.
            if self.reports.is_full() {
                self.reports.pop_front();
            }
            let _ = self.reports.push_back(SendReport { handle: frame.handle, acknowledged });
        }
    }

    /// A frame the host delivers; past `RX` waiting frames it is dropped and counted.
    pub fn deliver(
        &mut self,
        source: [u8; 6],
        destination: [u8; 6],
        rssi: i8,
        data: &[u8],
    ) -> Result<(), DeliverError> {
        if data.len() > FRAME_LEN {
            self.receive_dropped = self.receive_dropped.saturating_add(1);
            return Err(DeliverError::FrameTooLong);
        }
        let frame = Frame::new(SendHandle(0), MacAddress(source), MacAddress(destination), rssi, data);
        if self.received.push_back(frame).is_err() {
            self.receive_dropped = self.receive_dropped.saturating_add(1);
            return Err(DeliverError::QueueFull);
        }
        self.frames_received = self.frames_received.saturating_add(1);
        Ok(())
    }

    /// Frames whose send report came, acknowledged or not.
    pub fn frames_sent(&self) -> u32 {
        self.frames_sent
    }

    /// Frames delivered into the receive queue.
    pub fn frames_received(&self) -> u32 {
        self.frames_received
    }

    /// Delivered frames dropped: the receive queue was full, or the frame too long.
    pub fn receive_dropped(&self) -> u32 {
        self.receive_dropped
    }

    /// Sends refused because the transmit queue was full.
    pub fn send_refused(&self) -> u32 {
        self.send_refused
    }

    /// Sends whose report said not acknowledged.
    pub fn send_failed(&self) -> u32 {
        self.send_failed
    }
}

impl<const TX: usize, const RX: usize> Radio for SerialRadio<TX, RX> {
    fn address(&self) -> MacAddress {
        self.address
    }

    fn send(&mut self, destination: MacAddress, frame: &[u8]) -> Result<SendHandle, SendError> {
        if frame.len() > FRAME_LEN {
            return Err(SendError::FrameTooLong);
        }
        if self.transmit.is_full() {
            self.send_refused = self.send_refused.saturating_add(1);
            return Err(SendError::QueueFull);
        }
        let handle = SendHandle(self.next_handle);
        self.next_handle = self.next_handle.wrapping_add(1);
        let _ = self.transmit.push_back(Frame::new(handle, self.address, destination, 0, frame));
        Ok(handle)
    }

    fn poll_send_report(&mut self) -> Option<SendReport> {
        self.reports.pop_front()
    }

    fn receive(&mut self, buffer: &mut [u8; MAX_FRAME_LEN]) -> Option<Received> {
        let frame = self.received.pop_front()?;
        let len = usize::from(frame.len);
        buffer[..len].copy_from_slice(frame.data());
        Some(Received { source: frame.source, destination: frame.destination, len, rssi: Some(frame.rssi) })
    }

    fn channel(&self) -> u8 {
        self.channel
    }

    fn set_channel(&mut self, channel: u8) -> Result<(), SendError> {
        if !(1..=14).contains(&channel) {
            return Err(SendError::Driver);
        }
        self.channel = channel;
        Ok(())
    }
}
