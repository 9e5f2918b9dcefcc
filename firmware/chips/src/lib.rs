//! What each chip build of nowcam holds, defined once.
//!
//! The board crates take their node capacities from here (one constant per
//! chip), and the simulator runs the same numbers: by default the ESP32-C3
//! build's. A simulated result with larger buffers than the chip has would
//! be a result the chip cannot reproduce.
//!
//! Architecture Invariant: this crate is data. It names chips, because it
//! is the table of chip builds, and depends on nothing in the workspace.
#![no_std]

use core::fmt;

/// A chip nowcam is built for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Chip {
    Esp32,
    Esp32C3,
    Esp32C6,
    Esp32S3,
}

impl Chip {
    pub const ALL: [Chip; 4] = [Chip::Esp32, Chip::Esp32C3, Chip::Esp32C6, Chip::Esp32S3];

    /// The name espflash and the Cargo features use: `esp32c3`.
    pub const fn name(self) -> &'static str {
        match self {
            Chip::Esp32 => "esp32",
            Chip::Esp32C3 => "esp32c3",
            Chip::Esp32C6 => "esp32c6",
            Chip::Esp32S3 => "esp32s3",
        }
    }

    /// The chip of a name as [`Chip::name`] spells it.
    pub fn from_name(name: &str) -> Option<Chip> {
        Chip::ALL.into_iter().find(|chip| chip.name() == name)
    }

    /// What this chip's build holds.
    pub const fn capacities(self) -> Capacities {
        match self {
            Chip::Esp32 => ESP32,
            Chip::Esp32C3 => ESP32C3,
            Chip::Esp32C6 => ESP32C6,
            Chip::Esp32S3 => ESP32S3,
        }
    }
}

impl fmt::Display for Chip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The sizes a chip build of the nodes is compiled with.
///
/// The node sizes are const generic parameters of `SenderNode` and
/// `ReceiverNode`; a board crate writes `{ nowcam_chips::ESP32C3.transfer_words }`
/// where it names the node type, so the two cannot drift apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Capacities {
    /// Transfers a receiver tracks at once (`ReceiverNode`'s `TRANSFERS`).
    pub receiver_transfers: usize,
    /// Bitmap words per receiving transfer (`ReceiverNode`'s `WORDS`): 32 chunks each.
    pub transfer_words: usize,
    /// Bitmap words of a camera's transfer (`SenderNode`'s `WORDS`).
    pub sender_words: usize,
    /// Frames esp-radio's ESP-NOW receive queue holds; a frame arriving at a full queue is dropped.
    pub radio_receive_queue: usize,
    /// Frames the node may queue for sending before `send` answers `QueueFull`.
    pub radio_send_queue: usize,
    /// Sends the driver has on the air at once; the next waits for the send report.
    pub sends_in_flight: usize,
    /// The largest ESP-NOW frame the build's radio sends and takes, in bytes:
    /// its queue slots, and the node's `max_frame_len` (the frame size it
    /// announces to a camera that asks). v1's 250 or v2's 1470.
    pub max_frame_len: usize,
}

impl Capacities {
    /// The largest image a receiving transfer can track, in chunks.
    pub const fn receiver_chunks(&self) -> usize {
        self.transfer_words * 32
    }

    /// The largest image a camera's transfer can track, in chunks.
    pub const fn sender_chunks(&self) -> usize {
        self.sender_words * 32
    }
}

/// esp-radio 1.0.0-beta.1 keeps received ESP-NOW frames in a queue of this
/// many (`esp_now::RECEIVE_QUEUE_SIZE`), dropping newer frames past it.
pub const ESP_RADIO_RECEIVE_QUEUE: usize = 10;

/// Bytes of the receiver boards' image partition (`images` in
/// firmware/boards/partitions.csv, 4 MB flash): the image store's flash,
/// which the simulator and the virtual boards lay out as the chip does
/// (four 576 KiB slots for the default 512 KiB images).
pub const IMAGE_PARTITION_BYTES: u32 = 0x27_0000;

/// ESP-NOW v2's largest payload (`ESP_NOW_MAX_DATA_LEN_V2`, ESP-IDF 5.4 and
/// esp-radio 1.0.0-beta.1): the frames every chip build sends and takes.
pub const ESP_NOW_V2_MAX_DATA_LEN: usize = 1470;

/// The ESP32-C3 build: 400 KB of SRAM, so four transfers of up to 512 KiB,
/// and ESP-NOW v2 frames.
pub const ESP32C3: Capacities = Capacities {
    receiver_transfers: 4,
    transfer_words: 68,
    sender_words: 68,
    radio_receive_queue: ESP_RADIO_RECEIVE_QUEUE,
    radio_send_queue: 8,
    sends_in_flight: 1,
    max_frame_len: ESP_NOW_V2_MAX_DATA_LEN,
};

/// The ESP32-C6 build: the same numbers as the C3.
pub const ESP32C6: Capacities = ESP32C3;

/// The classic ESP32 receiver build: the same numbers as the C3.
pub const ESP32: Capacities = ESP32C3;

/// The ESP32-S3 camera build: the same numbers as the C3.
pub const ESP32S3: Capacities = ESP32C3;

#[cfg(test)]
mod partition_tests {
    use super::IMAGE_PARTITION_BYTES;

    /// The constant is the board's partition table, not a copy that drifts.
    #[test]
    fn the_image_partition_is_the_boards_table() {
        let table = include_str!("../../boards/partitions.csv");
        let images = table
            .lines()
            .find(|line| line.starts_with("images"))
            .expect("an images partition in firmware/boards/partitions.csv");
        let size = images.split(',').nth(4).expect("a size column").trim();
        let size = u32::from_str_radix(size.trim_start_matches("0x"), 16).expect("a hex size");
        assert_eq!(size, IMAGE_PARTITION_BYTES);
    }
}
