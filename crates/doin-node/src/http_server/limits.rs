//! The HTTP server's limits (the `http_limits` config keys) and the file-descriptor
//! headroom they are fitted into.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Descriptors kept free of HTTP connections when the file limit is low: the chain, OLAP
/// and inference databases, outbound peer connections, `peers.json` saves and exports.
pub const FD_RESERVE: u64 = 128;

/// The `http_limits` config section. Every field has a default fit for a public node; a
/// duration is in seconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpLimits {
    /// Seconds a connection may take to send a request's headers, counted from when the
    /// server starts waiting for them (idle keep-alive connections included).
    pub header_read_timeout: f64,
    /// Seconds a request body may go without sending a byte.
    pub body_read_timeout: f64,
    /// Seconds a handler may take to produce its response (`408` after). Streamed
    /// bodies (the dashboard's events, exports) are not counted: they are bounded by
    /// [`HttpLimits::write_stall_timeout`] instead.
    pub request_timeout: f64,
    /// Seconds a response write may stay blocked on a client that does not read before
    /// the connection is closed.
    pub write_stall_timeout: f64,
    /// Requests handled at once; more get `503` at once instead of queueing.
    pub max_in_flight: usize,
    /// Bytes of request bodies (as declared, or the body limit when undeclared) being
    /// received at once; a request that would pass it gets `503`.
    pub max_body_bytes_in_flight: usize,
    /// Open connections; more are closed as they are accepted. Lowered at start to fit
    /// the file limit with [`FD_RESERVE`] descriptors to spare.
    pub max_connections: usize,
    /// Open connections from one address (an IPv6 /64 counts as one).
    pub max_connections_per_address: usize,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            header_read_timeout: 10.0,
            body_read_timeout: 10.0,
            request_timeout: 30.0,
            write_stall_timeout: 30.0,
            max_in_flight: 256,
            max_body_bytes_in_flight: 64 * 1024 * 1024,
            max_connections: 4096,
            max_connections_per_address: 128,
        }
    }
}

impl HttpLimits {
    /// [`HttpLimits::header_read_timeout`].
    pub fn header_read(&self) -> Duration {
        seconds(self.header_read_timeout)
    }

    /// [`HttpLimits::body_read_timeout`].
    pub fn body_read(&self) -> Duration {
        seconds(self.body_read_timeout)
    }

    /// [`HttpLimits::request_timeout`].
    pub fn request(&self) -> Duration {
        seconds(self.request_timeout)
    }

    /// [`HttpLimits::write_stall_timeout`].
    pub fn write_stall(&self) -> Duration {
        seconds(self.write_stall_timeout)
    }

    /// Checks the values, naming the key to fix.
    pub fn validate(&self) -> Result<(), String> {
        for (key, v) in [
            ("header_read_timeout", self.header_read_timeout),
            ("body_read_timeout", self.body_read_timeout),
            ("request_timeout", self.request_timeout),
            ("write_stall_timeout", self.write_stall_timeout),
        ] {
            if !(v.is_finite() && v > 0.0 && v <= 86_400.0) {
                return Err(format!(
                    "http_limits.{key} must be seconds in (0, 86400], got {v}"
                ));
            }
        }
        for (key, v) in [
            ("max_in_flight", self.max_in_flight),
            ("max_body_bytes_in_flight", self.max_body_bytes_in_flight),
            ("max_connections", self.max_connections),
            (
                "max_connections_per_address",
                self.max_connections_per_address,
            ),
        ] {
            if v == 0 {
                return Err(format!("http_limits.{key} must be at least 1"));
            }
        }
        Ok(())
    }

    /// The connection cap that fits a soft file limit of `fd_limit` descriptors with
    /// [`FD_RESERVE`] (or a quarter of the limit, if more) left over.
    pub fn connections_within(&self, fd_limit: u64) -> usize {
        let reserve = FD_RESERVE.max(fd_limit / 4);
        let room = usize::try_from(fd_limit.saturating_sub(reserve)).unwrap_or(usize::MAX);
        self.max_connections.min(room.max(1))
    }
}

fn seconds(s: f64) -> Duration {
    Duration::try_from_secs_f64(s).unwrap_or(Duration::from_secs(1))
}

/// Raises the soft file-descriptor limit to the hard one; returns the soft limit now in
/// force (`u64::MAX` when unlimited or unknown).
pub fn raise_fd_limit() -> u64 {
    use rustix::process::{getrlimit, setrlimit, Resource};
    let mut limit = getrlimit(Resource::Nofile);
    if limit.current != limit.maximum {
        let raised = rustix::process::Rlimit {
            current: limit.maximum,
            maximum: limit.maximum,
        };
        match setrlimit(Resource::Nofile, raised) {
            Ok(()) => limit = raised,
            Err(e) => tracing::warn!("could not raise the file limit to its hard limit: {e}"),
        }
    }
    limit.current.unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_connection_cap_leaves_descriptors_for_the_node() {
        let l = HttpLimits::default();
        assert_eq!(l.connections_within(1024), 768);
        assert_eq!(l.connections_within(256), 128);
        assert_eq!(l.connections_within(u64::MAX), l.max_connections);
        assert_eq!(l.connections_within(10), 1);
    }

    #[test]
    fn bad_values_name_their_key() {
        let l = HttpLimits {
            request_timeout: 0.0,
            ..HttpLimits::default()
        };
        assert!(l.validate().unwrap_err().contains("request_timeout"));
        let l = HttpLimits {
            max_connections_per_address: 0,
            ..HttpLimits::default()
        };
        assert!(l
            .validate()
            .unwrap_err()
            .contains("max_connections_per_address"));
        assert!(HttpLimits::default().validate().is_ok());
    }

    #[test]
    fn the_soft_file_limit_is_raised_to_the_hard_one() {
        let soft = raise_fd_limit();
        let now = rustix::process::getrlimit(rustix::process::Resource::Nofile);
        assert_eq!(now.current, now.maximum);
        assert_eq!(soft, now.current.unwrap_or(u64::MAX));
    }
}
