//! Partition: one Raft group per partition, with the machinery that makes it fast to use.
//!
//! ```text
//!            propose(cmd) ----> Proposer ---- Batch{ts, [cmd..]} ----> openraft
//!                               (one Raft entry per batch, up to `pipeline` in flight)
//!  linearizable read ---------> Leadership lease valid? ---- yes ----> read the state machine
//!                                      | no
//!                                      `--> ReadBarrier: one read-index round for every
//!                                           reader waiting at that moment
//! ```
//!
//! - **Group commit.** Commands queue in the [`proposer`]; whatever queued while the previous
//!   batch was being handed to Raft becomes one log entry stamped with the leader's clock.
//! - **Linearizable reads.** A leader whose term has applied its first entry and the log it
//!   took the lead with (a leader openraft restores after a restart may be far behind), and whose
//!   leadership a quorum acknowledged within the lease window serves reads from its state
//!   machine directly (followers refuse to elect anyone else for `election_timeout_max` after
//!   hearing from it; the lease is half that). Otherwise the [`reads`] barrier runs one
//!   read-index round for all waiting readers.
//! - **Leadership** changes are published on a watch channel (used by `kv` to drop the
//!   Ephemeral keyspace when leadership is lost or a new term begins).
//!
//! Not here: what commands mean (`raft`/`mvcc`), routing and forwarding (`kv`), membership
//! (`cluster`).

mod proposer;
mod reads;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::hlc::Clock;
use crate::raft::{
    self, Appends, Command, CommandResult, LogStore, Network, Raft, RaftReply, RaftRequest, StateMachine, StateView,
    Syncer, Transport,
};
use crate::storage::Engine;

pub use reads::Leadership;

/// A partition's Raft group as this node sees it, for operators (`/status`, `/metrics`).
#[derive(Clone, Debug, serde::Serialize)]
pub struct RaftStatus {
    /// The partition id.
    pub partition: u32,
    /// This node's role in the group: `leader`, `follower`, `candidate`, `learner` or `shutdown`.
    pub role: &'static str,
    /// The current term.
    pub term: u64,
    /// The leader's node id, if known.
    pub leader: Option<u64>,
    /// True when this node leads and serves reads and writes (it has applied its own term's
    /// first entry and the log it took the lead with).
    pub serving: bool,
    /// Index of the last entry in this node's log.
    pub last_log_index: Option<u64>,
    /// Index of the last entry applied to the state machine.
    pub applied_index: Option<u64>,
    /// Index of the last entry in the newest snapshot.
    pub snapshot_index: Option<u64>,
    /// Index of the last entry purged from the log.
    pub purged_index: Option<u64>,
    /// Leader only: milliseconds since a quorum last acknowledged this leader.
    pub quorum_ack_ms: Option<u64>,
    /// Leader only: the last log index each voter is known to hold (this node included).
    pub matched: std::collections::BTreeMap<u64, Option<u64>>,
    /// Log entries applied since this node started.
    pub applied_entries: u64,
    /// Commands in those entries (commands / entries = the partition's batching).
    pub applied_commands: u64,
}

/// Why a partition could not serve a request.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum Error {
    /// This node does not lead the partition; `leader` is the leader if known.
    #[error("node is not the leader of partition {partition} (leader: {leader:?})")]
    NotLeader {
        /// The partition.
        partition: u32,
        /// The current leader, if known.
        leader: Option<u64>,
    },
    /// The leader could not reach a quorum.
    #[error("partition {partition} cannot reach a quorum: {detail}")]
    NoQuorum {
        /// The partition.
        partition: u32,
        /// What failed.
        detail: String,
    },
    /// The group stopped (shutdown or a storage failure) before the command reached the log.
    #[error("partition {partition} stopped: {detail}")]
    Stopped {
        /// The partition.
        partition: u32,
        /// Why.
        detail: String,
    },
    /// The group stopped after the command was appended to the leader's log: it may still be
    /// committed by the next leader, so its outcome is unknown.
    #[error("partition {partition} stopped with the command in its log (its outcome is unknown): {detail}")]
    Lost {
        /// The partition.
        partition: u32,
        /// Why.
        detail: String,
    },
}

/// Tuning of a partition group.
#[derive(Clone, Debug)]
pub struct Options {
    /// openraft's configuration, shared by every partition.
    pub raft: Arc<openraft::Config>,
    /// Most commands in one Raft entry.
    pub max_batch: usize,
    /// Most bytes of commands in one Raft entry (a single bigger command still goes alone).
    pub max_batch_bytes: usize,
    /// Raft entries proposed but not yet applied, at most.
    pub pipeline: usize,
    /// Versions kept per key.
    pub retention: usize,
    /// How long a quorum acknowledgement lets the leader serve without a read-index round.
    pub lease: Duration,
    /// Report log appends to openraft before their fsync, overlapping a leader's fsync with
    /// replication (`raft::log_store`). Only safe with more than one voter.
    pub report_before_sync: bool,
}

