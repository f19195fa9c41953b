//! Outbound peer links: one Cap'n Proto connection per other member, owned by a worker thread.
//!
//! `Peers` is `Send + Sync`: Raft groups and the forwarder hand it messages from any thread;
//! each link task (on an RPC worker) connects lazily, opens the `Peer` capability with this
//! node's cluster id, pipelines calls, and reconnects after a failure with a short back-off.
//! Raft messages that queue up together — typically one per partition group in a busy round —
//! leave in one `raftBatch` call: fewer messages, system calls and wake-ups per round.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use capnp_rpc::RpcSystem;
use capnp_rpc::rpc_twoparty_capnp::Side;
use futures::future::BoxFuture;
use kahuna_schema::peer_capnp::{RaftKind, gateway, peer};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::peer_api::Forwarded;
use super::workers::Workers;
use crate::hlc::Clock;
use crate::kv::{self, ForwardError};
use crate::raft::{RaftReply, RaftRequest, Transport, TransportError};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
const RECONNECT_BACKOFF: Duration = Duration::from_millis(200);
/// Most queued calls sent together.
const MAX_BATCH: usize = 64;

enum Call {
    Raft {
        partition: u32,
        kind: RaftKind,
        payload: Vec<u8>,
        timeout: Duration,
        reply: oneshot::Sender<Result<Vec<u8>, TransportError>>,
    },
    Forward {
        payload: Vec<u8>,
        timeout: Duration,
        reply: oneshot::Sender<Result<Vec<u8>, ForwardError>>,
    },
}

/// The node's links to every other member.
pub struct Peers {
    links: HashMap<u64, mpsc::UnboundedSender<Call>>,
}

struct Link {
    target: u64,
    address: String,
    node_id: u64,
    cluster_id: u64,
    clock: Arc<Clock>,
    options: capnp::message::ReaderOptions,
}

#[derive(Default)]
struct LinkState {
    client: Option<peer::Client>,
    generation: u64,
    down_until: Option<Instant>,
    /// True once "unreachable" was logged, until the next successful connection.
    reported_down: bool,
}

impl Peers {
    /// Starts a link to every member of `addresses` but `node_id`.
    pub fn start(
        workers: &Workers,
        node_id: u64,
        cluster_id: u64,
        addresses: &BTreeMap<u64, String>,
        clock: Arc<Clock>,
        options: capnp::message::ReaderOptions,
    ) -> Arc<Peers> {
        let mut links = HashMap::new();
        for (&target, address) in addresses.iter().filter(|(id, _)| **id != node_id) {
            let (tx, rx) = mpsc::unbounded_channel();
            let link = Link { target, address: address.clone(), node_id, cluster_id, clock: clock.clone(), options };
            workers.spawn(move || link.run(rx));
            links.insert(target, tx);
        }
        Arc::new(Peers { links })
    }
}

fn is_disconnect(e: &capnp::Error) -> bool {
    e.kind == capnp::ErrorKind::Disconnected
}

