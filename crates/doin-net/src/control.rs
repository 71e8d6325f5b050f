//! GossipSub control frames on `POST /message`.
//!
//! Our frame (one per peer per heartbeat, every list optional, `sender_port` optional):
//!
//! ```json
//! {"type": "control", "sender_id": "<peer id>", "sender_port": 8470,
//!  "control": {"subscribe": ["blocks"], "unsubscribe": [],
//!              "graft": ["optimae/quadratic"], "prune": [],
//!              "ihave": [{"topic": "blocks", "ids": ["<message id>", ...]}],
//!              "iwant": ["<message id>", ...]}}
//! ```
//!
//! The reference's frames (`{"type": "control", "control": "GRAFT", "topic": "...",
//! "from": "<peer id>", "data": {...}}`) are read too: GRAFT/PRUNE become one-topic lists,
//! IHAVE/IWANT take their ids from `data.message_ids` (or `data.ids`). Reading is lenient
//! (absent lists are empty, unknown keys ignored) but bounded: a list longer than the
//! limits in [`crate::limits`] is refused with a typed error, never truncated silently.

use doin_primitives::value::{Map, Value};

use crate::limits::{
    MAX_CONTROL_TOPICS, MAX_IHAVE_IDS, MAX_IWANT_IDS, MAX_MESSAGE_ID_LEN, MAX_PEER_ID_LEN,
    MAX_TOPIC_LEN,
};
use crate::{MessageId, PeerId, Topic};

/// Why a control frame was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ControlError {
    /// The frame names no sender (`sender_id`, or the reference's `from`).
    #[error("control frame without sender_id")]
    MissingSender,
    /// A field has the wrong JSON type.
    #[error("control frame field `{0}` has the wrong type")]
    WrongType(&'static str),
    /// A list is longer than its limit.
    #[error("control frame field `{field}` has {len} entries, the limit is {max}")]
    TooMany {
        /// The list.
        field: &'static str,
        /// Entries received.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A string is empty or longer than its limit.
    #[error("control frame field `{0}` holds an empty or over-long string")]
    BadString(&'static str),
    /// The reference's `control` kind is not GRAFT, PRUNE, IHAVE or IWANT.
    #[error("unknown control kind `{0}`")]
    UnknownKind(String),
}

/// One IHAVE entry: message ids we hold for a topic.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IHave {
    /// The topic.
    pub topic: Topic,
    /// Ids in our message cache.
    pub ids: Vec<MessageId>,
}

/// The control lists of one frame.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Control {
    /// Topics the sender now subscribes to.
    pub subscribe: Vec<Topic>,
    /// Topics the sender no longer subscribes to.
    pub unsubscribe: Vec<Topic>,
    /// Topics whose mesh the sender added us to.
    pub graft: Vec<Topic>,
    /// Topics whose mesh the sender removed us from.
    pub prune: Vec<Topic>,
    /// Message ids the sender holds.
    pub ihave: Vec<IHave>,
    /// Message ids the sender asks us for.
    pub iwant: Vec<MessageId>,
}

impl Control {
    /// Whether every list is empty.
    pub fn is_empty(&self) -> bool {
        self.subscribe.is_empty()
            && self.unsubscribe.is_empty()
            && self.graft.is_empty()
            && self.prune.is_empty()
            && self.ihave.is_empty()
            && self.iwant.is_empty()
    }

    /// Appends `other`'s lists to ours (used to send one frame per peer per heartbeat).
    pub fn merge(&mut self, other: Control) {
        self.subscribe.extend(other.subscribe);
        self.unsubscribe.extend(other.unsubscribe);
        self.graft.extend(other.graft);
        self.prune.extend(other.prune);
        self.ihave.extend(other.ihave);
        self.iwant.extend(other.iwant);
    }
}

/// A control frame as it travels: who sent it, on which port it listens, and the lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControlFrame {
    /// The sending peer.
    pub sender_id: PeerId,
    /// The sender's HTTP port (so a receiver can reach it back), if given.
    pub sender_port: Option<u16>,
    /// The lists.
    pub control: Control,
}

fn str_list(
    v: Option<&Value>,
    field: &'static str,
    max: usize,
    max_len: usize,
) -> Result<Vec<String>, ControlError> {
    let Some(v) = v else { return Ok(Vec::new()) };
    if v.is_null() {
        return Ok(Vec::new());
    }
    let items = v.as_array().ok_or(ControlError::WrongType(field))?;
    if items.len() > max {
        return Err(ControlError::TooMany {
            field,
            len: items.len(),
            max,
        });
    }
    items
        .iter()
        .map(|i| {
            let s = i.as_str().ok_or(ControlError::WrongType(field))?;
            if s.is_empty() || s.len() > max_len {
                return Err(ControlError::BadString(field));
            }
            Ok(s.to_owned())
        })
        .collect()
}

