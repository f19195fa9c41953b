//! The state machine of one partition: applies commands to MVCC data in the node's engine.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use openraft::storage::{RaftStateMachine, Snapshot};
use openraft::{EntryPayload, OptionalSend, RaftSnapshotBuilder, SnapshotMeta, StorageIOError};
use serde::{Deserialize, Serialize};

use super::command::{Batch, BatchResponse, Command, CommandResult};
use super::{Entry, LogId, NodeId, StorageError, StoredMembership, TypeConfig, decode, encode, snapshot};
use crate::hlc::{self, Clock};
use crate::locks;
use crate::mvcc;
use crate::storage::{Cf, Engine, Staged, keys};

const APPLIED: u8 = b'a';
const SNAPSHOT: u8 = b's';
/// Keys whose heads a partition keeps in memory: about 300 bytes each with the default
/// retention (16 versions), so at most ~2.5 MiB per partition.
const HEADS_PER_PARTITION: usize = 8_192;

/// What the state machine has applied, stored with the data it describes.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct AppliedState {
    last_applied: Option<LogId>,
    membership: StoredMembership,
    /// The commit timestamp of the last applied command.
    last_ts: u64,
}

/// The snapshot that [`RaftStateMachine::get_current_snapshot`] returns.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct CurrentSnapshot {
    meta: SnapshotMeta<NodeId, openraft::BasicNode>,
    file: String,
}

/// Construction arguments of a [`StateMachine`].
pub struct StateMachineConfig {
    /// The partition id.
    pub partition: u32,
    /// The node's engine.
    pub engine: Arc<dyn Engine>,
    /// The node's clock, moved forward by every applied timestamp.
    pub clock: Arc<Clock>,
    /// Versions kept per key.
    pub retention: usize,
    /// Where this partition's snapshot files live.
    pub snapshot_dir: PathBuf,
}

/// What readers of a partition may see of its state machine without going through Raft.
pub struct StateView {
    /// The partition id.
    pub partition: u32,
    /// The engine holding the partition's data.
    pub engine: Arc<dyn Engine>,
    last_ts: AtomicU64,
    /// Log entries and commands applied since the node started (for metrics).
    applied: [AtomicU64; 2],
}

impl StateView {
    /// The commit timestamp of the last applied command: no later command commits at or below it.
    pub fn last_ts(&self) -> u64 {
        self.last_ts.load(Ordering::Acquire)
    }

    /// Log entries and the commands in them applied since the node started.
    pub fn applied(&self) -> (u64, u64) {
        (self.applied[0].load(Ordering::Relaxed), self.applied[1].load(Ordering::Relaxed))
    }
}

/// A partition's state machine.
pub struct StateMachine {
    partition: u32,
    engine: Arc<dyn Engine>,
    clock: Arc<Clock>,
    retention: usize,
    dir: PathBuf,
    state: AppliedState,
    view: Arc<StateView>,
    /// What writes need of the recently written keys, so they skip the storage seek. Cleared
    /// whenever the data changes outside `apply_batch` (snapshot install) or a batch fails.
    heads: mvcc::Heads,
    /// Serializes updates of the current-snapshot record between builder and installer.
    snapshot_lock: Arc<tokio::sync::Mutex<()>>,
    receiving: Option<PathBuf>,
}

fn sm_read_err(e: impl std::fmt::Display) -> StorageError {
    StorageIOError::read_state_machine(openraft::AnyError::error(e.to_string())).into()
}

fn sm_write_err(e: impl std::fmt::Display) -> StorageError {
    StorageIOError::write_state_machine(openraft::AnyError::error(e.to_string())).into()
}

fn snap_err(e: impl std::fmt::Display) -> StorageError {
    StorageIOError::write_snapshot(None, openraft::AnyError::error(e.to_string())).into()
}

fn meta_key(partition: u32, which: u8) -> Vec<u8> {
    keys::prefixed(partition, &[which])
}

impl StateMachine {
    /// Loads the state machine of `config.partition` from the engine.
    pub fn open(config: StateMachineConfig) -> crate::storage::Result<Self> {
        std::fs::create_dir_all(&config.snapshot_dir)
            .map_err(|e| crate::storage::Error::Engine(format!("creating {}: {e}", config.snapshot_dir.display())))?;
        let state: AppliedState = match config.engine.get(Cf::State, &meta_key(config.partition, APPLIED))? {
            Some(bytes) => decode("applied state", &bytes)?,
            None => AppliedState::default(),
        };
        config.clock.observe(state.last_ts);
        let view = Arc::new(StateView {
            partition: config.partition,
            engine: config.engine.clone(),
            last_ts: AtomicU64::new(state.last_ts),
            applied: Default::default(),
        });
        Ok(Self {
            partition: config.partition,
            engine: config.engine,
            clock: config.clock,
            retention: config.retention.max(1),
            dir: config.snapshot_dir,
            state,
            view,
            heads: mvcc::Heads::new(HEADS_PER_PARTITION),
            snapshot_lock: Arc::new(tokio::sync::Mutex::new(())),
            receiving: None,
        })
    }

