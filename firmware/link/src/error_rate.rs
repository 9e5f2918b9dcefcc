//! How likely a frame is to arrive intact at a given PHY rate and
//! signal-to-noise ratio: ns-3's NIST error-rate model (`NistErrorRateModel`,
//! with its `DsssErrorRateModel` for 802.11b), over the frame's length.
//!
//! The model, as published:
//! - OFDM (ERP-OFDM and HT): the uncoded bit error probability of the
//!   constellation in additive white Gaussian noise at SNR `γ` (linear),
//!   - BPSK `½ erfc(√γ)`, QPSK `½ erfc(√(γ/2))`,
//!   - 16-QAM `¾ · ½ erfc(√(γ/10))`, 64-QAM `7/12 · ½ erfc(√(γ/42))`;
//!
//!   then the convolutional code's first-event error probability by the union
//!   bound over its distance spectrum, with `D = √(4p(1 − p))`:
//!   `Pe = (1/2b) Σ a_d D^d` (`b` = 1, 2, 3, 5 for rates 1/2, 2/3, 3/4, 5/6; the
//!   1/2 sum is halved), the `a_d` from Frenger, Orten and Ottosson,
//!   "Convolutional codes with optimum distance spectrum" (IEEE Commun. Lett.,
//!   1999) tables for 1/2, 2/3 and 3/4, and from Haccoun and Bégin, "High-rate
//!   punctured convolutional codes for Viterbi and sequential decoding" (IEEE
//!   Trans. Commun., 1989) table V for 5/6; a chunk of `n` bits survives with
//!   `(1 − min(Pe, 1))^n`. Validated against measurements in G. Pei and T. R.
//!   Henderson, "Validation of OFDM error rate model in ns-3" (Boeing, 2010).
//! - DSSS and CCK, with the 11 MHz chip rate's processing gain of 22 MHz
//!   noise bandwidth over the symbol rate:
//!   - 1 Mbps DBPSK: `½ exp(−22γ)`;
//!   - 2 Mbps DQPSK: `(√2 + 1) / √(8π√2) · x^(−½) · exp(−(2 − √2) x)` with
//!     `x = 11γ` (capped at ½, where the approximation leaves its range);
//!   - 5.5 and 11 Mbps CCK: ns-3's curve fits (its model without GSL), BER ½
//!     below γ = 0.1 and 0 above γ = 10.
//!
//!   A chunk of `n` bits survives with `(1 − BER)^n`.
//!
//! A frame survives when its PLCP header and its MPDU both do, as ns-3's
//! interference helper has it: the long-preamble PLCP header (48 bits) at
//! 1 Mbps DBPSK for DSSS and CCK, the SIGNAL field (24 bits) at BPSK 1/2 for
//! ERP-OFDM, and L-SIG and HT-SIG (24 + 48 bits) at BPSK 1/2 for HT. The MPDU
//! counts as its `8L` bits (`shared/ESPNOW-FACTS.md`: FER = 1 − (1 − BER)^(8L));
//! the service, tail and pad bits around it are left out.
//!
//! The SNR is that of the whole 20 MHz channel (22 MHz for DSSS), as ns-3
//! passes it; fading, interference and the receiver's implementation loss are
//! not modelled, so real radios need a few dB more than these curves.

use core::f64::consts::LN_10;

use crate::airtime::PhyRate;
use crate::math::{erfc, exp, ln_1p, sqrt};

/// Bits of the long-preamble DSSS PLCP header (SIGNAL, SERVICE, LENGTH, CRC).
const DSSS_HEADER_BITS: u64 = 48;

/// Bits of the ERP-OFDM SIGNAL field (L-SIG).
const OFDM_SIGNAL_BITS: u64 = 24;

/// Bits of the HT-SIG field of an HT mixed-format preamble.
const HT_SIGNAL_BITS: u64 = 48;

/// The probability that a frame of `frame_bytes` bytes (the MPDU, FCS
/// included, see [`crate::airtime::frame_len`]) sent at `rate` is received
/// intact at an SNR of `snr_db` decibels: the PLCP header's chance times the
/// MPDU's, by ns-3's NIST error-rate model (see the module documentation).
/// A NaN SNR gives 0.
pub fn frame_success_probability(rate: PhyRate, snr_db: f64, frame_bytes: usize) -> f64 {
    let header = if rate.is_ht() {
        bits_success_probability(PhyRate::Ofdm6Mbps, snr_db, OFDM_SIGNAL_BITS + HT_SIGNAL_BITS)
    } else if rate.is_ofdm() {
        bits_success_probability(PhyRate::Ofdm6Mbps, snr_db, OFDM_SIGNAL_BITS)
    } else {
        bits_success_probability(PhyRate::Dsss1Mbps, snr_db, DSSS_HEADER_BITS)
    };
    header * bits_success_probability(rate, snr_db, 8 * frame_bytes as u64)
}

