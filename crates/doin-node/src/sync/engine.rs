//! One sync with one peer: status, fork point, then pages, each checked before it is kept.
//!
//! 1. The peer's status says whether it is worth fetching anything (longer, or claiming
//!    more weight; the claim is only a reason to look).
//! 2. The fork point is found walking back a page at a time (a walk that passes our
//!    finalized height is refused); a branch forking below it is refused by the chain
//!    service at its first page.
//! 3. Pages after the fork point are fetched one ahead of the one being imported, each
//!    within the page byte limit (a larger answer is abandoned and asked again for fewer blocks),
//!    and each block's ids, hashes and signatures are checked on every core as soon as it
//!    arrives ([`super::page::CheckedPage`]), while the chain service imports the page
//!    before; then the page is checked ([`super::page::check_page`]) and imported: the
//!    chain service applies every rule that needs the chain and weighs a competing branch
//!    as it grows ([`crate::chain_service::ChainHandle::import_checked`]), so only
//!    validated blocks are held. The first invalid block ends the sync with the blocks
//!    before it kept.
//! 4. A branch still lighter than ours may hold at most [`SyncBudget::branch_bytes`], and one
//!    sync may read at most [`SyncBudget::peer_bytes`] from the peer.
//! 5. Pages being read or imported by the syncs sharing a budget (a node's) hold at most
//!    [`super::budget::PAGES_IN_FLIGHT_MIB`] together ([`SyncBudget::room`]).

use std::sync::Arc;

use tokio::sync::OwnedSemaphorePermit;

use super::budget::SyncBudget;
use super::page::{check_page, CheckedPage};
use super::transport::{BlockTransport, Page, PageError};
use super::{SyncError, SyncReport, PAGE};
use crate::block_source::BlockSource;
use crate::chain_service::{ChainHandle, ImportOutcome};

/// Waits for room to read one page of `budget`: its whole byte limit, in MiB.
async fn page_room(budget: &SyncBudget) -> Option<OwnedSemaphorePermit> {
    let mib = u32::try_from((budget.page_bytes >> 20).max(1)).unwrap_or(u32::MAX);
    budget.room.clone().acquire_many_owned(mib).await.ok()
}

/// Gives back the room a read page of `bytes` does not use, keeping its own size until
/// imported.
fn fit_room(room: Option<OwnedSemaphorePermit>, bytes: usize) -> Option<OwnedSemaphorePermit> {
    let mut room = room?;
    let keep = (bytes >> 20) + 1;
    if room.num_permits() > keep {
        drop(room.split(room.num_permits() - keep));
    }
    Some(room)
}

/// Which end of a range a shrunk request keeps.
#[derive(Clone, Copy)]
enum Keep {
    /// The lowest heights (fetching forward).
    Low,
    /// The highest heights (walking back).
    High,
}

/// Reads pages from one peer within the budget.
struct Session<'a, T> {
    transport: &'a T,
    endpoint: &'a str,
    budget: &'a SyncBudget,
    /// Blocks per request now (halved when a page is too large).
    want: i64,
    /// Bytes read from the peer so far.
    read: usize,
}

