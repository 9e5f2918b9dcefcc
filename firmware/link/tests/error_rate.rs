//! The frame error model against ns-3's NIST error-rate model.

use nowcam_link::airtime::{frame_len, ACK_LEN};
use nowcam_link::{bits_success_probability, frame_success_probability, PhyRate};

/// Points on the frame-success curves of 1500-byte (12,000-bit) chunks, the
/// length ns-3's error-model validation examples (`examples/wireless/`) plot
/// for the NIST model, each where its curve is between 5 % and 95 %.
/// The expected values are the published formulas evaluated independently in
/// double precision (Python's `math.erfc`, `10 ** (dB / 10)`), so they check
/// this crate's elementary functions as well as the formulas.
const CURVE_POINTS: [(PhyRate, f64, f64); 11] = [
    (PhyRate::Dsss1Mbps, -4.0, 0.389_499_839_955_214_4),
    (PhyRate::Dsss2Mbps, 1.0, 0.675_963_583_887_273_2),
    (PhyRate::Cck5_5Mbps, 5.5, 0.470_607_123_955_187_2),
    (PhyRate::Cck11Mbps, 9.5, 0.390_760_223_442_542),
    (PhyRate::Ofdm6Mbps, 4.0, 0.912_613_050_398_249_7),
    (PhyRate::Ofdm12Mbps, 7.0, 0.909_460_303_537_257_9),
    (PhyRate::Ofdm24Mbps, 13.0, 0.589_744_343_784_716_5),
    (PhyRate::Ofdm36Mbps, 16.0, 0.490_278_788_208_240_1),
    (PhyRate::Ofdm48Mbps, 21.0, 0.723_356_588_281_168_7),
    (PhyRate::Ofdm54Mbps, 22.0, 0.512_806_087_827_702),
    (PhyRate::HtMcs7, 24.0, 0.947_259_563_264_058),
];

#[test]
fn chunk_success_matches_the_published_curves() {
    for (rate, snr_db, expected) in CURVE_POINTS {
        let got = bits_success_probability(rate, snr_db, 12_000);
        assert!((got - expected).abs() < 1e-6, "{rate} at {snr_db} dB: {got}, expected {expected}");
    }
}

#[test]
fn curves_sit_where_the_sensitivities_order_them() {
    // Half of the 1500-byte frames get through at roughly these SNRs (the
    // crossings of the curves above): each faster rate needs more signal.
    let half_way_db = [
        (PhyRate::Dsss1Mbps, -4.0),
        (PhyRate::Dsss2Mbps, 0.7),
        (PhyRate::Cck5_5Mbps, 5.5),
        (PhyRate::Cck11Mbps, 9.7),
        (PhyRate::Ofdm6Mbps, 3.5),
        (PhyRate::Ofdm54Mbps, 22.0),
        (PhyRate::HtMcs7, 23.3),
    ];
    for (rate, snr_db) in half_way_db {
        assert!(bits_success_probability(rate, snr_db - 1.0, 12_000) < 0.5, "{rate} below {snr_db} dB");
        assert!(bits_success_probability(rate, snr_db + 1.0, 12_000) > 0.5, "{rate} above {snr_db} dB");
    }
}

#[test]
fn success_never_falls_as_the_snr_rises() {
    for rate in PhyRate::ALL {
        for frame_bytes in [ACK_LEN, frame_len(250), frame_len(1_470)] {
            let mut previous = 0.0;
            for tenth_db in -100..=400 {
                let p = frame_success_probability(rate, f64::from(tenth_db) / 10.0, frame_bytes);
                assert!((0.0..=1.0).contains(&p), "{rate}, {frame_bytes} bytes, {tenth_db}/10 dB: {p}");
                assert!(p >= previous, "{rate}, {frame_bytes} bytes, {tenth_db}/10 dB: {p} < {previous}");
                previous = p;
            }
            assert!(previous > 0.999_999, "{rate}, {frame_bytes} bytes at 40 dB: {previous}");
        }
    }
}

#[test]
fn success_never_rises_with_the_frame_length() {
    for rate in PhyRate::ALL {
        for snr_db in [-5.0, 0.0, 5.0, 10.0, 15.0, 20.0, 25.0] {
            let mut previous = 1.0;
            for frame_bytes in (0..=1_548).step_by(43) {
                let p = frame_success_probability(rate, snr_db, frame_bytes);
                assert!(p <= previous, "{rate} at {snr_db} dB, {frame_bytes} bytes: {p} > {previous}");
                previous = p;
            }
        }
    }
}

#[test]
fn an_ack_at_1_mbps_is_lost_far_less_often_than_a_full_frame() {
    // At -4 dB, 1 Mbps DBPSK has BER = ½ exp(−22 × 10^−0.4) = 7.8e-5.
    // ACK: 48 header + 112 bits, success 0.98751; 250-byte payload (293-byte
    // MPDU): 48 + 2344 bits, success 0.82866. Loss 1.2 % against 17 %.
    let ack_loss = 1.0 - frame_success_probability(PhyRate::Dsss1Mbps, -4.0, ACK_LEN);
    let frame_loss = 1.0 - frame_success_probability(PhyRate::Dsss1Mbps, -4.0, frame_len(250));
    assert!((ack_loss - (1.0 - 0.987_506_805_095_890_8)).abs() < 1e-6, "{ack_loss}");
    assert!((frame_loss - (1.0 - 0.828_656_329_292_983_2)).abs() < 1e-6, "{frame_loss}");
    assert!(ack_loss < frame_loss / 10.0, "ack {ack_loss}, frame {frame_loss}");
}

#[test]
fn the_header_counts_at_the_lowest_rate() {
    // The PLCP header alone (a 0-byte MPDU) goes at the robust base rate, so
    // it survives where the 54 Mbps payload cannot.
    assert!(frame_success_probability(PhyRate::Ofdm54Mbps, 8.0, 0) > 0.999);
    assert!(frame_success_probability(PhyRate::Ofdm54Mbps, 8.0, frame_len(250)) < 1e-6);
}

#[test]
fn a_nan_snr_delivers_nothing() {
    assert_eq!(frame_success_probability(PhyRate::Dsss1Mbps, f64::NAN, 14), 0.0);
    assert_eq!(frame_success_probability(PhyRate::HtMcs7, f64::INFINITY, 1_548), 1.0);
    assert_eq!(frame_success_probability(PhyRate::HtMcs7, f64::NEG_INFINITY, 1_548), 0.0);
}
