//! Replays the kept corpus (`corpus/<target>/`) and every crash case found
//! so far (`artifacts/<target>/`) through the targets' checks: an ordinary
//! `cargo test` of this crate, which `cargo xtask test` runs.

#[test]
fn the_corpus_and_the_crash_cases_pass() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let replayed = nowcam_fuzz_replay::replay(root, &nowcam_harness_fuzz::TARGETS);
    println!("{replayed} inputs replayed");
}
