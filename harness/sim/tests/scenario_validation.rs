//! Scenario files: a good one validates into typed values, and every bad
//! one gets an error naming the file, the field and what was expected.

use std::path::Path;

use nowcam_sim::fixtures::{Fixture, FixtureCatalog};
use nowcam_sim::scenario::{ExpectedOutcome, FlashModel, ImageRef, LossSpec, Protocol, Scenario};

fn catalog() -> FixtureCatalog {
    let fixture = |name: &str| Fixture { name: name.to_owned(), bytes: 20_000, sha256: "00".repeat(32) };
    FixtureCatalog::from_fixtures(Path::new("fixtures"), vec![fixture("vga-q12-20k.jpg"), fixture("uxga-q10.jpg")])
}

const MINIMAL: &str = r#"
[[senders]]
images = ["vga-q12-20k.jpg"]
[[receivers]]
"#;

/// Parses `text` as scenarios/x.toml and compares the error message.
fn check_error(text: &str, expected: &str) {
    match Scenario::parse(Path::new("scenarios/x.toml"), text, &catalog()) {
        Ok(_) => panic!("accepted, expected the error {expected:?}"),
        Err(error) => assert_eq!(error.to_string(), expected),
    }
}

#[test]
fn a_full_scenario_validates_into_typed_values() {
    let text = r#"
description = "two cameras behind a wall"
seeds = 5
time_limit_s = 30
[link]
preset = "edge30"
phy_rate_mbps = 2
[link.status]
loss = 0.1
[[link.outages]]
from_s = 0.5
to_s = 1.5
[[senders]]
name = "cam"
count = 2
images = ["vga-q12-20k", "synthetic:1000"]
repeat = 3
[[senders]]
name = "old"
protocol = "legacy"
images = ["uxga-q10.jpg"]
to = "rx"
[[receivers]]
name = "rx"
max_image_bytes = 200000
[expect]
result = "byte-exact"
max_sim_time_s = 12.5
min_efficiency = 0.85
"#;
    let s = Scenario::parse(Path::new("scenarios/wall.toml"), text, &catalog()).unwrap();
    assert_eq!(s.name, "wall");
    assert_eq!(s.seeds, 5);
    assert_eq!(s.time_limit.as_millis(), 30_000);
    assert_eq!(s.link.data.preset.as_deref(), Some("edge30"));
    assert_eq!(s.link.data.loss, None);
    assert_eq!(s.link.status.preset.as_deref(), Some("edge30"));
    assert_eq!(s.link.status.loss, Some(LossSpec::Bernoulli { probability: 0.1 }));
    assert_eq!(s.link.outages.len(), 1);
    assert_eq!(s.link.outages[0].to.map(|d| d.as_millis()), Some(1_500));
    assert_eq!(s.link.phy_rate_mbps, 2.0);
    assert_eq!(s.senders[0].images, vec![ImageRef::Fixture("vga-q12-20k".into()), ImageRef::Synthetic(1000)]);
    assert_eq!(s.senders[0].repeat, 3);
    assert_eq!(s.senders[1].protocol, Protocol::Legacy);
    let names: Vec<String> = s.expanded_senders().map(|(n, _)| n).collect();
    assert_eq!(names, ["cam-1", "cam-2", "old"]);
    assert_eq!(s.receivers[0].max_image_bytes, Some(200_000));
    assert_eq!(s.expect.outcome, ExpectedOutcome::ByteExact);
    assert_eq!(s.expect.max_sim_time.map(|d| d.as_millis()), Some(12_500));
    assert_eq!(s.expect.min_efficiency, Some(0.85));
}

#[test]
fn defaults_fill_what_a_minimal_scenario_leaves_out() {
    let s = Scenario::parse(Path::new("scenarios/min.toml"), MINIMAL, &catalog()).unwrap();
    assert_eq!(s.seeds, 3);
    assert_eq!(s.link.data.preset, None);
    assert_eq!(s.senders[0].protocol, Protocol::Nowcam);
    assert_eq!(s.senders[0].to, 0);
    assert_eq!(s.senders[0].channel, 1);
    assert!(s.senders[0].discovery, "cameras find their receiver by probing unless pinned");
    assert_eq!(s.expect.outcome, ExpectedOutcome::ByteExact);
    assert_eq!(s.flash, FlashModel::Datasheet);
}

