//! A strict parser of the Prometheus text exposition format (version 0.0.4), written from
//! the format's description, for checking `/metrics`: it refuses what a Prometheus server
//! would refuse (bad names, bad escapes, unknown types, a family split in two, duplicate
//! series, a histogram whose buckets are not cumulative or whose `+Inf` bucket is not its
//! count).
#![allow(dead_code, unreachable_pub)]

use std::collections::{BTreeMap, BTreeSet};

/// One sample line.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// A metric family: `# TYPE`, `# HELP` and its samples.
#[derive(Debug, Clone, Default)]
pub struct Family {
    pub kind: String,
    pub help: Option<String>,
    pub samples: Vec<Sample>,
}

/// A whole exposition.
#[derive(Debug, Clone, Default)]
pub struct Exposition {
    pub families: BTreeMap<String, Family>,
}

impl Exposition {
    /// The value of the series `name{labels}` (labels given as `k=v` pairs).
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        self.families
            .values()
            .flat_map(|f| &f.samples)
            .find_map(|s| {
                (s.name == name
                    && labels
                        .iter()
                        .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v)))
                .then_some(s.value)
            })
    }

    /// The sum over every series of `name` whose labels include `labels`.
    pub fn sum(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.families
            .values()
            .flat_map(|f| &f.samples)
            .filter(|s| {
                s.name == name
                    && labels
                        .iter()
                        .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
            })
            .map(|s| s.value)
            .sum()
    }
}

fn is_metric_name(s: &str) -> bool {
    let mut c = s.chars();
    c.next()
        .is_some_and(|f| f.is_ascii_alphabetic() || f == '_' || f == ':')
        && c.all(|x| x.is_ascii_alphanumeric() || x == '_' || x == ':')
}

fn is_label_name(s: &str) -> bool {
    let mut c = s.chars();
    c.next()
        .is_some_and(|f| f.is_ascii_alphabetic() || f == '_')
        && c.all(|x| x.is_ascii_alphanumeric() || x == '_')
}

fn parse_value(s: &str) -> Result<f64, String> {
    match s {
        "+Inf" | "Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        "NaN" => Ok(f64::NAN),
        _ => s.parse::<f64>().map_err(|_| format!("bad value {s:?}")),
    }
}

/// The family a sample belongs to: histogram and summary suffixes map to their base.
fn family_of<'a>(name: &'a str, families: &BTreeMap<String, Family>) -> &'a str {
    for suffix in ["_bucket", "_sum", "_count"] {
        if let Some(base) = name.strip_suffix(suffix) {
            if families
                .get(base)
                .is_some_and(|f| f.kind == "histogram" || f.kind == "summary")
            {
                return base;
            }
        }
    }
    name
}

fn parse_labels(s: &str) -> Result<(BTreeMap<String, String>, &str), String> {
    // `s` starts just after `{`.
    let mut labels = BTreeMap::new();
    let mut rest = s;
    loop {
        rest = rest.trim_start();
        if let Some(r) = rest.strip_prefix('}') {
            return Ok((labels, r));
        }
        let eq = rest.find('=').ok_or("label without =")?;
        let name = rest[..eq].trim();
        if !is_label_name(name) {
            return Err(format!("bad label name {name:?}"));
        }
        let mut chars = rest[eq + 1..].trim_start().char_indices();
        let after_eq = rest[eq + 1..].trim_start();
        if chars.next().map(|(_, c)| c) != Some('"') {
            return Err(format!("label {name} value is not quoted"));
        }
        let mut value = String::new();
        let mut end = None;
        let mut escaped = false;
        for (i, c) in chars {
            if escaped {
                match c {
                    '\\' => value.push('\\'),
                    '"' => value.push('"'),
                    'n' => value.push('\n'),
                    _ => return Err(format!("bad escape \\{c} in label {name}")),
                }
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                end = Some(i);
                break;
            } else {
                value.push(c);
            }
        }
        let end = end.ok_or("unterminated label value")?;
        if labels.insert(name.to_owned(), value).is_some() {
            return Err(format!("label {name} given twice"));
        }
        rest = after_eq[end + 1..].trim_start();
        if let Some(r) = rest.strip_prefix(',') {
            rest = r;
        } else if !rest.starts_with('}') {
            return Err("expected , or } after a label".into());
        }
    }
}