impl Link {
    async fn connect(&self, state: &Rc<RefCell<LinkState>>) -> Result<peer::Client, String> {
        let stream = tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::TcpStream::connect(&self.address))
            .await
            .map_err(|_| format!("connecting to {} timed out", self.address))?
            .map_err(|e| format!("connecting to {}: {e}", self.address))?;
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        let (network, flusher) = kahuna_schema::io::two_party(stream, Side::Client, self.options);
        let mut rpc = RpcSystem::new(network, None);
        let gateway: gateway::Client = rpc.bootstrap(Side::Server);
        let generation = state.borrow().generation + 1;
        let watcher = state.clone();
        let target = self.target;
        tokio::task::spawn_local(async move {
            if let (Err(e), ()) = futures::future::join(rpc, flusher).await {
                tracing::info!(peer = target, error = %e, "peer connection closed");
            }
            let mut s = watcher.borrow_mut();
            if s.generation == generation {
                s.client = None;
            }
        });
        let mut request = gateway.peer_request();
        request.get().set_cluster_id(self.cluster_id);
        request.get().set_from_node(self.node_id);
        let response = tokio::time::timeout(CONNECT_TIMEOUT, request.send().promise)
            .await
            .map_err(|_| format!("node {target} did not open the peer channel in time"))?
            .map_err(|e| format!("node {target} refused the peer channel: {e}"))?;
        let client = response.get().and_then(|r| r.get_peer()).map_err(|e| e.to_string())?;
        let mut s = state.borrow_mut();
        s.generation = generation;
        s.client = Some(client.clone());
        tracing::info!(peer = target, address = %self.address, "connected to peer");
        Ok(client)
    }

    async fn client(&self, state: &Rc<RefCell<LinkState>>) -> Result<peer::Client, String> {
        if let Some(c) = state.borrow().client.clone() {
            return Ok(c);
        }
        if state.borrow().down_until.is_some_and(|t| Instant::now() < t) {
            return Err(format!("node {} is unreachable (retrying shortly)", self.target));
        }
        match self.connect(state).await {
            Ok(c) => {
                let mut s = state.borrow_mut();
                s.down_until = None;
                s.reported_down = false;
                Ok(c)
            }
            Err(e) => {
                let mut s = state.borrow_mut();
                s.down_until = Some(Instant::now() + RECONNECT_BACKOFF);
                if !std::mem::replace(&mut s.reported_down, true) {
                    tracing::warn!(peer = self.target, error = %e, "peer unreachable; retrying in the background");
                }
                Err(e)
            }
        }
    }

    async fn run(self, mut rx: mpsc::UnboundedReceiver<Call>) {
        let state = Rc::new(RefCell::new(LinkState::default()));
        let link = Rc::new(self);
        while let Some(first) = rx.recv().await {
            // Whatever queued meanwhile goes out together: Raft messages of every partition in
            // one call, so a busy node pair exchanges one message per round, not one per group.
            let mut raft = Vec::new();
            let mut forwards = Vec::new();
            for call in std::iter::once(first).chain(std::iter::from_fn(|| rx.try_recv().ok()).take(MAX_BATCH - 1)) {
                match call {
                    Call::Raft { partition, kind, payload, timeout, reply } => {
                        raft.push(RaftCall { partition, kind, payload, timeout, reply })
                    }
                    Call::Forward { payload, timeout, reply } => forwards.push((payload, timeout, reply)),
                }
            }
            let client = link.client(&state).await;
            for (payload, timeout, reply) in forwards {
                let (link, state, client) = (link.clone(), state.clone(), client.clone());
                tokio::task::spawn_local(async move {
                    let _ = reply.send(link.forward(&state, client, payload, timeout).await);
                });
            }
            if !raft.is_empty() {
                let (link, state) = (link.clone(), state.clone());
                tokio::task::spawn_local(async move { link.raft(&state, client, raft).await });
            }
        }
    }

    fn broken(state: &RefCell<LinkState>, e: &capnp::Error) {
        if is_disconnect(e) {
            state.borrow_mut().client = None;
        }
    }

    async fn forward(
        &self,
        state: &RefCell<LinkState>,
        client: Result<peer::Client, String>,
        payload: Vec<u8>,
        timeout: Duration,
    ) -> Result<Vec<u8>, ForwardError> {
        let node = self.target;
        let client = client.map_err(|detail| ForwardError::NotSent { node, detail })?;
        let mut req = client.forward_request();
        req.get().set_payload(&payload);
        req.get().set_hlc(self.clock.peek());
        match tokio::time::timeout(timeout, req.send().promise).await {
            Err(_) => Err(ForwardError::Lost { node, detail: format!("no reply within {timeout:?}") }),
            Ok(Err(e)) => {
                Self::broken(state, &e);
                Err(ForwardError::Lost { node, detail: e.to_string() })
            }
            Ok(Ok(r)) => r
                .get()
                .and_then(|r| {
                    self.clock.observe(r.get_hlc());
                    Ok(r.get_payload()?.to_vec())
                })
                .map_err(|e| ForwardError::Lost { node, detail: e.to_string() }),
        }
    }

    /// Sends one Raft message with `raft`, or several with `raftBatch`, and answers each.
    async fn raft(&self, state: &RefCell<LinkState>, client: Result<peer::Client, String>, calls: Vec<RaftCall>) {
        let client = match client {
            Ok(c) => c,
            Err(e) => {
                for call in calls {
                    let _ = call.reply.send(Err(TransportError::Unreachable(e.clone())));
                }
                return;
            }
        };
        // Each caller also enforces its own deadline; the call as a whole waits for the longest.
        let timeout = calls.iter().map(|c| c.timeout).max().unwrap_or(CONNECT_TIMEOUT);
        let failure = |e: capnp::Error| {
            Self::broken(state, &e);
            if is_disconnect(&e) {
                TransportError::Unreachable(e.to_string())
            } else {
                TransportError::Protocol(e.to_string())
            }
        };
        if calls.len() == 1 {
            let call = calls.into_iter().next().expect("one call");
            let mut req = client.raft_request();
            let mut p = req.get();
            p.set_partition(call.partition);
            p.set_kind(call.kind);
            p.set_payload(&call.payload);
            p.set_hlc(self.clock.peek());
            let result = match tokio::time::timeout(timeout, req.send().promise).await {
                Err(_) => Err(TransportError::Timeout(timeout)),
                Ok(Err(e)) => Err(failure(e)),
                Ok(Ok(r)) => r
                    .get()
                    .and_then(|r| {
                        self.clock.observe(r.get_hlc());
                        Ok(r.get_payload()?.to_vec())
                    })
                    .map_err(|e| TransportError::Protocol(e.to_string())),
            };
            let _ = call.reply.send(result);
            return;
        }
        let mut req = client.raft_batch_request();
        {
            let mut p = req.get();
            p.set_hlc(self.clock.peek());
            let mut list = p.init_messages(calls.len() as u32);
            for (i, call) in calls.iter().enumerate() {
                let mut m = list.reborrow().get(i as u32);
                m.set_partition(call.partition);
                m.set_kind(call.kind);
                m.set_payload(&call.payload);
            }
        }
        let replies: Result<Vec<Vec<u8>>, TransportError> =
            match tokio::time::timeout(timeout, req.send().promise).await {
                Err(_) => Err(TransportError::Timeout(timeout)),
                Ok(Err(e)) => Err(failure(e)),
                Ok(Ok(r)) => r
                    .get()
                    .and_then(|r| {
                        self.clock.observe(r.get_hlc());
                        r.get_replies()?.iter().map(|d| Ok(d?.to_vec())).collect()
                    })
                    .map_err(|e| TransportError::Protocol(e.to_string())),
            };
        match replies {
            Ok(replies) if replies.len() == calls.len() => {
                for (call, reply) in calls.into_iter().zip(replies) {
                    let result = if reply.is_empty() {
                        Err(TransportError::Protocol(format!("node {} could not deliver the message", self.target)))
                    } else {
                        Ok(reply)
                    };
                    let _ = call.reply.send(result);
                }
            }
            Ok(_) => {
                for call in calls {
                    let _ = call.reply.send(Err(TransportError::Protocol("batch reply of the wrong length".into())));
                }
            }
            Err(e) => {
                for call in calls {
                    let _ = call.reply.send(Err(clone_error(&e)));
                }
            }
        }
    }
}

