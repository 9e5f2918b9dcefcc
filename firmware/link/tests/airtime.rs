//! Airtime and lower-bound figures against `shared/ESPNOW-FACTS.md`.

use nowcam_link::airtime::{
    self, ack_ns, attempt_ns, contention_window, data_frame_ns, exchange_ns, mean_backoff_ns, MAX_PAYLOAD_LEN,
};
use nowcam_link::{lower_bound, lower_bound_at, LowerBoundError, PhyRate, Preset};

const US: u64 = 1_000;

#[test]
fn one_mbps_figures_match_the_facts_table() {
    let rate = PhyRate::Dsss1Mbps;
    assert_eq!(data_frame_ns(rate, 250), 2_536 * US);
    assert_eq!(ack_ns(rate), 304 * US);
    assert_eq!(airtime::SIFS_NS, 10 * US);
    assert_eq!(airtime::DIFS_NS + mean_backoff_ns(0), 28 * US + 67_500);
    assert_eq!(exchange_ns(rate, 250), 2_945_500);
    // The broadcast attempt has no SIFS and no ACK.
    assert_eq!(attempt_ns(rate, 250, true, mean_backoff_ns(0)), 2_631_500);
}

#[test]
fn data_frame_follows_the_per_byte_formula() {
    for payload in [0, 1, 12, 100, 249, 250] {
        let expected = (192 + 8 * (payload as u64 + 43)) * US;
        assert_eq!(data_frame_ns(PhyRate::Dsss1Mbps, payload), expected, "payload {payload}");
        assert_eq!(exchange_ns(PhyRate::Dsss1Mbps, payload), 28 * US + 67_500 + expected + 10 * US + 304 * US);
    }
}

#[test]
fn payload_ceilings_match_the_facts_table() {
    // Bytes per second, in tenths of a kilobyte (1 KB = 1000 bytes), rounded.
    let tenths_of_kb = |ns: u64| (250 * 1_000_000_000 / ns + 50) / 100;
    assert_eq!(tenths_of_kb(data_frame_ns(PhyRate::Dsss1Mbps, 250)), 986);
    assert_eq!(tenths_of_kb(exchange_ns(PhyRate::Dsss1Mbps, 250)), 849);
}

#[test]
fn other_rates_use_standard_timing() {
    // (rate, data PPDU of a full ESP-NOW frame in µs, ACK PPDU in µs)
    let cases = [
        (PhyRate::Dsss2Mbps, 192 + 1_172, 192 + 56),
        // 2344 bits at 5.5 Mbps is 426.2 µs, rounded up.
        (PhyRate::Cck5_5Mbps, 192 + 427, 192 + 56),
        (PhyRate::Cck11Mbps, 192 + 214, 192 + 56),
        // 16 + 2344 + 6 bits in 24-bit symbols: 99 symbols; ACK 134 bits: 6 symbols.
        (PhyRate::Ofdm6Mbps, 20 + 4 * 99 + 6, 20 + 4 * 6 + 6),
        (PhyRate::Ofdm12Mbps, 20 + 4 * 50 + 6, 20 + 4 * 3 + 6),
        // 54 Mbps: 216 bits per symbol, 11 symbols; its ACK goes at 24 Mbps in 2 symbols.
        (PhyRate::Ofdm54Mbps, 20 + 4 * 11 + 6, 20 + 4 * 2 + 6),
    ];
    for (rate, data_us, ack_us) in cases {
        assert_eq!(data_frame_ns(rate, 250), data_us * US, "{rate}");
        assert_eq!(ack_ns(rate), ack_us * US, "{rate}");
    }
}

#[test]
fn faster_rates_never_take_longer() {
    let dsss = &PhyRate::ALL[..4];
    let ofdm = &PhyRate::ALL[4..12];
    let ht = &PhyRate::ALL[12..];
    for class in [dsss, ofdm, ht] {
        for pair in class.windows(2) {
            assert!(exchange_ns(pair[1], 250) <= exchange_ns(pair[0], 250), "{} vs {}", pair[0], pair[1]);
        }
    }
}

#[test]
fn contention_window_doubles_up_to_its_cap() {
    let windows: Vec<u32> = (0..8).map(contention_window).collect();
    assert_eq!(windows, [15, 31, 63, 127, 255, 511, 1023, 1023]);
    assert_eq!(contention_window(u32::MAX), 1023);
    assert_eq!(mean_backoff_ns(1), 139_500);
}

