//! The rate limit of inference requests: a fixed window per key, in a map bounded in
//! size. The keys are what a client cannot choose freely: the address it connects from
//! ([`source_key`]) and the payment channel it pays from ([`channel_key`]), never the
//! self-chosen `client_id`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Requests one key may make per window.
pub const RATE_LIMIT: u32 = 30;
/// The window.
pub const RATE_WINDOW: Duration = Duration::from_secs(60);
/// Most keys tracked at once; when full, windows that have ended are forgotten, and if
/// none has, the key whose window started first is (a new address is never refused
/// because others filled the map; evicting only hands the evicted key a fresh window).
pub const MAX_CLIENTS: usize = 10_000;

/// The key of requests from `ip` (an IPv6 /64 counts as one address).
pub fn source_key(ip: std::net::IpAddr) -> String {
    format!("address {}", crate::http_server::gate::address_key(ip))
}

/// The key of requests paid from payment channel `channel_id`.
pub fn channel_key(channel_id: &str) -> String {
    format!("channel {channel_id}")
}

/// Counts requests per key.
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
    /// `limit` requests per `window` per key.
    pub fn new(limit: u32, window: Duration) -> Self {
        ClientLimiter {
            limit,
            window,
            clients: HashMap::new(),
        }
    }

    /// Counts one request of `key` at `now`; `Err` with the seconds until it may ask
    /// again when it is over its limit.
    pub fn admit(&mut self, key: &str, now: Instant) -> Result<(), u64> {
        let window = self.window;
        if !self.clients.contains_key(key) && self.clients.len() >= MAX_CLIENTS {
            self.clients
                .retain(|_, (start, _)| now.duration_since(*start) < window);
            if self.clients.len() >= MAX_CLIENTS {
                let oldest = self
                    .clients
                    .iter()
                    .min_by_key(|(_, (start, _))| *start)
                    .map(|(k, _)| k.clone());
                if let Some(k) = oldest {
                    self.clients.remove(&k);
                }
            }
        }
        let entry = self.clients.entry(key.to_owned()).or_insert((now, 0));
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
    fn the_map_is_bounded_and_a_new_key_is_never_refused_for_want_of_room() {
        let mut l = ClientLimiter::new(1, Duration::from_secs(10));
        let t0 = Instant::now();
        for i in 0..MAX_CLIENTS {
            assert!(l
                .admit(&i.to_string(), t0 + Duration::from_millis(i as u64 % 7))
                .is_ok());
        }
        assert!(l.admit("new", t0 + Duration::from_millis(9)).is_ok());
        assert_eq!(l.clients.len(), MAX_CLIENTS);
        // Once the windows end, they are forgotten.
        assert!(l.admit("newer", t0 + Duration::from_secs(11)).is_ok());
        assert_eq!(l.clients.len(), 1);
    }

    #[test]
    fn addresses_are_keyed_by_host_not_port_and_ipv6_by_its_slash_64() {
        let ip = |s: &str| s.parse::<std::net::IpAddr>().unwrap();
        assert_eq!(source_key(ip("10.0.0.1")), "address 10.0.0.1");
        assert_eq!(
            source_key(ip("2001:db8::1")),
            source_key(ip("2001:db8::2:3"))
        );
        assert_ne!(source_key(ip("10.0.0.1")), channel_key("10.0.0.1"));
    }
}
