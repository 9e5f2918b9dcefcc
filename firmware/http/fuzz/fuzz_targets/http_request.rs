//! cargo-fuzz target: see `nowcam_http_fuzz::http_request`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| nowcam_http_fuzz::http_request(data));
