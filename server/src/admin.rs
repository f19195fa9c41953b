//! The admin HTTP endpoint (`admin_listen`): what operators and monitoring ask of a node.
//!
//! ```text
//!  admin_listen ── accept (at most 64 connections) ── HTTP/1.1 ── GET (or HEAD) only
//!     /metrics  Prometheus (OpenMetrics text): requests and latencies (kv::stats), each
//!               partition's Raft state and batching, fsyncs, Ephemeral memory
//!     /health   200 when every partition has a leader and the partitions this node leads
//!               confirm their leadership with a quorum within 1 s; else 503 naming them
//!               (readiness: it depends on quorum)
//!     /livez    200 while the process serves (liveness)
//!     /status   the node, its members and every partition's Raft state as JSON
//! ```
//!
//! Everything is read when asked; nothing here is on the request path. The endpoint has no
//! authentication: bind it to an address only operators reach.

use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{ALLOW, CONTENT_TYPE, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeCounterValue, EncodeGaugeValue, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;
use serde_json::json;
use tokio::net::TcpListener;

use crate::kv;
use crate::partition::RaftStatus;
use crate::raft::Syncer;

/// Most admin connections served at once; more are closed on accept.
const MAX_CONNECTIONS: usize = 64;
/// How long a client may take to send a request's headers.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// How long `/health` waits for a led partition to confirm its leadership.
const HEALTH_TIMEOUT: Duration = Duration::from_secs(1);

/// What the endpoint serves, for the index and 404 answers.
const ENDPOINTS: &str = "/metrics, /health, /livez, /status";

const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
const JSON: &str = "application/json";
const TEXT: &str = "text/plain; charset=utf-8";

/// What the admin endpoint reads from.
pub struct Admin {
    service: Arc<kv::Service>,
    syncer: Syncer,
    data_dir: PathBuf,
    started: Instant,
    started_unix: f64,
}

impl Admin {
    /// The endpoint of the node running `service`, whose appends `syncer` makes durable and
    /// whose files are under `data_dir`.
    pub fn new(service: Arc<kv::Service>, syncer: Syncer, data_dir: PathBuf) -> Arc<Admin> {
        let started_unix = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64());
        Arc::new(Admin { service, syncer, data_dir, started: Instant::now(), started_unix })
    }

    fn statuses(&self) -> Vec<RaftStatus> {
        self.service.cluster().partitions().iter().map(|p| p.status()).collect()
    }

    /// Answers one request (HEAD as GET: hyper leaves the body out).
    pub async fn handle(self: &Arc<Self>, method: &Method, path: &str) -> (StatusCode, &'static str, String) {
        if method != Method::GET && method != Method::HEAD {
            return (StatusCode::METHOD_NOT_ALLOWED, TEXT, format!("{method} is not allowed: use GET\n"));
        }
        match path {
            "/metrics" => (StatusCode::OK, OPENMETRICS, self.metrics()),
            "/health" => {
                let (healthy, body) = self.health().await;
                let code = if healthy { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
                (code, JSON, body)
            }
            "/livez" => (StatusCode::OK, TEXT, "ok\n".into()),
            "/status" => (StatusCode::OK, JSON, self.status()),
            "/" => (StatusCode::OK, TEXT, format!("kahuna-server admin endpoint: GET {ENDPOINTS}\n")),
            _ => (StatusCode::NOT_FOUND, TEXT, format!("no such endpoint: {path}; try {ENDPOINTS}\n")),
        }
    }

    /// `/health`: (healthy, JSON body). The partitions this node leads are checked together,
    /// so the answer takes at most [`HEALTH_TIMEOUT`] however many there are.
    async fn health(&self) -> (bool, String) {
        let cluster = self.service.cluster();
        let mut problems = Vec::new();
        let mut led = Vec::new();
        for p in cluster.partitions() {
            let id = p.id();
            match p.leadership().leader {
                None => problems.push((id, format!("partition {id} has no leader"))),
                Some(leader) if leader == cluster.node_id() => led.push(async move {
                    match tokio::time::timeout(HEALTH_TIMEOUT, p.ensure_lease()).await {
                        Ok(Ok(_)) => None,
                        Ok(Err(e)) => Some((id, format!("partition {id}: this node leads it, but {e}"))),
                        Err(_) => Some((
                            id,
                            format!(
                                "partition {id}: this node leads it, but a quorum did not confirm it within \
                                 {HEALTH_TIMEOUT:?}"
                            ),
                        )),
                    }
                }),
                Some(_) => {}
            }
        }
        problems.extend(futures::future::join_all(led).await.into_iter().flatten());
        problems.sort_by_key(|(id, _)| *id);
        let problems: Vec<String> = problems.into_iter().map(|(_, p)| p).collect();
        let healthy = problems.is_empty();
        let body = json!({
            "health": if healthy { "ok" } else { "unhealthy" },
            "node_id": cluster.node_id(),
            "problems": problems,
        });
        (healthy, format!("{body}\n"))
    }

    /// `/status`.
    fn status(&self) -> String {
        let cluster = self.service.cluster();
        let members = cluster.members();
        let (bytes, cap) = self.service.ephemeral_usage();
        let sync = self.syncer.stats();
        let requests: Vec<_> = (self.service.stats().counts().into_iter())
            .map(|c| json!({ "op": c.op, "durability": c.durability, "code": c.code.name(), "count": c.count }))
            .collect();
        let body = json!({
            "node_id": cluster.node_id(),
            "cluster_name": members.cluster_name,
            "version": env!("CARGO_PKG_VERSION"),
            "uptime_seconds": self.started.elapsed().as_secs_f64(),
            "members": members.addresses,
            "partitions": self.statuses(),
            "ephemeral": { "bytes": bytes, "cap_bytes": cap },
            "fsync": {
                "count": sync.syncs.load(Ordering::Relaxed),
                "appends": sync.jobs.load(Ordering::Relaxed),
                "seconds": sync.sync_micros.load(Ordering::Relaxed) as f64 / 1e6,
            },
            "requests": requests,
        });
        format!("{body:#}\n")
    }

    /// `/metrics`.
    fn metrics(self: &Arc<Self>) -> String {
        let mut registry = Registry::default();
        registry.register_collector(Box::new(Scrape { statuses: self.statuses(), admin: self.clone() }));
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &registry);
        out
    }
}

