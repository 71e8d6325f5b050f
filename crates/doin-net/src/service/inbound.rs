//! Inbound bodies: what a `POST /message` body claims ([`Claim`], [`parse_inbound`]), how
//! the actor routes an admitted one from the hop bound to its address, and how the node's
//! verdicts on delivered messages reach the signer and the address.

use std::net::IpAddr;
use std::time::Instant;

use doin_primitives::models::{InboundBody, Message};
use doin_primitives::value::Value;
use doin_primitives::PeerId;

use super::{unix_now, Actor, InboundError};
use crate::hop::{address_hop, bind, canonical, Binding};
use crate::peers::PeerSource;
use crate::scoring::ScoreOutcome;
use crate::slots::Direction;
use crate::Verdict;

/// The identities a body claims: who it names as the hop, and who signed it.
pub(super) struct Claim {
    /// `_forwarder_id` of a relayed message.
    pub(super) relay: Option<PeerId>,
    /// A message's `sender_id`, verified by its seal when `signed`.
    pub(super) sender: PeerId,
    /// Whether admission verified a seal by `sender`.
    pub(super) signed: bool,
}

fn endpoint_of(ip: IpAddr, port: u16) -> String {
    match canonical(ip) {
        IpAddr::V6(v6) => format!("[{v6}]:{port}"),
        ip => format!("{ip}:{port}"),
    }
}

/// Parses a `POST /message` body into the identities it claims, its port and the message;
/// `None` for a control frame (the reference's GossipSub sends them; flooding needs none).
pub(super) fn parse_inbound(
    body: &[u8],
) -> Result<Option<(Claim, Option<u16>, Message)>, InboundError> {
    let text = std::str::from_utf8(body).map_err(|_| {
        InboundError::Malformed(doin_primitives::ModelError::Invalid {
            model: "Message",
            field: "body",
            reason: "not UTF-8".into(),
        })
    })?;
    let m = match Message::from_http_body(text)? {
        InboundBody::Message(m) => m,
        InboundBody::Control(_) => return Ok(None),
    };
    // Both ids are claims from the wire: each must be a DOIN peer id.
    let sender = PeerId::parse(&m.sender_id).map_err(InboundError::BadSender)?;
    // A relay names itself in `_forwarder_id`; its own messages carry none.
    let relay = m
        .payload
        .get("_forwarder_id")
        .and_then(Value::as_str)
        .filter(|f| *f != m.sender_id)
        .map(PeerId::parse)
        .transpose()
        .map_err(InboundError::BadSender)?;
    let port = m
        .payload
        .get("_sender_port")
        .and_then(Value::as_i64)
        .and_then(|p| u16::try_from(p).ok())
        .filter(|p| *p != 0);
    let claim = Claim {
        relay,
        sender,
        signed: false,
    };
    Ok(Some((claim, port, m)))
}

impl Actor {
    /// Routes an admitted body. The hop is the peer the body names only when that claim
    /// is bound to the connecting address ([`crate::hop`]); a peer speaking for itself from
    /// an address the book does not contradict is added (or its port refreshed) and given
    /// an inbound slot. Nothing else here changes any peer's entry.
    pub(super) fn on_inbound(
        &mut self,
        claim: Claim,
        ip: IpAddr,
        port: Option<u16>,
        message: Message,
        now: Instant,
    ) -> Result<(), InboundError> {
        if claim.signed && self.bans.is_banned(&claim.sender, now) {
            return Err(InboundError::Banned);
        }
        let hop = match &claim.relay {
            Some(relay) => match bind(&self.table, relay, ip) {
                Binding::Known => relay.to_string(),
                Binding::New | Binding::Elsewhere => address_hop(ip),
            },
            None => match bind(&self.table, &claim.sender, ip) {
                Binding::Known | Binding::New => {
                    if let Some(p) = port {
                        let slots = &self.slots;
                        self.table.upsert_keeping(
                            &claim.sender,
                            &endpoint_of(ip, p),
                            PeerSource::Inbound,
                            unix_now(),
                            |id| slots.contains(id),
                        );
                    }
                    claim.sender.to_string()
                }
                Binding::Elsewhere => address_hop(ip),
            },
        };
        if self.bans.is_banned(hop.as_str(), now) || self.table.is_banned(&hop, unix_now()) {
            return Err(InboundError::Banned);
        }
        if self.table.endpoint(&hop).is_some() {
            self.connect(&hop, Direction::Inbound, now);
        }
        let actions = self.router.handle_message(&hop, message, now);
        self.apply(actions, Some((&hop, ip)));
        Ok(())
    }

