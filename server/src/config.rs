//! Typed server configuration: defaults, the TOML file format, merging and validation.
//!
//! Precedence, lowest to highest: built-in defaults, the TOML file (`--config`), `KAHUNA_*`
//! environment variables, command-line flags (the binary maps the last two onto
//! [`Overrides`]). This module does no I/O: the binary reads the file and the environment.
//! `kahuna.sample.toml` at the repository root documents every key.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

/// Largest `limits.max_ephemeral_mb` (1 TiB).
pub const MAX_EPHEMERAL_MB: u64 = 1 << 20;

/// The complete configuration of a node.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// This node's id (>= 1), unique in the cluster.
    pub node_id: u64,
    /// The cluster's name; a data directory only opens under the name it was bootstrapped with.
    pub cluster_name: String,
    /// Address to listen on for clients and peers.
    pub listen: SocketAddr,
    /// Address of the admin HTTP endpoint (`/metrics`, `/health`, `/livez`, `/status`); `None` =
    /// no admin endpoint.
    pub admin_listen: Option<SocketAddr>,
    /// Every initial member as `id=host:port` (this node included). Empty: a single-node
    /// cluster of this node at its listen address.
    pub peers: Vec<String>,
    /// Where the node keeps its data. Empty: `$KAHUNA_HOME/node-<id>` or
    /// `~/.local/share/kahuna/node-<id>` (resolved by the binary).
    pub data_dir: PathBuf,
    /// Partitions, fixed at bootstrap.
    pub partitions: u32,
    /// Threads serving Cap'n Proto connections; 0 runs the whole node on one thread.
    pub rpc_threads: usize,
    /// Raft timing, batching and log compaction.
    pub raft: RaftConfig,
    /// Request limits.
    pub limits: LimitsConfig,
    /// Revision retention and the expiry sweep.
    pub retention: RetentionConfig,
    /// RocksDB memory budget.
    pub storage: StorageConfig,
}

/// Raft settings.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct RaftConfig {
    /// Leader heartbeat interval, ms.
    pub heartbeat_ms: u64,
    /// Election timeout range, ms.
    pub election_timeout_min_ms: u64,
    /// Election timeout range, ms.
    pub election_timeout_max_ms: u64,
    /// Build a snapshot after this many log entries since the last one.
    pub snapshot_logs: u64,
    /// Log entries kept behind a snapshot for followers that lag a little.
    pub logs_to_keep: u64,
    /// Most commands in one log entry.
    pub max_batch: usize,
    /// Most bytes of commands in one log entry.
    pub max_batch_bytes: usize,
    /// Log entries a partition leader keeps in flight.
    pub pipeline: usize,
}

/// Request limits.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    /// Largest value, bytes.
    pub max_value_bytes: usize,
    /// Deadline of requests that name none.
    #[serde(with = "humantime_serde")]
    pub request_timeout: Duration,
    /// Longest deadline a request may ask for.
    #[serde(with = "humantime_serde")]
    pub max_request_timeout: Duration,
    /// Scan page size when the request names none.
    pub scan_default_limit: u32,
    /// Largest scan page.
    pub scan_max_limit: u32,
    /// Most keys one bucket read returns.
    pub bucket_max_entries: usize,
    /// The largest clock offset assumed between nodes (lock leases granted by an earlier
    /// leader are honoured this much longer).
    #[serde(with = "humantime_serde")]
    pub max_clock_offset: Duration,
    /// Most memory the node's Ephemeral data may take, MiB (keys, values and their history,
    /// rounded to allocator size classes, plus a fixed overhead per stored version); writes past
    /// it fail with `ResourceExhausted`.
    /// 0 = no cap.
    pub max_ephemeral_mb: u64,
}

/// Retention and sweep.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct RetentionConfig {
    /// Versions kept per key.
    pub revisions: usize,
    /// Versions older than this are purged (the latest always stays); 0 = no age limit.
    #[serde(with = "humantime_serde")]
    pub revision_max_age: Duration,
    /// How long a deleted or expired key keeps its history and revision counter.
    #[serde(with = "humantime_serde")]
    pub tombstone_retention: Duration,
    /// Time between sweep rounds; 0 = no sweep.
    #[serde(with = "humantime_serde")]
    pub sweep_interval: Duration,
}

