//! Python's `repr(float)`, the float text inside every hash preimage.
//!
//! Python writes the shortest digit string that round-trips (the same digits `ryu` finds),
//! in fixed notation when the decimal exponent `e` satisfies `-4 <= e < 16` (with `.0` added
//! to integral values) and in scientific notation otherwise, with an explicit exponent sign
//! and at least two exponent digits: `1e-05`, `1e+16`, `5e-324`.

/// Appends Python's `repr(f)` to `out` (`nan`, `inf`, `-inf` for non-finite values).
pub fn write_py_repr(f: f64, out: &mut String) {
    if f.is_nan() {
        out.push_str("nan");
        return;
    }
    if f.is_infinite() {
        out.push_str(if f > 0.0 { "inf" } else { "-inf" });
        return;
    }
    if f == 0.0 {
        out.push_str(if f.is_sign_negative() { "-0.0" } else { "0.0" });
        return;
    }
    let mut buf = ryu::Buffer::new();
    layout(buf.format_finite(f), f.abs() >= 1e-4, out);
}

/// Appends the shortest round-trip text of a binary32 value in Python's layout, as numpy
/// prints a `float32` scalar (`str(numpy.float32(0.1))` is `0.1`).
pub fn write_py_repr_f32(f: f32, out: &mut String) {
    if !f.is_finite() || f == 0.0 {
        write_py_repr(f64::from(f), out);
        return;
    }
    let mut buf = ryu::Buffer::new();
    layout(buf.format_finite(f), f.abs() >= 1e-4, out);
}

/// Lays out ryu's shortest digits `text` (of a finite non-zero value) as Python does.
fn layout(text: &str, at_least_1e_4: bool, out: &mut String) {
    // ryu already writes Python's text when it chose fixed notation, except for values in
    // [1e-5, 1e-4), which ryu writes as 0.0000ddd and Python in scientific notation.
    if !text.contains('e') && at_least_1e_4 {
        out.push_str(text);
        return;
    }
    let (negative, digits, decpt) = shortest_digits(text);
    if negative {
        out.push('-');
    }
    let digits = &digits[..];
    let n = digits.len() as i32;
    // decpt: value = 0.DIGITS x 10^decpt
    if decpt > -4 && decpt <= 16 {
        if decpt <= 0 {
            out.push_str("0.");
            for _ in 0..(-decpt) {
                out.push('0');
            }
            out.push_str(digits);
        } else if decpt < n {
            out.push_str(&digits[..decpt as usize]);
            out.push('.');
            out.push_str(&digits[decpt as usize..]);
        } else {
            out.push_str(digits);
            for _ in 0..(decpt - n) {
                out.push('0');
            }
            out.push_str(".0");
        }
    } else {
        out.push_str(&digits[..1]);
        if n > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        let e = decpt - 1;
        out.push('e');
        out.push(if e < 0 { '-' } else { '+' });
        let abs = e.unsigned_abs();
        if abs < 10 {
            out.push('0');
        }
        let mut ib = itoa::Buffer::new();
        out.push_str(ib.format(abs));
    }
}

/// Python's `repr(f)` as a new string.
pub fn py_repr(f: f64) -> String {
    let mut s = String::with_capacity(24);
    write_py_repr(f, &mut s);
    s
}

/// Splits ryu's output into sign, significant digits (no leading or trailing zeros) and
/// the decimal-point position `decpt` such that the value is `0.DIGITS x 10^decpt`.
fn shortest_digits(text: &str) -> (bool, String, i32) {
    let (negative, body) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (mantissa, exp) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], body[i + 1..].parse::<i32>().unwrap_or(0)),
        None => (body, 0),
    };
    let (int_part, frac_part) = match mantissa.find('.') {
        Some(i) => (&mantissa[..i], &mantissa[i + 1..]),
        None => (mantissa, ""),
    };
    let mut digits = String::with_capacity(int_part.len() + frac_part.len());
    digits.push_str(int_part);
    digits.push_str(frac_part);
    let mut decpt = int_part.len() as i32 + exp;
    let leading = digits.len() - digits.trim_start_matches('0').len();
    decpt -= leading as i32;
    let trimmed = digits
        .trim_start_matches('0')
        .trim_end_matches('0')
        .to_owned();
    (negative, trimmed, decpt)
}

#[cfg(test)]
mod tests {
    use super::py_repr;

    #[test]
    fn python_examples() {
        for (f, s) in [
            (100.0, "100.0"),
            (1e16, "1e+16"),
            (1.5e16, "1.5e+16"),
            (1e15, "1000000000000000.0"),
            (1e-5, "1e-05"),
            (0.0001, "0.0001"),
            (2.5e-7, "2.5e-07"),
            (0.1 + 0.2, "0.30000000000000004"),
            (-0.0, "-0.0"),
            (5e-324, "5e-324"),
            (f64::MAX, "1.7976931348623157e+308"),
            (1.2345678901234568e17, "1.2345678901234568e+17"),
            (123.456, "123.456"),
            (-1.5, "-1.5"),
        ] {
            assert_eq!(py_repr(f), s, "{f:?}");
        }
    }
}
