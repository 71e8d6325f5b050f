//! One gossipsub topic per gossiped kind, and per domain for the kinds bound to a domain.
//!
//! DESIGN: domains are gossip topics. Work on a domain — commitments, reveals, quorum
//! votes, task claims — travels on `doin/1/<kind>/<domain_id>`, so a node subscribes only
//! to the domains it serves; what every node keeps and relays — blocks, transfers, channel
//! operations — travels on `doin/1/<kind>`. The reference's topic families map onto
//! these: `optimae/<d>` carries commitments and reveals, `tasks/<d>` claims and votes,
//! `blocks` blocks.

use libp2p::gossipsub::{IdentTopic, TopicHash};

use crate::limits::MAX_TOPIC_LEN;

/// The prefix of every DOIN topic (the protocol version is part of the name, so a future
/// wire change gets topics of its own).
pub const TOPIC_PREFIX: &str = "doin/1/";

/// What a gossiped message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GossipKind {
    /// A block.
    Block,
    /// An optimae commitment (its hash before the reveal).
    Commitment,
    /// An optimae reveal.
    Reveal,
    /// A quorum member's evaluation vote.
    Vote,
    /// A task claim.
    Claim,
    /// A transfer transaction.
    Transfer,
    /// A payment-channel operation.
    ChannelOp,
}

impl GossipKind {
    /// Every kind.
    pub const ALL: [GossipKind; 7] = [
        GossipKind::Block,
        GossipKind::Commitment,
        GossipKind::Reveal,
        GossipKind::Vote,
        GossipKind::Claim,
        GossipKind::Transfer,
        GossipKind::ChannelOp,
    ];

    /// The kind's name in topic strings.
    pub fn name(self) -> &'static str {
        match self {
            GossipKind::Block => "blocks",
            GossipKind::Commitment => "commitments",
            GossipKind::Reveal => "reveals",
            GossipKind::Vote => "votes",
            GossipKind::Claim => "claims",
            GossipKind::Transfer => "transfers",
            GossipKind::ChannelOp => "channel-ops",
        }
    }

    /// Whether the kind travels on a per-domain topic.
    pub fn is_domain_bound(self) -> bool {
        matches!(
            self,
            GossipKind::Commitment | GossipKind::Reveal | GossipKind::Vote | GossipKind::Claim
        )
    }

    fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }
}

/// Why a (kind, domain) pair names no topic.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TopicError {
    /// A domain-bound kind was given no domain.
    #[error("{0:?} messages travel on a domain's topic: name the domain")]
    DomainRequired(GossipKind),
    /// A global kind was given a domain.
    #[error("{0:?} messages travel on one global topic: give no domain")]
    NoDomain(GossipKind),
    /// The domain id is empty, too long, or holds `/` or control characters.
    #[error("domain id {0:?} is not usable in a topic (1 to 100 printable characters, no '/')")]
    BadDomain(String),
}

/// The longest domain id a topic carries.
const MAX_DOMAIN_LEN: usize = 100;
const _: () = assert!(TOPIC_PREFIX.len() + 12 + MAX_DOMAIN_LEN <= MAX_TOPIC_LEN);

fn check_domain(domain: &str) -> Result<(), TopicError> {
    let ok = !domain.is_empty()
        && domain.len() <= MAX_DOMAIN_LEN
        && !domain.chars().any(|c| c == '/' || c.is_control());
    if ok {
        Ok(())
    } else {
        Err(TopicError::BadDomain(domain.to_owned()))
    }
}

/// The topic of `kind` (in `domain` for the domain-bound kinds).
pub fn topic(kind: GossipKind, domain: Option<&str>) -> Result<IdentTopic, TopicError> {
    match (kind.is_domain_bound(), domain) {
        (true, Some(d)) => {
            check_domain(d)?;
            Ok(IdentTopic::new(format!(
                "{TOPIC_PREFIX}{}/{d}",
                kind.name()
            )))
        }
        (true, None) => Err(TopicError::DomainRequired(kind)),
        (false, None) => Ok(IdentTopic::new(format!("{TOPIC_PREFIX}{}", kind.name()))),
        (false, Some(_)) => Err(TopicError::NoDomain(kind)),
    }
}

/// The topics every node subscribes to (the global kinds).
pub fn global_topics() -> Vec<IdentTopic> {
    GossipKind::ALL
        .into_iter()
        .filter(|k| !k.is_domain_bound())
        .filter_map(|k| topic(k, None).ok())
        .collect()
}

/// The topics of one domain.
pub fn domain_topics(domain: &str) -> Result<Vec<IdentTopic>, TopicError> {
    GossipKind::ALL
        .into_iter()
        .filter(|k| k.is_domain_bound())
        .map(|k| topic(k, Some(domain)))
        .collect()
}

/// The kind and domain a topic carries, if it is a DOIN topic.
pub fn parse_topic(hash: &TopicHash) -> Option<(GossipKind, Option<String>)> {
    let rest = hash.as_str().strip_prefix(TOPIC_PREFIX)?;
    let (name, domain) = match rest.split_once('/') {
        Some((name, domain)) => (name, Some(domain)),
        None => (rest, None),
    };
    let kind = GossipKind::from_name(name)?;
    // Round trip: only the exact topic `topic` would build is ours.
    let built = topic(kind, domain).ok()?;
    (built.hash() == *hash).then(|| (kind, domain.map(str::to_owned)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_round_trips() {
        for kind in GossipKind::ALL {
            let domain = kind.is_domain_bound().then_some("quadratic");
            let t = topic(kind, domain).expect("valid");
            assert_eq!(
                parse_topic(&t.hash()),
                Some((kind, domain.map(str::to_owned)))
            );
        }
    }

    #[test]
    fn domains_are_checked() {
        assert!(topic(GossipKind::Vote, None).is_err());
        assert!(topic(GossipKind::Block, Some("quadratic")).is_err());
        assert!(topic(GossipKind::Reveal, Some("a/b")).is_err());
        assert!(topic(GossipKind::Reveal, Some("")).is_err());
        assert_eq!(
            parse_topic(&TopicHash::from_raw("doin/1/blocks/extra")),
            None
        );
        assert_eq!(parse_topic(&TopicHash::from_raw("other/blocks")), None);
    }
}
