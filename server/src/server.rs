//! The composition root: builds a node from a [`Config`] and runs it until shutdown.

use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::net::TcpListener;

use crate::admin::{self, Admin};
use crate::cluster::{self, Cluster, Members};
use crate::config::Config;
use crate::hlc::Clock;
use crate::kv::{self, SweepOptions};
use crate::partition;
use crate::raft::Syncer;
use crate::rpc::{self, Peers, Workers};
use crate::storage::{Engine, RocksEngine, RocksOptions};

/// Largest Raft entries per AppendEntries message; with `max_value_bytes` it bounds messages.
const MAX_PAYLOAD_ENTRIES: u64 = 4;
/// Snapshot chunk size on the wire.
const SNAPSHOT_CHUNK: u64 = 4 << 20;

/// The largest message a connection accepts.
pub fn max_message_bytes(config: &Config) -> usize {
    (MAX_PAYLOAD_ENTRIES as usize) * (config.limits.max_value_bytes + (64 << 10)) + (16 << 20)
}

fn raft_config(config: &Config) -> Result<Arc<openraft::Config>, String> {
    let r = &config.raft;
    let c = openraft::Config {
        cluster_name: config.cluster_name.clone(),
        heartbeat_interval: r.heartbeat_ms,
        election_timeout_min: r.election_timeout_min_ms,
        election_timeout_max: r.election_timeout_max_ms,
        install_snapshot_timeout: 10_000,
        max_payload_entries: MAX_PAYLOAD_ENTRIES,
        snapshot_policy: openraft::SnapshotPolicy::LogsSinceLast(r.snapshot_logs),
        snapshot_max_chunk_size: SNAPSHOT_CHUNK,
        max_in_snapshot_log_to_keep: r.logs_to_keep,
        // Purge in batches, but never wait for more than a quarter of a snapshot interval.
        purge_batch_size: (r.snapshot_logs / 4).clamp(1, 1024),
        replication_lag_threshold: r.snapshot_logs,
        ..Default::default()
    };
    Ok(Arc::new(c.validate().map_err(|e| format!("invalid raft settings: {e}"))?))
}

