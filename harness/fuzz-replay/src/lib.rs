//! The replay each fuzz crate runs as an ordinary `cargo test` (which
//! `cargo xtask test` runs): every kept input of a target (`corpus/<target>/`)
//! and every crash case found so far (`artifacts/<target>/`) goes through the
//! target's check again, so a fixed bug stays fixed and no target rots.
//!
//! The fuzz crates are workspaces of their own (cargo-fuzz builds them on
//! nightly); they take this crate as a path dev-dependency.

use std::path::Path;

/// A fuzz target's check: it panics on a failure.
pub type Check = fn(&[u8]);

/// Replays every input kept for `targets` (name and check) under the fuzz
/// crate at `root`, then the empty input and a run of every byte value,
/// which reach the start of every target; returns how many kept inputs ran.
///
/// Panics, as a test should, when a check fails or a kept input cannot be read.
pub fn replay(root: &Path, targets: &[(&str, Check)]) -> usize {
    let mut replayed = 0;
    for (target, check) in targets {
        for folder in ["corpus", "artifacts"] {
            let Ok(entries) = std::fs::read_dir(root.join(folder).join(target)) else { continue };
            for entry in entries {
                let path = entry.expect("a readable directory entry").path();
                if path.is_file() {
                    let input = std::fs::read(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
                    check(&input);
                    replayed += 1;
                }
            }
        }
        check(&[]);
        check(&(0..=255).collect::<Vec<u8>>());
    }
    replayed
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    static SEEN: AtomicUsize = AtomicUsize::new(0);

    fn count(_: &[u8]) {
        SEEN.fetch_add(1, Ordering::SeqCst);
    }

    #[test]
    fn every_kept_input_and_the_two_starts_are_checked() {
        let root = std::env::temp_dir().join(format!("nowcam-fuzz-replay-{}", std::process::id()));
        std::fs::create_dir_all(root.join("corpus/t")).unwrap();
        std::fs::create_dir_all(root.join("artifacts/t")).unwrap();
        std::fs::write(root.join("corpus/t/a"), b"a").unwrap();
        std::fs::write(root.join("corpus/t/b"), b"b").unwrap();
        std::fs::write(root.join("artifacts/t/crash-1"), b"c").unwrap();
        assert_eq!(replay(&root, &[("t", count)]), 3);
        assert_eq!(SEEN.load(Ordering::SeqCst), 5);
        std::fs::remove_dir_all(&root).unwrap();
    }
}