/// One partition's Raft group on this node.
pub struct Partition {
    id: u32,
    raft: Raft,
    view: Arc<StateView>,
    proposer: proposer::Handle,
    reads: reads::Reads,
    appends: Appends,
}

impl Partition {
    /// Opens partition `id` on this node and starts its Raft group (not yet initialized).
    #[allow(clippy::too_many_arguments)]
    pub async fn start(
        id: u32,
        node_id: u64,
        options: &Options,
        engine: Arc<dyn Engine>,
        syncer: Syncer,
        clock: Arc<Clock>,
        transport: Arc<dyn Transport>,
        snapshot_dir: PathBuf,
    ) -> Result<Partition, String> {
        let log = LogStore::new(id, engine.clone(), syncer).report_before_sync(options.report_before_sync);
        let appends = log.appends();
        let sm = StateMachine::open(raft::StateMachineConfig {
            partition: id,
            engine,
            clock: clock.clone(),
            retention: options.retention,
            snapshot_dir,
        })
        .map_err(|e| format!("opening the state machine of partition {id}: {e}"))?;
        let view = sm.view();
        let network = Network::new(id, transport, appends.clone());
        let raft = Raft::new(node_id, options.raft.clone(), network, log, sm)
            .await
            .map_err(|e| format!("starting the Raft group of partition {id}: {e}"))?;
        let proposer = proposer::spawn(id, raft.clone(), clock, options);
        let reads = reads::Reads::start(id, node_id, raft.clone(), options.lease);
        Ok(Partition { id, raft, view, proposer, reads, appends })
    }

    /// The partition id.
    pub fn id(&self) -> u32 {
        self.id
    }

    /// The openraft handle.
    pub fn raft(&self) -> &Raft {
        &self.raft
    }

    /// Hands a Raft message from a peer to this group; `Err` when no answer may be sent (see
    /// [`RaftRequest::deliver`]).
    pub async fn deliver(&self, request: RaftRequest) -> Result<RaftReply, String> {
        request.deliver(&self.raft, &self.appends).await
    }

    /// The state machine's data, for reads after a barrier.
    pub fn view(&self) -> &StateView {
        &self.view
    }

    /// Who leads the partition now, as this node knows it.
    pub fn leadership(&self) -> Leadership {
        self.reads.leadership()
    }

    /// Notified on every leadership change.
    pub fn watch_leadership(&self) -> watch::Receiver<Leadership> {
        self.reads.watch()
    }

    /// The group's state for operators.
    pub fn status(&self) -> RaftStatus {
        use openraft::ServerState;
        let (applied_entries, applied_commands) = self.view.applied();
        let serving = self.leadership().serving;
        let m = self.raft.metrics().borrow().clone();
        let role = match m.state {
            ServerState::Leader => "leader",
            ServerState::Follower => "follower",
            ServerState::Candidate => "candidate",
            ServerState::Learner => "learner",
            ServerState::Shutdown => "shutdown",
        };
        let matched = m
            .replication
            .as_ref()
            .map(|r| r.iter().map(|(node, log)| (*node, log.map(|l| l.index))).collect())
            .unwrap_or_default();
        RaftStatus {
            partition: self.id,
            role,
            term: m.current_term,
            leader: m.current_leader,
            serving,
            last_log_index: m.last_log_index,
            applied_index: m.last_applied.map(|l| l.index),
            snapshot_index: m.snapshot.map(|l| l.index),
            purged_index: m.purged.map(|l| l.index),
            quorum_ack_ms: m.millis_since_quorum_ack,
            matched,
            applied_entries,
            applied_commands,
        }
    }

    /// Replicates `command` and returns its result once applied on this leader.
    pub async fn propose(&self, command: Command) -> Result<CommandResult, Error> {
        self.proposer.propose(command).await
    }

    /// Returns once the state machine reflects every write acknowledged before the call, on a
    /// node that leads the partition (a linearizable read point).
    pub async fn read_barrier(&self) -> Result<(), Error> {
        self.reads.barrier().await
    }

    /// True while this node is a leader whose lease a quorum confirmed recently enough that
    /// no other leader can exist (used by the Ephemeral keyspace).
    pub async fn ensure_lease(&self) -> Result<Leadership, Error> {
        self.reads.ensure_lease().await
    }

    /// Stops the Raft group.
    pub async fn shutdown(&self) {
        if let Err(e) = self.raft.shutdown().await {
            tracing::warn!(partition = self.id, error = %e, "raft shutdown");
        }
    }
}
