//! The peer transport seen from Raft: a narrow trait the `rpc` layer implements over Cap'n
//! Proto (and tests can implement in memory), plus openraft's network traits on top of it.

use std::time::Duration;

use futures::future::BoxFuture;
use openraft::error::{InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError, Unreachable};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse, VoteRequest,
    VoteResponse,
};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

use super::{Appends, NodeId, Raft, TypeConfig};

/// A Raft message for one partition group.
#[derive(Debug, Serialize, Deserialize)]
pub enum RaftRequest {
    /// Log replication and heartbeats.
    AppendEntries(AppendEntriesRequest<TypeConfig>),
    /// Leader election.
    Vote(VoteRequest<NodeId>),
    /// One chunk of a snapshot.
    InstallSnapshot(InstallSnapshotRequest<TypeConfig>),
}

/// The receiving group's answer to a [`RaftRequest`].
#[derive(Debug, Serialize, Deserialize)]
pub enum RaftReply {
    /// Answer to [`RaftRequest::AppendEntries`].
    AppendEntries(Result<AppendEntriesResponse<NodeId>, RaftError<NodeId>>),
    /// Answer to [`RaftRequest::Vote`].
    Vote(Result<VoteResponse<NodeId>, RaftError<NodeId>>),
    /// Answer to [`RaftRequest::InstallSnapshot`].
    InstallSnapshot(Result<InstallSnapshotResponse<NodeId>, RaftError<NodeId, InstallSnapshotError>>),
}

impl RaftRequest {
    /// Delivers the request to the local group and returns its answer. An acceptance of
    /// appended entries is returned only once they are durable here (the log store may have
    /// reported them to openraft before the fsync, see `raft::log_store`); `Err` when they
    /// cannot be made durable, and then nothing may be answered.
    /// `appends` are the group's: after `append_entries` returns, their latest ticket covers
    /// every entry the answer accepts.
    pub async fn deliver(self, raft: &Raft, appends: &Appends) -> Result<RaftReply, String> {
        Ok(match self {
            RaftRequest::AppendEntries(r) => {
                let reply = raft.append_entries(r).await;
                if reply.is_ok() {
                    appends.wait_durable(appends.latest()).await?;
                }
                RaftReply::AppendEntries(reply)
            }
            RaftRequest::Vote(r) => RaftReply::Vote(raft.vote(r).await),
            RaftRequest::InstallSnapshot(r) => RaftReply::InstallSnapshot(raft.install_snapshot(r).await),
        })
    }
}

/// Why a message did not get an answer.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// The peer cannot be reached now (connection refused or broken).
    #[error("peer unreachable: {0}")]
    Unreachable(String),
    /// No answer within the time allowed.
    #[error("peer did not answer within {0:?}")]
    Timeout(Duration),
    /// The peer answered something that could not be understood.
    #[error("peer protocol error: {0}")]
    Protocol(String),
}

/// Carries Raft messages between the nodes of a cluster.
pub trait Transport: Send + Sync + 'static {
    /// Sends `request` for `partition` to node `target` and waits at most `timeout` for the reply.
    fn send(
        &self,
        target: NodeId,
        partition: u32,
        request: RaftRequest,
        timeout: Duration,
    ) -> BoxFuture<'static, Result<RaftReply, TransportError>>;
}

/// openraft's network factory for one partition group.
pub struct Network {
    partition: u32,
    transport: Arc<dyn Transport>,
    appends: Appends,
}

impl Network {
    /// The network of `partition`'s group over `transport`; `appends` tell when the group's
    /// log is durable on this node (see [`Link`]).
    pub fn new(partition: u32, transport: Arc<dyn Transport>, appends: Appends) -> Self {
        Self { partition, transport, appends }
    }
}

impl RaftNetworkFactory<TypeConfig> for Network {
    type Network = Link;

    async fn new_client(&mut self, target: NodeId, _node: &openraft::BasicNode) -> Link {
        Link { target, partition: self.partition, transport: self.transport.clone(), appends: self.appends.clone() }
    }
}

/// The connection from one group member to another.
///
/// A follower's acceptance of appended entries is handed to openraft only once the entries
/// are durable on this node too: a leader whose log store reports appends before the fsync
/// (`raft::log_store`) counts itself towards a commit at once, so holding back the other
/// votes is what keeps "committed" meaning "durable on a majority". The leader's fsync began
/// when the entries were appended, before they were sent, so the wait is usually over before
/// the follower's answer (which needs its own fsync) arrives.
pub struct Link {
    target: NodeId,
    partition: u32,
    transport: Arc<dyn Transport>,
    appends: Appends,
}

