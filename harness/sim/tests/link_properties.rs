//! Any loss below 50 % with a finite outage still delivers byte-exact: the
//! whole system (sender node, link model, receiver node, store), 256 cases.
//!
//! The camera gives a transfer up once its receiver has been silent for
//! about 3 s (it looks for the receiver again, fw8) and then sends the same
//! image again under a new session once it has found it (a retry of a failed
//! image), so outages of up to 3 s are tried.

use std::path::Path;
use std::sync::Arc;

use nowcam_sim::fixtures::{synthetic_image, FixtureCatalog};
use nowcam_sim::run::RunOptions;
use nowcam_sim::scenario::Scenario;
use nowcam_sim::setup::prepare_with_images;
use proptest::prelude::*;

fn scenario(text: &str) -> Scenario {
    let catalog = FixtureCatalog::from_fixtures(Path::new("fixtures"), Vec::new());
    Scenario::parse(Path::new("property.toml"), text, &catalog).unwrap()
}

/// The longest outage the property tries: see the module's comment.
const MAX_OUTAGE_S: f64 = 3.0;

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn lossy_links_with_a_finite_outage_deliver_byte_exact(
        loss in 0.0f64..0.5,
        status_loss in 0.0f64..0.5,
        bursty in any::<bool>(),
        outage_from in 0.0f64..2.0,
        outage_len in 0.01f64..MAX_OUTAGE_S,
        len in 1usize..12_000,
        seed in any::<u64>(),
    ) {
        let (result, image) = run(loss, status_loss, bursty, outage_from, outage_len, len, seed);
        prop_assert!(result.passed, "{:?}", result.failures);
        prop_assert_eq!(result.received.len(), 1);
        prop_assert_eq!(&result.received[0].bytes[..], &image[..]);
    }
}

/// One case of the property: the link, the outage, an image of `len` bytes, the seed.
fn run(
    loss: f64,
    status_loss: f64,
    bursty: bool,
    outage_from: f64,
    outage_len: f64,
    len: usize,
    seed: u64,
) -> (nowcam_sim::run::RunResult, Arc<[u8]>) {
    // A bursty link with the same mean loss: bursts of 1/r frames.
    let data = if bursty {
        let r = 0.25;
        let p = loss * r / (1.0 - loss);
        format!("gilbert_elliott = {{ p = {p}, r = {r}, h = 1.0, k = 0.0 }}")
    } else {
        format!("loss = {loss}")
    };
    let text = format!(
        "time_limit_s = 300\n[link.data]\n{data}\n[link.status]\nloss = {status_loss}\n[[link.outages]]\nfrom_s = {outage_from}\nto_s = {}\n[[senders]]\nimages = [\"synthetic:{len}\"]\n[[receivers]]\n",
        outage_from + outage_len
    );
    let image: Arc<[u8]> = synthetic_image(len).into();
    let prepared = prepare_with_images(&scenario(&text), vec![vec![image.clone()]]).unwrap();
    let result = prepared.run(seed, RunOptions { capture: false, keep_images: true }).unwrap();
    (result, image)
}

/// A case the property once found: after an outage, the Gilbert-Elliott
/// chain (which steps once per frame) stayed in its bad state through five
/// broadcast polls 250 ms apart, and the camera gave its receiver up. A
/// repeated poll now goes unicast, with the MAC's quick retries.
#[test]
fn polls_after_an_outage_in_a_long_burst_get_through() {
    let (result, image) =
        run(0.4178430892573077, 0.0, true, 0.35112777411310153, 1.6812625005001887, 11589, 1289169893573088051);
    assert!(result.passed, "{:?}", result.failures);
    assert_eq!(&result.received[0].bytes[..], &image[..]);
}
