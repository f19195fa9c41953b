//! Leadership tracking, the leader lease, and the batched read-index barrier.

use std::sync::Arc;
use std::time::{Duration, Instant};

use openraft::ServerState;
use openraft::error::{CheckIsLeaderError, RaftError};
use parking_lot::Mutex;
use tokio::sync::{oneshot, watch};

use super::Error;
use crate::raft::Raft;

/// Who leads a partition, as this node knows it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Leadership {
    /// The leader's node id, if known.
    pub leader: Option<u64>,
    /// The current term.
    pub term: u64,
    /// True when this node is the leader.
    pub is_self: bool,
    /// True when this node is the leader and has applied an entry of its own term and its whole
    /// log as it stood when it took the lead, so its state machine holds every write committed
    /// before.
    pub serving: bool,
}

/// The log index a leader must have applied before it serves reads: its last log index when
/// this node was first seen leading in `term`.
///
/// An entry of the leader's own term is not enough. openraft restarts a node that was leader
/// *as* leader of the same term, without an election, and its state machine may then be far
/// behind its log (the state machine's writes are unlogged, `storage::Engine::write_unlogged`):
/// it can hold an applied entry of that term while later committed entries wait to be applied
/// again, and openraft's read index (the term's first entry, or the commit index it restarted
/// with) does not cover them. Every committed entry is in the leader's log, so once the log
/// as it stood at the start is applied, nothing committed is missing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct LeadFrom {
    term: u64,
    index: u64,
}

fn leadership_of(m: &openraft::RaftMetrics<u64, openraft::BasicNode>, lead_from: &mut LeadFrom) -> Leadership {
    let is_self = m.state == ServerState::Leader;
    if is_self && lead_from.term != m.current_term {
        *lead_from = LeadFrom { term: m.current_term, index: m.last_log_index.unwrap_or(0) };
    }
    let applied_term = m.last_applied.map(|l| l.leader_id.term);
    let applied_index = m.last_applied.map_or(0, |l| l.index);
    Leadership {
        leader: m.current_leader,
        term: m.current_term,
        is_self,
        serving: is_self
            && applied_term == Some(m.current_term)
            && lead_from.term == m.current_term
            && applied_index >= lead_from.index,
    }
}

#[derive(Default)]
struct Lease {
    term: u64,
    /// The send time of the newest heartbeat round a quorum acknowledged in `term`.
    acked_at: Option<Instant>,
}

#[derive(Default)]
struct Barrier {
    waiters: Vec<oneshot::Sender<Result<(), Error>>>,
    running: bool,
}

struct Shared {
    partition: u32,
    raft: Raft,
    duration: Duration,
    leadership: watch::Receiver<Leadership>,
    metrics: watch::Receiver<openraft::RaftMetrics<u64, openraft::BasicNode>>,
    lease: Mutex<Lease>,
    barrier: Mutex<Barrier>,
    /// Shared by the watcher and the direct checks of the metrics: whichever sees a new term's
    /// leadership first records where it started.
    lead_from: Mutex<LeadFrom>,
}

/// Read-side coordination of one partition.
pub(super) struct Reads {
    shared: Arc<Shared>,
}

impl Shared {
    fn record_ack(&self, term: u64, at: Instant) {
        let mut lease = self.lease.lock();
        if lease.term == term && lease.acked_at.is_none_or(|t| t < at) {
            lease.acked_at = Some(at);
        }
    }

    fn lease_holds(&self) -> Option<Leadership> {
        // Straight from the metrics, not the (asynchronously updated) leadership channel.
        let l = leadership_of(&self.metrics.borrow(), &mut self.lead_from.lock());
        let lease = self.lease.lock();
        let fresh = lease.acked_at.is_some_and(|t| t.elapsed() < self.duration);
        (l.serving && lease.term == l.term && fresh).then_some(l)
    }

