//! The simulator runs the chip's nodes: the ESP32-C3 build's capacities and
//! queues, discovery by probing and channel hopping, and frames that reach
//! only the radios tuned to their channel.

use std::path::{Path, PathBuf};

use nowcam_chips::{Capacities, Chip};
use nowcam_proto::wire::{AbortReason, FrameRepr};
use nowcam_sim::fixtures::FixtureCatalog;
use nowcam_sim::run::RunOptions;
use nowcam_sim::scenario::{Scenario, FRAME_SIZES};
use nowcam_sim::setup::{prepare, Prepared, SetupError, NODE_CAPACITIES};
use nowcam_sim::verdict::ImageResult;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn fixtures() -> FixtureCatalog {
    FixtureCatalog::load(&root().join("fixtures")).unwrap()
}

fn prepared(text: &str) -> Prepared {
    let fixtures = fixtures();
    let scenario = Scenario::parse(Path::new("scenarios/test.toml"), text, &fixtures).unwrap();
    prepare(&scenario, &fixtures).unwrap()
}

const ONE_CAMERA: &str = r#"
[link]
preset = "clean"
[[senders]]
name = "cam"
images = ["qvga-q12.jpg"]
[[receivers]]
name = "rx"
"#;

#[test]
fn the_simulated_nodes_hold_the_c3_builds_capacities() {
    assert_eq!(NODE_CAPACITIES, Chip::Esp32C3.capacities());
    assert_eq!(NODE_CAPACITIES, nowcam_chips::ESP32C3);
    let prepared = prepared(ONE_CAMERA);
    assert_eq!(prepared.capacities(), nowcam_chips::ESP32C3);
    assert!(prepared.run(0, RunOptions::default()).unwrap().passed);
}

/// A scenario's frame sizes reach up to the chip build's largest frame, and
/// a node set above it (past the scenario checks) is refused, typed.
#[test]
fn frames_above_the_chip_builds_are_refused() {
    assert_eq!(NODE_CAPACITIES.max_frame_len, usize::from(*FRAME_SIZES.end()));
    let mut prepared = prepared(ONE_CAMERA);
    prepared.scenario.receivers[0].frame_size = 1471;
    match prepared.run(0, RunOptions::default()) {
        Err(SetupError::FrameSize { node, frame_size: 1471, max_frame_len: 1470, .. }) => {
            assert_eq!(node, "receiver rx")
        }
        other => panic!("expected a frame size error, got {:?}", other.map(|r| r.passed)),
    }
    let mut prepared = self::prepared(ONE_CAMERA);
    prepared.scenario.senders[0].frame_size = 2000;
    let error = prepared.run(0, RunOptions::default()).unwrap_err();
    assert_eq!(
        error.to_string(),
        "test: sender cam: frame_size 2000 is above the 1470-byte frames the chip build's radio takes"
    );
}

#[test]
fn capacities_other_than_the_compiled_ones_are_refused() {
    let eight = Capacities { receiver_transfers: 8, ..nowcam_chips::ESP32C3 };
    let deeper = Capacities { radio_receive_queue: 32, ..nowcam_chips::ESP32C3 };
    for capacities in [eight, deeper] {
        let prepared = prepared(ONE_CAMERA).with_capacities(capacities);
        match prepared.run(0, RunOptions::default()) {
            Err(SetupError::Capacities { requested, compiled, .. }) => {
                assert_eq!(*requested, capacities);
                assert_eq!(*compiled, nowcam_chips::ESP32C3);
            }
            other => panic!("expected a capacities error, got {:?}", other.map(|r| r.passed)),
        }
    }
    let error = prepared(ONE_CAMERA).with_capacities(eight).run(0, RunOptions::default()).unwrap_err();
    assert!(error.to_string().starts_with("test: capacities "), "{error}");
}

const CHANNELS: &str = r#"
[link]
preset = "clean"
[[senders]]
name = "cam"
images = ["qvga-q12.jpg"]
channel = 6
DISCOVERY
[[receivers]]
name = "rx"
channel = 11
"#;

#[test]
fn a_camera_with_discovery_hops_to_the_receivers_channel() {
    let prepared = prepared(&CHANNELS.replace("DISCOVERY", ""));
    let options = RunOptions { capture: false, keep_images: true };
    let result = prepared.run(3, options).unwrap();
    assert!(result.passed, "{:?}", result.failures);
    assert_eq!(result.images_byte_exact(), 1);
    assert_eq!(result.received.len(), 1);
    assert_eq!(&result.received[0].bytes[..], &prepared.images()[0][0][..]);
    // Probes on channels 6 to 10 went unanswered, 30 ms each.
    assert!(result.sim_time_s > 0.15, "{}", result.sim_time_s);
}