/// The probability that `bits` bits sent at `rate` all arrive at an SNR of
/// `snr_db` decibels: ns-3's chunk success rate, with no PLCP header.
/// A NaN SNR gives 0.
pub fn bits_success_probability(rate: PhyRate, snr_db: f64, bits: u64) -> f64 {
    if snr_db.is_nan() {
        return 0.0;
    }
    let snr = exp(snr_db * LN_10 / 10.0);
    let error = match rate {
        PhyRate::Dsss1Mbps => 0.5 * exp(-22.0 * snr),
        PhyRate::Dsss2Mbps => dqpsk_bit_error(11.0 * snr),
        PhyRate::Cck5_5Mbps => cck5_5_bit_error(snr),
        PhyRate::Cck11Mbps => cck11_bit_error(snr),
        PhyRate::Ofdm6Mbps | PhyRate::HtMcs0 => coded_error(Modulation::Bpsk, Code::Half, snr),
        PhyRate::Ofdm9Mbps => coded_error(Modulation::Bpsk, Code::ThreeQuarters, snr),
        PhyRate::Ofdm12Mbps | PhyRate::HtMcs1 => coded_error(Modulation::Qpsk, Code::Half, snr),
        PhyRate::Ofdm18Mbps | PhyRate::HtMcs2 => coded_error(Modulation::Qpsk, Code::ThreeQuarters, snr),
        PhyRate::Ofdm24Mbps | PhyRate::HtMcs3 => coded_error(Modulation::Qam16, Code::Half, snr),
        PhyRate::Ofdm36Mbps | PhyRate::HtMcs4 => coded_error(Modulation::Qam16, Code::ThreeQuarters, snr),
        PhyRate::Ofdm48Mbps | PhyRate::HtMcs5 => coded_error(Modulation::Qam64, Code::TwoThirds, snr),
        PhyRate::Ofdm54Mbps | PhyRate::HtMcs6 => coded_error(Modulation::Qam64, Code::ThreeQuarters, snr),
        PhyRate::HtMcs7 => coded_error(Modulation::Qam64, Code::FiveSixths, snr),
    };
    survival(error, bits)
}

/// `(1 − error)^bits`, computed as `exp(bits · ln(1 − error))` so that tiny
/// error probabilities over long frames keep their precision.
fn survival(error: f64, bits: u64) -> f64 {
    if error <= 0.0 || bits == 0 {
        return 1.0;
    }
    if error >= 1.0 {
        return 0.0;
    }
    exp(bits as f64 * ln_1p(-error))
}

#[derive(Clone, Copy)]
enum Modulation {
    Bpsk,
    Qpsk,
    Qam16,
    Qam64,
}

impl Modulation {
    /// Uncoded bit error probability in AWGN at linear SNR `snr`.
    fn bit_error(self, snr: f64) -> f64 {
        match self {
            Modulation::Bpsk => 0.5 * erfc(sqrt(snr)),
            Modulation::Qpsk => 0.5 * erfc(sqrt(snr / 2.0)),
            Modulation::Qam16 => 0.75 * 0.5 * erfc(sqrt(snr / 10.0)),
            Modulation::Qam64 => 7.0 / 12.0 * 0.5 * erfc(sqrt(snr / 42.0)),
        }
    }
}

#[derive(Clone, Copy)]
enum Code {
    Half,
    TwoThirds,
    ThreeQuarters,
    FiveSixths,
}

