//! The ESP-NOW radio port over esp-radio.
//!
//! esp-radio's sender tracks one send at a time (one status flag, one
//! waker), while the port promises a bounded queue and a report per frame.
//! So the port is split in two: [`EspNowRadio`], owned by the node, only
//! touches queues and never waits; [`RadioPump`], run in its own embassy
//! task, moves frames between those queues and the driver, one send at a
//! time, and turns each send status into a [`SendReport`]. Both signal
//! [`radio_event`] so the node's loop wakes when there is something to read.

use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU8, Ordering};

use embassy_futures::select::{select, Either};
use embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex;
use embassy_sync::channel::Channel;
use embassy_sync::signal::Signal;
use embassy_time::{with_timeout, Duration};
use esp_println::println;
use esp_radio::esp_now::{
    EspNow, EspNowManager, EspNowReceiver, EspNowSender, EspNowWifiInterface, PeerInfo, PhyMode, RateConfig,
    ReceivedData, WifiPhyRate,
};
use nowcam_link::{AppliedRates, PeerRates, PumpSchedule, PumpStep};
use nowcam_ports::radio::MAX_FRAME_LEN;
use nowcam_ports::{MacAddress, PhyRate, Radio, Received, SendError, SendHandle, SendReport};
use static_cell::StaticCell;

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

/// The longest a send waits for esp-radio's send report. A report normally
/// comes within a few milliseconds (the MAC's retries included); one that
/// never comes would otherwise stop the pump for good.
pub const SEND_TIMEOUT: Duration = Duration::from_millis(500);

/// The largest frame this adapter sends and takes: ESP-NOW v2's 1470 bytes
/// (esp-radio's `ESP_NOW_MAX_DATA_LEN_V2`), the build's
/// `Capacities::max_frame_len`, which the boards give their node as its
/// `max_frame_len`.
///
/// esp-radio hands a send of any length to the driver as it is
/// (`esp_now_send`) and copies each received frame whole into a heap box,
/// so the limit is this one's. The blob's headers (esp-wifi-sys 0.3.0) are
/// those of an ESP-IDF with v2, and [`EspNowRadio::new`] logs the version
/// the library reports. A v1 peer truncates or drops a frame above 250
/// bytes; the nodes send one only to a receiver that announced it takes it
/// (the FRAME_LEN flag), so a v1 peer keeps 250-byte frames. The queue
/// slots are sized by it: (8 + 16) slots of 1470 bytes rather than 250.
pub const FRAME_LEN: usize = esp_radio::esp_now::ESP_NOW_MAX_DATA_LEN_V2;
const _: () = assert!(FRAME_LEN <= MAX_FRAME_LEN, "the queue slots copy into the node's frame buffers");
const _: () = assert!(FRAME_LEN == crate::CAPACITIES.max_frame_len, "the build's capacities report the radio's frames");

/// Peers whose PHY rate the radio and the pump keep: as many as the
/// driver's peer table holds (`ESP_NOW_MAX_TOTAL_PEER_NUM`, 20, in the
/// blob's headers); past that, the entry set longest ago gives way.
const RATED_PEERS: usize = 20;

/// Reports kept for the node; the oldest is dropped past it.
const REPORT_QUEUE_DEPTH: usize = 2 * TX_QUEUE_DEPTH;

struct TxFrame {
    handle: SendHandle,
    destination: [u8; 6],
    /// The rate the node asked for the destination when it queued the frame
    /// (`None`: never asked; the frame goes at the rate the driver has).
    rate: Option<PhyRate>,
    len: usize,
    data: [u8; FRAME_LEN],
}

struct RxFrame {
    source: [u8; 6],
    destination: [u8; 6],
    rssi: i8,
    len: usize,
    data: [u8; FRAME_LEN],
}