#[test]
fn a_pinned_camera_on_the_wrong_channel_delivers_nothing() {
    let prepared =
        prepared(&CHANNELS.replace("DISCOVERY", "discovery = false").replace("[link]", "time_limit_s = 20\n[link]"));
    let result = prepared.run(3, RunOptions { capture: false, keep_images: true }).unwrap();
    assert!(!result.passed);
    assert_eq!(result.images_byte_exact(), 0);
    assert!(result.received.is_empty());
    assert!(matches!(result.images[0].result, ImageResult::Failed { .. } | ImageResult::Unfinished));
    assert!(result.air.frames_sent > 0 && result.air.frames_lost == result.air.frames_sent, "{:?}", result.air);
}

#[test]
fn a_burst_of_eight_cameras_is_taken_in_turn_without_flash_stalls() {
    let fixtures = fixtures();
    let scenario = Scenario::load(&root().join("scenarios/burst8.toml"), &fixtures).unwrap();
    let prepared = prepare(&scenario, &fixtures).unwrap();
    for seed in 0..2 {
        let result = prepared.run(seed, RunOptions { capture: true, keep_images: true }).unwrap();
        assert!(result.passed, "seed {seed}: {:?}", result.failures);
        assert_eq!(result.images_byte_exact(), 8);
        assert_eq!(result.received.len(), 8);
        // The receiver starts with two slots erased ahead (as the board keeps
        // them) and erases only while it receives no transfer, so the flash
        // stalls no transfer: page programs only. Those erases are the
        // chip's, 64 KiB blocks of 150 ms, and offers of the cameras waiting
        // meanwhile can overflow the receive queue of 10 (they offer again).
        assert!(result.flash_stall_s < 0.5, "seed {seed}: {} s stalled", result.flash_stall_s);
        println!("seed {seed}: {} frames dropped at the receive queue", result.air.frames_dropped_rx_queue);
        // Slots free up in turn: the other cameras were answered Busy and came back.
        let busy = result
            .capture
            .iter()
            .flatten()
            .filter(|f| {
                matches!(FrameRepr::parse_bytes(&f.body), Ok(FrameRepr::Abort { reason: AbortReason::Busy, .. }))
            })
            .count();
        assert!(busy >= 4, "seed {seed}: {busy} Busy answers");
    }
}

const BACK_TO_BACK: &str = r#"
FLASH
[link]
preset = "clean"
[[senders]]
name = "cam"
images = ["vga-q12-20k.jpg"]
repeat = 4
[[receivers]]
name = "rx"
"#;

#[test]
fn a_single_image_costs_no_flash_time_when_its_slot_was_erased_ahead() {
    let one = BACK_TO_BACK.replace("repeat = 4", "repeat = 1");
    let prepared_datasheet = prepared(&one.replace("FLASH", ""));
    let datasheet = prepared_datasheet.run(0, RunOptions::default()).unwrap();
    let ideal = prepared(&one.replace("FLASH", "flash = \"ideal\"")).run(0, RunOptions::default()).unwrap();
    assert!(datasheet.passed && ideal.passed);
    // Only page programs, which take less than a frame's airtime each, are left in the transfer.
    assert_eq!(datasheet.sim_time_s, ideal.sim_time_s);
    assert!(datasheet.flash_stall_s > 0.0 && datasheet.flash_stall_s < 0.1, "{}", datasheet.flash_stall_s);
    // The two slots the board keeps erased ahead (of its four 576 KiB
    // slots), erased before the run: each its header sector (45 ms), then
    // its nine 64 KiB blocks (150 ms each).
    assert!((datasheet.flash_erase_s - 2.0 * (0.045 + 9.0 * 0.150)).abs() < 1e-9, "{}", datasheet.flash_erase_s);
    assert_eq!((ideal.flash_erase_s, ideal.flash_stall_s), (0.0, 0.0));
}

#[test]
fn back_to_back_images_wait_for_erase_ahead_with_busy_and_never_stall_on_an_erase() {
    let prepared = prepared(&BACK_TO_BACK.replace("FLASH", ""));
    let result = prepared.run(1, RunOptions { capture: true, keep_images: false }).unwrap();
    assert!(result.passed, "{:?}", result.failures);
    assert_eq!(result.images_byte_exact(), 4);
    assert_eq!(result.air.frames_dropped_rx_queue, 0, "{:?}", result.air);
    // The run starts with two slots erased ahead, for the first two images;
    // the third and fourth wait while a slot is made ready for them (its
    // header sector and first block, 195 ms), their offers answered Busy.
    let busy = result
        .capture
        .iter()
        .flatten()
        .filter(|f| matches!(FrameRepr::parse_bytes(&f.body), Ok(FrameRepr::Abort { reason: AbortReason::Busy, .. })))
        .count();
    assert!(busy >= 2, "{busy} Busy answers");
    assert!(result.flash_erase_s >= 4.0 * 0.225 - 1e-9, "{}", result.flash_erase_s);
    // Page programs only: about 0.8 ms for each of 84 chunks per image.
    assert!(result.flash_stall_s < 4.0 * 0.1, "{}", result.flash_stall_s);
}
