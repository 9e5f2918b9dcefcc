//! The ESP-NOW radio as the protocol sees it: frames of at most 1470 bytes
//! (v2; a radio may allow fewer, v1's 250) to
//! and from 6-byte addresses, a bounded transmit queue, and a send report per
//! frame that tells whether the 802.11 MAC acknowledgement arrived.

use nowcam_proto::MacAddress;

/// The largest frame ESP-NOW v2 carries (`ESP_NOW_MAX_DATA_LEN_V2`): the
/// size of a buffer that holds any received frame. A radio configured for
/// smaller frames (ESP-NOW v1: 250 bytes) refuses longer sends with
/// [`SendError::FrameTooLong`].
pub const MAX_FRAME_LEN: usize = 1470;

/// The largest frame ESP-NOW v1 carries (`ESP_NOW_MAX_DATA_LEN`).
pub const V1_MAX_FRAME_LEN: usize = 250;

/// Names one accepted send, so that its report can be matched to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct SendHandle(pub u32);

/// The outcome of one send, as the MAC saw it.
///
/// `acknowledged == false` means the frame was lost, or it arrived and every
/// acknowledgement was lost: it is a hint, never proof of loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct SendReport {
    pub handle: SendHandle,
    pub acknowledged: bool,
}

/// A frame the radio received, copied into the caller's buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Received {
    pub source: MacAddress,
    pub destination: MacAddress,
    pub len: usize,
    /// Signal strength in dBm, when the radio reports it.
    pub rssi: Option<i8>,
}

/// Why the radio refused a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum SendError {
    /// the transmit queue is full (ESP-NOW's `ESP_ERR_ESPNOW_NO_MEM`)
    QueueFull,
    /// the frame is longer than the radio's frame size
    FrameTooLong,
    /// the destination is not a registered peer and could not be added
    UnknownPeer,
    /// the radio driver failed
    Driver,
}

impl core::fmt::Display for SendError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            SendError::QueueFull => "the transmit queue is full",
            SendError::FrameTooLong => "the frame is longer than the radio's frame size",
            SendError::UnknownPeer => "the destination is not a registered peer",
            SendError::Driver => "the radio driver failed",
        })
    }
}

impl core::error::Error for SendError {}

/// An ESP-NOW radio, polled: nothing here blocks or waits.
pub trait Radio {
    /// This station's own address.
    fn address(&self) -> MacAddress;

    /// Queues one frame for `destination`; [`MacAddress::BROADCAST`] sends without acknowledgement.
    fn send(&mut self, destination: MacAddress, frame: &[u8]) -> Result<SendHandle, SendError>;

    /// The next report of a finished send, if any.
    fn poll_send_report(&mut self) -> Option<SendReport>;

    /// Copies the next received frame into `buffer`, if any.
    fn receive(&mut self, buffer: &mut [u8; MAX_FRAME_LEN]) -> Option<Received>;

    /// Whether [`Radio::receive`] may have a frame: `false` only when it
    /// surely has none, which spares the caller a frame buffer. The default
    /// does not know and says `true`.
    fn may_have_frames(&self) -> bool {
        true
    }

    /// The WiFi channel (1 to 14) the radio listens and sends on.
    fn channel(&self) -> u8;

    /// Moves to another channel; radios tied to an access point refuse.
    fn set_channel(&mut self, channel: u8) -> Result<(), SendError>;
}
