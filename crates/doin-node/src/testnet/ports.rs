//! Loopback ports for test nodes that must be known before the node starts (a peer's
//! address in another node's config, a process's `--port`).
//!
//! A port the system hands out for `127.0.0.1:0` comes from the ephemeral range, the same
//! range every outgoing connection on the machine takes its local port from: between the
//! moment a test learns such a port and the moment its node binds it, any connection of a
//! test running beside it may take it ("Address already in use", seen in CI). So these
//! ports come from below the ephemeral range, where no connection and no `:0` listener is
//! ever placed; each is checked free by binding it, and drawn at random so that tests
//! running side by side rarely try the same one. A test that binds one late may still
//! lose it to another test's node: [`is_address_in_use`] tells a caller to draw again.

use std::net::TcpListener;
use std::time::{SystemTime, UNIX_EPOCH};

/// The lowest port drawn: above the well-known and most registered services' ports.
const LOWEST: u16 = 10_000;
/// Where the ephemeral range starts when the system does not say (Linux's default).
const DEFAULT_EPHEMERAL_START: u16 = 32_768;

/// One free loopback TCP port outside the ephemeral range.
pub fn free_port() -> u16 {
    free_ports(1).expect("a free loopback port")[0]
}

/// `n` distinct loopback TCP ports outside the ephemeral range, each free a moment ago.
pub fn free_ports(n: usize) -> anyhow::Result<Vec<u16>> {
    let high = ephemeral_start().max(LOWEST + 1_000);
    let span = u64::from(high - LOWEST);
    let mut state = seed();
    // Held until all are drawn, so that no port is drawn twice.
    let mut held = Vec::with_capacity(n);
    let mut tries = 0u32;
    while held.len() < n {
        tries += 1;
        anyhow::ensure!(
            tries < 10_000,
            "no free loopback port between {LOWEST} and {high}"
        );
        state = splitmix(state);
        let port = LOWEST + u16::try_from(state % span).unwrap_or(0);
        if let Ok(l) = TcpListener::bind(("127.0.0.1", port)) {
            held.push(l);
        }
    }
    held.iter()
        .map(|l| Ok(l.local_addr()?.port()))
        .collect::<anyhow::Result<_>>()
}

/// Whether `err` (a node's start, say) failed because an address was taken: the caller
/// draws another port and tries again.
pub fn is_address_in_use(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::AddrInUse)
            || cause.to_string().contains("in use")
    })
}

/// The first port of the system's ephemeral range.
fn ephemeral_start() -> u16 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(DEFAULT_EPHEMERAL_START)
}

/// A seed that differs between processes and calls.
fn seed() -> u64 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    nanos ^ (u64::from(std::process::id()) << 32)
}

/// One step of splitmix64.
fn splitmix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_distinct_free_and_below_the_ephemeral_range() {
        let ports = free_ports(20).expect("ports");
        let mut sorted = ports.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), 20, "{ports:?}");
        for p in ports {
            assert!((LOWEST..ephemeral_start().max(LOWEST + 1_000)).contains(&p));
            TcpListener::bind(("127.0.0.1", p)).expect("still free");
        }
    }

    #[test]
    fn a_taken_port_is_recognised_as_in_use() {
        let held = TcpListener::bind("127.0.0.1:0").expect("a port");
        let port = held.local_addr().expect("its address").port();
        let err = TcpListener::bind(("127.0.0.1", port))
            .map_err(anyhow::Error::from)
            .map(|_| ())
            .expect_err("taken");
        assert!(is_address_in_use(&err.context("cannot listen")));
        assert!(!is_address_in_use(&anyhow::anyhow!("no such file")));
    }
}