static TX_QUEUE: Channel<CriticalSectionRawMutex, TxFrame, TX_QUEUE_DEPTH> = Channel::new();
static REPORTS: Channel<CriticalSectionRawMutex, SendReport, REPORT_QUEUE_DEPTH> = Channel::new();
static RX_QUEUE: Channel<CriticalSectionRawMutex, RxFrame, RX_QUEUE_DEPTH> = Channel::new();
static EVENT: Signal<CriticalSectionRawMutex, ()> = Signal::new();
static RX_DROPPED: AtomicU32 = AtomicU32::new(0);
/// The channel the radio is on: set at start, by the node, or by the access point.
static CHANNEL: AtomicU8 = AtomicU8::new(0);
/// Whether the station is joined to an access point, whose channel ESP-NOW then shares.
static TIED_TO_ACCESS_POINT: AtomicBool = AtomicBool::new(false);
static REPORTS_DROPPED: AtomicU32 = AtomicU32::new(0);
/// Times the pump failed to set a frame's rate (the frame went at the driver's).
static RATE_SET_FAILURES: AtomicU32 = AtomicU32::new(0);
/// Grows whenever the node's side removes a peer from the driver's table: a
/// peer added again has the driver's default rate, so the pump forgets the
/// rates it set.
static PEER_TABLE_CHANGES: AtomicU32 = AtomicU32::new(0);
/// esp-radio's peer and rate calls, shared by the node's side (peers) and
/// the pump (each frame's rate); every call takes `&self`.
static MANAGER: StaticCell<EspNowManager> = StaticCell::new();

/// Signalled whenever a frame or a send report is waiting for the node.
pub fn radio_event() -> &'static Signal<CriticalSectionRawMutex, ()> {
    &EVENT
}

/// Tells the radio the station joined an access point on `channel` (ESP-NOW
/// now runs there, and the node cannot change it), or left it (`None`: the
/// radio stays where it is, and the node may change channel again).
///
/// The WiFi task calls this; the node sees the new channel at its next poll.
pub fn follow_access_point(channel: Option<u8>) {
    if let Some(channel) = channel {
        CHANNEL.store(channel, Ordering::Relaxed);
    }
    TIED_TO_ACCESS_POINT.store(channel.is_some(), Ordering::Relaxed);
    EVENT.signal(());
}

/// Frames dropped because the node did not read them in time, or because
/// they were longer than [`FRAME_LEN`].
///
/// esp-radio's own receive queue drops its oldest frame when full without
/// counting it (esp-radio 1.0.0-beta.1, `esp_now/mod.rs`, `rcv_cb`); the
/// pump drains that queue first so that it does not fill.
pub fn received_frames_dropped() -> u32 {
    RX_DROPPED.load(Ordering::Relaxed)
}

/// Send reports dropped because the node did not read them in time.
pub fn send_reports_dropped() -> u32 {
    REPORTS_DROPPED.load(Ordering::Relaxed)
}

/// Frames the pump could not set the asked PHY rate for (esp-radio's
/// `set_peer_rate` failed); they went at the rate the driver had.
pub fn rate_set_failures() -> u32 {
    RATE_SET_FAILURES.load(Ordering::Relaxed)
}

/// The node's side of the radio: queues only, never waits.
pub struct EspNowRadio {
    manager: &'static EspNowManager,
    address: MacAddress,
    /// The rate asked for each peer, stamped on every frame queued to it.
    rates: PeerRates<RATED_PEERS>,
    /// Whether the pump sets the stamped rates (`set_rate` refuses otherwise).
    sets_rates: bool,
    next_handle: u32,
    /// The local master key unicast peers are added with, if any.
    lmk: Option<[u8; 16]>,
}

/// The driver's side of the radio: run [`RadioPump::run`] in its own task.
///
/// `SETS_RATES`: whether it sets each frame's PHY rate ([`EspNowRadio::with_rates`]).
/// A pump that never does links no rate-setting code (2.6 KB of flash on the C6
/// receiver, which answers at 1 Mbps and has little flash to spare).
pub struct RadioPump<const SETS_RATES: bool> {
    manager: &'static EspNowManager,
    sender: EspNowSender,
    receiver: EspNowReceiver,
    /// The rate the driver has for each peer, as the pump set it.
    applied: AppliedRates<RATED_PEERS>,
}

