//! The node's clock: embassy's monotonic time as a protocol `Instant`.

use nowcam_ports::Instant;

/// Microseconds since boot, the time every `poll` of a node takes.
pub fn now() -> Instant {
    Instant::from_micros(embassy_time::Instant::now().as_micros())
}

/// The embassy instant for a protocol deadline, to sleep until it.
pub fn to_embassy(instant: Instant) -> embassy_time::Instant {
    embassy_time::Instant::from_micros(instant.as_micros())
}
