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

/// The country esp-radio configures when the board names none
/// (`ControllerConfig::default()`, esp-radio 1.0.0-beta.1 `src/wifi/mod.rs`).
pub const COUNTRY: &str = "CN";

/// The channels esp-radio enables: `CountryInfo::into_blob` sets channels
/// 1 to 13 (`schan: 1, nchan: 13`) for every country, so channel 14 is
/// refused at run time, and a board fixed to it would restart forever.
pub const FIRST_CHANNEL: u8 = 1;
pub const LAST_CHANNEL: u8 = 13;

/// Why a build-time channel is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChannelError {
    /// not a decimal number
    NotANumber,
    /// outside the channels the country allows
    NotInCountry,
}

/// Reads a channel from build-time configuration (`NOWCAM_CHANNEL`): `None`
/// when unset, else a channel of [`COUNTRY`].
pub const fn channel_in_country(text: Option<&str>) -> Result<Option<u8>, ChannelError> {
    let Some(text) = text else { return Ok(None) };
    let bytes = text.as_bytes();
    if bytes.is_empty() || bytes.len() > 2 {
        return Err(ChannelError::NotANumber);
    }
    let mut value: u8 = 0;
    let mut index = 0;
    while index < bytes.len() {
        let digit = bytes[index];
        if !digit.is_ascii_digit() {
            return Err(ChannelError::NotANumber);
        }
        value = value * 10 + (digit - b'0');
        index += 1;
    }
    if value >= FIRST_CHANNEL && value <= LAST_CHANNEL {
        Ok(Some(value))
    } else {
        Err(ChannelError::NotInCountry)
    }
}

/// The build-time channel, for a `const`: a value the country does not
/// allow stops the build with a message naming the variable and the range.
pub const fn build_channel(text: Option<&str>) -> Option<u8> {
    match channel_in_country(text) {
        Ok(channel) => channel,
        Err(ChannelError::NotANumber) => panic!("NOWCAM_CHANNEL must be a number from 1 to 13"),
        Err(ChannelError::NotInCountry) => panic!(
            "NOWCAM_CHANNEL must be from 1 to 13: esp-radio's country (CN) enables channels 1 to 13 only, and refuses the others at run time"
        ),
    }
}

// The channel rule, checked whenever this crate builds.
const _: () = {
    assert!(matches!(channel_in_country(None), Ok(None)));
    assert!(matches!(channel_in_country(Some("1")), Ok(Some(1))));
    assert!(matches!(channel_in_country(Some("06")), Ok(Some(6))));
    assert!(matches!(channel_in_country(Some("13")), Ok(Some(13))));
    assert!(matches!(channel_in_country(Some("14")), Err(ChannelError::NotInCountry)));
    assert!(matches!(channel_in_country(Some("0")), Err(ChannelError::NotInCountry)));
    assert!(matches!(channel_in_country(Some("")), Err(ChannelError::NotANumber)));
    assert!(matches!(channel_in_country(Some("6 ")), Err(ChannelError::NotANumber)));
    assert!(matches!(channel_in_country(Some("100")), Err(ChannelError::NotANumber)));
};
