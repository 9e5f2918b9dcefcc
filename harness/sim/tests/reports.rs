//! The reports of a run with a pass, a failure and a skip: junit.xml parsed
//! back, summary.md snapshotted, report.json's fields, the reproduction lines,
//! and what each scenario needs from a target.

use std::path::{Path, PathBuf};

use nowcam_proto::time::Duration;
use nowcam_sim::fixtures::FixtureCatalog;
use nowcam_sim::report::{reproduce_line, Metrics, Report, RunRecord, Status};
use nowcam_sim::scenario::{Expectation, ExpectedOutcome, Scenario};
use nowcam_sim::setup::Needs;
use nowcam_sim::verdict::{judge_expectation, judge_image, ImageObservation, SenderOutcome};
use quick_junit::TestCaseStatus;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Sender, bytes sent, what the sender reported, bytes read back.
type Observed<'a> = (&'a str, &'a [u8], SenderOutcome, Option<&'a [u8]>);

fn judged(scenario: &str, seed: u64, images: &[Observed]) -> RunRecord {
    let images: Vec<_> = images
        .iter()
        .enumerate()
        .map(|(k, (sender, sent, outcome, received))| {
            judge_image(ImageObservation {
                sender,
                image: k,
                sent,
                sent_sha256: None,
                outcome: outcome.clone(),
                received: *received,
                finished_s: Some(0.25),
            })
        })
        .collect();
    let expect = Expectation { outcome: ExpectedOutcome::ByteExact, max_sim_time: None, min_efficiency: None };
    let failures = judge_expectation(&expect, Duration::from_secs(60), &images, 0.5, 0.9);
    let path = format!("scenarios/{scenario}.toml");
    RunRecord {
        scenario: scenario.into(),
        path: path.clone(),
        seed,
        target: "sim".into(),
        status: if failures.is_empty() { Status::Passed } else { Status::Failed },
        message: (!failures.is_empty()).then(|| failures.join("; ")),
        failures,
        reproduce: reproduce_line(&path, seed, "sim", None),
        capture: None,
        images,
        metrics: Some(Metrics {
            frames_sent: 40,
            sim_time_s: 0.5,
            lower_bound_s: 0.45,
            efficiency: 0.9,
            ..Metrics::default()
        }),
    }
}

fn report() -> Report {
    let passed = judged("two-cameras", 0, &[("cam-1", b"one", SenderOutcome::Delivered, Some(b"one"))]);
    let failed = judged(
        "two-cameras",
        1,
        &[
            ("cam-1", b"one", SenderOutcome::Delivered, Some(b"one")),
            ("cam-2", b"two", SenderOutcome::Delivered, Some(b"twx")),
        ],
    );
    let path = "scenarios/legacy-sender.toml";
    let skipped = RunRecord::skipped(
        "legacy-sender",
        path,
        0,
        "sim",
        "needs a legacy sender, which the target cannot provide",
        reproduce_line(path, 0, "sim", None),
    );
    Report { target: "sim".into(), runs: vec![passed, failed, skipped] }
}

#[test]
fn junit_has_a_suite_per_scenario_and_a_case_per_seed_with_failures_and_skips() {
    let xml = report().junit();
    let junit = quick_junit::Report::deserialize_from_str(&xml).unwrap();
    assert_eq!(junit.name.as_ref().map(|n| n.as_str()), Some("nowcam sim"));
    assert_eq!((junit.tests, junit.failures), (3, 1));
    let suites: Vec<&str> = junit.test_suites.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(suites, ["two-cameras", "legacy-sender"]);
    let cases = &junit.test_suites[0].test_cases;
    assert_eq!(cases.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(), ["seed 0", "seed 1"]);
    assert!(matches!(cases[0].status, TestCaseStatus::Success { .. }));
    let TestCaseStatus::NonSuccess { message, description, .. } = &cases[1].status else {
        panic!("seed 1 should fail: {xml}");
    };
    let message = message.as_ref().unwrap().as_str();
    assert!(message.starts_with("cam-2 image 1: read back 3 bytes with sha256 "), "{message}");
    assert!(description.as_ref().unwrap().as_str().contains("cam-2 image 1"));
    let out = cases[1].system_out.as_ref().unwrap().as_str();
    assert!(out.contains("reproduce: cargo xtask hil scenarios/two-cameras.toml --seeds 1 --seed-start 1\n"), "{out}");
    assert!(out.contains("cam-2 image 1: corrupt; sent 3 bytes sha256 "), "{out}");
    let skipped = &junit.test_suites[1].test_cases[0];
    let TestCaseStatus::Skipped { message, .. } = &skipped.status else { panic!("not skipped: {xml}") };
    assert_eq!(message.as_ref().unwrap().as_str(), "skipped: needs a legacy sender, which the target cannot provide");
    assert_eq!(junit.test_suites[1].skipped, 1);
}

