//! Raft: the openraft glue that turns a partition's commands into a replicated log.
//!
//! Every partition is one openraft group (openraft 0.9, `storage-v2`). This layer supplies what
//! openraft asks of an application:
//!
//! ```text
//!   kv / partition            raft (this layer)                     storage
//!  ---------------   Batch   -------------------------------------   ---------
//!   proposer ------------->  openraft core
//!                              |  append  -> LogStore ----- write ----> Cf::Log   (no fsync)
//!                              |              `-- Syncer: one fsync for every queued append
//!                              |  apply   -> StateMachine -- one WriteBatch -> Cf::Data + Cf::State
//!                              |  snapshot-> snapshot files (a partition's key range)
//!                              `- network -> Transport (implemented by `rpc`, or in memory)
//! ```
//!
//! - [`Command`]s are *logical*: "set k if absent", not "put bytes". The leader stamps each
//!   [`Batch`] with its HLC time; the state machine gives every command a commit timestamp
//!   `max(batch.ts, last_ts + 1)`, so timestamps grow with the log on every replica, survive
//!   leader changes, and conditions and expiry evaluate identically everywhere.
//! - Apply is atomic per call: data, last-applied log id and membership go into one write batch.
//!   A storage error while applying stops the group rather than letting replicas diverge.
//! - Log appends are written without fsync and acknowledged to openraft by the [`Syncer`]
//!   thread after one `fsync` that covers every append queued meanwhile (group commit across all
//!   partitions of the node). Votes are synced before they are acknowledged.
//! - Snapshots are files holding the partition's state machine key range; logs are purged
//!   behind them, after a sync makes the state they replace durable.
//!
//! Not here: batching of client requests, read barriers and routing (`partition`, `kv`), and any
//! Cap'n Proto (`rpc` implements [`Transport`]).

mod command;
mod log_store;
mod network;
mod snapshot;
mod state_machine;
mod sync;

use std::io::Cursor;

pub use command::{Batch, BatchResponse, Command, CommandResult};
pub use log_store::LogStore;
pub use network::{Network, RaftReply, RaftRequest, Transport, TransportError};
pub use state_machine::{StateMachine, StateMachineConfig, StateView};
pub use sync::{Appends, SyncStats, Syncer};

openraft::declare_raft_types!(
    /// The openraft type configuration of every partition group.
    pub TypeConfig:
        D = Batch,
        R = BatchResponse,
        NodeId = u64,
        Node = openraft::BasicNode,
        Entry = openraft::Entry<TypeConfig>,
        SnapshotData = tokio::fs::File,
        AsyncRuntime = openraft::TokioRuntime,
);

/// A node id.
pub type NodeId = u64;
/// A partition's Raft handle.
pub type Raft = openraft::Raft<TypeConfig>;
/// A log id.
pub type LogId = openraft::LogId<NodeId>;
/// A log entry.
pub type Entry = openraft::Entry<TypeConfig>;
/// Membership as stored with the state machine.
pub type StoredMembership = openraft::StoredMembership<NodeId, openraft::BasicNode>;
/// openraft's storage error.
pub type StorageError = openraft::StorageError<NodeId>;

// Keeps the unused-import lint quiet for the default snapshot type this crate replaces.
#[allow(dead_code)]
type DefaultSnapshotData = Cursor<Vec<u8>>;

/// Encodes a value for storage or the wire.
pub(crate) fn encode<T: serde::Serialize>(value: &T) -> Vec<u8> {
    postcard::to_allocvec(value).expect("serializing raft data cannot fail")
}

/// Decodes a value written by [`encode`].
pub(crate) fn decode<T: serde::de::DeserializeOwned>(what: &'static str, bytes: &[u8]) -> crate::storage::Result<T> {
    postcard::from_bytes(bytes).map_err(|e| crate::storage::Error::Corrupt { what, detail: e.to_string() })
}
