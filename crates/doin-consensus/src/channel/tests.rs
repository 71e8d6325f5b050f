//! Unit tests of the channel rules ([`super`]): one per rule, each refusal with its reason.

use super::*;
use crate::params::ChainParams;
use doin_primitives::identity::Identity;
use doin_primitives::models::ChannelAction;

const FUNDS: u64 = 100_000_000;
const DEPOSIT: i64 = 10_000_000;
const PERIOD: i64 = 60;
const T0: i64 = 1_800_000_000_000_000;

struct World {
    state: ChainState,
    sender: Identity,
    receiver: Identity,
    /// Base units paid as tips (credited by the coinbase, outside these rules).
    tips: u64,
}

impl World {
    fn new() -> World {
        let sender = Identity::from_scalar_bytes(&[11u8; 32]).expect("scalar");
        let receiver = Identity::from_scalar_bytes(&[12u8; 32]).expect("scalar");
        let mut state = ChainState::new(ChainParams::solo_default());
        state.balances.insert(sender.peer_id().into(), FUNDS);
        state.balances.insert(receiver.peer_id().into(), FUNDS);
        World {
            state,
            sender,
            receiver,
            tips: 0,
        }
    }

    fn fee(&self) -> i64 {
        self.state.base_fee() as i64 + 5
    }

    fn op(&self, who: &Identity, action: ChannelAction) -> ChannelOp {
        let nonce = self.state.channel_nonce(who.peer_id()) as i64 + 1;
        ChannelOp::signed(who, action, self.fee(), nonce)
    }

    /// Checks and applies `ops` as one block at `at`.
    fn block(&mut self, ops: &[ChannelOp], at: i64) -> Result<(), ConsensusError> {
        let b = self
            .state
            .check_channel_ops(ops, &BlockTransfers::default(), at)?;
        self.tips += b.tips;
        self.state.apply_channel_ops(&b);
        Ok(())
    }

