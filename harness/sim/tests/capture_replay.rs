//! A capture written from a run reads back, and replaying it reproduces the
//! images byte-exact, for nowcam and legacy transfers and every file format.

use std::path::Path;
use std::sync::Arc;

use nowcam_sim::capture::{read_capture, write_capture, CaptureFormat, Fate};
use nowcam_sim::fixtures::{synthetic_image, FixtureCatalog};
use nowcam_sim::replay::{replay, Format};
use nowcam_sim::run::RunOptions;
use nowcam_sim::scenario::Scenario;
use nowcam_sim::setup::prepare_with_images;

fn run_with_capture(preset: &str, protocols: &[&str], images: &[Arc<[u8]>]) -> Vec<nowcam_sim::capture::CapturedFrame> {
    let mut text = format!("[link]\npreset = \"{preset}\"\n");
    for (protocol, image) in protocols.iter().zip(images) {
        text.push_str(&format!("[[senders]]\nprotocol = \"{protocol}\"\nimages = [\"synthetic:{}\"]\n", image.len()));
    }
    text.push_str("[[receivers]]\n");
    let catalog = FixtureCatalog::from_fixtures(Path::new("fixtures"), Vec::new());
    let scenario = Scenario::parse(Path::new("capture.toml"), &text, &catalog).unwrap();
    let prepared = prepare_with_images(&scenario, images.iter().map(|i| vec![i.clone()]).collect()).unwrap();
    let result = prepared.run(3, RunOptions { capture: true, keep_images: false }).unwrap();
    assert!(result.passed, "{:?}", result.failures);
    result.capture.unwrap()
}

#[test]
fn replaying_a_capture_reproduces_the_images_in_every_format() {
    let nowcam: Arc<[u8]> = synthetic_image(30_000).into();
    let legacy: Arc<[u8]> = synthetic_image(3_000).into();
    let frames = run_with_capture("edge30", &["nowcam", "legacy"], &[nowcam.clone(), legacy.clone()]);
    assert!(frames.iter().any(|f| f.fate == Fate::Dropped), "edge30 should drop frames");
    for format in [CaptureFormat::PcapNg, CaptureFormat::PcapRadiotap, CaptureFormat::Pcap80211] {
        let mut bytes = Vec::new();
        write_capture(&mut bytes, format, 1, &frames).unwrap();
        let read = read_capture(bytes.as_slice()).unwrap();
        let images = replay(&read);
        assert_eq!(images.len(), 2, "{format:?}");
        let found_nowcam = images.iter().find(|i| i.format == Format::Nowcam).unwrap();
        let found_legacy = images.iter().find(|i| i.format == Format::Legacy).unwrap();
        assert_eq!(&found_nowcam.bytes[..], &nowcam[..], "{format:?}");
        assert_eq!(&found_legacy.bytes[..], &legacy[..], "{format:?}");
    }
}

#[test]
fn pcapng_marks_dropped_and_duplicated_frames() {
    let image: Arc<[u8]> = synthetic_image(60_000).into();
    let frames = run_with_capture("dup1", &["nowcam"], std::slice::from_ref(&image));
    let mut bytes = Vec::new();
    write_capture(&mut bytes, CaptureFormat::PcapNg, 1, &frames).unwrap();
    let read = read_capture(bytes.as_slice()).unwrap();
    assert_eq!(read.len(), frames.len());
    assert!(read.iter().any(|f| f.fate == Fate::Duplicate));
    let text = String::from_utf8_lossy(&bytes);
    assert!(text.contains("duplicate"));
    assert_eq!(&replay(&read)[0].bytes[..], &image[..]);
}
