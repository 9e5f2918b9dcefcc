//! The chip side of the test console: one embassy task reads the console
//! port, splits it into frames with `nowcam_console::FrameSplitter`, answers
//! each host request and writes board messages back.
//!
//! The task talks to the node only through the small access traits below,
//! which the board crates implement for their node type, and only while it
//! holds the node's lock, so the node's loop never waits on the host. What
//! the node's loop learns (images stored, transfers finished) it hands over
//! through the functions of this module ([`image_stored`],
//! [`transfer_started`], [`transfer_finished`], [`node_polled`]).
//!
//! Every wait has a timeout: the node's lock (then `Busy`), a half-received
//! frame (then dropped), a serial-radio frame's report (then counted as not
//! acknowledged).

mod transport;

use core::cell::RefCell;
use core::fmt::Write as _;
use core::sync::atomic::{AtomicBool, Ordering};

use embassy_futures::select::{select, Either};
use embassy_sync::blocking_mutex::raw::{CriticalSectionRawMutex, NoopRawMutex};
use embassy_sync::blocking_mutex::Mutex as BlockingMutex;
use embassy_sync::mutex::{Mutex, MutexGuard};
use embassy_sync::signal::Signal;
use embassy_time::{with_deadline, with_timeout, Duration, Instant, Timer};
use heapless::{Deque, Vec};
use nowcam_console::{
    decode_host, encode_board, BoardMessage, BoardTelemetry, ConsoleError, FrameSplitter, HostMessage, Piece,
    RadioKind, Ready, Role, SerialRadio, StoredImage, TransferOutcome, TransferResult, MAX_DATA_LEN, MAX_ENCODED_LEN,
    MAX_LIST_LEN, PROTOCOL_VERSION,
};
use nowcam_ports::{ImageInfo, ImageStore, MacAddress, Radio, StoreError};
use sha2::{Digest, Sha256};

use crate::loaded::{LoadError, LoadedSource};
use crate::test_radio::{FaultsError, TestRadio};
use crate::{CAPACITIES, CHIP};

pub use transport::{ConsoleInput, TransportError};

/// The serial radio of this chip build: esp-radio's queue depths, so the
/// node sees the same back-pressure as over the air.
pub type ConsoleRadio = SerialRadio<{ CAPACITIES.radio_send_queue }, { CAPACITIES.radio_receive_queue }>;

/// How long the console waits for the node's lock before answering `Busy`.
const LOCK_TIMEOUT: Duration = Duration::from_millis(500);

/// A run of bytes that stops short of its closing delimiter for this long is dropped.
const PARTIAL_FRAME_TIMEOUT: Duration = Duration::from_secs(1);

/// A serial-radio frame whose report has not come after this long counts as
/// not acknowledged (the host relay lost it, or restarted).
const REPORT_TIMEOUT: Duration = Duration::from_secs(2);

/// Bytes of a stored image hashed per lock of the node: the node's loop
/// waits at most this long a flash read.
const HASH_PIECE: usize = 1024;

/// Who this board is, for the ready message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Identity {
    pub role: Role,
    pub mac: MacAddress,
    pub channel: u8,
    pub radio: RadioKind,
}

/// What the console needs from any node.
pub trait ConsoleNode {
    type Radio: Radio;

    /// The node's radio, inside its fault injector.
    fn test_radio(&mut self) -> &mut TestRadio<Self::Radio>;

    /// The serial radio, in builds whose frames travel over the console.
    fn serial_radio(&mut self) -> Option<&mut ConsoleRadio>;

    /// Received frames dropped before the node read them.
    fn receive_dropped(&mut self) -> u32;
}

