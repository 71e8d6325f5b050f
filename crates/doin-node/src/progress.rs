//! Progress a person can follow: on a terminal, one live line per domain (round, best
//! performance, target, chain height) and a progress bar while the node catches up with a
//! longer chain; otherwise a structured log line per domain every few seconds.

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::sync::watch;

use crate::view::{ChainView, DomainBoard, DomainProgress};

/// How often the lines are refreshed on a terminal.
const TERMINAL_TICK: Duration = Duration::from_millis(250);
/// How often a log line is written when not on a terminal.
const LOG_TICK: Duration = Duration::from_secs(10);

fn fmt_perf(p: Option<f64>) -> String {
    p.map(|p| format!("{p:.4}")).unwrap_or_else(|| "-".into())
}

/// The one-line status of a domain.
pub fn domain_line(domain_id: &str, p: &DomainProgress, chain: &ChainView) -> String {
    format!(
        "{domain_id}: round {} | best {} | target {} | accepted {} | chain height {} | threshold {:.4}{}",
        p.round,
        fmt_perf(p.best_performance),
        fmt_perf(p.target_performance),
        p.accepted,
        chain.height,
        chain.threshold,
        if p.converged { " | target reached, stopped" } else { "" }
    )
}

/// Whether the node is catching up: a peer reported a chain longer than ours by more than
/// the block being minted.
pub fn syncing(height: i64, peer_height: u64) -> bool {
    i64::try_from(peer_height).is_ok_and(|p| p > height + 1)
}

/// Runs until `stop` fires, drawing the lines (terminal) or logging them.
pub async fn run(
    board: DomainBoard,
    chain: watch::Receiver<Arc<ChainView>>,
    mut stop: watch::Receiver<bool>,
) {
    let terminal = std::io::stderr().is_terminal();
    let multi = MultiProgress::with_draw_target(if terminal {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    });
    let style = ProgressStyle::with_template("{spinner} {msg}")
        .unwrap_or_else(|_| ProgressStyle::default_spinner());
    let mut bars: Vec<(String, ProgressBar)> = Vec::new();
    let sync_style = ProgressStyle::with_template(
        "sync {bar:40.cyan/blue} {pos}/{len} blocks ({per_sec}, eta {eta})",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    let mut sync_bar: Option<ProgressBar> = None;
    let mut tick = tokio::time::interval(if terminal { TERMINAL_TICK } else { LOG_TICK });
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => break,
        }
        let view = chain.borrow().clone();
        let peer_height = crate::metrics::METRICS.sync_peer_height();
        let behind = syncing(view.height, peer_height);
        if terminal {
            match (&sync_bar, behind) {
                (None, true) => {
                    let b = multi.add(ProgressBar::new(peer_height));
                    b.set_style(sync_style.clone());
                    sync_bar = Some(b);
                }
                (Some(b), false) => {
                    b.finish_and_clear();
                    sync_bar = None;
                }
                _ => {}
            }
            if let Some(b) = &sync_bar {
                b.set_length(peer_height);
                b.set_position(u64::try_from(view.height).unwrap_or(0));
            }
        } else if behind {
            tracing::info!(height = view.height, peer_height, "syncing");
        }
        for (domain_id, p) in board.snapshot() {
            let line = domain_line(&domain_id, &p, &view);
            if terminal {
                let bar = match bars.iter().find(|(d, _)| *d == domain_id) {
                    Some((_, b)) => b.clone(),
                    None => {
                        let b = multi.add(ProgressBar::new_spinner());
                        b.set_style(style.clone());
                        bars.push((domain_id.clone(), b.clone()));
                        b
                    }
                };
                bar.set_message(line);
                bar.tick();
            } else {
                tracing::info!(
                    domain = %domain_id,
                    round = p.round,
                    best = ?p.best_performance,
                    target = ?p.target_performance,
                    accepted = p.accepted,
                    converged = p.converged,
                    chain_height = view.height,
                    "progress"
                );
            }
        }
    }
    for (_, b) in bars {
        b.abandon();
    }
}

#[cfg(test)]
mod tests {
    use super::syncing;

    #[test]
    fn syncing_means_a_peer_is_more_than_one_block_ahead() {
        assert!(!syncing(10, 0));
        assert!(!syncing(10, 11));
        assert!(syncing(10, 12));
        assert!(!syncing(10, u64::MAX));
    }
}
