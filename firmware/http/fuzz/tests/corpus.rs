//! Replays the kept corpus (`corpus/<target>/`) and every crash case found
//! so far (`artifacts/<target>/`) through the targets' checks: an ordinary
//! `cargo test` of this crate, which `cargo xtask test` runs.

use std::path::Path;

#[test]
fn the_corpus_and_the_crash_cases_pass() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut replayed = 0;
    for (target, check) in nowcam_http_fuzz::TARGETS {
        for folder in ["corpus", "artifacts"] {
            let Ok(entries) = std::fs::read_dir(root.join(folder).join(target)) else { continue };
            for entry in entries {
                let path = entry.unwrap().path();
                if path.is_file() {
                    check(&std::fs::read(&path).unwrap());
                    replayed += 1;
                }
            }
        }
        // The empty input and a run of every byte value reach the start of every target.
        check(&[]);
        check(&(0..=255).collect::<Vec<u8>>());
    }
    println!("{replayed} inputs replayed");
}