/// Declares `BoardNode`, the newtype a board crate wraps its node in (the
/// orphan rule keeps the console's access traits from being implemented on
/// `nowcam-app`'s types anywhere but in a type of the board crate), with
/// `Deref` to the node and its [`ConsoleNode`] implementation. `$node` is
/// the node type, `$radio` the radio inside its fault injector. The
/// `serial-radio` feature tested here is the calling board crate's.
#[macro_export]
macro_rules! board_node {
    ($node:ty, $radio:ty) => {
        /// The node, in a type of this crate so that it can implement the test console's access traits.
        pub struct BoardNode($node);

        impl core::ops::Deref for BoardNode {
            type Target = $node;

            fn deref(&self) -> &$node {
                &self.0
            }
        }

        impl core::ops::DerefMut for BoardNode {
            fn deref_mut(&mut self) -> &mut $node {
                &mut self.0
            }
        }

        impl $crate::test_console::ConsoleNode for BoardNode {
            type Radio = $radio;

            fn test_radio(&mut self) -> &mut $crate::TestRadio<$radio> {
                self.0.radio_mut()
            }

            #[cfg(not(feature = "serial-radio"))]
            fn serial_radio(&mut self) -> Option<&mut $crate::test_console::ConsoleRadio> {
                None
            }

            #[cfg(feature = "serial-radio")]
            fn serial_radio(&mut self) -> Option<&mut $crate::test_console::ConsoleRadio> {
                self.0.radio_mut().inner_mut()
            }

            #[cfg(not(feature = "serial-radio"))]
            fn receive_dropped(&mut self) -> u32 {
                $crate::radio::received_frames_dropped()
            }

            #[cfg(feature = "serial-radio")]
            fn receive_dropped(&mut self) -> u32 {
                self.0.radio_mut().inner_mut().map_or(0, |radio| radio.receive_dropped())
            }
        }
    };
}

/// What the console needs from a receiver node.
pub trait ReceiverAccess: ConsoleNode {
    type Store: ImageStore;

    fn store_mut(&mut self) -> &mut Self::Store;
}

/// What the console needs from a sender node.
pub trait SenderAccess: ConsoleNode {
    fn source(&self) -> &LoadedSource;

    /// The image source, whose buffer a load writes.
    fn source_mut(&mut self) -> &mut LoadedSource;

    /// Whether a transfer is in progress (or a capture is about to start one).
    fn transfer_in_progress(&self) -> bool;

    /// Starts a transfer of the current image as soon as the node polls.
    fn capture_now(&mut self);

    /// The receiver the node sends to, once known.
    fn receiver(&self) -> Option<MacAddress>;

    /// Names the receiver the node sends to from now on.
    fn set_receiver(&mut self, receiver: MacAddress);
}

type Node<N> = Mutex<NoopRawMutex, N>;

/// What the node's loop tells the console.
struct Shared {
    /// Where each image stored since boot came from (the store does not keep it).
    sources: Deque<(u32, [u8; 6]), MAX_LIST_LEN>,
    results: Deque<TransferResult, MAX_LIST_LEN>,
    /// The transfer in progress: session, length, start, retransmissions at its start.
    current: Option<(u32, u32, u64, u32)>,
    /// Transfers still to start after the current one.
    remaining: u16,
}

static SHARED: BlockingMutex<CriticalSectionRawMutex, RefCell<Shared>> = BlockingMutex::new(RefCell::new(Shared {
    sources: Deque::new(),
    results: Deque::new(),
    current: None,
    remaining: 0,
}));

/// Set by the first request the host makes: from then on the host, not the
/// board, decides when a sender sends.
static HOST_ATTACHED: AtomicBool = AtomicBool::new(false);

/// Signalled by the node's loop after each poll, so queued serial-radio frames go out.
static NODE_POLLED: Signal<CriticalSectionRawMutex, ()> = Signal::new();

/// Whether a host has spoken to this board since boot.
pub fn host_attached() -> bool {
    HOST_ATTACHED.load(Ordering::Relaxed)
}

/// Tells the console the node has run; call after every poll.
pub fn node_polled() {
    NODE_POLLED.signal(());
}

/// Records where a newly stored image came from.
pub fn image_stored(sequence: u32, source: MacAddress) {
    SHARED.lock(|shared| {
        let mut shared = shared.borrow_mut();
        if shared.sources.is_full() {
            shared.sources.pop_front();
        }
        let _ = shared.sources.push_back((sequence, source.0));
    });
}

/// Records the start of a sender's transfer; `retransmissions` is the node's count so far.
///
/// A start while another is recorded is the same image offered again after
/// a busy receiver refused it (`SenderNode` starts a new session without
/// ending the old one): the result keeps the first offer's start and
/// retransmission count, so it covers the whole wait.
pub fn transfer_started(session: u32, len: u32, now_ms: u64, retransmissions: u32) {
    SHARED.lock(|shared| {
        let mut shared = shared.borrow_mut();
        let (started_ms, before) = match shared.current {
            Some((_, _, started_ms, before)) => (started_ms, before),
            None => (now_ms, retransmissions),
        };
        shared.current = Some((session, len, started_ms, before));
    });
}

