//! The board and Wokwi backends end to end, with virtual boards standing in
//! for chips: each a `nowcam virtual-board` process on a pseudo-terminal (or
//! on its standard input and output, where a fake `wokwi-cli` runs it).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn nowcam() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_nowcam"));
    command.current_dir(root()).env_remove("WOKWI_CLI_TOKEN").env_remove("NOWCAM_WOKWI_CLI");
    command
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("nowcam-boards-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

/// Two cameras into one receiver over the bursty20 link: frames lost in bursts both ways.
const LOSSY_TWO_SENDERS: &str = r#"
description = "two cameras into one receiver over a bursty link"
seeds = 1
[link]
preset = "bursty20"
[[senders]]
name = "cam"
count = 2
images = ["qvga-q12.jpg", "vga-q12-20k.jpg"]
[[receivers]]
name = "rx"
[expect]
result = "byte-exact"
"#;

fn report(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap()
}

#[test]
fn virtual_boards_run_a_lossy_scenario_verified_by_read_back() {
    let dir = scratch("virtual");
    let scenario = dir.join("lossy-two.toml");
    std::fs::write(&scenario, LOSSY_TWO_SENDERS).unwrap();
    let output = nowcam()
        .args(["run", "--target", "board", "--inventory", "ci/boards.virtual.toml", "--report"])
        .arg(&dir)
        .arg(&scenario)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let report = report(&dir);
    let run = &report["runs"][0];
    assert_eq!(run["target"], "board");
    assert_eq!(run["status"], "passed", "{run}");
    let images = run["images"].as_array().unwrap();
    assert_eq!(images.len(), 4, "two cameras, two images each");
    for image in images {
        assert_eq!(image["byte_exact"], true, "{image}");
        assert_eq!(image["sha256_received"], image["sha256_sent"], "{image}");
        assert_eq!(image["bytes_received"], image["bytes"], "{image}");
    }
    let senders: Vec<&str> = images.iter().map(|i| i["sender"].as_str().unwrap()).collect();
    assert_eq!(senders, ["cam-1", "cam-1", "cam-2", "cam-2"]);
    assert!(run["metrics"]["frames_lost"].as_u64().unwrap() > 0, "bursty20 loses frames: {run}");
    // Every board's serial log is kept.
    for board in ["rx1", "tx1", "tx2"] {
        let log = dir.join("boards").join(format!("lossy-two-seed0-{board}.log"));
        let text = std::fs::read_to_string(&log).unwrap_or_else(|e| panic!("{}: {e}", log.display()));
        assert!(text.contains("ready"), "{text}");
    }
}

/// The pre-shared key of the authenticated-mode tests, as a key file holds it.
const KEY_HEX: &str = "4e6f7763616d2070726573686172656420746573742b6b65792c203332206221";

#[test]
fn virtual_boards_run_a_lossy_scenario_in_the_authenticated_mode() {
    let dir = scratch("virtual-key");
    let scenario = dir.join("lossy-keyed.toml");
    std::fs::write(&scenario, format!("key_hex = \"{KEY_HEX}\"\n{LOSSY_TWO_SENDERS}")).unwrap();
    let key_file = dir.join("nowcam.key");
    std::fs::write(&key_file, format!("{KEY_HEX}\n")).unwrap();

    // Without --key-file the boards have no key: the keyed scenario is skipped, never passed.
    let skipped = dir.join("skipped");
    let output = nowcam()
        .args(["run", "--target", "board", "--inventory", "ci/boards.virtual.toml", "--report"])
        .arg(&skipped)
        .arg(&scenario)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3), "{}", text(&output));
    assert!(text(&output).contains("a key these boards were not given"), "{}", text(&output));
    assert_eq!(report(&skipped)["runs"][0]["status"], "skipped");

    let output = nowcam()
        .args(["run", "--target", "board", "--inventory", "ci/boards.virtual.toml", "--key-file"])
        .arg(&key_file)
        .arg("--report")
        .arg(&dir)
        .arg(&scenario)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    // Every virtual board was started with the key: one receiver, two senders.
    assert_eq!(
        text(&output).matches("authenticated mode (pre-shared key from --key-file)").count(),
        3,
        "{}",
        text(&output)
    );
    let report = report(&dir);
    let run = &report["runs"][0];
    assert_eq!(run["target"], "board");
    assert_eq!(run["status"], "passed", "{run}");
    let images = run["images"].as_array().unwrap();
    assert_eq!(images.len(), 4, "two cameras, two images each");
    for image in images {
        assert_eq!(image["byte_exact"], true, "{image}");
        assert_eq!(image["sha256_received"], image["sha256_sent"], "{image}");
        assert_eq!(image["bytes_received"], image["bytes"], "{image}");
    }
    assert!(run["metrics"]["frames_lost"].as_u64().unwrap() > 0, "bursty20 loses frames: {run}");
}

