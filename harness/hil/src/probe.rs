//! Flashing and RTT logs over the built-in USB-JTAG of the ESP32-C3, C6
//! and S3 through the probe-rs library (feature `probe-rs`; pinned at 0.31,
//! the last release whose built-in targets include the Espressif chips).
//!
//! Like [`crate::flash`], this touches hardware and runs in no test.

use std::path::Path;
use std::time::{Duration, Instant};

use nowcam_chips::Chip;
use probe_rs::flashing::{download_file, FormatKind};
use probe_rs::probe::list::Lister;
use probe_rs::rtt::Rtt;
use probe_rs::Permissions;

/// Why a probe-rs operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("no debug probe found{}", match .0 { Some(serial) => format!(" with serial number {serial:?}"), None => String::new() })]
    NoProbe(Option<String>),
    #[error("the classic ESP32 has no built-in USB-JTAG: flash it over its serial port")]
    NoUsbJtag,
    #[error("probe-rs: {0}")]
    ProbeRs(String),
}

fn target_name(chip: Chip) -> Result<&'static str, ProbeError> {
    match chip {
        Chip::Esp32C3 => Ok("esp32c3"),
        Chip::Esp32C6 => Ok("esp32c6"),
        Chip::Esp32S3 => Ok("esp32s3"),
        Chip::Esp32 => Err(ProbeError::NoUsbJtag),
    }
}

fn probe_rs_error(error: impl std::fmt::Display) -> ProbeError {
    ProbeError::ProbeRs(error.to_string())
}

/// Flashes `elf` through the probe with `serial_number` (or the only one),
/// resets the chip, then reads its RTT up channel 0 for `log_for`.
pub fn flash_and_log(
    chip: Chip,
    serial_number: Option<&str>,
    elf: &Path,
    log_for: Duration,
) -> Result<String, ProbeError> {
    let target = target_name(chip)?;
    let lister = Lister::new();
    let info = lister
        .list_all()
        .into_iter()
        .find(|probe| serial_number.is_none_or(|wanted| probe.serial_number.as_deref() == Some(wanted)))
        .ok_or_else(|| ProbeError::NoProbe(serial_number.map(str::to_owned)))?;
    let probe = info.open().map_err(probe_rs_error)?;
    let mut session = probe.attach(target, Permissions::default()).map_err(probe_rs_error)?;
    download_file(&mut session, elf, FormatKind::Elf).map_err(probe_rs_error)?;
    let mut core = session.core(0).map_err(probe_rs_error)?;
    core.reset().map_err(probe_rs_error)?;
    let mut log = Vec::new();
    let deadline = Instant::now() + log_for;
    let mut rtt = loop {
        match Rtt::attach(&mut core) {
            Ok(rtt) => break rtt,
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
            Err(error) => return Err(probe_rs_error(error)),
        }
    };
    let mut buffer = [0u8; 1024];
    while Instant::now() < deadline {
        let Some(channel) = rtt.up_channel(0) else { break };
        let n = channel.read(&mut core, &mut buffer).map_err(probe_rs_error)?;
        log.extend_from_slice(&buffer[..n]);
        if n == 0 {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    Ok(String::from_utf8_lossy(&log).into_owned())
}
