//! Which gossip topic each message type travels on (the one mapping, [`topic_of`]).
//!
//! The reference has four topics: `optimae`, `blocks`, `tasks`, `discovery`. Domain
//! sharding splits the two domain-bound ones: a message whose payload names a
//! `domain_id` travels on `optimae/<domain_id>` or `tasks/<domain_id>`, so a node
//! subscribes only to the domains it serves, while every node subscribes to `blocks` and
//! `discovery` and relays them.

use doin_primitives::models::{Message, MessageType};
use doin_primitives::value::Value;

use crate::limits::MAX_TOPIC_LEN;
use crate::Topic;

/// The topic of blocks and chain status.
pub const BLOCKS: &str = "blocks";
/// The topic of peer discovery announcements.
pub const DISCOVERY: &str = "discovery";
/// The base of optimization topics (`optimae/<domain_id>`).
pub const OPTIMAE: &str = "optimae";
/// The base of task topics (`tasks/<domain_id>`).
pub const TASKS: &str = "tasks";

/// The topic family of a message type (the reference's topic).
pub fn base_topic(t: MessageType) -> &'static str {
    use MessageType as T;
    match t {
        T::OptimaeCommit
        | T::OptimaeReveal
        | T::OptimaeAnnouncement
        | T::ChampionRequest
        | T::ChampionResponse
        | T::StageComplete
        | T::CandidateEvaluation => OPTIMAE,
        T::TaskCreated
        | T::TaskClaimed
        | T::TaskCompleted
        | T::EvaluationRequest
        | T::EvaluationResponse => TASKS,
        T::BlockAnnouncement | T::ChainStatus | T::BlockRequest | T::BlockResponse => BLOCKS,
        T::PeerDiscovery => DISCOVERY,
    }
}

/// The per-domain topic of a family (`optimae/quadratic`).
pub fn domain_topic(base: &str, domain_id: &str) -> Topic {
    format!("{base}/{domain_id}")
}

/// The topic a message travels on: the family, split by the payload's `domain_id` for
/// the `optimae` and `tasks` families when it has a usable one.
pub fn topic_of(message: &Message) -> Topic {
    let base = base_topic(message.msg_type);
    if base == OPTIMAE || base == TASKS {
        if let Some(domain) = message.payload.get("domain_id").and_then(Value::as_str) {
            if !domain.is_empty() && base.len() + 1 + domain.len() <= MAX_TOPIC_LEN {
                return domain_topic(base, domain);
            }
        }
    }
    base.to_owned()
}

/// The topics a node serving `domains` subscribes to.
pub fn topics_for_domains<'a>(domains: impl IntoIterator<Item = &'a str>) -> Vec<Topic> {
    let mut topics = vec![BLOCKS.to_owned(), DISCOVERY.to_owned()];
    for d in domains {
        topics.push(domain_topic(OPTIMAE, d));
        topics.push(domain_topic(TASKS, d));
    }
    topics
}

#[cfg(test)]
mod tests {
    use super::*;
    use doin_primitives::models::WireModel;

    #[test]
    fn reference_samples_map_to_topics() {
        let dir = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../testdata/reference/wire-samples"
        );
        let cases = [
            ("message_block_announcement.json", "blocks"),
            ("message_optimae_commit.json", "optimae/quadratic"),
            ("message_optimae_reveal.json", "optimae/quadratic"),
            ("message_task_created.json", "tasks/quadratic"),
            ("message_task_claimed.json", "tasks/quadratic"),
            ("message_champion_request.json", "optimae/quadratic"),
            ("message_stage_complete.json", "optimae/quadratic"),
        ];
        for (file, want) in cases {
            let text = std::fs::read_to_string(format!("{dir}/{file}"))
                .unwrap_or_else(|e| panic!("{file}: {e}"));
            let m = Message::from_wire_json(&text).unwrap_or_else(|e| panic!("{file}: {e}"));
            assert_eq!(topic_of(&m), want, "{file}");
        }
    }

    #[test]
    fn every_type_has_a_family() {
        for t in MessageType::ALL {
            assert!([OPTIMAE, TASKS, BLOCKS, DISCOVERY].contains(&base_topic(t)));
        }
    }
}
