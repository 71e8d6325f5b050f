//! The rate limit of inference requests: [`RATE_LIMIT`] per [`RATE_WINDOW`] per key, all of
//! them at once if need be, refilled one request's worth every `RATE_WINDOW / RATE_LIMIT`
//! (governor's GCRA, [`KeyedLimiter`]), in a table bounded in keys. The keys are what a
//! client cannot choose freely: the address it connects from ([`source_key`]) and the
//! payment channel it pays from ([`channel_key`]), never the self-chosen `client_id`.

use std::time::{Duration, Instant};

use doin_net::keyed_limit::KeyedLimiter;

/// Requests one key may make per window.
pub const RATE_LIMIT: u32 = 30;
/// The window.
pub const RATE_WINDOW: Duration = Duration::from_secs(60);
/// Most keys tracked at once; when full, the least recently seen key is forgotten (a new
/// address is never refused because others filled the table; evicting only hands the
/// evicted key a full quota).
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
    limiter: KeyedLimiter<String>,
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
            limiter: KeyedLimiter::per_window(limit, window, MAX_CLIENTS),
        }
    }

    /// Counts one request of `key` at `now`; `Err` with the seconds until it may ask
    /// again (at least 1) when it is over its limit.
    pub fn admit(&mut self, key: &str, now: Instant) -> Result<(), u64> {
        self.limiter.check(&key.to_owned(), now).map_err(|wait| {
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            secs.max(1)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_over_its_limit_waits_for_a_requests_worth_others_do_not() {
        let mut l = ClientLimiter::new(2, Duration::from_secs(10));
        let t0 = Instant::now();
        assert!(l.admit("a", t0).is_ok());
        assert!(l.admit("a", t0).is_ok());
        // One request's worth (10 s / 2) refills 5 s after the burst.
        let wait = l.admit("a", t0 + Duration::from_secs(3)).unwrap_err();
        assert_eq!(wait, 2);
        assert!(l.admit("b", t0).is_ok());
        assert!(l.admit("a", t0 + Duration::from_secs(5)).is_ok());
        assert!(l.admit("a", t0 + Duration::from_secs(5)).is_err());
        // The long-run rate is the quota: 2 per 10 s.
        let mut admitted = 0;
        for s in 10..40 {
            admitted += usize::from(l.admit("a", t0 + Duration::from_secs(s)).is_ok());
        }
        assert_eq!(admitted, 6);
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
        assert_eq!(l.limiter.len(), MAX_CLIENTS);
        assert!(l.admit("new", t0 + Duration::from_millis(9)).is_err());
        assert!(l.admit("newer", t0 + Duration::from_secs(11)).is_ok());
        assert_eq!(l.limiter.len(), MAX_CLIENTS);
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
