//! What every board does first, and what it does when a driver fails at boot.

use core::fmt::Display;

use esp_println::println;

/// A seed for the protocol's session ids and backoff, from the hardware RNG.
///
/// The RNG draws entropy from the radio once WiFi runs; call this after
/// starting it.
pub fn random_seed() -> u64 {
    let rng = esp_hal::rng::Rng::new();
    (u64::from(rng.random()) << 32) | u64::from(rng.random())
}

/// Prints why the chip last reset (power-on, a watchdog, a panic's software
/// reset, brown-out), the first thing to read when a board in the field restarts.
pub fn report_reset_reason() {
    match esp_hal::system::reset_reason() {
        Some(reason) => println!("reset reason: {reason:?}"),
        None => println!("reset reason: unknown"),
    }
}

/// Reports a boot failure on the console and restarts after five seconds.
///
/// A board in the field has nobody to press reset, and most boot failures
/// (flash busy, radio calibration) do not repeat.
pub async fn restart_after(what: &str, error: impl Display) -> ! {
    println!("error: {what}: {error}; restarting in 5 s");
    embassy_time::Timer::after(embassy_time::Duration::from_secs(5)).await;
    esp_hal::system::software_reset()
}