#[test]
fn the_flash_model_is_datasheet_or_ideal() {
    let ideal = format!("flash = \"ideal\"\n{MINIMAL}");
    assert_eq!(Scenario::parse(Path::new("s.toml"), &ideal, &catalog()).unwrap().flash, FlashModel::Ideal);
    let datasheet = format!("flash = \"datasheet\"\n{MINIMAL}");
    assert_eq!(Scenario::parse(Path::new("s.toml"), &datasheet, &catalog()).unwrap().flash, FlashModel::Datasheet);
    check_error(
        &format!("flash = \"fast\"\n{MINIMAL}"),
        r#"scenarios/x.toml: flash: expected one of datasheet, ideal, found "fast""#,
    );
}

#[test]
fn discovery_can_be_switched_off_and_never_on_for_legacy() {
    let pinned = "[[senders]]\nimages = [\"vga-q12-20k.jpg\"]\nchannel = 6\ndiscovery = false\n[[receivers]]\n";
    let s = Scenario::parse(Path::new("s.toml"), pinned, &catalog()).unwrap();
    assert!(!s.senders[0].discovery);
    assert_eq!(s.senders[0].channel, 6);
    let legacy = "[[senders]]\nprotocol = \"legacy\"\nimages = [\"vga-q12-20k.jpg\"]\n[[receivers]]\n";
    let s = Scenario::parse(Path::new("s.toml"), legacy, &catalog()).unwrap();
    assert!(!s.senders[0].discovery, "the seed's sender is always pinned");
    check_error(
        "[[senders]]\nprotocol = \"legacy\"\ndiscovery = true\nimages = [\"vga-q12-20k.jpg\"]\n[[receivers]]\n",
        "scenarios/x.toml: senders[0].discovery: expected false or nothing for a legacy sender (the seed's sender \
         knows its receiver), found true",
    );
}

#[test]
fn expected_failures_parse() {
    let timed_out = format!("{MINIMAL}[expect]\nresult = \"timed out\"\n");
    let s = Scenario::parse(Path::new("s.toml"), &timed_out, &catalog()).unwrap();
    assert_eq!(s.expect.outcome, ExpectedOutcome::TimedOut);
    let refused = format!("{MINIMAL}[expect]\nresult = \"refused: too large\"\n");
    let s = Scenario::parse(Path::new("s.toml"), &refused, &catalog()).unwrap();
    assert_eq!(s.expect.outcome, ExpectedOutcome::RefusedTooLarge);
}

#[test]
fn an_unknown_preset_names_the_choices() {
    check_error(
        &format!("[link]\npreset = \"lossy\"\n{MINIMAL}"),
        r#"scenarios/x.toml: link.preset: expected one of clean, random5, bursty20, edge30, dup1, reorder, delay, found "lossy""#,
    );
    check_error(
        &format!("[link.status]\npreset = \"lossy\"\n{MINIMAL}"),
        r#"scenarios/x.toml: link.status.preset: expected one of clean, random5, bursty20, edge30, dup1, reorder, delay, found "lossy""#,
    );
}

#[test]
fn out_of_range_numbers_name_their_field() {
    check_error(
        &format!("[link]\nloss = 1.5\n{MINIMAL}"),
        "scenarios/x.toml: link.loss: expected a probability from 0 to 1, found 1.5",
    );
    check_error(
        &format!("[link.data]\ngilbert_elliott = {{ p = 0.1, r = 2.0, h = 1.0, k = 0.0 }}\n{MINIMAL}"),
        "scenarios/x.toml: link.data.gilbert_elliott.r: expected a probability from 0 to 1, found 2",
    );
    check_error(
        &format!("seeds = 0\n{MINIMAL}"),
        "scenarios/x.toml: seeds: expected an integer from 1 to 10000, found 0",
    );
    check_error(
        &format!("[link]\nphy_rate_mbps = 3\n{MINIMAL}"),
        "scenarios/x.toml: link.phy_rate_mbps: expected one of 1, 2, 5.5, 11, 6, 9, 12, 18, 24, 36, 48, 54 or \"auto\", found 3",
    );
    check_error(
        &format!("[link.status]\nsnr_db = 95.0\n{MINIMAL}"),
        "scenarios/x.toml: link.status.snr_db: expected a signal-to-noise ratio in dB from -20 to 80, found 95",
    );
    check_error(
        &format!("[[link.outages]]\nfrom_s = 2\nto_s = 1\n{MINIMAL}"),
        "scenarios/x.toml: link.outages[0].to_s: expected a time after from_s (2), found 1",
    );
    check_error(
        &format!("{MINIMAL}[expect]\nmin_efficiency = 1.2\n"),
        "scenarios/x.toml: expect.min_efficiency: expected a number above 0 and at most 1, found 1.2",
    );
}

