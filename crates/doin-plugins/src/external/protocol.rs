//! The messages of the external plugin protocol (version [`PROTOCOL_VERSION`]): building
//! requests and checking what a plugin writes back. Pure functions, no I/O.

use doin_primitives::json::{parse, to_wire_json};
use doin_primitives::{Map, Value};

use crate::error::PluginKind;

/// The protocol version this node speaks; a plugin announcing another one is refused.
pub const PROTOCOL_VERSION: i64 = 1;

/// What every plugin announces as the `hello` field of its first line.
pub const HELLO: &str = "doin-plugin";

/// A protocol method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// `configure(config)`, sent once after every start.
    Configure,
    /// `optimize(current_best_params, current_best_performance)`.
    Optimize,
    /// `evaluate(parameters, data)`.
    Evaluate,
    /// `generate(seed)`.
    Generate,
    /// `infer(parameters, input)`: the domain's model applied to a client's input.
    Infer,
}

impl Method {
    /// The method's name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Configure => "configure",
            Method::Optimize => "optimize",
            Method::Evaluate => "evaluate",
            Method::Generate => "generate",
            Method::Infer => "infer",
        }
    }
}

/// The plugin kind as the hello line and the SDK's `--kind` name it.
pub fn kind_name(kind: PluginKind) -> &'static str {
    match kind {
        PluginKind::Optimizer => "optimizer",
        PluginKind::Evaluator => "inference",
        PluginKind::SyntheticData => "synthetic_data",
    }
}

/// One request line (without the newline): `{"v":1,"id":N,"method":"…","params":{…}}`.
pub fn request(id: u64, method: Method, params: Map) -> String {
    let mut m = Map::new();
    m.insert("v".into(), Value::Int(PROTOCOL_VERSION));
    m.insert(
        "id".into(),
        Value::Int(i64::try_from(id).unwrap_or(i64::MAX)),
    );
    m.insert("method".into(), Value::from(method.as_str()));
    m.insert("params".into(), Value::Object(params));
    to_wire_json(&Value::Object(m))
}

/// How a plugin answered a request.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// `{"result": …}`.
    Result(Value),
    /// `{"error": {"type": …, "message": …}}`.
    Error {
        /// The error's type name.
        error_type: String,
        /// Its message.
        message: String,
    },
}

/// Checks the hello line a plugin writes first:
/// `{"v":1,"hello":"doin-plugin","kind":"optimizer",…}`.
pub fn check_hello(line: &str, kind: PluginKind) -> Result<(), String> {
    let obj = object(line)?;
    if obj.get("hello").and_then(Value::as_str) != Some(HELLO) {
        return Err(format!(
            "the first line must be a hello {{\"v\":{PROTOCOL_VERSION},\"hello\":\"{HELLO}\",…}}, \
             got {}",
            excerpt(line)
        ));
    }
    version(&obj)?;
    let want = kind_name(kind);
    match obj.get("kind").and_then(Value::as_str) {
        Some(k) if k == want => Ok(()),
        other => Err(format!(
            "serves kind {other:?}, but the node asked for `{want}`"
        )),
    }
}

/// Parses a reply line and checks its version and that it answers request `id`.
pub fn parse_reply(line: &str, id: u64) -> Result<Reply, String> {
    let obj = object(line)?;
    version(&obj)?;
    let got = obj.get("id").and_then(Value::as_i64);
    if got.and_then(|g| u64::try_from(g).ok()) != Some(id) {
        return Err(format!(
            "answered request id {} while request {id} was pending",
            got.map_or_else(|| "(missing)".to_owned(), |g| g.to_string())
        ));
    }
    match (obj.get("result"), obj.get("error")) {
        (Some(result), None) => Ok(Reply::Result(result.clone())),
        (None, Some(Value::Object(err))) => Ok(Reply::Error {
            error_type: err
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or("Error")
                .chars()
                .take(200)
                .collect(),
            message: err
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("")
                .chars()
                .take(2000)
                .collect(),
        }),
        _ => Err(format!(
            "a reply needs exactly one of `result` and an `error` object: {}",
            excerpt(line)
        )),
    }
}

