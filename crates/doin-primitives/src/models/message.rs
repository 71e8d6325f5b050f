//! The message envelope, its 17 types, and the message id peers dedupe by.
//!
//! Wire form (pydantic, field order): `{"msg_type", "sender_id", "timestamp", "ttl",
//! "payload"}`; a DOIN node adds `public_key` and `signature` ([`Seal`]) beside them,
//! which the reference ignores. The payload object is kept exactly as received (int and
//! float apart, unknown keys included) because the message id is computed from it;
//! [`Message::typed_payload`] reads it as a [`Payload`].
//!
//! The id ([`Message::dedupe_id`]) is the reference flooding layer's: `sha256_hex` of the
//! CJSON of `{"msg_type", "payload", "sender_id", "timestamp"}` with the payload's
//! transport keys ([`TRANSPORT_KEYS`]) removed, so that a forwarder rewriting them (and the
//! `ttl`) does not change it. The reference's GossipSub layer hashes the whole payload
//! instead ([`Message::gossip_id`]). A seal signs the dedupe id ([`SealKind::Message`]).

use crate::cjson::{write_str, write_value};
use crate::fields::{Fields, ModelError};
use crate::models::payload::Payload;
use crate::models::WireModel;
use crate::seal::{Seal, SealKind};
use crate::timestamp::Timestamp;
use crate::value::{Map, Value};

/// The `ttl` a new message starts with.
pub const DEFAULT_TTL: i64 = 7;
/// The largest `ttl` the reference's flooding layer accepts.
pub const MAX_TTL: i64 = 15;

/// Payload keys that carry transport metadata; the dedupe id leaves them out.
pub const TRANSPORT_KEYS: [&str; 4] = [
    "_component_versions",
    "_forwarder_id",
    "_plugin_configs",
    "_sender_port",
];

/// The reference's 17 message types (wire value in `as_str`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageType {
    /// An optimizer commits to a hidden solution.
    OptimaeCommit,
    /// An optimizer reveals a committed solution.
    OptimaeReveal,
    /// Legacy direct announcement of a solution.
    OptimaeAnnouncement,
    /// A task was created.
    TaskCreated,
    /// A task was claimed.
    TaskClaimed,
    /// A task was completed.
    TaskCompleted,
    /// A new block's header summary.
    BlockAnnouncement,
    /// A peer's chain height and tip.
    ChainStatus,
    /// Ask for a range of blocks.
    BlockRequest,
    /// A range of blocks.
    BlockResponse,
    /// A peer's addresses, domains and roles.
    PeerDiscovery,
    /// Ask for a domain's champion.
    ChampionRequest,
    /// A domain's champion.
    ChampionResponse,
    /// A stage of a staged domain finished.
    StageComplete,
    /// A shared-population candidate was evaluated.
    CandidateEvaluation,
    /// Legacy inference request.
    EvaluationRequest,
    /// Legacy inference response.
    EvaluationResponse,
}

impl MessageType {
    /// All 17 values, in the reference's order.
    pub const ALL: [MessageType; 17] = [
        Self::OptimaeCommit,
        Self::OptimaeReveal,
        Self::OptimaeAnnouncement,
        Self::TaskCreated,
        Self::TaskClaimed,
        Self::TaskCompleted,
        Self::BlockAnnouncement,
        Self::ChainStatus,
        Self::BlockRequest,
        Self::BlockResponse,
        Self::PeerDiscovery,
        Self::ChampionRequest,
        Self::ChampionResponse,
        Self::StageComplete,
        Self::CandidateEvaluation,
        Self::EvaluationRequest,
        Self::EvaluationResponse,
    ];

    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OptimaeCommit => "optimae_commit",
            Self::OptimaeReveal => "optimae_reveal",
            Self::OptimaeAnnouncement => "optimae_announcement",
            Self::TaskCreated => "task_created",
            Self::TaskClaimed => "task_claimed",
            Self::TaskCompleted => "task_completed",
            Self::BlockAnnouncement => "block_announcement",
            Self::ChainStatus => "chain_status",
            Self::BlockRequest => "block_request",
            Self::BlockResponse => "block_response",
            Self::PeerDiscovery => "peer_discovery",
            Self::ChampionRequest => "champion_request",
            Self::ChampionResponse => "champion_response",
            Self::StageComplete => "stage_complete",
            Self::CandidateEvaluation => "candidate_evaluation",
            Self::EvaluationRequest => "evaluation_request",
            Self::EvaluationResponse => "evaluation_response",
        }
    }

    /// Parses a wire value.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// A message envelope as peers exchange it.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// What the payload is.
    pub msg_type: MessageType,
    /// The originator's peer id (a bare claim unless sealed).
    pub sender_id: String,
    /// When the originator made it (covered by the id).
    pub timestamp: Timestamp,
    /// Remaining hops (flooding only; outside the id).
    pub ttl: i64,
    /// The payload object exactly as received.
    pub payload: Map,
    /// The sender's key and signature over the dedupe id (DOIN extension).
    pub seal: Option<Seal>,
}