    async fn round(&self) -> Result<(), Error> {
        let partition = self.partition;
        let term = self.leadership.borrow().term;
        let started = Instant::now();
        match self.raft.get_read_log_id().await {
            Ok((read, _applied)) => {
                self.record_ack(term, started);
                // openraft's read index can be short of what a restarted leader must apply
                // first (`LeadFrom`): wait until this leader serves.
                let mut metrics = self.metrics.clone();
                let settled = metrics.wait_for(|m| {
                    let l = leadership_of(m, &mut self.lead_from.lock());
                    l.serving || !l.is_self
                });
                // Only the outcome is kept: the metrics guard must not live across an await.
                let waited = tokio::time::timeout(self.duration * 4, settled).await.map(|r| r.map(|_| ()));
                let l = leadership_of(&self.metrics.borrow(), &mut self.lead_from.lock());
                if !l.serving {
                    return Err(match waited {
                        Ok(Ok(())) => Error::NotLeader { partition, leader: l.leader },
                        Ok(Err(e)) => Error::Stopped { partition, detail: e.to_string() },
                        Err(_) => Error::NoQuorum { partition, detail: "the leader has not caught up yet".into() },
                    });
                }
                if let Some(read) = read {
                    self.raft
                        .wait(Some(self.duration * 4))
                        .applied_index_at_least(Some(read.index), "read barrier")
                        .await
                        .map_err(|e| Error::Stopped { partition, detail: e.to_string() })?;
                }
                Ok(())
            }
            Err(RaftError::APIError(CheckIsLeaderError::ForwardToLeader(f))) => {
                Err(Error::NotLeader { partition, leader: f.leader_id })
            }
            Err(RaftError::APIError(CheckIsLeaderError::QuorumNotEnough(q))) => {
                Err(Error::NoQuorum { partition, detail: q.to_string() })
            }
            Err(RaftError::Fatal(f)) => Err(Error::Stopped { partition, detail: f.to_string() }),
        }
    }

    /// Runs rounds until no reader waits; each round serves the readers that arrived before it.
    async fn drive(self: Arc<Self>) {
        loop {
            let waiters = {
                let mut b = self.barrier.lock();
                if b.waiters.is_empty() {
                    b.running = false;
                    return;
                }
                std::mem::take(&mut b.waiters)
            };
            let result = self.round().await;
            for w in waiters {
                let _ = w.send(result.clone());
            }
        }
    }
}

impl Reads {
    pub(super) fn start(partition: u32, node_id: u64, raft: Raft, duration: Duration) -> Reads {
        let (tx, rx) = watch::channel(Leadership::default());
        let shared = Arc::new(Shared {
            partition,
            raft: raft.clone(),
            duration,
            leadership: rx,
            metrics: raft.metrics(),
            lease: Mutex::new(Lease::default()),
            barrier: Mutex::new(Barrier::default()),
            lead_from: Mutex::new(LeadFrom::default()),
        });
        let watcher = shared.clone();
        let mut metrics = raft.metrics();
        tokio::spawn(async move {
            loop {
                let observed = Instant::now();
                // Read what we need inside the borrow: cloning the metrics on every Raft event
                // would cost more than everything else here.
                let (now, quorum_ack_ms) = {
                    let m = metrics.borrow_and_update();
                    (leadership_of(&m, &mut watcher.lead_from.lock()), m.millis_since_quorum_ack)
                };
                let is_self = now.is_self;
                {
                    let mut lease = watcher.lease.lock();
                    if lease.term != now.term || !is_self {
                        *lease = Lease { term: now.term, acked_at: None };
                    }
                }
                if is_self
                    && let Some(ms) = quorum_ack_ms
                    && let Some(at) = observed.checked_sub(Duration::from_millis(ms))
                {
                    watcher.record_ack(now.term, at);
                }
                tx.send_if_modified(|old| {
                    let changed = *old != now;
                    if changed {
                        if now.is_self != old.is_self || now.leader != old.leader {
                            tracing::info!(partition, term = now.term, leader = ?now.leader, is_self, "leadership");
                        }
                        *old = now;
                    }
                    changed
                });
                if metrics.changed().await.is_err() {
                    break;
                }
            }
        });
        let _ = node_id;
        Reads { shared }
    }

