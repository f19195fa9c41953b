//! A fake Kahuna cluster for testing the client without the real server.
//!
//! Each fake node is a thread with a current-thread runtime and a `LocalSet` serving the real
//! `Kahuna` Cap'n Proto interface on 127.0.0.1. All nodes share one [`State`] (behind a mutex):
//! one store, one leader table, one clock, so a "forwarded" call is simply served by whichever
//! node received it. The point is not to model the server but to script what the client must
//! cope with:
//!
//! - calls that reach a non-leader are answered `MustRetry` with a leader hint (unless
//!   `forward` is set);
//! - [`Script`] injects `MustRetry`/`Unavailable` answers, connections that drop with a call in
//!   flight (after the write was applied: the indeterminate case), nodes that never answer, and
//!   delays;
//! - every call is recorded ([`Seen`]) with the node that got it and its request header, and the
//!   peak number of calls in flight at once is tracked.

#![allow(dead_code)]

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use capnp_rpc::rpc_twoparty_capnp::Side;
use capnp_rpc::{RpcSystem, twoparty};
use futures::AsyncReadExt;
use kahuna_schema::kahuna_capnp::kahuna;
use tokio::task::JoinHandle;
use tokio_util::compat::TokioAsyncReadCompatExt;

mod node;

use node::Node;

/// Faults to inject; counters are consumed one call at a time.
#[derive(Default, Debug)]
pub struct Script {
    /// Answer the next N data calls `MustRetry` (without a leader hint).
    pub must_retry: u32,
    /// Answer the next N data calls `Unavailable`.
    pub unavailable: u32,
    /// For the next N writes: apply, then drop the node's connections without answering.
    pub drop_after_write: u32,
    /// For the next N reads: drop the node's connections without answering.
    pub drop_on_read: u32,
    /// This node never answers data calls.
    pub hang_node: Option<u64>,
    /// Every data call waits this long first.
    pub delay: Duration,
    /// Non-leaders serve calls themselves (as if they forwarded them).
    pub forward: bool,
}

/// One call a node received.
#[derive(Clone, Debug)]
pub struct Seen {
    pub node: u64,
    pub method: &'static str,
    pub key: String,
    pub hlc: u64,
    pub partition: u32,
    pub partition_count: u32,
    pub timeout_ms: u32,
}

/// One stored version.
#[derive(Clone, Debug, Default)]
pub struct Version {
    pub value: Vec<u8>,
    pub revision: i64,
    pub live: bool,
    pub expires_at: u64,
    pub last_modified: u64,
}

/// The state every fake node shares.
pub struct State {
    pub cluster_id: u64,
    pub partition_count: u32,
    pub nodes: Vec<(u64, String)>,
    pub leaders: Vec<u64>,
    pub term: u64,
    pub hlc: u64,
    pub store: BTreeMap<(bool, String), Version>,
    pub script: Script,
    pub seen: Vec<Seen>,
    pub inflight: usize,
    pub max_inflight: usize,
}

/// A running fake cluster.
pub struct FakeCluster {
    pub state: Arc<Mutex<State>>,
    kills: Vec<Arc<tokio::sync::Notify>>,
}

impl FakeCluster {
    /// Starts `nodes` fake nodes with `partitions` partitions, leaders spread round robin.
    pub fn start(nodes: u64, partitions: u32) -> FakeCluster {
        let listeners: Vec<std::net::TcpListener> =
            (0..nodes).map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap()).collect();
        let addresses =
            listeners.iter().enumerate().map(|(i, l)| (i as u64 + 1, l.local_addr().unwrap().to_string())).collect();
        let state = Arc::new(Mutex::new(State {
            cluster_id: 42,
            partition_count: partitions,
            nodes: addresses,
            leaders: (0..partitions).map(|p| u64::from(p) % nodes + 1).collect(),
            term: 1,
            hlc: kahuna_client::hlc::now(),
            store: BTreeMap::new(),
            script: Script::default(),
            seen: Vec::new(),
            inflight: 0,
            max_inflight: 0,
        }));
        let mut kills = Vec::new();
        for (i, listener) in listeners.into_iter().enumerate() {
            let kill = Arc::new(tokio::sync::Notify::new());
            serve(i as u64 + 1, state.clone(), listener, kill.clone());
            kills.push(kill);
        }
        FakeCluster { state, kills }
    }

    /// Crashes node `id`: its connections close and new ones are refused.
    pub fn kill(&self, id: u64) {
        self.kills[id as usize - 1].notify_one();
    }

    /// The nodes' addresses, node 1 first.
    pub fn endpoints(&self) -> Vec<String> {
        self.lock().nodes.iter().map(|(_, a)| a.clone()).collect()
    }

    /// The shared state, locked.
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap()
    }

    /// The calls seen so far, forgetting them.
    pub fn take_seen(&self) -> Vec<Seen> {
        std::mem::take(&mut self.lock().seen)
    }

    /// The node id at `address`.
    pub fn node_at(&self, address: &str) -> u64 {
        self.lock().nodes.iter().find(|(_, a)| a == address).unwrap().0
    }
}

fn serve(id: u64, state: Arc<Mutex<State>>, listener: std::net::TcpListener, kill: Arc<tokio::sync::Notify>) {
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let local = tokio::task::LocalSet::new();
        local.block_on(&runtime, async move {
            listener.set_nonblocking(true).unwrap();
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            let conns: Rc<RefCell<Vec<JoinHandle<()>>>> = Rc::default();
            loop {
                let accepted = tokio::select! {
                    accepted = listener.accept() => accepted,
                    () = kill.notified() => break,
                };
                let (stream, _) = accepted.unwrap();
                stream.set_nodelay(true).unwrap();
                let (reader, writer) = stream.compat().split();
                let network = twoparty::VatNetwork::new(reader, writer, Side::Server, Default::default());
                let node = Node { id, state: state.clone(), conns: conns.clone() };
                let client: kahuna::Client = capnp_rpc::new_client(node);
                let rpc = RpcSystem::new(Box::new(network), Some(client.client));
                let task = tokio::task::spawn_local(async move {
                    let _ = rpc.await;
                });
                conns.borrow_mut().push(task);
            }
            for task in conns.borrow().iter() {
                task.abort();
            }
            drop(listener);
            // Let the aborted connections be dropped (their sockets closed).
            tokio::task::yield_now().await;
        });
    });
}