fn one_str(v: Option<&Value>, field: &'static str, max_len: usize) -> Result<String, ControlError> {
    let s = v
        .and_then(Value::as_str)
        .ok_or(ControlError::WrongType(field))?;
    if s.is_empty() || s.len() > max_len {
        return Err(ControlError::BadString(field));
    }
    Ok(s.to_owned())
}

impl ControlFrame {
    /// Reads a frame from the object `Message::from_http_body` returned as
    /// `InboundBody::Control`.
    pub fn from_map(map: &Map) -> Result<Self, ControlError> {
        let sender = map
            .get("sender_id")
            .or_else(|| map.get("from"))
            .ok_or(ControlError::MissingSender)?;
        let sender_id = one_str(Some(sender), "sender_id", MAX_PEER_ID_LEN)?;
        let sender_port = match map.get("sender_port") {
            None | Some(Value::Null) => None,
            Some(v) => Some(
                v.as_i64()
                    .and_then(|p| u16::try_from(p).ok())
                    .ok_or(ControlError::WrongType("sender_port"))?,
            ),
        };
        let control = match map.get("control") {
            Some(Value::Object(c)) => Self::read_lists(c)?,
            Some(Value::Str(kind)) => Self::read_reference(kind, map)?,
            None | Some(Value::Null) => Control::default(),
            Some(_) => return Err(ControlError::WrongType("control")),
        };
        Ok(ControlFrame {
            sender_id,
            sender_port,
            control,
        })
    }

    fn read_lists(c: &Map) -> Result<Control, ControlError> {
        let topics = |f: &'static str| str_list(c.get(f), f, MAX_CONTROL_TOPICS, MAX_TOPIC_LEN);
        let mut ihave = Vec::new();
        if let Some(v) = c.get("ihave").filter(|v| !v.is_null()) {
            let entries = v.as_array().ok_or(ControlError::WrongType("ihave"))?;
            if entries.len() > MAX_CONTROL_TOPICS {
                return Err(ControlError::TooMany {
                    field: "ihave",
                    len: entries.len(),
                    max: MAX_CONTROL_TOPICS,
                });
            }
            for e in entries {
                let e = e.as_object().ok_or(ControlError::WrongType("ihave"))?;
                ihave.push(IHave {
                    topic: one_str(e.get("topic"), "ihave.topic", MAX_TOPIC_LEN)?,
                    ids: str_list(e.get("ids"), "ihave.ids", MAX_IHAVE_IDS, MAX_MESSAGE_ID_LEN)?,
                });
            }
        }
        Ok(Control {
            subscribe: topics("subscribe")?,
            unsubscribe: topics("unsubscribe")?,
            graft: topics("graft")?,
            prune: topics("prune")?,
            ihave,
            iwant: str_list(c.get("iwant"), "iwant", MAX_IWANT_IDS, MAX_MESSAGE_ID_LEN)?,
        })
    }

    fn read_reference(kind: &str, map: &Map) -> Result<Control, ControlError> {
        let topic = || one_str(map.get("topic"), "topic", MAX_TOPIC_LEN);
        let ids = |max| {
            let data = map.get("data").and_then(Value::as_object);
            let v = data.and_then(|d| d.get("message_ids").or_else(|| d.get("ids")));
            str_list(v, "data.message_ids", max, MAX_MESSAGE_ID_LEN)
        };
        let mut c = Control::default();
        match kind.to_ascii_uppercase().as_str() {
            "GRAFT" => c.graft.push(topic()?),
            "PRUNE" => c.prune.push(topic()?),
            "IHAVE" => c.ihave.push(IHave {
                topic: topic()?,
                ids: ids(MAX_IHAVE_IDS)?,
            }),
            "IWANT" => c.iwant = ids(MAX_IWANT_IDS)?,
            _ => return Err(ControlError::UnknownKind(kind.chars().take(32).collect())),
        }
        Ok(c)
    }

