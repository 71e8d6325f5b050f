//! A metric family with a cap on its series, so that no label value (a route, a method, a
//! domain) can grow the exposition without bound.

use std::hash::Hash;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use prometheus_client::encoding::{EncodeLabelSet, EncodeMetric, MetricEncoder};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::{MetricType, TypedMetric};

/// A [`Family`] that keeps at most `cap` label sets; events for a new label set past the cap
/// are not recorded (the cap is far above what the node's own label values reach).
#[derive(Debug)]
pub(crate) struct BoundedFamily<S, M> {
    family: Family<S, M, fn() -> M>,
    series: Arc<AtomicUsize>,
    cap: usize,
}

impl<S, M> Clone for BoundedFamily<S, M> {
    fn clone(&self) -> Self {
        BoundedFamily {
            family: self.family.clone(),
            series: self.series.clone(),
            cap: self.cap,
        }
    }
}

impl<S, M> BoundedFamily<S, M>
where
    S: Clone + Hash + Eq,
    M: Clone,
{
    /// An empty family whose metrics `constructor` makes, holding at most `cap` series.
    pub(crate) fn new(cap: usize, constructor: fn() -> M) -> Self {
        BoundedFamily {
            family: Family::new_with_constructor(constructor),
            series: Arc::new(AtomicUsize::new(0)),
            cap,
        }
    }

    /// The metric of `labels` (a clone sharing its value), or `None` when the label set is new
    /// and the family is full.
    pub(crate) fn get(&self, labels: &S) -> Option<M> {
        if let Some(m) = self.family.get(labels) {
            return Some(M::clone(&m));
        }
        // Two threads creating the same series both count it: the cap errs on the safe side.
        if self.series.fetch_add(1, Ordering::Relaxed) >= self.cap {
            self.series.fetch_sub(1, Ordering::Relaxed);
            return None;
        }
        Some(self.family.get_or_create_owned(labels))
    }
}

impl<S, M> EncodeMetric for BoundedFamily<S, M>
where
    S: Clone + Hash + Eq + EncodeLabelSet,
    M: EncodeMetric + TypedMetric,
{
    fn encode(&self, encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        self.family.encode(encoder)
    }

    fn metric_type(&self) -> MetricType {
        M::TYPE
    }

    fn is_empty(&self) -> bool {
        EncodeMetric::is_empty(&self.family)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus_client::metrics::counter::Counter;

    #[test]
    fn a_full_family_refuses_new_series_but_keeps_counting_old_ones() {
        let f: BoundedFamily<Vec<(String, String)>, Counter> =
            BoundedFamily::new(2, Counter::default);
        let l = |v: &str| vec![("k".to_owned(), v.to_owned())];
        f.get(&l("a")).expect("first").inc();
        f.get(&l("b")).expect("second").inc();
        assert!(f.get(&l("c")).is_none(), "a third series past the cap");
        f.get(&l("a")).expect("existing series").inc();
        assert_eq!(f.get(&l("a")).map(|c| c.get()), Some(2));
    }
}
