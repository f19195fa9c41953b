//! `kahuna-bench`: drives a Kahuna cluster (or, with the `etcd` feature, an etcd cluster as a
//! baseline) with one workload and prints throughput and latency percentiles from an HDR
//! histogram, plus one JSON line for machines.
//!
//! ```text
//!   Args ─> Target (kahuna | etcd) ─> preload keys ─> warm-up ─> measure ─> report
//!           closed loop: N clients, each sends its next request when the last one answered
//!           open loop (--rate R): requests are scheduled every 1/R s; latency is measured from
//!           the scheduled start, so a stall shows up in the percentiles (no coordinated omission)
//! ```

mod report;
mod run;
mod target;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::time::Duration;

use clap::{Parser, ValueEnum};

/// What each request does.
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum Workload {
    /// Unconditional sets of existing keys.
    Put,
    /// Linearizable gets of existing keys.
    Get,
    /// Gets and puts mixed by --read-ratio.
    Mixed,
    /// Read a key, then compare-revision-and-set it (etcd: a Txn comparing mod_revision).
    Cas,
    /// Acquire a lock on a random resource, then release it (counts one op per cycle).
    Lock,
}

/// Which store to drive.
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum System {
    /// A Kahuna cluster (Cap'n Proto RPC).
    Kahuna,
    /// An etcd v3 cluster (gRPC); needs the `etcd` cargo feature.
    Etcd,
}

/// Benchmarks a Kahuna cluster (or etcd as a baseline).
#[derive(Parser, Debug, Clone)]
#[command(name = "kahuna-bench", version, about)]
pub struct Args {
    /// Workload.
    #[arg(long, value_enum, default_value = "put")]
    pub workload: Workload,
    /// The store to benchmark.
    #[arg(long, value_enum, default_value = "kahuna")]
    pub system: System,
    /// Endpoints (host:port), comma separated.
    #[arg(
        long,
        env = "KAHUNA_ENDPOINTS",
        value_delimiter = ',',
        default_value = "127.0.0.1:7071,127.0.0.1:7072,127.0.0.1:7073"
    )]
    pub endpoints: Vec<String>,
    /// Concurrent clients; in the open loop, the most requests in flight.
    #[arg(long, default_value_t = 64)]
    pub clients: usize,
    /// Connections the clients share. A Kahuna connection is a `Client` handle with its own I/O
    /// thread; the default, one shared handle, is how applications use the client.
    #[arg(long, default_value_t = 1)]
    pub connections: usize,
    /// Open loop: total requests per second (0 = closed loop).
    #[arg(long, default_value_t = 0)]
    pub rate: u64,
    /// Distinct keys.
    #[arg(long, default_value_t = 10_000)]
    pub keys: usize,
    /// Key size in bytes (keys are padded to it).
    #[arg(long, default_value_t = 16)]
    pub key_size: usize,
    /// Value size in bytes.
    #[arg(long, default_value_t = 256)]
    pub value_size: usize,
    /// Measured duration, e.g. 30s.
    #[arg(long, default_value = "20s", value_parser = humantime::parse_duration)]
    pub duration: Duration,
    /// Warm-up before measuring.
    #[arg(long, default_value = "3s", value_parser = humantime::parse_duration)]
    pub warmup: Duration,
    /// Share of reads in the mixed workload.
    #[arg(long, default_value_t = 0.5)]
    pub read_ratio: f64,
    /// Use the Ephemeral keyspace (Kahuna only).
    #[arg(long)]
    pub ephemeral: bool,
    /// Puts (and the preload) drop the version they replace instead of keeping it as history
    /// (Kahuna only; the client's `SetOptions::no_revision`), as a cache-like use would set
    /// them. The cas workload's writes keep history.
    #[arg(long)]
    pub no_revision: bool,
    /// Key prefix.
    #[arg(long, default_value = "bench")]
    pub prefix: String,
    /// Skip loading the keys first (they already exist).
    #[arg(long)]
    pub no_preload: bool,
    /// Only load the keys, then exit (e.g. to measure a node's memory with many keys).
    #[arg(long)]
    pub load_only: bool,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

impl Args {
    /// The `i`-th key, padded to `key_size`.
    pub fn key(&self, i: usize) -> String {
        let k = format!("{}/{}/{i}", self.prefix, i % 64);
        if k.len() >= self.key_size { k } else { format!("{k}{}", "_".repeat(self.key_size - k.len())) }
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.ephemeral && args.system == System::Etcd {
        anyhow::bail!("--ephemeral applies to Kahuna only");
    }
    if args.no_revision && args.system == System::Etcd {
        anyhow::bail!("--no-revision applies to Kahuna only");
    }
    let target = target::Target::connect(&args).await?;
    if !args.no_preload && (args.load_only || args.workload != Workload::Lock) {
        run::preload(&target, &args).await?;
    }
    if args.load_only {
        eprintln!("loaded {} keys", args.keys);
        return Ok(());
    }
    let result = run::measure(&target, &args).await?;
    report::print(&args, &result);
    Ok(())
}
