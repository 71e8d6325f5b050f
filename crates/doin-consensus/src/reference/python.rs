//! Python number semantics the reference's results depend on: `format()` with the `f` and
//! `%` presentation types, and the argument order of the built-in `min` / `max`.
//!
//! Python formats `{:.Nf}` by rounding the exact binary value of the float to `N` decimals,
//! ties to even (`format(0.125, '.2f') == '0.12'`), and never switches to exponent
//! notation. `{:.N%}` first multiplies by 100 in float arithmetic (so `0.015` becomes the
//! tie `1.5` and formats as `2%`), then formats as `f` and appends `%`. Rust's `{:.N}` for
//! `f64` rounds the exact value the same way, ties to even, so the digits agree; only the
//! spelling of non-finite values differs and is handled here (`nan`, `inf`, `-inf`).

/// Python's `format(x, f".{precision}f")`.
pub fn format_fixed(x: f64, precision: usize) -> String {
    if x.is_nan() {
        return "nan".to_owned();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf" } else { "-inf" }.to_owned();
    }
    format!("{x:.precision$}")
}

/// Python's `format(x, f".{precision}%")`: `x * 100` formatted as `f`, then `%`.
pub fn format_percent(x: f64, precision: usize) -> String {
    let mut s = format_fixed(x * 100.0, precision);
    s.push('%');
    s
}

/// Python's `min(a, b)`: `b` if `b < a`, else `a` (so a NaN `b` is never chosen).
pub fn py_min(a: f64, b: f64) -> f64 {
    if b < a {
        b
    } else {
        a
    }
}

/// Python's `max(a, b)`: `b` if `b > a`, else `a` (so a NaN `b` is never chosen).
pub fn py_max(a: f64, b: f64) -> f64 {
    if b > a {
        b
    } else {
        a
    }
}

/// The reference's clamp idiom `max(lo, min(hi, x))`.
pub fn clamp(x: f64, lo: f64, hi: f64) -> f64 {
    py_max(lo, py_min(hi, x))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Outputs of CPython 3.11 for `format(x, '.0%')`, `'.2%'`, `'.2f'`, `'.0f'`.
    #[test]
    fn matches_python() {
        let cases: &[(f64, &str, &str, &str, &str)] = &[
            (0.125, "12%", "12.50%", "0.12", "0"),
            (0.375, "38%", "37.50%", "0.38", "0"),
            (2.5, "250%", "250.00%", "2.50", "2"),
            (1.5, "150%", "150.00%", "1.50", "2"),
            (0.0, "0%", "0.00%", "0.00", "0"),
            (-0.0, "-0%", "-0.00%", "-0.00", "-0"),
            (-0.001, "-0%", "-0.10%", "-0.00", "-0"),
            (0.6666666666666666, "67%", "66.67%", "0.67", "1"),
            (0.67, "67%", "67.00%", "0.67", "1"),
            (0.005, "0%", "0.50%", "0.01", "0"),
            (0.015, "2%", "1.50%", "0.01", "0"),
            (0.025, "2%", "2.50%", "0.03", "0"),
            (0.045, "4%", "4.50%", "0.04", "0"),
            (0.00125, "0%", "0.12%", "0.00", "0"),
            (0.665, "66%", "66.50%", "0.67", "1"),
            (0.675, "68%", "67.50%", "0.68", "1"),
            (0.995, "100%", "99.50%", "0.99", "1"),
            (0.9950000000000001, "100%", "99.50%", "1.00", "1"),
            (
                123456.789,
                "12345679%",
                "12345678.90%",
                "123456.79",
                "123457",
            ),
            (
                1e22,
                "999999999999999983222784%",
                "999999999999999983222784.00%",
                "10000000000000000000000.00",
                "10000000000000000000000",
            ),
            (-1.5, "-150%", "-150.00%", "-1.50", "-2"),
            (f64::NAN, "nan%", "nan%", "nan", "nan"),
            (f64::INFINITY, "inf%", "inf%", "inf", "inf"),
            (f64::NEG_INFINITY, "-inf%", "-inf%", "-inf", "-inf"),
        ];
        for &(x, p0, p2, f2, f0) in cases {
            assert_eq!(format_percent(x, 0), p0, "{x:?} .0%");
            assert_eq!(format_percent(x, 2), p2, "{x:?} .2%");
            assert_eq!(format_fixed(x, 2), f2, "{x:?} .2f");
            assert_eq!(format_fixed(x, 0), f0, "{x:?} .0f");
        }
    }

    /// Exact round-half-even `{:.p}` of a non-negative finite `x` whose binary exponent
    /// keeps `m · 10^p` and the shift within `u128`: an oracle independent of `core::fmt`.
    fn oracle_fixed(x: f64, p: u32) -> Option<String> {
        let bits = x.to_bits();
        let exp = ((bits >> 52) & 0x7ff) as i32;
        let frac = bits & ((1u64 << 52) - 1);
        let (m, e) = if exp == 0 {
            (frac, -1074)
        } else {
            (frac | (1u64 << 52), exp - 1075)
        };
        let scaled = u128::from(m).checked_mul(10u128.pow(p))?;
        let q = if scaled == 0 {
            0
        } else if e >= 0 {
            scaled
                .checked_shl(e as u32)
                .filter(|v| v >> e as u32 == scaled)?
        } else {
            let k = (-e) as u32;
            if k >= 127 {
                return None;
            }
            let (q, r) = (scaled >> k, scaled & ((1u128 << k) - 1));
            let half = 1u128 << (k - 1);
            if r > half || (r == half && q % 2 == 1) {
                q + 1
            } else {
                q
            }
        };
        let digits = format!("{q:0>width$}", width = p as usize + 1);
        let (int, dec) = digits.split_at(digits.len() - p as usize);
        Some(if p == 0 {
            int.to_owned()
        } else {
            format!("{int}.{dec}")
        })
    }

    #[test]
    fn ties_round_to_even_like_python() {
        for k in 0..20_000u32 {
            let x = f64::from(k) / 8.0;
            for p in 0..=3 {
                let want = oracle_fixed(x, p).expect("in range");
                assert_eq!(format_fixed(x, p as usize), want, "{x} .{p}f");
                assert_eq!(format_fixed(-x, p as usize), format!("-{want}"), "-{x}");
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn fixed_is_exactly_rounded(x in 0.0f64..1e9, p in 0u32..=4) {
            if let Some(want) = oracle_fixed(x, p) {
                proptest::prop_assert_eq!(format_fixed(x, p as usize), want);
            }
        }
    }

    #[test]
    fn min_max_argument_order() {
        assert!(py_min(1.0, f64::NAN) == 1.0);
        assert!(py_min(f64::NAN, 1.0).is_nan());
        assert_eq!(clamp(5.0, 0.0, 2.0), 2.0);
        assert_eq!(clamp(-5.0, 0.0, 2.0), 0.0);
        assert_eq!(clamp(1.0, 0.0, 2.0), 1.0);
    }
}
