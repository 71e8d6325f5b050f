//! Plugins that run in another process and speak the DOIN plugin protocol over their
//! stdin/stdout: Python plugins written against the reference's interface (through the
//! SDK in `python/doin-plugin-sdk`), or any program that speaks the protocol.
//!
//! # Naming an external plugin in a domain config
//!
//! ```json
//! "optimization_plugin": "python:quadratic_plugin:QuadraticOptimizer",
//! "inference_plugin": "python:simple_quadratic",
//! "optimization_config": {"plugin_command": "python3", "target": [1, 2, 3]}
//! ```
//!
//! A name `python:<module>:<Class>` is a class found by import; `python:<name>` is the
//! plugin registered under entry point `<name>` in the reference's group for its kind
//! (`doin.optimization`, `doin.inference`, `doin.synthetic_data`). The node runs
//! `<plugin_command> -m doin_plugin_sdk serve --kind <kind> --target <module:Class|name>`.
//! These keys of the plugin's config steer the process and are not passed to the plugin
//! ([`PROCESS_KEYS`]):
//!
//! | key | meaning | default |
//! |---|---|---|
//! | `plugin_command` | the interpreter: a program, or `[program, args…]` | `python3` |
//! | `plugin_env` | `{NAME: value}` added to the child's environment (`PYTHONPATH`, …) | none |
//! | `plugin_timeout_seconds` | wall time per call (and for start-up + `configure`) | 60 |
//! | `plugin_memory_mb` | address-space limit of the child; 0 = none | 4096 |
//! | `plugin_max_line_bytes` | longest line accepted from the child | 16 MiB |
//!
//! The node fills `plugin_timeout_seconds` and `plugin_memory_mb` from the domain's
//! `resource_limits` (`max_training_seconds`, `max_memory_mb`) when the config has none.
//!
//! # The protocol, version 1
//!
//! One JSON object per line, UTF-8, in both directions; one request in flight at a time.
//!
//! 1. On start the plugin writes a hello line:
//!    `{"v":1,"hello":"doin-plugin","kind":"optimizer"|"inference"|"synthetic_data",…}`
//!    (extra fields such as `"sdk":"0.1.0"` are allowed). A plugin announcing another
//!    version or kind is refused.
//! 2. The node writes requests `{"v":1,"id":N,"method":M,"params":{…}}`, ids counting up
//!    from 1, and the plugin answers each with `{"v":1,"id":N,"result":R}` or
//!    `{"v":1,"id":N,"error":{"type":"ValueError","message":"…"}}`:
//!
//! | method | params | result |
//! |---|---|---|
//! | `configure` | `{"config":{…}}` (+ `"rng_seed":u32` for optimizers) | `{"metadata":{"performance_metric":…,"higher_is_better":…}\|null}` |
//! | `optimize` | `{"current_best_params":{…}\|null,"current_best_performance":f\|null}` | `{"params":{…},"performance":f}` |
//! | `evaluate` | `{"parameters":{…},"data":…}` | `{"performance":f}` |
//! | `generate` | `{"seed":u32}` | `{"data":…}` |
//! | `infer` | `{"parameters":{…},"input":…\|null}` | `{"output":…}` |
//!
//! Seeds are sent as [`plugin_seed`] folds them, into `0..2^32`: the reference's plugins
//! hand them to NumPy (`np.random.seed`), which refuses anything larger.
//!
//! `infer` is asked of `inference` plugins only (inference requests, see
//! [`crate::inference`]); its output must be finite JSON (non-finite numbers are refused)
//! within the inference output limit. `configure` is sent once after every start, before
//! any other request. JSON has no NaN:
//! a plugin reports a non-finite performance as the string `"NaN"`, `"Infinity"` or
//! `"-Infinity"`, which the node refuses as [`PluginError::NonFinitePerformance`].
//! The plugin exits when its stdin closes.
//!
//! # What the node enforces
//!
//! Output is checked like peer input ([`crate::validate`] on top of the protocol checks).
//!
//! * A call that does not answer within `plugin_timeout_seconds` is a
//!   [`PluginError::Timeout`]; the process is killed (SIGKILL).
//! * A process that exits or cannot be started is [`PluginError::Crashed`], with its exit
//!   status and the last lines of its stderr.
//! * A line that is not a JSON object, answers another id, has another version, exceeds
//!   `plugin_max_line_bytes` or is not UTF-8 is [`PluginError::Protocol`]; the process is
//!   killed. So is a result of the wrong shape, but the process is kept.
//! * An error reply is [`PluginError::Failed`]; the process is kept, except after a
//!   `MemoryError`, whose heap is not to be trusted (the SDK exits by itself after one).
//! * Memory: on Linux the child runs under util-linux `prlimit --as=BYTES -- <command>`,
//!   which sets `RLIMIT_AS` on itself and execs the plugin (the workspace forbids the
//!   `unsafe` an in-process `setrlimit` before exec would need). An allocation past the
//!   limit fails inside the plugin: Python raises `MemoryError`, which the SDK reports.
//!
//! A killed or crashed process is started again (hello, `configure`) on the next call, so
//! a failed call is one failed round, and the optimizer loop carries on with the next.
//! An optimizer loses its in-process state on restart; the node passes the best known
//! candidate into every `optimize`, so it resumes from there.