    pub(super) fn leadership(&self) -> Leadership {
        *self.shared.leadership.borrow()
    }

    pub(super) fn watch(&self) -> watch::Receiver<Leadership> {
        self.shared.leadership.clone()
    }

    /// A linearizable read point: immediate under a valid lease, else a shared read-index round.
    pub(super) async fn barrier(&self) -> Result<(), Error> {
        if self.shared.lease_holds().is_some() {
            return Ok(());
        }
        self.read_index().await
    }

    async fn read_index(&self) -> Result<(), Error> {
        let (tx, rx) = oneshot::channel();
        let start = {
            let mut b = self.shared.barrier.lock();
            b.waiters.push(tx);
            !std::mem::replace(&mut b.running, true)
        };
        if start {
            tokio::spawn(self.shared.clone().drive());
        }
        rx.await
            .map_err(|_| Error::Stopped { partition: self.shared.partition, detail: "read barrier dropped".into() })?
    }

    pub(super) async fn ensure_lease(&self) -> Result<Leadership, Error> {
        if let Some(l) = self.shared.lease_holds() {
            return Ok(l);
        }
        self.read_index().await?;
        let partition = self.shared.partition;
        self.shared.lease_holds().ok_or_else(|| {
            let l = self.leadership();
            if l.is_self {
                Error::NoQuorum { partition, detail: "the leader lease could not be confirmed".into() }
            } else {
                Error::NotLeader { partition, leader: l.leader }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metrics(
        leader: bool,
        term: u64,
        last_log: u64,
        applied: Option<(u64, u64)>,
    ) -> openraft::RaftMetrics<u64, openraft::BasicNode> {
        let mut m = openraft::RaftMetrics::new_initial(1);
        m.state = if leader { ServerState::Leader } else { ServerState::Follower };
        m.current_term = term;
        m.current_leader = Some(if leader { 1 } else { 2 });
        m.last_log_index = Some(last_log);
        m.last_applied = applied.map(|(t, i)| openraft::LogId::new(openraft::CommittedLeaderId::new(t, 1), i));
        m
    }

    /// A leader restored by openraft after a restart, at its old term, with a state machine
    /// behind its log: an applied entry of its term must not make it serve until the log it
    /// started with is applied.
    #[test]
    fn a_leader_serves_once_the_log_it_started_with_is_applied() {
        let mut lead = LeadFrom::default();
        // Restarted as leader of term 5 with 300 entries, of which 120 were applied on disk
        // (the last of them from term 5).
        assert!(!leadership_of(&metrics(true, 5, 300, Some((5, 120))), &mut lead).serving);
        assert_eq!(lead, LeadFrom { term: 5, index: 300 });
        // New client entries do not move the mark; applying the old log does.
        assert!(!leadership_of(&metrics(true, 5, 310, Some((5, 299))), &mut lead).serving);
        assert!(leadership_of(&metrics(true, 5, 310, Some((5, 300))), &mut lead).serving);
        assert_eq!(lead, LeadFrom { term: 5, index: 300 });
    }

    #[test]
    fn an_elected_leader_serves_after_its_first_entry_and_followers_never() {
        let mut lead = LeadFrom::default();
        // Elected in term 6: its blank entry 311 is the last log; nothing of term 6 applied.
        assert!(!leadership_of(&metrics(true, 6, 311, Some((5, 310))), &mut lead).serving);
        assert!(leadership_of(&metrics(true, 6, 311, Some((6, 311))), &mut lead).serving);
        assert_eq!(lead, LeadFrom { term: 6, index: 311 });
        // A follower never serves, whatever it applied.
        let follower = leadership_of(&metrics(false, 7, 400, Some((7, 400))), &mut lead);
        assert!(!follower.serving && !follower.is_self);
        // Leading again in a later term starts a new mark.
        assert!(!leadership_of(&metrics(true, 8, 420, Some((8, 401))), &mut lead).serving);
        assert_eq!(lead, LeadFrom { term: 8, index: 420 });
    }
}
