//! Storage: the byte-level key/value engine under everything else.
//!
//! A node keeps all its partitions in **one** engine (RocksDB in production, an in-memory
//! B-tree for tests and for the Ephemeral keyspace). The engine is split into column families
//! ([`Cf`]), and every key in every column family starts with the partition id as a big-endian
//! `u32`, so one partition is one contiguous key range: a snapshot streams a range, installing
//! one deletes a range.
//!
//! ```text
//!            +------------------------- one RocksDB per node --------------------------+
//!  Cf::Log   | [p][index u64 BE]                      -> openraft log entry            |
//!  Cf::Raft  | [p]['v'|'p']                           -> vote, last purged log id      |
//!  Cf::State | [p]['a'] / node identity               -> applied id, membership, clock |
//!  Cf::Data  | [p][escaped key][00 00][!commit_ts BE] -> mvcc::Version                 |
//!  Cf::Locks | [p][...]  reserved: transaction locks and intents, lease locks          |
//!  Cf::Txn   | [p][...]  reserved: transaction records                                 |
//!            +-------------------------------------------------------------------------+
//! ```
//!
//! The [`Engine`] trait is deliberately narrow: point reads, ordered range scans (both
//! directions), atomic write batches, a durability barrier ([`Engine::sync`]) and consistent
//! snapshots. Writes are *not* synced individually: the Raft log store appends without fsync
//! and a group-commit thread calls [`Engine::sync`] once for every append that queued up
//! meanwhile (see `raft::sync`). Anything that must survive a crash before it is acknowledged
//! waits for that barrier. The state machines' writes skip the write-ahead log altogether
//! ([`Engine::write_unlogged`]): they can be re-applied from the Raft log, which is only purged
//! after [`Engine::persist`] has moved them to disk.
//!
//! The layer knows nothing of Raft, MVCC or partitions beyond the key prefix helpers in
//! [`keys`]. Both engines pass the same conformance suite (`tests.rs`).

pub mod keys;
mod memory;
mod rocks;
mod staged;
#[cfg(test)]
mod tests;

pub use memory::{Budget, MemoryEngine, OverBudget};
pub use rocks::{RocksEngine, RocksOptions};
pub use staged::Staged;

/// A column family: an independent ordered keyspace inside the engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Cf {
    /// Raft log entries.
    Log,
    /// Raft vote and last purged log id.
    Raft,
    /// State machine metadata (applied log id, membership, clock) and node identity.
    State,
    /// MVCC versions of user keys.
    Data,
    /// Transaction locks, write intents and lease locks (reserved).
    Locks,
    /// Transaction records (reserved).
    Txn,
}

impl Cf {
    /// Every column family, in a fixed order.
    pub const ALL: [Cf; 6] = [Cf::Log, Cf::Raft, Cf::State, Cf::Data, Cf::Locks, Cf::Txn];

    /// The column family's name in RocksDB.
    pub fn name(self) -> &'static str {
        match self {
            Cf::Log => "log",
            Cf::Raft => "raft",
            Cf::State => "state",
            Cf::Data => "data",
            Cf::Locks => "locks",
            Cf::Txn => "txn",
        }
    }

    /// The column families that hold a partition's state machine (what a snapshot carries).
    pub const STATE_MACHINE: [Cf; 3] = [Cf::Data, Cf::Locks, Cf::Txn];
}

/// A storage failure. The node cannot continue safely after most of them.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The engine reported an I/O or internal error.
    #[error("storage engine error: {0}")]
    Engine(String),
    /// Stored bytes could not be decoded.
    #[error("corrupt record in {what}: {detail}")]
    Corrupt {
        /// What was being decoded.
        what: &'static str,
        /// The decoder's complaint.
        detail: String,
    },
}

/// The result type of this layer.
pub type Result<T> = std::result::Result<T, Error>;