#[test]
fn lower_bound_matches_the_facts_table() {
    // (image bytes, mean loss, bound rounded to the precision the table gives, in ms and in units of that precision)
    let cases = [
        (20_000, 0.0, 1, 236),
        (20_000, 0.1, 1, 262),
        (20_000, 0.3, 1, 337),
        (100_000, 0.0, 10, 118),
        (100_000, 0.1, 10, 131),
        (100_000, 0.3, 10, 168),
    ];
    for (bytes, loss, unit_ms, expected) in cases {
        let ns = lower_bound(bytes, loss).unwrap();
        let unit_ns = unit_ms * 1_000_000;
        assert_eq!((ns + unit_ns / 2) / unit_ns, expected, "{bytes} bytes at {loss}");
    }
    // Exact where the division is exact: 80 frames of 2945.5 µs.
    assert_eq!(lower_bound(20_000, 0.0), Ok(80 * 2_945_500));
    assert_eq!(lower_bound(20_000, 0.0), lower_bound_at(PhyRate::Dsss1Mbps, 20_000, 0.0));
}

#[test]
fn lower_bound_uses_the_preset_mean_loss() {
    let ns = lower_bound(20_000, Preset::Edge30.mean_loss()).unwrap();
    assert_eq!((ns + 500_000) / 1_000_000, 337);
}

#[test]
fn lower_bound_counts_whole_frames() {
    assert_eq!(lower_bound(0, 0.0), Ok(0));
    assert_eq!(lower_bound(1, 0.0), Ok(2_945_500));
    assert_eq!(lower_bound(MAX_PAYLOAD_LEN as u64 + 1, 0.0), Ok(2 * 2_945_500));
}

#[test]
fn lower_bound_refuses_impossible_loss() {
    for loss in [1.0, 1.5, -0.1, f64::NAN, f64::INFINITY] {
        assert_eq!(lower_bound(20_000, loss), Err(LowerBoundError::MeanLossOutOfRange), "{loss}");
    }
    assert_eq!(LowerBoundError::MeanLossOutOfRange.to_string(), "the mean loss is not a number in [0, 1)");
}

#[test]
fn phy_rates_parse_from_their_names() {
    for rate in PhyRate::ALL {
        assert_eq!(rate.name().parse::<PhyRate>(), Ok(rate));
        assert_eq!(rate.to_string().parse::<PhyRate>(), Ok(rate));
    }
    assert_eq!("5.5 Mbps".parse::<PhyRate>(), Ok(PhyRate::Cck5_5Mbps));
    assert_eq!(" 54mbps ".parse::<PhyRate>(), Ok(PhyRate::Ofdm54Mbps));
    assert_eq!("MCS7".parse::<PhyRate>(), Ok(PhyRate::HtMcs7));
    assert_eq!(PhyRate::default(), PhyRate::Dsss1Mbps);
    for bad in ["", "3", "mbps", "1.0", "11 Mbit", "é", "mcs8", "6.5"] {
        assert!(bad.parse::<PhyRate>().is_err(), "{bad:?}");
    }
}

#[test]
fn radiotap_rates_are_in_half_megabits() {
    assert_eq!(PhyRate::Dsss1Mbps.radiotap_rate(), Some(2));
    assert_eq!(PhyRate::Cck5_5Mbps.radiotap_rate(), Some(11));
    assert_eq!(PhyRate::Ofdm54Mbps.radiotap_rate(), Some(108));
    // Radiotap carries HT rates in its MCS field, not in the legacy rate field.
    assert_eq!(PhyRate::HtMcs7.radiotap_rate(), None);
    assert_eq!(PhyRate::HtMcs7.mcs(), Some(7));
}

#[test]
fn frame_length_counts_one_element_per_250_bytes() {
    // 36 fixed bytes + 7 per vendor element + the payload (shared/ESPNOW-FACTS.md).
    let cases = [(0, 43), (1, 44), (250, 293), (251, 301), (500, 550), (1_470, 1_548)];
    for (payload, mpdu) in cases {
        assert_eq!(airtime::frame_len(payload), mpdu, "payload {payload}");
    }
    assert_eq!(airtime::frame_len(MAX_PAYLOAD_LEN), MAX_PAYLOAD_LEN + airtime::FRAME_OVERHEAD_LEN);
    assert_eq!(airtime::frame_len(airtime::MAX_PAYLOAD_LEN_V2), 1_470 + 6 * 7 + 36);
}

