//! The receiver: transfers into the image store (nowcam and the seed's
//! legacy format), probe replies, telemetry in, camera control out, and the
//! state an HTTP server shows.

use heapless::{Deque, Vec};
use nowcam_ports::radio::{MAX_FRAME_LEN, V1_MAX_FRAME_LEN};
use nowcam_ports::{
    EraseStep, ImageInfo, ImageStore, Instant, MacAddress, Radio, StoreError, TelemetrySource, WriteHandle,
};
use nowcam_proto::auth::{self, Authenticator, Direction};
use nowcam_proto::legacy::{self, LegacyEvent, LegacyReceiver};
use nowcam_proto::receiver::{ReceiveError, Receiver, ReceiverConfig, ReceiverEvent, ReceiverStats, TransferStore};
use nowcam_proto::time::Duration;
use nowcam_proto::wire::control::ControlVariable;
use nowcam_proto::wire::{
    self, ControlCommand, ControlRequestRepr, ControlStatus, FrameKind, FrameRepr, ProbeRepr, TelemetryRepr, MAGIC,
    PROBE_ROLE_FRAME_LEN,
};

use crate::random::SplitMix64;
use crate::sender::ROLE_RECEIVER;

/// The most legacy cameras a receiver can be configured with.
pub const MAX_LEGACY_PEERS: usize = 8;

/// The cameras still running the seed's Arduino sketch, whose legacy frames
/// a receiver takes; frames in the legacy format from any other address are
/// dropped. Empty by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct LegacyPeers {
    addresses: [MacAddress; MAX_LEGACY_PEERS],
    len: u8,
}

/// More legacy cameras than [`MAX_LEGACY_PEERS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct TooManyLegacyPeers;

impl core::fmt::Display for TooManyLegacyPeers {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "at most {MAX_LEGACY_PEERS} legacy cameras")
    }
}

impl core::error::Error for TooManyLegacyPeers {}

impl Default for LegacyPeers {
    fn default() -> Self {
        Self::none()
    }
}

impl LegacyPeers {
    /// No legacy camera.
    pub const fn none() -> Self {
        Self { addresses: [MacAddress([0; 6]); MAX_LEGACY_PEERS], len: 0 }
    }

    /// The cameras in `addresses`.
    pub fn new(addresses: &[MacAddress]) -> Result<Self, TooManyLegacyPeers> {
        let mut peers = Self::none();
        for address in addresses {
            peers.push(*address)?;
        }
        Ok(peers)
    }

    /// Adds a camera (once).
    pub fn push(&mut self, address: MacAddress) -> Result<(), TooManyLegacyPeers> {
        if self.contains(address) {
            return Ok(());
        }
        let slot = self.addresses.get_mut(usize::from(self.len)).ok_or(TooManyLegacyPeers)?;
        *slot = address;
        self.len += 1;
        Ok(())
    }

    pub fn contains(&self, address: MacAddress) -> bool {
        self.as_slice().contains(&address)
    }

    pub fn as_slice(&self) -> &[MacAddress] {
        &self.addresses[..usize::from(self.len)]
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// How a receiver node behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ReceiverNodeConfig {
    /// The protocol receiver: limits, timeouts, and the key of the
    /// authenticated mode (which also tags probe replies and camera control).
    pub receiver: ReceiverConfig,
    /// The cameras whose seed-format (legacy) frames are accepted; any frame
    /// not in the nowcam format from another address is dropped.
    pub legacy_peers: LegacyPeers,
    /// A camera-control request without an answer fails after this long.
    pub control_timeout: Duration,
    /// A camera that has sent nothing for this long is listed as offline.
    pub camera_timeout: Duration,
    /// Answer probes to the broadcast address rather than to the camera.
    /// With ESP-NOW encryption (an LMK) a unicast reply is encrypted for a
    /// camera that does not know the receiver yet, so it could never read
    /// it; a broadcast goes in the clear, and the camera checks its nonce.
    pub broadcast_probe_replies: bool,
}

impl Default for ReceiverNodeConfig {
    fn default() -> Self {
        Self {
            receiver: ReceiverConfig::default(),
            legacy_peers: LegacyPeers::none(),
            control_timeout: Duration::from_millis(500),
            camera_timeout: Duration::from_secs(30),
            broadcast_probe_replies: false,
        }
    }
}

/// What happened on the receiver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ReceiverNodeEvent {
    /// An image passed its check and is stored under `info.sequence`.
    ImageStored { source: MacAddress, info: ImageInfo, legacy: bool },
    /// A transfer ended without an image (refused, failed check, sender gone).
    TransferFailed { source: MacAddress, session: u32 },
    /// A camera answered a control request, or the request timed out.
    Control { request: u16, outcome: ControlOutcome },
    /// A camera sent telemetry.
    Telemetry { source: MacAddress, telemetry: TelemetryRepr },
}

