//! The router: connections, the routing cache and the client's clock, on the I/O thread.
//!
//! One `Router` exists per client, owned by the I/O thread (`Rc`, never shared across threads).
//! It answers the retry loop's questions: where should this call go, over which connection,
//! with which request header; and it learns from every reply.
//!
//! ```text
//!   retry::execute ── pick(partition) ──> address ── connection(address) ──> Conn
//!          │                                               │ (first use: open + handshake)
//!          └── header(partition) ── hlc, partition, count  │
//!          └── observe(reply) ───> hlc := max, leader hint ┴─> Routes
//! ```
//!
//! Invariants:
//! - At most one connection per address is open or being opened; concurrent calls to a node
//!   share it (`Slot::Opening` is a shared future that every waiter drives).
//! - A new connection is usable only after its handshake, a `topology` call answered within
//!   `connect_timeout`. A node that accepts TCP but does not answer (SIGSTOP) therefore fails
//!   fast instead of swallowing requests. The handshake's topology is ingested for free and its
//!   cluster id checked: a port reused by another cluster's node is never talked to.
//! - `hlc` is the highest clock seen in any reply; every request carries it, so causality
//!   carries across nodes (a read after a write never lands before it in HLC order).
//! - Topology refreshes run in the background, one at a time and at most every
//!   [`REFRESH_INTERVAL`]; callers never wait for them, they retry with what the cache knows.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::{Rc, Weak};
use std::time::Duration;

use futures::FutureExt;
use futures::future::{LocalBoxFuture, Shared};
use kahuna_schema::Code;
use tokio::time::Instant;

use crate::conn::Conn;
use crate::error::{Error, Failure};
use crate::ops::{Call, Header, Reply, Route, TopologyCall};
use crate::routes::Routes;
use crate::types::{ClientOptions, Topology};

/// Minimum time between two background topology refreshes.
pub(crate) const REFRESH_INTERVAL: Duration = Duration::from_millis(50);

type Opening = Shared<LocalBoxFuture<'static, Result<Rc<Conn>, Failure>>>;

#[derive(Clone)]
enum Slot {
    Opening(Opening),
    Ready(Rc<Conn>),
}

/// Connections, routing cache and clock of one client.
pub(crate) struct Router {
    /// The client's options.
    pub options: ClientOptions,
    routes: RefCell<Routes>,
    conns: RefCell<HashMap<String, Slot>>,
    hlc: Cell<u64>,
    rotor: Cell<usize>,
    refreshing: Cell<bool>,
    last_refresh: Cell<Option<Instant>>,
}

impl Router {
    /// A router that knows only the seed endpoints.
    pub(crate) fn new(options: ClientOptions, seeds: Vec<String>) -> Rc<Router> {
        Rc::new(Router {
            options,
            routes: RefCell::new(Routes::new(seeds)),
            conns: RefCell::new(HashMap::new()),
            hlc: Cell::new(0),
            rotor: Cell::new(0),
            refreshing: Cell::new(false),
            last_refresh: Cell::new(None),
        })
    }

    /// Learns the cluster from the seeds: tries each until one answers `topology`, in rounds
    /// with backoff, until `deadline`.
    pub(crate) async fn bootstrap(self: &Rc<Self>, deadline: Instant) -> Result<(), Error> {
        let seeds = self.routes.borrow().addresses();
        let mut delays = crate::retry::backoff();
        let mut failures: Vec<String> = Vec::new();
        loop {
            failures.clear();
            for seed in &seeds {
                match self.fetch_topology(seed, deadline).await {
                    Ok(_) => return Ok(()),
                    Err(f) => failures.push(format!("{seed}: {f}")),
                }
            }
            // A last round right at the deadline rather than giving up a backoff early: a
            // cluster that comes up during the pause is still found.
            const LAST_ROUND: Duration = Duration::from_millis(20);
            let now = Instant::now();
            if now + LAST_ROUND >= deadline {
                return Err(Error::new(
                    Code::Unavailable,
                    format!("no endpoint answered within {:?}: {}", self.options.timeout, failures.join("; ")),
                ));
            }
            let pause = delays.next().unwrap_or(Duration::from_millis(500));
            tokio::time::sleep_until((now + pause).min(deadline - LAST_ROUND)).await;
        }
    }

