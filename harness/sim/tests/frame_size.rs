//! ESP-NOW v2 frames through the whole system (camera node, link model,
//! receiver node, store): the frame size each side is configured with
//! decides the chunks, a v1 side keeps both at 241-byte chunks, and every
//! mix of sizes and PHY rates (fixed, or chosen per chunk by the rate
//! controller at an SNR) delivers byte-exact.

use std::path::Path;
use std::sync::Arc;

use nowcam_proto::wire::{FrameRepr, OfferRepr};
use nowcam_sim::fixtures::{synthetic_image, FixtureCatalog};
use nowcam_sim::run::{RunOptions, RunResult};
use nowcam_sim::scenario::{Scenario, ScenarioError};
use nowcam_sim::setup::prepare_with_images;
use proptest::prelude::*;

fn parse(text: &str) -> Result<Scenario, ScenarioError> {
    let catalog = FixtureCatalog::from_fixtures(Path::new("fixtures"), Vec::new());
    Scenario::parse(Path::new("frames.toml"), text, &catalog)
}

/// One image of `len` bytes from a camera with `sender` frames to a receiver with `receiver` frames.
fn run(sender: u16, receiver: u16, rate: f64, discovery: bool, len: usize, seed: u64) -> (RunResult, Arc<[u8]>) {
    run_at(sender, receiver, &format!("{rate:?}"), None, discovery, len, seed)
}

/// [`run`] with the rate as the scenario writes it (`"54.0"`, `"\"auto\""`) and an SNR on both directions.
fn run_at(
    sender: u16,
    receiver: u16,
    rate: &str,
    snr_db: Option<f64>,
    discovery: bool,
    len: usize,
    seed: u64,
) -> (RunResult, Arc<[u8]>) {
    let snr = snr_db.map_or(String::new(), |snr| format!("snr_db = {snr:?}\n"));
    let text = format!(
        "time_limit_s = 300\n[link]\nloss = 0.05\nphy_rate_mbps = {rate}\n{snr}[[senders]]\nimages = [\"synthetic:{len}\"]\nframe_size = {sender}\ndiscovery = {discovery}\n[[receivers]]\nframe_size = {receiver}\n"
    );
    let image: Arc<[u8]> = synthetic_image(len).into();
    let prepared = prepare_with_images(&parse(&text).unwrap(), vec![vec![image.clone()]]).unwrap();
    let result = prepared.run(seed, RunOptions { capture: true, keep_images: true }).unwrap();
    (result, image)
}

/// The offers the camera sent.
fn offers(result: &RunResult) -> Vec<OfferRepr> {
    let capture = result.capture.as_deref().unwrap_or_default();
    capture
        .iter()
        .filter_map(|frame| match FrameRepr::parse_bytes(&frame.body) {
            Ok(FrameRepr::Offer(offer)) => Some(offer),
            _ => None,
        })
        .collect()
}

fn assert_delivered(result: &RunResult, image: &[u8]) {
    assert!(result.passed, "{:?}", result.failures);
    assert_eq!(result.received.len(), 1);
    assert_eq!(&result.received[0].bytes[..], image);
}

#[test]
fn v2_peers_send_1461_byte_chunks_byte_exact() {
    for discovery in [true, false] {
        let (result, image) = run(1470, 1470, 1.0, discovery, 100_000, 7);
        assert_delivered(&result, &image);
        let offers = offers(&result);
        // Found by a probe, the camera knows the size before its first offer;
        // pinned, it learns it from the answer to that offer, which it retries only
        // if it fails: either way every offer after the first uses it.
        let chunk_sizes: Vec<u16> = offers.iter().map(|offer| offer.chunk_size).collect();
        assert!(!chunk_sizes.is_empty());
        if discovery {
            assert!(chunk_sizes.iter().all(|&size| size == 1461), "{chunk_sizes:?}");
            assert_eq!(result.air.largest_frame, 1470);
            // 100,000 bytes in 69 chunks instead of 415.
            assert_eq!(offers[0].chunk_count, 69);
        } else {
            assert_eq!(chunk_sizes[0], 241, "a pinned camera offers before it hears of v2");
        }
        assert_eq!(result.air.frames_dropped_too_long, 0);
    }
}

#[test]
fn v1_receiver_keeps_a_v2_camera_at_241_byte_chunks() {
    for discovery in [true, false] {
        let (result, image) = run(1470, 250, 1.0, discovery, 30_000, 3);
        assert_delivered(&result, &image);
        let offers = offers(&result);
        assert!(!offers.is_empty());
        assert!(offers.iter().all(|offer| offer.chunk_size == 241), "{offers:?}");
        assert!(result.air.largest_frame <= 250, "{}", result.air.largest_frame);
        assert_eq!(result.air.frames_dropped_too_long, 0);
    }
    // And a v1 camera with a v2 receiver.
    let (result, image) = run(250, 1470, 1.0, true, 30_000, 3);
    assert_delivered(&result, &image);
    assert!(offers(&result).iter().all(|offer| offer.chunk_size == 241));
    assert!(result.air.largest_frame <= 250);
}

#[test]
fn a_camera_and_a_receiver_agree_on_the_smaller_frame() {
    let (result, image) = run(1470, 800, 11.0, true, 20_000, 5);
    assert_delivered(&result, &image);
    assert!(offers(&result).iter().all(|offer| offer.chunk_size == 791));
    assert_eq!(result.air.largest_frame, 800);
}