#[test]
fn a_broken_inventory_fails_with_the_file_the_board_and_the_field() {
    let dir = scratch("broken");
    let inventory = dir.join("boards.toml");
    std::fs::write(
        &inventory,
        "[[board]]\nname = \"rx1\"\nkind = \"virtual\"\nchip = \"esp8266\"\nrole = \"receiver\"\n",
    )
    .unwrap();
    let output = nowcam()
        .args(["run", "--target", "board", "--inventory"])
        .arg(&inventory)
        .arg("scenarios/two-senders.toml")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    let expected = format!(
        "{}: board rx1: chip: expected one of esp32, esp32c3, esp32c6, esp32s3, found \"esp8266\"",
        inventory.display()
    );
    assert!(text(&output).contains(&expected), "{}", text(&output));
    let output = nowcam().args(["run", "--target", "board", "scenarios/two-senders.toml"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output).contains("--target board needs --inventory FILE"), "{}", text(&output));
}

#[test]
fn a_board_that_never_sends_its_ready_message_fails_within_the_timeout() {
    let dir = scratch("silent");
    // A serial port whose other end never answers: a pseudo-terminal nobody serves.
    let (_master, slave) = serialport::TTYPort::pair().unwrap();
    let port = serialport::SerialPort::name(&slave).unwrap();
    let inventory = dir.join("boards.toml");
    std::fs::write(
        &inventory,
        format!(
            "[[board]]\nname = \"rx1\"\nkind = \"serial\"\nchip = \"esp32c3\"\nrole = \"receiver\"\nport = \"{port}\"\n\
             [[board]]\nname = \"tx1\"\nkind = \"virtual\"\nchip = \"esp32c3\"\nrole = \"sender\"\n"
        ),
    )
    .unwrap();
    let started = Instant::now();
    let output = nowcam()
        .args(["run", "--target", "board", "--ready-timeout-s", "1", "--report"])
        .arg(&dir)
        .arg("--inventory")
        .arg(&inventory)
        .arg("scenarios/preset-random5.toml")
        .args(["--seeds", "1"])
        .output()
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(20), "took {:?}", started.elapsed());
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(text(&output).contains("board rx1: no answer to its ready message within 1s"), "{}", text(&output));
    assert_eq!(report(&dir)["runs"][0]["status"], "failed");
}

#[test]
fn wokwi_without_a_token_is_skipped_and_never_exits_zero() {
    let dir = scratch("wokwi-skip");
    let output = nowcam()
        .args(["run", "--target", "wokwi", "scenarios/preset-clean.toml", "--seeds", "1", "--report"])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3), "{}", text(&output));
    assert!(text(&output).contains("skipped: preset-clean seed 0 on wokwi: no WOKWI_CLI_TOKEN"), "{}", text(&output));
    assert_eq!(report(&dir)["runs"][0]["status"], "skipped");
}