mod adapters;
mod process;
pub mod protocol;

use std::time::Duration;

use doin_primitives::{Map, Value};

pub use adapters::{ExternalEvaluator, ExternalGenerator, ExternalOptimizer, DEFAULT_METRIC};

use crate::config::{optional_f64, optional_u64};
use crate::error::{PluginError, PluginKind};

/// The prefix of plugin names served by the Python SDK.
pub const PYTHON_PREFIX: &str = "python:";
/// The interpreter when `plugin_command` is not set.
pub const DEFAULT_PLUGIN_COMMAND: &str = "python3";
/// The wall-time limit per call when `plugin_timeout_seconds` is not set.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
/// The memory limit when `plugin_memory_mb` is not set.
pub const DEFAULT_MEMORY_MB: u64 = 4096;
/// The longest accepted line when `plugin_max_line_bytes` is not set.
pub const DEFAULT_MAX_LINE_BYTES: usize = 16 << 20;
/// The config keys that steer the plugin process; they are not sent to the plugin.
pub const PROCESS_KEYS: [&str; 5] = [
    "plugin_command",
    "plugin_env",
    "plugin_timeout_seconds",
    "plugin_memory_mb",
    "plugin_max_line_bytes",
];

/// The limits the node enforces on a plugin process.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    /// Wall time per call.
    pub call_timeout: Duration,
    /// `RLIMIT_AS` of the child, in bytes; `None` = no limit.
    pub memory_bytes: Option<u64>,
    /// The longest line accepted from the child, in bytes.
    pub max_line_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            call_timeout: DEFAULT_TIMEOUT,
            memory_bytes: Some(DEFAULT_MEMORY_MB << 20),
            max_line_bytes: DEFAULT_MAX_LINE_BYTES,
        }
    }
}

impl Limits {
    /// The limits a plugin config sets (`plugin_timeout_seconds`, `plugin_memory_mb`,
    /// `plugin_max_line_bytes`), defaults elsewhere.
    pub fn from_config(config: &Map) -> Result<Self, PluginError> {
        let mut limits = Limits::default();
        if let Some(secs) = optional_f64(config, "plugin_timeout_seconds")? {
            if secs <= 0.0 || secs > 1e7 {
                return Err(PluginError::config(
                    "plugin_timeout_seconds",
                    format!("expected seconds in (0, 1e7], got {secs}"),
                ));
            }
            limits.call_timeout = Duration::from_secs_f64(secs);
        }
        if let Some(mb) = optional_u64(config, "plugin_memory_mb")? {
            limits.memory_bytes = match mb {
                0 => None,
                mb => Some(mb.checked_mul(1 << 20).ok_or_else(|| {
                    PluginError::config("plugin_memory_mb", "is too large; use 0 for no limit")
                })?),
            };
        }
        if let Some(bytes) = optional_u64(config, "plugin_max_line_bytes")? {
            limits.max_line_bytes = usize::try_from(bytes)
                .ok()
                .filter(|b| *b >= 1024)
                .ok_or_else(|| {
                    PluginError::config("plugin_max_line_bytes", "expected at least 1024")
                })?;
        }
        Ok(limits)
    }
}