#[test]
fn nodes_are_checked() {
    check_error("[[receivers]]\n", "scenarios/x.toml: senders: expected at least one [[senders]] table, found none");
    check_error(
        "[[senders]]\nimages = [\"vga-q12-20k.jpg\"]\n",
        "scenarios/x.toml: receivers: expected at least one [[receivers]] table, found none",
    );
    check_error(
        "[[senders]]\nimages = [\"cat.jpg\"]\n[[receivers]]\n",
        r#"scenarios/x.toml: senders[0].images[0]: expected a fixture from fixtures/manifest.toml (vga-q12-20k.jpg, uxga-q10.jpg) or synthetic:<bytes>, found "cat.jpg""#,
    );
    check_error(
        "[[senders]]\nimages = [\"vga-q12-20k.jpg\"]\nprotocol = \"tcp\"\n[[receivers]]\n",
        r#"scenarios/x.toml: senders[0].protocol: expected one of nowcam, legacy, found "tcp""#,
    );
    check_error(
        "[[senders]]\nimages = [\"vga-q12-20k.jpg\"]\nto = \"nobody\"\n[[receivers]]\nname = \"rx\"\n",
        r#"scenarios/x.toml: senders[0].to: expected one of rx, found "nobody""#,
    );
    check_error(
        "[[senders]]\nimages = [\"vga-q12-20k.jpg\"]\n[[receivers]]\nname = \"a\"\n[[receivers]]\nname = \"b\"\n",
        "scenarios/x.toml: senders[0].to: expected the name of a receiver (there are several), found nothing",
    );
    check_error(
        "[[senders]]\nimages = [\"vga-q12-20k.jpg\"]\nchannel = 15\n[[receivers]]\n",
        "scenarios/x.toml: senders[0].channel: expected an integer from 1 to 14, found 15",
    );
}

#[test]
fn an_unknown_expectation_lists_the_known_ones() {
    check_error(
        &format!("{MINIMAL}[expect]\nresult = \"works\"\n"),
        r#"scenarios/x.toml: expect.result: expected one of "byte-exact", "refused: too large", "timed out", found "works""#,
    );
}

#[test]
fn unknown_keys_and_bad_syntax_give_the_position() {
    let error = Scenario::parse(Path::new("scenarios/x.toml"), &format!("sedes = 3\n{MINIMAL}"), &catalog())
        .unwrap_err()
        .to_string();
    assert!(error.starts_with("scenarios/x.toml: line 1, column 1: unknown field `sedes`"), "{error}");
    let error = Scenario::parse(Path::new("scenarios/x.toml"), "seeds = \n", &catalog()).unwrap_err().to_string();
    assert!(error.starts_with("scenarios/x.toml: line 1, column "), "{error}");
    let error = Scenario::parse(Path::new("scenarios/x.toml"), &format!("seeds = \"many\"\n{MINIMAL}"), &catalog())
        .unwrap_err()
        .to_string();
    assert!(
        error.starts_with("scenarios/x.toml: line 1, column 9: invalid type: string \"many\", expected i64"),
        "{error}"
    );
}

#[test]
fn a_missing_file_is_a_read_error_naming_it() {
    let error = Scenario::load(Path::new("scenarios/does-not-exist.toml"), &catalog()).unwrap_err().to_string();
    assert!(error.starts_with("scenarios/does-not-exist.toml: cannot read: "), "{error}");
}

