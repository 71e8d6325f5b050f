//! The one error type of every plugin call.

use std::fmt;

/// The three kinds of plugin a domain names, as the node config's keys name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PluginKind {
    /// `optimization_plugin`: proposes parameters.
    Optimizer,
    /// `inference_plugin`: scores parameters on synthetic data.
    Evaluator,
    /// `synthetic_data_plugin`: generates seeded evaluation data.
    SyntheticData,
}

impl PluginKind {
    /// The domain-config key that names a plugin of this kind.
    pub fn config_key(self) -> &'static str {
        match self {
            PluginKind::Optimizer => "optimization_plugin",
            PluginKind::Evaluator => "inference_plugin",
            PluginKind::SyntheticData => "synthetic_data_plugin",
        }
    }
}

impl fmt::Display for PluginKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.config_key())
    }
}

/// Why a plugin could not be built or a plugin call failed.
///
/// Every variant is plain data, so that an external-process plugin can report the same
/// errors over its pipe.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PluginError {
    /// No plugin of this kind is registered under the name.
    #[error("unknown {kind} `{name}`; known names: {known}")]
    UnknownPlugin {
        /// Which config key named it.
        kind: PluginKind,
        /// The name asked for.
        name: String,
        /// The registered names of that kind, comma-separated (or `none`).
        known: String,
    },
    /// A key of the plugin's config is missing, has the wrong type, or is out of range.
    #[error("plugin config key `{key}`: {reason}")]
    Config {
        /// The key, with a dotted path for nested keys (`param_bounds.x`).
        key: String,
        /// What is wrong and what is expected.
        reason: String,
    },
    /// Parameters do not have the domain's shape, are not finite, or leave its bounds.
    #[error("invalid parameters: {0}")]
    InvalidParameters(String),
    /// A performance that is not a finite number.
    #[error("performance {0} is not a finite number")]
    NonFinitePerformance(f64),
    /// Synthetic data that does not fit the evaluator, or whose hash does not match it.
    #[error("invalid synthetic data: {0}")]
    InvalidData(String),
    /// An external plugin did not answer a call within its wall-time limit. It was killed
    /// and starts afresh on the next call.
    #[error(
        "plugin `{plugin}` did not answer `{method}` within {limit_ms} ms; it was killed and \
         restarts on the next call (raise `plugin_timeout_seconds` or the domain's \
         `resource_limits.max_training_seconds` if it needs longer)"
    )]
    Timeout {
        /// The plugin's label (`python:module:Class`).
        plugin: String,
        /// The protocol method that timed out.
        method: String,
        /// The limit, in milliseconds.
        limit_ms: u64,
    },
    /// A client's inference input does not fit the domain's model (missing, extra or
    /// non-finite features, the wrong shape, too large).
    #[error("invalid inference input: {0}")]
    InvalidInput(String),
    /// The domain's plugin answers no inference requests.
    #[error("the domain's inference plugin serves no inference: {0}")]
    NoInference(String),
    /// A plugin's inference result is not acceptable output (non-finite numbers, too
    /// large, not JSON).
    #[error("invalid inference output: {0}")]
    InvalidOutput(String),
    /// An external plugin's process could not be started or exited during a call. It is
    /// started afresh on the next call.
    #[error("plugin `{plugin}` crashed: {reason}")]
    Crashed {
        /// The plugin's label.
        plugin: String,
        /// How it ended (exit status or signal, the tail of its stderr) or why it could not
        /// start.
        reason: String,
    },
    /// An external plugin wrote something that is not a valid protocol message (garbage,
    /// a wrong request id or version, an over-long line, a malformed result). It was killed
    /// and starts afresh on the next call.
    #[error("plugin `{plugin}` broke the plugin protocol: {reason}")]
    Protocol {
        /// The plugin's label.
        plugin: String,
        /// What was wrong with its output.
        reason: String,
    },
    /// An external plugin answered a call with an error (a Python exception, say). The
    /// process stays up.
    #[error("plugin `{plugin}` failed `{method}`: {error_type}: {message}")]
    Failed {
        /// The plugin's label.
        plugin: String,
        /// The protocol method that failed.
        method: String,
        /// The error's type as the plugin names it (`ValueError`, `MemoryError`, …).
        error_type: String,
        /// The error's message.
        message: String,
    },
}

impl PluginError {
    /// A [`PluginError::Config`] for `key`.
    pub fn config(key: impl Into<String>, reason: impl Into<String>) -> Self {
        PluginError::Config {
            key: key.into(),
            reason: reason.into(),
        }
    }
}
