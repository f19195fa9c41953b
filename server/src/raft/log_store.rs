//! The Raft log of one partition, in `Cf::Log`, with vote and pointers in `Cf::Raft`.
//!
//! The newest entries are also kept decoded in memory ([`Tail`]): a leader reads every entry it
//! appends back at least three times soon after (once per follower to replicate it, once to
//! apply it), and serving those reads from memory saves a RocksDB iterator, a seek through the
//! memtable and a decode each. The engine stays the source of truth: the tail only answers a
//! range it holds completely, and is cut before the engine on truncate and purge.
//!
//! With [`LogStore::report_before_sync`] an append is reported to openraft as soon as it is
//! written, and the fsync runs behind it: openraft 0.9 waits for that report before it
//! replicates what it just appended, so reporting after the fsync would put the leader's fsync
//! and the followers' one after another on every write's path. Safety then rests on
//! `raft::network`: no acknowledgement of an append leaves a follower, and none is counted by a
//! leader, before the log it covers is durable on that node (see docs/raft.md).

use std::collections::VecDeque;
use std::fmt::Debug;
use std::ops::{Bound, RangeBounds};
use std::sync::{Arc, Mutex, PoisonError};

use openraft::storage::{LogFlushed, LogState, RaftLogStorage};
use openraft::{OptionalSend, RaftLogReader, StorageIOError, Vote};

use super::{Appends, Entry, LogId, NodeId, StorageError, Syncer, TypeConfig, decode, encode};
use crate::storage::{Cf, Engine, WriteBatch, keys};

const VOTE: u8 = b'v';
const PURGED: u8 = b'p';

/// Most entries the tail keeps per partition.
const TAIL_ENTRIES: usize = 256;
/// Most encoded bytes the tail keeps per partition (a batch entry can carry many values).
const TAIL_BYTES: usize = 1 << 20;

/// The newest appended entries of a partition, decoded, with consecutive indexes.
#[derive(Default)]
struct Tail {
    /// Entries and their encoded sizes, oldest first; indexes are consecutive.
    entries: VecDeque<(Entry, usize)>,
    bytes: usize,
}

impl Tail {
    fn first_index(&self) -> Option<u64> {
        self.entries.front().map(|(e, _)| e.log_id.index)
    }

    fn next_index(&self) -> Option<u64> {
        self.entries.back().map(|(e, _)| e.log_id.index + 1)
    }

    /// Adds freshly appended entries; a gap (never expected) restarts the tail.
    fn push(&mut self, entry: Entry, size: usize) {
        if self.next_index().is_some_and(|next| next != entry.log_id.index) {
            self.clear();
        }
        self.entries.push_back((entry, size));
        self.bytes += size;
        while self.entries.len() > TAIL_ENTRIES || (self.bytes > TAIL_BYTES && self.entries.len() > 1) {
            self.pop_front();
        }
    }

    fn pop_front(&mut self) {
        if let Some((_, size)) = self.entries.pop_front() {
            self.bytes -= size;
        }
    }

    fn clear(&mut self) {
        self.entries.clear();
        self.bytes = 0;
    }

    /// Forgets entries at or after `index` (a truncated suffix).
    fn truncate_from(&mut self, index: u64) {
        while self.entries.back().is_some_and(|(e, _)| e.log_id.index >= index) {
            if let Some((_, size)) = self.entries.pop_back() {
                self.bytes -= size;
            }
        }
    }

    /// Forgets entries at or before `index` (a purged prefix).
    fn purge_upto(&mut self, index: u64) {
        while self.entries.front().is_some_and(|(e, _)| e.log_id.index <= index) {
            self.pop_front();
        }
    }

    /// Entries `start..end` (`end = None`: through the last), if the tail holds all of them.
    fn get(&self, start: u64, end: Option<u64>) -> Option<Vec<Entry>> {
        let (first, next) = (self.first_index()?, self.next_index()?);
        let end = end.unwrap_or(next);
        if start < first || end > next {
            return None;
        }
        let skip = (start - first) as usize;
        Some(self.entries.iter().skip(skip).take(end.saturating_sub(start) as usize).map(|(e, _)| e.clone()).collect())
    }
}

/// A partition's log store. Clones share the engine, the tail, and read the same log.
#[derive(Clone)]
pub struct LogStore {
    partition: u32,
    engine: Arc<dyn Engine>,
    appends: Appends,
    tail: Arc<Mutex<Tail>>,
    report_before_sync: bool,
}