/// The outcome of a camera-control request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ControlOutcome {
    Answered { status: ControlStatus, variable: ControlVariable, value: i32 },
    TimedOut,
}

/// Why a control request could not be sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ControlRequestError {
    /// too many requests are waiting for an answer
    Busy,
    /// the radio refused the frame
    Radio,
}

/// What the receiver knows of one camera.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct CameraInfo {
    pub address: MacAddress,
    pub last_heard: Instant,
    pub rssi: Option<i8>,
    pub telemetry: Option<TelemetryRepr>,
    pub images: u32,
    pub legacy: bool,
}

/// Counters of the receiver node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ReceiverNodeStats {
    pub protocol: ReceiverStats,
    pub frames_received: u32,
    pub legacy_frames: u32,
    pub replies_dropped: u32,
    pub images_stored: u32,
    pub transfers_failed: u32,
    /// Offers answered Busy because no slot was erased ahead for them.
    pub offers_not_ready: u32,
    /// Erase-ahead steps the flash failed.
    pub erase_errors: u32,
    /// Frames not in the nowcam format (no magic) from an address that is
    /// not a configured legacy camera, or not legacy frames either: dropped.
    pub legacy_refused: u32,
    /// Probes, telemetry and control responses dropped for a missing or wrong tag
    /// (transfer frames are counted in `protocol.dropped`).
    pub application_dropped_auth: u32,
}

/// An [`ImageStore`] seen as the protocol's [`TransferStore`].
struct StoreSlots<'a, S> {
    store: &'a mut S,
    /// Begin only in a slot erased ahead for the whole image; the protocol
    /// receiver answers the offer with Busy otherwise.
    erased_only: bool,
    /// Set when `begin` refused for want of an erased slot.
    not_ready: bool,
}

impl<'a, S: ImageStore> StoreSlots<'a, S> {
    /// For nowcam transfers: a camera answered Busy offers again later.
    fn erased_only(store: &'a mut S) -> Self {
        StoreSlots { store, erased_only: true, not_ready: false }
    }

    /// For the seed's legacy sender, which has no Busy: any slot, erased as
    /// writes reach it (its one frame per 500 ms outlasts any erase).
    fn any(store: &'a mut S) -> Self {
        StoreSlots { store, erased_only: false, not_ready: false }
    }
}

impl<S: ImageStore> TransferStore for StoreSlots<'_, S> {
    type Slot = WriteHandle;
    type Error = StoreError;

    fn can_begin(&mut self, len: u32, waiting: usize) -> bool {
        if self.erased_only && self.store.ready_count(len) <= waiting {
            self.not_ready = true;
            return false;
        }
        true
    }

    fn begin(&mut self, len: u32) -> Result<WriteHandle, StoreError> {
        if self.erased_only && !self.store.ready_for(len) {
            self.not_ready = true;
            return Err(StoreError::NotReady);
        }
        self.store.begin(len)
    }

    fn write_at(&mut self, slot: WriteHandle, offset: u32, data: &[u8]) -> Result<(), StoreError> {
        self.store.write_at(slot, offset, data)
    }

    fn read_at(&mut self, slot: WriteHandle, offset: u32, buffer: &mut [u8]) -> Result<usize, StoreError> {
        self.store.read_pending_at(slot, offset, buffer)
    }

    fn commit(&mut self, slot: WriteHandle, crc32: u32) -> Result<(), StoreError> {
        self.store.commit(slot, crc32).map(|_| ())
    }

    fn abandon(&mut self, slot: WriteHandle) {
        self.store.abandon(slot)
    }

    fn discard(&mut self, slot: WriteHandle, offset: u32, len: u32) -> Result<(u32, u32), StoreError> {
        self.store.discard(slot, offset, len)
    }
}

