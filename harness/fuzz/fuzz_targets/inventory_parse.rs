//! cargo-fuzz target: see `nowcam_harness_fuzz::inventory_parse`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| nowcam_harness_fuzz::inventory_parse(data));