/// How to start an external plugin.
#[derive(Debug, Clone, PartialEq)]
pub struct ExternalCommand {
    /// The program.
    pub program: String,
    /// Its arguments.
    pub args: Vec<String>,
    /// Variables added to its environment.
    pub env: Vec<(String, String)>,
    /// What the node enforces on it.
    pub limits: Limits,
    /// How errors and logs name the plugin (`python:module:Class`).
    pub label: String,
}

impl ExternalCommand {
    /// Runs `program args…` with default limits.
    pub fn new(label: &str, program: &str, args: &[&str]) -> Self {
        ExternalCommand {
            program: program.to_owned(),
            args: args.iter().map(|a| (*a).to_owned()).collect(),
            env: Vec::new(),
            limits: Limits::default(),
            label: label.to_owned(),
        }
    }

    /// The SDK serving `name` (`python:module:Class` or `python:entry_point`) as a plugin of
    /// `kind`, with the interpreter, environment and limits the config sets.
    pub fn python_sdk(kind: PluginKind, name: &str, config: &Map) -> Result<Self, PluginError> {
        let target = name
            .strip_prefix(PYTHON_PREFIX)
            .filter(|t| !t.is_empty() && !t.starts_with(':') && !t.ends_with(':'))
            .ok_or_else(|| {
                PluginError::config(
                    kind.config_key(),
                    format!(
                        "`{name}`: expected `python:<module>:<Class>` or `python:<entry point>`"
                    ),
                )
            })?;
        // `interpreter` never returns an empty list.
        let mut words = interpreter(config)?.into_iter();
        let program = words.next().unwrap_or_default();
        let mut args: Vec<String> = words.collect();
        args.extend(
            [
                "-m",
                "doin_plugin_sdk",
                "serve",
                "--kind",
                protocol::kind_name(kind),
                "--target",
                target,
            ]
            .map(str::to_owned),
        );
        Ok(ExternalCommand {
            program,
            args,
            env: environment(config)?,
            limits: Limits::from_config(config)?,
            label: name.to_owned(),
        })
    }
}

/// A node's 64-bit seed as an external plugin receives it: the two 32-bit halves XORed
/// together, so that it fits NumPy's seed range (`0..2^32`, which `np.random.seed` enforces)
/// while staying a deterministic function of the whole seed. Seeds already in that range
/// (the quorum's synthetic-data seeds) pass unchanged.
pub fn plugin_seed(seed: u64) -> u32 {
    // Truncation is the point: the high half is folded into the low one.
    ((seed >> 32) ^ (seed & 0xFFFF_FFFF)) as u32
}

/// Whether a plugin name names an external (SDK-served) plugin.
pub fn is_external_name(name: &str) -> bool {
    name.starts_with(PYTHON_PREFIX)
}

/// Builds the external optimizer a `python:` name names.
pub fn optimizer(
    name: &str,
    config: &Map,
    rng_seed: u64,
) -> Result<ExternalOptimizer, PluginError> {
    let command = ExternalCommand::python_sdk(PluginKind::Optimizer, name, config)?;
    ExternalOptimizer::spawn(command, config, rng_seed)
}

/// Builds the external evaluator a `python:` name names.
pub fn evaluator(name: &str, config: &Map) -> Result<ExternalEvaluator, PluginError> {
    let command = ExternalCommand::python_sdk(PluginKind::Evaluator, name, config)?;
    ExternalEvaluator::spawn(command, config)
}

/// Builds the external synthetic-data generator a `python:` name names.
pub fn generator(name: &str, config: &Map) -> Result<ExternalGenerator, PluginError> {
    let command = ExternalCommand::python_sdk(PluginKind::SyntheticData, name, config)?;
    ExternalGenerator::spawn(command, config)
}

