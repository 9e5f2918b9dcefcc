//! The harness's fuzz checks, as functions: the cargo-fuzz binaries call
//! them, and `tests/corpus.rs` replays the kept corpus and crash cases.
//!
//! Scenario files and board inventories are read from people's files, so
//! any text must give a scenario or a typed error naming the file, never a
//! panic.

use std::path::Path;

use nowcam_hil::inventory::Inventory;
use nowcam_sim::fixtures::{Fixture, FixtureCatalog};
use nowcam_sim::scenario::{Scenario, ScenarioError};

/// Every target by name, for the corpus replay.
pub const TARGETS: [(&str, fn(&[u8])); 2] = [("scenario_parse", scenario_parse), ("inventory_parse", inventory_parse)];

/// `scenario_parse`: any text through `Scenario::parse`: a scenario whose
/// numbers are in range, or an error that names the file.
pub fn scenario_parse(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let fixture = Fixture { name: "vga-q12-20k.jpg".into(), bytes: 20_000, sha256: "00".repeat(32) };
    let catalog = FixtureCatalog::from_fixtures(Path::new("fixtures"), vec![fixture]);
    match Scenario::parse(Path::new("fuzz.toml"), text, &catalog) {
        Ok(scenario) => {
            assert!(!scenario.senders.is_empty() && !scenario.receivers.is_empty());
            assert!(scenario.senders.iter().all(|s| s.to < scenario.receivers.len()));
            assert!((0.0..=1.0).contains(&scenario.hostile.forge_chunks));
            assert!((0.0..=1.0).contains(&scenario.hostile.forge_status));
            // Whatever validates also prepares: the link model accepts it.
            let _ = nowcam_sim::setup::link_config(&scenario.link);
        }
        Err(ScenarioError::Read { .. }) => panic!("parse never reads a file"),
        Err(error) => assert!(error.to_string().starts_with("fuzz.toml: "), "{error}"),
    }
}

/// `inventory_parse`: any text through `Inventory::parse`: boards, or an error that names the file.
pub fn inventory_parse(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Err(error) = Inventory::parse(Path::new("boards.toml"), text) {
        assert!(error.to_string().starts_with("boards.toml"), "{error}");
    }
}
