//! Typed payloads of the 17 message types, in the reference's wire field order.
//!
//! A payload is read leniently from a message's `payload` object ([`Payload::parse`]).
//! Keys a model does not declare (the transport keys `_sender_port`, `_component_versions`,
//! `_plugin_configs`, `_forwarder_id`, and anything newer) are kept in `extra` and written
//! back after the declared fields, so that rebuilding a payload does not drop them.
//!
//! The reference's payload models are pydantic models: they always write every field, with
//! `null` for an absent optional value, and a float field that arrived as `1` goes out as
//! `1.0`. A [`Message`](super::Message) keeps the payload object exactly as received and
//! hashes that, so parsing a payload never changes a message's id; [`Payload::to_map`] is
//! for building new messages. `stage_complete` and `candidate_evaluation` are plain dicts in
//! the reference node; `candidate_evaluation` omits its `timestamp` when it has none.

use crate::fields::{Fields, ModelError};
use crate::models::message::MessageType;
use crate::models::WireModel;
use crate::value::{Map, Value};

/// How a field value is written back: `None` means "no value".
trait ToWire {
    fn to_wire(&self) -> Option<Value>;
}

impl ToWire for String {
    fn to_wire(&self) -> Option<Value> {
        Some(Value::Str(self.clone()))
    }
}
impl ToWire for f64 {
    fn to_wire(&self) -> Option<Value> {
        Some(Value::Float(*self))
    }
}
impl ToWire for i64 {
    fn to_wire(&self) -> Option<Value> {
        Some(Value::Int(*self))
    }
}
impl ToWire for bool {
    fn to_wire(&self) -> Option<Value> {
        Some(Value::Bool(*self))
    }
}
impl ToWire for Map {
    fn to_wire(&self) -> Option<Value> {
        Some(Value::Object(self.clone()))
    }
}
impl ToWire for Vec<String> {
    fn to_wire(&self) -> Option<Value> {
        Some(Value::Array(
            self.iter().map(|s| Value::Str(s.clone())).collect(),
        ))
    }
}
impl ToWire for Vec<Value> {
    fn to_wire(&self) -> Option<Value> {
        Some(Value::Array(self.clone()))
    }
}
impl<T: ToWire> ToWire for Option<T> {
    fn to_wire(&self) -> Option<Value> {
        self.as_ref().and_then(ToWire::to_wire)
    }
}

/// Writes a field; with no value, writes `null` (pydantic models) or omits the key (dicts).
fn put(m: &mut Map, key: &str, v: Option<Value>, write_null: bool) {
    match v {
        Some(v) => {
            m.insert(key.to_owned(), v);
        }
        None if write_null => {
            m.insert(key.to_owned(), Value::Null);
        }
        None => {}
    }
}