/// What arrives on `POST /message`: a bare message, a GossipSub-wrapped one, or a
/// GossipSub control frame.
#[derive(Debug, Clone, PartialEq)]
pub enum InboundBody {
    /// A message (bare, or the `data` of `{"type": "message"}`).
    Message(Message),
    /// A `{"type": "control", ...}` frame, as received.
    Control(Map),
}

impl Message {
    /// A new unsigned message with the default `ttl`.
    pub fn new(sender_id: impl Into<String>, timestamp: Timestamp, payload: &Payload) -> Self {
        Message {
            msg_type: payload.msg_type(),
            sender_id: sender_id.into(),
            timestamp,
            ttl: DEFAULT_TTL,
            payload: payload.to_map(),
            seal: None,
        }
    }

    /// The payload read as its typed model.
    pub fn typed_payload(&self) -> Result<Payload, ModelError> {
        Payload::parse(self.msg_type, &self.payload)
    }

    fn write_preimage(&self, s: &mut String, strip_transport: bool) {
        s.push_str("{\"msg_type\": \"");
        s.push_str(self.msg_type.as_str());
        s.push_str("\", \"payload\": {");
        let mut entries: Vec<(&String, &Value)> = self
            .payload
            .iter()
            .filter(|(k, _)| !strip_transport || !TRANSPORT_KEYS.contains(&k.as_str()))
            .collect();
        entries.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        for (i, (k, v)) in entries.into_iter().enumerate() {
            if i > 0 {
                s.push_str(", ");
            }
            write_str(k, s);
            s.push_str(": ");
            write_value(v, s);
        }
        s.push_str("}, \"sender_id\": ");
        write_str(&self.sender_id, s);
        s.push_str(", \"timestamp\": \"");
        self.timestamp.write_iso(s, false);
        s.push_str("\"}");
    }

    /// The CJSON preimage of [`Self::dedupe_id`].
    pub fn dedupe_preimage(&self) -> String {
        let mut s = String::with_capacity(256);
        self.write_preimage(&mut s, true);
        s
    }

    /// The message id: the reference flooding layer's, transport keys left out.
    pub fn dedupe_id(&self) -> String {
        crate::hash::sha256_hex_of(|buf| self.write_preimage(buf, true))
    }

    /// The CJSON preimage of [`Self::gossip_id`].
    pub fn gossip_preimage(&self) -> String {
        let mut s = String::with_capacity(256);
        self.write_preimage(&mut s, false);
        s
    }

    /// The reference GossipSub layer's id: the whole payload, transport keys included.
    pub fn gossip_id(&self) -> String {
        crate::hash::sha256_hex_of(|buf| self.write_preimage(buf, false))
    }

    /// Signs the dedupe id with `identity` (whose peer id should be `sender_id`).
    pub fn sign(&mut self, identity: &crate::identity::Identity) {
        self.seal = Some(identity.seal(SealKind::Message, &self.dedupe_id()));
    }