    /// The read-only view shared with the partition's readers.
    pub fn view(&self) -> Arc<StateView> {
        self.view.clone()
    }

    fn apply_batch(&mut self, st: &mut Staged<'_>, batch: Batch, term: u64) -> crate::storage::Result<BatchResponse> {
        let mut results = Vec::with_capacity(batch.commands.len());
        for command in batch.commands {
            let ts = batch.ts.max(self.state.last_ts + 1);
            self.state.last_ts = ts;
            let expiry = |ms: u64| hlc::ttl_expiry(ts, ms);
            let p = self.partition;
            let result = match command {
                Command::Set { key, value, expires_ms, condition, no_revision } => {
                    let args = mvcc::SetArgs {
                        key: &key,
                        value: &value,
                        expires_at: expiry(expires_ms),
                        condition: &condition,
                        no_revision,
                    };
                    let o = mvcc::set(st, &mut self.heads, p, &args, ts, self.retention)?;
                    CommandResult::Write { applied: o.applied, revision: o.revision, ts }
                }
                Command::Delete { key } => {
                    let o = mvcc::delete(st, &mut self.heads, p, &key, ts, self.retention)?;
                    CommandResult::Write { applied: o.applied, revision: o.revision, ts }
                }
                Command::Extend { key, expires_ms } => {
                    let o = mvcc::extend(st, &mut self.heads, p, &key, expiry(expires_ms.max(1)), ts)?;
                    CommandResult::Write { applied: o.applied, revision: o.revision, ts }
                }
                Command::Advance { ts: target } => {
                    self.state.last_ts = self.state.last_ts.max(target);
                    CommandResult::Advanced { ts: self.state.last_ts }
                }
                Command::PurgeDead { keys, dead_before } => {
                    let mut count = 0;
                    for key in keys {
                        count += u64::from(mvcc::purge_dead(st, &mut self.heads, p, &key, dead_before.min(ts))?);
                    }
                    CommandResult::Purged { count }
                }
                Command::Lock { resource, owner, expires_ms, guard_ms } => {
                    let at = locks::At { ts, term, guard_ms };
                    CommandResult::Lock(locks::lock(st, p, &resource, &owner, expires_ms, at)?)
                }
                Command::ExtendLock { resource, owner, expires_ms, guard_ms } => {
                    let at = locks::At { ts, term, guard_ms };
                    CommandResult::Lock(locks::extend(st, p, &resource, &owner, expires_ms, at)?)
                }
                Command::Unlock { resource, owner } => CommandResult::Lock(locks::unlock(st, p, &resource, &owner)?),
                Command::PurgeVersions { keys, before } => {
                    let mut count = 0;
                    for key in keys {
                        count += mvcc::purge_versions_before(st, &mut self.heads, p, &key, before.min(ts))? as u64;
                    }
                    CommandResult::Purged { count }
                }
            };
            results.push(result);
        }
        Ok(BatchResponse(results))
    }

    /// Applies `entries` in one staged batch and writes it.
    #[allow(clippy::result_large_err, reason = "openraft's error type, which `apply` returns as is")]
    fn apply_entries(&mut self, entries: impl IntoIterator<Item = Entry>) -> Result<Vec<BatchResponse>, StorageError> {
        let engine = self.engine.clone();
        let mut st = Staged::new(&*engine);
        let mut responses = Vec::new();
        let mut commands = 0;
        for entry in entries {
            self.state.last_applied = Some(entry.log_id);
            let response = match entry.payload {
                EntryPayload::Blank => BatchResponse::default(),
                EntryPayload::Normal(batch) => {
                    commands += batch.commands.len() as u64;
                    let term = entry.log_id.leader_id.term;
                    self.apply_batch(&mut st, batch, term).map_err(|e| StorageIOError::apply(entry.log_id, &e))?
                }
                EntryPayload::Membership(m) => {
                    self.state.membership = StoredMembership::new(Some(entry.log_id), m);
                    BatchResponse::default()
                }
            };
            responses.push(response);
        }
        st.put(Cf::State, meta_key(self.partition, APPLIED), encode(&self.state));
        let batch = st.into_batch();
        // Unlogged: after a crash these entries are applied again from the Raft log, which
        // keeps them until `LogStore::purge` has persisted this write.
        engine.write_unlogged(batch).map_err(sm_write_err)?;
        self.clock.observe(self.state.last_ts);
        self.view.last_ts.store(self.state.last_ts, Ordering::Release);
        self.view.applied[0].fetch_add(responses.len() as u64, Ordering::Relaxed);
        self.view.applied[1].fetch_add(commands, Ordering::Relaxed);
        Ok(responses)
    }

