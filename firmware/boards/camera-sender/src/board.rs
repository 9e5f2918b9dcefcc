//! Pin maps of the supported boards, one Cargo feature each.
//!
//! Both boards wire the OV2640's upper eight data lines (D2 to D9, called
//! Y2 to Y9 in esp32-camera's pin tables) to the camera port's DATA0 to
//! DATA7, have no power-down or reset line, and carry octal PSRAM.

use esp_hal::gpio::AnyPin;

#[cfg(all(feature = "xiao-esp32s3-sense", feature = "esp32s3-eye"))]
compile_error!("pick one board: `xiao-esp32s3-sense` (the default) or `--no-default-features --features esp32s3-eye`");

#[cfg(not(any(feature = "xiao-esp32s3-sense", feature = "esp32s3-eye")))]
compile_error!("pick a board feature: `xiao-esp32s3-sense` or `esp32s3-eye`");

/// The pins between the ESP32-S3 and the camera module.
pub struct CameraPins {
    /// The sensor's input clock, driven by the camera port.
    pub xclk: AnyPin<'static>,
    pub pclk: AnyPin<'static>,
    pub vsync: AnyPin<'static>,
    pub href: AnyPin<'static>,
    /// D2 to D9 of the sensor, in order.
    pub data: [AnyPin<'static>; 8],
    /// SCCB data (SIOD) and clock (SIOC).
    pub sda: AnyPin<'static>,
    pub scl: AnyPin<'static>,
}

/// Seeed Studio XIAO ESP32S3 Sense, with the camera board plugged in.
#[cfg(feature = "xiao-esp32s3-sense")]
pub const BOARD_NAME: &str = "XIAO ESP32S3 Sense";

/// Espressif ESP32-S3-EYE.
#[cfg(feature = "esp32s3-eye")]
pub const BOARD_NAME: &str = "ESP32-S3-EYE";

/// Moves this board's camera pins out of `peripherals`.
///
/// A macro rather than a function so that `main` can keep using the other
/// peripherals after the pins have moved out.
#[cfg(feature = "xiao-esp32s3-sense")]
macro_rules! camera_pins {
    ($peripherals:ident) => {
        $crate::board::CameraPins {
            xclk: $peripherals.GPIO10.into(),
            pclk: $peripherals.GPIO13.into(),
            vsync: $peripherals.GPIO38.into(),
            href: $peripherals.GPIO47.into(),
            data: [
                $peripherals.GPIO15.into(),
                $peripherals.GPIO17.into(),
                $peripherals.GPIO18.into(),
                $peripherals.GPIO16.into(),
                $peripherals.GPIO14.into(),
                $peripherals.GPIO12.into(),
                $peripherals.GPIO11.into(),
                $peripherals.GPIO48.into(),
            ],
            sda: $peripherals.GPIO40.into(),
            scl: $peripherals.GPIO39.into(),
        }
    };
}

#[cfg(feature = "esp32s3-eye")]
macro_rules! camera_pins {
    ($peripherals:ident) => {
        $crate::board::CameraPins {
            xclk: $peripherals.GPIO15.into(),
            pclk: $peripherals.GPIO13.into(),
            vsync: $peripherals.GPIO6.into(),
            href: $peripherals.GPIO7.into(),
            data: [
                $peripherals.GPIO11.into(),
                $peripherals.GPIO9.into(),
                $peripherals.GPIO8.into(),
                $peripherals.GPIO10.into(),
                $peripherals.GPIO12.into(),
                $peripherals.GPIO18.into(),
                $peripherals.GPIO17.into(),
                $peripherals.GPIO16.into(),
            ],
            sda: $peripherals.GPIO4.into(),
            scl: $peripherals.GPIO5.into(),
        }
    };
}

pub(crate) use camera_pins;
