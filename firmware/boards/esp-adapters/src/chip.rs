//! Which chip this build is for, and what its nodes hold.
//!
//! The numbers come from `nowcam-chips`, which the simulator reads too: the
//! board crates name their node types with these constants, so a simulated
//! run and a chip build cannot hold different sizes.

use nowcam_chips::{Capacities, Chip};
use nowcam_console::RadioKind;

#[cfg(feature = "esp32c3")]
pub const CHIP: Chip = Chip::Esp32C3;
#[cfg(feature = "esp32c3")]
pub const CAPACITIES: Capacities = nowcam_chips::ESP32C3;

#[cfg(feature = "esp32c6")]
pub const CHIP: Chip = Chip::Esp32C6;
#[cfg(feature = "esp32c6")]
pub const CAPACITIES: Capacities = nowcam_chips::ESP32C6;

#[cfg(feature = "esp32")]
pub const CHIP: Chip = Chip::Esp32;
#[cfg(feature = "esp32")]
pub const CAPACITIES: Capacities = nowcam_chips::ESP32;

#[cfg(feature = "esp32s3")]
pub const CHIP: Chip = Chip::Esp32S3;
#[cfg(feature = "esp32s3")]
pub const CAPACITIES: Capacities = nowcam_chips::ESP32S3;

/// Transfers a receiver tracks at once (`ReceiverNode`'s `TRANSFERS`).
pub const RECEIVER_TRANSFERS: usize = CAPACITIES.receiver_transfers;

/// Bitmap words of one receiving transfer (`ReceiverNode`'s `WORDS`).
pub const TRANSFER_WORDS: usize = CAPACITIES.transfer_words;

/// Bitmap words of a camera's transfer (`SenderNode`'s `WORDS`).
pub const SENDER_WORDS: usize = CAPACITIES.sender_words;

/// The largest frame a node of this build sends and takes over ESP-NOW (its
/// `max_frame_len`): the capacities' `max_frame_len`, which the radio
/// adapter's `FRAME_LEN` equals (checked there).
pub const ESP_NOW_FRAME_LEN: u16 = CAPACITIES.max_frame_len as u16;
const _: () = assert!(ESP_NOW_FRAME_LEN as usize == CAPACITIES.max_frame_len, "a frame length fits a u16");

/// The largest frame a node of this build sends and takes over `radio`,
/// as its ready message reports it: a serial radio's frames must fit one
/// console message, so they stay at ESP-NOW v1's 250 bytes.
pub const fn node_frame_len(radio: RadioKind) -> u16 {
    radio.capacities(CAPACITIES).max_frame_len as u16
}
