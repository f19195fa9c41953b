//! RPC: every byte of Cap'n Proto in the server lives here.
//!
//! ```text
//!  TcpListener ──accept──> Workers (LocalSet threads) ──> RpcSystem per connection
//!                                                          bootstrap = Gateway
//!                                                            ├─ Kahuna methods ─> kv::Service
//!                                                            └─ peer() ─> Peer: raft / forward
//!  Peers (Send + Sync) ─────> one link per member on a worker ─> remote Gateway.peer()
//!      implements raft::Transport and kv::Forwarder
//! ```
//!
//! capnp-rpc is `!Send`, so connections run on a few current-thread runtimes (`workers`); the
//! futures they await (`kv::Service::execute`, `Raft::append_entries`) are `Send` and talk to
//! the Raft tasks on the main runtime through channels. Messages are bounded by
//! `ReaderOptions` (traversal and nesting limits); a message over the limit or malformed
//! fails its connection, never the node. Decoding errors of well-formed messages become
//! `InvalidInput` results naming the argument.

mod client_api;
/// Decoding of client requests and encoding of replies; public so the fuzz targets (`fuzz/`)
/// exercise the very functions the server runs.
pub mod convert;
mod peer_api;
mod peers;
mod workers;

use std::future::Future;
use std::sync::Arc;

use capnp_rpc::RpcSystem;
use capnp_rpc::rpc_twoparty_capnp::Side;
use kahuna_schema::peer_capnp::gateway;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

use crate::kv;

/// How long a connection may take to close at shutdown.
const CLOSE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(1);

pub use peers::Peers;
pub use workers::Workers;

/// Reader limits for every connection, sized from the largest value a message may carry.
pub fn reader_options(max_message_bytes: usize) -> capnp::message::ReaderOptions {
    let mut o = capnp::message::ReaderOptions::new();
    o.traversal_limit_in_words(Some(max_message_bytes / 8 + 1));
    o.nesting_limit(64);
    o
}

async fn serve_connection(
    stream: TcpStream,
    kv: Arc<kv::Service>,
    options: capnp::message::ReaderOptions,
    stop: CancellationToken,
) {
    let peer = stream.peer_addr().ok();
    if let Err(e) = stream.set_nodelay(true) {
        tracing::debug!(error = %e, "set_nodelay");
    }
    let (network, flusher) = kahuna_schema::io::two_party(stream, Side::Server, options);
    let gateway: gateway::Client = capnp_rpc::new_client(client_api::GatewayImpl { kv });
    let system = RpcSystem::new(network, Some(gateway.client));
    let disconnector = system.get_disconnector();
    let served = futures::future::join(system, flusher);
    tokio::pin!(served);
    let outcome = tokio::select! {
        (outcome, ()) = &mut served => outcome,
        () = stop.cancelled() => {
            // Close in order: capnp-rpc then clears the connection's tables. Merely dropping
            // the connection can leave capabilities (and the service they hold) referenced.
            let closing = futures::future::join(disconnector, &mut served);
            match tokio::time::timeout(CLOSE_TIMEOUT, closing).await {
                Ok((_, (outcome, ()))) => outcome,
                Err(_) => Err(capnp::Error::failed("the connection did not close in time".into())),
            }
        }
    };
    if let Err(e) = outcome {
        tracing::debug!(peer = ?peer, error = %e, "connection closed with an error");
    }
}

/// Accepts connections on `listener` and serves each on a worker until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    kv: Arc<kv::Service>,
    workers: &Workers,
    options: capnp::message::ReaderOptions,
    shutdown: impl Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    let stop = CancellationToken::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let (kv, stop) = (kv.clone(), stop.clone());
                    workers.spawn_connection(move || serve_connection(stream, kv, options, stop));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            },
            _ = &mut shutdown => {
                stop.cancel();
                break;
            }
        }
    }
}
