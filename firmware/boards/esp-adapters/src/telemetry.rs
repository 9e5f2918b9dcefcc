//! Node health: free heap from esp-alloc, chip temperature where esp-hal has a sensor driver.

use nowcam_ports::{TelemetrySample, TelemetrySource};

#[cfg(any(feature = "esp32c3", feature = "esp32c6", feature = "esp32s3"))]
type Sensor = esp_hal::tsens::TemperatureSensor<'static>;

/// Reads free heap and, on chips with a temperature sensor driver, the die temperature.
pub struct EspTelemetry {
    #[cfg(any(feature = "esp32c3", feature = "esp32c6", feature = "esp32s3"))]
    sensor: Option<Sensor>,
}

impl EspTelemetry {
    /// Telemetry with the chip's temperature sensor, when it starts.
    #[cfg(any(feature = "esp32c3", feature = "esp32c6", feature = "esp32s3"))]
    pub fn new(tsens: esp_hal::peripherals::TSENS<'static>) -> Self {
        let sensor = Sensor::new(tsens, esp_hal::tsens::Config::default()).ok();
        EspTelemetry { sensor }
    }

    /// Telemetry without a temperature: esp-hal has no sensor driver for this chip.
    #[cfg(not(any(feature = "esp32c3", feature = "esp32c6", feature = "esp32s3")))]
    pub fn new() -> Self {
        EspTelemetry {}
    }

    fn temperature_centi_celsius(&self) -> Option<i16> {
        #[cfg(any(feature = "esp32c3", feature = "esp32c6", feature = "esp32s3"))]
        {
            let celsius = self.sensor.as_ref()?.get_temperature().to_celsius();
            let centi = (celsius * 100.0) as i32;
            Some(centi.clamp(i16::MIN as i32, i16::MAX as i32) as i16)
        }
        #[cfg(not(any(feature = "esp32c3", feature = "esp32c6", feature = "esp32s3")))]
        {
            None
        }
    }
}

#[cfg(not(any(feature = "esp32c3", feature = "esp32c6", feature = "esp32s3")))]
impl Default for EspTelemetry {
    fn default() -> Self {
        Self::new()
    }
}

impl TelemetrySource for EspTelemetry {
    fn sample(&mut self) -> TelemetrySample {
        TelemetrySample {
            free_heap_bytes: u32::try_from(esp_alloc::HEAP.free()).unwrap_or(u32::MAX),
            chip_temperature_centi_celsius: self.temperature_centi_celsius(),
        }
    }
}