impl<T: BlockTransport> Session<'_, T> {
    fn range(&self, from: i64, to: i64, keep: Keep) -> (i64, i64) {
        let n = self.want.max(1);
        match keep {
            Keep::Low => (from, to.min(from + n - 1)),
            Keep::High => (from.max(to - n + 1), to),
        }
    }

    /// Accounts for a page of `sent` blocks in `bytes` received for `from..=to`.
    fn account(&mut self, from: i64, to: i64, sent: usize, bytes: usize) -> Result<(), SyncError> {
        self.read = self.read.saturating_add(bytes);
        if self.read > self.budget.peer_bytes {
            return Err(SyncError::PeerBudgetSpent {
                limit: self.budget.peer_bytes,
            });
        }
        let asked = usize::try_from(to - from + 1).unwrap_or(0);
        if sent > asked {
            return Err(SyncError::PageTooLong { asked, got: sent });
        }
        Ok(())
    }

    /// Handles a page that came back too large: ask for a quarter as many blocks next
    /// time (few retries, each abandoned at the limit), or refuse a single block over it.
    fn shrink(&mut self, from: i64) -> Result<(), SyncError> {
        if self.want <= 1 {
            return Err(SyncError::BlockTooLarge {
                index: from,
                limit: self.budget.page_bytes,
            });
        }
        self.want = (self.want / 4).max(1);
        Ok(())
    }

    /// Fetches part of `from..=to` (as many blocks as [`Self::want`] allows, from the end
    /// `keep` says); returns the range asked, the page and its room among pages in flight.
    async fn fetch(
        &mut self,
        from: i64,
        to: i64,
        keep: Keep,
    ) -> Result<(i64, i64, Page, Option<OwnedSemaphorePermit>), SyncError> {
        loop {
            let room = page_room(self.budget).await;
            let (f, t) = self.range(from, to, keep);
            match self
                .transport
                .page(self.endpoint, f, t, self.budget.page_bytes)
                .await
            {
                Ok(page) => {
                    self.account(f, t, page.blocks.len(), page.bytes)?;
                    let room = fit_room(room, page.bytes);
                    return Ok((f, t, page, room));
                }
                Err(PageError::TooLarge { .. }) => self.shrink(f)?,
                Err(PageError::Peer(e)) => return Err(SyncError::Peer(e)),
            }
        }
    }
}

type Fetched = (Option<OwnedSemaphorePermit>, Result<CheckedPage, PageError>);
type InFlight = (i64, i64, tokio::task::JoinHandle<Fetched>);

/// Brings our chain up to the peer's if the peer's is longer, or claims to be heavier or
/// finalized higher (fork choice ranks finality, then weight, so a shorter chain may win),
/// within [`SyncBudget::default`]; a claim its blocks do not back is a
/// [`SyncError::WeightNotShown`] or [`SyncError::FinalityNotShown`].
pub async fn sync_with<T: BlockTransport>(
    transport: &T,
    endpoint: &str,
    chain: &ChainHandle,
    ours: &Arc<dyn BlockSource>,
    latency_to: Option<&crate::peers::PeerSet>,
) -> Result<SyncReport, SyncError> {
    sync_within(
        transport,
        endpoint,
        chain,
        ours,
        latency_to,
        &SyncBudget::default(),
    )
    .await
}

