//! Two `doin-node` processes started as the README says — the first on its defaults, the
//! second with `--peers <the first's libp2p address>/p2p/<id>` — find each other over
//! libp2p on the default transport (QUIC on the HTTP port's number), and each shows the
//! other in `/status` and `/peers` with its transport, address and score.

mod common;

use std::time::{Duration, Instant};

use common::{free_port, NodeProcess};

/// The libp2p peers `/status` shows, as (DOIN id, address).
fn libp2p_peers(node: &NodeProcess) -> Vec<(String, String)> {
    let Some(status) = node.get("/status") else {
        return Vec::new();
    };
    status["peer_transports"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["transport"] == "libp2p")
        .map(|p| {
            (
                p["peer_id"].as_str().unwrap_or_default().to_owned(),
                p["address"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

#[test]
fn two_nodes_given_a_multiaddr_find_each_other_over_quic() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut first = NodeProcess::start(&dir.path().join("a"), free_port(), &[]);
    first.wait_ready();
    let peers = first.get("/peers").expect("/peers");
    let first_id = peers["self"]["peer_id"].as_str().expect("id").to_owned();
    let address = peers["self"]["p2p_addrs"]
        .as_array()
        .expect("p2p_addrs")
        .iter()
        .filter_map(|a| a.as_str())
        .find(|a| a.starts_with("/ip4/127.0.0.1/udp/"))
        .unwrap_or_else(|| panic!("no loopback QUIC address: {peers}"))
        .to_owned();
    assert!(
        address.starts_with(&format!("/ip4/127.0.0.1/udp/{}/quic-v1/p2p/", first.port)),
        "{address}"
    );

    let mut second = NodeProcess::start(&dir.path().join("b"), free_port(), &["--peers", &address]);
    second.wait_ready();
    let second_id = second.get("/peers").expect("/peers")["self"]["peer_id"]
        .as_str()
        .expect("id")
        .to_owned();
    let start = Instant::now();
    loop {
        let (a, b) = (libp2p_peers(&first), libp2p_peers(&second));
        let a_sees_b = a
            .iter()
            .any(|(id, addr)| *id == second_id && addr.contains("/quic-v1"));
        let b_sees_a = b
            .iter()
            .any(|(id, addr)| *id == first_id && addr.contains("/quic-v1"));
        if a_sees_b && b_sees_a {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(90),
            "not connected: first sees {a:?}, second sees {b:?}; log of the second:\n{}",
            second.log_text()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let peers = second.get("/peers").expect("/peers");
    let row = peers["peers"]
        .as_array()
        .expect("peers")
        .iter()
        .find(|p| p["peer_id"] == first_id.as_str())
        .unwrap_or_else(|| panic!("{peers}"))
        .clone();
    assert_eq!(row["transport"], "libp2p", "{row}");
    assert!(row["score"].as_f64().is_some(), "{row}");
    assert!(
        row["p2p_id"]
            .as_str()
            .is_some_and(|id| address.ends_with(id)),
        "{row}"
    );
    second.terminate();
    first.terminate();
}