fn clone_error(e: &TransportError) -> TransportError {
    match e {
        TransportError::Unreachable(m) => TransportError::Unreachable(m.clone()),
        TransportError::Timeout(t) => TransportError::Timeout(*t),
        TransportError::Protocol(m) => TransportError::Protocol(m.clone()),
    }
}

/// A Raft message waiting to be sent.
struct RaftCall {
    partition: u32,
    kind: RaftKind,
    payload: Vec<u8>,
    timeout: Duration,
    reply: oneshot::Sender<Result<Vec<u8>, TransportError>>,
}

fn kind_of(request: &RaftRequest) -> RaftKind {
    match request {
        RaftRequest::AppendEntries(_) => RaftKind::AppendEntries,
        RaftRequest::Vote(_) => RaftKind::Vote,
        RaftRequest::InstallSnapshot(_) => RaftKind::InstallSnapshot,
    }
}

impl Transport for Peers {
    fn send(
        &self,
        target: u64,
        partition: u32,
        request: RaftRequest,
        timeout: Duration,
    ) -> BoxFuture<'static, Result<RaftReply, TransportError>> {
        let link = self.links.get(&target).cloned();
        Box::pin(async move {
            let link = link.ok_or_else(|| TransportError::Unreachable(format!("node {target} is not a member")))?;
            let kind = kind_of(&request);
            let payload = postcard::to_allocvec(&request).map_err(|e| TransportError::Protocol(e.to_string()))?;
            let (reply, rx) = oneshot::channel();
            link.send(Call::Raft { partition, kind, payload, timeout, reply })
                .map_err(|_| TransportError::Unreachable("the link task stopped".into()))?;
            let bytes = tokio::time::timeout(timeout, rx)
                .await
                .map_err(|_| TransportError::Timeout(timeout))?
                .map_err(|_| TransportError::Unreachable("the link task stopped".into()))??;
            postcard::from_bytes(&bytes).map_err(|e| TransportError::Protocol(e.to_string()))
        })
    }
}

impl kv::Forwarder for Peers {
    fn forward(
        &self,
        target: u64,
        request: kv::Request,
        timeout: Duration,
    ) -> BoxFuture<'static, Result<kv::Reply, ForwardError>> {
        let link = self.links.get(&target).cloned();
        Box::pin(async move {
            let not_sent = |detail: &str| ForwardError::NotSent { node: target, detail: detail.to_string() };
            let link = link.ok_or_else(|| not_sent("not a member"))?;
            let timeout_ms = timeout.as_millis().clamp(1, u128::from(u32::MAX)) as u32;
            let payload =
                postcard::to_allocvec(&Forwarded { request, timeout_ms }).map_err(|e| not_sent(&e.to_string()))?;
            let (reply, rx) = oneshot::channel();
            link.send(Call::Forward { payload, timeout, reply }).map_err(|_| not_sent("the link task stopped"))?;
            let bytes =
                rx.await.map_err(|_| ForwardError::Lost { node: target, detail: "link task stopped".into() })??;
            postcard::from_bytes(&bytes)
                .map_err(|e| ForwardError::Lost { node: target, detail: format!("undecodable reply: {e}") })
        })
    }
}
