//! The hostile scenarios (scenarios/hostile/): a hostile station on the
//! receiver's channel forges chunks and statuses, floods with fake senders
//! and replays old sessions. The expectations: no panic, bounded
//! memory, stored images never change except by a legitimate transfer, and
//! the legitimate transfer completes byte-exact.
//!
//! Forged chunks in the default mode: the receiver holds the newest chunk
//! back and drops both copies when a second, different one comes, so a
//! forged copy sent before the real one never reaches flash. When the real
//! copy is lost on the air and only the forged one arrives, the image's
//! CRC-32 fails; the camera then sends its segment CRCs, and the receiver
//! fetches only the segments that differ again, writing them into its
//! slot's spare erased space (the store never erases mid-transfer). Only if
//! that space or the rounds run out does the transfer fail, and the camera
//! offers the image again with every chunk's CRC-32 announced ahead. A
//! forged Status claiming every chunk arrived starts no repair round: only
//! the receiver's Completion does. The harness checks (the station did
//! attack, memory stayed bounded, forged chunks were caught, bad segments
//! repaired in place) run as well.
//!
//! The station forges neither the CRCs nor completions: a forger that did
//! could win in the default mode (nothing tells its frames from the
//! camera's without a key); the authenticated mode below stops it.

use std::path::{Path, PathBuf};

use nowcam_sim::fixtures::FixtureCatalog;
use nowcam_sim::run::RunOptions;
use nowcam_sim::scenario::Scenario;
use nowcam_sim::setup::{prepare, NODE_CAPACITIES};
use nowcam_sim::verdict::ImageResult;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn every_hostile_scenario_meets_the_expectations() {
    let fixtures = FixtureCatalog::load(&root().join("fixtures")).unwrap();
    let scenarios = Scenario::load_dir(&root().join("scenarios/hostile"), &fixtures).unwrap();
    assert!(scenarios.len() >= 5, "expected the hostile scenarios, found {}", scenarios.len());
    let mut failures = Vec::new();
    let (mut segments_repaired, mut transfers_failed) = (0, 0);
    for scenario in &scenarios {
        assert!(!scenario.hostile.is_none(), "{}: no [hostile] table", scenario.name);
        let prepared = prepare(scenario, &fixtures).unwrap();
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
            if scenario.hostile.forge_chunks > 0.0 {
                assert!(
                    report.bad_crc_chunks + report.contested_chunks > 0,
                    "{} seed {seed}: no forged chunk was caught",
                    scenario.name
                );
            }
            if scenario.hostile.forge_chunks > 0.0 {
                segments_repaired += report.segments_repaired;
                transfers_failed += report.transfers_failed;
            }
            for line in report.lines() {
                println!("{} seed {seed}: {line}", scenario.name);
            }
            let corrupt = result.images.iter().filter(|i| i.result == ImageResult::Corrupt).count();
            assert_eq!(corrupt, 0, "{} seed {seed}: a corrupt image was stored", scenario.name);
            if !result.passed {
                failures.push(format!("{} seed {seed}: {}", scenario.name, result.failures.join("; ")));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // Forged chunks that got through were repaired segment by segment on the
    // flash store, not by sending whole images again.
    assert!(segments_repaired > 0, "no segment was repaired: the forged chunks never got through?");
    assert_eq!(transfers_failed, 0, "{transfers_failed} transfers failed instead of being repaired");
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

/// Forged chunks and forged "all received" statuses together, default mode:
/// a status claiming chunks never sent confirms nothing, so no image waits
/// for the transfer's 60 s deadline (seed 3 once did).
#[test]
fn forged_chunks_and_statuses_together_cost_seconds_not_the_deadline() {
    let fixtures = FixtureCatalog::load(&root().join("fixtures")).unwrap();
    let text = "seeds = 12\ntime_limit_s = 120\n[link]\npreset = \"random5\"\n[hostile]\nforge_chunks = 0.2\nforge_status = 0.5\n[[senders]]\nname = \"cam\"\nimages = [\"vga-q12-20k.jpg\"]\n[[receivers]]\nname = \"rx\"\n[expect]\nresult = \"byte-exact\"\n";
    let scenario = Scenario::parse(Path::new("forge-both.toml"), text, &fixtures).unwrap();
    let prepared = prepare(&scenario, &fixtures).unwrap();
    for seed in 0..12 {
        let result = prepared.run(seed, RunOptions::default()).unwrap();
        assert!(result.passed, "seed {seed}: {:?}", result.failures);
        assert!(result.sim_time_s < 10.0, "seed {seed}: {:.1} s", result.sim_time_s);
    }
}