impl LogStore {
    /// The log of `partition` in `engine`, made durable by `syncer`.
    pub fn new(partition: u32, engine: Arc<dyn Engine>, syncer: Syncer) -> Self {
        Self { partition, engine, appends: syncer.appends(), tail: Arc::default(), report_before_sync: false }
    }

    /// The partition's handle on the sync thread, for waiting until its appends are durable.
    pub fn appends(&self) -> Appends {
        self.appends.clone()
    }

    /// Reports appends to openraft once written instead of once durable (see the module doc).
    /// Only for groups with more than one voter, whose commits need an acknowledgement that
    /// `raft::network` holds back until the log is durable; a lone voter commits on its own
    /// report.
    pub fn report_before_sync(mut self, enabled: bool) -> Self {
        self.report_before_sync = enabled;
        self
    }

    fn tail(&self) -> std::sync::MutexGuard<'_, Tail> {
        self.tail.lock().unwrap_or_else(PoisonError::into_inner)
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

    /// `range` as `start..end` (`end = None`: unbounded); `None` when it is empty.
    fn bounds(range: impl RangeBounds<u64>) -> Option<(u64, Option<u64>)> {
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
        match end {
            Some(e) if e <= start => None,
            _ => Some((start, end)),
        }
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
        let Some((start, end)) = Self::bounds(range) else { return Ok(Vec::new()) };
        if let Some(entries) = self.tail().get(start, end) {
            return Ok(entries);
        }
        let from = self.entry_key(start);
        let to = end.map_or_else(|| keys::partition_range(self.partition).1, |e| self.entry_key(e));
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
        self.appends.barrier().await.map_err(|e| io(&e))
    }

    async fn read_vote(&mut self) -> Result<Option<Vote<NodeId>>, StorageError> {
        self.read_meta(VOTE).map_err(|e| StorageIOError::read_vote(&e).into())
    }

    // `save_committed` is left out on purpose: it would cost a write per commit, and a node
    // restarting on an older applied state never serves reads from it — only a leader serves
    // reads, and only after applying its own term's first entry and the whole log it took the
    // lead with (`partition::reads`), by which time it re-applied every committed entry from the
    // durable log.