/// One write in a [`WriteBatch`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// Store a value.
    Put(Cf, Vec<u8>, Vec<u8>),
    /// Remove a key.
    Delete(Cf, Vec<u8>),
    /// Remove every key in `[from, to)`.
    DeleteRange(Cf, Vec<u8>, Vec<u8>),
}

/// Writes applied atomically, in order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WriteBatch {
    ops: Vec<Op>,
}

impl WriteBatch {
    /// An empty batch.
    pub fn new() -> Self {
        Self::default()
    }

    /// Queues a put.
    pub fn put(&mut self, cf: Cf, key: Vec<u8>, value: Vec<u8>) {
        self.ops.push(Op::Put(cf, key, value));
    }

    /// Queues a delete.
    pub fn delete(&mut self, cf: Cf, key: Vec<u8>) {
        self.ops.push(Op::Delete(cf, key));
    }

    /// Queues the deletion of `[from, to)`.
    pub fn delete_range(&mut self, cf: Cf, from: Vec<u8>, to: Vec<u8>) {
        self.ops.push(Op::DeleteRange(cf, from, to));
    }

    /// The queued writes.
    pub fn ops(&self) -> &[Op] {
        &self.ops
    }

    /// Consumes the batch into its writes.
    pub fn into_ops(self) -> Vec<Op> {
        self.ops
    }

    /// True when nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Appends every write of `other`.
    pub fn extend(&mut self, other: WriteBatch) {
        self.ops.extend(other.ops);
    }
}

/// A key/value pair read from the engine.
pub type KeyValue = (Vec<u8>, Vec<u8>);

/// An ordered stream of pairs from a range scan.
pub type Scan<'a> = Box<dyn Iterator<Item = Result<KeyValue>> + 'a>;

/// Read access, to the live engine or to a consistent snapshot of it.
pub trait Reader {
    /// The value stored at `key`.
    fn get(&self, cf: Cf, key: &[u8]) -> Result<Option<Vec<u8>>>;

    /// Pairs with `from <= key < to`, in ascending key order.
    fn scan(&self, cf: Cf, from: &[u8], to: &[u8]) -> Scan<'_>;

    /// Pairs with `from <= key < to`, in descending key order.
    fn scan_rev(&self, cf: Cf, from: &[u8], to: &[u8]) -> Scan<'_>;
}

/// A storage engine shared by every partition of a node.
pub trait Engine: Reader + Send + Sync + 'static {
    /// Applies `batch` atomically. Not durable until the next [`Engine::sync`].
    fn write(&self, batch: WriteBatch) -> Result<()>;

    /// Makes every write that returned before this call durable (fsync of the write-ahead log).
    /// Writes made with [`Engine::write_unlogged`] are not covered: see [`Engine::persist`].
    fn sync(&self) -> Result<()>;

    /// Applies `batch` atomically, readable at once, but without writing it to the engine's
    /// write-ahead log: a crash may lose it until the next [`Engine::persist`] returns (or the
    /// engine moves it out of memory on its own). After a crash the engine holds a *prefix* of
    /// the unlogged batches, in the order they were written, and every logged write that was synced.
    ///
    /// For writes that can be rebuilt after a crash: the state machine's, which are re-applied
    /// from the Raft log. Engines without a write-ahead log write normally.
    fn write_unlogged(&self, batch: WriteBatch) -> Result<()> {
        self.write(batch)
    }

    /// Makes every write that returned before this call durable, unlogged ones included
    /// (RocksDB: an atomic flush of every column family's memory table). Slow: call it before
    /// dropping what unlogged writes could be rebuilt from, not on a request's path.
    fn persist(&self) -> Result<()> {
        self.sync()
    }

    /// A consistent point-in-time view; writes after this call are invisible through it.
    fn snapshot(&self) -> Box<dyn Reader + '_>;

    /// Makes everything durable and stops background work, before the process exits.
    fn close(&self) -> Result<()> {
        self.sync()
    }
}
