//! The `Peer` capability: Raft messages and forwarded client requests from another node.

use std::sync::Arc;

use capnp::capability::Rc;
use kahuna_schema::peer_capnp::peer;
use serde::{Deserialize, Serialize};

use crate::kv::{self, Reply, Request};
use crate::raft::RaftRequest;

/// A forwarded client request with its remaining deadline.
#[derive(Debug, Serialize, Deserialize)]
pub struct Forwarded {
    /// The request.
    pub request: Request,
    /// Milliseconds left before the original deadline.
    pub timeout_ms: u32,
}

/// Serves the peer channel opened by node `from`.
pub struct PeerImpl {
    pub(super) kv: Arc<kv::Service>,
    pub(super) from: u64,
}

fn decode<T: serde::de::DeserializeOwned>(what: &str, bytes: &[u8]) -> Result<T, capnp::Error> {
    postcard::from_bytes(bytes).map_err(|e| capnp::Error::failed(format!("undecodable {what}: {e}")))
}

impl peer::Server for PeerImpl {
    async fn raft(
        self: Rc<Self>,
        params: peer::RaftParams,
        mut results: peer::RaftResults,
    ) -> Result<(), capnp::Error> {
        let p = params.get()?;
        let clock = self.kv.clock();
        clock.observe(p.get_hlc());
        let partition = p.get_partition();
        let cluster = self.kv.cluster();
        if partition >= cluster.partition_count() {
            return Err(capnp::Error::failed(format!(
                "node {} has no partition {partition} (message from node {})",
                cluster.node_id(),
                self.from
            )));
        }
        let request: RaftRequest = decode("raft message", p.get_payload()?)?;
        let reply = cluster.partition(partition).deliver(request).await.map_err(capnp::Error::failed)?;
        let payload = postcard::to_allocvec(&reply).map_err(|e| capnp::Error::failed(e.to_string()))?;
        let mut r = results.get();
        r.set_payload(&payload);
        r.set_hlc(clock.peek());
        Ok(())
    }

    async fn raft_batch(
        self: Rc<Self>,
        params: peer::RaftBatchParams,
        mut results: peer::RaftBatchResults,
    ) -> Result<(), capnp::Error> {
        let p = params.get()?;
        let clock = self.kv.clock();
        clock.observe(p.get_hlc());
        let cluster = self.kv.cluster();
        let mut deliveries = Vec::new();
        for m in p.get_messages()?.iter() {
            let partition = m.get_partition();
            let request: Option<RaftRequest> = (partition < cluster.partition_count())
                .then(|| postcard::from_bytes(m.get_payload().ok()?).ok())
                .flatten();
            deliveries.push(async move {
                match request {
                    Some(r) => postcard::to_allocvec(&cluster.partition(partition).deliver(r).await.ok()?).ok(),
                    None => None,
                }
            });
        }
        let replies = futures::future::join_all(deliveries).await;
        let mut r = results.get();
        let mut list = r.reborrow().init_replies(replies.len() as u32);
        for (i, reply) in replies.iter().enumerate() {
            list.set(i as u32, reply.as_deref().unwrap_or(&[]));
        }
        r.set_hlc(clock.peek());
        Ok(())
    }

    async fn forward(
        self: Rc<Self>,
        params: peer::ForwardParams,
        mut results: peer::ForwardResults,
    ) -> Result<(), capnp::Error> {
        let p = params.get()?;
        let clock = self.kv.clock();
        clock.observe(p.get_hlc());
        let forwarded: Forwarded = decode("forwarded request", p.get_payload()?)?;
        let ctx = self.kv.context(forwarded.timeout_ms.max(1), None, true);
        let reply: Reply = self.kv.execute(forwarded.request, ctx).await;
        let payload = postcard::to_allocvec(&reply).map_err(|e| capnp::Error::failed(e.to_string()))?;
        let mut r = results.get();
        r.set_payload(&payload);
        r.set_hlc(clock.peek());
        Ok(())
    }
}
