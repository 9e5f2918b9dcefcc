//! Load: eight cameras into one receiver at random5, every image byte-exact
//! and each camera's throughput within a factor of 2 of the others'; and a
//! short soak through bursty20 (`nowcam soak` runs the long one).
//!
//! The receiver holds fewer transfers than there are cameras: it refuses
//! offers as Busy, and takes the refused cameras in the order they were
//! first refused as transfers end, so that none is given up after its 100
//! Busy answers. Nothing may be corrupt or stuck either.

use std::sync::Arc;

use nowcam_sim::soak::{soak, SoakConfig};

fn image() -> Arc<[u8]> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/vga-q12-20k.jpg");
    std::fs::read(path).unwrap().into()
}

#[test]
fn eight_cameras_share_one_receiver_fairly_and_byte_exact() {
    let config = SoakConfig { images: 160, preset: "random5".into(), cameras: 8, batch: 20, seed: 0, image: image() };
    let totals = soak(&config, |_| {}).unwrap();
    assert_eq!(totals.images, 160);
    assert_eq!((totals.corrupt, totals.stuck), (0, 0), "{}", totals.line());
    assert!(totals.passed(), "{} ({:?})", totals.line(), totals.errors);
    let spread = totals.throughput_spread();
    println!("{}; throughput highest/lowest {spread:.2}", totals.line());
    assert!(spread <= 2.0, "throughputs {:?} B/s: highest/lowest {spread:.2}", totals.throughputs());
}

#[test]
fn a_short_soak_through_bursty20_delivers_everything() {
    let config = SoakConfig { images: 100, preset: "bursty20".into(), cameras: 1, batch: 50, seed: 0, image: image() };
    let totals = soak(&config, |_| {}).unwrap();
    assert_eq!(totals.line(), "soak: 100 images, 100 delivered, 0 corrupt, 0 stuck");
    assert_eq!(totals.runs, 2);
}