impl EspNowRadio {
    /// Splits esp-radio's ESP-NOW into the port and its pump; `channel` is
    /// the channel the radio is on now. Frames go at the driver's rate
    /// (ESP-NOW's 1 Mbps), and `set_rate` refuses. Make one per boot (a
    /// second call panics): the driver's manager, the queues, the channel
    /// and the access point's hold are statics shared by the radio, its
    /// pump and [`follow_access_point`].
    pub fn new(esp_now: EspNow, address: MacAddress, channel: u8) -> (Self, RadioPump<false>) {
        Self::split(esp_now, address, channel)
    }

    /// As [`EspNowRadio::new`], and `set_rate` takes rates: the pump sets
    /// each frame's (see [`Radio::set_rate`] below).
    pub fn with_rates(esp_now: EspNow, address: MacAddress, channel: u8) -> (Self, RadioPump<true>) {
        Self::split(esp_now, address, channel)
    }

    fn split<const SETS_RATES: bool>(
        esp_now: EspNow,
        address: MacAddress,
        channel: u8,
    ) -> (Self, RadioPump<SETS_RATES>) {
        let (manager, sender, receiver) = esp_now.split();
        let manager: &'static EspNowManager = MANAGER
            .try_init(manager)
            .expect("one ESP-NOW radio per boot: EspNowRadio::new or with_rates was called twice");
        match manager.version() {
            Ok(version) => println!("ESP-NOW v{version}: frames up to {FRAME_LEN} bytes"),
            Err(error) => println!("ESP-NOW version unknown ({error:?}): frames up to {FRAME_LEN} bytes"),
        }
        CHANNEL.store(channel, Ordering::Relaxed);
        let rates = PeerRates::new();
        let radio = EspNowRadio { manager, address, rates, sets_rates: SETS_RATES, next_handle: 0, lmk: None };
        let pump = RadioPump { manager, sender, receiver, applied: AppliedRates::new() };
        (radio, pump)
    }

    /// Encrypts unicast frames with ESP-NOW's CCMP from now on: sets the
    /// primary master key, and adds every peer with `encryption.lmk`.
    /// Peers are added when a frame goes to them or comes from them, so a
    /// camera's encrypted frames are readable once it has been heard once.
    pub fn encrypt_unicast(
        &mut self,
        encryption: crate::key::UnicastEncryption,
    ) -> Result<(), esp_radio::esp_now::EspNowError> {
        self.manager.set_pmk(&encryption.pmk)?;
        self.lmk = Some(encryption.lmk);
        Ok(())
    }

    /// Applies the build's ESP-NOW encryption (`NOWCAM_LMK`), if any, and
    /// says so on the console.
    pub fn apply_build_encryption(&mut self) {
        let Some(encryption) = crate::key::UNICAST_ENCRYPTION else {
            return;
        };
        match self.encrypt_unicast(encryption) {
            Ok(()) => println!("ESP-NOW encryption of unicast frames: NOWCAM_LMK set at build time"),
            Err(error) => println!("ESP-NOW encryption refused by the driver ({error:?}): frames go in the clear"),
        }
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
            lmk: self.lmk,
            channel: None,
            encrypt: self.lmk.is_some(),
        };
        if self.manager.add_peer(info).is_ok() {
            return Ok(());
        }
        let oldest = self.manager.fetch_peer(true).map_err(|_| SendError::UnknownPeer)?;
        self.manager.remove_peer(&oldest.peer_address).map_err(|_| SendError::UnknownPeer)?;
        // Only this side writes it (the C3 has no atomic read-modify-write).
        PEER_TABLE_CHANGES.store(PEER_TABLE_CHANGES.load(Ordering::Relaxed).wrapping_add(1), Ordering::Relaxed);
        self.manager.add_peer(info).map_err(|_| SendError::UnknownPeer)
    }
}

impl Radio for EspNowRadio {
    fn address(&self) -> MacAddress {
        self.address
    }