/// A performance as a result carries it: a number, or the strings `NaN`, `Infinity`,
/// `-Infinity` by which a plugin reports a non-finite value (refused afterwards as
/// [`crate::PluginError::NonFinitePerformance`]).
pub fn performance(v: Option<&Value>) -> Result<f64, String> {
    match v {
        Some(Value::Int(_) | Value::Float(_) | Value::BigInt(_)) => v
            .and_then(Value::as_f64)
            .ok_or_else(|| "`performance` is not a number".to_owned()),
        Some(Value::Str(s)) if s == "NaN" => Ok(f64::NAN),
        Some(Value::Str(s)) if s == "Infinity" => Ok(f64::INFINITY),
        Some(Value::Str(s)) if s == "-Infinity" => Ok(f64::NEG_INFINITY),
        Some(other) => Err(format!(
            "`performance` must be a number, got {}",
            other.type_name()
        )),
        None => Err("the result has no `performance`".to_owned()),
    }
}

fn object(line: &str) -> Result<Map, String> {
    match parse(line) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(other) => Err(format!(
            "expected a JSON object per line, got {}: {}",
            other.type_name(),
            excerpt(line)
        )),
        Err(e) => Err(format!("{e}: {}", excerpt(line))),
    }
}

fn version(obj: &Map) -> Result<(), String> {
    match obj.get("v").and_then(Value::as_i64) {
        Some(PROTOCOL_VERSION) => Ok(()),
        Some(v) => Err(format!(
            "speaks protocol version {v}; this node speaks version {PROTOCOL_VERSION} \
             (upgrade the plugin SDK or the node)"
        )),
        None => Err("the message has no protocol version `v`".to_owned()),
    }
}

/// The start of a line, for error messages.
pub(crate) fn excerpt(line: &str) -> String {
    const MAX: usize = 120;
    if line.chars().count() <= MAX {
        format!("{line:?}")
    } else {
        let head: String = line.chars().take(MAX).collect();
        format!("{head:?}…")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use doin_primitives::map;

    #[test]
    fn request_is_one_compact_line() {
        let line = request(7, Method::Generate, map! { "seed" => 3u64 });
        assert_eq!(
            line,
            r#"{"v":1,"id":7,"method":"generate","params":{"seed":3}}"#
        );
        let nl = request(1, Method::Configure, map! { "text" => "a\nb" });
        assert!(!nl.contains('\n'), "{nl}");
    }

    #[test]
    fn hello_is_checked_for_version_and_kind() {
        let ok = r#"{"v":1,"hello":"doin-plugin","kind":"inference","sdk":"0.1.0"}"#;
        assert_eq!(check_hello(ok, PluginKind::Evaluator), Ok(()));
        assert!(check_hello(ok, PluginKind::Optimizer)
            .unwrap_err()
            .contains("optimizer"));
        let v2 = r#"{"v":2,"hello":"doin-plugin","kind":"inference"}"#;
        assert!(check_hello(v2, PluginKind::Evaluator)
            .unwrap_err()
            .contains("version 2"));
        assert!(check_hello("hello world", PluginKind::Evaluator).is_err());
    }

    #[test]
    fn replies_must_answer_the_pending_id() {
        let ok = r#"{"v":1,"id":3,"result":{"performance":-1.5}}"#;
        let Ok(Reply::Result(v)) = parse_reply(ok, 3) else {
            panic!("parses")
        };
        assert_eq!(
            performance(v.as_object().and_then(|m| m.get("performance"))),
            Ok(-1.5)
        );
        assert!(parse_reply(ok, 4).unwrap_err().contains("id 3"));
        let err = r#"{"v":1,"id":4,"error":{"type":"ValueError","message":"no target"}}"#;
        assert_eq!(
            parse_reply(err, 4),
            Ok(Reply::Error {
                error_type: "ValueError".into(),
                message: "no target".into()
            })
        );
        for bad in [
            r#"{"v":1,"id":4}"#,
            r#"{"v":1,"id":4,"result":1,"error":{}}"#,
            r#"{"id":4,"result":1}"#,
            r#"{"v":1,"id":4,"result":NaN}"#,
            "[1,2]",
            "garbage",
        ] {
            assert!(parse_reply(bad, 4).is_err(), "{bad}");
        }
    }

    #[test]
    fn performance_takes_numbers_and_named_non_finite_values() {
        assert_eq!(performance(Some(&Value::Int(-3))), Ok(-3.0));
        assert!(performance(Some(&Value::from("NaN"))).unwrap().is_nan());
        assert_eq!(
            performance(Some(&Value::from("-Infinity"))),
            Ok(f64::NEG_INFINITY)
        );
        assert!(performance(Some(&Value::from("1.0"))).is_err());
        assert!(performance(None).is_err());
    }
}
