//! Island migration from revealed optimae: the best parameters other nodes announced
//! (`task_created`, sent when an optimizer reveals an optimae to its quorum) for each domain
//! this node optimizes, offered once to the domain's optimizer as a point to start from.
//!
//! Blocks bring other nodes' optimae only after a quorum, a threshold and a sync; reveals
//! arrive within a gossip hop, so nodes build on each other's progress round by round. The
//! reported performance is a claim, used only to pick which announcement to offer: the
//! optimizer plugin re-measures every migrant before adopting it, and the loop proposes
//! only what its own trials found (see `OptimizerLoop::run`), so a false claim costs one
//! evaluation and earns nothing.
//!
//! Bounded: one migrant per registered domain, each within the message size limit the
//! network enforces.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use doin_primitives::value::Map;

/// A revealed optimae of another node, as announced.
#[derive(Debug, Clone, PartialEq)]
pub struct Migrant {
    /// The revealed parameters.
    pub parameters: Map,
    /// The performance its optimizer claims (unverified).
    pub claimed: f64,
    /// The optimizer that revealed it.
    pub from: String,
}

#[derive(Debug, Default)]
struct Slot {
    higher_is_better: bool,
    /// The best claim since the optimizer last took one.
    waiting: Option<Migrant>,
}

impl Slot {
    fn better(&self, a: f64, b: f64) -> bool {
        if self.higher_is_better {
            a > b
        } else {
            a < b
        }
    }
}

/// The migrants waiting per domain; cheap to clone (shared).
#[derive(Debug, Clone, Default)]
pub struct MigrantBoard {
    slots: Arc<Mutex<BTreeMap<String, Slot>>>,
}

impl MigrantBoard {
    /// Accepts announcements for `domain` from now on (the domain's optimizer calls it).
    pub fn register(&self, domain: &str, higher_is_better: bool) {
        self.lock().entry(domain.to_owned()).or_insert(Slot {
            higher_is_better,
            ..Slot::default()
        });
    }

    /// Keeps `migrant` for `domain` when the domain is registered and it claims at least
    /// as much as the migrant waiting (the newest wins a tie); says whether it was kept.
    pub fn announce(&self, domain: &str, migrant: Migrant) -> bool {
        if !migrant.claimed.is_finite() {
            return false;
        }
        let mut slots = self.lock();
        let Some(slot) = slots.get_mut(domain) else {
            return false;
        };
        if slot
            .waiting
            .as_ref()
            .is_none_or(|w| !slot.better(w.claimed, migrant.claimed))
        {
            slot.waiting = Some(migrant);
            true
        } else {
            false
        }
    }

    /// Takes the migrant waiting for `domain` if it claims better than `floor` (the
    /// optimizer's best); each announcement is offered at most once, so a false claim
    /// holds the slot for one round only.
    pub fn take_better_than(&self, domain: &str, floor: Option<f64>) -> Option<Migrant> {
        let mut slots = self.lock();
        let slot = slots.get_mut(domain)?;
        let m = slot.waiting.take()?;
        floor.is_none_or(|f| slot.better(m.claimed, f)).then_some(m)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Slot>> {
        self.slots.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Whether two parameter objects are the same point: the same keys, numbers equal to a
/// relative 1e-9 (a plugin's round trip through its own coordinates may move the last
/// bits), everything else equal.
pub fn same_point(a: &Map, b: &Map) -> bool {
    use doin_primitives::value::Value;
    fn same(a: &Value, b: &Value) -> bool {
        match (a.as_f64(), b.as_f64()) {
            (Some(x), Some(y)) => (x - y).abs() <= 1e-9 * x.abs().max(y.abs()).max(1.0),
            _ => match (a, b) {
                (Value::Array(x), Value::Array(y)) => {
                    x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same(x, y))
                }
                (Value::Object(x), Value::Object(y)) => same_point(x, y),
                _ => a == b,
            },
        }
    }
    a.len() == b.len()
        && a.iter()
            .all(|(k, va)| b.get(k).is_some_and(|vb| same(va, vb)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use doin_primitives::map;
    use doin_primitives::value::Value;

    fn migrant(claimed: f64) -> Migrant {
        Migrant {
            parameters: map! { "x" => vec![Value::Float(claimed)] },
            claimed,
            from: "peer".into(),
        }
    }

    #[test]
    fn the_best_claim_waits_and_is_offered_once() {
        let board = MigrantBoard::default();
        assert!(!board.announce("d", migrant(-5.0)), "unregistered domain");
        board.register("d", true);
        assert!(board.announce("d", migrant(-5.0)));
        assert!(board.announce("d", migrant(-3.0)));
        assert!(
            !board.announce("d", migrant(-4.0)),
            "worse than the waiting one"
        );
        assert!(!board.announce("d", migrant(f64::NAN)));
        let mut newer = migrant(-3.0);
        newer.from = "newer".into();
        assert!(board.announce("d", newer.clone()), "the newest wins a tie");
        assert_eq!(board.take_better_than("d", None), Some(newer));
        assert_eq!(board.take_better_than("d", None), None, "offered once");
        assert!(board.announce("d", migrant(-3.5)), "the slot is free again");
        assert_eq!(
            board.take_better_than("d", Some(-3.0)),
            None,
            "no better than the optimizer's best"
        );
        assert_eq!(board.take_better_than("d", None), None, "and dropped");
        assert!(board.announce("d", migrant(-1.0)));
        assert_eq!(
            board.take_better_than("d", Some(-3.0)).map(|m| m.claimed),
            Some(-1.0)
        );
    }

    #[test]
    fn lower_is_better_domains_keep_the_lowest_claim() {
        let board = MigrantBoard::default();
        board.register("loss", false);
        assert!(board.announce("loss", migrant(2.0)));
        assert!(!board.announce("loss", migrant(3.0)));
        assert!(board.announce("loss", migrant(1.0)));
        assert_eq!(
            board.take_better_than("loss", Some(1.5)).map(|m| m.claimed),
            Some(1.0)
        );
    }

    #[test]
    fn same_point_tolerates_round_trip_bits_only() {
        let a = map! { "x" => vec![Value::Float(0.1), Value::Float(2.0)], "k" => "ridge" };
        let b = map! { "x" => vec![Value::Float(0.1 + 1e-15), Value::Float(2.0)], "k" => "ridge" };
        let c = map! { "x" => vec![Value::Float(0.1001), Value::Float(2.0)], "k" => "ridge" };
        let d = map! { "x" => vec![Value::Float(0.1)], "k" => "ridge" };
        assert!(same_point(&a, &b));
        assert!(!same_point(&a, &c));
        assert!(!same_point(&a, &d));
        assert!(!same_point(
            &a,
            &map! { "x" => vec![Value::Float(0.1), Value::Float(2.0)], "k" => "lasso" }
        ));
    }
}