    fn send(&mut self, destination: MacAddress, frame: &[u8]) -> Result<SendHandle, SendError> {
        if frame.len() > FRAME_LEN {
            return Err(SendError::FrameTooLong);
        }
        if TX_QUEUE.is_full() {
            return Err(SendError::QueueFull);
        }
        if !destination.is_broadcast() {
            self.ensure_peer(destination.octets())?;
        }
        let handle = SendHandle(self.next_handle);
        let mut data = [0; FRAME_LEN];
        data[..frame.len()].copy_from_slice(frame);
        let rate = self.rates.get(destination);
        let queued = TxFrame { handle, destination: destination.octets(), rate, len: frame.len(), data };
        TX_QUEUE.try_send(queued).map_err(|_| SendError::QueueFull)?;
        self.next_handle = self.next_handle.wrapping_add(1);
        Ok(handle)
    }

    fn poll_send_report(&mut self) -> Option<SendReport> {
        REPORTS.try_receive().ok()
    }

    fn may_have_frames(&self) -> bool {
        !RX_QUEUE.is_empty()
    }

    fn receive(&mut self, buffer: &mut [u8; MAX_FRAME_LEN]) -> Option<Received> {
        let frame = RX_QUEUE.try_receive().ok()?;
        if self.lmk.is_some() {
            // The driver decrypts only frames of peers added with the key:
            // add the sender on its first (broadcast or plain) frame.
            let _ = self.ensure_peer(frame.source);
        }
        buffer[..frame.len].copy_from_slice(&frame.data[..frame.len]);
        Some(Received {
            source: MacAddress::new(frame.source),
            destination: MacAddress::new(frame.destination),
            len: frame.len,
            rssi: Some(frame.rssi),
        })
    }

    fn channel(&self) -> u8 {
        CHANNEL.load(Ordering::Relaxed)
    }

    /// Refuses with [`SendError::Driver`] while joined to an access point, or
    /// when the driver rejects the channel.
    fn set_channel(&mut self, channel: u8) -> Result<(), SendError> {
        if TIED_TO_ACCESS_POINT.load(Ordering::Relaxed) {
            return Err(SendError::Driver);
        }
        self.manager.set_channel(channel).map_err(|_| SendError::Driver)?;
        CHANNEL.store(channel, Ordering::Relaxed);
        Ok(())
    }

    /// Frames queued to `peer` from now on go at `rate`: the pump sets it
    /// with esp-radio's `set_peer_rate` just before handing such a frame to
    /// the driver, so frames queued before keep the rate they were queued
    /// with, as the rate controller's record of each chunk's rate assumes.
    /// That rests on an assumption: the blob stores the rate in the peer's
    /// entry (`esp_now_set_peer_rate_config`), and neither esp-radio nor the
    /// blob's headers say when it is read; we take it that `esp_now_send`
    /// reads it. DSSS/CCK go with the long preamble, ERP-OFDM as 802.11g,
    /// MCS0 to MCS7 as HT20 with the long guard interval. A unicast peer is
    /// added first if unknown (the broadcast address is a peer esp-radio
    /// adds itself). If the driver refuses the rate, the frame goes at the
    /// rate it had for the peer, the refusal is counted in
    /// [`rate_set_failures`] and logged (the first, then one in a hundred),
    /// and the next frame tries again (a peer removed since the frame was
    /// queued fails too, and then the frame is not sent either). A
    /// radio made with [`EspNowRadio::new`] refuses ([`SendError::Unsupported`]).
    fn set_rate(&mut self, peer: MacAddress, rate: PhyRate) -> Result<(), SendError> {
        if !self.sets_rates {
            return Err(SendError::Unsupported);
        }
        if !peer.is_broadcast() {
            self.ensure_peer(peer.octets())?;
        }
        self.rates.set(peer, rate);
        Ok(())
    }
}

/// esp-radio's PHY mode for a rate.
const fn phy_mode(rate: PhyRate) -> PhyMode {
    if rate.is_ht() {
        PhyMode::Ht20
    } else if rate.is_ofdm() {
        PhyMode::_11g
    } else {
        PhyMode::_11b
    }
}

