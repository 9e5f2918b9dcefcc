//! The seed project's format (esp-cam-now-server), so that an AI-Thinker
//! ESP32-CAM still running its Arduino sketch can send to a nowcam receiver.
//!
//! ```text
//! metadata (12 bytes): image size u32 LE | packet count u32 LE | packet size u32 LE
//! data (3..=130 bytes): packet index u16 BE | up to 128 bytes of JPEG
//! ```
//!
//! The seed's own receiver appends chunks in arrival order, takes a resent
//! metadata frame as image data and accepts one image per boot. This one
//! places chunks by index, ignores a resent metadata frame, accepts one image
//! after another and checks every length. The format has no checksum, so a
//! legacy image is committed with the CRC-32 of what arrived.
//!
//! The format cannot be authenticated, and any 12-byte frame parses as
//! metadata: a nowcam receiver takes it only from senders configured as
//! legacy cameras, refuses empty images, and takes a store slot only at the
//! first data packet, so that metadata alone never erases or writes flash.

use crate::bitmap::ChunkBitmap;
use crate::chunker::CRC32;
use crate::receiver::TransferStore;
use crate::time::{Duration, Instant};

/// Bytes of the metadata frame.
pub const METADATA_LEN: usize = 12;
/// Bytes of the index in front of every data frame.
pub const INDEX_LEN: usize = 2;
/// The seed's packet size.
pub const SEED_PACKET_SIZE: u32 = 128;
/// The largest packet size this codec accepts (the rest of an ESP-NOW frame after the index).
pub const MAX_PACKET_SIZE: u32 = 248;

/// The seed's metadata frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Metadata {
    pub image_len: u32,
    pub packet_count: u32,
    pub packet_size: u32,
}

/// One data frame of the seed's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DataFrame<'a> {
    pub index: u16,
    pub payload: &'a [u8],
}

/// Why a legacy frame was not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum LegacyError {
    /// the frame is shorter than an index plus one byte, or longer than any legacy frame
    BadLength,
    /// the metadata's size, count and packet size disagree, or exceed the limits
    BadMetadata,
    /// the image is larger than the receiver accepts
    TooLarge,
    /// a data frame arrived with no transfer in progress
    NoTransfer,
    /// the packet index is past the announced count
    IndexOutOfRange,
    /// the payload length is not the one the metadata implies
    WrongLength,
    /// the store refused the image or a write
    Store,
}

impl core::fmt::Display for LegacyError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            LegacyError::BadLength => "the frame length fits no legacy frame",
            LegacyError::BadMetadata => "the metadata is inconsistent",
            LegacyError::TooLarge => "the image is larger than the receiver accepts",
            LegacyError::NoTransfer => "a data frame arrived with no transfer in progress",
            LegacyError::IndexOutOfRange => "the packet index is past the announced count",
            LegacyError::WrongLength => "the payload length does not match the metadata",
            LegacyError::Store => "the store refused the image",
        })
    }
}

impl core::error::Error for LegacyError {}

impl Metadata {
    /// Reads a 12-byte metadata frame and checks that its fields agree.
    pub fn parse(bytes: &[u8]) -> Result<Self, LegacyError> {
        let bytes: &[u8; METADATA_LEN] = bytes.try_into().map_err(|_| LegacyError::BadLength)?;
        let field = |i: usize| u32::from_le_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
        let metadata = Metadata { image_len: field(0), packet_count: field(4), packet_size: field(8) };
        if metadata.is_consistent() {
            Ok(metadata)
        } else {
            Err(LegacyError::BadMetadata)
        }
    }

    pub fn for_image(image_len: u32, packet_size: u32) -> Self {
        Self { image_len, packet_count: image_len.div_ceil(packet_size.max(1)), packet_size }
    }

    fn is_consistent(&self) -> bool {
        self.image_len > 0
            && (1..=MAX_PACKET_SIZE).contains(&self.packet_size)
            && self.packet_count <= u32::from(u16::MAX) + 1
            && self.packet_count == self.image_len.div_ceil(self.packet_size)
    }