#[test]
fn the_summary_names_the_failed_image_and_the_skip_reason() {
    let summary = report().markdown();
    // The hashes are of fixed bytes, so the summary is stable.
    insta::assert_snapshot!(summary);
    assert!(summary.contains("cam-2 image 1: read back 3 bytes"));
    assert_eq!(report().table().lines().last(), Some("1 passed, 1 failed, 1 skipped"));
}

#[test]
fn report_json_gives_each_image_and_the_reproduction_line() {
    let json = serde_json::to_value(report()).unwrap();
    let failed = &json["runs"][1];
    assert_eq!(failed["status"], "failed");
    assert_eq!(failed["reproduce"], "cargo xtask hil scenarios/two-cameras.toml --seeds 1 --seed-start 1");
    let image = &failed["images"][1];
    for key in ["sender", "image", "bytes", "sha256_sent", "sha256_received", "byte_exact", "result"] {
        assert!(image.get(key).is_some(), "missing {key} in {image}");
    }
    assert_eq!((&image["sender"], &image["image"], &image["bytes"]), (&"cam-2".into(), &1.into(), &3.into()));
    assert_eq!((&image["byte_exact"], &image["result"]), (&false.into(), &"corrupt".into()));
    assert_ne!(image["sha256_sent"], image["sha256_received"]);
    assert_eq!(failed["metrics"]["frames_sent"], 40);
    let skipped = &json["runs"][2];
    assert_eq!((&skipped["status"], &skipped["metrics"]), (&"skipped".into(), &serde_json::Value::Null));
    assert_eq!(skipped["images"], serde_json::json!([]));
}

#[test]
fn reproduction_lines_run_through_cargo_xtask_hil() {
    assert_eq!(
        reproduce_line("scenarios/preset-edge30.toml", 7, "sim", None),
        "cargo xtask hil scenarios/preset-edge30.toml --seeds 1 --seed-start 7"
    );
    assert_eq!(
        reproduce_line("scenarios/preset-edge30.toml", 0, "board", Some("boards.toml")),
        "cargo xtask hil scenarios/preset-edge30.toml --seeds 1 --seed-start 0 --target board --inventory boards.toml"
    );
    assert_eq!(
        reproduce_line("scenarios/preset-clean.toml", 3, "wokwi", None),
        "cargo xtask hil scenarios/preset-clean.toml --seeds 1 --seed-start 3 --target wokwi"
    );
}

#[test]
fn scenarios_state_what_they_need_and_a_short_target_says_why_it_skips() {
    let fixtures = FixtureCatalog::load(&root().join("fixtures")).unwrap();
    let load = |name: &str| Scenario::load(&root().join(format!("scenarios/{name}.toml")), &fixtures).unwrap();
    let clean = load("preset-clean").needs();
    assert_eq!(
        clean,
        Needs {
            senders: 1,
            receivers: 1,
            link_faults: false,
            legacy: false,
            outages: false,
            v2_frames: false,
            auto_rate: false,
            fixed_rate: false,
        }
    );
    assert!(load("preset-edge30").needs().link_faults);
    assert!(load("legacy-sender").needs().legacy);
    assert!(load("permanent-outage").needs().outages);
    let fast = load("v2-54mbps").needs();
    assert!(fast.v2_frames && fast.fixed_rate && fast.link_faults, "{fast:?}");
    assert!(load("v2-auto-rate").needs().auto_rate);

    let two_boards = Needs {
        senders: 1,
        receivers: 1,
        link_faults: true,
        legacy: false,
        outages: false,
        v2_frames: false,
        auto_rate: false,
        fixed_rate: false,
    };
    assert_eq!(clean.unmet_by(&two_boards), None);
    assert_eq!(
        fast.unmet_by(&two_boards).as_deref(),
        Some("needs ESP-NOW v2 frames, which the target cannot provide; a PHY rate other than 1 Mbps (phy_rate_mbps), which the target cannot provide")
    );
    assert_eq!(
        load("legacy-sender").needs().unmet_by(&two_boards).as_deref(),
        Some("needs a legacy sender, which the target cannot provide")
    );
    let eight = Needs { senders: 8, ..clean };
    assert_eq!(eight.unmet_by(&two_boards).as_deref(), Some("needs 8 senders, the target has 1"));
}
