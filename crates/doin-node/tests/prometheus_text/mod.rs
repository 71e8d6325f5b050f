//! Reads `/metrics` with a real parser of the Prometheus text exposition format (the
//! grammar of the `openmetrics-parser` crate): a page it refuses (bad names or escapes, an
//! unknown type, a family split in two, duplicate series, a malformed histogram) fails the
//! test that scraped it.
#![allow(dead_code, unreachable_pub)]

use openmetrics_parser::prometheus::parse_prometheus;
use openmetrics_parser::{
    MetricFamily, MetricNumber, MetricsExposition, PrometheusType, PrometheusValue,
};

type Family = MetricFamily<PrometheusType, PrometheusValue>;

/// A parsed exposition.
#[derive(Debug)]
pub struct Exposition(MetricsExposition<PrometheusType, PrometheusValue>);

/// Parses `text` as the Prometheus text format.
pub fn parse(text: &str) -> Result<Exposition, String> {
    parse_prometheus(text)
        .map(Exposition)
        .map_err(|e| format!("{e:?}"))
}

fn number(n: &MetricNumber) -> f64 {
    n.as_f64()
}

impl Exposition {
    /// The family `name` (counters by their sample name, with `_total`).
    pub fn family(&self, name: &str) -> Option<&Family> {
        self.0.families.get(name)
    }

    /// The family names.
    pub fn names(&self) -> Vec<&str> {
        self.0.families.keys().map(String::as_str).collect()
    }

    /// Each series of `name` whose labels include `labels`, as (labels, value); a
    /// histogram's value is its count.
    pub fn series(&self, name: &str, labels: &[(&str, &str)]) -> Vec<(Vec<(String, String)>, f64)> {
        let Some(f) = self.family(name) else {
            return Vec::new();
        };
        f.iter_samples()
            .filter_map(|s| {
                let set = s.get_labelset().ok()?;
                let own: Vec<(String, String)> =
                    set.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
                let matches = labels
                    .iter()
                    .all(|(k, v)| own.iter().any(|(ok, ov)| ok == k && ov == v));
                let value = match &s.value {
                    PrometheusValue::Unknown(n) | PrometheusValue::Gauge(n) => number(n),
                    PrometheusValue::Counter(c) => number(&c.value),
                    PrometheusValue::Histogram(h) => h.count? as f64,
                    PrometheusValue::Summary(s) => s.count? as f64,
                };
                matches.then_some((own, value))
            })
            .collect()
    }

    /// The value of the one series of `name` whose labels include `labels` (`None` when
    /// there is none, or more than one).
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        match self.series(name, labels).as_slice() {
            [(_, v)] => Some(*v),
            _ => None,
        }
    }

    /// The sum over every series of `name` whose labels include `labels`.
    pub fn sum(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.series(name, labels).iter().map(|(_, v)| v).sum()
    }
}