    async fn append<I>(&mut self, entries: I, callback: LogFlushed<TypeConfig>) -> Result<(), StorageError>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut b = WriteBatch::new();
        let mut appended = Vec::new();
        for entry in entries {
            let bytes = encode(&entry);
            let size = bytes.len();
            b.put(Cf::Log, self.entry_key(entry.log_id.index), bytes);
            appended.push((entry, size));
        }
        // Readable now; durable when the sync thread calls back.
        self.engine.write(b).map_err(write_err)?;
        let mut tail = self.tail();
        for (entry, size) in appended {
            tail.push(entry, size);
        }
        drop(tail);
        if self.report_before_sync {
            self.appends.written();
            callback.log_io_completed(Ok(()));
        } else {
            self.appends.flushed(callback);
        }
        Ok(())
    }

    async fn truncate(&mut self, log_id: LogId) -> Result<(), StorageError> {
        self.tail().truncate_from(log_id.index);
        let mut b = WriteBatch::new();
        b.delete_range(Cf::Log, self.entry_key(log_id.index), keys::partition_range(self.partition).1);
        self.engine.write(b).map_err(write_err)
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), StorageError> {
        // The state machine writes that these entries produced must be durable before the
        // entries go. They are unlogged (`Engine::write_unlogged`), so a WAL sync is not enough:
        // persist (which syncs too) flushes them out of memory, off the runtime thread.
        let purge_err = |e: String| -> StorageError { StorageIOError::write_logs(openraft::AnyError::error(e)).into() };
        let engine = self.engine.clone();
        tokio::task::spawn_blocking(move || engine.persist())
            .await
            .map_err(|e| purge_err(e.to_string()))?
            .map_err(|e| purge_err(e.to_string()))?;
        self.tail().purge_upto(log_id.index);
        let mut b = WriteBatch::new();
        b.put(Cf::Raft, self.meta_key(PURGED), encode(&log_id));
        b.delete_range(Cf::Log, self.entry_key(0), self.entry_key(log_id.index + 1));
        self.engine.write(b).map_err(write_err)?;
        tracing::debug!(partition = self.partition, upto = log_id.index, "purged log");
        Ok(())
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

    fn entry(index: u64) -> Entry {
        Entry {
            log_id: openraft::LogId::new(openraft::CommittedLeaderId::new(1, 1), index),
            payload: openraft::EntryPayload::Blank,
        }
    }

    fn indexes(entries: Option<Vec<Entry>>) -> Option<Vec<u64>> {
        entries.map(|v| v.iter().map(|e| e.log_id.index).collect())
    }

    #[test]
    fn the_tail_answers_only_ranges_it_holds_completely() {
        let mut tail = Tail::default();
        assert_eq!(indexes(tail.get(0, None)), None, "an empty tail answers nothing");
        for i in 5..10 {
            tail.push(entry(i), 10);
        }
        assert_eq!(indexes(tail.get(5, Some(10))), Some(vec![5, 6, 7, 8, 9]));
        assert_eq!(indexes(tail.get(7, None)), Some(vec![7, 8, 9]));
        assert_eq!(indexes(tail.get(6, Some(8))), Some(vec![6, 7]));
        assert_eq!(indexes(tail.get(4, Some(8))), None, "index 4 is only in the engine");
        assert_eq!(indexes(tail.get(8, Some(11))), None, "index 10 does not exist yet");

        // A truncated suffix and a purged prefix leave the tail.
        tail.truncate_from(8);
        assert_eq!(indexes(tail.get(5, None)), Some(vec![5, 6, 7]));
        assert_eq!(indexes(tail.get(5, Some(9))), None);
        tail.purge_upto(5);
        assert_eq!(indexes(tail.get(5, None)), None);
        assert_eq!(indexes(tail.get(6, None)), Some(vec![6, 7]));
        assert_eq!(tail.bytes, 20);

        // Appending after the truncation continues; a gap or an overlap restarts the tail.
        tail.push(entry(8), 10);
        assert_eq!(indexes(tail.get(6, None)), Some(vec![6, 7, 8]));
        tail.push(entry(20), 10);
        assert_eq!(indexes(tail.get(20, None)), Some(vec![20]));
        assert_eq!(indexes(tail.get(8, None)), None);
        tail.push(entry(20), 10);
        assert_eq!(indexes(tail.get(20, None)), Some(vec![20]));
        assert_eq!(tail.bytes, 10);
    }

    #[test]
    fn the_tail_keeps_a_bounded_number_of_entries_and_bytes() {
        let mut tail = Tail::default();
        for i in 0..(TAIL_ENTRIES as u64 + 10) {
            tail.push(entry(i), 1);
        }
        assert_eq!(tail.entries.len(), TAIL_ENTRIES);
        assert_eq!(tail.first_index(), Some(10));
        tail.push(entry(TAIL_ENTRIES as u64 + 10), TAIL_BYTES);
        assert_eq!(tail.entries.len(), 1, "one huge entry pushes the others out");
        tail.push(entry(TAIL_ENTRIES as u64 + 11), TAIL_BYTES);
        assert_eq!(tail.entries.len(), 1, "and is itself pushed out by the next");
        assert_eq!(tail.bytes, TAIL_BYTES);
    }

    /// The store reads back through the tail what it wrote to the engine, also after a restart
    /// (empty tail) and across truncation and purge.
    #[test]
    fn reads_agree_with_the_engine_with_and_without_the_tail() {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        rt.block_on(async {
            let engine: Arc<dyn Engine> = Arc::new(MemoryEngine::new());
            let mut store = LogStore::new(3, engine.clone(), Syncer::start(engine.clone()));
            let mut b = WriteBatch::new();
            for i in 1..=20 {
                b.put(Cf::Log, store.entry_key(i), encode(&entry(i)));
            }
            engine.write(b).unwrap();
            for i in 15..=20 {
                store.tail().push(entry(i), 10);
            }
            store.truncate(entry(18).log_id).await.unwrap();
            store.purge(entry(3).log_id).await.unwrap();
            let fresh = LogStore::new(3, engine.clone(), Syncer::start(engine.clone()));
            for range in [(4, 18), (15, 17), (15, 18), (16, 30), (1, 5), (10, 16)] {
                let cached = store.clone().try_get_log_entries(range.0..range.1).await.unwrap();
                let read = fresh.clone().try_get_log_entries(range.0..range.1).await.unwrap();
                let expected: Vec<u64> = (range.0.max(4)..range.1.min(18)).collect();
                assert_eq!(indexes(Some(cached)), Some(expected.clone()), "range {range:?} with the tail");
                assert_eq!(indexes(Some(read)), Some(expected), "range {range:?} from the engine");
            }
            let open_ended = store.clone().try_get_log_entries(16..).await.unwrap();
            assert_eq!(indexes(Some(open_ended)), Some(vec![16, 17]), "the truncated suffix is gone from the tail");
        });
    }

    /// openraft's own conformance suite for log stores and state machines.
    #[test]
    fn passes_the_openraft_storage_suite() {
        openraft::testing::Suite::test_all(Builder).unwrap();
    }
}