#[test]
fn ofdm_and_ht_airtime_match_hand_computed_values() {
    // Service 16 + tail 6 bits around the MPDU: 2366 bits for 250 bytes (L = 293),
    // 12406 bits for 1470 bytes (L = 1548).
    // ERP-OFDM: 16 µs preamble + 4 µs SIGNAL + 4 µs × symbols + 6 µs signal extension.
    //   6 Mbps (24 bits/symbol):  2366 / 24 = 98.6 -> 99 symbols:  20 + 396 + 6 = 422 µs;
    //                            12406 / 24 = 516.9 -> 517:        20 + 2068 + 6 = 2094 µs.
    //  24 Mbps (96):              2366 / 96 = 24.6 -> 25:          20 + 100 + 6 = 126 µs;
    //                            12406 / 96 = 129.2 -> 130:        20 + 520 + 6 = 546 µs.
    //  54 Mbps (216):             2366 / 216 = 10.95 -> 11:        20 + 44 + 6 = 70 µs;
    //                            12406 / 216 = 57.4 -> 58:         20 + 232 + 6 = 258 µs.
    // HT mixed, 20 MHz, long GI: 36 µs preamble + 4 µs × symbols + 6 µs signal extension.
    //   MCS7 (260):               2366 / 260 = 9.1 -> 10:          36 + 40 + 6 = 82 µs;
    //                            12406 / 260 = 47.7 -> 48:         36 + 192 + 6 = 234 µs.
    let cases = [
        (PhyRate::Ofdm6Mbps, 250, 422),
        (PhyRate::Ofdm6Mbps, 1_470, 2_094),
        (PhyRate::Ofdm24Mbps, 250, 126),
        (PhyRate::Ofdm24Mbps, 1_470, 546),
        (PhyRate::Ofdm54Mbps, 250, 70),
        (PhyRate::Ofdm54Mbps, 1_470, 258),
        (PhyRate::HtMcs7, 250, 82),
        (PhyRate::HtMcs7, 1_470, 234),
    ];
    for (rate, payload, us) in cases {
        assert_eq!(data_frame_ns(rate, payload), us * US, "{rate}, {payload} bytes");
    }
    // 1 Mbps, 1470 bytes: 192 + 8 × 1548 = 12576 µs, as in the facts table.
    assert_eq!(data_frame_ns(PhyRate::Dsss1Mbps, 1_470), 12_576 * US);
    // The facts table's exchanges: 28 + 67.5 + T_data + 10 + T_ack (34 µs at 24 Mbps).
    assert_eq!(exchange_ns(PhyRate::Ofdm54Mbps, 250), 209_500);
    assert_eq!(exchange_ns(PhyRate::Ofdm54Mbps, 1_470), 397_500);
    assert_eq!(exchange_ns(PhyRate::HtMcs7, 1_470), 373_500);
}

#[test]
fn ht_acks_go_at_legacy_ofdm_basic_rates() {
    // ACK 14 bytes = 112 + 22 = 134 bits: 6 symbols at 6 Mbps, 3 at 12, 2 at 24.
    assert_eq!(ack_ns(PhyRate::HtMcs0), (20 + 4 * 6 + 6) * US);
    assert_eq!(ack_ns(PhyRate::HtMcs2), (20 + 4 * 3 + 6) * US);
    assert_eq!(ack_ns(PhyRate::HtMcs7), (20 + 4 * 2 + 6) * US);
}

#[test]
fn lower_bound_with_v2_frames_matches_the_facts_table() {
    // 1 Mbps, 1470-byte frames: one exchange is 12,985.5 µs; 100,000 bytes take 69 frames.
    assert_eq!(nowcam_link::lower_bound_with(PhyRate::Dsss1Mbps, 1_470, 100_000, 0.0), Ok(69 * 12_985_500));
    // 54 Mbps, 1470-byte frames: 397.5 µs each.
    assert_eq!(nowcam_link::lower_bound_with(PhyRate::Ofdm54Mbps, 1_470, 100_000, 0.0), Ok(69 * 397_500));
    // With 250-byte frames it is the v1 bound.
    assert_eq!(
        nowcam_link::lower_bound_with(PhyRate::Ofdm54Mbps, 250, 20_000, 0.1),
        lower_bound_at(PhyRate::Ofdm54Mbps, 20_000, 0.1)
    );
    assert_eq!(
        nowcam_link::lower_bound_with(PhyRate::Dsss1Mbps, 1_470, 1_000, 1.0),
        Err(LowerBoundError::MeanLossOutOfRange)
    );
}