    pub fn emit(&self) -> [u8; METADATA_LEN] {
        let mut out = [0u8; METADATA_LEN];
        out[0..4].copy_from_slice(&self.image_len.to_le_bytes());
        out[4..8].copy_from_slice(&self.packet_count.to_le_bytes());
        out[8..12].copy_from_slice(&self.packet_size.to_le_bytes());
        out
    }

    /// The payload length of packet `index`, `None` past the last packet.
    pub fn len_of(&self, index: u16) -> Option<usize> {
        let start = u32::from(index).checked_mul(self.packet_size)?;
        if u32::from(index) >= self.packet_count {
            return None;
        }
        Some(self.image_len.checked_sub(start)?.min(self.packet_size) as usize)
    }
}

impl<'a> DataFrame<'a> {
    pub fn parse(bytes: &'a [u8]) -> Result<Self, LegacyError> {
        if bytes.len() <= INDEX_LEN || bytes.len() > INDEX_LEN + MAX_PACKET_SIZE as usize {
            return Err(LegacyError::BadLength);
        }
        Ok(DataFrame { index: u16::from_be_bytes([bytes[0], bytes[1]]), payload: &bytes[INDEX_LEN..] })
    }

    /// Writes the frame into `buffer` and returns its length.
    pub fn emit(&self, buffer: &mut [u8]) -> Option<usize> {
        let len = INDEX_LEN + self.payload.len();
        let out = buffer.get_mut(..len)?;
        out[..INDEX_LEN].copy_from_slice(&self.index.to_be_bytes());
        out[INDEX_LEN..].copy_from_slice(self.payload);
        Some(len)
    }
}

/// Whether bytes from the air look like the seed's format rather than nowcam's.
pub fn looks_legacy(bytes: &[u8]) -> bool {
    bytes.first().is_some_and(|b| *b != crate::wire::MAGIC) && bytes.len() <= INDEX_LEN + MAX_PACKET_SIZE as usize
}

/// What a legacy frame did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum LegacyEvent {
    /// a new image began (a previous unfinished one, if any, was dropped)
    Started(Metadata),
    /// the same metadata again (the sender's MAC missed our acknowledgement): ignored
    RepeatedMetadata,
    /// a new packet was placed
    Placed { index: u16 },
    /// a packet that had already arrived: dropped
    Duplicate { index: u16 },
    /// every packet arrived and the image is committed with this CRC-32
    Stored { metadata: Metadata, crc32: u32 },
    /// the sender went silent and the partial image was dropped
    Expired(Metadata),
}

struct LegacyTransfer<Slot, const WORDS: usize> {
    metadata: Metadata,
    /// Taken at the first data packet.
    slot: Option<Slot>,
    received: ChunkBitmap<WORDS>,
    received_count: u32,
    last_heard: Instant,
}

/// A receiver of the seed's format, for one sender, one image after another.
pub struct LegacyReceiver<Slot, const WORDS: usize> {
    max_image_len: u32,
    idle_timeout: Duration,
    transfer: Option<LegacyTransfer<Slot, WORDS>>,
    /// The metadata of the image stored last, to tell a late resend from a new image.
    last_stored: Option<(Metadata, Instant)>,
}

impl<Slot: Copy + core::fmt::Debug, const WORDS: usize> LegacyReceiver<Slot, WORDS> {
    pub fn new(max_image_len: u32, idle_timeout: Duration) -> Self {
        Self { max_image_len, idle_timeout, transfer: None, last_stored: None }
    }

    /// The image in progress and how many packets have arrived.
    pub fn progress(&self) -> Option<(Metadata, u32)> {
        self.transfer.as_ref().map(|t| (t.metadata, t.received_count))
    }

