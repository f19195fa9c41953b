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

use super::{NodeId, Raft, TypeConfig};

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
    /// Delivers the request to the local group and returns its answer.
    pub async fn deliver(self, raft: &Raft) -> RaftReply {
        match self {
            RaftRequest::AppendEntries(r) => RaftReply::AppendEntries(raft.append_entries(r).await),
            RaftRequest::Vote(r) => RaftReply::Vote(raft.vote(r).await),
            RaftRequest::InstallSnapshot(r) => RaftReply::InstallSnapshot(raft.install_snapshot(r).await),
        }
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
}

impl Network {
    /// The network of `partition`'s group over `transport`.
    pub fn new(partition: u32, transport: Arc<dyn Transport>) -> Self {
        Self { partition, transport }
    }
}

impl RaftNetworkFactory<TypeConfig> for Network {
    type Network = Link;

    async fn new_client(&mut self, target: NodeId, _node: &openraft::BasicNode) -> Link {
        Link { target, partition: self.partition, transport: self.transport.clone() }
    }
}

/// The connection from one group member to another.
pub struct Link {
    target: NodeId,
    partition: u32,
    transport: Arc<dyn Transport>,
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
        match self.send(RaftRequest::AppendEntries(rpc), &option).await.map_err(transport_error)? {
            RaftReply::AppendEntries(r) => r.map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e))),
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
