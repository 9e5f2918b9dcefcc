//! cargo-fuzz target: see `nowcam_console_fuzz::console_decode`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| nowcam_console_fuzz::console_decode(data));