/// A stand-in for `wokwi-cli --interactive`: it runs a virtual board on its
/// standard input and output, with the MAC address of the project's diagram,
/// exactly as the harness invokes wokwi-cli.
fn fake_wokwi_cli(dir: &Path) -> PathBuf {
    let script = dir.join("wokwi-cli");
    std::fs::write(
        &script,
        format!(
            r#"#!/bin/sh
project="$1"; shift
diagram=diagram.json
interactive=no
while [ $# -gt 0 ]; do
  case "$1" in
    --diagram-file) diagram="$2"; shift ;;
    --interactive) interactive=yes ;;
  esac
  shift
done
[ "$interactive" = yes ] || {{ echo "expected --interactive" >&2; exit 9; }}
role=receiver
case "$project" in *sender*) role=sender ;; esac
mac=$(grep -o '"macAddress": *"[^"]*"' "$project/$diagram" | cut -d'"' -f4)
exec "{exe}" virtual-board --stdio --role "$role" --mac "$mac"
"#,
            exe = env!("CARGO_BIN_EXE_nowcam")
        ),
    )
    .unwrap();
    let mut permissions = std::fs::metadata(&script).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o755);
    std::fs::set_permissions(&script, permissions).unwrap();
    script
}

#[test]
fn the_wokwi_relay_carries_two_simulations_through_the_link_model() {
    let dir = scratch("wokwi-relay");
    let cli = fake_wokwi_cli(&dir);
    let scenario = dir.join("lossy-two.toml");
    std::fs::write(&scenario, LOSSY_TWO_SENDERS).unwrap();
    let output = nowcam()
        .env("WOKWI_CLI_TOKEN", "test-token-never-sent")
        .env("NOWCAM_WOKWI_CLI", &cli)
        .args(["run", "--target", "wokwi", "--report"])
        .arg(&dir)
        .arg(&scenario)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let report = report(&dir);
    let run = &report["runs"][0];
    assert_eq!(run["target"], "wokwi");
    let images = run["images"].as_array().unwrap();
    assert_eq!(images.len(), 4);
    assert!(images.iter().all(|i| i["byte_exact"] == true), "{run}");
}

#[test]
fn transfer_on_virtual_boards_gives_the_simulators_json_keys() {
    let dir = scratch("transfer");
    let out = dir.join("received.jpg");
    let json = |args: &[&str]| -> serde_json::Value {
        let output = nowcam()
            .args(["transfer", "fixtures/vga-q12-20k.jpg", "--preset", "random5", "--json", "--out"])
            .arg(&out)
            .args(args)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(0), "{}", text(&output));
        serde_json::from_slice(&output.stdout).unwrap()
    };
    let simulated = json(&[]);
    let on_boards = json(&["--target", "board", "--inventory", "ci/boards.virtual.toml"]);
    for key in simulated.as_object().unwrap().keys() {
        assert!(on_boards.get(key).is_some(), "the board JSON lacks {key}: {on_boards}");
    }
    assert_eq!(on_boards["target"], "board");
    assert_eq!(on_boards["byte_exact"], true);
    assert_eq!(on_boards["sha256_received"], simulated["sha256_sent"]);
    assert_eq!(std::fs::read(&out).unwrap(), std::fs::read(root().join("fixtures/vga-q12-20k.jpg")).unwrap());
    // Virtual boards' serial radios carry v1 frames, whatever is asked: a
    // v2 frame size is refused, not silently ignored.
    assert_eq!(on_boards["frame_size"], 250, "{on_boards}");
    let refused = nowcam()
        .args(["transfer", "fixtures/vga-q12-20k.jpg", "--target", "board", "--inventory", "ci/boards.virtual.toml"])
        .args(["--frame-size", "1470"])
        .output()
        .unwrap();
    assert_ne!(refused.status.code(), Some(0));
    assert!(text(&refused).contains("use 250-byte frames"), "{}", text(&refused));
}
