//! Every scenario file runs on the simulator, with the seeds it declares.

use std::path::{Path, PathBuf};

use nowcam_sim::fixtures::FixtureCatalog;
use nowcam_sim::report::{reproduce_line, Report, RunRecord, Status};
use nowcam_sim::run::RunOptions;
use nowcam_sim::scenario::Scenario;
use nowcam_sim::setup::prepare;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn fixtures() -> FixtureCatalog {
    FixtureCatalog::load(&root().join("fixtures")).unwrap()
}

fn run(scenario: &Scenario, seeds: std::ops::Range<u64>, fixtures: &FixtureCatalog) -> Vec<RunRecord> {
    let prepared = prepare(scenario, fixtures).unwrap();
    seeds
        .map(|seed| {
            let result = prepared.run(seed, RunOptions::default()).unwrap();
            let path = format!("scenarios/{}.toml", scenario.name);
            RunRecord::from_sim(&path, reproduce_line(&path, seed, "sim", None), None, &result)
        })
        .collect()
}

#[test]
fn every_scenario_passes_on_the_simulator() {
    let fixtures = fixtures();
    let scenarios = Scenario::load_dir(&root().join("scenarios"), &fixtures).unwrap();
    assert!(scenarios.len() >= 15, "expected the full scenario set, found {}", scenarios.len());
    let mut runs = Vec::new();
    for scenario in &scenarios {
        runs.extend(run(scenario, 0..u64::from(scenario.seeds), &fixtures));
    }
    let report = Report { target: "sim".into(), runs };
    let failures: Vec<String> = report
        .runs
        .iter()
        .filter(|r| r.status != Status::Passed)
        .map(|r| format!("{}: {}", r.reproduce, r.message.as_deref().unwrap_or("")))
        .collect();
    assert!(failures.is_empty(), "{}\n{}", report.table(), failures.join("\n"));
}

#[test]
fn the_scenarios_cover_every_preset_and_every_fixture() {
    let fixtures = fixtures();
    let scenarios = Scenario::load_dir(&root().join("scenarios"), &fixtures).unwrap();
    for preset in nowcam_sim::scenario::PRESET_NAMES {
        assert!(scenarios.iter().any(|s| s.link.data.preset.as_deref() == Some(preset)), "no scenario uses {preset}");
    }
    for name in fixtures.names() {
        let used = scenarios.iter().flat_map(|s| &s.senders).flat_map(|s| &s.images).any(|i| i.to_string() == name);
        assert!(used, "no scenario sends {name}");
    }
}

#[test]
fn the_summary_table_for_fixed_seeds_is_stable() {
    let fixtures = fixtures();
    let mut runs = Vec::new();
    for name in ["preset-clean", "preset-random5", "legacy-sender", "refused-receiver-limit", "permanent-outage"] {
        let scenario = Scenario::load(&root().join(format!("scenarios/{name}.toml")), &fixtures).unwrap();
        runs.extend(run(&scenario, 0..1, &fixtures));
    }
    let report = Report { target: "sim".into(), runs };
    insta::assert_snapshot!(report.table());
}

#[test]
fn the_same_seed_gives_the_same_run() {
    let fixtures = fixtures();
    let scenario = Scenario::load(&root().join("scenarios/preset-edge30.toml"), &fixtures).unwrap();
    let prepared = prepare(&scenario, &fixtures).unwrap();
    let options = RunOptions { capture: true, keep_images: false };
    let first = prepared.run(7, options).unwrap();
    let second = prepared.run(7, options).unwrap();
    assert_eq!(first.capture, second.capture);
    assert_eq!(first.sim_time_s, second.sim_time_s);
    let other = prepared.run(8, options).unwrap();
    assert_ne!(first.capture, other.capture);
}
