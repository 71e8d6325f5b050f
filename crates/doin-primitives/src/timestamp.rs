//! Timestamps as the reference hashes and sends them.
//!
//! A [`Timestamp`] is a wall-clock time with microsecond precision and an optional UTC
//! offset (absent for the naive datetimes pydantic accepts). Hash preimages use Python's
//! `datetime.isoformat()` ([`Timestamp::isoformat`]): `+00:00` for UTC, the received offset
//! otherwise, `.ffffff` only when the microseconds are non-zero. The wire uses pydantic's
//! form ([`Timestamp::wire`]): the same but `Z` for UTC.
//!
//! [`Timestamp::parse_wire`] accepts what pydantic accepts in a datetime field: RFC 3339 /
//! ISO 8601 text (`T`, `t` or space separator, `Z`/`z`, `±HH:MM` or `±HHMM`, fractions of
//! 1-9 digits truncated to microseconds, a date alone), and Unix time as a number or a
//! numeric string (milliseconds when its magnitude exceeds 2·10^10, as pydantic does).

use std::cmp::Ordering;
use std::fmt;

use chrono::{Datelike, NaiveDate};

use crate::value::Value;

const MICROS_PER_SEC: i64 = 1_000_000;
/// Seconds since the Unix epoch of 0001-01-01T00:00:00.
const MIN_UNIX_SECS: i64 = -62_135_596_800;
/// Seconds since the Unix epoch of 9999-12-31T23:59:59.
const MAX_UNIX_SECS: i64 = 253_402_300_799;

/// A datetime field value: wall-clock microseconds plus an optional UTC offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Timestamp {
    /// Wall-clock time in the value's own offset, as microseconds since 1970-01-01T00:00.
    wall_micros: i64,
    /// UTC offset in seconds; `None` for a naive datetime.
    offset_secs: Option<i32>,
}

/// Why a datetime value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid datetime {input:?}: {reason}")]
pub struct TimestampError {
    /// The value received (shortened).
    pub input: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

impl Timestamp {
    /// The Unix epoch in UTC (the genesis timestamp).
    pub const EPOCH: Timestamp = Timestamp {
        wall_micros: 0,
        offset_secs: Some(0),
    };

    /// A UTC timestamp from microseconds since the Unix epoch.
    pub fn from_unix_micros(micros: i64) -> Self {
        Timestamp {
            wall_micros: micros,
            offset_secs: Some(0),
        }
    }

    /// A UTC timestamp from whole seconds since the Unix epoch.
    pub fn from_unix_secs(secs: i64) -> Self {
        Self::from_unix_micros(secs.saturating_mul(MICROS_PER_SEC))
    }

    /// The current time in UTC, read from the system clock. Consensus code never calls this;
    /// the node passes time in through its clock.
    pub fn now_utc() -> Self {
        let micros = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_micros() as i64)
            .unwrap_or(0);
        Self::from_unix_micros(micros)
    }

    /// Microseconds since the Unix epoch of the instant (naive values are read as UTC).
    pub fn unix_micros(&self) -> i64 {
        self.wall_micros - i64::from(self.offset_secs.unwrap_or(0)) * MICROS_PER_SEC
    }

    /// Seconds since the Unix epoch as a float.
    pub fn unix_secs_f64(&self) -> f64 {
        self.unix_micros() as f64 / 1e6
    }

    /// The UTC offset in seconds, or `None` for a naive datetime.
    pub fn offset_secs(&self) -> Option<i32> {
        self.offset_secs
    }

    /// The same instant expressed in UTC.
    pub fn to_utc(&self) -> Self {
        Self::from_unix_micros(self.unix_micros())
    }

    /// Python's `datetime.isoformat()`: the text inside hash preimages.
    pub fn isoformat(&self) -> String {
        let mut s = String::with_capacity(32);
        self.write_iso(&mut s, false);
        s
    }

    /// Pydantic's wire text: as [`Self::isoformat`] but `Z` for UTC.
    pub fn wire(&self) -> String {
        let mut s = String::with_capacity(32);
        self.write_iso(&mut s, true);
        s
    }

    /// Appends the isoformat (or wire, with `z_for_utc`) text.
    pub fn write_iso(&self, out: &mut String, z_for_utc: bool) {
        let secs = self.wall_micros.div_euclid(MICROS_PER_SEC);
        let micros = self.wall_micros.rem_euclid(MICROS_PER_SEC);
        let (year, month, day) = civil_from_days(secs.div_euclid(86_400));
        let sod = secs.rem_euclid(86_400) as u32;
        push_num(out, year as u32, 4);
        out.push('-');
        push_num(out, month, 2);
        out.push('-');
        push_num(out, day, 2);
        out.push('T');
        push_num(out, sod / 3600, 2);
        out.push(':');
        push_num(out, (sod % 3600) / 60, 2);
        out.push(':');
        push_num(out, sod % 60, 2);
        if micros != 0 {
            out.push('.');
            push_num(out, micros as u32, 6);
        }
        if let Some(off) = self.offset_secs {
            if off == 0 && z_for_utc {
                out.push('Z');
            } else {
                out.push(if off < 0 { '-' } else { '+' });
                let a = off.unsigned_abs();
                push_num(out, a / 3600, 2);
                out.push(':');
                push_num(out, (a % 3600) / 60, 2);
            }
        }
    }