    /// Asks one node for the topology and takes it in.
    pub(crate) async fn fetch_topology(self: &Rc<Self>, address: &str, deadline: Instant) -> Result<Topology, Failure> {
        let conn = tokio::time::timeout_at(deadline, self.connection(address))
            .await
            .map_err(|_| Failure::NotSent(format!("no connection to {address} in time")))??;
        let call = conn.begin()?;
        let header = self.header(None, deadline.saturating_duration_since(Instant::now()));
        let answer = tokio::time::timeout_at(deadline, TopologyCall.send(call.kahuna(), &header))
            .await
            .map_err(|_| Failure::InFlight(format!("{address} did not answer in time")))?;
        drop(call);
        let (reply, topology) = answer.inspect_err(|f| self.maybe_evict(&conn, f))?;
        self.observe(address, &reply, None);
        match topology {
            Some(t) => {
                self.ingest(address, &t)?;
                Ok(t)
            }
            None => Err(Failure::Status { code: reply.status, message: reply.message }),
        }
    }

    /// Takes in a topology answered by `address`; fails if it belongs to another cluster.
    pub(crate) fn ingest(&self, address: &str, t: &Topology) -> Result<(), Failure> {
        let mut routes = self.routes.borrow_mut();
        if routes.ingest(t) {
            return Ok(());
        }
        Err(Failure::NotSent(format!(
            "{address} belongs to cluster {} ('{}'), not to cluster {}",
            t.cluster_id, t.cluster_name, routes.cluster_id
        )))
    }

    /// The partition a call goes to (None: any node may serve it).
    pub(crate) fn partition(&self, route: Route<'_>) -> Option<u32> {
        self.routes.borrow().partition_of(route)
    }

    /// The node to try next for `partition`, avoiding `avoid` when possible.
    pub(crate) fn pick(&self, partition: Option<u32>, avoid: Option<&str>) -> String {
        let rotor = self.rotor.get();
        self.rotor.set(rotor.wrapping_add(1));
        self.routes.borrow().pick(partition, avoid, rotor, Instant::now())
    }

    /// The request header of one attempt.
    pub(crate) fn header(&self, partition: Option<u32>, timeout: Duration) -> Header {
        let routes = self.routes.borrow();
        let ms = timeout.as_millis().clamp(1, u128::from(u32::MAX)) as u32;
        match partition {
            Some(p) => {
                Header { hlc: self.hlc.get(), partition: p, partition_count: routes.partition_count, timeout_ms: ms }
            }
            None => Header { hlc: self.hlc.get(), timeout_ms: ms, ..Header::default() },
        }
    }

    /// Learns from a reply of `address`: clock, leader hint, and that the node is alive.
    pub(crate) fn observe(self: &Rc<Self>, address: &str, reply: &Reply, partition: Option<u32>) {
        self.hlc.set(self.hlc.get().max(reply.hlc));
        let mut routes = self.routes.borrow_mut();
        routes.clear_suspect(address);
        let Some(p) = partition else { return };
        let changed = routes.observe_leader(p, reply.leader, reply.term);
        let unknown = reply.leader != 0 && !routes.knows_node(reply.leader);
        drop(routes);
        if changed || unknown || reply.status == Code::MustRetry {
            self.request_refresh();
        }
    }

    /// Records that talking to `address` failed: it goes to the back of the line.
    pub(crate) fn node_failed(self: &Rc<Self>, address: &str) {
        self.routes.borrow_mut().mark_suspect(address, Instant::now());
        self.request_refresh();
    }

    /// Takes a connection out of service after a transport failure.
    pub(crate) fn maybe_evict(&self, conn: &Rc<Conn>, failure: &Failure) {
        if matches!(failure, Failure::InFlight(_) | Failure::NotSent(_)) {
            conn.evict();
            let mut conns = self.conns.borrow_mut();
            if matches!(conns.get(&conn.address), Some(Slot::Ready(c)) if Rc::ptr_eq(c, conn)) {
                conns.remove(&conn.address);
            }
        }
    }