/// RocksDB memory.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct StorageConfig {
    /// Block cache, MiB.
    pub block_cache_mb: usize,
    /// Memtables of all column families together, MiB.
    pub write_buffer_mb: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            node_id: 1,
            cluster_name: "kahuna".into(),
            listen: "127.0.0.1:7070".parse().expect("valid address"),
            admin_listen: None,
            peers: Vec::new(),
            data_dir: PathBuf::new(),
            partitions: 8,
            rpc_threads: 0,
            raft: RaftConfig::default(),
            limits: LimitsConfig::default(),
            retention: RetentionConfig::default(),
            storage: StorageConfig::default(),
        }
    }
}

impl Default for RaftConfig {
    fn default() -> Self {
        RaftConfig {
            heartbeat_ms: 200,
            election_timeout_min_ms: 1000,
            election_timeout_max_ms: 2000,
            snapshot_logs: 20_000,
            logs_to_keep: 2_000,
            max_batch: 512,
            max_batch_bytes: 1 << 20,
            pipeline: 8,
        }
    }
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            max_value_bytes: 16 << 20,
            request_timeout: Duration::from_secs(5),
            max_request_timeout: Duration::from_secs(60),
            scan_default_limit: 100,
            scan_max_limit: 1000,
            bucket_max_entries: 10_000,
            max_clock_offset: Duration::from_millis(500),
            max_ephemeral_mb: 1024,
        }
    }
}

impl Default for RetentionConfig {
    fn default() -> Self {
        RetentionConfig {
            revisions: 16,
            revision_max_age: Duration::ZERO,
            tombstone_retention: Duration::from_secs(600),
            sweep_interval: Duration::from_secs(30),
        }
    }
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig { block_cache_mb: 64, write_buffer_mb: 64 }
    }
}

/// Values given on the command line or in the environment (highest precedence).
#[derive(Clone, Debug, Default)]
#[allow(missing_docs)]
pub struct Overrides {
    pub node_id: Option<u64>,
    pub cluster_name: Option<String>,
    pub listen: Option<SocketAddr>,
    pub admin_listen: Option<SocketAddr>,
    pub peers: Option<Vec<String>>,
    pub data_dir: Option<PathBuf>,
    pub partitions: Option<u32>,
    pub rpc_threads: Option<usize>,
    pub heartbeat_ms: Option<u64>,
    pub election_timeout_min_ms: Option<u64>,
    pub election_timeout_max_ms: Option<u64>,
    pub snapshot_logs: Option<u64>,
    pub logs_to_keep: Option<u64>,
    pub max_batch: Option<usize>,
    pub pipeline: Option<usize>,
    pub max_value_bytes: Option<usize>,
    pub max_ephemeral_mb: Option<u64>,
    pub request_timeout: Option<Duration>,
    pub revisions: Option<usize>,
    pub revision_max_age: Option<Duration>,
    pub tombstone_retention: Option<Duration>,
    pub sweep_interval: Option<Duration>,
    pub block_cache_mb: Option<usize>,
}

impl Config {
    /// Parses a TOML configuration file's text; unknown keys are errors.
    pub fn from_toml(text: &str) -> Result<Config, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    /// Applies command-line and environment values on top.
    pub fn apply(&mut self, o: Overrides) {
        macro_rules! set {
            ($($field:ident => $($path:ident).+),* $(,)?) => {$(
                if let Some(v) = o.$field { self.$($path).+ = v; }
            )*};
        }
        if let Some(a) = o.admin_listen {
            self.admin_listen = Some(a);
        }
        set!(
            node_id => node_id, cluster_name => cluster_name, listen => listen, peers => peers,
            data_dir => data_dir, partitions => partitions, rpc_threads => rpc_threads,
            heartbeat_ms => raft.heartbeat_ms, election_timeout_min_ms => raft.election_timeout_min_ms,
            election_timeout_max_ms => raft.election_timeout_max_ms, snapshot_logs => raft.snapshot_logs,
            logs_to_keep => raft.logs_to_keep, max_batch => raft.max_batch, pipeline => raft.pipeline,
            max_value_bytes => limits.max_value_bytes, max_ephemeral_mb => limits.max_ephemeral_mb,
            request_timeout => limits.request_timeout,
            revisions => retention.revisions, revision_max_age => retention.revision_max_age,
            tombstone_retention => retention.tombstone_retention, sweep_interval => retention.sweep_interval,
            block_cache_mb => storage.block_cache_mb,
        );
    }

