//! The simulated radio: the `Radio` port over queues the event loop fills and drains.

use std::collections::VecDeque;
use std::rc::Rc;

use nowcam_chips::Capacities;
use nowcam_ports::radio::{
    PhyRate, Radio, Received, SendError, SendHandle, SendReport, MAX_FRAME_LEN, V1_MAX_FRAME_LEN,
};
use nowcam_proto::MacAddress;

/// A frame; its bytes, sized to the frame, are shared by the copies of it
/// the engine queues for each station that gets it, so that moving a frame
/// through the queues never copies its bytes.
#[derive(Clone)]
pub(crate) struct Frame {
    pub source: MacAddress,
    pub destination: MacAddress,
    pub bytes: Rc<[u8]>,
    /// 0 for a frame a node sent; otherwise what a hostile station sent it
    /// as (`crate::hostile::HostileKind::tag`), so that the radios can count them.
    pub origin: u8,
    /// The rate set for the destination when the frame was queued; `None`:
    /// none was, and the frame goes at the link's configured rate.
    pub rate: Option<PhyRate>,
}

impl Frame {
    pub fn body(&self) -> &[u8] {
        &self.bytes
    }
}

pub(crate) struct Queued {
    pub handle: SendHandle,
    pub frame: Frame,
}

/// An ESP-NOW radio in the simulator, with the queues of the chip build.
///
/// `send` queues at most `radio_send_queue` frames besides the
/// `sends_in_flight` on the air, and answers `QueueFull` past that, as the
/// board's send queue does. The engine puts the next frame on the air only
/// after the send report of the one before. Received frames wait in a queue
/// of `radio_receive_queue` (esp-radio's ESP-NOW receive queue) until the
/// node reads them; a frame arriving at a full queue is dropped and counted.
///
/// The radio sends and takes frames up to its frame size: 250 bytes
/// (ESP-NOW v1) unless [`SimRadio::with_max_frame_len`] says more (v2, up to
/// 1470). A longer send is refused (`FrameTooLong`); a longer frame from
/// the air is dropped and counted, as a v1 chip drops a v2 frame.
///
/// A rate set for a peer ([`Radio::set_rate`]) goes with every frame queued
/// for it afterwards; frames to a peer without one go at the link's
/// configured rate (the run's `phy_rate`).
pub struct SimRadio {
    address: MacAddress,
    channel: u8,
    max_frame_len: usize,
    too_long: u64,
    send_limit: usize,
    receive_limit: usize,
    next_handle: u32,
    pub(crate) transmit: VecDeque<Queued>,
    /// Whether the head of `transmit` is on the air.
    pub(crate) on_air: bool,
    pub(crate) reports: VecDeque<SendReport>,
    received: VecDeque<Frame>,
    pub(crate) refused: u64,
    dropped: u64,
    /// Frames heard on the channel by a station in monitor mode (see `Engine::set_monitor`).
    sniffed: VecDeque<Frame>,
    /// How many more frames `receive` hands out before it answers `None`
    /// (`None`: no limit), so that a station can see each frame's effect.
    reveal: Option<usize>,
    /// The origin of the last frame `receive` handed out, until taken.
    last_origin: Option<u8>,
    /// Per origin tag: frames that arrived, and frames dropped at the full receive queue.
    arrived_by_origin: [u64; ORIGINS],
    dropped_by_origin: [u64; ORIGINS],
    /// The rate set for each peer (the broadcast address included), as esp-radio keeps per peer.
    rates: Vec<(MacAddress, PhyRate)>,
}

/// Origin tags the radios count: 0 (a node's own frame) and the hostile kinds.
pub(crate) const ORIGINS: usize = 8;

/// The most frames a monitoring radio keeps before its station reads them; older ones are lost.
const SNIFFED_LIMIT: usize = 64;

impl SimRadio {
    pub fn new(address: MacAddress, channel: u8, capacities: Capacities) -> SimRadio {
        let send_limit = capacities.radio_send_queue + capacities.sends_in_flight;
        SimRadio {
            address,
            channel,
            max_frame_len: V1_MAX_FRAME_LEN,
            too_long: 0,
            send_limit,
            receive_limit: capacities.radio_receive_queue,
            next_handle: 0,
            transmit: VecDeque::with_capacity(send_limit),
            on_air: false,
            reports: VecDeque::with_capacity(send_limit),
            received: VecDeque::with_capacity(capacities.radio_receive_queue),
            refused: 0,
            dropped: 0,
            sniffed: VecDeque::new(),
            reveal: None,
            last_origin: None,
            arrived_by_origin: [0; ORIGINS],
            dropped_by_origin: [0; ORIGINS],
            rates: Vec::new(),
        }
    }

    /// The radio with frames up to `len` bytes (250 to 1470; clamped).
    pub fn with_max_frame_len(mut self, len: usize) -> SimRadio {
        self.max_frame_len = len.clamp(V1_MAX_FRAME_LEN, MAX_FRAME_LEN);
        self
    }

    /// The largest frame the radio sends and takes.
    pub fn max_frame_len(&self) -> usize {
        self.max_frame_len
    }

    /// Frames from the air dropped for being longer than the radio's frame size.
    pub fn dropped_too_long(&self) -> u64 {
        self.too_long
    }

