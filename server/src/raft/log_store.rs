//! The Raft log of one partition, in `Cf::Log`, with vote and pointers in `Cf::Raft`.

use std::fmt::Debug;
use std::ops::{Bound, RangeBounds};
use std::sync::Arc;

use openraft::storage::{LogFlushed, LogState, RaftLogStorage};
use openraft::{OptionalSend, RaftLogReader, StorageIOError, Vote};

use super::{Entry, LogId, NodeId, StorageError, Syncer, TypeConfig, decode, encode};
use crate::storage::{Cf, Engine, WriteBatch, keys};

const VOTE: u8 = b'v';
const PURGED: u8 = b'p';

/// A partition's log store. Clones share the engine and read the same log.
#[derive(Clone)]
pub struct LogStore {
    partition: u32,
    engine: Arc<dyn Engine>,
    syncer: Syncer,
}

impl LogStore {
    /// The log of `partition` in `engine`, made durable by `syncer`.
    pub fn new(partition: u32, engine: Arc<dyn Engine>, syncer: Syncer) -> Self {
        Self { partition, engine, syncer }
    }

    fn entry_key(&self, index: u64) -> Vec<u8> {
        keys::prefixed(self.partition, &index.to_be_bytes())
    }

    fn meta_key(&self, which: u8) -> Vec<u8> {
        keys::prefixed(self.partition, &[which])
    }

    fn read_meta<T: serde::de::DeserializeOwned>(&self, which: u8) -> Result<Option<T>, crate::storage::Error> {
        match self.engine.get(Cf::Raft, &self.meta_key(which))? {
            None => Ok(None),
            Some(bytes) => decode("raft metadata", &bytes).map(Some),
        }
    }

    fn bounds(&self, range: impl RangeBounds<u64>) -> Option<(Vec<u8>, Vec<u8>)> {
        let start = match range.start_bound() {
            Bound::Included(&i) => i,
            Bound::Excluded(&i) => i.checked_add(1)?,
            Bound::Unbounded => 0,
        };
        let end = match range.end_bound() {
            Bound::Included(&i) => i.checked_add(1),
            Bound::Excluded(&i) => Some(i),
            Bound::Unbounded => None,
        };
        let to = match end {
            Some(e) if e <= start => return None,
            Some(e) => self.entry_key(e),
            None => keys::partition_range(self.partition).1,
        };
        Some((self.entry_key(start), to))
    }
}

fn read_err(e: impl std::error::Error + 'static) -> StorageError {
    StorageIOError::read_logs(&e).into()
}

fn write_err(e: impl std::error::Error + 'static) -> StorageError {
    StorageIOError::write_logs(&e).into()
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, StorageError> {
        let Some((from, to)) = self.bounds(range) else { return Ok(Vec::new()) };
        let mut entries = Vec::new();
        for item in self.engine.scan(Cf::Log, &from, &to) {
            let (_, bytes) = item.map_err(read_err)?;
            entries.push(decode::<Entry>("raft log entry", &bytes).map_err(read_err)?);
        }
        Ok(entries)
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = Self;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError> {
        let last_purged: Option<LogId> = self.read_meta(PURGED).map_err(read_err)?;
        let (from, to) = keys::partition_range(self.partition);
        let last = match self.engine.scan_rev(Cf::Log, &from, &to).next() {
            None => last_purged,
            Some(item) => {
                let (_, bytes) = item.map_err(read_err)?;
                Some(decode::<Entry>("raft log entry", &bytes).map_err(read_err)?.log_id)
            }
        };
        Ok(LogState { last_purged_log_id: last_purged, last_log_id: last })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote<NodeId>) -> Result<(), StorageError> {
        let mut b = WriteBatch::new();
        b.put(Cf::Raft, self.meta_key(VOTE), encode(vote));
        let io = |e: &dyn std::fmt::Display| -> StorageError {
            StorageIOError::write_vote(openraft::AnyError::error(e.to_string())).into()
        };
        self.engine.write(b).map_err(|e| io(&e))?;
        // A vote must be durable before it is acted on; votes are rare, so sync in place.
        self.syncer.barrier().await.map_err(|e| io(&e))
    }

    async fn read_vote(&mut self) -> Result<Option<Vote<NodeId>>, StorageError> {
        self.read_meta(VOTE).map_err(|e| StorageIOError::read_vote(&e).into())
    }

    // `save_committed` is left out on purpose: it would cost a write per commit, and a node
    // restarting on an older applied state never serves reads from it — only a leader serves
    // reads, and only after applying its own term's first entry, by which time it re-applied
    // every committed entry from the durable log.

    async fn append<I>(&mut self, entries: I, callback: LogFlushed<TypeConfig>) -> Result<(), StorageError>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut b = WriteBatch::new();
        for entry in entries {
            b.put(Cf::Log, self.entry_key(entry.log_id.index), encode(&entry));
        }
        // Readable now; durable when the sync thread calls back.
        self.engine.write(b).map_err(write_err)?;
        self.syncer.flushed(callback);
        Ok(())
    }

    async fn truncate(&mut self, log_id: LogId) -> Result<(), StorageError> {
        let mut b = WriteBatch::new();
        b.delete_range(Cf::Log, self.entry_key(log_id.index), keys::partition_range(self.partition).1);
        self.engine.write(b).map_err(write_err)
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), StorageError> {
        // The state machine writes that these entries produced must be durable before the
        // entries go: sync first.
        self.syncer
            .barrier()
            .await
            .map_err(|e| -> StorageError { StorageIOError::write_logs(openraft::AnyError::error(e)).into() })?;
        let mut b = WriteBatch::new();
        b.put(Cf::Raft, self.meta_key(PURGED), encode(&log_id));
        b.delete_range(Cf::Log, self.entry_key(0), self.entry_key(log_id.index + 1));
        self.engine.write(b).map_err(write_err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::MemoryEngine;
    use openraft::testing::StoreBuilder;

    struct Builder;

    impl StoreBuilder<TypeConfig, LogStore, crate::raft::StateMachine, tempfile::TempDir> for Builder {
        async fn build(&self) -> Result<(tempfile::TempDir, LogStore, crate::raft::StateMachine), StorageError> {
            let dir = tempfile::tempdir().unwrap();
            let engine: Arc<dyn Engine> = Arc::new(MemoryEngine::new());
            let syncer = Syncer::start(engine.clone());
            let log = LogStore::new(3, engine.clone(), syncer);
            let sm = crate::raft::StateMachine::open(crate::raft::StateMachineConfig {
                partition: 3,
                engine,
                clock: Arc::new(crate::hlc::Clock::new(std::time::Duration::from_secs(5))),
                retention: 16,
                snapshot_dir: dir.path().to_path_buf(),
            })
            .unwrap();
            Ok((dir, log, sm))
        }
    }

    /// openraft's own conformance suite for log stores and state machines.
    #[test]
    fn passes_the_openraft_storage_suite() {
        openraft::testing::Suite::test_all(Builder).unwrap();
    }
}