    fn snapshot_path(&self, file: &str) -> PathBuf {
        self.dir.join(file)
    }
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotBuilder = SnapshotBuilder;

    async fn applied_state(&mut self) -> Result<(Option<LogId>, StoredMembership), StorageError> {
        Ok((self.state.last_applied, self.state.membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<BatchResponse>, StorageError>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let applied = self.apply_entries(entries);
        if applied.is_err() {
            // The heads already describe the failed batch's writes, which never reached storage.
            self.heads.clear();
        }
        applied
    }

    async fn get_snapshot_builder(&mut self) -> SnapshotBuilder {
        SnapshotBuilder {
            partition: self.partition,
            engine: self.engine.clone(),
            dir: self.dir.clone(),
            lock: self.snapshot_lock.clone(),
        }
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<tokio::fs::File>, StorageError> {
        let path = self.dir.join(format!("incoming-{}.part", rand::random::<u64>()));
        // Read and write: install_snapshot reads back what openraft wrote into it.
        let file = tokio::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .await
            .map_err(|e| snap_err(format!("{}: {e}", path.display())))?;
        if let Some(old) = self.receiving.replace(path) {
            let _ = std::fs::remove_file(old);
        }
        Ok(Box::new(file))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta<NodeId, openraft::BasicNode>,
        mut snapshot: Box<tokio::fs::File>,
    ) -> Result<(), StorageError> {
        use tokio::io::{AsyncSeekExt, AsyncWriteExt};
        // Copy whatever the handle holds into place: it is usually our `incoming` file, but
        // openraft may hand over any snapshot file.
        let file = format!("{}.snap", meta.snapshot_id);
        let path = self.snapshot_path(&file);
        let tmp = path.with_extension("tmp");
        snapshot.flush().await.map_err(snap_err)?;
        snapshot.seek(std::io::SeekFrom::Start(0)).await.map_err(snap_err)?;
        let mut out = tokio::fs::File::create(&tmp).await.map_err(snap_err)?;
        tokio::io::copy(&mut *snapshot, &mut out).await.map_err(snap_err)?;
        out.sync_all().await.map_err(snap_err)?;
        drop((snapshot, out));
        std::fs::rename(&tmp, &path).map_err(snap_err)?;
        if let Some(incoming) = self.receiving.take() {
            let _ = std::fs::remove_file(incoming);
        }
        let partition = self.partition;
        let read_path = path.clone();
        let loaded = tokio::task::spawn_blocking(move || snapshot::read(&read_path, partition))
            .await
            .map_err(snap_err)?
            .map_err(snap_err)?;

        let _guard = self.snapshot_lock.lock().await;
        let state = AppliedState {
            last_applied: meta.last_log_id,
            membership: meta.last_membership.clone(),
            last_ts: loaded.last_ts.max(self.state.last_ts),
        };
        let mut batch = loaded.batch;
        batch.put(Cf::State, meta_key(partition, APPLIED), encode(&state));
        let current = CurrentSnapshot { meta: meta.clone(), file: file.clone() };
        batch.put(Cf::State, meta_key(partition, SNAPSHOT), encode(&current));
        // The snapshot replaces the partition's data: the heads describe what it held before.
        self.heads.clear();
        self.engine.write(batch).map_err(sm_write_err)?;
        self.engine.sync().map_err(sm_write_err)?;
        self.state = state;
        self.clock.observe(self.state.last_ts);
        self.view.last_ts.store(self.state.last_ts, Ordering::Release);
        remove_other_snapshots(&self.dir, &file);
        tracing::info!(partition, snapshot = %meta.snapshot_id, "installed snapshot");
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot<TypeConfig>>, StorageError> {
        let Some(bytes) = self.engine.get(Cf::State, &meta_key(self.partition, SNAPSHOT)).map_err(sm_read_err)? else {
            return Ok(None);
        };
        let current: CurrentSnapshot = decode("current snapshot", &bytes).map_err(sm_read_err)?;
        let file = tokio::fs::File::open(self.snapshot_path(&current.file)).await.map_err(sm_read_err)?;
        Ok(Some(Snapshot { meta: current.meta, snapshot: Box::new(file) }))
    }
}

fn remove_other_snapshots(dir: &Path, keep: &str) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.ends_with(".snap") && name != keep {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
}

/// Builds a snapshot file from a consistent view of the engine, off the apply path.
pub struct SnapshotBuilder {
    partition: u32,
    engine: Arc<dyn Engine>,
    dir: PathBuf,
    lock: Arc<tokio::sync::Mutex<()>>,
}

impl RaftSnapshotBuilder<TypeConfig> for SnapshotBuilder {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, StorageError> {
        let partition = self.partition;
        let engine = self.engine.clone();
        let dir = self.dir.clone();
        let unique = rand::random::<u32>();
        let (meta, file) = tokio::task::spawn_blocking(move || -> Result<_, String> {
            let view = engine.snapshot();
            let state: AppliedState =
                match view.get(Cf::State, &meta_key(partition, APPLIED)).map_err(|e| e.to_string())? {
                    Some(bytes) => decode("applied state", &bytes).map_err(|e| e.to_string())?,
                    None => AppliedState::default(),
                };
            let (term, index) = state.last_applied.map_or((0, 0), |l| (l.leader_id.term, l.index));
            let snapshot_id = format!("{term}-{index}-{unique:08x}");
            let file = format!("{snapshot_id}.snap");
            let count = snapshot::write(&*view, partition, state.last_ts, &dir.join(&file))?;
            tracing::debug!(partition, snapshot = %snapshot_id, keys = count, "built snapshot");
            let meta = SnapshotMeta { last_log_id: state.last_applied, last_membership: state.membership, snapshot_id };
            Ok((meta, file))
        })
        .await
        .map_err(snap_err)?
        .map_err(snap_err)?;

        let _guard = self.lock.lock().await;
        let key = meta_key(partition, SNAPSHOT);
        let newer_exists = match self.engine.get(Cf::State, &key).map_err(sm_read_err)? {
            Some(bytes) => {
                let current: CurrentSnapshot = decode("current snapshot", &bytes).map_err(sm_read_err)?;
                current.meta.last_log_id > meta.last_log_id
            }
            None => false,
        };
        if !newer_exists {
            let mut batch = crate::storage::WriteBatch::new();
            batch.put(Cf::State, key, encode(&CurrentSnapshot { meta: meta.clone(), file: file.clone() }));
            self.engine.write(batch).map_err(snap_err)?;
            // The record must be durable before the files it no longer names are removed.
            self.engine.sync().map_err(snap_err)?;
            remove_other_snapshots(&self.dir, &file);
        }
        let handle = tokio::fs::File::open(self.dir.join(&file)).await.map_err(snap_err)?;
        Ok(Snapshot { meta, snapshot: Box::new(handle) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mvcc::Condition;
    use crate::storage::MemoryEngine;

    fn machine(dir: &Path) -> StateMachine {
        StateMachine::open(StateMachineConfig {
            partition: 0,
            engine: Arc::new(MemoryEngine::new()),
            clock: Arc::new(Clock::new(std::time::Duration::from_secs(5))),
            retention: 16,
            snapshot_dir: dir.to_path_buf(),
        })
        .unwrap()
    }

    /// Applies one set of `key` at log `index`; returns the revision it wrote.
    async fn set(sm: &mut StateMachine, index: u64, key: &str) -> i64 {
        let command = Command::Set {
            key: key.into(),
            value: b"v".to_vec(),
            expires_ms: 0,
            condition: Condition::None,
            no_revision: false,
        };
        let entry = Entry {
            log_id: openraft::LogId::new(openraft::CommittedLeaderId::new(1, 1), index),
            payload: EntryPayload::Normal(Batch { ts: index, commands: vec![command] }),
        };
        match sm.apply([entry]).await.unwrap().remove(0).0.remove(0) {
            CommandResult::Write { applied: true, revision, .. } => revision,
            other => panic!("set of {key} at {index}: {other:?}"),
        }
    }

    /// A snapshot replaces the partition's data behind the heads cache: the next write must
    /// continue from the snapshot's revision, not from what the cache remembered.
    #[tokio::test]
    async fn a_snapshot_install_forgets_the_cached_heads() {
        let dirs = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let (mut behind, mut ahead) = (machine(dirs.0.path()), machine(dirs.1.path()));
        for index in 1..=4 {
            set(&mut behind, index, "k").await;
        }
        assert_eq!(set(&mut ahead, 1, "k").await, 0);
        let snapshot = ahead.get_snapshot_builder().await.build_snapshot().await.unwrap();
        behind.install_snapshot(&snapshot.meta, snapshot.snapshot).await.unwrap();
        assert_eq!(set(&mut behind, 2, "k").await, 1, "revision after the snapshot's 0");
        assert_eq!(set(&mut ahead, 2, "k").await, 1);
    }
}