const CAMERAS: usize = 8;
const LEGACY_SOURCES: usize = 2;
const PENDING_CONTROLS: usize = 4;

/// How long erase-ahead rests after the flash failed an erase.
const ERASE_RETRY: Duration = Duration::from_secs(1);

/// A receiver node: `TRANSFERS` concurrent transfers of up to `32 × WORDS` chunks each.
pub struct ReceiverNode<R, S, T, const TRANSFERS: usize = 4, const WORDS: usize = 68> {
    config: ReceiverNodeConfig,
    radio: R,
    store: S,
    telemetry: T,
    receiver: Receiver<WriteHandle, TRANSFERS, WORDS>,
    /// Tags and checks the application's own frames in the authenticated mode.
    authenticator: Option<Authenticator>,
    legacy: Vec<(MacAddress, LegacyReceiver<WriteHandle, WORDS>), LEGACY_SOURCES>,
    cameras: Vec<CameraInfo, CAMERAS>,
    controls: Vec<(u16, MacAddress, Instant), PENDING_CONTROLS>,
    next_request: u16,
    events: Deque<ReceiverNodeEvent, 16>,
    stats: ReceiverNodeStats,
    /// The last erase-ahead step erased: the next poll goes on at once.
    erasing: bool,
    /// No erase-ahead before this, after a flash error.
    erase_retry_at: Option<Instant>,
}

