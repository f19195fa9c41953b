//! KV: the key/value service every client request goes through (`Send + Sync`).
//!
//! ```text
//!  rpc ──Request──> Service::execute
//!                     │ validate (InvalidInput names the argument; nothing is written)
//!                     │ route: partition = hash(bucket or key) mod N; a client's stale route → MustRetry
//!                     ├─ this node leads the partition ──> cmd::<op>::execute
//!                     │      Persistent: propose a Command (writes) / read barrier + MVCC read
//!                     │      Ephemeral:  leader lease + the in-memory MVCC store
//!                     ├─ another node leads it ─────────> Forwarder (peer RPC) → its Service
//!                     └─ no leader known ───────────────> wait for one, else Unavailable
//!  scan_by_prefix: this node coordinates; every partition is read at one snapshot timestamp
//! ```
//!
//! Error discipline: `MustRetry` only when the request certainly did not take effect (not the
//! leader, stale route, forward not sent) so clients may retry it blindly; a write whose fate
//! is unknown (deadline passed, connection lost mid-flight) is a `Timeout`.
//!
//! Background work owned here: dropping the Ephemeral keyspace of partitions this node stops
//! leading, and the expiry sweep ([`sweep`]).

mod cmd;
mod ephemeral;
pub mod stats;
mod sweep;
mod types;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use futures::future::BoxFuture;
use tokio::time::Instant;

use crate::cluster::Cluster;
use crate::hlc::Clock;

pub use sweep::SweepOptions;
pub use types::*;

/// Limits and defaults of the service.
#[derive(Clone, Debug)]
pub struct Options {
    /// Largest value accepted, in bytes.
    pub max_value_bytes: usize,
    /// Deadline of a request that names none.
    pub default_timeout: Duration,
    /// Longest deadline a request may ask for.
    pub max_timeout: Duration,
    /// Page size of a scan that names none.
    pub scan_default_limit: u32,
    /// Largest scan page.
    pub scan_max_limit: u32,
    /// A scan page stops once its keys and values exceed this many bytes (at least one entry).
    pub scan_max_page_bytes: usize,
    /// Most keys a bucket read returns before failing (use a scan instead).
    pub bucket_max_entries: usize,
    /// Most bytes of keys and values a bucket read returns before failing.
    pub bucket_max_bytes: usize,
    /// Versions kept per key.
    pub retention: usize,
    /// How long to wait for an unknown leader to appear before answering Unavailable.
    pub leader_wait: Duration,
    /// The largest clock offset assumed between nodes: a new leader keeps a lock granted by an
    /// earlier leader for this much longer than its lease.
    pub max_clock_offset: Duration,
    /// The expiry sweep.
    pub sweep: SweepOptions,
    /// Most bytes the node's Ephemeral stores hold together (0 = no cap); see `ephemeral`.
    pub max_ephemeral_bytes: u64,
}

/// Why a forwarded request got no reply.
#[derive(Debug, thiserror::Error)]
pub enum ForwardError {
    /// The request never left this node (no connection): it certainly did not take effect.
    #[error("could not reach node {node}: {detail}")]
    NotSent {
        /// The target.
        node: u64,
        /// What failed.
        detail: String,
    },
    /// The request was sent but no reply came back: its effect is unknown.
    #[error("lost the reply of node {node}: {detail}")]
    Lost {
        /// The target.
        node: u64,
        /// What failed.
        detail: String,
    },
}

/// Sends a request to the service of another node (implemented by `rpc`).
pub trait Forwarder: Send + Sync + 'static {
    /// Executes `request` on node `target` as a forwarded request.
    fn forward(
        &self,
        target: u64,
        request: Request,
        timeout: Duration,
    ) -> BoxFuture<'static, Result<Reply, ForwardError>>;
}

/// How a request reached this node.
#[derive(Clone, Copy, Debug)]
pub struct Context {
    /// The (partition, partition count) the client routed with, if it routed itself.
    pub route: Option<(u32, u32)>,
    /// When the answer is due.
    pub deadline: Instant,
    /// True when another node forwarded the request here (never forward it again).
    pub forwarded: bool,
}

/// The key/value service of a node.
pub struct Service {
    cluster: Arc<Cluster>,
    clock: Arc<Clock>,
    options: Options,
    ephemeral: ephemeral::Keyspace,
    forwarder: OnceLock<Arc<dyn Forwarder>>,
    stats: stats::RequestStats,
}

impl Service {
    /// The service over `cluster`'s partitions; starts its background tasks.
    pub fn start(cluster: Arc<Cluster>, clock: Arc<Clock>, options: Options) -> Arc<Service> {
        let ephemeral = ephemeral::Keyspace::new(cluster.partitions().len(), options.max_ephemeral_bytes);
        let service = Arc::new(Service {
            cluster,
            clock,
            options,
            ephemeral,
            forwarder: OnceLock::new(),
            stats: stats::RequestStats::default(),
        });
        ephemeral::drop_on_leadership_loss(&service);
        sweep::spawn(&service);
        service
    }

    /// Installs the way to reach other nodes (once, at startup).
    pub fn set_forwarder(&self, forwarder: Arc<dyn Forwarder>) {
        let _ = self.forwarder.set(forwarder);
    }