    /// Starts a background topology refresh unless one is running or ran very recently.
    pub(crate) fn request_refresh(self: &Rc<Self>) {
        let now = Instant::now();
        let recent = self.last_refresh.get().is_some_and(|t| now < t + REFRESH_INTERVAL);
        if self.refreshing.get() || recent {
            return;
        }
        self.refreshing.set(true);
        self.last_refresh.set(Some(now));
        let this = self.clone();
        tokio::task::spawn_local(async move {
            let deadline = Instant::now() + this.options.connect_timeout;
            let mut avoid: Option<String> = None;
            let count = this.routes.borrow().addresses().len().max(1);
            for _ in 0..count {
                let address = this.pick(None, avoid.as_deref());
                match this.fetch_topology(&address, deadline).await {
                    Ok(_) => break,
                    Err(f) => {
                        tracing::debug!(%address, error = %f, "topology refresh failed");
                        if matches!(f, Failure::NotSent(_) | Failure::InFlight(_)) {
                            this.routes.borrow_mut().mark_suspect(&address, Instant::now());
                        }
                        avoid = Some(address);
                    }
                }
            }
            this.refreshing.set(false);
        });
    }

    /// The connection to `address`, opened (and handshaken) on first use.
    pub(crate) async fn connection(self: &Rc<Self>, address: &str) -> Result<Rc<Conn>, Failure> {
        let slot = self.conns.borrow().get(address).cloned();
        let opening = match slot {
            Some(Slot::Ready(conn)) if !conn.is_broken() => return Ok(conn),
            Some(Slot::Opening(opening)) => opening,
            _ => {
                let opening = open(Rc::downgrade(self), address.to_string()).boxed_local().shared();
                self.conns.borrow_mut().insert(address.to_string(), Slot::Opening(opening.clone()));
                opening
            }
        };
        opening.await
    }
}

/// Opens and handshakes a connection, then files it (or its failure) in the router's table.
/// Holds only a weak reference across awaits, so a closed client is not kept alive.
async fn open(router: Weak<Router>, address: String) -> Result<Rc<Conn>, Failure> {
    let (connect_timeout, hlc, cluster_id) = match router.upgrade() {
        Some(r) => (r.options.connect_timeout, r.hlc.get(), r.routes.borrow().cluster_id),
        None => return Err(Failure::NotSent("the client is closed".into())),
    };
    let result = handshake(&address, connect_timeout, hlc, cluster_id).await;
    let Some(router) = router.upgrade() else {
        return Err(Failure::NotSent("the client is closed".into()));
    };
    let result = result.and_then(|(conn, reply, topology)| {
        router.observe(&address, &reply, None);
        if let Some(t) = topology
            && let Err(f) = router.ingest(&address, &t)
        {
            conn.evict();
            return Err(f);
        }
        Ok(conn)
    });
    let mut conns = router.conns.borrow_mut();
    match &result {
        Ok(conn) => {
            conns.insert(address.clone(), Slot::Ready(conn.clone()));
        }
        Err(f) => {
            tracing::debug!(%address, error = %f, "cannot open connection");
            conns.remove(&address);
        }
    }
    result
}

/// TCP connect plus one `topology` round trip, all within `timeout`.
async fn handshake(
    address: &str,
    timeout: Duration,
    hlc: u64,
    cluster_id: u64,
) -> Result<(Rc<Conn>, Reply, Option<Topology>), Failure> {
    let deadline = Instant::now() + timeout;
    let conn = Conn::open(address, timeout).await?;
    let call = conn.begin()?;
    let header =
        Header { hlc, timeout_ms: timeout.as_millis().clamp(1, u128::from(u32::MAX)) as u32, ..Header::default() };
    let answer = tokio::time::timeout_at(deadline, TopologyCall.send(call.kahuna(), &header)).await;
    drop(call);
    let failure = match answer {
        Ok(Ok((reply, topology))) => {
            if let Some(t) = &topology
                && cluster_id != 0
                && t.cluster_id != cluster_id
            {
                Failure::NotSent(format!(
                    "{address} belongs to cluster {} ('{}'), not to cluster {cluster_id}",
                    t.cluster_id, t.cluster_name
                ))
            } else {
                return Ok((conn, reply, topology));
            }
        }
        Ok(Err(f)) => Failure::NotSent(format!("handshake with {address} failed: {f}")),
        Err(_) => Failure::NotSent(format!("{address} accepted a connection but did not answer within {timeout:?}")),
    };
    conn.evict();
    Err(failure)
}