impl<R: Radio, S: ImageStore, T: TelemetrySource, const TRANSFERS: usize, const WORDS: usize>
    ReceiverNode<R, S, T, TRANSFERS, WORDS>
{
    pub fn new(config: ReceiverNodeConfig, radio: R, store: S, telemetry: T, seed: u64) -> Self {
        let next_request = SplitMix64::new(seed).next_u32() as u16;
        Self {
            config,
            radio,
            store,
            telemetry,
            receiver: Receiver::with_seed(config.receiver, seed),
            authenticator: config.receiver.key.as_ref().map(Authenticator::new),
            legacy: Vec::new(),
            cameras: Vec::new(),
            controls: Vec::new(),
            next_request,
            events: Deque::new(),
            stats: ReceiverNodeStats::default(),
            erasing: false,
            erase_retry_at: None,
        }
    }

    pub fn radio(&self) -> &R {
        &self.radio
    }

    /// Takes the node apart, keeping its radio, store and telemetry source
    /// (a test console rebuilds the node around the same store).
    pub fn into_parts(self) -> (R, S, T) {
        (self.radio, self.store, self.telemetry)
    }

    pub fn radio_mut(&mut self) -> &mut R {
        &mut self.radio
    }

    /// The image store, to read images for HTTP.
    pub fn store(&self) -> &S {
        &self.store
    }

    pub fn store_mut(&mut self) -> &mut S {
        &mut self.store
    }

    pub fn stats(&self) -> ReceiverNodeStats {
        ReceiverNodeStats { protocol: self.receiver.stats(), ..self.stats }
    }

    /// The cameras heard from, most recently first seen last.
    pub fn cameras(&self) -> &[CameraInfo] {
        &self.cameras
    }

    /// Transfers in progress: source, image length, chunks received and chunk count.
    pub fn active_transfers(&self) -> impl Iterator<Item = (MacAddress, u32, u16, u16)> + '_ {
        self.receiver.active().map(|(source, offer, received)| (source, offer.image_len, received, offer.chunk_count))
    }

    /// Whether a transfer (nowcam or legacy) is being received: the node
    /// then does no erase work.
    pub fn receiving(&self) -> bool {
        self.receiver.active().next().is_some() || !self.legacy.is_empty()
    }

    /// The next event, oldest first.
    pub fn pop_event(&mut self) -> Option<ReceiverNodeEvent> {
        self.events.pop_front()
    }

    fn push_event(&mut self, event: ReceiverNodeEvent) {
        if self.events.is_full() {
            self.events.pop_front();
        }
        let _ = self.events.push_back(event);
    }

    /// Sends a camera-control request; the answer comes as a [`ReceiverNodeEvent::Control`] with the returned id.
    pub fn request_control(
        &mut self,
        now: Instant,
        camera: MacAddress,
        command: ControlCommand,
        variable: ControlVariable,
        value: i32,
    ) -> Result<u16, ControlRequestError> {
        if self.controls.is_full() {
            return Err(ControlRequestError::Busy);
        }
        let request = self.next_request;
        self.next_request = self.next_request.wrapping_add(1);
        let frame = FrameRepr::ControlRequest(ControlRequestRepr { request, command, variable, value });
        let mut buffer = [0u8; MAX_FRAME_LEN];
        let len = self.write(&frame, &mut buffer).ok_or(ControlRequestError::Radio)?;
        self.radio.send(camera, &buffer[..len]).map_err(|_| ControlRequestError::Radio)?;
        self.controls.push((request, camera, now)).map_err(|_| ControlRequestError::Busy)?;
        Ok(request)
    }

    /// Runs the node: received frames, idle transfers, control timeouts, and
    /// while no transfer is being received one step of erase-ahead (one
    /// flash erase at most, so a poll blocks for one erase at most). Returns
    /// when to call again: at once while erase-ahead has more to do.
    pub fn poll(&mut self, now: Instant) -> Option<Instant> {
        while self.radio.poll_send_report().is_some() {}
        if self.radio.may_have_frames() {
            self.drain_frames(now);
        }
        self.expire(now);
        self.erase_ahead(now);
        let next = self.poll_at();
        if self.erasing {
            return Some(now);
        }
        match self.erase_retry_at {
            Some(retry) => Some(next.map_or(retry, |next| next.min(retry))),
            None => next,
        }
    }

    /// Handles every frame the radio holds.
    fn drain_frames(&mut self, now: Instant) {
        let mut buffer = [0u8; MAX_FRAME_LEN];
        while let Some(received) = self.radio.receive(&mut buffer) {
            let Some(bytes) = buffer.get(..received.len) else {
                continue;
            };
            self.stats.frames_received += 1;
            self.note_camera(now, received.source, received.rssi);
            if bytes.first() == Some(&MAGIC) {
                self.handle_nowcam(now, received.source, bytes);
            } else if self.config.legacy_peers.contains(received.source) && legacy::looks_legacy(bytes) {
                self.handle_legacy(now, received.source, bytes);
            } else {
                self.stats.legacy_refused += 1;
            }
        }
    }

    /// One step of erase-ahead, between transfers only: a slot erased ahead
    /// lets the next image's writes go straight to flash, where an erase in
    /// the middle of a transfer would keep the node from reading the radio
    /// for 45 ms or more while frames overflow its receive queue.
    fn erase_ahead(&mut self, now: Instant) {
        self.erasing = false;
        if self.receiving() || self.erase_retry_at.is_some_and(|retry| now < retry) {
            return;
        }
        self.erase_retry_at = None;
        match self.store.erase_ahead() {
            Ok(EraseStep::Erased) => self.erasing = true,
            Ok(EraseStep::Idle) => {}
            Err(_) => {
                self.stats.erase_errors += 1;
                self.erase_retry_at = Some(now + ERASE_RETRY);
            }
        }
    }

    fn handle_nowcam(&mut self, now: Instant, source: MacAddress, bytes: &[u8]) {
        // Transfer frames, the bulk of the traffic, go to the protocol receiver
        // without being parsed twice; only the application's own kinds are parsed here.
        let kind = bytes.get(1).and_then(|b| FrameKind::from_code(b & 0x0f));
        let is_application = matches!(kind, Some(FrameKind::Probe | FrameKind::Telemetry | FrameKind::ControlResponse));
        let parsed = if is_application { FrameRepr::parse_bytes(bytes).ok() } else { None };
        if parsed.is_some() && auth::check(self.authenticator.as_ref(), Direction::FromCamera, 0, bytes).is_err() {
            self.stats.application_dropped_auth += 1;
            return;
        }
        match parsed {
            Some(FrameRepr::Probe(probe)) if probe.role != ROLE_RECEIVER => {
                let to = if self.config.broadcast_probe_replies { MacAddress::BROADCAST } else { source };
                let reply = FrameRepr::ProbeReply(ProbeRepr { nonce: probe.nonce, role: ROLE_RECEIVER });
                // Only a prober that says it understands gets the largest frame this receiver takes.
                let announce = (probe.role & PROBE_ROLE_FRAME_LEN != 0).then_some(self.config.receiver.max_frame_len);
                self.reply(to, &reply, announce);
                return;
            }
            Some(FrameRepr::Telemetry(telemetry)) => {
                if let Some(camera) = self.cameras.iter_mut().find(|c| c.address == source) {
                    camera.telemetry = Some(telemetry);
                }
                self.push_event(ReceiverNodeEvent::Telemetry { source, telemetry });
                return;
            }
            Some(FrameRepr::ControlResponse(response)) => {
                if let Some(position) =
                    self.controls.iter().position(|(id, camera, _)| *id == response.request && *camera == source)
                {
                    self.controls.swap_remove(position);
                    let outcome = ControlOutcome::Answered {
                        status: response.status,
                        variable: response.variable,
                        value: response.value,
                    };
                    self.push_event(ReceiverNodeEvent::Control { request: response.request, outcome });
                }
                return;
            }
            _ => {}
        }
        let mut reply = [0u8; MAX_FRAME_LEN];
        let mut slots = StoreSlots::erased_only(&mut self.store);
        let handled = self.receiver.handle(now, source, bytes, &mut slots, &mut reply);
        if slots.not_ready {
            self.stats.offers_not_ready += 1;
        }
        let handled = match handled {
            Ok(handled) => handled,
            Err(ReceiveError::Refused(_)) => {
                // The receiver left an abort frame for the refused sender.
                let len = self.receiver.abort_len();
                self.send_raw(source, &reply, len);
                if let Ok(FrameRepr::Abort { session, .. }) = FrameRepr::parse_bytes(&reply[..len]) {
                    self.stats.transfers_failed += 1;
                    self.push_event(ReceiverNodeEvent::TransferFailed { source, session });
                }
                return;
            }
            // Malformed, stale and forged frames get no answer.
            Err(_) => return,
        };
        if let Some(len) = handled.reply_len {
            self.send_raw(source, &reply, len);
        }
        if let Some(event) = handled.event {
            self.handle_receiver_event(event);
        }
    }

    fn handle_receiver_event(&mut self, event: ReceiverEvent) {
        match event {
            ReceiverEvent::Stored { source, offer } => {
                // The image just committed is the newest one.
                if let Some(info) = self.store.newest().filter(|info| info.crc32 == offer.crc32) {
                    self.image_stored(source, info, false);
                }
            }
            ReceiverEvent::Failed { source, offer, .. } | ReceiverEvent::Dropped { source, offer, .. } => {
                self.stats.transfers_failed += 1;
                self.push_event(ReceiverNodeEvent::TransferFailed { source, session: offer.session });
            }
            ReceiverEvent::Started { .. } | ReceiverEvent::Repairing { .. } => {}
        }
    }

    fn image_stored(&mut self, source: MacAddress, info: ImageInfo, legacy: bool) {
        self.stats.images_stored += 1;
        if let Some(camera) = self.cameras.iter_mut().find(|c| c.address == source) {
            camera.images += 1;
            camera.legacy |= legacy;
        }
        self.push_event(ReceiverNodeEvent::ImageStored { source, info, legacy });
    }

    fn handle_legacy(&mut self, now: Instant, source: MacAddress, bytes: &[u8]) {
        self.stats.legacy_frames += 1;
        let position = match self.legacy.iter().position(|(address, _)| *address == source) {
            Some(position) => position,
            None => {
                let receiver =
                    LegacyReceiver::new(self.config.receiver.limits.max_image_len, self.config.receiver.idle_timeout);
                if self.legacy.push((source, receiver)).is_err() {
                    // Every legacy place is taken: reuse the one idle longest is not possible
                    // without its state, so the newcomer waits until one expires.
                    return;
                }
                self.legacy.len() - 1
            }
        };
        let result = self.legacy[position].1.handle(now, bytes, &mut StoreSlots::any(&mut self.store));
        if let Ok(LegacyEvent::Stored { .. }) = result {
            if let Some(info) = self.store.newest() {
                self.image_stored(source, info, true);
            }
        }
    }

    fn expire(&mut self, now: Instant) {
        while let Some(event) = self.receiver.poll(now, &mut StoreSlots::erased_only(&mut self.store)) {
            self.handle_receiver_event(event);
        }
        let mut index = 0;
        while index < self.legacy.len() {
            let (source, receiver) = &mut self.legacy[index];
            let source = *source;
            let expired =
                matches!(receiver.poll(now, &mut StoreSlots::any(&mut self.store)), Some(LegacyEvent::Expired(_)));
            let finished = receiver.progress().is_none();
            if expired {
                self.stats.transfers_failed += 1;
                self.push_event(ReceiverNodeEvent::TransferFailed { source, session: 0 });
            }
            if finished {
                self.legacy.swap_remove(index);
            } else {
                index += 1;
            }
        }
        let timeout = self.config.control_timeout;
        while let Some(position) = self.controls.iter().position(|(_, _, sent)| now >= *sent + timeout) {
            let (request, _, _) = self.controls.swap_remove(position);
            self.push_event(ReceiverNodeEvent::Control { request, outcome: ControlOutcome::TimedOut });
        }
    }

    fn note_camera(&mut self, now: Instant, source: MacAddress, rssi: Option<i8>) {
        if let Some(camera) = self.cameras.iter_mut().find(|c| c.address == source) {
            camera.last_heard = now;
            camera.rssi = rssi.or(camera.rssi);
            return;
        }
        let camera = CameraInfo { address: source, last_heard: now, rssi, telemetry: None, images: 0, legacy: false };
        if self.cameras.push(camera).is_err() {
            // Forget the camera heard from least recently.
            if let Some(oldest) = self.cameras.iter().enumerate().min_by_key(|(_, c)| c.last_heard).map(|(i, _)| i) {
                self.cameras[oldest] = camera;
            }
        }
    }

    /// Cameras heard from within the camera timeout.
    pub fn online_cameras(&self, now: Instant) -> impl Iterator<Item = &CameraInfo> + '_ {
        let timeout = self.config.camera_timeout;
        self.cameras.iter().filter(move |c| now < c.last_heard + timeout)
    }

    /// Writes one of the application's own frames, tagged in the authenticated mode.
    fn write(&self, frame: &FrameRepr<'_>, buffer: &mut [u8; MAX_FRAME_LEN]) -> Option<usize> {
        self.write_announcing(frame, None, buffer)
    }

    /// Writes `frame`, with the FRAME_LEN field `announce` when set, tagged in the authenticated mode.
    fn write_announcing(
        &self,
        frame: &FrameRepr<'_>,
        announce: Option<u16>,
        buffer: &mut [u8; MAX_FRAME_LEN],
    ) -> Option<usize> {
        let len = frame.emit(buffer).ok()?;
        let len = match announce {
            Some(accepted) => {
                let accepted = accepted.clamp(V1_MAX_FRAME_LEN as u16, MAX_FRAME_LEN as u16);
                wire::announce_frame_len(buffer, len, accepted).ok()?
            }
            None => len,
        };
        match &self.authenticator {
            Some(authenticator) => authenticator.seal(Direction::FromReceiver, 0, buffer, len).ok(),
            None => Some(len),
        }
    }

    fn reply(&mut self, destination: MacAddress, frame: &FrameRepr<'_>, announce: Option<u16>) {
        let mut buffer = [0u8; MAX_FRAME_LEN];
        if let Some(len) = self.write_announcing(frame, announce, &mut buffer) {
            self.send_raw(destination, &buffer, len);
        }
    }

    fn send_raw(&mut self, destination: MacAddress, buffer: &[u8; MAX_FRAME_LEN], len: usize) {
        // A reply the queue cannot take is dropped: the sender asks again after its timeout.
        if self.radio.send(destination, &buffer[..len]).is_err() {
            self.stats.replies_dropped += 1;
        }
    }

    /// When the node wants to be polled again, if no radio event comes first.
    pub fn poll_at(&self) -> Option<Instant> {
        let timeout = self.config.control_timeout;
        [
            self.receiver.poll_at(),
            self.legacy.iter().filter_map(|(_, r)| r.poll_at()).min(),
            self.controls.iter().map(|(_, _, sent)| *sent + timeout).min(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Samples this node's own health (for `/status`).
    pub fn own_telemetry(&mut self) -> nowcam_ports::TelemetrySample {
        self.telemetry.sample()
    }
}
