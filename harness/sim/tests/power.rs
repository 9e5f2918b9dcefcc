//! Power loss (scenarios/power/): the receiver loses power in the middle of
//! transfers and of commits, and boots again on the flash as the cut left
//! it. Every cut must happen, the last committed image must be served
//! intact after every reboot, and the transfer after the last cut must
//! succeed byte-exact.
//!
//! The camera sends an interrupted image again: the rebooted receiver
//! answers its status requests with UnknownSession and the camera offers
//! the image anew (under the same session, then under new ones), so every
//! image, the interrupted ones included, must arrive byte-exact.

use std::path::{Path, PathBuf};

use nowcam_sim::fixtures::FixtureCatalog;
use nowcam_sim::run::RunOptions;
use nowcam_sim::scenario::Scenario;
use nowcam_sim::setup::prepare;
use nowcam_sim::verdict::ImageResult;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn power_cuts_keep_the_last_image_and_the_next_transfer_succeeds() {
    let fixtures = FixtureCatalog::load(&root().join("fixtures")).unwrap();
    let scenarios = Scenario::load_dir(&root().join("scenarios/power"), &fixtures).unwrap();
    assert!(!scenarios.is_empty());
    let mut tried = 0;
    for scenario in &scenarios {
        let planned = scenario.power_cuts.len();
        assert!(planned >= 2, "{}: plan a cut mid-transfer and one mid-commit", scenario.name);
        let prepared = prepare(scenario, &fixtures).unwrap();
        for seed in 0..u64::from(scenario.seeds) {
            let result = prepared.run(seed, RunOptions::default()).unwrap();
            let power = result.power.as_ref().expect("a run with power cuts reports them");
            tried += power.tried;
            assert_eq!(power.reboots, planned as u64, "{} seed {seed}: every cut happens", scenario.name);
            assert_eq!(power.lost_images, 0, "{} seed {seed}: {:?}", scenario.name, result.failures);
            let last = result.images.last().unwrap();
            assert_eq!(
                last.result,
                ImageResult::ByteExact,
                "{} seed {seed}: the transfer after the cuts",
                scenario.name
            );
            assert!(result.passed, "{} seed {seed}: {:?}", scenario.name, result.failures);
        }
    }
    println!("{tried} power cuts tried");
}