/// [`sync_with`] within `budget`.
pub async fn sync_within<T: BlockTransport>(
    transport: &T,
    endpoint: &str,
    chain: &ChainHandle,
    ours: &Arc<dyn BlockSource>,
    latency_to: Option<&crate::peers::PeerSet>,
    budget: &SyncBudget,
) -> Result<SyncReport, SyncError> {
    let asked = std::time::Instant::now();
    let peer = transport.chain_status(endpoint).await?;
    if let Some(peers) = latency_to {
        peers.record_latency(endpoint, asked.elapsed());
    }
    let view = chain.view();
    let Some(theirs) = &peer.params_hash else {
        return Ok(SyncReport::ReferenceNode);
    };
    if *theirs != view.params_hash {
        return Err(SyncError::OtherParams {
            theirs: theirs.clone(),
            ours: view.params_hash.clone(),
        });
    }
    if let Some(peers) = latency_to {
        peers.record_claim(endpoint, peer.cumulative_work);
    }
    let claims_heavier = peer
        .cumulative_work
        .is_some_and(|w| w > view.cumulative_work);
    // Fork choice ranks finality first: a peer finalized higher on a lighter or shorter
    // chain is one we would follow (two groups of nodes each kept their own otherwise,
    // the lighter group finalized higher, on a loaded 64-node network).
    let claims_finality = peer
        .finalized_height
        .is_some_and(|f| f > view.finalized_height);
    let same = peer.height == view.height && peer.tip_hash == view.tip_hash;
    if !claims_heavier && !claims_finality && (peer.height < view.height || same) {
        return Ok(SyncReport::UpToDate);
    }
    let mut session = Session {
        transport,
        endpoint,
        budget,
        want: budget.page_blocks.max(1),
        read: 0,
    };
    // Find the highest block both chains share, walking back a page at a time.
    let mut top = (peer.height - 1).min(view.tip_index);
    let (fork_point, parent) = loop {
        let (from, _, theirs, _room) = session
            .fetch((top - PAGE + 1).max(0), top, Keep::High)
            .await?;
        let mine = {
            let ours = ours.clone();
            tokio::task::spawn_blocking(move || ours.blocks(from, top))
                .await
                .map_err(|e| e.to_string())??
        };
        let shared = theirs.blocks.iter().rev().find(|t| {
            mine.iter()
                .any(|m| m.header.index == t.header.index && m.hash == t.hash)
        });
        if let Some(b) = shared {
            break (b.header.index, b.hash.clone());
        }
        if from == 0 {
            return Err(SyncError::NoCommonGenesis);
        }
        if from <= view.finalized_height {
            return Err(SyncError::ForksBelowFinality {
                finalized: view.finalized_height,
            });
        }
        top = from - 1;
    };
    let extending = fork_point == view.tip_index;
    let spawn = |session: &Session<'_, T>, from: i64| -> Option<InFlight> {
        (from < peer.height).then(|| {
            let (f, t) = session.range(from, peer.height - 1, Keep::Low);
            let fetch = transport.page(endpoint, f, t, budget.page_bytes);
            let budget = budget.clone();
            let task = tokio::spawn(async move {
                let room = page_room(&budget).await;
                let page = match fetch.await {
                    Ok(page) => Ok(CheckedPage::of(page).await),
                    Err(e) => Err(e),
                };
                (room, page)
            });
            (f, t, task)
        })
    };
    let mut outcomes = Vec::new();
    let (mut next, mut parent) = (fork_point + 1, parent);
    let mut branch_bytes = 0usize;
    let mut in_flight = spawn(&session, next);
    while let Some((from, to, task)) = in_flight.take() {
        // `_room` is held until the page is imported.
        let (room, fetched) = task.await.map_err(|e| e.to_string())?;
        let (from, to, page, _room) = match fetched {
            Ok(page) => {
                session.account(from, to, page.sent, page.bytes)?;
                let room = fit_room(room, page.bytes);
                (from, to, page, room)
            }
            Err(PageError::TooLarge { .. }) => {
                drop(room);
                session.shrink(from)?;
                let (from, to, page, room) =
                    session.fetch(from, peer.height - 1, Keep::Low).await?;
                (from, to, CheckedPage::of(page).await, room)
            }
            Err(PageError::Peer(e)) => return Err(SyncError::Peer(e)),
        };
        if page.sent == 0 {
            break;
        }
        let now = chain.clock().now_micros();
        let (good, refusal) = match check_page(from, to, &parent, &page, now) {
            Ok(n) => (n, None),
            Err((n, e)) => (n, Some(e)),
        };
        let (mut blocks, total, bytes) = (page.blocks, page.sent.max(1), page.bytes);
        blocks.truncate(good);
        if let Some(last) = blocks.last() {
            parent = last.block().hash.clone();
        }
        next += good as i64;
        if refusal.is_none() {
            in_flight = spawn(&session, next);
        }
        if !blocks.is_empty() {
            match chain.import_checked(blocks).await {
                Ok(o) => {
                    if matches!(o, ImportOutcome::Kept) && !extending {
                        branch_bytes += bytes * good / total;
                        if branch_bytes > budget.branch_bytes {
                            abort(in_flight.take());
                            return Err(SyncError::BranchTooLarge {
                                limit: budget.branch_bytes,
                            });
                        }
                    } else {
                        branch_bytes = 0;
                    }
                    outcomes.push(o);
                }
                Err(e) => {
                    abort(in_flight.take());
                    return Err(e.into());
                }
            }
        }
        if let Some(e) = refusal {
            return Err(e);
        }
    }
    let gained = outcomes.iter().any(|o| !matches!(o, ImportOutcome::Kept));
    if let (Some(claimed), false) = (peer.cumulative_work.filter(|_| claims_heavier), gained) {
        return Err(SyncError::WeightNotShown {
            claimed,
            ours: chain.view().cumulative_work,
        });
    }
    if let (Some(claimed), false) = (peer.finalized_height.filter(|_| claims_finality), gained) {
        return Err(SyncError::FinalityNotShown {
            claimed,
            ours: chain.view().finalized_height,
        });
    }
    Ok(SyncReport::Imported(outcomes))
}

fn abort(in_flight: Option<InFlight>) {
    if let Some((_, _, task)) = in_flight {
        task.abort();
    }
}