/// Parses and checks an exposition.
pub fn parse(text: &str) -> Result<Exposition, String> {
    let mut exp = Exposition::default();
    let mut closed: BTreeSet<String> = BTreeSet::new();
    let mut current: Option<String> = None;
    let mut series: BTreeSet<String> = BTreeSet::new();
    for (n, line) in text.lines().enumerate() {
        let at = |e: String| format!("line {}: {e}: {line:?}", n + 1);
        if line.trim().is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix('#') {
            let mut parts = comment.trim_start().splitn(3, ' ');
            let keyword = parts.next().unwrap_or_default();
            if keyword != "HELP" && keyword != "TYPE" {
                continue;
            }
            let name = parts.next().ok_or_else(|| at("no metric name".into()))?;
            if !is_metric_name(name) {
                return Err(at(format!("bad metric name {name:?}")));
            }
            let arg = parts.next().unwrap_or_default();
            if current.as_deref() != Some(name) {
                if let Some(c) = current.take() {
                    closed.insert(c);
                }
                if closed.contains(name) {
                    return Err(at(format!("family {name} appears twice")));
                }
                current = Some(name.to_owned());
            }
            let fam = exp.families.entry(name.to_owned()).or_default();
            if keyword == "TYPE" {
                if !fam.kind.is_empty() || !fam.samples.is_empty() {
                    return Err(at(format!("TYPE of {name} after its samples or twice")));
                }
                if !["counter", "gauge", "histogram", "summary", "untyped"].contains(&arg) {
                    return Err(at(format!("unknown type {arg:?}")));
                }
                fam.kind = arg.to_owned();
            } else {
                if fam.help.is_some() {
                    return Err(at(format!("HELP of {name} twice")));
                }
                fam.help = Some(arg.to_owned());
            }
            continue;
        }
        let name_end = line
            .find(|c: char| c == '{' || c.is_whitespace())
            .ok_or_else(|| at("sample without a value".into()))?;
        let name = &line[..name_end];
        if !is_metric_name(name) {
            return Err(at(format!("bad metric name {name:?}")));
        }
        let (labels, rest) = match line[name_end..].strip_prefix('{') {
            Some(r) => parse_labels(r).map_err(at)?,
            None => (BTreeMap::new(), &line[name_end..]),
        };
        let mut fields = rest.split_whitespace();
        let value = parse_value(fields.next().ok_or_else(|| at("no value".into()))?).map_err(at)?;
        if let Some(ts) = fields.next() {
            ts.parse::<i64>()
                .map_err(|_| at(format!("bad timestamp {ts:?}")))?;
        }
        if fields.next().is_some() {
            return Err(at("trailing fields".into()));
        }
        let family = family_of(name, &exp.families).to_owned();
        if current.as_deref() != Some(family.as_str()) {
            if let Some(c) = current.take() {
                closed.insert(c);
            }
            if closed.contains(&family) {
                return Err(at(format!("family {family} is split")));
            }
            current = Some(family.clone());
        }
        let key = format!("{name}{labels:?}");
        if !series.insert(key) {
            return Err(at("duplicate series".into()));
        }
        let fam = exp.families.entry(family).or_default();
        if fam.kind == "counter" && (value.is_nan() || value < 0.0) {
            return Err(at("negative counter".into()));
        }
        fam.samples.push(Sample {
            name: name.to_owned(),
            labels,
            value,
        });
    }
    for (name, fam) in &exp.families {
        if fam.kind == "histogram" {
            check_histogram(name, fam)?;
        }
    }
    Ok(exp)
}

/// Buckets cumulative and ending at `+Inf` = `_count`, per label set.
fn check_histogram(name: &str, fam: &Family) -> Result<(), String> {
    let mut groups: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
    let mut counts: BTreeMap<String, f64> = BTreeMap::new();
    for s in &fam.samples {
        let mut labels = s.labels.clone();
        let le = labels.remove("le");
        let key = format!("{labels:?}");
        if s.name == format!("{name}_bucket") {
            let le = le.ok_or_else(|| format!("{name}: bucket without le"))?;
            groups
                .entry(key)
                .or_default()
                .push((parse_value(&le)?, s.value));
        } else if s.name == format!("{name}_count") {
            counts.insert(key, s.value);
        } else if s.name != format!("{name}_sum") {
            return Err(format!("{name}: unexpected sample {}", s.name));
        }
    }
    for (key, buckets) in &groups {
        let mut last = (f64::NEG_INFINITY, 0.0);
        for b in buckets {
            if b.0 <= last.0 || b.1 < last.1 {
                return Err(format!("{name}{key}: buckets not increasing/cumulative"));
            }
            last = *b;
        }
        if last.0 != f64::INFINITY {
            return Err(format!("{name}{key}: no +Inf bucket"));
        }
        if counts.get(key) != Some(&last.1) {
            return Err(format!("{name}{key}: +Inf bucket is not _count"));
        }
    }
    Ok(())
}

#[test]
fn parser_refuses_what_prometheus_refuses() {
    assert!(parse("# TYPE a counter\na 1\n").is_ok());
    assert!(parse("a{x=\"1\",} 2 1700000000\n").is_ok());
    assert!(parse("# TYPE a counter\na -1\n").is_err());
    assert!(parse("# TYPE a wat\n").is_err());
    assert!(parse("a{x=1} 2\n").is_err());
    assert!(parse("a{x=\"\\q\"} 2\n").is_err());
    assert!(parse("1a 2\n").is_err());
    assert!(parse("a 1\nb 1\na{x=\"y\"} 1\n").is_err());
    assert!(parse("a 1\na 2\n").is_err());
    assert!(parse(
        "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_count 1\n"
    )
    .is_err());
    assert!(parse(
        "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 3\nh_count 2\n"
    )
    .is_ok());
}