/// Whether a sender's transfer has started and not finished. Between a busy
/// receiver's refusal and the next offer the node has no transfer, yet it
/// still holds the captured image and will send it again.
fn transfer_pending() -> bool {
    SHARED.lock(|shared| shared.borrow().current.is_some())
}

/// Records the end of a sender's transfer; returns whether the host asked
/// for another, in which case the caller asks the node for a capture.
pub fn transfer_finished(session: u32, outcome: TransferOutcome, now_ms: u64, retransmissions: u32) -> bool {
    SHARED.lock(|shared| {
        let mut shared = shared.borrow_mut();
        let (len, started_ms, retransmissions_before) = match shared.current.take() {
            Some((current, len, started, before)) if current == session => (len, started, before),
            _ => (0, now_ms, retransmissions),
        };
        let result = TransferResult {
            session,
            len,
            outcome,
            started_ms,
            finished_ms: now_ms,
            retransmissions: retransmissions.wrapping_sub(retransmissions_before),
        };
        if shared.results.is_full() {
            shared.results.pop_front();
        }
        let _ = shared.results.push_back(result);
        if shared.remaining > 0 {
            shared.remaining -= 1;
            true
        } else {
            false
        }
    })
}

/// Forgets the transfers the host asked for (a capture failed: there is nothing to send).
pub fn stop_sending() {
    SHARED.lock(|shared| shared.borrow_mut().remaining = 0);
}

fn source_of(sequence: u32) -> [u8; 6] {
    SHARED.lock(|shared| {
        shared.borrow().sources.iter().find(|(stored, _)| *stored == sequence).map_or([0; 6], |(_, source)| *source)
    })
}

fn now_ms() -> u64 {
    Instant::now().as_millis()
}

/// Encodes and writes one board message; a message too long to encode is
/// answered with an error instead, so the host never waits for nothing.
fn send(id: u16, message: &BoardMessage<'_>) {
    let mut out = [0u8; MAX_ENCODED_LEN];
    match encode_board(id, message, &mut out) {
        Ok(len) => transport::write(&out[..len]),
        Err(_) => {
            if let Ok(len) = encode_board(id, &BoardMessage::Error(ConsoleError::Malformed), &mut out) {
                transport::write(&out[..len]);
            }
        }
    }
}

fn send_error(id: u16, error: ConsoleError) {
    send(id, &BoardMessage::Error(error));
}

/// This build's version: the crate version and, when `cargo xtask firmware`
/// passed one, the git commit.
fn firmware_version() -> heapless::String<48> {
    let mut version = heapless::String::new();
    let _ = version.push_str(env!("CARGO_PKG_VERSION"));
    if let Some(hash) = option_env!("NOWCAM_GIT_HASH") {
        let _ = write!(version, "+{hash}");
    }
    version
}

fn send_ready(id: u16, identity: &Identity, channel: u8) {
    let version = firmware_version();
    let ready = Ready {
        protocol_version: PROTOCOL_VERSION,
        firmware_version: &version,
        chip: CHIP,
        role: identity.role,
        mac: identity.mac.0,
        channel,
        radio: identity.radio,
        // A serial radio carries smaller frames than ESP-NOW's (nowcam-console's limit).
        capacities: identity.radio.capacities(CAPACITIES),
    };
    send(id, &BoardMessage::Ready(ready));
}

