//! The ESP-NOW radio port over esp-radio.
//!
//! esp-radio's sender tracks one send at a time (one status flag, one
//! waker), while the port promises a bounded queue and a report per frame.
//! So the port is split in two: [`EspNowRadio`], owned by the node, only
//! touches queues and never waits; [`RadioPump`], run in its own embassy
//! task, moves frames between those queues and the driver, one send at a
//! time, and turns each send status into a [`SendReport`]. Both signal
//! [`radio_event`] so the node's loop wakes when there is something to read.

use core::sync::atomic::{AtomicU32, Ordering};

use embassy_futures::select::{select, Either};
use embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex;
use embassy_sync::channel::Channel;
use embassy_sync::signal::Signal;
use esp_radio::esp_now::{EspNow, EspNowManager, EspNowReceiver, EspNowSender, EspNowWifiInterface, PeerInfo};
use nowcam_ports::radio::MAX_FRAME_LEN;
use nowcam_ports::{MacAddress, Radio, Received, SendError, SendHandle, SendReport};

/// Frames the node may queue before `send` answers [`SendError::QueueFull`].
///
/// Small on purpose: the protocol paces itself by the queue, and a deep
/// queue only hides loss behind latency (the driver has 32 buffers of its own).
/// The depth is the chip build's, from `nowcam-chips`, which the simulator models.
pub const TX_QUEUE_DEPTH: usize = crate::CAPACITIES.radio_send_queue;

/// Frames received but not yet read by the node; newer frames are dropped past it.
///
/// Deeper than esp-radio's own receive queue (`CAPACITIES.radio_receive_queue`),
/// which the pump drains as frames arrive, so that queue is the one that overflows first.
pub const RX_QUEUE_DEPTH: usize = 16;

/// Reports kept for the node; the oldest is dropped past it.
const REPORT_QUEUE_DEPTH: usize = 2 * TX_QUEUE_DEPTH;

struct TxFrame {
    handle: SendHandle,
    destination: [u8; 6],
    len: usize,
    data: [u8; MAX_FRAME_LEN],
}

struct RxFrame {
    source: [u8; 6],
    destination: [u8; 6],
    rssi: i8,
    len: usize,
    data: [u8; MAX_FRAME_LEN],
}

static TX_QUEUE: Channel<CriticalSectionRawMutex, TxFrame, TX_QUEUE_DEPTH> = Channel::new();
static REPORTS: Channel<CriticalSectionRawMutex, SendReport, REPORT_QUEUE_DEPTH> = Channel::new();
static RX_QUEUE: Channel<CriticalSectionRawMutex, RxFrame, RX_QUEUE_DEPTH> = Channel::new();
static EVENT: Signal<CriticalSectionRawMutex, ()> = Signal::new();
static RX_DROPPED: AtomicU32 = AtomicU32::new(0);
static REPORTS_DROPPED: AtomicU32 = AtomicU32::new(0);

/// Signalled whenever a frame or a send report is waiting for the node.
pub fn radio_event() -> &'static Signal<CriticalSectionRawMutex, ()> {
    &EVENT
}

/// Frames dropped because the node did not read them in time, or because
/// they were longer than an ESP-NOW v1 frame.
pub fn received_frames_dropped() -> u32 {
    RX_DROPPED.load(Ordering::Relaxed)
}

/// Send reports dropped because the node did not read them in time.
pub fn send_reports_dropped() -> u32 {
    REPORTS_DROPPED.load(Ordering::Relaxed)
}

/// The node's side of the radio: queues only, never waits.
pub struct EspNowRadio {
    manager: EspNowManager,
    address: MacAddress,
    channel: u8,
    tied_to_access_point: bool,
    next_handle: u32,
}

/// The driver's side of the radio: run [`RadioPump::run`] in its own task.
pub struct RadioPump {
    sender: EspNowSender,
    receiver: EspNowReceiver,
}

impl EspNowRadio {
    /// Splits esp-radio's ESP-NOW into the port and its pump.
    ///
    /// `channel` is the channel the radio is on now; `tied_to_access_point`
    /// is true when the station is connected (or connecting) to an access
    /// point, which fixes the channel.
    pub fn new(esp_now: EspNow, address: MacAddress, channel: u8, tied_to_access_point: bool) -> (Self, RadioPump) {
        let (manager, sender, receiver) = esp_now.split();
        let radio = EspNowRadio { manager, address, channel, tied_to_access_point, next_handle: 0 };
        (radio, RadioPump { sender, receiver })
    }

