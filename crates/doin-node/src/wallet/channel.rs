//! `doin-node wallet channel ...`: payment channels from the command line. `open`,
//! `close`, `dispute` and `settle` sign a channel operation with the identity key and
//! submit it to a node (`POST /channels`); `update` and `countersign` sign an off-chain
//! update without any node (the sender pays by handing updates to the receiver); `show`
//! prints a channel.
//!
//! Amounts are DOIN in decimal, converted exactly to base units; an update or operation
//! given on the command line is its wire JSON, or `@FILE` to read it from a file. The
//! nonce and the fee default to what the node reports (the key's next channel-operation
//! nonce, the base fee plus the "normal" tip).

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use doin_primitives::identity::Identity;
use doin_primitives::models::{ChannelAction, ChannelOp, ChannelUpdate, WireModel};
use serde_json::Value;

use super::{get, parse_doin};

/// Where and how an operation is submitted.
#[derive(Debug, Args)]
pub struct Submission {
    /// Fee in DOIN; default: the node's suggested normal fee (base fee plus tip).
    #[arg(long, value_parser = parse_doin)]
    fee: Option<i64>,
    /// Channel-operation nonce; default: the node's next one for the key.
    #[arg(long)]
    nonce: Option<i64>,
    /// The node to submit to.
    #[arg(long, default_value = "http://127.0.0.1:8470")]
    node: String,
}

/// Channel tasks.
#[derive(Debug, Subcommand)]
pub enum ChannelCommand {
    /// Opens a channel to a receiver, locking a deposit on chain (the key is the sender).
    Open {
        /// The receiver's address (peer id).
        #[arg(long)]
        to: String,
        /// DOIN to lock.
        #[arg(long, value_parser = parse_doin)]
        deposit: i64,
        /// Seconds of chain time a unilateral close waits for disputes.
        #[arg(long, default_value_t = 3600)]
        dispute_period: i64,
        /// Fee, nonce and node.
        #[command(flatten)]
        submit: Submission,
    },
    /// Signs an off-chain update paying the receiver `paid` (cumulative) of `deposit`;
    /// prints it (no node needed).
    Update {
        /// The channel id.
        #[arg(long)]
        channel: String,
        /// The update's nonce: higher than every earlier update's.
        #[arg(long)]
        nonce: i64,
        /// DOIN paid to the receiver so far.
        #[arg(long, value_parser = parse_doin)]
        paid: i64,
        /// The channel's deposit in DOIN.
        #[arg(long, value_parser = parse_doin)]
        deposit: i64,
    },
    /// Adds the key's (the receiver's) seal to an update, for a cooperative close; prints it.
    Countersign {
        /// The update's wire JSON, or `@FILE`.
        update: String,
    },
    /// Closes a channel with the latest update held (none: everything back to the sender).
    Close {
        /// The channel id.
        #[arg(long)]
        channel: String,
        /// The update's wire JSON, or `@FILE`.
        #[arg(long)]
        update: Option<String>,
        /// Fee, nonce and node.
        #[command(flatten)]
        submit: Submission,
    },
    /// Disputes a closing channel with a newer update.
    Dispute {
        /// The update's wire JSON, or `@FILE`.
        #[arg(long)]
        update: String,
        /// Fee, nonce and node.
        #[command(flatten)]
        submit: Submission,
    },
    /// Pays a closed channel out once its dispute period has passed.
    Settle {
        /// The channel id.
        #[arg(long)]
        channel: String,
        /// Fee, nonce and node.
        #[command(flatten)]
        submit: Submission,
    },
    /// Prints a channel as the node's chain holds it.
    Show {
        /// The channel id.
        channel: String,
        /// The node to ask.
        #[arg(long, default_value = "http://127.0.0.1:8470")]
        node: String,
    },
}

fn read_update(arg: &str) -> anyhow::Result<ChannelUpdate> {
    let text = match arg.strip_prefix('@') {
        Some(path) => std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?,
        None => arg.to_owned(),
    };
    ChannelUpdate::from_wire_json(&text).map_err(|e| anyhow::anyhow!("not a channel update: {e}"))
}

fn submit(
    client: &reqwest::blocking::Client,
    identity: &Identity,
    action: ChannelAction,
    s: &Submission,
) -> anyhow::Result<()> {
    let node = s.node.trim_end_matches('/');
    let nonce = match s.nonce {
        Some(n) => n,
        None => get(
            client,
            &format!("{node}/channels?address={}", identity.peer_id()),
        )?["next_channel_nonce"]
            .as_i64()
            .context("the node reported no next_channel_nonce")?,
    };
    let fee = match s.fee {
        Some(f) => f,
        None => get(client, &format!("{node}/fees"))?["suggested_fees_units"]["normal"]
            ["total_units"]
            .as_i64()
            .context("the node reported no suggested fee")?,
    };
    let op = ChannelOp::signed(identity, action, fee, nonce);
    let url = format!("{node}/channels");
    let r = client
        .post(&url)
        .header("content-type", "application/json")
        .body(op.to_wire_json())
        .send()
        .with_context(|| format!("cannot reach {url}"))?;
    let status = r.status();
    let body: Value = r.json().with_context(|| format!("{url}: not JSON"))?;
    if !status.is_success() {
        bail!("channel operation refused ({status}): {}", body["detail"]);
    }
    println!("{body}");
    Ok(())
}

/// Runs a channel task with `identity`; prints JSON on stdout.
pub fn run(
    command: &ChannelCommand,
    identity: &Identity,
    client: &reqwest::blocking::Client,
) -> anyhow::Result<()> {
    match command {
        ChannelCommand::Open {
            to,
            deposit,
            dispute_period,
            submit: s,
        } => {
            let action = ChannelAction::Open {
                receiver: to.clone(),
                deposit: *deposit,
                dispute_period: *dispute_period,
            };
            submit(client, identity, action, s)?;
        }
        ChannelCommand::Update {
            channel,
            nonce,
            paid,
            deposit,
        } => {
            if paid > deposit || *paid < 0 {
                bail!("paid must be between 0 and the deposit");
            }
            let u = ChannelUpdate::signed(identity, channel, *nonce, deposit - paid, *paid);
            println!("{}", u.to_wire_json());
        }
        ChannelCommand::Countersign { update } => {
            let mut u = read_update(update)?;
            u.countersign(identity);
            println!("{}", u.to_wire_json());
        }
        ChannelCommand::Close {
            channel,
            update,
            submit: s,
        } => {
            let update = update.as_deref().map(read_update).transpose()?;
            let action = ChannelAction::Close {
                channel_id: channel.clone(),
                update,
            };
            submit(client, identity, action, s)?;
        }
        ChannelCommand::Dispute { update, submit: s } => {
            let action = ChannelAction::Dispute {
                update: read_update(update)?,
            };
            submit(client, identity, action, s)?;
        }
        ChannelCommand::Settle { channel, submit: s } => {
            let action = ChannelAction::Settle {
                channel_id: channel.clone(),
            };
            submit(client, identity, action, s)?;
        }
        ChannelCommand::Show { channel, node } => {
            let node = node.trim_end_matches('/');
            println!("{}", get(client, &format!("{node}/channels/{channel}"))?);
        }
    }
    Ok(())
}
