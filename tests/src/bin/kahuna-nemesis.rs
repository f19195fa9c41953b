//! `kahuna-nemesis`: fault injection against a real Kahuna cluster, with history checking.
//!
//! Starts a 3- or 5-node cluster of `kahuna-server` processes (next to this binary, or
//! `$KAHUNA_SERVER_BIN`), runs concurrent clients while a seeded schedule kills, pauses and
//! partitions nodes, heals and restarts everything, and checks the recorded history for
//! linearizability, lock safety and lost acknowledged writes (see `kahuna_tests::nemesis` and
//! docs/reliability.md).
//!
//! ```text
//! kahuna-nemesis --seed 7 --nodes 5 --duration 30m --clients 8 --out nemesis-out/
//! ```
//!
//! Exit code 0 when the run passed; 1 when a checker found a violation; 2 when the run was
//! inconclusive (no fault fired, too few operations, the search gave up); 3 when the harness
//! itself failed. The report goes to stdout, and with `--out` into `DIR/report.txt` beside the
//! history (`history.edn`, `history.jsonl`) and the planned schedule (`schedule.txt`).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use kahuna_tests::nemesis::{self, Options, faults::Kind, workload::Workload};

/// Fault injection with history checking against a real Kahuna cluster.
#[derive(Debug, Parser)]
#[command(name = "kahuna-nemesis", version)]
struct Args {
    /// Seed of the fault schedule and of the clients' choices (default: from the clock).
    #[arg(long)]
    seed: Option<u64>,
    /// Cluster size: 3 or 5 (4 works too, with a minority of one).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u16).range(3..=5))]
    nodes: u16,
    /// Data partitions.
    #[arg(long, default_value_t = 4)]
    partitions: u32,
    /// How long clients and faults run (e.g. 90s, 3m, 1h).
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
    duration: Duration,
    /// Client threads.
    #[arg(long, default_value_t = 6)]
    clients: usize,
    /// Of which run the lock workload.
    #[arg(long, default_value_t = 2)]
    lock_clients: usize,
    /// Register keys in use at a time.
    #[arg(long, default_value_t = 4)]
    keys: usize,
    /// Operations per register key before the clients move to fresh keys.
    #[arg(long, default_value_t = 150)]
    ops_per_key: u64,
    /// Fault kinds, comma separated: kill, kill-leader, pause, pause-leader, partition,
    /// partition-leader, one-way, bridge (default: all).
    #[arg(long, value_delimiter = ',')]
    faults: Vec<Kind>,
    /// Fewer operations completing `:ok` than this makes the run inconclusive.
    #[arg(long, default_value_t = 200)]
    min_ops: usize,
    /// Directory for the history (EDN, JSON lines), the report and the schedule.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Extra flags for every server, e.g. `--server-arg=--heartbeat-ms --server-arg=100`.
    #[arg(long = "server-arg", allow_hyphen_values = true)]
    server_args: Vec<String>,
    /// Do not print the nemesis' actions to stderr as they happen.
    #[arg(long)]
    quiet: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let seed = args.seed.unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(1)
    });
    let options = Options {
        seed,
        nodes: usize::from(args.nodes),
        partitions: args.partitions,
        duration: args.duration,
        workload: Workload {
            clients: args.clients,
            lock_clients: args.lock_clients.min(args.clients),
            keys: args.keys,
            ops_per_key: args.ops_per_key,
            ..Workload::default()
        },
        faults: if args.faults.is_empty() { Kind::ALL.to_vec() } else { args.faults },
        out: args.out,
        min_ops: args.min_ops,
        extra_args: args.server_args,
        verbose: !args.quiet,
        ..Options::default()
    };
    eprintln!("kahuna-nemesis: seed {seed}, {} nodes, {:?}; running...", options.nodes, options.duration);
    match nemesis::run(&options) {
        Ok(report) => {
            println!("{}", report.render());
            if let Some(dir) = &options.out {
                println!("history and report written to {}", dir.display());
            }
            match report.verdict() {
                "PASS" => ExitCode::SUCCESS,
                "FAIL" => ExitCode::from(1),
                _ => ExitCode::from(2),
            }
        }
        Err(e) => {
            eprintln!("kahuna-nemesis: the harness failed (seed {seed}): {e:#}");
            ExitCode::from(3)
        }
    }
}
