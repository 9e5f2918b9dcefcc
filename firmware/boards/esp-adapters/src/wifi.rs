//! Starting the WiFi driver for ESP-NOW, with or without an access point.

use esp_hal::efuse::{self, InterfaceMacAddress};
use esp_radio::wifi::{ControllerConfig, PowerSaveMode, WifiController, WifiError};
use nowcam_ports::MacAddress;

/// Starts the WiFi driver with no network configured: ESP-NOW only.
///
/// Power saving is off because a sleeping modem misses ESP-NOW frames.
pub fn start(
    wifi: esp_hal::peripherals::WIFI<'static>,
    config: ControllerConfig,
) -> Result<WifiController<'static>, WifiError> {
    let mut controller = WifiController::new(wifi, config)?;
    controller.set_power_saving(PowerSaveMode::None)?;
    Ok(controller)
}

/// The station address, which ESP-NOW frames carry as their source.
pub fn station_address() -> MacAddress {
    let mac = efuse::interface_mac_address(InterfaceMacAddress::Station);
    let mut octets = [0; 6];
    octets.copy_from_slice(mac.as_bytes());
    MacAddress::new(octets)
}

/// Parses a channel from build-time configuration: 1 to 14, or `None`.
pub const fn parse_channel(text: Option<&str>) -> Option<u8> {
    let Some(text) = text else { return None };
    let bytes = text.as_bytes();
    if bytes.is_empty() || bytes.len() > 2 {
        return None;
    }
    let mut value: u8 = 0;
    let mut index = 0;
    while index < bytes.len() {
        let digit = bytes[index];
        if !digit.is_ascii_digit() {
            return None;
        }
        value = value * 10 + (digit - b'0');
        index += 1;
    }
    if value >= 1 && value <= 14 {
        Some(value)
    } else {
        None
    }
}