async fn lock<N>(node: &'static Node<N>) -> Option<MutexGuard<'static, NoopRawMutex, N>> {
    with_timeout(LOCK_TIMEOUT, node.lock()).await.ok()
}

/// The requests only one role answers.
trait RoleHandler<N: ConsoleNode> {
    async fn handle(&mut self, node: &'static Node<N>, id: u16, request: HostMessage<'_>);
}

/// Runs a receiver's console forever.
pub async fn run_receiver<N: ReceiverAccess>(input: ConsoleInput, node: &'static Node<N>, identity: Identity) -> ! {
    run(input, node, identity, ReceiverHandler { hashes: Deque::new() }).await
}

/// Runs a sender's console forever.
pub async fn run_sender<N: SenderAccess>(input: ConsoleInput, node: &'static Node<N>, identity: Identity) -> ! {
    run(input, node, identity, SenderHandler).await
}

async fn run<N: ConsoleNode, H: RoleHandler<N>>(
    mut input: ConsoleInput,
    node: &'static Node<N>,
    identity: Identity,
    mut handler: H,
) -> ! {
    let mut splitter: FrameSplitter<MAX_ENCODED_LEN> = FrameSplitter::new();
    let mut radio_sent_at: Option<Instant> = None;
    let mut last_malformed: Option<Instant> = None;
    let mut last_byte_at = Instant::now();
    send_ready(0, &identity, identity.channel);
    loop {
        pump_transmits(node, &mut radio_sent_at).await;
        let mut bytes = [0u8; transport::READ_CHUNK];
        // The silence is counted from the last byte, not from this read: the
        // node's loop signals at least once a second, which would otherwise
        // restart a timeout of its own length before it ever expired. With
        // nothing half received there is nothing to time out.
        let quiet_until = (splitter.pending() > 0).then_some(last_byte_at + PARTIAL_FRAME_TIMEOUT);
        let reading = async {
            match quiet_until {
                Some(at) => with_deadline(at, input.read(&mut bytes)).await,
                None => Ok(input.read(&mut bytes).await),
            }
        };
        let len = match select(reading, NODE_POLLED.wait()).await {
            Either::First(Ok(len)) => len,
            Either::First(Err(_)) => {
                // Quiet for a while: whatever run was half received is not coming.
                let _ = splitter.flush();
                0
            }
            Either::Second(()) => 0,
        };
        if len > 0 {
            last_byte_at = Instant::now();
        }
        for &byte in &bytes[..len] {
            let Some(piece) = splitter.push(byte) else {
                continue;
            };
            match piece {
                Piece::Frame(frame) => match decode_host(frame) {
                    Ok((id, request)) => {
                        HOST_ATTACHED.store(true, Ordering::Relaxed);
                        dispatch(node, &identity, &mut handler, &mut radio_sent_at, id, request).await;
                    }
                    Err(error) => send_error(0, error.console_error()),
                },
                // Bytes that are not a frame: answered, at most ten times a second, so a
                // noisy line cannot flood the port.
                Piece::Text(_) => {
                    let now = Instant::now();
                    if last_malformed.is_none_or(|at| now.duration_since(at) >= Duration::from_millis(100)) {
                        last_malformed = Some(now);
                        send_error(0, ConsoleError::Malformed);
                    }
                }
            }
        }
    }
}

async fn dispatch<N: ConsoleNode, H: RoleHandler<N>>(
    node: &'static Node<N>,
    identity: &Identity,
    handler: &mut H,
    radio_sent_at: &mut Option<Instant>,
    id: u16,
    request: HostMessage<'_>,
) {
    match request {
        HostMessage::Hello => {
            let Some(mut node) = lock(node).await else {
                return send_error(id, ConsoleError::Busy);
            };
            // A host that says hello again has started over: a report it owed will not come.
            if let Some(radio) = node.serial_radio() {
                radio.abandon_in_flight();
                *radio_sent_at = None;
            }
            let channel = node.test_radio().channel();
            drop(node);
            crate::radio_event().signal(());
            send_ready(id, identity, channel);
        }
        HostMessage::ReadTelemetry => {
            let Some(mut node) = lock(node).await else {
                return send_error(id, ConsoleError::Busy);
            };
            let counters = node.test_radio().counters();
            let receive_dropped = node.receive_dropped();
            drop(node);
            let telemetry = BoardTelemetry {
                uptime_ms: now_ms(),
                free_heap: u32::try_from(esp_alloc::HEAP.free()).unwrap_or(u32::MAX),
                temperature_centi: crate::telemetry::last_temperature_centi_celsius(),
                frames_sent: counters.frames_sent,
                frames_received: counters.frames_received,
                receive_dropped,
                send_failed: counters.send_failed,
            };
            send(id, &BoardMessage::Telemetry(telemetry));
        }
        HostMessage::SetFaults { seed, preset } => {
            let Some(mut node) = lock(node).await else {
                return send_error(id, ConsoleError::Busy);
            };
            match node.test_radio().set_faults(preset, seed) {
                Ok(()) => send(id, &BoardMessage::Ack),
                Err(FaultsError::UnknownPreset) => send_error(id, ConsoleError::NotFound),
                Err(FaultsError::Invalid) => send_error(id, ConsoleError::Radio),
            }
        }
        HostMessage::Reboot => {
            send(id, &BoardMessage::Ack);
            // Lets the reply leave the FIFO before the port goes down with the chip.
            Timer::after(Duration::from_millis(100)).await;
            esp_hal::system::software_reset()
        }
        HostMessage::RadioDeliver { source, destination, rssi, data } => {
            let Some(mut node) = lock(node).await else {
                return;
            };
            // Not a serial-radio build: the host relays to a board that has a real radio; ignored.
            if let Some(radio) = node.serial_radio() {
                // A full queue drops the frame and counts it, as esp-radio would.
                let _ = radio.deliver(source, destination, rssi, data);
                drop(node);
                crate::radio_event().signal(());
            }
        }
        HostMessage::RadioReport { handle, acknowledged } => {
            let Some(mut node) = lock(node).await else {
                return;
            };
            if let Some(radio) = node.serial_radio() {
                if radio.report(handle, acknowledged).is_ok() {
                    *radio_sent_at = None;
                }
                drop(node);
                crate::radio_event().signal(());
            }
        }
        other => handler.handle(node, id, other).await,
    }
}

/// Writes the serial radio's next frame, and gives up on one whose report is overdue.
async fn pump_transmits<N: ConsoleNode>(node: &'static Node<N>, sent_at: &mut Option<Instant>) {
    let Some(mut node) = lock(node).await else {
        return;
    };
    let Some(radio) = node.serial_radio() else {
        return;
    };
    if let Some(at) = *sent_at {
        if Instant::now().duration_since(at) < REPORT_TIMEOUT {
            return;
        }
        radio.abandon_in_flight();
        *sent_at = None;
        crate::radio_event().signal(());
    }
    if let Some(transmit) = radio.next_transmit() {
        send(0, &BoardMessage::from(transmit));
        *sent_at = Some(Instant::now());
    }
}

struct ReceiverHandler {
    /// SHA-256 of images already hashed, by sequence: stored images never change.
    hashes: Deque<(u32, [u8; 32]), MAX_LIST_LEN>,
}

impl ReceiverHandler {
    /// Hashes a stored image a piece per lock, so the node's loop keeps running.
    async fn sha256<N: ReceiverAccess>(
        &mut self,
        node: &'static Node<N>,
        info: ImageInfo,
    ) -> Result<[u8; 32], ConsoleError> {
        if let Some((_, hash)) = self.hashes.iter().find(|(sequence, _)| *sequence == info.sequence) {
            return Ok(*hash);
        }
        let mut hasher = Sha256::new();
        let mut buffer = [0u8; HASH_PIECE];
        let mut offset = 0u32;
        while offset < info.len {
            let read = {
                let mut node = lock(node).await.ok_or(ConsoleError::Busy)?;
                node.store_mut().read_at(info.sequence, offset, &mut buffer).map_err(store_error)?
            };
            if read == 0 {
                return Err(ConsoleError::Storage);
            }
            hasher.update(&buffer[..read]);
            offset += read as u32;
            // An unlocked mutex is taken without yielding, so without this the
            // whole image would be hashed in one go while the radio pump and
            // the node's loop wait (up to 512 KiB of flash reads and SHA-256).
            embassy_futures::yield_now().await;
        }
        let hash: [u8; 32] = hasher.finalize().into();
        if self.hashes.is_full() {
            self.hashes.pop_front();
        }
        let _ = self.hashes.push_back((info.sequence, hash));
        Ok(hash)
    }
}

fn store_error(error: StoreError) -> ConsoleError {
    match error {
        StoreError::NotFound => ConsoleError::NotFound,
        StoreError::OutOfBounds => ConsoleError::OutOfRange,
        _ => ConsoleError::Storage,
    }
}

impl<N: ReceiverAccess> RoleHandler<N> for ReceiverHandler {
    async fn handle(&mut self, node: &'static Node<N>, id: u16, request: HostMessage<'_>) {
        match request {
            HostMessage::ListImages => {
                let mut infos = [ImageInfo { sequence: 0, len: 0, crc32: 0 }; MAX_LIST_LEN];
                let count = match lock(node).await {
                    Some(mut node) => node.store_mut().list(&mut infos),
                    None => return send_error(id, ConsoleError::Busy),
                };
                let mut images: Vec<StoredImage, MAX_LIST_LEN> = Vec::new();
                for info in &infos[..count.min(MAX_LIST_LEN)] {
                    let sha256 = match self.sha256(node, *info).await {
                        Ok(sha256) => sha256,
                        // Evicted while it was hashed: it is no longer stored, so it is not listed.
                        Err(ConsoleError::NotFound) => continue,
                        Err(error) => return send_error(id, error),
                    };
                    let image = StoredImage {
                        sequence: info.sequence,
                        source: source_of(info.sequence),
                        len: info.len,
                        sha256,
                    };
                    let _ = images.push(image);
                }
                send(id, &BoardMessage::Images { images });
            }
            HostMessage::ReadImage { sequence, offset, len } => {
                let mut buffer = [0u8; MAX_DATA_LEN];
                let wanted = usize::from(len).min(MAX_DATA_LEN);
                let read = match lock(node).await {
                    Some(mut node) => node.store_mut().read_at(sequence, offset, &mut buffer[..wanted]),
                    None => return send_error(id, ConsoleError::Busy),
                };
                match read {
                    Ok(read) => send(id, &BoardMessage::ImageData { sequence, offset, data: &buffer[..read] }),
                    Err(error) => send_error(id, store_error(error)),
                }
            }
            HostMessage::LoadBegin { .. }
            | HostMessage::LoadChunk { .. }
            | HostMessage::LoadEnd { .. }
            | HostMessage::SetPeer { .. }
            | HostMessage::StartTransfer { .. }
            | HostMessage::ReadResults => send_error(id, ConsoleError::WrongRole),
            _ => send_error(id, ConsoleError::UnknownMessage),
        }
    }
}

struct SenderHandler;

fn load_error(error: LoadError) -> ConsoleError {
    match error {
        LoadError::OutOfRange => ConsoleError::OutOfRange,
        LoadError::NotLoading => ConsoleError::NoImageLoaded,
        LoadError::CrcMismatch => ConsoleError::CrcMismatch,
    }
}

impl<N: SenderAccess> RoleHandler<N> for SenderHandler {
    async fn handle(&mut self, node: &'static Node<N>, id: u16, request: HostMessage<'_>) {
        let Some(mut node) = lock(node).await else {
            return send_error(id, ConsoleError::Busy);
        };
        // A load would overwrite the image the node re-offers after a busy
        // refusal, which it then sends mixed with the new one.
        let sending = node.transfer_in_progress() || transfer_pending();
        let reply = match request {
            HostMessage::LoadBegin { len } => {
                if sending {
                    Err(ConsoleError::Busy)
                } else {
                    node.source_mut().begin(len as usize).map_err(load_error)
                }
            }
            HostMessage::LoadChunk { offset, data } => {
                if sending {
                    Err(ConsoleError::Busy)
                } else {
                    node.source_mut().write(offset as usize, data).map_err(load_error)
                }
            }
            HostMessage::LoadEnd { crc32 } => node.source_mut().end(crc32).map_err(load_error),
            HostMessage::SetPeer { receiver, channel } => {
                let receiver = MacAddress(receiver);
                if sending && node.receiver() != Some(receiver) {
                    // A transfer to another receiver runs; it would be cancelled.
                    Err(ConsoleError::Busy)
                } else {
                    match node.test_radio().pin_peer(receiver, channel) {
                        Ok(()) => {
                            node.set_receiver(receiver);
                            Ok(())
                        }
                        Err(_) => Err(ConsoleError::Radio),
                    }
                }
            }
            HostMessage::StartTransfer { count } => {
                if sending {
                    Err(ConsoleError::Busy)
                } else if node.source().ready_len().is_none() {
                    Err(ConsoleError::NoImageLoaded)
                } else {
                    if count > 0 {
                        SHARED.lock(|shared| shared.borrow_mut().remaining = count - 1);
                        node.test_radio().hold(false);
                        node.capture_now();
                    }
                    Ok(())
                }
            }
            HostMessage::ReadResults => {
                drop(node);
                let transfers = SHARED.lock(|shared| shared.borrow().results.iter().copied().collect());
                return send(id, &BoardMessage::Results { transfers });
            }
            HostMessage::ListImages | HostMessage::ReadImage { .. } => Err(ConsoleError::WrongRole),
            _ => Err(ConsoleError::UnknownMessage),
        };
        drop(node);
        crate::radio_event().signal(());
        match reply {
            Ok(()) => send(id, &BoardMessage::Ack),
            Err(error) => send_error(id, error),
        }
    }
}