    /// The cluster this service runs on.
    pub fn cluster(&self) -> &Arc<Cluster> {
        &self.cluster
    }

    /// The node's clock.
    pub fn clock(&self) -> &Arc<Clock> {
        &self.clock
    }

    /// The service's limits.
    pub fn options(&self) -> &Options {
        &self.options
    }

    /// A context for a request arriving now with `timeout` (0 = default).
    pub fn context(&self, timeout_ms: u32, route: Option<(u32, u32)>, forwarded: bool) -> Context {
        let timeout = if timeout_ms == 0 {
            self.options.default_timeout
        } else {
            Duration::from_millis(u64::from(timeout_ms)).min(self.options.max_timeout)
        };
        Context { route, deadline: Instant::now() + timeout, forwarded }
    }

    /// What this node answered its clients (requests by operation and status, latencies).
    pub fn stats(&self) -> &stats::RequestStats {
        &self.stats
    }

    /// Executes a request: validates, routes to the partition leader, answers. A client's
    /// request (not one a peer forwarded) is counted in [`Service::stats`].
    pub async fn execute(&self, request: Request, ctx: Context) -> Reply {
        if ctx.forwarded {
            return self.answer(request, ctx).await;
        }
        let slot = stats::Slot::of(&request);
        let started = Instant::now();
        let reply = self.answer(request, ctx).await;
        let code = reply.result.as_ref().map_or_else(Error::code, |_| kahuna_schema::Code::Ok);
        self.stats.record(slot, code, started.elapsed());
        reply
    }

    async fn answer(&self, request: Request, ctx: Context) -> Reply {
        if let Err(e) = cmd::validate(&request, &self.options) {
            return Reply::plain(Err(e));
        }
        let write = cmd::is_write(&request);
        let outcome = match &request {
            Request::Scan(scan) => {
                let work = cmd::scan::coordinate(self, scan, ctx);
                tokio::time::timeout_at(ctx.deadline, work).await.map(Reply::plain)
            }
            _ => {
                let partition = cmd::partition_of(&request, self.cluster.partition_count());
                if let Some((p, count)) = ctx.route
                    && (count != self.cluster.partition_count() || p != partition)
                {
                    return Reply::plain(Err(Error::MustRetry(format!(
                        "stale route: the request was routed to partition {p} of {count}, but its key \
                             belongs to partition {partition} of {}; refresh the topology",
                        self.cluster.partition_count()
                    ))));
                }
                tokio::time::timeout_at(ctx.deadline, self.route(partition, request, ctx)).await
            }
        };
        outcome.unwrap_or_else(|_| {
            let what = if write { "; the write may or may not have taken effect" } else { "" };
            Reply::plain(Err(Error::Timeout(format!("the request did not complete before its deadline{what}"))))
        })
    }

    /// Serves `request` for `partition` here if this node leads it, else forwards it.
    async fn route(&self, partition: u32, request: Request, ctx: Context) -> Reply {
        let part = self.cluster.partition(partition);
        let mut leadership = part.watch_leadership();
        let give_up = Instant::now() + self.options.leader_wait;
        loop {
            let l = *leadership.borrow_and_update();
            let hint = |result| Reply { result, leader: l.leader.unwrap_or(0), term: l.term };
            if l.is_self {
                let result = cmd::execute_local(self, partition, &request).await;
                let moved = matches!(result, Err(Error::MustRetry(_))) && !part.leadership().is_self;
                if moved && !ctx.forwarded {
                    continue; // lost leadership before the request took effect: route again
                }
                return hint(result);
            }
            if ctx.forwarded {
                return hint(Err(Error::MustRetry(format!(
                    "node {} does not lead partition {partition} any more",
                    self.cluster.node_id()
                ))));
            }
            if let Some(leader) = l.leader {
                return self.forward(leader, request, ctx).await;
            }
            // No leader known: wait for one (an election is probably under way).
            let wait = tokio::time::timeout_at(give_up.min(ctx.deadline), leadership.changed()).await;
            if !matches!(wait, Ok(Ok(()))) {
                return hint(Err(Error::Unavailable(format!(
                    "partition {partition} has no leader: a quorum of its replicas is not reachable"
                ))));
            }
        }
    }

    async fn forward(&self, leader: u64, request: Request, ctx: Context) -> Reply {
        let Some(forwarder) = self.forwarder.get() else {
            return Reply::plain(Err(Error::Internal("no forwarder installed".into())));
        };
        let remaining = ctx.deadline.saturating_duration_since(Instant::now());
        let write = cmd::is_write(&request);
        match forwarder.forward(leader, request, remaining).await {
            Ok(reply) => reply,
            Err(e @ ForwardError::NotSent { .. }) => Reply::plain(Err(Error::MustRetry(e.to_string()))),
            Err(e @ ForwardError::Lost { .. }) if write => {
                Reply::plain(Err(Error::Timeout(format!("{e}; the write may or may not have taken effect"))))
            }
            Err(e) => Reply::plain(Err(Error::MustRetry(e.to_string()))),
        }
    }
}