    /// The wire JSON of this frame.
    pub fn to_json(&self) -> serde_json::Value {
        let c = &self.control;
        let mut control = serde_json::Map::new();
        let mut put = |k: &str, v: &[String]| {
            if !v.is_empty() {
                control.insert(k.to_owned(), serde_json::json!(v));
            }
        };
        put("subscribe", &c.subscribe);
        put("unsubscribe", &c.unsubscribe);
        put("graft", &c.graft);
        put("prune", &c.prune);
        put("iwant", &c.iwant);
        if !c.ihave.is_empty() {
            let ihave: Vec<_> = c
                .ihave
                .iter()
                .map(|h| serde_json::json!({"topic": h.topic, "ids": h.ids}))
                .collect();
            control.insert("ihave".into(), serde_json::Value::Array(ihave));
        }
        let mut frame = serde_json::json!({
            "type": "control",
            "sender_id": self.sender_id,
            "control": control,
        });
        if let (Some(port), Some(obj)) = (self.sender_port, frame.as_object_mut()) {
            obj.insert("sender_port".into(), port.into());
        }
        frame
    }

    /// The wire JSON text.
    pub fn to_json_string(&self) -> String {
        self.to_json().to_string()
    }
}

/// Reads a whole `POST /message` body as a control frame (test and tooling helper).
pub fn parse_control_text(text: &str) -> Result<ControlFrame, ControlParseError> {
    match doin_primitives::models::Message::from_http_body(text)? {
        doin_primitives::models::InboundBody::Control(map) => Ok(ControlFrame::from_map(&map)?),
        doin_primitives::models::InboundBody::Message(_) => Err(ControlParseError::NotControl),
    }
}

/// Why a body could not be read as a control frame.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ControlParseError {
    /// The body is not JSON, or not a message shape.
    #[error(transparent)]
    Body(#[from] doin_primitives::ModelError),
    /// The frame is malformed.
    #[error(transparent)]
    Control(#[from] ControlError),
    /// The body is a message, not a control frame.
    #[error("expected a control frame, got a message")]
    NotControl,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> ControlFrame {
        ControlFrame {
            sender_id: "aa".into(),
            sender_port: Some(8470),
            control: Control {
                subscribe: vec!["blocks".into()],
                unsubscribe: vec![],
                graft: vec!["optimae/quadratic".into()],
                prune: vec!["tasks".into()],
                ihave: vec![IHave {
                    topic: "blocks".into(),
                    ids: vec!["ab".repeat(32)],
                }],
                iwant: vec!["cd".repeat(32)],
            },
        }
    }

    #[test]
    fn round_trips() {
        let f = sample();
        let text = f.to_json_string();
        assert_eq!(parse_control_text(&text), Ok(f));
    }

    #[test]
    fn reads_reference_frames() {
        let g = parse_control_text(
            r#"{"type": "control", "control": "GRAFT", "topic": "blocks", "from": "p", "data": {}}"#,
        );
        assert_eq!(g.map(|f| f.control.graft), Ok(vec!["blocks".to_owned()]));
        let h = parse_control_text(
            r#"{"type": "control", "control": "IHAVE", "topic": "blocks", "from": "p", "data": {"message_ids": ["x", "y"]}}"#,
        );
        assert_eq!(
            h.map(|f| f.control.ihave),
            Ok(vec![IHave {
                topic: "blocks".into(),
                ids: vec!["x".into(), "y".into()]
            }])
        );
    }

    #[test]
    fn malformed_frames_are_typed_errors() {
        let cases = [
            (r#"{"type":"control"}"#, ControlError::MissingSender),
            (
                r#"{"type":"control","sender_id":"p","control":{"graft":"blocks"}}"#,
                ControlError::WrongType("graft"),
            ),
            (
                r#"{"type":"control","sender_id":"p","control":{"graft":[""]}}"#,
                ControlError::BadString("graft"),
            ),
            (
                r#"{"type":"control","sender_id":"p","control":7}"#,
                ControlError::WrongType("control"),
            ),
            (
                r#"{"type":"control","from":"p","control":"HELLO"}"#,
                ControlError::UnknownKind("HELLO".into()),
            ),
            (
                r#"{"type":"control","sender_id":"p","sender_port":70000}"#,
                ControlError::WrongType("sender_port"),
            ),
        ];
        for (text, want) in cases {
            assert_eq!(parse_control_text(text), Err(want.into()), "{text}");
        }
        let ids: Vec<String> = (0..=MAX_IWANT_IDS).map(|i| format!("\"{i}\"")).collect();
        let text = format!(
            r#"{{"type":"control","sender_id":"p","control":{{"iwant":[{}]}}}}"#,
            ids.join(",")
        );
        assert_eq!(
            parse_control_text(&text),
            Err(ControlError::TooMany {
                field: "iwant",
                len: MAX_IWANT_IDS + 1,
                max: MAX_IWANT_IDS
            }
            .into())
        );
    }
}
