//! Which chip this build is for, and what its nodes hold.
//!
//! The numbers come from `nowcam-chips`, which the simulator reads too: the
//! board crates name their node types with these constants, so a simulated
//! run and a chip build cannot hold different sizes.

use nowcam_chips::{Capacities, Chip};

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
