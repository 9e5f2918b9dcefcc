//! Node health: free heap from esp-alloc, chip temperature where esp-hal has a sensor driver.
//!
//! esp-hal 1.2.2 has its temperature sensor driver (`esp_hal::tsens`, behind
//! `soc_has_tsens`) on the ESP32-C3 and ESP32-C6 only: the ESP32 and the
//! ESP32-S3 report no temperature (esp-metadata-generated 0.5.3).

use core::sync::atomic::{AtomicI32, Ordering};

use nowcam_ports::{TelemetrySample, TelemetrySource};

/// The last temperature sampled, in hundredths of a degree; `NO_TEMPERATURE` before the first.
static LAST_TEMPERATURE: AtomicI32 = AtomicI32::new(NO_TEMPERATURE);
const NO_TEMPERATURE: i32 = i32::MIN;

/// The chip temperature the node's telemetry last sampled, for the test
/// console, which cannot reach the sensor the node owns.
pub fn last_temperature_centi_celsius() -> Option<i16> {
    i16::try_from(LAST_TEMPERATURE.load(Ordering::Relaxed)).ok()
}

#[cfg(any(feature = "esp32c3", feature = "esp32c6"))]
type Sensor = esp_hal::tsens::TemperatureSensor<'static>;

/// Reads free heap and, on chips with a temperature sensor driver, the die temperature.
pub struct EspTelemetry {
    #[cfg(any(feature = "esp32c3", feature = "esp32c6"))]
    sensor: Option<Sensor>,
}

impl EspTelemetry {
    /// Telemetry with the chip's temperature sensor, when it starts.
    #[cfg(any(feature = "esp32c3", feature = "esp32c6"))]
    pub fn new(tsens: esp_hal::peripherals::TSENS<'static>) -> Self {
        let sensor = Sensor::new(tsens, esp_hal::tsens::Config::default()).ok();
        EspTelemetry { sensor }
    }

    /// Telemetry without a temperature: esp-hal has no sensor driver for this chip.
    #[cfg(not(any(feature = "esp32c3", feature = "esp32c6")))]
    pub fn new() -> Self {
        EspTelemetry {}
    }

    fn temperature_centi_celsius(&self) -> Option<i16> {
        #[cfg(any(feature = "esp32c3", feature = "esp32c6"))]
        {
            let celsius = self.sensor.as_ref()?.get_temperature().to_celsius();
            let centi = (celsius * 100.0) as i32;
            Some(centi.clamp(i16::MIN as i32, i16::MAX as i32) as i16)
        }
        #[cfg(not(any(feature = "esp32c3", feature = "esp32c6")))]
        {
            None
        }
    }
}

#[cfg(not(any(feature = "esp32c3", feature = "esp32c6")))]
impl Default for EspTelemetry {
    fn default() -> Self {
        Self::new()
    }
}

impl TelemetrySource for EspTelemetry {
    fn sample(&mut self) -> TelemetrySample {
        let temperature = self.temperature_centi_celsius();
        LAST_TEMPERATURE.store(temperature.map_or(NO_TEMPERATURE, i32::from), Ordering::Relaxed);
        TelemetrySample {
            free_heap_bytes: u32::try_from(esp_alloc::HEAP.free()).unwrap_or(u32::MAX),
            chip_temperature_centi_celsius: temperature,
        }
    }
}
