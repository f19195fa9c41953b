//! `kahuna-server`: runs one Kahuna node.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use kahuna_server::config::{Config, Overrides};

/// mimalloc instead of glibc malloc: the request path allocates many small buffers per call
/// (Cap'n Proto messages, keys, batches), and glibc's free-list upkeep (`unlink_chunk`,
/// `malloc_consolidate`) was about 15 % of a node's CPU under load (docs/performance.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A Kahuna node: a partitioned, Raft-replicated, strongly consistent key/value store.
///
/// With no flags it starts a single-node cluster listening on 127.0.0.1:7070 with its data in
/// ~/.local/share/kahuna/node-1. Settings come from built-in defaults, then the TOML file given
/// by --config (see kahuna.sample.toml), then KAHUNA_* environment variables, then flags.
#[derive(Parser, Debug)]
#[command(name = "kahuna-server", version, about, long_about)]
struct Args {
    /// TOML configuration file.
    #[arg(long, env = "KAHUNA_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// This node's id (>= 1), unique in the cluster [default: 1].
    #[arg(long, env = "KAHUNA_NODE_ID")]
    node_id: Option<u64>,
    /// Cluster name; a data directory only opens under the name it was bootstrapped with
    /// [default: kahuna].
    #[arg(long, env = "KAHUNA_CLUSTER_NAME")]
    cluster_name: Option<String>,
    /// Address for clients and peers [default: 127.0.0.1:7070].
    #[arg(long, env = "KAHUNA_LISTEN", value_name = "HOST:PORT")]
    listen: Option<std::net::SocketAddr>,
    /// Address of the admin HTTP endpoint: GET /metrics (Prometheus), /health (readiness),
    /// /livez, /status (JSON) [default: none, no admin endpoint].
    #[arg(long, env = "KAHUNA_ADMIN_LISTEN", value_name = "HOST:PORT")]
    admin_listen: Option<std::net::SocketAddr>,
    /// Every initial member, this node included, as id=host:port,... [default: this node alone].
    #[arg(long, env = "KAHUNA_PEERS", value_name = "ID=HOST:PORT,...", value_delimiter = ',')]
    peers: Option<Vec<String>>,
    /// Data directory [default: $KAHUNA_HOME/node-<id>, else ~/.local/share/kahuna/node-<id>].
    #[arg(long, env = "KAHUNA_DATA_DIR", value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Partitions; fixed when the cluster is bootstrapped [default: 8].
    #[arg(long, env = "KAHUNA_PARTITIONS")]
    partitions: Option<u32>,
    /// Threads serving Cap'n Proto connections; 0 runs the whole node on one thread [default: 0].
    #[arg(long, env = "KAHUNA_RPC_THREADS")]
    rpc_threads: Option<usize>,
    /// Raft leader heartbeat interval in ms [default: 200].
    #[arg(long, env = "KAHUNA_HEARTBEAT_MS")]
    heartbeat_ms: Option<u64>,
    /// Lower bound of the election timeout in ms [default: 1000].
    #[arg(long, env = "KAHUNA_ELECTION_TIMEOUT_MIN_MS")]
    election_timeout_min_ms: Option<u64>,
    /// Upper bound of the election timeout in ms [default: 2000].
    #[arg(long, env = "KAHUNA_ELECTION_TIMEOUT_MAX_MS")]
    election_timeout_max_ms: Option<u64>,
    /// Build a partition snapshot (and purge its log) after this many log entries [default: 20000].
    #[arg(long, env = "KAHUNA_SNAPSHOT_LOGS")]
    snapshot_logs: Option<u64>,
    /// Log entries kept behind a snapshot for lagging followers [default: 2000].
    #[arg(long, env = "KAHUNA_LOGS_TO_KEEP")]
    logs_to_keep: Option<u64>,
    /// Most commands batched into one Raft entry [default: 512].
    #[arg(long, env = "KAHUNA_MAX_BATCH")]
    max_batch: Option<usize>,
    /// Raft entries a partition leader keeps in flight [default: 8].
    #[arg(long, env = "KAHUNA_PIPELINE")]
    pipeline: Option<usize>,
    /// Largest value in bytes [default: 16777216].
    #[arg(long, env = "KAHUNA_MAX_VALUE_BYTES")]
    max_value_bytes: Option<usize>,
    /// Most memory the node's Ephemeral keys may take, MiB; writes past it fail with
    /// ResourceExhausted; 0 = no cap [default: 1024].
    #[arg(long, env = "KAHUNA_MAX_EPHEMERAL_MB")]
    max_ephemeral_mb: Option<u64>,
    /// Deadline of requests that name none, e.g. 5s [default: 5s].
    #[arg(long, env = "KAHUNA_REQUEST_TIMEOUT", value_parser = humantime::parse_duration)]
    request_timeout: Option<Duration>,
    /// Versions kept per key [default: 16].
    #[arg(long, env = "KAHUNA_REVISIONS")]
    revisions: Option<usize>,
    /// Purge versions older than this (the latest always stays), e.g. 7d; 0 = no limit [default: 0].
    #[arg(long, env = "KAHUNA_REVISION_MAX_AGE", value_parser = humantime::parse_duration)]
    revision_max_age: Option<Duration>,
    /// How long a deleted or expired key keeps its history before the sweep purges it [default: 10m].
    #[arg(long, env = "KAHUNA_TOMBSTONE_RETENTION", value_parser = humantime::parse_duration)]
    tombstone_retention: Option<Duration>,
    /// Time between expiry sweep rounds; 0 disables the sweep [default: 30s].
    #[arg(long, env = "KAHUNA_SWEEP_INTERVAL", value_parser = humantime::parse_duration)]
    sweep_interval: Option<Duration>,
    /// RocksDB block cache in MiB [default: 64].
    #[arg(long, env = "KAHUNA_BLOCK_CACHE_MB")]
    block_cache_mb: Option<usize>,
    /// Log filter (tracing env-filter syntax); RUST_LOG also works [default: info,openraft=error,openraft::replication=off].
    #[arg(long, env = "KAHUNA_LOG")]
    log: Option<String>,
}

