//! One gossipsub topic per gossiped kind, and per domain for the kinds bound to a domain.
//!
//! DESIGN: domains are gossip topics. Work on a domain — commitments, reveals, quorum
//! votes, task claims, verified optimae for any minter to carry — travels on `doin/1/<kind>/<domain_id>`, so a node subscribes only
//! to the domains it serves; what every node keeps and relays — blocks, transfers, channel
//! operations — travels on `doin/1/<kind>`. The reference's topic families map onto
//! these: `optimae/<d>` carries commitments and reveals, `tasks/<d>` claims and votes,
//! `blocks` blocks.
//!
//! Reference nodes sign nothing. A doin node that accepts their unsealed messages
//! (`accept_unsigned_messages`) relays the valid ones into libp2p on a parallel family,
//! `doin/1/ref/<kind>[/<domain_id>]` ([`Origin::Reference`]), which only nodes that accept
//! unsealed messages join: a node that refuses them never receives one, so it never
//! charges an honest bridge for relaying, and the nodes that do take them charge the
//! connection that delivered a bad one, as for any gossip.

use libp2p::gossipsub::{IdentTopic, TopicHash};

use crate::limits::MAX_TOPIC_LEN;

/// The prefix of every DOIN topic (the protocol version is part of the name, so a future
/// wire change gets topics of its own).
pub const TOPIC_PREFIX: &str = "doin/1/";

/// The segment after [`TOPIC_PREFIX`] that names the reference family.
const REFERENCE_SEGMENT: &str = "ref/";

/// Who vouches for a gossiped message: its own seal, or the doin node that took it
/// unsealed from a reference node over HTTP and relayed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Origin {
    /// Sealed by its sender: the topics every node joins.
    Sealed,
    /// A reference node's unsealed message, relayed by a doin node that accepts them: the
    /// `doin/1/ref/...` topics, joined only by nodes that accept unsealed messages.
    Reference,
}

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
    /// A verified optimae (reveal, quorum votes, the optimizer's claim seal) that any
    /// minter may carry in its block.
    Optimae,
}

impl GossipKind {
    /// Every kind.
    pub const ALL: [GossipKind; 8] = [
        GossipKind::Block,
        GossipKind::Commitment,
        GossipKind::Reveal,
        GossipKind::Vote,
        GossipKind::Claim,
        GossipKind::Transfer,
        GossipKind::ChannelOp,
        GossipKind::Optimae,
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
            GossipKind::Optimae => "optimae",
        }
    }

    /// Whether the kind travels on a per-domain topic.
    pub fn is_domain_bound(self) -> bool {
        matches!(
            self,
            GossipKind::Commitment
                | GossipKind::Reveal
                | GossipKind::Vote
                | GossipKind::Claim
                | GossipKind::Optimae
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
const _: () =
    assert!(TOPIC_PREFIX.len() + REFERENCE_SEGMENT.len() + 12 + MAX_DOMAIN_LEN <= MAX_TOPIC_LEN);

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

/// The topic of sealed `kind` messages (in `domain` for the domain-bound kinds).
pub fn topic(kind: GossipKind, domain: Option<&str>) -> Result<IdentTopic, TopicError> {
    topic_of(Origin::Sealed, kind, domain)
}

/// The topic of `kind` messages of `origin` (in `domain` for the domain-bound kinds).
pub fn topic_of(
    origin: Origin,
    kind: GossipKind,
    domain: Option<&str>,
) -> Result<IdentTopic, TopicError> {
    let family = match origin {
        Origin::Sealed => "",
        Origin::Reference => REFERENCE_SEGMENT,
    };
    match (kind.is_domain_bound(), domain) {
        (true, Some(d)) => {
            check_domain(d)?;
            Ok(IdentTopic::new(format!(
                "{TOPIC_PREFIX}{family}{}/{d}",
                kind.name()
            )))
        }
        (true, None) => Err(TopicError::DomainRequired(kind)),
        (false, None) => Ok(IdentTopic::new(format!(
            "{TOPIC_PREFIX}{family}{}",
            kind.name()
        ))),
        (false, Some(_)) => Err(TopicError::NoDomain(kind)),
    }
}

/// The topics of `origin` every node of that family subscribes to (the global kinds).
pub fn global_topics_of(origin: Origin) -> Vec<IdentTopic> {
    GossipKind::ALL
        .into_iter()
        .filter(|k| !k.is_domain_bound())
        .filter_map(|k| topic_of(origin, k, None).ok())
        .collect()
}

/// The sealed topics every node subscribes to (the global kinds).
pub fn global_topics() -> Vec<IdentTopic> {
    global_topics_of(Origin::Sealed)
}

/// The topics of `origin` of one domain.
pub fn domain_topics_of(origin: Origin, domain: &str) -> Result<Vec<IdentTopic>, TopicError> {
    GossipKind::ALL
        .into_iter()
        .filter(|k| k.is_domain_bound())
        .map(|k| topic_of(origin, k, Some(domain)))
        .collect()
}

/// The sealed topics of one domain.
pub fn domain_topics(domain: &str) -> Result<Vec<IdentTopic>, TopicError> {
    domain_topics_of(Origin::Sealed, domain)
}

/// The origin, kind and domain a topic carries, if it is a DOIN topic of either family.
pub fn parse_topic_of(hash: &TopicHash) -> Option<(Origin, GossipKind, Option<String>)> {
    let reference = hash
        .as_str()
        .strip_prefix(TOPIC_PREFIX)
        .and_then(|rest| rest.strip_prefix(REFERENCE_SEGMENT));
    let Some(rest) = reference else {
        return parse_topic(hash).map(|(kind, domain)| (Origin::Sealed, kind, domain));
    };
    let (name, domain) = match rest.split_once('/') {
        Some((name, domain)) => (name, Some(domain)),
        None => (rest, None),
    };
    let kind = GossipKind::from_name(name)?;
    let built = topic_of(Origin::Reference, kind, domain).ok()?;
    (built.hash() == *hash).then(|| (Origin::Reference, kind, domain.map(str::to_owned)))
}

/// The kind and domain a topic carries, if it is a DOIN topic of sealed messages.
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
    fn reference_topics_are_a_family_apart() {
        for kind in GossipKind::ALL {
            let domain = kind.is_domain_bound().then_some("quadratic");
            let sealed = topic(kind, domain).expect("valid");
            let reference = topic_of(Origin::Reference, kind, domain).expect("valid");
            assert_ne!(sealed.hash(), reference.hash());
            assert!(reference.hash().as_str().starts_with("doin/1/ref/"));
            let owned = domain.map(str::to_owned);
            assert_eq!(
                parse_topic_of(&reference.hash()),
                Some((Origin::Reference, kind, owned.clone()))
            );
            assert_eq!(
                parse_topic_of(&sealed.hash()),
                Some((Origin::Sealed, kind, owned))
            );
            // The sealed family's parser does not take a reference topic for its own.
            assert_eq!(parse_topic(&reference.hash()), None);
        }
        assert_eq!(
            parse_topic_of(&TopicHash::from_raw("doin/1/ref/blocks/extra")),
            None
        );
        assert_eq!(parse_topic_of(&TopicHash::from_raw("doin/1/ref/")), None);
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
