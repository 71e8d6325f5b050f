//! What a node's gossip has carried, from gossipsub's own counters (libp2p's `metrics`
//! feature): per topic, every copy received and the first ones (so duplicates show),
//! messages published and sent, and their bytes each way.
//!
//! Bytes are gossip messages' (protobuf) bytes: sync pages, task calls, kademlia and
//! identify are not in them, nor framing. libp2p-metrics' bandwidth transport counts
//! every substream, but in libp2p 0.57 `SwarmBuilder::with_bandwidth_metrics` ties the
//! swarm's type to the registry borrow (edition 2024 captures it), so a spawned swarm
//! could only take a leaked registry that nothing can read back.
//!
//! One [`Traffic`] per node owns its registry; [`super::behaviour::build_swarm`] registers
//! gossipsub's counters there, and [`Traffic::counts`] reads them back by encoding the
//! registry (the text exposition format, the only reader `prometheus-client` offers) and
//! summing each series. Reading costs a few kilobytes of text: for benchmarks and status
//! pages, not for every message.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use libp2p::metrics::Registry;

/// The prefix under which gossipsub's metrics are registered.
pub(crate) const GOSSIPSUB_PREFIX: &str = "gossipsub";

/// A node's traffic counters (clones share them).
#[derive(Debug, Clone, Default)]
pub struct Traffic {
    registry: Arc<Mutex<Registry>>,
}

/// Gossip messages of one topic, as this node's gossipsub counted them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TopicCounts {
    /// Every copy received from peers, duplicates included.
    pub received: u64,
    /// First copies received (what reached the validator).
    pub first: u64,
    /// Messages this node published.
    pub published: u64,
    /// Messages sent to peers (published and forwarded), one per peer sent to.
    pub sent: u64,
    /// Bytes of every copy received.
    pub bytes_received: u64,
    /// Bytes of every message sent.
    pub bytes_sent: u64,
}

impl TopicCounts {
    /// Copies received beyond the first.
    pub fn duplicates(&self) -> u64 {
        self.received.saturating_sub(self.first)
    }

    /// What changed since `earlier` (counters only grow).
    pub fn since(&self, earlier: &TopicCounts) -> TopicCounts {
        TopicCounts {
            received: self.received.saturating_sub(earlier.received),
            first: self.first.saturating_sub(earlier.first),
            published: self.published.saturating_sub(earlier.published),
            sent: self.sent.saturating_sub(earlier.sent),
            bytes_received: self.bytes_received.saturating_sub(earlier.bytes_received),
            bytes_sent: self.bytes_sent.saturating_sub(earlier.bytes_sent),
        }
    }
}

/// A reading of a node's [`Traffic`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrafficCounts {
    /// Gossip per topic (the topic's name).
    pub topics: BTreeMap<String, TopicCounts>,
}

impl TrafficCounts {
    /// What changed since `earlier` (a topic new since then counts from zero).
    pub fn since(&self, earlier: &TrafficCounts) -> TrafficCounts {
        let topics = self
            .topics
            .iter()
            .map(|(t, now)| {
                let then = earlier.topics.get(t).copied().unwrap_or_default();
                (t.clone(), now.since(&then))
            })
            .collect();
        TrafficCounts { topics }
    }

    /// Gossip bytes received, every copy, over all topics.
    pub fn bytes_in(&self) -> u64 {
        self.topics.values().map(|c| c.bytes_received).sum()
    }

    /// Gossip bytes sent over all topics.
    pub fn bytes_out(&self) -> u64 {
        self.topics.values().map(|c| c.bytes_sent).sum()
    }
}

impl Traffic {
    /// Runs `f` on the registry (to register counters while the swarm is built).
    pub(crate) fn register<T>(&self, f: impl FnOnce(&mut Registry) -> T) -> T {
        let mut registry = self.registry.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut registry)
    }

    /// The counters now.
    pub fn counts(&self) -> TrafficCounts {
        let mut text = String::new();
        {
            let registry = self.registry.lock().unwrap_or_else(PoisonError::into_inner);
            // Writing to a String cannot fail.
            let _ = prometheus_client::encoding::text::encode(&mut text, &registry);
        }
        parse(&text)
    }
}

/// Sums the series of the exposition `text` that [`TrafficCounts`] holds.
fn parse(text: &str) -> TrafficCounts {
    let mut counts = TrafficCounts::default();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some((series, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let Ok(value) = value.parse::<f64>() else {
            continue;
        };
        let value = value as u64;
        let (name, labels) = series.split_once('{').unwrap_or((series, ""));
        let Some(metric) = name
            .strip_prefix(GOSSIPSUB_PREFIX)
            .and_then(|n| n.strip_prefix('_'))
        else {
            continue;
        };
        let field: fn(&mut TopicCounts) -> &mut u64 = match metric {
            "topic_msg_recv_counts_unfiltered_total" => |c| &mut c.received,
            "topic_msg_recv_counts_total" => |c| &mut c.first,
            "topic_msg_published_total" => |c| &mut c.published,
            "topic_msg_sent_counts_total" => |c| &mut c.sent,
            "topic_msg_recv_bytes_unfiltered_total" => |c| &mut c.bytes_received,
            "topic_msg_sent_bytes_total" => |c| &mut c.bytes_sent,
            _ => continue,
        };
        // Sent bytes are labelled `topic_hash` (with `partial`), the rest `hash`.
        let Some(topic) = label(labels, "hash").or_else(|| label(labels, "topic_hash")) else {
            continue;
        };
        *field(counts.topics.entry(topic.to_owned()).or_default()) += value;
    }
    counts
}

/// The value of label `key` in `labels` (`a="x",b="y"}`); DOIN's topic names and libp2p's
/// label values hold no quotes.
fn label<'a>(labels: &'a str, key: &str) -> Option<&'a str> {
    labels.split(',').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k.trim() == key).then(|| v.trim_end_matches('}').trim_matches('"'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_gossip_series() {
        let text = "# HELP gossipsub_topic_msg_published Number of gossip messages published.\n\
            # TYPE gossipsub_topic_msg_published counter\n\
            gossipsub_topic_msg_recv_counts_unfiltered_total{hash=\"doin/1/blocks\"} 9\n\
            gossipsub_topic_msg_recv_counts_total{hash=\"doin/1/blocks\"} 3\n\
            gossipsub_topic_msg_published_total{hash=\"doin/1/blocks\"} 1\n\
            gossipsub_topic_msg_sent_counts_total{hash=\"doin/1/blocks\"} 12\n\
            gossipsub_topic_msg_recv_bytes_total{hash=\"doin/1/blocks\"} 4000\n\
            gossipsub_topic_msg_recv_bytes_unfiltered_total{hash=\"doin/1/blocks\"} 9000\n\
            gossipsub_topic_msg_sent_bytes_total{partial=\"false\",topic_hash=\"doin/1/blocks\"} 7000\n\
            gossipsub_topic_msg_recv_bytes_unfiltered_total{hash=\"doin/1/votes/q\"} 500\n\
            # EOF\n";
        let c = parse(text);
        assert_eq!((c.bytes_in(), c.bytes_out()), (9500, 7000));
        let blocks = c.topics["doin/1/blocks"];
        assert_eq!(
            blocks,
            TopicCounts {
                received: 9,
                first: 3,
                published: 1,
                sent: 12,
                bytes_received: 9000,
                bytes_sent: 7000,
            }
        );
        assert_eq!(blocks.duplicates(), 6);
        let none = TrafficCounts::default();
        assert_eq!(c.since(&c).topics["doin/1/blocks"].received, 0);
        assert_eq!(c.since(&none), c);
    }
}