/// One scrape: the partitions' state read once, the rest read while encoding.
struct Scrape {
    statuses: Vec<RaftStatus>,
    admin: Arc<Admin>,
}

impl std::fmt::Debug for Scrape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scrape").field("partitions", &self.statuses.len()).finish_non_exhaustive()
    }
}

/// Labels of one series.
type Labels = Vec<(&'static str, String)>;

/// A labelled metric family of `metric_type` (a gauge or a counter) with these series.
fn family<N: EncodeCounterValue + EncodeGaugeValue>(
    e: &mut DescriptorEncoder,
    metric_type: MetricType,
    name: &str,
    help: &str,
    values: impl IntoIterator<Item = (Labels, N)>,
) -> Result<(), std::fmt::Error> {
    let mut m = e.encode_descriptor(name, help, None, metric_type)?;
    for (labels, v) in values {
        let series = m.encode_family(&labels)?;
        match metric_type {
            MetricType::Counter => ConstCounter::new(v).encode(series)?,
            _ => ConstGauge::new(v).encode(series)?,
        }
    }
    Ok(())
}

/// This process's resident memory (bytes), CPU time (seconds) and open file descriptors, from
/// `/proc` (Linux; `None` elsewhere). `/proc` reports CPU time in `USER_HZ` ticks, 100 a second.
fn process_usage() -> Option<(u64, f64, u64)> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let rss_kib: u64 =
        status.lines().find_map(|l| l.strip_prefix("VmRSS:"))?.trim().strip_suffix("kB")?.trim().parse().ok()?;
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces) start at field 3; utime and stime
    // are fields 14 and 15.
    let after = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    let fds = std::fs::read_dir("/proc/self/fd").ok()?.count() as u64;
    Some((rss_kib * 1024, ticks as f64 / 100.0, fds))
}

