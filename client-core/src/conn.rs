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
//! - A node that crashed has its socket closed by its kernel (FIN, or RST), but the RPC task
//!   learns that only when it next runs. A write must not be sent into that gap, where it
//!   would fail as "in flight" (outcome unknown) although no process could have read it:
//!   [`Conn::begin_write`] first peeks at a duplicate of the socket (no bytes consumed) and
//!   reports the peer's close as [`Failure::NotSent`]. Only a close arriving after the peek
//!   still makes a write's outcome unknown.
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
    /// A duplicate of the socket, only ever peeked at ([`Conn::peer_closed`]). The RPC task holds
    /// a [`ProbeGuard`] on it, so it is dropped when the task ends or is aborted and never keeps
    /// a finished connection's socket open.
    probe: Rc<RefCell<Option<std::net::TcpStream>>>,
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
        let (stream, probe) = with_probe(stream).map_err(|e| Failure::NotSent(format!("socket of {address}: {e}")))?;
        let probe = Rc::new(RefCell::new(Some(probe)));
        let (network, flusher) = kahuna_schema::io::two_party(stream, Side::Client, reader_options());
        let mut rpc = RpcSystem::new(network, None);
        let kahuna: kahuna::Client = rpc.bootstrap(Side::Server);
        let disconnector = rpc.get_disconnector();
        let broken = Rc::new(Cell::new(false));
        let flag = broken.clone();
        let task_probe = ProbeGuard(probe.clone());
        let name = address.to_string();
        let task = tokio::task::spawn_local(async move {
            match futures::future::join(rpc, flusher).await.0 {
                Ok(()) => tracing::debug!(address = %name, "connection closed"),
                Err(e) => tracing::debug!(address = %name, error = %e, "connection failed"),
            }
            flag.set(true);
            drop(task_probe);
        });
        tracing::debug!(address, "connected");
        Ok(Rc::new(Conn {
            address: address.to_string(),
            kahuna,
            broken,
            inflight: Cell::new(0),
            evicted: Cell::new(false),
            closing: RefCell::new(Some((disconnector, task))),
            probe,
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

    /// [`Conn::begin`] for a write: also fails with [`Failure::NotSent`] when the peer has
    /// already closed the connection although the RPC task has not seen it yet (see the module
    /// docs), so that a write is not sent where its outcome could only be unknown.
    pub(crate) fn begin_write(self: &Rc<Self>) -> Result<InFlight, Failure> {
        if !self.is_broken() && self.peer_closed() {
            self.broken.set(true);
            return Err(Failure::NotSent(format!("connection to {} was closed by the node", self.address)));
        }
        self.begin()
    }

    /// True when the peer's close (FIN or RST) is waiting in the socket: a peek that returns
    /// end of stream or a connection error. Pending data, or nothing to read, means open.
    fn peer_closed(&self) -> bool {
        let probe = self.probe.borrow();
        let Some(socket) = probe.as_ref() else { return false };
        let mut byte = [0u8; 1];
        match socket.peek(&mut byte) {
            Ok(0) => true,
            Ok(_) => false,
            Err(e) => !matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::Interrupted),
        }
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

/// Empties the probe when dropped. The RPC task owns one, so whichever way the task goes (it
/// ends, or eviction aborts it) the duplicate socket goes with it.
struct ProbeGuard(Rc<RefCell<Option<std::net::TcpStream>>>);

impl Drop for ProbeGuard {
    fn drop(&mut self) {
        self.0.borrow_mut().take();
    }
}

/// Splits off a duplicate of `stream`'s socket for [`Conn::peer_closed`]. The duplicate shares
/// the non-blocking mode tokio set, so a peek never blocks.
fn with_probe(stream: TcpStream) -> std::io::Result<(TcpStream, std::net::TcpStream)> {
    let stream = stream.into_std()?;
    let probe = stream.try_clone()?;
    Ok((TcpStream::from_std(stream)?, probe))
}

/// Reader limits for replies: the server is trusted, and a bucket or scan page of large values
/// may exceed Cap'n Proto's default 64 MiB traversal limit.
fn reader_options() -> capnp::message::ReaderOptions {
    let mut options = capnp::message::ReaderOptions::new();
    options.traversal_limit_in_words(None);
    options
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `test` on a current-thread runtime and `LocalSet` (as the I/O thread does) with a
    /// connection to a local listener and the listener's side of it.
    fn with_connection<F, Fut>(test: F)
    where
        F: FnOnce(Rc<Conn>, std::net::TcpStream) -> Fut,
        Fut: std::future::Future<Output = ()>,
    {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let local = tokio::task::LocalSet::new();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap().to_string();
        local.block_on(&rt, async {
            let conn = Conn::open(&address, Duration::from_secs(5)).await.expect("connects");
            let (server_side, _) = listener.accept().expect("accepts");
            test(conn, server_side).await;
        });
    }

    /// A node's close that the RPC task has not seen yet: a write is refused as not sent (a
    /// read may still go ahead and is retried if it fails in flight).
    #[test]
    fn a_write_is_not_sent_on_a_connection_the_node_already_closed() {
        with_connection(|conn, server_side| async move {
            drop(conn.begin_write().expect("an open connection takes a write"));

            // The node goes away; this thread does not yield, so the RPC task cannot notice.
            drop(server_side);
            std::thread::sleep(Duration::from_millis(50));
            assert!(!conn.is_broken(), "the RPC task has not run: this is the gap under test");
            assert!(conn.begin().is_ok(), "begin alone does not look at the socket");
            match conn.begin_write() {
                Err(Failure::NotSent(why)) => assert!(why.contains("closed by the node"), "{why}"),
                Err(other) => panic!("expected NotSent, got {other:?}"),
                Ok(_) => panic!("a write was let onto a connection the node had closed"),
            }
            assert!(conn.is_broken(), "the connection is out of service from then on");
        });
    }

    /// The probe does not keep a finished connection's socket open: once the RPC task has
    /// seen the close, the duplicate is gone.
    #[test]
    fn the_probe_goes_with_the_connection() {
        with_connection(|conn, server_side| async move {
            assert!(conn.probe.borrow().is_some());
            drop(server_side);
            let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
            while !conn.broken.get() && tokio::time::Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            assert!(conn.broken.get(), "the RPC task saw the close");
            assert!(conn.probe.borrow().is_none(), "the duplicate socket was dropped with it");
        });
    }
}
