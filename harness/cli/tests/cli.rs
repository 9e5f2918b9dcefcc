//! The `nowcam` binary: `transfer --json`, exit codes, `replay` of what
//! `transfer --pcap` wrote, and `run` with its reports.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn nowcam() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_nowcam"));
    command.current_dir(root());
    command
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("nowcam-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn transfer_json_reports_a_byte_exact_delivery_and_exits_zero() {
    let dir = scratch("transfer");
    let out = dir.join("received.jpg");
    let output = nowcam()
        .args(["transfer", "fixtures/vga-q12-20k.jpg", "--preset", "edge30", "--seed", "4", "--json", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    for key in [
        "ok",
        "protocol",
        "preset",
        "seed",
        "bytes",
        "sha256_sent",
        "sha256_received",
        "byte_exact",
        "frames_sent",
        "frames_lost",
        "frames_duplicated",
        "retransmissions",
        "sim_time_s",
        "lower_bound_s",
        "efficiency",
        "phy_rate",
        "frame_size",
        "throughput_kbps",
    ] {
        assert!(json.get(key).is_some(), "missing {key} in {json}");
    }
    let throughput = json["bytes"].as_f64().unwrap() * 8.0 / 1000.0 / json["sim_time_s"].as_f64().unwrap();
    assert!((json["throughput_kbps"].as_f64().unwrap() - throughput).abs() < 1e-6, "{json}");
    assert_eq!(json["phy_rate"], 1.0);
    assert_eq!(json["frame_size"], 250);
    assert_eq!(json["ok"], true);
    assert_eq!(json["byte_exact"], true);
    assert_eq!(json["preset"], "edge30");
    assert_eq!(json["sha256_sent"], json["sha256_received"]);
    assert!(json["frames_lost"].as_u64().unwrap() > 0);
    // A lucky seed may beat the bound, which assumes the preset's mean loss.
    let efficiency = json["efficiency"].as_f64().unwrap();
    let expected = json["lower_bound_s"].as_f64().unwrap() / json["sim_time_s"].as_f64().unwrap();
    assert!((efficiency - expected).abs() < 1e-9 && efficiency > 0.5, "{json}");
    assert_eq!(std::fs::read(&out).unwrap(), std::fs::read(root().join("fixtures/vga-q12-20k.jpg")).unwrap());
}

#[test]
fn a_transfer_that_cannot_finish_exits_non_zero_with_the_typed_error() {
    let output = nowcam()
        .args([
            "transfer",
            "fixtures/qvga-q12.jpg",
            "--preset",
            "clean",
            "--outage",
            "0.05..",
            "--json",
            "--time-limit-s",
            "120",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["ok"], false);
    assert_eq!(json["byte_exact"], false);
    assert!(json["failures"].to_string().contains("timed out"), "{json}");
}

#[test]
fn bad_link_flags_are_refused_with_the_field() {
    let output = nowcam().args(["transfer", "fixtures/qvga-q12.jpg", "--preset", "lossy"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("link.preset: expected one of clean, random5"), "{stderr}");
}

#[test]
fn hostile_flags_put_a_hostile_station_on_the_air_and_only_on_the_simulator() {
    let output = nowcam()
        .args([
            "transfer",
            "fixtures/qvga-q12.jpg",
            "--preset",
            "clean",
            "--replay-old",
            "--flood-senders",
            "2",
            "--json",
        ])
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let kinds = json["hostile"]["kinds"].as_array().unwrap();
    assert!(kinds.iter().any(|k| k[0] == "flood-offer" && k[1]["sent"].as_u64() > Some(0)), "{json}");
    let output = nowcam().args(["transfer", "fixtures/qvga-q12.jpg", "--forge-chunks", "2"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("hostile.forge_chunks: expected a probability from 0 to 1, found 2"), "{stderr}");
    let output = nowcam()
        .args([
            "transfer",
            "fixtures/qvga-q12.jpg",
            "--replay-old",
            "--target",
            "board",
            "--inventory",
            "ci/boards.virtual.toml",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("simulator only"));
}

#[test]
fn replay_recovers_what_transfer_captured() {
    let dir = scratch("replay");
    for (protocol, capture, frame_size) in
        [("nowcam", "run.pcapng", "250"), ("legacy", "run.pcap", "250"), ("nowcam", "v2.pcapng", "1470")]
    {
        let capture = dir.join(capture);
        let status = nowcam()
            .args(["transfer", "fixtures/qqvga-q25.jpg", "--preset", "random5", "--protocol", protocol])
            .args(["--frame-size", frame_size, "--pcap"])
            .arg(&capture)
            .status()
            .unwrap();
        assert!(status.success());
        let images = dir.join(format!("images-{protocol}-{frame_size}"));
        let output = nowcam().arg("replay").arg(&capture).arg("--out").arg(&images).arg("--json").output().unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(json["images"].as_array().unwrap().len(), 1, "{json}");
        assert_eq!(json["fcs_dropped"], 0, "{json}");
        assert_eq!(json["images"][0]["format"], protocol);
        let file = images.join(json["images"][0]["file"].as_str().unwrap());
        assert_eq!(std::fs::read(file).unwrap(), std::fs::read(root().join("fixtures/qqvga-q25.jpg")).unwrap());
    }
}

#[test]
fn run_writes_the_reports_and_other_targets_skip() {
    let dir = scratch("run");
    let output = nowcam()
        .args([
            "run",
            "scenarios/preset-clean.toml",
            "scenarios/refused-receiver-limit.toml",
            "--seeds",
            "1",
            "--report",
        ])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stdout));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("2 passed, 0 failed, 0 skipped"), "{stdout}");
    let junit = std::fs::read_to_string(dir.join("junit.xml")).unwrap();
    assert!(junit.contains("<testcase name=\"seed 0\" classname=\"preset-clean\""), "{junit}");
    assert!(
        junit.contains("reproduce: cargo xtask hil scenarios/preset-clean.toml --seeds 1 --seed-start 0"),
        "{junit}"
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["runs"].as_array().unwrap().len(), 2);
    let clean = &report["runs"][0];
    assert_eq!(clean["reproduce"], "cargo xtask hil scenarios/preset-clean.toml --seeds 1 --seed-start 0");
    let image = &clean["images"][0];
    assert_eq!(image["sender"], "cam");
    assert_eq!(image["image"], 0);
    assert_eq!(image["byte_exact"], true);
    assert_eq!(image["result"], "byte-exact");
    assert_eq!(image["sha256_sent"], image["sha256_received"]);
    let refused = &report["runs"][1]["images"][0];
    assert_eq!(refused["result"], "failed");
    assert_eq!(refused["error"], "refused: too large");
    assert_eq!(refused["sha256_received"], serde_json::Value::Null);
    assert_eq!(refused["byte_exact"], false);
    assert!(std::fs::read_to_string(dir.join("summary.md")).unwrap().contains("| preset-clean | 1 | passed |"));
}

#[test]
fn a_run_of_only_skipped_scenarios_exits_3_and_reports_them_skipped() {
    let dir = scratch("skipped");
    // A receiver and no sender: no scenario can run on it.
    let inventory = dir.join("boards.toml");
    std::fs::write(
        &inventory,
        "[[board]]\nname = \"rx1\"\nkind = \"virtual\"\nchip = \"esp32c3\"\nrole = \"receiver\"\n",
    )
    .unwrap();
    let output = nowcam()
        .args(["run", "scenarios/preset-clean.toml", "--target", "board", "--seeds", "1", "--seed-start", "5"])
        .arg("--inventory")
        .arg(&inventory)
        .arg("--report")
        .arg(&dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(3), "{stdout}");
    assert!(stdout.contains("skipped: preset-clean seed 5 on board"), "{stdout}");
    assert!(stdout.contains("0 passed, 0 failed, 1 skipped"), "{stdout}");
    assert!(stdout.contains("nothing was verified on board"), "{stdout}");
    let junit = std::fs::read_to_string(dir.join("junit.xml")).unwrap();
    assert!(junit.contains("<skipped message=\"skipped: needs 1 senders, the target has 0"), "{junit}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["runs"][0]["status"], "skipped");
    assert_eq!(
        report["runs"][0]["reproduce"],
        format!(
            "cargo xtask hil scenarios/preset-clean.toml --seeds 1 --seed-start 5 --target board --inventory {}",
            inventory.display()
        )
    );
    let summary = std::fs::read_to_string(dir.join("summary.md")).unwrap();
    assert!(summary.contains("| preset-clean | 1 | skipped |"), "{summary}");
    assert!(summary.contains("### Skipped (not passed)"), "{summary}");

    let help = nowcam().args(["run", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(help.contains("3 when nothing was verified"), "{help}");
}

#[test]
fn shards_split_the_scenarios_without_overlap() {
    let list = |shard: &str| {
        let output = nowcam().args(["run", "--target", "wokwi", "--seeds", "1", "--shard", shard]).output().unwrap();
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter(|l| l.starts_with("skipped: "))
            .map(String::from)
            .collect::<Vec<_>>()
    };
    let (first, second) = (list("1/2"), list("2/2"));
    assert!(!first.is_empty() && !second.is_empty());
    assert!(first.iter().all(|line| !second.contains(line)));
    let all = list("1/1");
    assert_eq!(all.len(), first.len() + second.len());
}

#[test]
fn transfer_with_a_key_file_runs_the_authenticated_mode_and_refuses_a_bad_key() {
    let dir = scratch("key");
    let key = dir.join("key.hex");
    std::fs::write(&key, "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n").unwrap();
    let output = nowcam()
        .args(["transfer", "fixtures/vga-q12-20k.jpg", "--preset", "random5", "--forge-chunks", "0.2", "--json"])
        .arg("--key-file")
        .arg(&key)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["byte_exact"], true);
    let forged = json["hostile"]["kinds"].as_array().unwrap().iter().find(|k| k[0] == "forged-chunk").unwrap();
    assert!(forged[1]["sent"].as_u64().unwrap() > 0, "{json}");
    assert_eq!(forged[1]["taken"], 0, "a forged chunk reached the store: {json}");

    std::fs::write(&key, "not a key").unwrap();
    let output = nowcam().args(["transfer", "fixtures/vga-q12-20k.jpg", "--key-file"]).arg(&key).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("expected 64 hexadecimal digits or 32 raw bytes, found 9 bytes"), "{stderr}");
}

/// `nowcam serve --mdns 127.0.0.1:0` answers `nowcam discover --via` with
/// its cam_name and HTTP port, all on loopback. Discovery listens for 5 s:
/// a debug build of serve, sharing two cores with the other tests, may
/// answer late.
#[test]
fn discover_lists_serve_found_over_mdns_on_loopback() {
    use std::io::BufRead;
    let mut serve = nowcam()
        .args(["serve", "--http", "127.0.0.1:0", "--stream-port", "0", "--mdns", "127.0.0.1:0"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stdout = serve.stdout.take().unwrap();
    let (http, mdns) = {
        let mut http = None;
        let mut lines = std::io::BufReader::new(stdout).lines();
        loop {
            let Some(Ok(line)) = lines.next() else {
                let _ = serve.kill();
                panic!("nowcam serve ended before it printed its mDNS address");
            };
            let address = |prefix: &str| line.strip_prefix(prefix).and_then(|rest| rest.split(['/', ' ']).next());
            if let Some(address) = address("nowcam serve: http://").filter(|_| line.contains("(API and page)")) {
                http = Some(address.parse::<std::net::SocketAddr>().unwrap());
            }
            if let Some(address) = address("nowcam serve: mDNS on ") {
                let found = (http.expect("the API's address comes first"), address.to_string());
                // Keep reading what serve prints, so that a full pipe never stalls it.
                std::thread::spawn(move || lines.for_each(drop));
                break found;
            }
        }
    };
    let output = nowcam().args(["discover", "--via", &mdns, "--timeout-s", "5", "--json"]).output().unwrap();
    let _ = serve.kill();
    let _ = serve.wait();
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let receivers = json.as_array().unwrap();
    assert_eq!(receivers.len(), 1, "{json}");
    assert_eq!(receivers[0]["cam_name"], "nowcam-serve");
    assert_eq!(receivers[0]["port"], http.port());
    assert_eq!(receivers[0]["url"], format!("http://{http}/"));
}

#[test]
fn discover_refuses_a_bad_timeout() {
    let output = nowcam().args(["discover", "--via", "127.0.0.1:9", "--timeout-s", "0"]).output().unwrap();
    assert_ne!(output.status.code(), Some(0));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("--timeout-s"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// At 54 Mbps a weak signal loses every frame to noise, where 1 Mbps still
/// delivers; a strong one lets 54 Mbps through, faster.
#[test]
fn the_snr_decides_which_rates_get_through() {
    let run = |rate: &str, snr: &str| -> serde_json::Value {
        let output = nowcam()
            .args(["transfer", "fixtures/qvga-q12.jpg", "--phy-rate", rate, "--snr-db", snr, "--json"])
            .args(["--time-limit-s", "30"])
            .output()
            .unwrap();
        serde_json::from_slice(&output.stdout).unwrap()
    };
    let slow = run("1", "8");
    assert_eq!(slow["ok"], true, "{slow}");
    let lost = run("54", "8");
    assert_eq!(lost["ok"], false, "{lost}");
    assert_eq!(lost["throughput_kbps"], serde_json::Value::Null);
    let fast = run("54", "30");
    assert_eq!(fast["ok"], true, "{fast}");
    assert!(
        fast["throughput_kbps"].as_f64().unwrap() > 2.0 * slow["throughput_kbps"].as_f64().unwrap(),
        "{fast} {slow}"
    );
    assert_eq!(fast["snr_db"], 30.0);
}

/// The rate table: every rate gets a 100 KB image through at a high SNR,
/// 54 Mbps nothing at a low one, faster rates are faster, and the rate
/// controller (`auto`) gets through at both, in v1 and v2 frames.
#[test]
fn bench_rates_reports_each_rate_and_snr() {
    let dir = scratch("bench-rates");
    let json = dir.join("rates.json");
    let output = nowcam().args(["bench", "--rates", "--seeds", "2", "--json"]).arg(&json).output().unwrap();
    let value: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let rows = value["rates"].as_array().unwrap();
    assert_eq!(rows.len(), 16);
    // Six efficiency targets, the speed-up at the high SNR, auto against the
    // best fixed rate at the low one in each frame size; the exit status
    // says whether all were met, and the output marks each one missed.
    let checks = value["rate_checks"].as_array().unwrap();
    assert_eq!(checks.len(), 9, "{value}");
    let all_met = checks.iter().all(|c| c["met"] == true);
    assert_eq!(output.status.code(), Some(if all_met { 0 } else { 1 }), "{}", String::from_utf8_lossy(&output.stderr));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let missed = checks.iter().filter(|c| c["met"] == false).count();
    assert_eq!(stdout.matches("MISSED").count(), missed, "{stdout}");
    for check in checks {
        let met = check["measured"].as_f64().is_some_and(|m| m >= check["target"].as_f64().unwrap());
        assert_eq!(check["met"], met, "{check}");
    }
    let row_at = |rate: &str, frame: u64, snr: f64| {
        rows.iter().find(|r| r["rate"] == rate && r["frame_size"] == frame && r["snr_db"] == snr).unwrap()
    };
    let row = |rate: &str, snr: f64| row_at(rate, 250, snr);
    for rate in ["1", "11", "54", "auto"] {
        assert_eq!(row(rate, 30.0)["byte_exact"], 2, "{rate} Mbps");
        assert_eq!(row_at(rate, 1470, 30.0)["byte_exact"], 2, "{rate} Mbps, 1470-byte frames");
    }
    assert_eq!(row("54", 10.0)["byte_exact"], 0);
    assert_eq!(row("54", 10.0)["throughput_kbps"], serde_json::Value::Null);
    assert_eq!(row("auto", 10.0)["byte_exact"], 2, "{value}");
    assert_eq!(row_at("auto", 1470, 10.0)["byte_exact"], 2, "{value}");
    let kbps = |rate: &str| row(rate, 30.0)["throughput_kbps"].as_f64().unwrap();
    assert!(kbps("11") > 2.0 * kbps("1"), "{value}");
    // With a flash that takes no time, 54 Mbps beats 11: the page programs bound both.
    let ideal = |rate: &str| row(rate, 30.0)["ideal_flash_throughput_kbps"].as_f64().unwrap();
    assert!(ideal("54") > 1.5 * ideal("11"), "{value}");
}

#[test]
fn transfer_frame_size_is_used_and_reported_and_bad_sizes_are_refused() {
    let json = |size: &str| {
        let output = nowcam()
            .args(["transfer", "fixtures/vga-q12-20k.jpg", "--frame-size", size, "--phy-rate", "54", "--json"])
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
        serde_json::from_slice::<serde_json::Value>(&output.stdout).unwrap()
    };
    let v2 = json("1470");
    let v1 = json("250");
    assert_eq!((v2["frame_size"].as_u64(), v2["byte_exact"].as_bool()), (Some(1470), Some(true)), "{v2}");
    assert_eq!((v1["frame_size"].as_u64(), v1["byte_exact"].as_bool()), (Some(250), Some(true)), "{v1}");
    assert!(v2["frames_sent"].as_u64() < v1["frames_sent"].as_u64(), "{v2} {v1}");
    assert!(v2["sim_time_s"].as_f64() < v1["sim_time_s"].as_f64(), "{v2} {v1}");
    // The lower bound is that of the frames used: fewer, larger exchanges.
    assert!(v2["lower_bound_s"].as_f64().unwrap() < v1["lower_bound_s"].as_f64().unwrap() / 2.0, "{v2} {v1}");
    for bad in ["249", "1471", "-1"] {
        let output =
            nowcam().args(["transfer", "fixtures/vga-q12-20k.jpg", "--frame-size", bad, "--json"]).output().unwrap();
        assert_eq!(output.status.code(), Some(2), "{bad}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("frame_size: expected an integer from 250 to 1470"), "{bad}: {stderr}");
    }
}

/// tshark, which `cargo xtask test` installs; `None` (a skip, said on
/// stderr) only outside the test command, which sets
/// `NOWCAM_REQUIRE_CLIENTS=1` and makes a missing tshark a failure.
fn tshark() -> Option<PathBuf> {
    let found = std::env::var_os("PATH")
        .and_then(|path| std::env::split_paths(&path).map(|dir| dir.join("tshark")).find(|path| path.is_file()));
    if found.is_none() {
        assert!(
            std::env::var("NOWCAM_REQUIRE_CLIENTS").as_deref() != Ok("1"),
            "tshark is missing although the test command installs it"
        );
        eprintln!("skipped: tshark is not installed (`cargo xtask client-tools` installs it)");
    }
    found
}

/// Every frame of a capture, v1 (one vendor-specific element) or v2 (its
/// body split into elements of 250 bytes), is what tshark shows for
/// ESP-NOW: an Action frame, category Vendor Specific (127), OUI 18:fe:34
/// (Espressif), with the random value, the element headers and the body as
/// its data, and nothing malformed.
#[test]
fn tshark_decodes_v1_and_v2_captures_as_espressif_action_frames() {
    let Some(tshark) = tshark() else { return };
    let dir = scratch("tshark");
    for (frame_size, file) in [("250", "v1.pcapng"), ("1470", "v2.pcapng"), ("1470", "v2.pcap")] {
        let capture = dir.join(file);
        let status = nowcam()
            .args(["transfer", "fixtures/vga-q12-20k.jpg", "--preset", "random5", "--frame-size", frame_size])
            .arg("--pcap")
            .arg(&capture)
            .status()
            .unwrap();
        assert!(status.success());
        let frames = nowcam_sim::capture::read_capture(std::fs::File::open(&capture).unwrap()).unwrap();
        let longest = frames.iter().map(|frame| frame.body.len()).max().unwrap();
        assert_eq!(longest > 250, frame_size == "1470", "{file}: longest body {longest}");
        let output = Command::new(&tshark)
            .args(["-r"])
            .arg(&capture)
            .args(["-T", "fields", "-E", "separator=,", "-e", "wlan.fc.type_subtype", "-e", "wlan.fixed.category_code"])
            .args(["-e", "wlan.tag.oui", "-e", "data.len", "-e", "_ws.malformed"])
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        let lines: Vec<String> = String::from_utf8_lossy(&output.stdout).lines().map(str::to_owned).collect();
        // A pcap file holds the frames receivers got, a pcapng every frame sent.
        assert_eq!(lines.len(), frames.len(), "{file}");
        for (line, frame) in lines.iter().zip(&frames) {
            let elements = frame.body.len().div_ceil(250).max(1);
            let data_len = 4 + 7 * elements + frame.body.len();
            assert_eq!(*line, format!("0x000d,127,{},{data_len},", 0x18fe34), "{file}");
        }
    }

    // Each frame's rate is in its radiotap header: the Rate field, or the
    // MCS field of an HT rate.
    use nowcam_sim::capture::{write_capture, CaptureFormat, CapturedFrame, Fate};
    let rates = [nowcam_link::PhyRate::Dsss1Mbps, nowcam_link::PhyRate::Cck11Mbps, nowcam_link::PhyRate::Ofdm54Mbps];
    let frames: Vec<CapturedFrame> = rates
        .iter()
        .copied()
        .chain([nowcam_link::PhyRate::HtMcs7])
        .enumerate()
        .map(|(i, rate)| CapturedFrame {
            time_ns: 1_000 * i as u64,
            source: nowcam_proto::MacAddress([2, 0, 0, 0, 0, 1]),
            destination: nowcam_proto::MacAddress::BROADCAST,
            body: vec![i as u8; 300],
            fate: Fate::Delivered,
            rate: Some(rate),
        })
        .collect();
    let capture = dir.join("rates.pcapng");
    write_capture(std::fs::File::create(&capture).unwrap(), CaptureFormat::PcapNg, 6, &frames).unwrap();
    let output = Command::new(&tshark)
        .arg("-r")
        .arg(&capture)
        .args(["-T", "fields", "-E", "separator=,", "-e", "radiotap.datarate", "-e", "radiotap.mcs.index"])
        .args(["-e", "_ws.malformed"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let lines: Vec<String> = String::from_utf8_lossy(&output.stdout).lines().map(str::to_owned).collect();
    // tshark works out MCS 7 at 20 MHz with the long guard interval: 65 Mbps.
    assert_eq!(lines, ["1,,", "11,,", "54,,", "65,7,"]);
}

/// `--phy-rate auto`: the camera's rate controller picks each chunk's rate;
/// the JSON says "auto", the chunks per rate and the rate it ended on, and
/// the bound is that of the best rate for the SNR. Anything but a number or
/// `auto` is refused.
#[test]
fn transfer_phy_rate_auto_is_reported() {
    let output = nowcam()
        .args(["transfer", "fixtures/vga-q12-20k.jpg", "--phy-rate", "auto", "--snr-db", "30", "--json"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["phy_rate"], "auto", "{json}");
    assert_eq!(json["byte_exact"], true, "{json}");
    let chunks: u64 = json["rates_used"].as_array().unwrap().iter().map(|r| r["chunks"].as_u64().unwrap()).sum();
    assert!(chunks >= 84, "every chunk of 20 KB is counted: {json}");
    assert!(json["final_rate"].is_string(), "{json}");
    // At 30 dB the best rate is fast: the bound is far below 1 Mbps's.
    let fixed = nowcam()
        .args(["transfer", "fixtures/vga-q12-20k.jpg", "--phy-rate", "1", "--snr-db", "30", "--json"])
        .output()
        .unwrap();
    let fixed: serde_json::Value = serde_json::from_slice(&fixed.stdout).unwrap();
    assert_eq!(fixed["phy_rate"], 1.0);
    assert_eq!(fixed["rates_used"], serde_json::Value::Null);
    assert!(json["lower_bound_s"].as_f64().unwrap() < fixed["lower_bound_s"].as_f64().unwrap() / 5.0, "{json} {fixed}");
    let refused = nowcam().args(["transfer", "fixtures/vga-q12-20k.jpg", "--phy-rate", "fast"]).output().unwrap();
    assert_eq!(refused.status.code(), Some(2), "{}", String::from_utf8_lossy(&refused.stderr));
}