    /// Parses a datetime field as pydantic does (string or number).
    pub fn parse_wire(v: &Value) -> Result<Self, TimestampError> {
        match v {
            Value::Str(s) => Self::parse_str(s),
            Value::Int(i) => Self::from_unix_number(*i as f64, Some(*i), &i.to_string()),
            Value::Float(f) => Self::from_unix_number(*f, None, &f.to_string()),
            Value::BigInt(t) => Err(err(
                t,
                "dates after 9999 are not supported as unix timestamps",
            )),
            other => Err(TimestampError {
                input: other.type_name().to_owned(),
                reason: "a datetime must be a string or a number",
            }),
        }
    }

    /// Parses ISO 8601 / RFC 3339 text, or a numeric string taken as Unix time.
    pub fn parse_str(s: &str) -> Result<Self, TimestampError> {
        let b = s.as_bytes();
        if b.is_empty() {
            return Err(err(s, "input is too short"));
        }
        if b.iter()
            .all(|c| c.is_ascii_digit() || matches!(c, b'-' | b'+' | b'.'))
            && b.iter().filter(|c| **c == b'-').count() <= 1
            && !b.contains(&b'-') | (b[0] == b'-')
        {
            // A numeric string: Unix time.
            if let Ok(i) = s.parse::<i64>() {
                return Self::from_unix_number(i as f64, Some(i), s);
            }
            if let Ok(f) = s.parse::<f64>() {
                return Self::from_unix_number(f, None, s);
            }
        }
        let mut p = 0usize;
        let year = digits(b, &mut p, 4).ok_or_else(|| err(s, "invalid character in year"))?;
        expect(b, &mut p, b'-').ok_or_else(|| err(s, "invalid date separator, expected `-`"))?;
        let month = digits(b, &mut p, 2).ok_or_else(|| err(s, "invalid character in month"))?;
        expect(b, &mut p, b'-').ok_or_else(|| err(s, "invalid date separator, expected `-`"))?;
        let day = digits(b, &mut p, 2).ok_or_else(|| err(s, "invalid character in day"))?;
        let date = NaiveDate::from_ymd_opt(year as i32, month, day)
            .ok_or_else(|| err(s, "day value is outside expected range"))?;
        let days = i64::from(date.num_days_from_ce()) - 719_163; // days since 1970-01-01
        if p == b.len() {
            return Ok(Timestamp {
                wall_micros: days * 86_400 * MICROS_PER_SEC,
                offset_secs: None,
            });
        }
        if !matches!(b[p], b'T' | b't' | b' ') {
            return Err(err(s, "invalid datetime separator"));
        }
        p += 1;
        let hour = digits(b, &mut p, 2).ok_or_else(|| err(s, "invalid character in hour"))?;
        expect(b, &mut p, b':').ok_or_else(|| err(s, "invalid time separator, expected `:`"))?;
        let minute = digits(b, &mut p, 2).ok_or_else(|| err(s, "invalid character in minute"))?;
        let mut second = 0;
        let mut micros = 0u32;
        if b.get(p) == Some(&b':') {
            p += 1;
            second = digits(b, &mut p, 2).ok_or_else(|| err(s, "invalid character in second"))?;
            if matches!(b.get(p), Some(b'.') | Some(b',')) {
                p += 1;
                let start = p;
                while b.get(p).is_some_and(u8::is_ascii_digit) {
                    p += 1;
                }
                let n = p - start;
                if n == 0 || n > 9 {
                    return Err(err(
                        s,
                        "unexpected extra characters at the end of the input",
                    ));
                }
                for (k, c) in b[start..start + n.min(6)].iter().enumerate() {
                    micros += u32::from(c - b'0') * 10u32.pow(5 - k as u32);
                }
            }
        }
        if hour > 23 || minute > 59 || second > 59 {
            return Err(err(
                s,
                "unexpected extra characters at the end of the input",
            ));
        }
        let offset_secs = match b.get(p) {
            None => None,
            Some(b'Z') | Some(b'z') => {
                p += 1;
                Some(0)
            }
            Some(&sign @ (b'+' | b'-')) => {
                p += 1;
                let oh = digits(b, &mut p, 2)
                    .ok_or_else(|| err(s, "unexpected extra characters at the end of the input"))?;
                if b.get(p) == Some(&b':') {
                    p += 1;
                }
                let om = digits(b, &mut p, 2)
                    .ok_or_else(|| err(s, "unexpected extra characters at the end of the input"))?;
                if oh > 23 || om > 59 {
                    return Err(err(
                        s,
                        "unexpected extra characters at the end of the input",
                    ));
                }
                let off = (oh * 3600 + om * 60) as i32;
                Some(if sign == b'-' { -off } else { off })
            }
            Some(_) => {
                return Err(err(
                    s,
                    "unexpected extra characters at the end of the input",
                ))
            }
        };
        if p != b.len() {
            return Err(err(
                s,
                "unexpected extra characters at the end of the input",
            ));
        }
        let secs = days * 86_400 + i64::from(hour * 3600 + minute * 60 + second);
        Ok(Timestamp {
            wall_micros: secs * MICROS_PER_SEC + i64::from(micros),
            offset_secs,
        })
    }