#[test]
fn v1_and_v2_peers_in_one_scenario() {
    // The v2 camera finds its receiver on channel 1 by probing; the other
    // camera, also v2, is pinned to a v1 receiver on channel 6.
    let text = "[[receivers]]\nname = \"v2\"\nframe_size = 1470\n[[receivers]]\nname = \"v1\"\nchannel = 6\n\
                [[senders]]\nname = \"fast\"\nimages = [\"synthetic:40000\"]\nframe_size = 1470\nto = \"v2\"\n\
                [[senders]]\nname = \"slow\"\nimages = [\"synthetic:40000\"]\nframe_size = 1470\nto = \"v1\"\nchannel = 6\ndiscovery = false\n";
    let scenario = parse(text).unwrap();
    assert!(scenario.needs().v2_frames);
    let images: Vec<Arc<[u8]>> = vec![synthetic_image(40_000).into(), synthetic_image(40_000).into()];
    let prepared = prepare_with_images(&scenario, images.iter().map(|image| vec![image.clone()]).collect()).unwrap();
    let result = prepared.run(1, RunOptions { capture: true, keep_images: true }).unwrap();
    assert!(result.passed, "{:?}", result.failures);
    assert_eq!(result.received.len(), 2);
    assert!(result.received.iter().all(|received| received.bytes[..] == images[0][..]));
    // The camera of the v2 receiver sent 1461-byte chunks, the other 241-byte ones.
    let mut sizes: Vec<u16> = offers(&result).iter().map(|offer| offer.chunk_size).collect();
    sizes.sort_unstable();
    sizes.dedup();
    assert_eq!(sizes, [241, 1461]);
}

#[test]
fn frame_sizes_outside_250_to_1470_are_refused_with_the_field() {
    for (text, field, found) in [
        ("[[senders]]\nimages = [\"synthetic:10\"]\nframe_size = 249\n[[receivers]]\n", "senders[0].frame_size", "249"),
        (
            "[[senders]]\nimages = [\"synthetic:10\"]\n[[receivers]]\nframe_size = 1471\n",
            "receivers[0].frame_size",
            "1471",
        ),
        (
            "[[senders]]\nprotocol = \"legacy\"\nimages = [\"synthetic:10\"]\nframe_size = 1470\n[[receivers]]\n",
            "senders[0].frame_size",
            "1470",
        ),
    ] {
        match parse(text) {
            Err(ScenarioError::Invalid { field: f, found: got, .. }) => {
                assert_eq!((f.as_str(), got.as_str()), (field, found));
            }
            other => panic!("{text}: expected an invalid {field}, got {other:?}"),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn mixed_frame_sizes_and_rates_deliver_byte_exact(
        sender in prop_oneof![Just(250u16), Just(1470u16), 250u16..=1470],
        receiver in prop_oneof![Just(250u16), Just(1470u16), 250u16..=1470],
        // A fixed rate on a link without noise, or the rate controller
        // (`"auto"`) at an SNR where the fast rates lose frames or none.
        (rate, snr_db) in prop_oneof![
            prop::sample::select(vec!["1.0", "2.0", "5.5", "11.0", "6.0", "24.0", "54.0"]).prop_map(|rate| (rate, None)),
            prop::sample::select(vec![None, Some(4.0), Some(8.0), Some(12.0), Some(16.0), Some(30.0)])
                .prop_map(|snr| ("\"auto\"", snr)),
        ],
        discovery in any::<bool>(),
        len in 1usize..60_000,
        seed in any::<u64>(),
    ) {
        let (result, image) = run_at(sender, receiver, rate, snr_db, discovery, len, seed);
        prop_assert!(result.passed, "{:?}", result.failures);
        prop_assert_eq!(result.received.len(), 1);
        prop_assert_eq!(&result.received[0].bytes[..], &image[..]);
        // No frame is ever longer than both sides take, and a camera that
        // probed cuts its chunks to fill the frame both take.
        let agreed = sender.min(receiver);
        prop_assert!(result.air.largest_frame <= u64::from(agreed));
        if discovery {
            let offers = offers(&result);
            prop_assert!(!offers.is_empty());
            prop_assert!(offers.iter().all(|offer| offer.chunk_size == agreed - 9), "{:?}", offers);
        }
        prop_assert_eq!(result.air.frames_dropped_too_long, 0);
        // The controller's chunks are counted per rate; a fixed rate counts none.
        prop_assert_eq!(result.rates_used.is_empty(), rate != "\"auto\"", "{:?}", result.rates_used);
    }
}

#[test]
fn authenticated_v2_transfers_send_1453_byte_chunks() {
    let key = "42".repeat(32);
    let text = format!(
        "key_hex = \"{key}\"\n[[senders]]\nimages = [\"synthetic:50000\"]\nframe_size = 1470\n[[receivers]]\nframe_size = 1470\n"
    );
    let image: Arc<[u8]> = synthetic_image(50_000).into();
    let prepared = prepare_with_images(&parse(&text).unwrap(), vec![vec![image.clone()]]).unwrap();
    let result = prepared.run(2, RunOptions { capture: true, keep_images: true }).unwrap();
    assert_delivered(&result, &image);
    let capture = result.capture.as_deref().unwrap_or_default();
    // The sealed offer carries the chunk size; every chunk frame with its tag is at most 1470 bytes.
    let sealed: Vec<u16> = capture
        .iter()
        .filter_map(|frame| match FrameRepr::parse_bytes(&frame.body) {
            Ok(FrameRepr::SealedOffer { offer, .. }) => Some(offer.chunk_size),
            _ => None,
        })
        .collect();
    assert!(!sealed.is_empty() && sealed.iter().all(|&size| size == 1453), "{sealed:?}");
    assert_eq!(result.air.largest_frame, 1470);
}