fn interpreter(config: &Map) -> Result<Vec<String>, PluginError> {
    const KEY: &str = "plugin_command";
    let words = match config.get(KEY) {
        None | Some(Value::Null) => vec![DEFAULT_PLUGIN_COMMAND.to_owned()],
        Some(Value::Str(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| PluginError::config(KEY, "expected an array of strings"))?,
        Some(other) => {
            return Err(PluginError::config(
                KEY,
                format!(
                    "expected a program or [program, args…], got {}",
                    other.type_name()
                ),
            ))
        }
    };
    if words.first().is_none_or(|p| p.is_empty()) {
        return Err(PluginError::config(KEY, "names no program"));
    }
    Ok(words)
}

fn environment(config: &Map) -> Result<Vec<(String, String)>, PluginError> {
    const KEY: &str = "plugin_env";
    match config.get(KEY) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Object(m)) => m
            .iter()
            .map(|(k, v)| match v {
                Value::Str(s) => Ok((k.clone(), s.clone())),
                _ => Err(PluginError::config(
                    format!("{KEY}.{k}"),
                    "expected a string",
                )),
            })
            .collect(),
        Some(other) => Err(PluginError::config(
            KEY,
            format!(
                "expected an object {{NAME: value}}, got {}",
                other.type_name()
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use doin_primitives::map;

    #[test]
    fn python_names_become_sdk_commands() {
        let cfg = map! {
            "plugin_command" => vec![Value::from("python3"), Value::from("-X"), Value::from("dev")],
            "plugin_env" => map! { "PYTHONPATH" => "/opt/sdk" },
            "plugin_timeout_seconds" => 2.5,
            "plugin_memory_mb" => 0u64,
        };
        let c =
            ExternalCommand::python_sdk(PluginKind::Evaluator, "python:m.sub:Cls", &cfg).unwrap();
        assert_eq!(c.program, "python3");
        assert_eq!(
            c.args,
            [
                "-X",
                "dev",
                "-m",
                "doin_plugin_sdk",
                "serve",
                "--kind",
                "inference",
                "--target",
                "m.sub:Cls"
            ]
        );
        assert_eq!(c.env, [("PYTHONPATH".to_owned(), "/opt/sdk".to_owned())]);
        assert_eq!(c.limits.call_timeout, Duration::from_millis(2500));
        assert_eq!(c.limits.memory_bytes, None);
        assert_eq!(c.label, "python:m.sub:Cls");

        let d =
            ExternalCommand::python_sdk(PluginKind::Optimizer, "python:quad", &Map::new()).unwrap();
        assert_eq!(d.program, DEFAULT_PLUGIN_COMMAND);
        assert_eq!(d.limits, Limits::default());
        assert_eq!(d.args.last().map(String::as_str), Some("quad"));
    }

    #[test]
    fn plugin_seeds_fit_numpy_and_keep_small_seeds() {
        assert_eq!(plugin_seed(0), 0);
        assert_eq!(plugin_seed(42), 42);
        assert_eq!(plugin_seed(u64::from(u32::MAX)), u32::MAX);
        assert_eq!(plugin_seed(u64::MAX), 0);
        assert_eq!(plugin_seed(0x1234_5678_0000_0001), 0x1234_5679);
        // Different node seeds stay different seeds.
        assert_ne!(plugin_seed(1 << 32), plugin_seed(2 << 32));
    }

    #[test]
    fn bad_names_and_keys_are_config_errors() {
        for name in ["python:", "python::C", "python:m:"] {
            assert!(matches!(
                ExternalCommand::python_sdk(PluginKind::Optimizer, name, &Map::new()),
                Err(PluginError::Config { .. })
            ));
        }
        for (key, value) in [
            ("plugin_command", Value::Int(3)),
            ("plugin_command", Value::Array(vec![])),
            ("plugin_env", map! { "A" => 1i64 }.into()),
            ("plugin_timeout_seconds", Value::Float(-1.0)),
            ("plugin_max_line_bytes", Value::Int(10)),
        ] {
            let cfg = map! { key => value };
            let err =
                ExternalCommand::python_sdk(PluginKind::Optimizer, "python:m:C", &cfg).unwrap_err();
            assert!(
                matches!(&err, PluginError::Config { key: k, .. } if k.starts_with(key)),
                "{err}"
            );
        }
    }
}
