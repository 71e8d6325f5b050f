//! Progress a person can follow: on a terminal, one live line per domain (round, best
//! performance, target, chain height); otherwise a structured log line per domain every
//! few seconds.

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
    let mut tick = tokio::time::interval(if terminal { TERMINAL_TICK } else { LOG_TICK });
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => break,
        }
        let view = chain.borrow().clone();
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
