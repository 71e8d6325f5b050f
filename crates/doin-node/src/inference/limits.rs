//! The per-client rate limit of inference requests: a fixed window per client id, in a
//! map bounded in size.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Requests one client may make per window.
pub const RATE_LIMIT: u32 = 30;
/// The window.
pub const RATE_WINDOW: Duration = Duration::from_secs(60);
/// Most clients tracked at once; when full, windows that have ended are forgotten, and if
/// none has, new clients are refused until one ends (so rotating client ids cannot grow
/// the map or dodge the limit by evicting others).
pub const MAX_CLIENTS: usize = 10_000;

/// Counts requests per client.
#[derive(Debug)]
pub struct ClientLimiter {
    limit: u32,
    window: Duration,
    clients: HashMap<String, (Instant, u32)>,
}

impl Default for ClientLimiter {
    fn default() -> Self {
        Self::new(RATE_LIMIT, RATE_WINDOW)
    }
}

impl ClientLimiter {
    /// `limit` requests per `window` per client.
    pub fn new(limit: u32, window: Duration) -> Self {
        ClientLimiter {
            limit,
            window,
            clients: HashMap::new(),
        }
    }

    /// Counts one request of `client` at `now`; `Err` with the seconds until it may ask
    /// again when it is over its limit.
    pub fn admit(&mut self, client: &str, now: Instant) -> Result<(), u64> {
        let window = self.window;
        if !self.clients.contains_key(client) && self.clients.len() >= MAX_CLIENTS {
            self.clients
                .retain(|_, (start, _)| now.duration_since(*start) < window);
            if self.clients.len() >= MAX_CLIENTS {
                return Err(window.as_secs().max(1));
            }
        }
        let entry = self.clients.entry(client.to_owned()).or_insert((now, 0));
        if now.duration_since(entry.0) >= window {
            *entry = (now, 0);
        }
        if entry.1 >= self.limit {
            let wait = window.saturating_sub(now.duration_since(entry.0));
            return Err(wait.as_secs().max(1));
        }
        entry.1 += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_over_its_limit_waits_for_the_next_window_others_do_not() {
        let mut l = ClientLimiter::new(2, Duration::from_secs(10));
        let t0 = Instant::now();
        assert!(l.admit("a", t0).is_ok());
        assert!(l.admit("a", t0).is_ok());
        let wait = l.admit("a", t0 + Duration::from_secs(3)).unwrap_err();
        assert_eq!(wait, 7);
        assert!(l.admit("b", t0).is_ok());
        assert!(l.admit("a", t0 + Duration::from_secs(10)).is_ok());
    }

    #[test]
    fn the_map_is_bounded() {
        let mut l = ClientLimiter::new(1, Duration::from_secs(10));
        let t0 = Instant::now();
        for i in 0..MAX_CLIENTS {
            assert!(l.admit(&i.to_string(), t0).is_ok());
        }
        assert!(l.admit("new", t0).is_err());
        // Once the windows end, new clients get room.
        assert!(l.admit("new", t0 + Duration::from_secs(10)).is_ok());
        assert_eq!(l.clients.len(), 1);
    }
}