    /// Handles one legacy frame.
    pub fn handle<S: TransferStore<Slot = Slot>>(
        &mut self,
        now: Instant,
        bytes: &[u8],
        store: &mut S,
    ) -> Result<LegacyEvent, LegacyError> {
        if bytes.len() == METADATA_LEN && !self.is_last_data_packet(bytes) {
            return self.handle_metadata(now, Metadata::parse(bytes)?, store);
        }
        let data = DataFrame::parse(bytes)?;
        let transfer = self.transfer.as_mut().ok_or(LegacyError::NoTransfer)?;
        let expected = transfer.metadata.len_of(data.index).ok_or(LegacyError::IndexOutOfRange)?;
        if data.payload.len() != expected {
            return Err(LegacyError::WrongLength);
        }
        transfer.last_heard = now;
        if transfer.received.contains(usize::from(data.index)) {
            return Ok(LegacyEvent::Duplicate { index: data.index });
        }
        // Marked received only once written, so a packet whose write failed is taken again.
        let offset = u32::from(data.index) * transfer.metadata.packet_size;
        let slot = match transfer.slot {
            Some(slot) => slot,
            None => *transfer.slot.insert(store.begin(transfer.metadata.image_len).map_err(|_| LegacyError::Store)?),
        };
        store.write_at(slot, offset, data.payload).map_err(|_| LegacyError::Store)?;
        transfer.received.insert(usize::from(data.index));
        transfer.received_count += 1;
        if transfer.received_count < transfer.metadata.packet_count {
            return Ok(LegacyEvent::Placed { index: data.index });
        }
        self.finish(now, store)
    }

    /// A 12-byte frame is the last data packet when a transfer expects exactly that.
    fn is_last_data_packet(&self, bytes: &[u8]) -> bool {
        let Some(transfer) = &self.transfer else {
            return false;
        };
        let last = transfer.metadata.packet_count.saturating_sub(1);
        let index = u16::from_be_bytes([bytes[0], bytes[1]]);
        u32::from(index) == last
            && transfer.metadata.len_of(index) == Some(METADATA_LEN - INDEX_LEN)
            && !transfer.received.contains(usize::from(index))
    }

    fn handle_metadata<S: TransferStore<Slot = Slot>>(
        &mut self,
        now: Instant,
        metadata: Metadata,
        store: &mut S,
    ) -> Result<LegacyEvent, LegacyError> {
        if let Some(transfer) = &mut self.transfer {
            if transfer.metadata == metadata && transfer.received_count == 0 {
                transfer.last_heard = now;
                return Ok(LegacyEvent::RepeatedMetadata);
            }
        }
        // The seed resends metadata only until its MAC sees an acknowledgement,
        // one 500 ms gap later; a match later than that is a new image.
        if let Some((stored, at)) = self.last_stored {
            if stored == metadata && now < at + Duration::from_millis(600) {
                return Ok(LegacyEvent::RepeatedMetadata);
            }
        }
        if metadata.image_len > self.max_image_len {
            return Err(LegacyError::TooLarge);
        }
        if metadata.packet_count as usize > ChunkBitmap::<WORDS>::CAPACITY {
            return Err(LegacyError::TooLarge);
        }
        if let Some(old) = self.transfer.take() {
            if let Some(slot) = old.slot {
                store.abandon(slot);
            }
        }
        self.transfer = Some(LegacyTransfer {
            metadata,
            slot: None,
            received: ChunkBitmap::new(),
            received_count: 0,
            last_heard: now,
        });
        Ok(LegacyEvent::Started(metadata))
    }

    fn finish<S: TransferStore<Slot = Slot>>(
        &mut self,
        now: Instant,
        store: &mut S,
    ) -> Result<LegacyEvent, LegacyError> {
        let transfer = self.transfer.take().ok_or(LegacyError::NoTransfer)?;
        let slot = transfer.slot.ok_or(LegacyError::Store)?;
        let mut digest = CRC32.digest();
        let mut buffer = [0u8; 256];
        let mut offset = 0;
        while offset < transfer.metadata.image_len {
            let want = ((transfer.metadata.image_len - offset) as usize).min(buffer.len());
            let got = store.read_at(slot, offset, &mut buffer[..want]).map_err(|_| LegacyError::Store)?;
            if got == 0 {
                store.abandon(slot);
                return Err(LegacyError::Store);
            }
            digest.update(&buffer[..got]);
            offset += got as u32;
        }
        let crc32 = digest.finalize();
        if store.commit(slot, crc32).is_err() {
            store.abandon(slot);
            return Err(LegacyError::Store);
        }
        self.last_stored = Some((transfer.metadata, now));
        Ok(LegacyEvent::Stored { metadata: transfer.metadata, crc32 })
    }