/// esp-radio's name of a rate (DSSS/CCK with the long preamble, HT with the long guard interval).
const fn wifi_phy_rate(rate: PhyRate) -> WifiPhyRate {
    match rate {
        PhyRate::Dsss1Mbps => WifiPhyRate::Rate1mL,
        PhyRate::Dsss2Mbps => WifiPhyRate::Rate2m,
        PhyRate::Cck5_5Mbps => WifiPhyRate::Rate5mL,
        PhyRate::Cck11Mbps => WifiPhyRate::Rate11mL,
        PhyRate::Ofdm6Mbps => WifiPhyRate::Rate6m,
        PhyRate::Ofdm9Mbps => WifiPhyRate::Rate9m,
        PhyRate::Ofdm12Mbps => WifiPhyRate::Rate12m,
        PhyRate::Ofdm18Mbps => WifiPhyRate::Rate18m,
        PhyRate::Ofdm24Mbps => WifiPhyRate::Rate24m,
        PhyRate::Ofdm36Mbps => WifiPhyRate::Rate36m,
        PhyRate::Ofdm48Mbps => WifiPhyRate::Rate48m,
        PhyRate::Ofdm54Mbps => WifiPhyRate::Rate54m,
        PhyRate::HtMcs0 => WifiPhyRate::RateMcs0Lgi,
        PhyRate::HtMcs1 => WifiPhyRate::RateMcs1Lgi,
        PhyRate::HtMcs2 => WifiPhyRate::RateMcs2Lgi,
        PhyRate::HtMcs3 => WifiPhyRate::RateMcs3Lgi,
        PhyRate::HtMcs4 => WifiPhyRate::RateMcs4Lgi,
        PhyRate::HtMcs5 => WifiPhyRate::RateMcs5Lgi,
        PhyRate::HtMcs6 => WifiPhyRate::RateMcs6Lgi,
        PhyRate::HtMcs7 => WifiPhyRate::RateMcs7Lgi,
    }
}

/// The PHY rate a build asks for (`NOWCAM_PHY_RATE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BuildRate {
    /// Unset: esp-radio's default, 1 Mbps.
    Radio,
    /// 1, 2, 5.5, 11, 6 ... 54 or mcs0 to mcs7: every frame at that rate.
    Fixed(PhyRate),
    /// `auto`: the camera's rate controller picks each chunk's rate.
    Auto,
}

/// The PHY rate asked at build time (`NOWCAM_PHY_RATE`: 1, 2, 5.5, 11, 6
/// ... 54, mcs0 to mcs7, or auto); anything else fails the build.
pub const fn build_phy_rate(text: Option<&str>) -> BuildRate {
    let Some(text) = text else { return BuildRate::Radio };
    if str_eq(text, "auto") {
        return BuildRate::Auto;
    }
    let mut i = 0;
    while i < PhyRate::ALL.len() {
        if str_eq(text, PhyRate::ALL[i].name()) {
            return BuildRate::Fixed(PhyRate::ALL[i]);
        }
        i += 1;
    }
    panic!("NOWCAM_PHY_RATE must be one of 1, 2, 5.5, 11, 6, 9, 12, 18, 24, 36, 48, 54, mcs0 ... mcs7, auto")
}

const fn str_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

// The rate rule, checked whenever this crate builds.
const _: () = {
    assert!(matches!(build_phy_rate(None), BuildRate::Radio));
    assert!(matches!(build_phy_rate(Some("54")), BuildRate::Fixed(PhyRate::Ofdm54Mbps)));
    assert!(matches!(build_phy_rate(Some("5.5")), BuildRate::Fixed(PhyRate::Cck5_5Mbps)));
    assert!(matches!(build_phy_rate(Some("mcs7")), BuildRate::Fixed(PhyRate::HtMcs7)));
    assert!(matches!(build_phy_rate(Some("auto")), BuildRate::Auto));
};