    /// Checks that the message is sealed by the key of `sender_id` over its dedupe id.
    pub fn verify_seal(&self) -> Result<(), crate::identity::IdentityError> {
        crate::identity::require_seal(
            self.seal.as_ref(),
            SealKind::Message,
            &self.dedupe_id(),
            &self.sender_id,
        )
    }

    /// The same message as a forwarder passes it on: `ttl` one lower, id unchanged.
    pub fn forwarded(&self) -> Self {
        let mut m = self.clone();
        m.ttl = self.ttl.saturating_sub(1);
        m
    }

    /// Reads a `POST /message` body: a bare message, `{"type": "message", "data": ...}`,
    /// or a `{"type": "control", ...}` frame.
    pub fn from_http_body(text: &str) -> Result<InboundBody, ModelError> {
        let v = crate::json::parse(text)?;
        let f = Fields::new("Message", &v)?;
        match f.get("type").and_then(Value::as_str) {
            Some("message") => match f.get("data") {
                Some(data) => Message::from_value(data).map(InboundBody::Message),
                None => Err(ModelError::Missing {
                    model: "GossipEnvelope",
                    field: "data",
                }),
            },
            Some("control") => Ok(InboundBody::Control(f.map().clone())),
            _ => Message::from_value(&v).map(InboundBody::Message),
        }
    }
}

impl WireModel for Message {
    fn from_value(v: &Value) -> Result<Self, ModelError> {
        let f = Fields::new("Message", v)?;
        let payload = match f.get("payload") {
            None => Map::new(),
            Some(Value::Object(m)) => m.clone(),
            Some(other) => {
                return Err(ModelError::Invalid {
                    model: "Message",
                    field: "payload",
                    reason: format!("expected an object, got {}", other.type_name()),
                })
            }
        };
        Ok(Message {
            msg_type: f.enum_of("msg_type", MessageType::parse)?,
            sender_id: f.str("sender_id")?,
            timestamp: f.timestamp("timestamp")?,
            ttl: f.i64_or("ttl", DEFAULT_TTL)?,
            payload,
            seal: Seal::read(&f)?,
        })
    }

    fn to_value(&self) -> Value {
        let mut m = crate::map! {
            "msg_type" => self.msg_type.as_str(),
            "sender_id" => self.sender_id.clone(),
            "timestamp" => self.timestamp.wire(),
            "ttl" => self.ttl,
            "payload" => self.payload.clone(),
        };
        if let Some(seal) = &self.seal {
            seal.write(&mut m);
        }
        Value::Object(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_example() {
        let text = r#"{"msg_type":"optimae_commit","sender_id":"5cd252fb0ce8932436faf8ccd1040981b89ee4ad","timestamp":"2026-01-01T00:00:00Z","ttl":7,"payload":{"commitment_hash":"96a1cd5f772a9fb9fdcf285812b4961420e8751cdc988739922f80f23d38c523","domain_id":"quadratic"}}"#;
        let m = Message::from_wire_json(text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            m.dedupe_id(),
            "359908f279ff8e8ad35a823d8c535c2cdfc20678d79fe4a51c91a4424c74fd8e"
        );
    }

    #[test]
    fn seal_covers_the_id_not_the_transport() {
        let mut scalar = [0u8; 32];
        scalar[31] = 1;
        let id =
            crate::identity::Identity::from_scalar_bytes(&scalar).unwrap_or_else(|e| panic!("{e}"));
        let payload = Payload::from(crate::models::payload::OptimaeCommit {
            commitment_hash: "ab".into(),
            domain_id: "quadratic".into(),
            extra: Map::new(),
        });
        let mut m = Message::new(id.peer_id(), Timestamp::EPOCH, &payload);
        m.sign(&id);
        m.verify_seal().unwrap_or_else(|e| panic!("{e}"));
        let mut hop = m.forwarded();
        hop.payload.insert("_forwarder_id".into(), Value::from("x"));
        hop.verify_seal().unwrap_or_else(|e| panic!("{e}"));
        hop.payload.insert("domain_id".into(), Value::from("other"));
        assert!(hop.verify_seal().is_err());
    }
}