    /// Drops the transfer if the sender has been silent too long.
    pub fn poll<S: TransferStore<Slot = Slot>>(&mut self, now: Instant, store: &mut S) -> Option<LegacyEvent> {
        let transfer = self.transfer.as_ref()?;
        if now < transfer.last_heard + self.idle_timeout {
            return None;
        }
        let transfer = self.transfer.take()?;
        if let Some(slot) = transfer.slot {
            store.abandon(slot);
        }
        Some(LegacyEvent::Expired(transfer.metadata))
    }

    pub fn poll_at(&self) -> Option<Instant> {
        self.transfer.as_ref().map(|t| t.last_heard + self.idle_timeout)
    }
}

/// The seed's sender, as it really behaves: one frame, then 500 ms of
/// silence, and the same frame again while the MAC reports failure.
#[derive(Debug, Clone)]
pub struct LegacySender {
    metadata: Metadata,
    gap: Duration,
    /// 0 is the metadata frame; `n` is data packet `n - 1`.
    next: u32,
    awaiting_report: bool,
    next_send_at: Instant,
    frames_sent: u32,
    retransmissions: u32,
    resend: bool,
}

impl LegacySender {
    /// The seed's timing: 128-byte packets, 500 ms after every send.
    pub fn seed(image_len: u32, now: Instant) -> Self {
        Self::new(image_len, SEED_PACKET_SIZE, Duration::from_millis(500), now)
    }

    /// A packet size outside 1..=248 is clamped into it.
    pub fn new(image_len: u32, packet_size: u32, gap: Duration, now: Instant) -> Self {
        let packet_size = packet_size.clamp(1, MAX_PACKET_SIZE);
        Self {
            metadata: Metadata::for_image(image_len, packet_size),
            gap,
            next: 0,
            awaiting_report: false,
            next_send_at: now,
            frames_sent: 0,
            retransmissions: 0,
            resend: false,
        }
    }

    pub fn metadata(&self) -> Metadata {
        self.metadata
    }

    pub fn frames_sent(&self) -> u32 {
        self.frames_sent
    }

    pub fn retransmissions(&self) -> u32 {
        self.retransmissions
    }

    /// Whether every frame was acknowledged by the MAC.
    pub fn is_finished(&self) -> bool {
        self.next > self.metadata.packet_count
    }

    /// Writes the next frame when its time has come.
    pub fn poll_transmit(&mut self, now: Instant, image: &[u8], buffer: &mut [u8]) -> Option<usize> {
        if self.is_finished() || self.awaiting_report || now < self.next_send_at {
            return None;
        }
        let len = if self.next == 0 {
            let bytes = self.metadata.emit();
            buffer.get_mut(..METADATA_LEN)?.copy_from_slice(&bytes);
            METADATA_LEN
        } else {
            let index = (self.next - 1) as u16;
            let start = (self.next - 1) as usize * self.metadata.packet_size as usize;
            let payload = image.get(start..start + self.metadata.len_of(index)?)?;
            DataFrame { index, payload }.emit(buffer)?
        };
        self.awaiting_report = true;
        self.frames_sent += 1;
        if self.resend {
            self.retransmissions += 1;
        }
        self.next_send_at = now + self.gap;
        Some(len)
    }

    /// The MAC's verdict on the last frame: resend it on failure, else move on.
    pub fn on_send_report(&mut self, acknowledged: bool) {
        self.awaiting_report = false;
        self.resend = !acknowledged;
        if acknowledged {
            self.next += 1;
        }
    }

    pub fn poll_at(&self) -> Option<Instant> {
        (!self.is_finished() && !self.awaiting_report).then_some(self.next_send_at)
    }
}