impl<const SETS_RATES: bool> RadioPump<SETS_RATES> {
    /// Moves frames between the queues and the driver, forever.
    ///
    /// Received frames go first, at most esp-radio's receive queue depth in a
    /// row while a frame waits to be sent ([`PumpSchedule`]): the driver's
    /// queue, which drops its oldest frame when full, is drained after every
    /// send, and a stream of outgoing chunks no longer keeps the answers to
    /// them waiting. Each send waits at most [`SEND_TIMEOUT`] for its report.
    pub async fn run(mut self) -> ! {
        let mut schedule = PumpSchedule::new(crate::CAPACITIES.radio_receive_queue as u32);
        let mut received: Option<ReceivedData> = None;
        let mut to_send: Option<TxFrame> = None;
        loop {
            if received.is_none() {
                received = self.receiver.receive();
            }
            if to_send.is_none() {
                to_send = TX_QUEUE.try_receive().ok();
            }
            match schedule.next(received.is_some(), to_send.is_some()) {
                PumpStep::Forward => {
                    if let Some(frame) = received.take() {
                        forward(&frame);
                    }
                }
                PumpStep::Send => {
                    // Sent from where it waits: moving it out first would keep a
                    // second 1470-byte copy in the pump's future across the await.
                    if let Some(frame) = &to_send {
                        self.send(frame).await;
                    }
                    to_send = None;
                }
                PumpStep::Wait => match select(TX_QUEUE.receive(), self.receiver.receive_async()).await {
                    Either::First(frame) => to_send = Some(frame),
                    Either::Second(frame) => received = Some(frame),
                },
            }
        }
    }

    /// Sends one frame and reports it; a send whose report does not come in
    /// time counts as failed.
    ///
    /// esp-radio's send future must not be dropped before it is ready, or the
    /// next send may read this one's late status; that is the price of not
    /// stopping the pump for good when a send report is lost. Such a frame
    /// may also still be in the driver when the next frame's rate is set,
    /// and go at that rate.
    async fn send(&mut self, frame: &TxFrame) {
        self.apply_rate(frame);
        let sent =
            with_timeout(SEND_TIMEOUT, self.sender.send_async(&frame.destination, &frame.data[..frame.len])).await;
        // A failed or timed-out send reaches the node as "not acknowledged",
        // which the test console's radio counts as a failed send.
        let acknowledged = match sent {
            Ok(result) => result.is_ok(),
            Err(_) => {
                println!("radio: no send report within {} ms; counted as failed", SEND_TIMEOUT.as_millis());
                false
            }
        };
        push_report(SendReport { handle: frame.handle, acknowledged });
        EVENT.signal(());
    }
}

impl<const SETS_RATES: bool> RadioPump<SETS_RATES> {
    /// Sets the rate `frame` was queued with for its destination, unless
    /// the driver has it already ([`AppliedRates`]). Cheap: one call into
    /// the driver's peer table, and only when the rate changes, the driver's
    /// peer table changed, or the last set was refused.
    fn apply_rate(&mut self, frame: &TxFrame) {
        if !SETS_RATES {
            return;
        }
        let destination = MacAddress::new(frame.destination);
        let peer_table = PEER_TABLE_CHANGES.load(Ordering::Relaxed);
        let Some(rate) = self.applied.to_set(destination, frame.rate, peer_table) else { return };
        let config = RateConfig { phy_mode: phy_mode(rate), rate: wifi_phy_rate(rate), ersu: false, dcm: false };
        match self.manager.set_peer_rate(&frame.destination, config) {
            Ok(()) => self.applied.done(destination, rate),
            Err(error) => {
                count(&RATE_SET_FAILURES);
                let failures = RATE_SET_FAILURES.load(Ordering::Relaxed);
                // The first refusal, then one in a hundred: enough to see on the console.
                if failures % 100 == 1 {
                    println!("radio: {rate} refused for {destination} ({error:?}, {failures} so far); the frame goes at the rate the driver had");
                }
            }
        }
    }
}

/// Hands one received frame to the node's queue.
fn forward(received: &ReceivedData) {
    let data = received.data();
    if data.len() > FRAME_LEN {
        count(&RX_DROPPED);
        return;
    }
    let mut frame = RxFrame {
        source: received.info.src_address,
        destination: received.info.dst_address,
        rssi: clamp_rssi(received.info.rx_control.rssi),
        len: data.len(),
        data: [0; FRAME_LEN],
    };
    frame.data[..data.len()].copy_from_slice(data);
    if RX_QUEUE.try_send(frame).is_err() {
        count(&RX_DROPPED);
    }
    EVENT.signal(());
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