    /// The member address book: `peers` parsed, or this node alone at its listen address.
    pub fn members(&self) -> Result<BTreeMap<u64, String>, String> {
        if self.peers.is_empty() {
            return Ok(BTreeMap::from([(self.node_id, self.listen.to_string())]));
        }
        let mut members = BTreeMap::new();
        for entry in self.peers.iter().flat_map(|p| p.split(',')).map(str::trim).filter(|p| !p.is_empty()) {
            let (id, addr) =
                entry.split_once('=').ok_or_else(|| format!("peers: '{entry}' is not of the form id=host:port"))?;
            let id: u64 = id
                .trim()
                .parse()
                .map_err(|_| format!("peers: '{id}' in '{entry}' is not a node id (a positive integer)"))?;
            if id == 0 {
                return Err(format!("peers: node ids start at 1, got 0 in '{entry}'"));
            }
            let addr = addr.trim();
            let valid =
                addr.rsplit_once(':').is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
            if !valid {
                return Err(format!("peers: '{addr}' in '{entry}' is not a host:port address"));
            }
            if members.insert(id, addr.to_string()).is_some() {
                return Err(format!("peers: node id {id} is listed twice"));
            }
        }
        if !members.contains_key(&self.node_id) {
            return Err(format!(
                "peers must list this node (node-id {}), e.g. {}={}",
                self.node_id, self.node_id, self.listen
            ));
        }
        Ok(members)
    }

