//! What a node can tell about itself.

/// One reading of a node's health.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct TelemetrySample {
    pub free_heap_bytes: u32,
    /// Chip temperature in hundredths of a degree Celsius, when the chip has a sensor.
    pub chip_temperature_centi_celsius: Option<i16>,
}

/// Reads the node's health: heap, temperature.
pub trait TelemetrySource {
    fn sample(&mut self) -> TelemetrySample;
}