/// Bytes of the regular files under `dir` (RocksDB's files, snapshots); files that vanish
/// meanwhile (compactions) are skipped.
fn dir_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => dir_bytes(&e.path()),
            Ok(t) if t.is_file() => e.metadata().map_or(0, |m| m.len()),
            _ => 0,
        })
        .sum()
}

/// A metric without labels.
fn single<N: EncodeCounterValue + EncodeGaugeValue>(
    e: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    metric_type: MetricType,
    value: N,
) -> Result<(), std::fmt::Error> {
    let m = e.encode_descriptor(name, help, None, metric_type)?;
    match metric_type {
        MetricType::Counter => ConstCounter::new(value).encode(m),
        _ => ConstGauge::new(value).encode(m),
    }
}

impl Collector for Scrape {
    fn encode(&self, mut e: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let admin = &self.admin;
        let service = &admin.service;
        let node = service.cluster().node_id();
        let part = |s: &RaftStatus| vec![("partition", s.partition.to_string())];

        family(
            &mut e,
            MetricType::Gauge,
            "kahuna_node_info",
            "This node: its id, cluster and version (value 1).",
            [(
                vec![
                    ("node_id", node.to_string()),
                    ("cluster", service.cluster().members().cluster_name.clone()),
                    ("version", env!("CARGO_PKG_VERSION").to_string()),
                ],
                1u64,
            )],
        )?;
        single(
            &mut e,
            "process_start_time_seconds",
            "Start time of the process, Unix seconds.",
            MetricType::Gauge,
            admin.started_unix,
        )?;
        if let Some((rss, cpu, fds)) = process_usage() {
            single(&mut e, "process_resident_memory_bytes", "Resident memory.", MetricType::Gauge, rss)?;
            single(&mut e, "process_cpu_seconds", "User and system CPU time.", MetricType::Counter, cpu)?;
            single(&mut e, "process_open_fds", "Open file descriptors.", MetricType::Gauge, fds)?;
        }

        let counts = service.stats().counts();
        family(
            &mut e,
            MetricType::Counter,
            "kahuna_requests",
            "Requests clients sent to this node, by operation, keyspace and status answered.",
            counts.iter().map(|c| {
                let labels =
                    vec![("op", c.op.to_string()), ("durability", c.durability.into()), ("code", c.code.name().into())];
                (labels, c.count)
            }),
        )?;
        let mut m = e.encode_descriptor(
            "kahuna_request_duration_seconds",
            "Time this node took to answer a client's request (forwarding included), by operation and keyspace.",
            None,
            MetricType::Histogram,
        )?;
        for (op, durability, histogram) in service.stats().latencies() {
            let labels = [("op", op), ("durability", durability)];
            histogram.encode(m.encode_family(&labels)?)?;
        }

        let s = &self.statuses;
        family(
            &mut e,
            MetricType::Gauge,
            "kahuna_raft_term",
            "Current Raft term of the partition.",
            s.iter().map(|s| (part(s), s.term)),
        )?;
        family(
            &mut e,
            MetricType::Gauge,
            "kahuna_raft_leader",
            "Node id of the partition's leader as this node knows it (0: unknown).",
            s.iter().map(|s| (part(s), s.leader.unwrap_or(0))),
        )?;
        family(
            &mut e,
            MetricType::Gauge,
            "kahuna_raft_is_leader",
            "1 when this node leads the partition and serves it.",
            s.iter().map(|s| (part(s), u64::from(s.serving))),
        )?;
        let index = |i: Option<u64>| i.unwrap_or(0);
        family(
            &mut e,
            MetricType::Gauge,
            "kahuna_raft_last_log_index",
            "Index of the last entry in this node's log of the partition.",
            s.iter().map(|s| (part(s), index(s.last_log_index))),
        )?;
        family(
            &mut e,
            MetricType::Gauge,
            "kahuna_raft_applied_index",
            "Index of the last entry applied to the partition's state machine on this node.",
            s.iter().map(|s| (part(s), index(s.applied_index))),
        )?;
        family(
            &mut e,
            MetricType::Gauge,
            "kahuna_raft_snapshot_index",
            "Index of the last entry in the partition's newest snapshot on this node.",
            s.iter().map(|s| (part(s), index(s.snapshot_index))),
        )?;
        family(
            &mut e,
            MetricType::Gauge,
            "kahuna_raft_matched_index",
            "Leader only: the last log index each voter of the partition is known to hold.",
            s.iter().flat_map(|s| {
                s.matched.iter().map(move |(voter, i)| {
                    (vec![("partition", s.partition.to_string()), ("voter", voter.to_string())], index(*i))
                })
            }),
        )?;
        family(
            &mut e,
            MetricType::Gauge,
            "kahuna_raft_quorum_ack_age_seconds",
            "Leader only: time since a quorum last acknowledged this node's leadership of the partition.",
            s.iter().filter_map(|s| s.quorum_ack_ms.map(|ms| (part(s), ms as f64 / 1e3))),
        )?;
        family(
            &mut e,
            MetricType::Counter,
            "kahuna_raft_applied_entries",
            "Raft log entries applied on this node since it started.",
            s.iter().map(|s| (part(s), s.applied_entries)),
        )?;
        family(
            &mut e,
            MetricType::Counter,
            "kahuna_raft_applied_commands",
            "Commands in those entries (commands / entries = how many writes share a Raft round).",
            s.iter().map(|s| (part(s), s.applied_commands)),
        )?;

        let sync = admin.syncer.stats();
        let m = e.encode_descriptor(
            "kahuna_fsync_duration_seconds",
            "How long each fsync of the node's group-commit thread took.",
            None,
            MetricType::Histogram,
        )?;
        sync.durations.encode(m)?;
        single(
            &mut e,
            "kahuna_fsync_appends",
            "Raft log appends those fsyncs made durable.",
            MetricType::Counter,
            sync.jobs.load(Ordering::Relaxed),
        )?;

        single(
            &mut e,
            "kahuna_data_bytes",
            "Bytes of the files in the node's data directory (RocksDB, snapshots).",
            MetricType::Gauge,
            dir_bytes(&admin.data_dir),
        )?;

        let (bytes, cap) = service.ephemeral_usage();
        single(
            &mut e,
            "kahuna_ephemeral_bytes",
            "Memory the node's Ephemeral keys take (as the cap counts it).",
            MetricType::Gauge,
            bytes,
        )?;
        single(
            &mut e,
            "kahuna_ephemeral_cap_bytes",
            "The cap on that memory (limits.max_ephemeral_mb; 0: none).",
            MetricType::Gauge,
            cap,
        )?;
        Ok(())
    }
}

/// Serves the admin endpoint on `listener` until the task is dropped (its connections with it).
pub async fn serve(listener: TcpListener, admin: Arc<Admin>) {
    let mut connections = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _)) => stream,
                    Err(e) => {
                        tracing::warn!(error = %e, "admin endpoint: accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                if connections.len() >= MAX_CONNECTIONS {
                    continue; // dropped: closed at once
                }
                let admin = admin.clone();
                connections.spawn(async move {
                    let service = service_fn(move |request: Request<Incoming>| {
                        let admin = admin.clone();
                        async move {
                            let (code, content_type, body) = admin.handle(request.method(), request.uri().path()).await;
                            let mut response = Response::new(Full::new(Bytes::from(body)));
                            *response.status_mut() = code;
                            response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
                            if code == StatusCode::METHOD_NOT_ALLOWED {
                                response.headers_mut().insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
                            }
                            Ok::<_, Infallible>(response)
                        }
                    });
                    let connection = http1::Builder::new()
                        .timer(TokioTimer::new())
                        .header_read_timeout(HEADER_TIMEOUT)
                        .serve_connection(TokioIo::new(stream), service);
                    if let Err(e) = connection.await {
                        tracing::debug!(error = %e, "admin connection");
                    }
                });
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}