impl Code {
    /// The factor before the sum, the free distance, the step between the
    /// distances listed and the distance spectrum `a_d`.
    fn spectrum(self) -> (f64, i32, i32, &'static [f64]) {
        match self {
            Code::Half => (
                0.5,
                10,
                2,
                &[36.0, 211.0, 1_404.0, 11_633.0, 77_433.0, 502_690.0, 3_322_763.0, 21_292_910.0, 134_365_911.0],
            ),
            Code::TwoThirds => (
                1.0 / 4.0,
                6,
                1,
                &[3.0, 70.0, 285.0, 1_276.0, 6_160.0, 27_128.0, 117_019.0, 498_860.0, 2_103_891.0, 8_784_123.0],
            ),
            Code::ThreeQuarters => (
                1.0 / 6.0,
                5,
                1,
                &[
                    42.0,
                    201.0,
                    1_492.0,
                    10_469.0,
                    62_935.0,
                    379_644.0,
                    2_253_373.0,
                    13_073_811.0,
                    75_152_755.0,
                    428_005_675.0,
                ],
            ),
            Code::FiveSixths => (
                1.0 / 10.0,
                4,
                1,
                &[
                    92.0,
                    528.0,
                    8_694.0,
                    79_453.0,
                    792_114.0,
                    7_375_573.0,
                    67_884_974.0,
                    610_875_423.0,
                    5_427_275_376.0,
                    47_664_215_639.0,
                ],
            ),
        }
    }

    /// The union bound on the first-event error probability after Viterbi
    /// decoding of a channel with bit error probability `p`, at most 1.
    fn event_error(self, p: f64) -> f64 {
        let d = sqrt(4.0 * p * (1.0 - p));
        let (factor, free_distance, step, spectrum) = self.spectrum();
        let mut power = integer_power(d, free_distance);
        let stride = integer_power(d, step);
        let mut sum = 0.0;
        for weight in spectrum {
            sum += weight * power;
            power *= stride;
        }
        let event = factor * sum;
        if event > 1.0 {
            1.0
        } else {
            event
        }
    }
}

/// `x^n` for a small `n ≥ 0` (`f64::powi` is not in `core`).
fn integer_power(x: f64, n: i32) -> f64 {
    (0..n).fold(1.0, |product, _| product * x)
}

/// The per-bit error probability ns-3 uses for a coded OFDM rate.
fn coded_error(modulation: Modulation, code: Code, snr: f64) -> f64 {
    let p = modulation.bit_error(snr);
    if p == 0.0 {
        0.0
    } else {
        code.event_error(p)
    }
}

/// 802.11b DQPSK (2 Mbps) bit error probability at `x` = Eb/N0.
fn dqpsk_bit_error(x: f64) -> f64 {
    let sqrt_2 = core::f64::consts::SQRT_2;
    let ber = (sqrt_2 + 1.0) / sqrt(8.0 * core::f64::consts::PI * sqrt_2) / sqrt(x) * exp(-(2.0 - sqrt_2) * x);
    if ber > 0.5 || ber.is_nan() {
        0.5
    } else {
        ber
    }
}

/// Below this linear SNR ns-3's CCK fits give up: every bit is a coin toss.
const CCK_SNR_IMPOSSIBLE: f64 = 0.1;

/// Above this linear SNR ns-3's CCK fits count no bit errors.
const CCK_SNR_PERFECT: f64 = 10.0;

/// ns-3's curve fit for 5.5 Mbps CCK: `a1 exp(−((γ − a2) / a3)^a4)`.
fn cck5_5_bit_error(snr: f64) -> f64 {
    if snr > CCK_SNR_PERFECT {
        return 0.0;
    }
    if snr < CCK_SNR_IMPOSSIBLE {
        return 0.5;
    }
    let (a1, a2, a3, a4) =
        (0.536816343440562, 3.309_243_002_560_858_6e-3, 4.165_437_236_100_4e-1, 1.028_898_143_435_886_6);
    let base = (snr - a2) / a3;
    a1 * exp(-exp(a4 * ln_1p(base - 1.0)))
}

/// ns-3's curve fit for 11 Mbps CCK: a ratio of a quadratic to a cubic in γ.
fn cck11_bit_error(snr: f64) -> f64 {
    if snr > CCK_SNR_PERFECT {
        return 0.0;
    }
    if snr < CCK_SNR_IMPOSSIBLE {
        return 0.5;
    }
    let (a1, a2, a3) = (0.007905674226533346, -0.1839744939917636, 1.074068946870724);
    let (a4, a5, a6) = (1.052_331_690_450_255_3, 3.055_229_874_649_668_7e-1, 2.203_271_512_869_843_5);
    (a1 * snr * snr + a2 * snr + a3) / (snr * snr * snr + a4 * snr * snr + a5 * snr + a6)
}