    /// The one operation's refusal at `at`.
    fn refused(&mut self, op: ChannelOp, at: i64) -> ChannelError {
        match self.block(&[op], at) {
            Err(ConsensusError::InChannelOp { source, .. }) => source,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    fn open(&mut self) -> String {
        let op = self.op(
            &self.sender,
            ChannelAction::Open {
                receiver: self.receiver.peer_id().into(),
                deposit: DEPOSIT,
                dispute_period: PERIOD,
            },
        );
        let id = op.compute_id();
        self.block(&[op], T0).expect("opens");
        id
    }

    fn update(&self, id: &str, nonce: i64, paid: i64) -> ChannelUpdate {
        ChannelUpdate::signed(&self.sender, id, nonce, DEPOSIT - paid, paid)
    }

    /// Σ balances + locked + burned + tips is what the accounts started with.
    fn conserved(&self) {
        let sum: u64 = self.state.balances().values().sum();
        assert_eq!(
            sum + self.state.total_locked() + self.state.total_burned() + self.tips,
            2 * FUNDS
        );
    }

    fn balance(&self, who: &Identity) -> u64 {
        self.state.balance(who.peer_id())
    }
}

#[test]
fn open_locks_the_deposit_under_the_operations_id() {
    let mut w = World::new();
    let id = w.open();
    let c = w.state.channel(&id).expect("channel").clone();
    assert_eq!(c.status, ChannelStatus::Open);
    assert_eq!(
        (c.deposit, c.sender_balance, c.receiver_balance, c.nonce),
        (10_000_000, 10_000_000, 0, 0)
    );
    assert_eq!(c.opened_height, 1);
    assert_eq!(
        w.balance(&w.sender),
        FUNDS - DEPOSIT as u64 - w.fee() as u64
    );
    assert_eq!(w.state.channel_stats().active_channels, 1);
    assert_eq!(w.state.total_locked(), DEPOSIT as u64);
    assert_eq!(w.state.channel_nonce(w.sender.peer_id()), 1);
    w.conserved();
}

#[test]
fn each_open_rule_refuses_with_its_reason() {
    let mut w = World::new();
    let r = w.receiver.peer_id().to_string();
    let open = |receiver: &str, deposit, dispute_period| ChannelAction::Open {
        receiver: receiver.to_owned(),
        deposit,
        dispute_period,
    };
    let me = w.sender.peer_id().to_string();
    let op = w.op(&w.sender, open(&me, DEPOSIT, PERIOD));
    assert_eq!(w.refused(op, T0), ChannelError::SelfChannel);
    let op = w.op(&w.sender, open("Bob", DEPOSIT, PERIOD));
    assert!(matches!(w.refused(op, T0), ChannelError::BadReceiver(_)));
    let op = w.op(&w.sender, open(&r, 0, PERIOD));
    assert_eq!(w.refused(op, T0), ChannelError::NonPositiveDeposit(0));
    let op = w.op(&w.sender, open(&r, -3, PERIOD));
    assert_eq!(w.refused(op, T0), ChannelError::NonPositiveDeposit(-3));
    let op = w.op(&w.sender, open(&r, i64::MAX, PERIOD));
    assert_eq!(w.refused(op, T0), ChannelError::AboveSupply);
    let op = w.op(&w.sender, open(&r, DEPOSIT, 0));
    assert_eq!(w.refused(op, T0), ChannelError::BadDisputePeriod(0));
    let op = w.op(&w.sender, open(&r, DEPOSIT, MAX_DISPUTE_PERIOD_SECS + 1));
    assert!(matches!(
        w.refused(op, T0),
        ChannelError::BadDisputePeriod(_)
    ));
    let op = w.op(&w.sender, open(&r, FUNDS as i64, PERIOD));
    assert!(matches!(
        w.refused(op, T0),
        ChannelError::InsufficientBalance { balance: FUNDS, .. }
    ));
    let base = w.state.base_fee() as i64;
    let op = ChannelOp::signed(&w.sender, open(&r, DEPOSIT, PERIOD), base - 1, 1);
    assert!(matches!(
        w.refused(op, T0),
        ChannelError::FeeBelowBaseFee { .. }
    ));
    let op = ChannelOp::signed(&w.sender, open(&r, DEPOSIT, PERIOD), -1, 1);
    assert_eq!(w.refused(op, T0), ChannelError::NegativeFee(-1));
    let op = ChannelOp::signed(&w.sender, open(&r, DEPOSIT, PERIOD), base, 2);
    assert_eq!(
        w.refused(op, T0),
        ChannelError::NonceSkipped {
            expected: 1,
            got: 2
        }
    );
    let mut tampered = w.op(&w.sender, open(&r, DEPOSIT, PERIOD));
    tampered.action = open(&r, DEPOSIT + 1, PERIOD);
    assert!(matches!(
        w.refused(tampered, T0),
        ChannelError::BadSignature(_)
    ));
    let id = w.open();
    let op = ChannelOp::signed(&w.sender, open(&r, DEPOSIT, PERIOD), base, 1);
    assert_eq!(
        w.refused(op, T0),
        ChannelError::NonceReused {
            expected: 2,
            got: 1
        }
    );
    assert!(w.state.channel(&id).is_some());
    // The cap counts unsettled channels only.
    w.state
        .unsettled_channels
        .insert(w.sender.peer_id().into(), MAX_OPEN_CHANNELS_PER_SENDER);
    let op = w.op(&w.sender, open(&r, DEPOSIT, PERIOD));
    assert!(matches!(
        w.refused(op, T0),
        ChannelError::TooManyChannels { .. }
    ));
    w.conserved();
}

#[test]
fn a_unilateral_close_pays_out_only_after_the_dispute_period() {
    let mut w = World::new();
    let id = w.open();
    let latest = w.update(&id, 3, 3_000_000);
    let close = w.op(
        &w.receiver,
        ChannelAction::Close {
            channel_id: id.clone(),
            update: Some(latest),
        },
    );
    w.block(&[close], T0 + 1).expect("closes");
    let deadline = T0 + 1 + PERIOD * 1_000_000;
    assert_eq!(
        w.state.channel(&id).map(|c| c.status.clone()),
        Some(ChannelStatus::Closing {
            closer: w.receiver.peer_id().into(),
            deadline_micros: deadline
        })
    );
    let settle = |w: &World| {
        w.op(
            &w.sender,
            ChannelAction::Settle {
                channel_id: id.clone(),
            },
        )
    };
    assert_eq!(
        w.refused(settle(&w), deadline - 1),
        ChannelError::DisputePeriodNotOver {
            deadline_micros: deadline,
            at_micros: deadline - 1
        }
    );
    let receiver_before = w.balance(&w.receiver);
    let sender_before = w.balance(&w.sender);
    w.block(&[settle(&w)], deadline).expect("settles");
    assert_eq!(w.balance(&w.receiver), receiver_before + 3_000_000);
    assert_eq!(
        w.balance(&w.sender),
        sender_before + 7_000_000 - w.fee() as u64
    );
    assert_eq!(w.state.total_locked(), 0);
    assert_eq!(w.state.channel_stats().total_settled, 3_000_000);
    assert_eq!(w.state.channel_stats().active_channels, 0);
    let again = settle(&w);
    assert_eq!(
        w.refused(again, deadline + 5),
        ChannelError::Closed(id.clone())
    );
    w.conserved();
}

#[test]
fn a_stale_close_loses_the_dispute_to_the_newest_update() {
    let mut w = World::new();
    let id = w.open();
    let stale = w.update(&id, 1, 1_000_000);
    let newest = w.update(&id, 4, 4_000_000);
    let close = w.op(
        &w.sender,
        ChannelAction::Close {
            channel_id: id.clone(),
            update: Some(stale.clone()),
        },
    );
    w.block(&[close], T0 + 1)
        .expect("closes on the stale update");
    let deadline = T0 + 1 + PERIOD * 1_000_000;
    // Closing again, or disputing with an update not newer, changes nothing.
    let reclose = w.op(
        &w.sender,
        ChannelAction::Close {
            channel_id: id.clone(),
            update: None,
        },
    );
    assert!(matches!(
        w.refused(reclose, T0 + 2),
        ChannelError::Closing { .. }
    ));
    let same = w.op(&w.receiver, ChannelAction::Dispute { update: stale });
    assert_eq!(
        w.refused(same, T0 + 2),
        ChannelError::NonceNotNewer { got: 1, current: 1 }
    );
    // A "newer" update the receiver made up itself is not the sender's.
    let forged = ChannelUpdate::signed(&w.receiver, &id, 9, 0, DEPOSIT);
    let op = w.op(&w.receiver, ChannelAction::Dispute { update: forged });
    assert!(matches!(
        w.refused(op, T0 + 2),
        ChannelError::BadUpdateSeal(_)
    ));
    let late = w.op(
        &w.receiver,
        ChannelAction::Dispute {
            update: newest.clone(),
        },
    );
    assert!(matches!(
        w.refused(late, deadline),
        ChannelError::DisputePeriodOver { .. }
    ));
    let receiver_before = w.balance(&w.receiver);
    let dispute = w.op(&w.receiver, ChannelAction::Dispute { update: newest });
    w.block(&[dispute], T0 + 2).expect("the newest update wins");
    let c = w.state.channel(&id).expect("channel");
    assert_eq!(c.status, ChannelStatus::Closed);
    assert_eq!((c.nonce, c.receiver_balance), (4, 4_000_000));
    assert_eq!(
        w.balance(&w.receiver),
        receiver_before + 4_000_000 - w.fee() as u64
    );
    assert_eq!(w.state.channel_stats().disputes, 1);
    w.conserved();
}

#[test]
fn a_countersigned_close_settles_at_once() {
    let mut w = World::new();
    let id = w.open();
    let mut both = w.update(&id, 2, 2_500_000);
    both.countersign(&w.receiver);
    let mut broken = both.clone();
    broken.receiver_seal = w.update(&id, 2, 2_500_001).sender_seal;
    let op = w.op(
        &w.receiver,
        ChannelAction::Close {
            channel_id: id.clone(),
            update: Some(broken),
        },
    );
    assert!(matches!(
        w.refused(op, T0 + 1),
        ChannelError::BadCountersignature(_)
    ));
    let op = w.op(
        &w.receiver,
        ChannelAction::Close {
            channel_id: id.clone(),
            update: Some(both),
        },
    );
    w.block(&[op], T0 + 1).expect("cooperative close");
    assert_eq!(
        w.state.channel(&id).map(|c| c.status.clone()),
        Some(ChannelStatus::Closed)
    );
    w.conserved();
}

#[test]
fn only_participants_act_and_only_on_known_channels() {
    let mut w = World::new();
    let id = w.open();
    let outsider = Identity::from_scalar_bytes(&[13u8; 32]).expect("scalar");
    w.state.balances.insert(outsider.peer_id().into(), FUNDS);
    let op = w.op(
        &outsider,
        ChannelAction::Close {
            channel_id: id.clone(),
            update: None,
        },
    );
    assert!(matches!(
        w.refused(op, T0),
        ChannelError::NotParticipant { .. }
    ));
    let op = w.op(
        &w.receiver,
        ChannelAction::Settle {
            channel_id: "f".repeat(64),
        },
    );
    assert!(matches!(w.refused(op, T0), ChannelError::UnknownChannel(_)));
    let op = w.op(
        &w.receiver,
        ChannelAction::Settle {
            channel_id: id.clone(),
        },
    );
    assert_eq!(w.refused(op, T0), ChannelError::NotClosing(id.clone()));
    let mut over = w.update(&id, 1, 1);
    over.sender_balance = DEPOSIT;
    let over = ChannelUpdate::signed(&w.sender, &id, 1, over.sender_balance, 1);
    let op = w.op(
        &w.receiver,
        ChannelAction::Close {
            channel_id: id.clone(),
            update: Some(over),
        },
    );
    assert!(matches!(
        w.refused(op, T0),
        ChannelError::BalancesNotDeposit { .. }
    ));
    let too_many: Vec<ChannelOp> = (0..=MAX_CHANNEL_OPS_PER_BLOCK as i64)
        .map(|n| {
            ChannelOp::signed(
                &w.receiver,
                ChannelAction::Settle {
                    channel_id: id.clone(),
                },
                1,
                n + 1,
            )
        })
        .collect();
    assert!(matches!(
        w.block(&too_many, T0),
        Err(ConsensusError::ChannelOps(ChannelError::TooMany { .. }))
    ));
}

#[test]
fn the_receiver_checks_an_update_against_the_chain() {
    let mut w = World::new();
    let id = w.open();
    let u = w.update(&id, 1, 400);
    let ok = w.state.check_channel_update(&u).expect("valid");
    assert_eq!((ok.paid, ok.nonce), (400, 1));
    let next = w.update(&id, 2, 900);
    assert_eq!(check_successor(&u, &next), Ok(500));
    assert!(matches!(
        check_successor(&next, &u),
        Err(ChannelError::NonceNotNewer { .. })
    ));
    let less = w.update(&id, 3, 100);
    assert!(matches!(
        check_successor(&next, &less),
        Err(ChannelError::PaymentDecreased { .. })
    ));
    let by_receiver = ChannelUpdate::signed(&w.receiver, &id, 1, DEPOSIT - 400, 400);
    assert!(matches!(
        w.state.check_channel_update(&by_receiver),
        Err(ChannelError::BadUpdateSeal(_))
    ));
    let zero = w.update(&id, 0, 0);
    assert!(matches!(
        w.state.check_channel_update(&zero),
        Err(ChannelError::NonceNotNewer { .. })
    ));
    let negative = ChannelUpdate::signed(&w.sender, &id, 1, DEPOSIT + 1, -1);
    assert_eq!(
        w.state.check_channel_update(&negative),
        Err(ChannelError::NegativeAmount)
    );
    let unknown = ChannelUpdate::signed(&w.sender, "0".repeat(64), 1, 1, 0);
    assert!(matches!(
        w.state.check_channel_update(&unknown),
        Err(ChannelError::UnknownChannel(_))
    ));
    let close = w.op(
        &w.sender,
        ChannelAction::Close {
            channel_id: id.clone(),
            update: None,
        },
    );
    w.block(&[close], T0 + 1).expect("closes");
    assert!(matches!(
        w.state.check_channel_update(&next),
        Err(ChannelError::Closing { .. })
    ));
}

#[test]
fn selection_skips_what_no_longer_fits() {
    let mut w = World::new();
    let id = w.open();
    let close = w.op(
        &w.sender,
        ChannelAction::Close {
            channel_id: id.clone(),
            update: None,
        },
    );
    // A second close with the next nonce conflicts with the first: only one is picked.
    let second = ChannelOp::signed(
        &w.receiver,
        ChannelAction::Close {
            channel_id: id,
            update: None,
        },
        w.fee(),
        1,
    );
    let picked = w.state.select_channel_ops([&close, &second], &[], T0 + 1);
    assert_eq!(picked, vec![close.clone()]);
    assert!(w.state.check_channel_op_after(&[], &close, T0 + 1).is_ok());
    assert_eq!(verify_channel_op_seal(&close), Ok(()));
    let mut unsealed = close.clone();
    unsealed.seal = None;
    assert!(matches!(
        verify_channel_op_seal(&unsealed),
        Err(ChannelError::BadSignature(_))
    ));
    // After a pending close by the same actor, its next close is refused.
    let next = ChannelOp::signed(&w.sender, close.action.clone(), w.fee(), 3);
    assert!(matches!(
        w.state.check_channel_op_after(&[&close], &next, T0 + 1),
        Err(ChannelError::Closing { .. })
    ));
    assert!(matches!(
        w.state.check_channel_op_after(&[], &next, T0 + 1),
        Err(ChannelError::NonceSkipped { .. })
    ));
}