/// Runs a node on `listener` (clients and peers) and `admin_listener` (the admin HTTP endpoint,
/// if any) until `shutdown` resolves, then stops it gracefully.
pub async fn run(
    config: Config,
    listener: TcpListener,
    admin_listener: Option<TcpListener>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), String> {
    config.validate()?;
    let data_dir = config.data_dir.clone();
    std::fs::create_dir_all(&data_dir)
        .map_err(|e| format!("cannot create data directory {}: {e}", data_dir.display()))?;
    let engine: Arc<dyn Engine> = Arc::new(open_engine(&config, &data_dir)?);
    let members = Members {
        cluster_name: config.cluster_name.clone(),
        node_id: config.node_id,
        addresses: config.members()?,
        partitions: config.partitions,
    };
    let fresh = cluster::check_identity(&*engine, &members, &data_dir)?;
    let clock = Arc::new(Clock::new(Duration::from_secs(10)));
    let syncer = Syncer::start(engine.clone());
    let workers = Workers::start(config.rpc_threads).map_err(|e| format!("starting rpc threads: {e}"))?;
    let reader = rpc::reader_options(max_message_bytes(&config));
    let peers =
        Peers::start(&workers, members.node_id, members.cluster_id(), &members.addresses, clock.clone(), reader);

    let options = partition::Options {
        raft: raft_config(&config)?,
        max_batch: config.raft.max_batch,
        max_batch_bytes: config.raft.max_batch_bytes,
        pipeline: config.raft.pipeline,
        retention: config.retention.revisions,
        lease: Duration::from_millis(config.raft.election_timeout_max_ms / 2),
        report_before_sync: members.addresses.len() > 1,
    };
    let cluster = Arc::new(
        Cluster::start(
            members,
            fresh,
            &options,
            engine.clone(),
            syncer.clone(),
            clock.clone(),
            peers.clone(),
            &data_dir,
        )
        .await?,
    );
    let service = kv::Service::start(cluster.clone(), clock, kv_options(&config));
    service.set_forwarder(peers);
    let admin_address = admin_listener.as_ref().and_then(|l| l.local_addr().ok());
    let admin = admin_listener
        .map(|l| tokio::spawn(admin::serve(l, Admin::new(service.clone(), syncer.clone(), data_dir.clone()))));

    tracing::info!(
        node = cluster.node_id(),
        cluster = %cluster.members().cluster_name,
        listen = %config.listen,
        data_dir = %data_dir.display(),
        partitions = cluster.partition_count(),
        members = ?cluster.members().addresses,
        admin = ?admin_address,
        "kahuna-server ready"
    );
    rpc::serve(listener, service.clone(), &workers, reader, shutdown).await;
    if let Some(task) = admin {
        // Its connections go with it, and the service they hold.
        task.abort();
        let _ = task.await;
    }

    tracing::info!("shutting down");
    // Connections close in order first (no new requests; the service they hold is let go).
    workers.drain(Duration::from_secs(2)).await;
    cluster.shutdown().await;
    // Tear down in dependency order so the database closes before the process exits: the
    // connections and peer links (worker threads), the service and partitions, the sync thread.
    let stats = (
        syncer.stats().syncs.load(Ordering::Relaxed),
        syncer.stats().jobs.load(Ordering::Relaxed),
        syncer.stats().sync_micros.load(Ordering::Relaxed),
    );
    // Connections that are still open may keep partitions (and their sync handles) alive
    // until the runtime drops: stop the sync thread explicitly so it lets go of the database.
    if workers.is_local() {
        workers.shutdown();
        syncer.stop();
    } else {
        tokio::task::block_in_place(|| {
            workers.shutdown();
            syncer.stop();
        });
    }
    drop((service, cluster, syncer));
    engine.close().map_err(|e| format!("closing the database: {e}"))?;
    for _ in 0..100 {
        if Arc::strong_count(&engine) == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    if Arc::strong_count(&engine) > 1 {
        tracing::warn!(holders = Arc::strong_count(&engine), "the database is still referenced at exit");
    }
    drop(engine);
    tracing::info!(fsyncs = stats.0, appends = stats.1, fsync_micros = stats.2, "stopped");
    Ok(())
}

fn open_engine(config: &Config, data_dir: &Path) -> Result<RocksEngine, String> {
    let options = RocksOptions {
        block_cache_bytes: config.storage.block_cache_mb << 20,
        write_buffer_bytes: config.storage.write_buffer_mb << 20,
    };
    RocksEngine::open(&data_dir.join("db"), &options).map_err(|e| {
        let text = e.to_string();
        if text.contains("lock") {
            format!("{text}\nhint: is another kahuna-server using data directory {}?", data_dir.display())
        } else {
            text
        }
    })
}

fn kv_options(config: &Config) -> kv::Options {
    let l = &config.limits;
    let r = &config.retention;
    kv::Options {
        max_value_bytes: l.max_value_bytes,
        default_timeout: l.request_timeout,
        max_timeout: l.max_request_timeout,
        scan_default_limit: l.scan_default_limit,
        scan_max_limit: l.scan_max_limit,
        scan_max_page_bytes: 4 << 20,
        bucket_max_entries: l.bucket_max_entries,
        bucket_max_bytes: 32 << 20,
        retention: r.revisions,
        leader_wait: Duration::from_millis(config.raft.election_timeout_max_ms * 2),
        max_clock_offset: config.limits.max_clock_offset,
        max_ephemeral_bytes: l.max_ephemeral_mb << 20,
        sweep: SweepOptions {
            interval: r.sweep_interval,
            tombstone_retention: r.tombstone_retention,
            revision_max_age: (!r.revision_max_age.is_zero()).then_some(r.revision_max_age),
            keys_per_round: 1000,
        },
    }
}