    /// Unix time in seconds (or milliseconds beyond 2·10^10), as pydantic reads numbers.
    fn from_unix_number(f: f64, exact: Option<i64>, text: &str) -> Result<Self, TimestampError> {
        if !f.is_finite() {
            return Err(err(text, "non-finite timestamp"));
        }
        let micros: i64 = match exact {
            Some(i) if i.unsigned_abs() > 20_000_000_000 => i.saturating_mul(1000),
            Some(i) => i.saturating_mul(MICROS_PER_SEC),
            None => {
                let scale = if f.abs() > 2e10 { 1e3 } else { 1e6 };
                let whole = f.floor();
                let frac = ((f - whole) * scale).round();
                if (whole * scale).abs() > 9.3e18 {
                    return Err(err(
                        text,
                        "dates after 9999 are not supported as unix timestamps",
                    ));
                }
                (whole * scale) as i64 + frac as i64
            }
        };
        let secs = micros.div_euclid(MICROS_PER_SEC);
        if !(MIN_UNIX_SECS..=MAX_UNIX_SECS).contains(&secs) {
            return Err(err(
                text,
                "dates after 9999 are not supported as unix timestamps",
            ));
        }
        Ok(Self::from_unix_micros(micros))
    }
}

impl PartialOrd for Timestamp {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Timestamp {
    /// Orders by instant, then by offset so that the order is total and consistent with `Eq`.
    fn cmp(&self, other: &Self) -> Ordering {
        self.unix_micros()
            .cmp(&other.unix_micros())
            .then(self.offset_secs.cmp(&other.offset_secs))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.wire())
    }
}

fn err(input: &str, reason: &'static str) -> TimestampError {
    TimestampError {
        input: input.chars().take(64).collect(),
        reason,
    }
}

fn digits(b: &[u8], p: &mut usize, n: usize) -> Option<u32> {
    let slice = b.get(*p..*p + n)?;
    let mut v = 0u32;
    for &c in slice {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u32::from(c - b'0');
    }
    *p += n;
    Some(v)
}

fn expect(b: &[u8], p: &mut usize, c: u8) -> Option<()> {
    if b.get(*p) == Some(&c) {
        *p += 1;
        Some(())
    } else {
        None
    }
}

/// The proleptic Gregorian (year, month, day) of a day count since 1970-01-01
/// (the days-to-civil algorithm on 400-year eras).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn push_num(out: &mut String, v: u32, width: usize) {
    let mut buf = itoa::Buffer::new();
    let s = buf.format(v);
    for _ in s.len()..width {
        out.push('0');
    }
    out.push_str(s);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates_agree_with_chrono() {
        for days in (-719_162..2_932_896).step_by(997) {
            let d = chrono::DateTime::from_timestamp(days * 86_400, 0)
                .unwrap()
                .date_naive();
            assert_eq!(
                civil_from_days(days),
                (i64::from(d.year()), d.month(), d.day())
            );
        }
    }

    #[test]
    fn renders_like_python() {
        let t = Timestamp::parse_str("2026-01-01T00:00:00.5Z").unwrap();
        assert_eq!(t.isoformat(), "2026-01-01T00:00:00.500000+00:00");
        assert_eq!(t.wire(), "2026-01-01T00:00:00.500000Z");
        assert_eq!(Timestamp::EPOCH.isoformat(), "1970-01-01T00:00:00+00:00");
        let t = Timestamp::parse_str("2026-01-01T05:30:00+05:30").unwrap();
        assert_eq!(t.isoformat(), "2026-01-01T05:30:00+05:30");
        assert_eq!(
            t.unix_micros(),
            Timestamp::parse_str("2026-01-01T00:00:00Z")
                .unwrap()
                .unix_micros()
        );
    }
}