    /// A verdict on a delivered message: the signer's score, and the address's (unless a
    /// peer bound to the address relayed someone else's message: a relay passing on what
    /// it received is not its source).
    pub(super) fn on_verdict(
        &mut self,
        hop: &str,
        signer: Option<&PeerId>,
        address: Option<IpAddr>,
        verdict: Verdict,
        now: Instant,
    ) {
        let hop_is_peer = self.table.endpoint(hop).is_some();
        match signer {
            Some(s) => self.on_report(s, verdict, now),
            // An unsigned message (a lenient node): the bound hop is all we know.
            None if hop_is_peer => self.on_report(hop, verdict, now),
            None => {}
        }
        let relayed_by_peer = hop_is_peer && signer.is_some_and(|s| s != hop);
        if !verdict.is_bad() {
            self.slots.mark_useful(hop, now);
        } else if relayed_by_peer {
            tracing::debug!(
                hop,
                ?verdict,
                "a peer relayed a bad message; its signer pays"
            );
        } else if let Some(ip) = address {
            self.guard
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .charge(ip, verdict, now);
        }
    }

    fn on_report(&mut self, peer: &str, verdict: Verdict, now: Instant) {
        if let ScoreOutcome::Ban(until) = self.scores.record(peer, verdict, now) {
            tracing::warn!(peer, ?verdict, "peer banned");
            // The id list both transports share holds DOIN peer ids: a signer, or a hop
            // bound to its address (a claim admission parsed as one; an address hop is
            // never reported here, as it is never in the address book).
            if let Ok(id) = PeerId::parse(peer) {
                self.bans.ban(id, until, now);
            }
            let secs = until.saturating_duration_since(now).as_secs();
            self.table.ban(peer, unix_now() + secs);
            self.disconnect(peer);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inbound_parser_reads_reference_samples() {
        let dir = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../testdata/reference/wire-samples"
        );
        for f in [
            "gossip_block_announcement.json",
            "message_optimae_reveal.json",
        ] {
            let body = std::fs::read(format!("{dir}/{f}")).unwrap_or_else(|e| panic!("{e}"));
            let (claim, port, _) = parse_inbound(&body)
                .unwrap_or_else(|e| panic!("{f}: {e}"))
                .unwrap_or_else(|| panic!("{f}: read as a control frame"));
            assert_eq!(claim.sender.len(), 40);
            assert!(port.is_some());
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig {
            cases: 2000, failure_persistence: None, ..Default::default()
        })]

        #[test]
        fn random_bytes_never_panic(body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
            let _ = parse_inbound(&body);
        }

        #[test]
        fn control_frames_are_acknowledged_unread(
            sender in "[a-z0-9]{0,8}",
            key in "(graft|prune|ihave|iwant|subscribe|unsubscribe|x)",
            value in r#"(\[\]|\["[a-z]{0,3}"\]|7|null|\{\}|"s"|\[\{"topic":"t","ids":\[1\]\}\])"#,
        ) {
            let body = format!(r#"{{"type":"control","sender_id":"{sender}","control":{{"{key}":{value}}}}}"#);
            proptest::prop_assert!(matches!(parse_inbound(body.as_bytes()), Ok(None)));
        }
    }

    #[test]
    fn malformed_bodies_are_typed_errors() {
        type Check = fn(&InboundError) -> bool;
        let cases: [(&[u8], Check); 7] = [
            (b"\xff\xfe", |e| matches!(e, InboundError::Malformed(_))),
            (b"[1,2]", |e| matches!(e, InboundError::Malformed(_))),
            (br#"{"type":"message"}"#, |e| matches!(e, InboundError::Malformed(_))),
            (
                br#"{"msg_type":"chain_status","sender_id":"","timestamp":"2026-01-01T00:00:00Z","payload":{}}"#,
                |e| matches!(e, InboundError::BadSender(_)),
            ),
            // Ids from the wire must be DOIN peer ids: 40 lowercase hex characters.
            (
                br#"{"msg_type":"chain_status","sender_id":"bootstrap-127.0.0.1:9000","timestamp":"2026-01-01T00:00:00Z","payload":{}}"#,
                |e| matches!(e, InboundError::BadSender(_)),
            ),
            (
                br#"{"msg_type":"chain_status","sender_id":"5CD252FB0CE8932436FAF8CCD1040981B89EE4AD","timestamp":"2026-01-01T00:00:00Z","payload":{}}"#,
                |e| matches!(e, InboundError::BadSender(_)),
            ),
            (
                br#"{"msg_type":"chain_status","sender_id":"5cd252fb0ce8932436faf8ccd1040981b89ee4ad","timestamp":"2026-01-01T00:00:00Z","payload":{"_forwarder_id":"addr-127.0.0.1"}}"#,
                |e| matches!(e, InboundError::BadSender(_)),
            ),
        ];
        for (body, check) in cases {
            match parse_inbound(body) {
                Err(e) => assert!(check(&e), "{}: {e:?}", String::from_utf8_lossy(body)),
                Ok(_) => panic!("accepted {}", String::from_utf8_lossy(body)),
            }
        }
    }
}