    /// Sends a frame that claims to come from `source`: a hostile station's
    /// forgery, tagged with `origin` so the receiving radios count it.
    pub(crate) fn send_as(
        &mut self,
        source: MacAddress,
        destination: MacAddress,
        frame: &[u8],
        origin: u8,
    ) -> Result<SendHandle, SendError> {
        let handle = self.send(destination, frame)?;
        if let Some(queued) = self.transmit.back_mut() {
            queued.frame.source = source;
            queued.frame.origin = origin;
        }
        Ok(handle)
    }

    /// Forgets every frame waiting to be read (the node lost its power).
    pub(crate) fn clear_received(&mut self) {
        self.received.clear();
    }

    /// Frames waiting to be sent, the one on the air included.
    pub(crate) fn queued(&self) -> usize {
        self.transmit.len()
    }

    /// Takes back the frames queued after the first `keep` (never the one on the air).
    pub(crate) fn unsend(&mut self, keep: usize) {
        let keep = keep.max(usize::from(self.on_air));
        self.transmit.truncate(keep);
    }

    /// A copy of a frame on the channel, for a station in monitor mode.
    pub(crate) fn sniff(&mut self, frame: Frame) {
        if self.sniffed.len() >= SNIFFED_LIMIT {
            self.sniffed.pop_front();
        }
        self.sniffed.push_back(frame);
    }

    /// The oldest frame heard in monitor mode.
    pub(crate) fn take_sniffed(&mut self) -> Option<Frame> {
        self.sniffed.pop_front()
    }

    /// Lets `receive` hand out at most `frames` more frames (`None`: all).
    pub(crate) fn reveal(&mut self, frames: Option<usize>) {
        self.reveal = frames;
    }

    /// The origin tag of the last frame `receive` handed out, once.
    pub(crate) fn take_last_origin(&mut self) -> Option<u8> {
        self.last_origin.take()
    }

    /// Frames with this origin tag that arrived, and that the full receive queue dropped.
    pub(crate) fn origin_counts(&self, origin: u8) -> (u64, u64) {
        let index = usize::from(origin).min(ORIGINS - 1);
        (self.arrived_by_origin[index], self.dropped_by_origin[index])
    }

    /// The rate set for `peer`, if any.
    pub fn rate(&self, peer: MacAddress) -> Option<PhyRate> {
        self.rates.iter().find(|(address, _)| *address == peer).map(|(_, rate)| *rate)
    }

    /// How many sends were refused because the queue was full.
    pub fn refused(&self) -> u64 {
        self.refused
    }

    /// How many received frames were dropped because the receive queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Received frames waiting for the node.
    pub fn waiting(&self) -> usize {
        self.received.len()
    }

    /// Whether a frame waits for the air that is not on it yet.
    pub(crate) fn wants_air(&self) -> bool {
        !self.on_air && !self.transmit.is_empty()
    }

    /// A frame arrives from the air; returns false (and counts it) when the
    /// receive queue is full or the frame is longer than the radio takes.
    pub(crate) fn deliver(&mut self, frame: Frame) -> bool {
        let origin = usize::from(frame.origin).min(ORIGINS - 1);
        self.arrived_by_origin[origin] += 1;
        if frame.body().len() > self.max_frame_len {
            self.too_long += 1;
            return false;
        }
        if self.received.len() >= self.receive_limit {
            self.dropped += 1;
            self.dropped_by_origin[origin] += 1;
            return false;
        }
        self.received.push_back(frame);
        true
    }
}

impl Radio for SimRadio {
    fn address(&self) -> MacAddress {
        self.address
    }

    fn send(&mut self, destination: MacAddress, frame: &[u8]) -> Result<SendHandle, SendError> {
        if frame.len() > self.max_frame_len {
            return Err(SendError::FrameTooLong);
        }
        if self.transmit.len() >= self.send_limit {
            self.refused += 1;
            return Err(SendError::QueueFull);
        }
        let handle = SendHandle(self.next_handle);
        self.next_handle = self.next_handle.wrapping_add(1);
        self.transmit.push_back(Queued {
            handle,
            frame: Frame {
                source: self.address,
                destination,
                bytes: frame.into(),
                origin: 0,
                rate: self.rate(destination),
            },
        });
        Ok(handle)
    }

    fn poll_send_report(&mut self) -> Option<SendReport> {
        self.reports.pop_front()
    }

    fn may_have_frames(&self) -> bool {
        !self.received.is_empty()
    }

    fn receive(&mut self, buffer: &mut [u8; MAX_FRAME_LEN]) -> Option<Received> {
        if self.reveal == Some(0) {
            return None;
        }
        let frame = self.received.pop_front()?;
        if let Some(left) = &mut self.reveal {
            *left -= 1;
        }
        self.last_origin = Some(frame.origin);
        let len = frame.body().len();
        buffer[..len].copy_from_slice(frame.body());
        Some(Received { source: frame.source, destination: frame.destination, len, rssi: Some(-60) })
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

    fn set_rate(&mut self, peer: MacAddress, rate: PhyRate) -> Result<(), SendError> {
        match self.rates.iter_mut().find(|(address, _)| *address == peer) {
            Some(entry) => entry.1 = rate,
            None => self.rates.push((peer, rate)),
        }
        Ok(())
    }
}