/// The keys of `map` outside `declared`, in their order.
fn extra_keys(map: &Map, declared: &[&str]) -> Map {
    map.iter()
        .filter(|(k, _)| !declared.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

macro_rules! payload_model {
    (
        $(#[$meta:meta])*
        $name:ident ($mode:ident) {
            $(
                #[doc = $fdoc:literal]
                $field:ident : $ty:ty = $reader:ident $( ( $($arg:expr),* ) )?
            ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq)]
        pub struct $name {
            $(
                #[doc = $fdoc]
                pub $field: $ty,
            )*
            /// Keys the model does not declare (transport metadata, newer fields), kept as
            /// received.
            pub extra: Map,
        }

        impl $name {
            /// The declared keys, in wire order.
            pub const FIELDS: &'static [&'static str] = &[$(stringify!($field)),*];

            /// Reads the payload from its object.
            pub fn from_map(map: &Map) -> Result<Self, ModelError> {
                let f = Fields::of_map(stringify!($name), map);
                Ok($name {
                    $( $field: f.$reader(stringify!($field) $($(, $arg)*)?)?, )*
                    extra: extra_keys(map, Self::FIELDS),
                })
            }

            /// The payload object: declared fields in wire order, then the extra keys.
            pub fn to_map(&self) -> Map {
                let write_null = payload_model!(@mode $mode);
                let mut m = Map::with_capacity(Self::FIELDS.len() + self.extra.len());
                $( put(&mut m, stringify!($field), self.$field.to_wire(), write_null); )*
                for (k, v) in &self.extra {
                    m.entry(k.clone()).or_insert_with(|| v.clone());
                }
                m
            }
        }

        impl WireModel for $name {
            fn from_value(v: &Value) -> Result<Self, ModelError> {
                match v {
                    Value::Object(m) => Self::from_map(m),
                    other => Err(ModelError::NotAnObject {
                        model: stringify!($name),
                        got: other.type_name(),
                    }),
                }
            }

            fn to_value(&self) -> Value {
                Value::Object(self.to_map())
            }
        }
    };
    (@mode pydantic) => { true };
    (@mode dict) => { false };
}

payload_model! {
    /// `optimae_commit`: an optimizer commits to a solution without revealing it.
    OptimaeCommit (pydantic) {
        /// `sha256_hex(CJSON(parameters) + ":" + nonce)`.
        commitment_hash: String = str,
        /// The domain.
        domain_id: String = str,
    }
}

payload_model! {
    /// `optimae_reveal`: the solution behind an earlier commitment (the optimizer is the
    /// message's sender).
    OptimaeReveal (pydantic) {
        /// The commitment being opened.
        commitment_hash: String = str,
        /// The domain.
        domain_id: String = str,
        /// The optimizer's name for the optimae.
        optimae_id: String = str,
        /// The solution.
        parameters: Map = map_req,
        /// The performance the optimizer claims.
        reported_performance: f64 = f64,
        /// The commitment's nonce.
        nonce: String = str,
        /// The optimizer's extra metrics.
        champion_metrics: Option<Map> = opt_map,
    }
}

payload_model! {
    /// `optimae_announcement` (legacy): a solution announced without commit-reveal.
    OptimaeAnnouncement (pydantic) {
        /// The domain.
        domain_id: String = str,
        /// The optimizer's name for the optimae.
        optimae_id: String = str,
        /// The solution.
        parameters: Map = map_req,
        /// The performance the optimizer claims.
        reported_performance: f64 = f64,
        /// The domain's best before this one.
        previous_best_performance: Option<f64> = opt_f64,
    }
}

payload_model! {
    /// `task_created`: a task replicated to the domain's evaluators (no `created_at`, so
    /// receivers cannot recompute `task_id`).
    TaskCreated (pydantic) {
        /// The task's id.
        task_id: String = str,
        /// The task type's wire value (a free string in the reference's payload).
        task_type: String = str,
        /// The domain.
        domain_id: String = str,
        /// The peer that asked.
        requester_id: String = str,
        /// The task's input.
        parameters: Map = map_or_empty,
        /// The optimae being verified.
        optimae_id: Option<String> = opt_str,
        /// The performance the optimizer reported.
        reported_performance: Option<f64> = opt_f64,
        /// The optimizer's metrics.
        metric_evidence: Map = map_or_empty,
        /// Queue priority, lower first.
        priority: i64 = i64_or(10),
    }
}

payload_model! {
    /// `task_claimed`: an evaluator took a task.
    TaskClaimed (pydantic) {
        /// The task.
        task_id: String = str,
        /// The evaluator.
        evaluator_id: String = str,
        /// The domain.
        domain_id: String = str,
    }
}

payload_model! {
    /// `task_completed`: an evaluator's result (its quorum vote in the reference).
    TaskCompleted (pydantic) {
        /// The task.
        task_id: String = str,
        /// The evaluator.
        evaluator_id: String = str,
        /// The domain.
        domain_id: String = str,
        /// The measured performance.
        verified_performance: Option<f64> = opt_f64,
        /// Free-form result.
        result: Option<Map> = opt_map,
        /// The optimae verified.
        optimae_id: Option<String> = opt_str,
    }
}

payload_model! {
    /// `block_announcement`: a header summary; receivers fetch the block itself.
    BlockAnnouncement (pydantic) {
        /// The block's height.
        block_index: i64 = i64,
        /// The block's hash.
        block_hash: String = str,
        /// Its parent's hash.
        previous_hash: String = str,
        /// The peer that made it.
        generator_id: String = str,
        /// How many transactions it carries.
        transaction_count: i64 = i64,
        /// Sum of its weighted increments.
        weighted_performance_sum: f64 = f64,
        /// The threshold it met.
        threshold: f64 = f64,
    }
}

payload_model! {
    /// `chain_status` (also the body of `GET /chain/status`).
    ChainStatus (pydantic) {
        /// Number of blocks (tip index + 1).
        chain_height: i64 = i64,
        /// The tip's hash.
        tip_hash: String = str,
        /// The tip's index.
        tip_index: i64 = i64,
        /// Height below which blocks are final.
        finalized_height: i64 = i64_or(0),
    }
}

payload_model! {
    /// `block_request`: blocks `from_index..=to_index`.
    BlockRequest (pydantic) {
        /// First index.
        from_index: i64 = i64,
        /// Last index (inclusive).
        to_index: i64 = i64,
        /// Correlates the response.
        request_id: String = str_or(""),
    }
}

payload_model! {
    /// `block_response` (also the body of `GET /chain/blocks`).
    BlockResponse (pydantic) {
        /// The request answered.
        request_id: String = str_or(""),
        /// The blocks as wire objects; see [`BlockResponse::parse_blocks`].
        blocks: Vec<Value> = list_or_empty,
        /// Whether more blocks follow.
        has_more: bool = bool_or(false),
    }
}

impl BlockResponse {
    /// The blocks, parsed.
    pub fn parse_blocks(&self) -> Result<Vec<crate::models::Block>, ModelError> {
        self.blocks
            .iter()
            .map(crate::models::Block::from_value)
            .collect()
    }
}

payload_model! {
    /// `peer_discovery`: a peer's addresses, domains and roles.
    PeerDiscovery (pydantic) {
        /// The peer.
        peer_id: String = str,
        /// `host:port` endpoints.
        addresses: Vec<String> = str_list_or_empty,
        /// Domains it serves.
        domains: Vec<String> = str_list_or_empty,
        /// `optimizer`, `evaluator`, `node`.
        roles: Vec<String> = str_list_or_empty,
    }
}

payload_model! {
    /// `champion_request`: ask a peer for its best solution in a domain.
    ChampionRequest (pydantic) {
        /// The domain.
        domain_id: String = str,
        /// Correlates the response.
        request_id: String = str_or(""),
    }
}

payload_model! {
    /// `champion_response`: a peer's best solution, if it has one.
    ChampionResponse (pydantic) {
        /// The domain.
        domain_id: String = str,
        /// The request answered.
        request_id: String = str_or(""),
        /// The champion's parameters.
        parameters: Option<Map> = opt_map,
        /// The champion's performance.
        performance: Option<f64> = opt_f64,
        /// Whether there is a champion.
        has_champion: bool = bool_or(false),
        /// The champion's extra metrics.
        champion_metrics: Option<Map> = opt_map,
    }
}

payload_model! {
    /// `stage_complete`: an optimizer finished a stage of a staged domain.
    StageComplete (pydantic) {
        /// The domain.
        domain_id: String = str,
        /// The stage finished (1-based).
        stage: i64 = i64,
        /// How many stages there are.
        total_stages: i64 = i64,
        /// The stage champion's parameters.
        champion_params: Option<Map> = opt_map,
        /// The stage champion's fitness.
        champion_fitness: Option<f64> = opt_f64,
        /// The stage champion's metrics.
        champion_metrics: Option<Map> = opt_map,
    }
}

payload_model! {
    /// `candidate_evaluation`: one evaluated candidate of the shared population.
    CandidateEvaluation (dict) {
        /// Dedupe id (a transaction id, or `claim:…`/`release:…`/`result:…`).
        tx_id: String = str,
        /// The domain.
        domain_id: String = str,
        /// The evaluating peer.
        peer_id: String = str,
        /// The candidate and its result, free-form.
        candidate_data: Map = map_req,
        /// ISO time of the evaluation, when given.
        timestamp: Option<String> = opt_str,
    }
}

payload_model! {
    /// `evaluation_request` (legacy): ask for an inference.
    EvaluationRequest (pydantic) {
        /// The domain.
        domain_id: String = str,
        /// The input.
        input_data: Map = map_req,
        /// Correlates the response.
        request_id: String = str,
    }
}

payload_model! {
    /// `evaluation_response` (legacy): an inference result.
    EvaluationResponse (pydantic) {
        /// The request answered.
        request_id: String = str,
        /// The domain.
        domain_id: String = str,
        /// The result.
        result: Map = map_req,
        /// The optimae that produced it.
        optimae_id: String = str,
    }
}

macro_rules! payload_enum {
    ($($variant:ident),* $(,)?) => {
        /// The typed payload of a message, one variant per [`MessageType`].
        #[derive(Debug, Clone, PartialEq)]
        pub enum Payload {
            $(
                #[doc = concat!("See [`", stringify!($variant), "`].")]
                $variant($variant),
            )*
        }

        impl Payload {
            /// Reads the payload object of a message of type `msg_type`.
            pub fn parse(msg_type: MessageType, map: &Map) -> Result<Self, ModelError> {
                match msg_type {
                    $( MessageType::$variant => $variant::from_map(map).map(Payload::$variant), )*
                }
            }

            /// The message type this payload travels under.
            pub fn msg_type(&self) -> MessageType {
                match self {
                    $( Payload::$variant(_) => MessageType::$variant, )*
                }
            }

            /// The payload object.
            pub fn to_map(&self) -> Map {
                match self {
                    $( Payload::$variant(p) => p.to_map(), )*
                }
            }
        }

        $(
            impl From<$variant> for Payload {
                fn from(p: $variant) -> Self {
                    Payload::$variant(p)
                }
            }
        )*
    };
}

payload_enum!(
    OptimaeCommit,
    OptimaeReveal,
    OptimaeAnnouncement,
    TaskCreated,
    TaskClaimed,
    TaskCompleted,
    BlockAnnouncement,
    ChainStatus,
    BlockRequest,
    BlockResponse,
    PeerDiscovery,
    ChampionRequest,
    ChampionResponse,
    StageComplete,
    CandidateEvaluation,
    EvaluationRequest,
    EvaluationResponse,
);
