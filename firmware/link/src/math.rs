//! The few elementary functions the error-rate model needs, in `core` only.
//!
//! `core` has no `exp`, `ln`, `sqrt` or `erfc` for `f64`, and the link model
//! keeps its dependencies to `nowcam-ports`, `rand_core` and `rand_xoshiro`
//! (so a chip can run it), so these are written out rather than taken from the
//! `libm` crate. They are accurate to a few units in the last place (`exp`,
//! `ln_1p`, `sqrt`) and to a relative 1.2e-7 (`erfc`), far finer than the
//! model they serve.

use core::f64::consts::{LN_2, LOG2_E};

/// The leading bits of ln 2, with zeros at the end (fdlibm's `ln2HI`).
const LN_2_HIGH: f64 = 0.6931471803691238;

/// ln 2 minus [`LN_2_HIGH`] (fdlibm's `ln2LO`).
const LN_2_LOW: f64 = 1.908_214_929_270_587_7e-10;

/// `e^x`: `x = k ln 2 + r` with `|r| ≤ ln 2 / 2`, a Taylor series for `e^r`,
/// then the exponent bits for `2^k`.
pub(crate) fn exp(x: f64) -> f64 {
    if x.is_nan() {
        return x;
    }
    if x > 709.78 {
        return f64::INFINITY;
    }
    if x < -745.2 {
        return 0.0;
    }
    let scaled = x * LOG2_E;
    // Rounds half away from zero; `f64::round` is not in `core`.
    let k = if scaled >= 0.0 { (scaled + 0.5) as i32 } else { (scaled - 0.5) as i32 };
    // ln 2 split in two (Cody and Waite, as fdlibm does) so that k × LN_2_HIGH
    // is exact and r keeps its precision for large |x|.
    let r = (x - f64::from(k) * LN_2_HIGH) - f64::from(k) * LN_2_LOW;
    let mut term = 1.0;
    let mut sum = 1.0;
    for n in 1..=16 {
        term *= r / f64::from(n);
        sum += term;
    }
    if k < -1000 {
        sum * power_of_two(k + 100) * power_of_two(-100)
    } else if k > 1000 {
        sum * power_of_two(k - 100) * power_of_two(100)
    } else {
        sum * power_of_two(k)
    }
}

/// `2^k` for `-1022 ≤ k ≤ 1023`.
fn power_of_two(k: i32) -> f64 {
    f64::from_bits(((k + 1023) as u64) << 52)
}

/// `ln(1 + x)` for `x > -1`, accurate also when `x` is tiny: `2 atanh(x / (2 + x))`
/// near zero, otherwise the exponent bits and the same series on the mantissa.
pub(crate) fn ln_1p(x: f64) -> f64 {
    if x.is_nan() || x < -1.0 {
        return f64::NAN;
    }
    if x == -1.0 {
        return f64::NEG_INFINITY;
    }
    if x.abs() < 0.25 {
        return atanh_series(x / (2.0 + x));
    }
    let y = 1.0 + x;
    if y.is_infinite() {
        return y;
    }
    // y = m × 2^e with m in [1, 2), then m folded into [√½, √2).
    let bits = y.to_bits();
    let mut e = ((bits >> 52) & 0x7ff) as i32 - 1023;
    let mut m = f64::from_bits((bits & 0x000f_ffff_ffff_ffff) | (1023 << 52));
    if m > core::f64::consts::SQRT_2 {
        m /= 2.0;
        e += 1;
    }
    f64::from(e) * LN_2 + atanh_series((m - 1.0) / (m + 1.0))
}

/// `2 atanh(s) = ln((1 + s) / (1 − s))` for `|s| ≤ 0.18`.
fn atanh_series(s: f64) -> f64 {
    let s2 = s * s;
    let mut power = s;
    let mut sum = 0.0;
    for n in 0..20 {
        sum += power / f64::from(2 * n + 1);
        power *= s2;
    }
    2.0 * sum
}

/// The square root of a non-negative `x`, by Newton's method from a first
/// guess that halves the exponent bits.
pub(crate) fn sqrt(x: f64) -> f64 {
    if x.is_nan() || x < 0.0 {
        return f64::NAN;
    }
    if x == 0.0 || x.is_infinite() {
        return x;
    }
    let mut guess = f64::from_bits((x.to_bits() >> 1) + (1023 << 51));
    for _ in 0..8 {
        guess = 0.5 * (guess + x / guess);
    }
    guess
}

/// The complementary error function, by the Chebyshev fit of Numerical Recipes
/// (Press et al., "Numerical Recipes in C", 2nd ed., §6.2, `erfcc`): relative
/// error below 1.2e-7 everywhere, also deep in the tail where BERs live.
pub(crate) fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98 + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let tail = t * exp(-z * z + poly);
    if x >= 0.0 {
        tail
    } else {
        2.0 - tail
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(got: f64, expected: f64, relative: f64) -> bool {
        (got - expected).abs() <= relative * expected.abs()
    }

    #[test]
    fn exp_matches_known_values() {
        let cases = [
            (0.0, 1.0),
            (1.0, core::f64::consts::E),
            (-1.0, 0.367_879_441_171_442_3),
            (10.0, 22_026.465_794_806_718),
            (-50.0, 1.928_749_847_963_918e-22),
            (700.0, 1.014_232_054_735_004_5e304),
            (-740.0, 4.2e-322),
        ];
        for (x, expected) in cases {
            // Below e^-708 the result is subnormal, with few significant bits.
            let tolerance = if x < -708.0 { 2e-2 } else { 1e-14 };
            assert!(close(exp(x), expected, tolerance), "exp({x}) = {}", exp(x));
        }
        assert_eq!(exp(-800.0), 0.0);
        assert_eq!(exp(800.0), f64::INFINITY);
    }

    #[test]
    fn ln_1p_matches_known_values() {
        let cases = [
            (1.0, LN_2),
            (-0.5, -LN_2),
            (1e-12, 9.999_999_999_995e-13),
            (-1e-9, -1.000_000_000_5e-9),
            (9.0, core::f64::consts::LN_10),
            (-0.999, -6.907_755_278_982_137),
        ];
        for (x, expected) in cases {
            assert!(close(ln_1p(x), expected, 1e-14), "ln_1p({x}) = {}", ln_1p(x));
        }
        assert_eq!(ln_1p(-1.0), f64::NEG_INFINITY);
    }

    #[test]
    fn sqrt_matches_known_values() {
        for (x, expected) in [(4.0, 2.0), (2.0, core::f64::consts::SQRT_2), (1e-20, 1e-10), (1e300, 1e150)] {
            assert!(close(sqrt(x), expected, 1e-15), "sqrt({x}) = {}", sqrt(x));
        }
        assert_eq!(sqrt(0.0), 0.0);
    }

    #[test]
    fn erfc_matches_known_values() {
        // Reference values from Abramowitz and Stegun, table 7.1, and mpmath.
        let cases = [
            (0.0, 1.0),
            (0.5, 0.479_500_122_186_953_5),
            (1.0, 0.157_299_207_050_285_1),
            (2.0, 4.677_734_981_047_266e-3),
            (3.0, 2.209_049_699_858_544e-5),
            (5.0, 1.537_459_794_428_035e-12),
            (-1.0, 1.842_700_792_949_715),
        ];
        for (x, expected) in cases {
            assert!(close(erfc(x), expected, 1.2e-7), "erfc({x}) = {}", erfc(x));
        }
    }
}
