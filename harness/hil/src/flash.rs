//! Flashing a real board with the merged image `cargo xtask firmware`
//! made, through the espflash library. espflash compares each region's
//! checksum first and skips what the board already holds, so a board that
//! runs the same build is not written again.
//!
//! Only this module and the serial port itself touch hardware; nothing here
//! runs in the tests, which have no board.

use std::path::{Path, PathBuf};

use espflash::connection::{Connection, ResetAfterOperation, ResetBeforeOperation};
use espflash::flasher::Flasher;
use espflash::target::ProgressCallbacks;
use nowcam_chips::Chip;

use crate::inventory::BoardRole;

/// The baud rate espflash connects at; it raises it after the handshake.
const CONNECT_BAUD: u32 = 115_200;
/// The baud rate images are written at (USB-Serial-JTAG ignores it).
const FLASH_BAUD: u32 = 921_600;

/// Why a board could not be flashed.
#[derive(Debug, thiserror::Error)]
pub enum FlashError {
    #[error("board {board}: no firmware image at {path} (run `cargo xtask firmware --chip {chip} --release`)")]
    NoImage { board: String, path: String, chip: Chip },
    #[error("board {board}: cannot read {path}: {source}")]
    Read { board: String, path: String, source: std::io::Error },
    #[error("board {board}: cannot open {port}: {source}")]
    Open { board: String, port: String, source: serialport::Error },
    #[error("board {board}: espflash: {message}")]
    Espflash { board: String, message: String },
}

/// The merged image of one chip and role under `firmware_dir` (firmware/boards/target/nowcam).
pub fn merged_image(firmware_dir: &Path, chip: Chip, role: BoardRole) -> PathBuf {
    let name = match (chip, role) {
        (Chip::Esp32S3, BoardRole::Sender) => "sender",
        (_, role) => role.name(),
    };
    firmware_dir.join(chip.name()).join(format!("{name}.merged.bin"))
}

fn espflash_chip(chip: Chip) -> espflash::target::Chip {
    match chip {
        Chip::Esp32 => espflash::target::Chip::Esp32,
        Chip::Esp32C3 => espflash::target::Chip::Esp32c3,
        Chip::Esp32C6 => espflash::target::Chip::Esp32c6,
        Chip::Esp32S3 => espflash::target::Chip::Esp32s3,
    }
}

/// What flashing did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flashed {
    Written,
    /// The board already held these bytes.
    Unchanged,
}

struct Skipped(bool);

impl ProgressCallbacks for Skipped {
    fn init(&mut self, _addr: u32, _total: usize) {}
    fn update(&mut self, _current: usize) {}
    fn verifying(&mut self) {}
    fn finish(&mut self, skipped: bool) {
        self.0 = skipped;
    }
}

/// Writes `image` (a merged image, flashed at 0) to the board on `port`, then resets it.
pub fn flash(board: &str, port: &str, chip: Chip, image_path: &Path) -> Result<Flashed, FlashError> {
    if !image_path.is_file() {
        return Err(FlashError::NoImage { board: board.into(), path: image_path.display().to_string(), chip });
    }
    let image = std::fs::read(image_path).map_err(|source| FlashError::Read {
        board: board.into(),
        path: image_path.display().to_string(),
        source,
    })?;
    let espflash_error =
        |error: espflash::Error| FlashError::Espflash { board: board.into(), message: error.to_string() };
    let serial = serialport::new(port, CONNECT_BAUD).open_native().map_err(|source| FlashError::Open {
        board: board.into(),
        port: port.into(),
        source,
    })?;
    let info = serialport::available_ports()
        .unwrap_or_default()
        .into_iter()
        .find_map(|p| match p.port_type {
            serialport::SerialPortType::UsbPort(usb) if p.port_name == port => Some(usb),
            _ => None,
        })
        // Espressif's USB-Serial-JTAG, when sysfs does not say.
        .unwrap_or(serialport::UsbPortInfo {
            vid: 0x303a,
            pid: 0x1001,
            serial_number: None,
            manufacturer: None,
            product: None,
            interface: None,
        });
    let connection =
        Connection::new(serial, info, ResetAfterOperation::HardReset, ResetBeforeOperation::DefaultReset, CONNECT_BAUD);
    let mut flasher = Flasher::connect(connection, true, true, true, Some(espflash_chip(chip)), Some(FLASH_BAUD))
        .map_err(espflash_error)?;
    let mut progress = Skipped(false);
    flasher.write_bin_to_flash(0, &image, &mut progress).map_err(espflash_error)?;
    let mut connection = flasher.into_connection();
    connection.reset_after(true, espflash_chip(chip)).map_err(espflash_error)?;
    Ok(if progress.0 { Flashed::Unchanged } else { Flashed::Written })
}