#[test]
fn hostile_injection_is_validated() {
    let with = |table: &str| format!("{MINIMAL}[hostile]\n{table}\n");
    let scenario = Scenario::parse(
        Path::new("x.toml"),
        &with("forge_chunks = 0.25\nflood_senders = 3\nreplay_old = true"),
        &catalog(),
    )
    .unwrap();
    assert_eq!(scenario.hostile.forge_chunks, 0.25);
    assert_eq!(scenario.hostile.forge_status, 0.0);
    assert_eq!(scenario.hostile.flood_senders, 3);
    assert!(scenario.hostile.replay_old);
    assert!(Scenario::parse(Path::new("x.toml"), MINIMAL, &catalog()).unwrap().hostile.is_none());
    check_error(
        &with("forge_chunks = 1.5"),
        "scenarios/x.toml: hostile.forge_chunks: expected a probability from 0 to 1, found 1.5",
    );
    check_error(
        &with("forge_status = -0.1"),
        "scenarios/x.toml: hostile.forge_status: expected a probability from 0 to 1, found -0.1",
    );
    check_error(
        &with("flood_senders = 65"),
        "scenarios/x.toml: hostile.flood_senders: expected an integer from 0 to 64, found 65",
    );
    check_error(&with("jam = true"), "scenarios/x.toml: line 6, column 1: unknown field `jam`, expected one of `forge_chunks`, `forge_status`, `flood_senders`, `replay_old`");
    check_error(
        "[hostile]\nreplay_old = true\n[[senders]]\nprotocol = \"legacy\"\nimages = [\"vga-q12-20k.jpg\"]\n[[receivers]]\n",
        "scenarios/x.toml: hostile: expected a nowcam sender whose transfer the hostile station attacks, found only legacy senders",
    );
}

/// An SNR under `[link]` applies to both directions, and a direction's own
/// replaces it; the link model then loses frames to noise by rate and length.
#[test]
fn the_snr_is_per_direction_and_reaches_the_link_model() {
    let s = Scenario::parse(
        Path::new("scenarios/x.toml"),
        &format!("[link]\nsnr_db = 12.5\nphy_rate_mbps = 54\n[link.status]\nsnr_db = 30\n{MINIMAL}"),
        &catalog(),
    )
    .unwrap();
    assert_eq!(s.link.data.snr_db, Some(12.5));
    assert_eq!(s.link.status.snr_db, Some(30.0));
    let config = nowcam_sim::setup::link_config(&s.link).unwrap();
    assert_eq!(config.a_to_b.snr_db, Some(12.5));
    assert_eq!(config.b_to_a.snr_db, Some(30.0));
    assert_eq!(config.phy_rate, nowcam_link::PhyRate::Ofdm54Mbps);
}

/// `phy_rate_mbps = "auto"` hands each chunk's rate to the cameras' rate
/// controller; every other frame stays at 1 Mbps on the link. Any other text is refused.
#[test]
fn the_phy_rate_may_be_auto() {
    let s = Scenario::parse(
        Path::new("scenarios/x.toml"),
        &format!("[link]\nphy_rate_mbps = \"auto\"\nsnr_db = 20\n{MINIMAL}"),
        &catalog(),
    )
    .unwrap();
    assert!(s.link.auto_rate);
    assert!(s.needs().auto_rate);
    let config = nowcam_sim::setup::link_config(&s.link).unwrap();
    assert_eq!(config.phy_rate, nowcam_link::PhyRate::Dsss1Mbps);
    let fixed =
        Scenario::parse(Path::new("scenarios/x.toml"), &format!("[link]\nphy_rate_mbps = 54\n{MINIMAL}"), &catalog())
            .unwrap();
    assert!(!fixed.link.auto_rate && !fixed.needs().auto_rate);
    check_error(
        &format!("[link]\nphy_rate_mbps = \"fast\"\n{MINIMAL}"),
        r#"scenarios/x.toml: link.phy_rate_mbps: expected one of 1, 2, 5.5, 11, 6, 9, 12, 18, 24, 36, 48, 54 or "auto", found "fast""#,
    );
}
