//! cargo-fuzz target: see `nowcam_proto_fuzz::legacy_receiver`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| nowcam_proto_fuzz::legacy_receiver::check(data));