impl Args {
    fn overrides(&self) -> Overrides {
        Overrides {
            node_id: self.node_id,
            cluster_name: self.cluster_name.clone(),
            listen: self.listen,
            admin_listen: self.admin_listen,
            peers: self.peers.clone(),
            data_dir: self.data_dir.clone(),
            partitions: self.partitions,
            rpc_threads: self.rpc_threads,
            heartbeat_ms: self.heartbeat_ms,
            election_timeout_min_ms: self.election_timeout_min_ms,
            election_timeout_max_ms: self.election_timeout_max_ms,
            snapshot_logs: self.snapshot_logs,
            logs_to_keep: self.logs_to_keep,
            max_batch: self.max_batch,
            pipeline: self.pipeline,
            max_value_bytes: self.max_value_bytes,
            max_ephemeral_mb: self.max_ephemeral_mb,
            request_timeout: self.request_timeout,
            revisions: self.revisions,
            revision_max_age: self.revision_max_age,
            tombstone_retention: self.tombstone_retention,
            sweep_interval: self.sweep_interval,
            block_cache_mb: self.block_cache_mb,
        }
    }
}

/// Default log filter: openraft reports every failed replication attempt to an unreachable
/// peer as an error; the peer links log connection changes instead.
const DEFAULT_LOG: &str = "info,openraft=error,openraft::replication=off";

fn load(args: &Args) -> Result<Config, String> {
    let mut config = match &args.config {
        None => Config::default(),
        Some(path) => {
            let text =
                std::fs::read_to_string(path).map_err(|e| format!("cannot read --config {}: {e}", path.display()))?;
            Config::from_toml(&text).map_err(|e| format!("invalid config file {}: {e}", path.display()))?
        }
    };
    config.apply(args.overrides());
    if config.data_dir.as_os_str().is_empty() {
        let base = std::env::var_os("KAHUNA_HOME")
            .map(PathBuf::from)
            .or_else(|| dirs::data_local_dir().map(|d| d.join("kahuna")))
            .ok_or("cannot find a home directory for the data: pass --data-dir")?;
        config.data_dir = base.join(format!("node-{}", config.node_id));
    }
    config.validate()?;
    Ok(config)
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("installing the SIGTERM handler");
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM received"),
        _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT received"),
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    let filter = args.log.clone().or_else(|| std::env::var("RUST_LOG").ok()).unwrap_or_else(|| DEFAULT_LOG.into());
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_new(&filter).unwrap_or_else(|e| {
            eprintln!("kahuna-server: invalid log filter '{filter}': {e}");
            std::process::exit(2)
        }))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let config = match load(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("kahuna-server: {e}");
            return ExitCode::from(2);
        }
    };
    let single = config.rpc_threads == 0;
    let built = if single {
        tokio::runtime::Builder::new_current_thread().enable_all().build()
    } else {
        tokio::runtime::Builder::new_multi_thread().enable_all().thread_name("kahuna").build()
    };
    let runtime = match built {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("kahuna-server: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let node = async {
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|e| format!("cannot listen on {} (--listen): {e}", config.listen))?;
        let admin = match config.admin_listen {
            Some(addr) => Some(
                tokio::net::TcpListener::bind(addr)
                    .await
                    .map_err(|e| format!("cannot listen on {addr} (--admin-listen): {e}"))?,
            ),
            None => None,
        };
        kahuna_server::server::run(config, listener, admin, shutdown_signal()).await
    };
    // One thread: connections are served on the node's own LocalSet.
    let result = if single { tokio::task::LocalSet::new().block_on(&runtime, node) } else { runtime.block_on(node) };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kahuna-server: {e}");
            ExitCode::FAILURE
        }
    }
}