    /// Checks every value; the error names the setting and the problem.
    pub fn validate(&self) -> Result<(), String> {
        let r = &self.raft;
        let checks: Vec<(bool, String)> = vec![
            (self.node_id >= 1, format!("node-id must be at least 1, got {}", self.node_id)),
            (!self.cluster_name.trim().is_empty(), "cluster-name must not be empty".into()),
            (
                self.admin_listen != Some(self.listen) || self.listen.port() == 0,
                format!("admin-listen must differ from listen, both are {}", self.listen),
            ),
            (
                (1..=4096).contains(&self.partitions),
                format!("partitions must be between 1 and 4096, got {}", self.partitions),
            ),
            (self.rpc_threads <= 64, format!("rpc-threads must be between 0 and 64, got {}", self.rpc_threads)),
            (r.heartbeat_ms >= 10, format!("heartbeat-ms must be at least 10, got {}", r.heartbeat_ms)),
            (
                r.election_timeout_min_ms > r.heartbeat_ms,
                format!(
                    "election-timeout-min-ms ({}) must be greater than heartbeat-ms ({})",
                    r.election_timeout_min_ms, r.heartbeat_ms
                ),
            ),
            (
                r.election_timeout_max_ms > r.election_timeout_min_ms,
                format!(
                    "election-timeout-max-ms ({}) must be greater than election-timeout-min-ms ({})",
                    r.election_timeout_max_ms, r.election_timeout_min_ms
                ),
            ),
            (r.snapshot_logs >= 10, format!("snapshot-logs must be at least 10, got {}", r.snapshot_logs)),
            (
                (1..=65_536).contains(&r.max_batch),
                format!("max-batch must be between 1 and 65536, got {}", r.max_batch),
            ),
            (
                r.max_batch_bytes >= 1024,
                format!("raft.max_batch_bytes must be at least 1024, got {}", r.max_batch_bytes),
            ),
            ((1..=1024).contains(&r.pipeline), format!("pipeline must be between 1 and 1024, got {}", r.pipeline)),
            (
                (1..=(256 << 20)).contains(&self.limits.max_value_bytes),
                format!("max-value-bytes must be between 1 and 268435456, got {}", self.limits.max_value_bytes),
            ),
            (!self.limits.request_timeout.is_zero(), "request-timeout must be greater than 0".into()),
            (
                self.limits.max_request_timeout >= self.limits.request_timeout,
                "limits.max_request_timeout must be at least request-timeout".into(),
            ),
            (
                self.limits.scan_default_limit >= 1 && self.limits.scan_max_limit >= self.limits.scan_default_limit,
                "limits.scan_default_limit must be at least 1 and at most limits.scan_max_limit".into(),
            ),
            (self.limits.bucket_max_entries >= 1, "limits.bucket_max_entries must be at least 1".into()),
            (
                self.limits.max_ephemeral_mb <= MAX_EPHEMERAL_MB,
                format!(
                    "max-ephemeral-mb must be between 0 (no cap) and {MAX_EPHEMERAL_MB}, got {}",
                    self.limits.max_ephemeral_mb
                ),
            ),
            (self.retention.revisions >= 1, format!("revisions must be at least 1, got {}", self.retention.revisions)),
            (self.storage.block_cache_mb >= 1, "block-cache-mb must be at least 1".into()),
            (self.storage.write_buffer_mb >= 4, "storage.write_buffer_mb must be at least 4".into()),
        ];
        if let Some((_, message)) = checks.into_iter().find(|(ok, _)| !ok) {
            return Err(message);
        }
        self.members().map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_single_node() {
        let c = Config::default();
        c.validate().unwrap();
        assert_eq!(c.members().unwrap(), BTreeMap::from([(1, "127.0.0.1:7070".to_string())]));
    }

    #[test]
    fn toml_then_overrides() {
        let mut c = Config::from_toml(
            r#"
            node_id = 2
            peers = ["1=127.0.0.1:7070", "2=127.0.0.1:7071"]
            [raft]
            heartbeat_ms = 100
            [retention]
            tombstone_retention = "1h"
            "#,
        )
        .unwrap();
        assert_eq!(c.node_id, 2);
        assert_eq!(c.raft.heartbeat_ms, 100);
        assert_eq!(c.raft.election_timeout_min_ms, 1000, "unset keys keep defaults");
        assert_eq!(c.retention.tombstone_retention, Duration::from_secs(3600));
        c.apply(Overrides { heartbeat_ms: Some(50), partitions: Some(3), ..Overrides::default() });
        assert_eq!(c.raft.heartbeat_ms, 50);
        assert_eq!(c.partitions, 3);
        c.validate().unwrap();
        assert_eq!(c.members().unwrap().len(), 2);
    }

    #[test]
    fn bad_values_name_the_setting() {
        let err = Config::from_toml("nodeid = 3").unwrap_err();
        assert!(err.contains("unknown field"), "{err}");
        let err = Config::from_toml("partitions = \"eight\"").unwrap_err();
        assert!(err.contains("partitions"), "{err}");
        let err = Config::from_toml("[retention]\nsweep_interval = \"soon\"").unwrap_err();
        assert!(err.contains("sweep_interval"), "{err}");

        let bad = |o: Overrides| {
            let mut c = Config::default();
            c.apply(o);
            c.validate().unwrap_err()
        };
        assert!(bad(Overrides { node_id: Some(0), ..Default::default() }).contains("node-id"));
        assert!(bad(Overrides { partitions: Some(0), ..Default::default() }).contains("partitions"));
        assert!(bad(Overrides { heartbeat_ms: Some(5000), ..Default::default() }).contains("election-timeout-min-ms"));
        assert!(bad(Overrides { max_value_bytes: Some(0), ..Default::default() }).contains("max-value-bytes"));
        assert!(bad(Overrides { revisions: Some(0), ..Default::default() }).contains("revisions"));
        let same = Some("127.0.0.1:7070".parse().unwrap());
        assert!(
            bad(Overrides { admin_listen: same, ..Default::default() })
                .contains("admin-listen must differ from listen, both are 127.0.0.1:7070")
        );
        assert!(
            bad(Overrides { max_ephemeral_mb: Some(MAX_EPHEMERAL_MB + 1), ..Default::default() })
                .contains("max-ephemeral-mb must be between 0 (no cap) and 1048576")
        );
        let peers = |p: &str| bad(Overrides { peers: Some(vec![p.into()]), ..Default::default() });
        assert!(peers("1=127.0.0.1").contains("not a host:port"));
        assert!(peers("one=127.0.0.1:1").contains("not a node id"));
        assert!(peers("2=127.0.0.1:1").contains("must list this node"));
        assert!(peers("1=a:1,1=b:2").contains("listed twice"));
        assert!(peers("1:a:1").contains("id=host:port"));
    }
}

#[cfg(test)]
mod sample {
    /// The annotated sample shipped at the repository root parses and equals the defaults.
    #[test]
    fn sample_config_is_the_defaults() {
        let text = include_str!("../../kahuna.sample.toml");
        let parsed = super::Config::from_toml(text).unwrap();
        assert_eq!(parsed, super::Config::default());
    }
}
