//! The Ephemeral keyspace: per-partition MVCC data in the leader's memory only.
//!
//! The same `mvcc` rules as Persistent keys, over a `MemoryEngine` per partition. Every access
//! first confirms the leader lease (`Partition::ensure_lease`): a leader cut off by a network
//! partition stops serving before any new leader can be elected, so there is never a second
//! writer. The store remembers the term it was filled in: a new term (or the loss of
//! leadership) empties it, since the data died with the previous leadership.
//!
//! Memory cap: every partition's store charges what it holds to one node-wide [`Budget`]
//! (`limits.max_ephemeral_mb`). A write that would add bytes past the cap is refused with
//! `ResourceExhausted` and leaves nothing behind; writes that free memory (deletes, unlocks,
//! the sweep) are always admitted, so a full store can be emptied. Under pressure (at or above
//! [`PRESSURE`] of the cap) a dead key's history is not kept for `tombstone_retention`: a delete
//! purges the key at once, and the sweep purges keys that expired, so that deleting and expiring
//! make room now rather than ten minutes later. Such a key's revision counter starts again,
//! exactly as after the sweep's normal purge.

use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use tokio::sync::Notify;

use super::{Error, Service};
use crate::storage::{Budget, Engine, MemoryEngine, OverBudget, Staged};

/// Whether an Ephemeral write is subject to the node's memory cap.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Admit {
    /// Refused if it adds bytes past the cap (sets, extends, lock grants).
    WithinCap,
    /// Always applied: it frees memory, or records that something was freed (deletes write a
    /// small tombstone, unlocks, the sweep's purges).
    Always,
}

struct Inner {
    term: u64,
    engine: MemoryEngine,
}

/// How often a node logs that it refuses writes at the cap, at most.
const FULL_LOG_EVERY: Duration = Duration::from_secs(10);

/// The share of the cap (numerator, denominator) from which the store is under pressure.
pub(super) const PRESSURE: (u64, u64) = (3, 4);

/// A node's Ephemeral keyspace: one store per partition, the budget they share, and what a
/// refused write sets off.
pub(super) struct Keyspace {
    stores: Vec<Store>,
    budget: Arc<Budget>,
    /// When a refused write was last logged.
    full_logged: Mutex<Option<Instant>>,
    /// Woken by each refused write: the sweep then purges expired keys early (`sweep`).
    pub(super) refused: Arc<Notify>,
}

impl Keyspace {
    /// Empty stores for `partitions` partitions, capped together at `cap` bytes (0 = no cap).
    pub(super) fn new(partitions: usize, cap: u64) -> Keyspace {
        let budget = Arc::new(Budget::new(cap));
        Keyspace {
            stores: (0..partitions).map(|_| Store::new(budget.clone())).collect(),
            budget,
            full_logged: Mutex::new(None),
            refused: Arc::default(),
        }
    }

    fn store(&self, partition: u32) -> &Store {
        &self.stores[partition as usize]
    }
}

/// One partition's Ephemeral data.
struct Store {
    inner: Mutex<Inner>,
    /// Serializes writers: a write's timestamp and its data land together.
    writer: Mutex<()>,
}

impl Store {
    /// A partition's empty store, charging what it holds to the node's `budget`.
    fn new(budget: Arc<Budget>) -> Store {
        Store {
            inner: Mutex::new(Inner { term: 0, engine: MemoryEngine::with_budget(budget) }),
            writer: Mutex::new(()),
        }
    }

    /// The engine for `term`, emptied first if it holds another term's data.
    fn engine_for(&self, term: u64) -> MemoryEngine {
        let mut inner = self.inner.lock();
        if inner.term != term {
            inner.engine.clear();
            inner.term = term;
        }
        inner.engine.clone()
    }

    fn clear(&self) {
        let mut inner = self.inner.lock();
        inner.engine.clear();
        inner.term = 0;
    }
}

