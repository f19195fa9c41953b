//! One Cap'n Proto RPC connection to one node, owned by the client's I/O thread.
//!
//! A [`Conn`] is a TCP stream (with `TCP_NODELAY`) adapted to `futures` I/O, split into halves,
//! wrapped in a two-party `VatNetwork` on the client side and driven by an `RpcSystem` task
//! spawned on the I/O thread's `LocalSet`. The bootstrap capability is the node's `Gateway`,
//! used through its `Kahuna` face. Any number of calls may be in flight on one connection at a
//! time: capnp-rpc multiplexes them, and each caller's future is its own `spawn_local` task.
//!
//! ```text
//!   TcpStream -> kahuna_schema::io::two_party (BufReader, coalesced writer) -> RpcSystem task
//!                                              (one send per burst of messages)
//!                                                                              |
//!   calls ---------------------------- kahuna::Client (bootstrap) <------------+
//! ```
//!
//! Life cycle and invariants:
//! - `broken` becomes true when the `RpcSystem` task ends (the peer closed, reset, or the
//!   stream failed). A broken connection is never used for a new call: the router replaces it.
//! - `evict` takes a connection out of service. It is closed once no call is in flight on it,
//!   so evicting never turns a healthy in-flight call into an unknown outcome: first a clean
//!   Cap'n Proto disconnect, then, if the peer does not complete it within a second (a paused
//!   process), the RPC task is aborted, which drops the socket.
//! - Nothing here retries or decides routing; failures are reported as [`Failure::NotSent`]
//!   (before any request could leave) and the caller decides.
//!
//! `!Send` by design (capnp-rpc is): every `Conn` lives and dies on the I/O thread.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use capnp_rpc::rpc_twoparty_capnp::Side;
use capnp_rpc::{Disconnector, RpcSystem};
use kahuna_schema::kahuna_capnp::kahuna;
use tokio::net::TcpStream;
use tokio::task::JoinHandle;

use crate::error::Failure;

/// How long closing an evicted connection may wait for the peer before dropping the socket.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);

/// A live RPC connection to one node.
pub(crate) struct Conn {
    /// The address this connection was opened to.
    pub(crate) address: String,
    kahuna: kahuna::Client,
    broken: Rc<Cell<bool>>,
    inflight: Cell<usize>,
    evicted: Cell<bool>,
    /// How to close: a clean disconnect, then aborting the RPC task if the peer does not answer.
    closing: RefCell<Option<(Disconnector<Side>, JoinHandle<()>)>>,
}

impl Conn {
    /// Opens a TCP connection to `address` and starts its RPC system on the current `LocalSet`.
    ///
    /// Only the TCP connect is awaited: the bootstrap capability is pipelined, so the first call
    /// doubles as the handshake.
    pub(crate) async fn open(address: &str, timeout: Duration) -> Result<Rc<Conn>, Failure> {
        let stream = match tokio::time::timeout(timeout, TcpStream::connect(address)).await {
            Ok(Ok(stream)) => stream,
            Ok(Err(e)) => {
                return Err(Failure::NotSent(format!("cannot connect to {address}: {e}")));
            }
            Err(_) => {
                return Err(Failure::NotSent(format!("cannot connect to {address}: no answer within {timeout:?}")));
            }
        };
        stream.set_nodelay(true).map_err(|e| Failure::NotSent(format!("cannot set TCP_NODELAY on {address}: {e}")))?;
        let (network, flusher) = kahuna_schema::io::two_party(stream, Side::Client, reader_options());
        let mut rpc = RpcSystem::new(network, None);
        let kahuna: kahuna::Client = rpc.bootstrap(Side::Server);
        let disconnector = rpc.get_disconnector();
        let broken = Rc::new(Cell::new(false));
        let flag = broken.clone();
        let name = address.to_string();
        let task = tokio::task::spawn_local(async move {
            match futures::future::join(rpc, flusher).await.0 {
                Ok(()) => tracing::debug!(address = %name, "connection closed"),
                Err(e) => tracing::debug!(address = %name, error = %e, "connection failed"),
            }
            flag.set(true);
        });
        tracing::debug!(address, "connected");
        Ok(Rc::new(Conn {
            address: address.to_string(),
            kahuna,
            broken,
            inflight: Cell::new(0),
            evicted: Cell::new(false),
            closing: RefCell::new(Some((disconnector, task))),
        }))
    }

    /// True once the connection can no longer carry calls.
    pub(crate) fn is_broken(&self) -> bool {
        self.broken.get() || self.evicted.get()
    }

    /// Marks a call in flight; the returned guard ends it. Fails if the connection is broken.
    pub(crate) fn begin(self: &Rc<Self>) -> Result<InFlight, Failure> {
        if self.is_broken() {
            return Err(Failure::NotSent(format!("connection to {} is closed", self.address)));
        }
        self.inflight.set(self.inflight.get() + 1);
        Ok(InFlight { conn: self.clone() })
    }

    /// Takes the connection out of service; it closes once no call is in flight on it.
    pub(crate) fn evict(&self) {
        if !self.evicted.replace(true) {
            self.maybe_disconnect();
        }
    }

    fn maybe_disconnect(&self) {
        if self.evicted.get()
            && self.inflight.get() == 0
            && let Some((disconnector, task)) = self.closing.borrow_mut().take()
        {
            tokio::task::spawn_local(async move {
                // A paused peer never completes the disconnect: do not wait for it forever.
                let _ = tokio::time::timeout(CLOSE_TIMEOUT, disconnector).await;
                task.abort();
            });
        }
    }
}

/// A call in flight on a connection; gives access to the capability while it lives.
pub(crate) struct InFlight {
    conn: Rc<Conn>,
}

impl InFlight {
    /// The node's `Kahuna` capability.
    pub(crate) fn kahuna(&self) -> &kahuna::Client {
        &self.conn.kahuna
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.conn.inflight.set(self.conn.inflight.get() - 1);
        self.conn.maybe_disconnect();
    }
}

/// Reader limits for replies: the server is trusted, and a bucket or scan page of large values
/// may exceed Cap'n Proto's default 64 MiB traversal limit.
fn reader_options() -> capnp::message::ReaderOptions {
    let mut options = capnp::message::ReaderOptions::new();
    options.traversal_limit_in_words(None);
    options
}
