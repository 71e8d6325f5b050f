//! `doin-node wallet ...`: a key's address, an address's balance, and signed transfers sent
//! to a node's HTTP API (`/balance/{address}`, `/fees`, `POST /transfers`); payment
//! channels under `wallet channel` ([`channel`]).
//!
//! Amounts on the command line are DOIN in decimal (`1.5`, at most 8 decimals), converted
//! exactly to base units (1 DOIN = 10^8 units); the nonce and the fee default to what the
//! node reports (the address's next nonce, the base fee plus the "normal" tip).

pub mod channel;

use anyhow::{bail, Context};
use clap::Subcommand;
use doin_primitives::identity::Identity;
use doin_primitives::models::{Transfer, WireModel};
use doin_primitives::Timestamp;
use serde_json::Value;

/// Wallet tasks.
#[derive(Debug, Subcommand)]
pub enum WalletCommand {
    /// Prints the address (peer id) of the identity key.
    Address,
    /// Prints an address's balance, last used nonce and next nonce (default: the key's).
    Balance {
        /// The address; the identity key's when absent.
        address: Option<String>,
        /// The node to ask.
        #[arg(long, default_value = "http://127.0.0.1:8470")]
        node: String,
    },
    /// Signs a transfer with the identity key and submits it to a node.
    Transfer {
        /// The recipient's address (peer id).
        #[arg(long)]
        to: String,
        /// DOIN to send, in decimal (e.g. `1.5`).
        #[arg(long, value_parser = parse_doin)]
        amount: i64,
        /// Fee in DOIN; default: the node's suggested normal fee (base fee plus tip).
        #[arg(long, value_parser = parse_doin)]
        fee: Option<i64>,
        /// Nonce; default: the node's next nonce for the key.
        #[arg(long)]
        nonce: Option<i64>,
        /// The node to submit to.
        #[arg(long, default_value = "http://127.0.0.1:8470")]
        node: String,
    },
    /// Payment channels: open, update (offline), countersign, close, dispute, settle, show.
    Channel {
        /// The channel task.
        #[command(subcommand)]
        command: channel::ChannelCommand,
    },
}

/// Parses a decimal DOIN amount into base units, exactly (`"1.5"` → 150,000,000).
pub fn parse_doin(s: &str) -> Result<i64, String> {
    let (neg, digits) = match s.trim().strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s.trim()),
    };
    let (whole, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let all_digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() && frac.is_empty() || !all_digits(whole) || !all_digits(frac) {
        return Err(format!("{s:?} is not a decimal number of DOIN"));
    }
    if frac.len() > 8 {
        return Err(format!(
            "{s:?} has more than 8 decimals (1 base unit = 0.00000001 DOIN)"
        ));
    }
    let whole: i64 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| format!("{s:?} is too large"))?
    };
    let frac: i64 = format!("{frac:0<8}")
        .parse()
        .map_err(|_| format!("{s:?} is not a decimal number of DOIN"))?;
    let units = whole
        .checked_mul(100_000_000)
        .and_then(|w| w.checked_add(frac))
        .ok_or_else(|| format!("{s:?} is too large"))?;
    Ok(if neg { -units } else { units })
}

/// GETs `url` as JSON; a non-success status is an error with the node's detail.
pub(crate) fn get(client: &reqwest::blocking::Client, url: &str) -> anyhow::Result<Value> {
    let r = client
        .get(url)
        .send()
        .with_context(|| format!("cannot reach {url}"))?;
    let status = r.status();
    let body: Value = r.json().with_context(|| format!("{url}: not JSON"))?;
    if !status.is_success() {
        bail!("{url}: {status}: {}", body["detail"]);
    }
    Ok(body)
}

/// Runs a wallet task with `identity`; prints JSON on stdout.
pub fn run(command: &WalletCommand, identity: &Identity) -> anyhow::Result<()> {
    let client = reqwest::blocking::Client::builder()
        .timeout(std::time::Duration::from_secs(10))
        .build()?;
    match command {
        WalletCommand::Address => println!("{}", identity.peer_id()),
        WalletCommand::Balance { address, node } => {
            let who = address.as_deref().unwrap_or(identity.peer_id());
            let node = node.trim_end_matches('/');
            println!("{}", get(&client, &format!("{node}/balance/{who}"))?);
        }
        WalletCommand::Transfer {
            to,
            amount,
            fee,
            nonce,
            node,
        } => {
            let node = node.trim_end_matches('/');
            let nonce = match nonce {
                Some(n) => *n,
                None => get(&client, &format!("{node}/balance/{}", identity.peer_id()))?
                    ["next_nonce"]
                    .as_i64()
                    .context("the node reported no next_nonce")?,
            };
            let fee = match fee {
                Some(f) => *f,
                None => get(&client, &format!("{node}/fees"))?["suggested_fees_units"]["normal"]
                    ["total_units"]
                    .as_i64()
                    .context("the node reported no suggested fee")?,
            };
            let t = Transfer::signed(
                identity,
                to.clone(),
                *amount,
                fee,
                nonce,
                Timestamp::now_utc(),
            );
            let url = format!("{node}/transfers");
            let r = client
                .post(&url)
                .header("content-type", "application/json")
                .body(t.to_wire_json())
                .send()
                .with_context(|| format!("cannot reach {url}"))?;
            let status = r.status();
            let body: Value = r.json().with_context(|| format!("{url}: not JSON"))?;
            if !status.is_success() {
                bail!("transfer refused ({status}): {}", body["detail"]);
            }
            println!("{body}");
        }
        WalletCommand::Channel { command } => {
            channel::run(command, identity, &client)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doin_decimals_convert_exactly() {
        assert_eq!(parse_doin("1.5"), Ok(150_000_000));
        assert_eq!(parse_doin("0.00000001"), Ok(1));
        assert_eq!(parse_doin("20"), Ok(2_000_000_000));
        assert_eq!(parse_doin(".1"), Ok(10_000_000));
        assert_eq!(parse_doin("-2"), Ok(-200_000_000));
        assert!(parse_doin("0.000000001").is_err());
        assert!(parse_doin("1e3").is_err());
        assert!(parse_doin("").is_err());
        assert!(parse_doin("99999999999999999").is_err());
    }
}
