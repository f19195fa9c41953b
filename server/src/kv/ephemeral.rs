//! The Ephemeral keyspace: per-partition MVCC data in the leader's memory only.
//!
//! The same `mvcc` rules as Persistent keys, over a `MemoryEngine` per partition. Every access
//! first confirms the leader lease (`Partition::ensure_lease`): a leader cut off by a network
//! partition stops serving before any new leader can be elected, so there is never a second
//! writer. The store remembers the term it was filled in: a new term (or the loss of
//! leadership) empties it, since the data died with the previous leadership.

use std::sync::{Arc, Weak};

use parking_lot::Mutex;

use super::{Error, Service};
use crate::storage::{Engine, MemoryEngine, Staged};

struct Inner {
    term: u64,
    engine: MemoryEngine,
}

/// One partition's Ephemeral data.
pub(super) struct Store {
    inner: Mutex<Inner>,
    /// Serializes writers: a write's timestamp and its data land together.
    writer: Mutex<()>,
}

impl Store {
    pub(super) fn new(_partition: u32) -> Store {
        Store { inner: Mutex::new(Inner { term: 0, engine: MemoryEngine::new() }), writer: Mutex::new(()) }
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
    /// leader's term).
    pub(super) async fn ephemeral_write<T>(
        &self,
        partition: u32,
        write: impl FnOnce(&mut Staged<'_>, u64, u64) -> crate::storage::Result<T>,
    ) -> Result<T, Error> {
        let leadership = self.cluster.partition(partition).ensure_lease().await?;
        let store = &self.ephemeral[partition as usize];
        // One writer at a time per partition: the timestamp and the write are atomic together,
        // so a snapshot read at T never misses a write stamped at or below T.
        let _writer = store.writer.lock();
        let engine = store.engine_for(leadership.term);
        let ts = self.clock.now();
        let mut staged = Staged::new(&engine);
        let out = write(&mut staged, ts, leadership.term)?;
        let batch = staged.into_batch();
        engine.write(batch)?;
        Ok(out)
    }

    /// Runs a read against partition `p`'s Ephemeral data; `now` judges expiry.
    pub(super) async fn ephemeral_read<T>(
        &self,
        partition: u32,
        read: impl FnOnce(&MemoryEngine, u64, u64) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let leadership = self.cluster.partition(partition).ensure_lease().await?;
        let engine = self.ephemeral[partition as usize].engine_for(leadership.term);
        read(&engine, self.clock.now(), leadership.term)
    }

    /// The Ephemeral engine of `partition` if this node's store holds data of `term`.
    pub(super) fn ephemeral_engine(&self, partition: u32, term: u64) -> MemoryEngine {
        self.ephemeral[partition as usize].engine_for(term)
    }
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
                    service.ephemeral[partition as usize].clear();
                }
            }
        });
    }
}