    /// Registers `peer` with the driver, which sends only to known peers.
    ///
    /// When the peer table is full, the first unicast peer is forgotten to
    /// make room: a receiver talks to a few cameras at a time, and a
    /// forgotten peer is added again on its next frame.
    fn ensure_peer(&mut self, peer: [u8; 6]) -> Result<(), SendError> {
        if self.manager.peer_exists(&peer) {
            return Ok(());
        }
        let info = PeerInfo {
            interface: EspNowWifiInterface::Station,
            peer_address: peer,
            lmk: None,
            channel: None,
            encrypt: false,
        };
        if self.manager.add_peer(info).is_ok() {
            return Ok(());
        }
        let oldest = self.manager.fetch_peer(true).map_err(|_| SendError::UnknownPeer)?;
        self.manager.remove_peer(&oldest.peer_address).map_err(|_| SendError::UnknownPeer)?;
        self.manager.add_peer(info).map_err(|_| SendError::UnknownPeer)
    }
}

impl Radio for EspNowRadio {
    fn address(&self) -> MacAddress {
        self.address
    }

    fn send(&mut self, destination: MacAddress, frame: &[u8]) -> Result<SendHandle, SendError> {
        if frame.len() > MAX_FRAME_LEN {
            return Err(SendError::FrameTooLong);
        }
        if TX_QUEUE.is_full() {
            return Err(SendError::QueueFull);
        }
        if !destination.is_broadcast() {
            self.ensure_peer(destination.octets())?;
        }
        let handle = SendHandle(self.next_handle);
        let mut data = [0; MAX_FRAME_LEN];
        data[..frame.len()].copy_from_slice(frame);
        let queued = TxFrame { handle, destination: destination.octets(), len: frame.len(), data };
        TX_QUEUE.try_send(queued).map_err(|_| SendError::QueueFull)?;
        self.next_handle = self.next_handle.wrapping_add(1);
        Ok(handle)
    }

    fn poll_send_report(&mut self) -> Option<SendReport> {
        REPORTS.try_receive().ok()
    }

    fn receive(&mut self, buffer: &mut [u8; MAX_FRAME_LEN]) -> Option<Received> {
        let frame = RX_QUEUE.try_receive().ok()?;
        buffer[..frame.len].copy_from_slice(&frame.data[..frame.len]);
        Some(Received {
            source: MacAddress::new(frame.source),
            destination: MacAddress::new(frame.destination),
            len: frame.len,
            rssi: Some(frame.rssi),
        })
    }

    fn channel(&self) -> u8 {
        self.channel
    }

    /// Refuses with [`SendError::Driver`] while tied to an access point, or
    /// when the driver rejects the channel.
    fn set_channel(&mut self, channel: u8) -> Result<(), SendError> {
        if self.tied_to_access_point {
            return Err(SendError::Driver);
        }
        self.manager.set_channel(channel).map_err(|_| SendError::Driver)?;
        self.channel = channel;
        Ok(())
    }
}

impl RadioPump {
    /// Moves frames between the queues and the driver, forever.
    pub async fn run(mut self) -> ! {
        loop {
            match select(TX_QUEUE.receive(), self.receiver.receive_async()).await {
                Either::First(frame) => {
                    let sent = self.sender.send_async(&frame.destination, &frame.data[..frame.len]).await;
                    push_report(SendReport { handle: frame.handle, acknowledged: sent.is_ok() });
                }
                Either::Second(received) => {
                    let data = received.data();
                    if data.len() > MAX_FRAME_LEN {
                        count(&RX_DROPPED);
                        continue;
                    }
                    let mut frame = RxFrame {
                        source: received.info.src_address,
                        destination: received.info.dst_address,
                        rssi: clamp_rssi(received.info.rx_control.rssi),
                        len: data.len(),
                        data: [0; MAX_FRAME_LEN],
                    };
                    frame.data[..data.len()].copy_from_slice(data);
                    if RX_QUEUE.try_send(frame).is_err() {
                        count(&RX_DROPPED);
                    }
                }
            }
            EVENT.signal(());
        }
    }
}

/// Keeps the newest reports: a stale report is worth less than a fresh one.
fn push_report(report: SendReport) {
    if REPORTS.try_send(report).is_err() {
        let _ = REPORTS.try_receive();
        count(&REPORTS_DROPPED);
        let _ = REPORTS.try_send(report);
    }
}

/// Adds one to a counter that only the pump writes: a load and a store are
/// enough, and the ESP32-C3 has no atomic read-modify-write.
fn count(counter: &AtomicU32) {
    counter.store(counter.load(Ordering::Relaxed).wrapping_add(1), Ordering::Relaxed);
}

fn clamp_rssi(rssi: i32) -> i8 {
    rssi.clamp(i8::MIN as i32, i8::MAX as i32) as i8
}