type RpcResult<T, E = openraft::error::Infallible> =
    Result<T, RPCError<NodeId, openraft::BasicNode, RaftError<NodeId, E>>>;

fn transport_error<E: std::error::Error>(e: TransportError) -> RPCError<NodeId, openraft::BasicNode, E> {
    match e {
        TransportError::Protocol(_) => RPCError::Network(NetworkError::new(&e)),
        TransportError::Unreachable(_) | TransportError::Timeout(_) => RPCError::Unreachable(Unreachable::new(&e)),
    }
}

fn mismatched<E: std::error::Error>() -> RPCError<NodeId, openraft::BasicNode, E> {
    transport_error(TransportError::Protocol("reply does not match the request".into()))
}

impl Link {
    async fn send(&self, request: RaftRequest, option: &RPCOption) -> Result<RaftReply, TransportError> {
        self.transport.send(self.target, self.partition, request, option.hard_ttl()).await
    }
}

impl RaftNetwork<TypeConfig> for Link {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> RpcResult<AppendEntriesResponse<NodeId>> {
        // Every entry in `rpc` was appended by this group, and handed to the sync thread,
        // before this call.
        let ticket = self.appends.latest();
        match self.send(RaftRequest::AppendEntries(rpc), &option).await.map_err(transport_error)? {
            RaftReply::AppendEntries(r) => {
                let response = r.map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))?;
                self.appends
                    .wait_durable(ticket)
                    .await
                    .map_err(|e| RPCError::Unreachable(Unreachable::new(&TransportError::Unreachable(e))))?;
                Ok(response)
            }
            _ => Err(mismatched()),
        }
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> RpcResult<InstallSnapshotResponse<NodeId>, InstallSnapshotError> {
        match self.send(RaftRequest::InstallSnapshot(rpc), &option).await.map_err(transport_error)? {
            RaftReply::InstallSnapshot(r) => r.map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e))),
            _ => Err(mismatched()),
        }
    }

    async fn vote(&mut self, rpc: VoteRequest<NodeId>, option: RPCOption) -> RpcResult<VoteResponse<NodeId>> {
        match self.send(RaftRequest::Vote(rpc), &option).await.map_err(transport_error)? {
            RaftReply::Vote(r) => r.map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e))),
            _ => Err(mismatched()),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Condvar, Mutex};

    use openraft::Vote;
    use openraft::raft::AppendEntriesResponse;

    use super::*;
    use crate::raft::Syncer;
    use crate::storage::{Cf, Engine, MemoryEngine, Reader, Scan, WriteBatch};

    /// An engine whose fsync blocks until the test opens the gate.
    struct GatedEngine {
        inner: MemoryEngine,
        open: Mutex<bool>,
        opened: Condvar,
    }

    impl GatedEngine {
        fn new(open: bool) -> Arc<GatedEngine> {
            Arc::new(GatedEngine { inner: MemoryEngine::new(), open: Mutex::new(open), opened: Condvar::new() })
        }

        fn open_gate(&self) {
            *self.open.lock().unwrap() = true;
            self.opened.notify_all();
        }

        fn close_gate(&self) {
            *self.open.lock().unwrap() = false;
        }
    }

    impl Reader for GatedEngine {
        fn get(&self, cf: Cf, key: &[u8]) -> crate::storage::Result<Option<Vec<u8>>> {
            self.inner.get(cf, key)
        }
        fn scan(&self, cf: Cf, from: &[u8], to: &[u8]) -> Scan<'_> {
            self.inner.scan(cf, from, to)
        }
        fn scan_rev(&self, cf: Cf, from: &[u8], to: &[u8]) -> Scan<'_> {
            self.inner.scan_rev(cf, from, to)
        }
    }

    impl Engine for GatedEngine {
        fn write(&self, batch: WriteBatch) -> crate::storage::Result<()> {
            self.inner.write(batch)
        }
        fn sync(&self) -> crate::storage::Result<()> {
            let mut open = self.open.lock().unwrap();
            while !*open {
                open = self.opened.wait(open).unwrap();
            }
            Ok(())
        }
        fn snapshot(&self) -> Box<dyn Reader + '_> {
            self.inner.snapshot()
        }
    }

    /// A peer that accepts every append at once.
    struct AcceptingPeer;

    impl Transport for AcceptingPeer {
        fn send(
            &self,
            _: NodeId,
            _: u32,
            _: RaftRequest,
            _: Duration,
        ) -> BoxFuture<'static, Result<RaftReply, TransportError>> {
            Box::pin(async { Ok(RaftReply::AppendEntries(Ok(AppendEntriesResponse::Success))) })
        }
    }

    /// The leader must not count a follower's acceptance while its own copy of the entries
    /// may still be lost: the answer waits for the leader's fsync.
    #[test]
    fn a_followers_acceptance_waits_for_the_leaders_own_fsync() {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let engine = GatedEngine::new(false);
            let syncer = Syncer::start(engine.clone());
            let appends = syncer.appends();
            // The leader appended; its fsync is stuck behind the gate.
            appends.written();
            let mut network = Network::new(0, Arc::new(AcceptingPeer), appends);
            let mut link = network.new_client(2, &openraft::BasicNode::default()).await;
            let request = || AppendEntriesRequest {
                vote: Vote::new(1, 1),
                prev_log_id: None,
                entries: Vec::new(),
                leader_commit: None,
            };
            let option = || RPCOption::new(Duration::from_secs(5));

            let held = tokio::time::timeout(Duration::from_millis(100), link.append_entries(request(), option())).await;
            assert!(held.is_err(), "the acceptance was handed over before the leader's fsync");

            engine.open_gate();
            let answer = tokio::time::timeout(Duration::from_secs(5), link.append_entries(request(), option())).await;
            assert!(matches!(answer, Ok(Ok(AppendEntriesResponse::Success))), "{answer:?}");
            syncer.stop();
        });
    }

    /// A follower whose log store reports appends before the fsync must still not answer
    /// "accepted" before the entries are durable on it.
    #[test]
    fn a_follower_answers_an_append_only_once_it_is_durable() {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let dir = tempfile::tempdir().unwrap();
            let engine = GatedEngine::new(true);
            let syncer = Syncer::start(engine.clone());
            let log = super::super::LogStore::new(0, engine.clone(), syncer.clone()).report_before_sync(true);
            let appends = log.appends();
            let sm = super::super::StateMachine::open(super::super::StateMachineConfig {
                partition: 0,
                engine: engine.clone(),
                clock: Arc::new(crate::hlc::Clock::new(Duration::from_secs(5))),
                retention: 16,
                snapshot_dir: dir.path().to_path_buf(),
            })
            .unwrap();
            let config = Arc::new(openraft::Config::default().validate().unwrap());
            let network = Network::new(0, Arc::new(AcceptingPeer), appends.clone());
            let raft = Raft::new(2, config, network, log, sm).await.unwrap();
            let leader = openraft::CommittedLeaderId::new(1, 1);
            let append = |prev: Option<u64>, entries: Vec<u64>| {
                RaftRequest::AppendEntries(AppendEntriesRequest {
                    vote: Vote::new_committed(1, 1),
                    prev_log_id: prev.map(|i| openraft::LogId::new(leader, i)),
                    entries: entries
                        .into_iter()
                        .map(|i| openraft::Entry {
                            log_id: openraft::LogId::new(leader, i),
                            payload: openraft::EntryPayload::Blank,
                        })
                        .collect(),
                    leader_commit: None,
                })
            };

            // The first message makes the follower save the leader's vote (a synced write).
            let first = append(None, vec![1]).deliver(&raft, &appends).await.unwrap();
            assert!(matches!(first, RaftReply::AppendEntries(Ok(AppendEntriesResponse::Success))), "{first:?}");

            // With the disk stuck, the next append is written and reported to openraft, but
            // no answer leaves.
            engine.close_gate();
            let delivery = append(Some(1), vec![2, 3]).deliver(&raft, &appends);
            tokio::pin!(delivery);
            let held = tokio::time::timeout(Duration::from_millis(150), &mut delivery).await;
            assert!(held.is_err(), "the follower answered before its fsync: {held:?}");
            engine.open_gate();
            let answer = tokio::time::timeout(Duration::from_secs(5), delivery).await.expect("answered once durable");
            assert!(matches!(answer, Ok(RaftReply::AppendEntries(Ok(AppendEntriesResponse::Success)))), "{answer:?}");

            raft.shutdown().await.unwrap();
            syncer.stop();
        });
    }
}
