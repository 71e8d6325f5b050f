//! Values read from elsewhere when `/metrics` is scraped, one series per value of a label:
//! the node's per-domain gauges and counts kept outside this module (task queue states,
//! the network service's frames, inference requests).

use prometheus_client::encoding::{
    EncodeCounterValue, EncodeGaugeValue, EncodeMetric, MetricEncoder, NoLabelSet,
};
use prometheus_client::metrics::MetricType;

/// One series per value of the label `label`, of a gauge or a counter, as read at scrape.
#[derive(Debug)]
pub struct Labeled<V> {
    kind: MetricType,
    label: &'static str,
    series: Vec<(String, V)>,
}

impl<V> Labeled<V> {
    /// Gauges, one per `(label value, value)`.
    pub fn gauges(label: &'static str, series: impl IntoIterator<Item = (String, V)>) -> Self {
        Labeled {
            kind: MetricType::Gauge,
            label,
            series: series.into_iter().collect(),
        }
    }
}

impl Labeled<u64> {
    /// Counters, one per `(label value, count)`.
    pub fn counters<'a>(
        label: &'static str,
        series: impl IntoIterator<Item = (&'a str, u64)>,
    ) -> Self {
        Labeled {
            kind: MetricType::Counter,
            label,
            series: series.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
        }
    }
}

impl<V> EncodeMetric for Labeled<V>
where
    V: EncodeGaugeValue + EncodeCounterValue,
{
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        for (value_label, v) in &self.series {
            let labels = [(self.label, value_label.as_str())];
            let mut series = encoder.encode_family(&labels)?;
            if self.kind == MetricType::Counter {
                series.encode_counter::<NoLabelSet, _, u64>(v, None)?;
            } else {
                series.encode_gauge(v)?;
            }
        }
        Ok(())
    }

    fn metric_type(&self) -> MetricType {
        self.kind
    }

    fn is_empty(&self) -> bool {
        self.series.is_empty()
    }
}