impl Service {
    /// Runs a write against partition `p`'s Ephemeral data at a fresh timestamp (and the
    /// leader's term). With [`Admit::WithinCap`], a write that would take the node's Ephemeral
    /// memory past its cap fails with `ResourceExhausted` and writes nothing.
    pub(super) async fn ephemeral_write<T>(
        &self,
        partition: u32,
        admit: Admit,
        write: impl FnOnce(&mut Staged<'_>, u64, u64) -> crate::storage::Result<T>,
    ) -> Result<T, Error> {
        let leadership = self.cluster.partition(partition).ensure_lease().await?;
        let store = self.ephemeral.store(partition);
        // One writer at a time per partition: the timestamp and the write are atomic together,
        // so a snapshot read at T never misses a write stamped at or below T.
        let _writer = store.writer.lock();
        let engine = store.engine_for(leadership.term);
        let ts = self.clock.now();
        let mut staged = Staged::new(&engine);
        let out = write(&mut staged, ts, leadership.term)?;
        let batch = staged.into_batch();
        match admit {
            Admit::WithinCap => engine.write_capped(batch).map_err(|o| self.refused(o))?,
            Admit::Always => engine.write(batch)?,
        }
        Ok(out)
    }

    /// Runs a read against partition `p`'s Ephemeral data; `now` judges expiry.
    pub(super) async fn ephemeral_read<T>(
        &self,
        partition: u32,
        read: impl FnOnce(&MemoryEngine, u64, u64) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let leadership = self.cluster.partition(partition).ensure_lease().await?;
        let engine = self.ephemeral.store(partition).engine_for(leadership.term);
        read(&engine, self.clock.now(), leadership.term)
    }

    /// What the node's Ephemeral data takes: (bytes used, cap in bytes; 0 = no cap).
    pub fn ephemeral_usage(&self) -> (u64, u64) {
        (self.ephemeral.budget.used(), self.ephemeral.budget.cap())
    }

    /// True when the node's Ephemeral data takes [`PRESSURE`] of its cap or more: dead keys are
    /// then purged at once instead of after `tombstone_retention`.
    pub(super) fn ephemeral_under_pressure(&self) -> bool {
        let b = &self.ephemeral.budget;
        b.cap() > 0 && b.used().saturating_mul(PRESSURE.1) >= b.cap().saturating_mul(PRESSURE.0)
    }

    /// The Ephemeral engine of `partition` if this node's store holds data of `term`.
    pub(super) fn ephemeral_engine(&self, partition: u32, term: u64) -> MemoryEngine {
        self.ephemeral.store(partition).engine_for(term)
    }

    /// The error of a write refused at the memory cap; logs a warning at most every 10 s.
    fn refused(&self, o: OverBudget) -> Error {
        let ephemeral = &self.ephemeral;
        ephemeral.refused.notify_one();
        let log = {
            let mut last = ephemeral.full_logged.lock();
            let due = last.is_none_or(|t| t.elapsed() >= FULL_LOG_EVERY);
            if due {
                *last = Some(Instant::now());
            }
            due
        };
        if log {
            tracing::warn!(
                used_bytes = o.used,
                cap_bytes = o.cap,
                "the Ephemeral store is full: writes that add data are refused (limits.max_ephemeral_mb)"
            );
        }
        full(o)
    }
}

/// The error of a write refused at the memory cap.
fn full(o: OverBudget) -> Error {
    const MIB: u64 = 1 << 20;
    Error::ResourceExhausted(format!(
        "this node's Ephemeral store is full: it holds {} MiB, the cap (limits.max_ephemeral_mb) is {} MiB, and \
         the write needs {} more bytes; nothing was written. Delete keys, let TTLs expire, write with \
         no_revision, or raise the cap",
        o.used / MIB,
        o.cap / MIB,
        o.needed
    ))
}

/// Empties a partition's Ephemeral data as soon as this node stops leading it.
pub(super) fn drop_on_leadership_loss(service: &Arc<Service>) {
    for p in service.cluster.partitions() {
        let mut leadership = p.watch_leadership();
        let weak: Weak<Service> = Arc::downgrade(service);
        let partition = p.id();
        tokio::spawn(async move {
            while leadership.changed().await.is_ok() {
                let l = *leadership.borrow_and_update();
                let Some(service) = weak.upgrade() else { break };
                if !l.is_self {
                    service.ephemeral.store(partition).clear();
                }
            }
        });
    }
}
