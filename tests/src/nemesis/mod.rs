//! Nemesis: fault injection against real `kahuna-server` processes, with history checking.
//!
//! A run starts a 3- or 5-node cluster whose peer traffic goes through an in-process,
//! partitionable TCP [`proxy`], drives concurrent clients that record every operation into a
//! [`history`], lets a seeded [`faults`] schedule kill, pause and partition nodes meanwhile,
//! then heals everything, restarts every node, reads every key back and checks:
//!
//! 1. **linearizability** of every key's get/set/compare-and-set/delete, against the model of
//!    SEMANTICS.md, by a Wing-Gong-Lowe search per key ([`linearizable`]);
//! 2. **lock safety**: no two holders' lease windows overlap and fencing tokens strictly
//!    increase ([`checks`]);
//! 3. **durability**: no acknowledged Persistent write is lost, and no write that was answered
//!    "not applied" (`MustRetry`, `Unavailable`) shows up later ([`checks`]).
//!
//! ```text
//!   seed ─┬─ faults::schedule ─────────── Nemesis (main thread) ─── kill/stop/cont (Cluster)
//!         │                                                   └── cut/heal (Proxy)
//!         └─ workload::spawn ── N client threads ── BlockingClient ─┐
//!                                  │ Recorder                       ▼
//!   Cluster: node i --peers j=P(i,j) ──▶ Proxy link (i,j) ──▶ node j
//!                                  ▼
//!   History ── linearizable::check, checks::check_locks, checks::check_durability ─▶ Report
//!           └─ jepsen::write (history.edn, history.jsonl)
//! ```
//!
//! A run *passes* only when every check passes **and** it was conclusive: at least one fault
//! fired and at least `min_ops` operations completed `:ok`. Everything a failure needs to be
//! reproduced and understood is in the [`Report`]: the seed and the command line, what the
//! nemesis did and when, and for each failing key the shortest failing window of its history.
//!
//! Not covered here: transactions, Ephemeral durability (it promises no survival across
//! leader changes), expiry (time-dependent), scans and bucket reads.

pub mod checks;
pub mod faults;
pub mod history;
pub mod jepsen;
pub mod linearizable;
pub mod proxy;
mod report;
pub mod workload;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use kahuna_client::{BlockingClient, ClientOptions, Durability};

pub use report::Report;

use crate::{Cluster, ClusterOptions, PeerAddresses};
use checks::FinalRead;
use history::{Call, History, Op, Outcome, Recorder, Ret, decode};

/// The process number of the final reads in the history.
pub const FINAL_PROCESS: u64 = 1_000_000;

/// What to run.
#[derive(Clone, Debug)]
pub struct Options {
    /// Seeds the fault schedule and the clients' choices.
    pub seed: u64,
    /// Cluster size (3 or 5).
    pub nodes: usize,
    /// Data partitions.
    pub partitions: u32,
    /// How long the workload and the nemesis run.
    pub duration: Duration,
    /// The clients.
    pub workload: workload::Workload,
    /// Fault kinds the schedule draws from.
    pub faults: Vec<faults::Kind>,
    /// Where to write the history and the report (none: nowhere).
    pub out: Option<PathBuf>,
    /// Fewer `:ok` operations than this makes the run inconclusive.
    pub min_ops: usize,
    /// States the linearizability search may explore per key before giving up.
    pub search_budget: usize,
    /// Extra server flags.
    pub extra_args: Vec<String>,
    /// Print the nemesis' actions to stderr as they happen.
    pub verbose: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            seed: 1,
            nodes: 3,
            partitions: 4,
            duration: Duration::from_secs(60),
            workload: workload::Workload::default(),
            faults: faults::Kind::ALL.to_vec(),
            out: None,
            min_ops: 200,
            search_budget: 2_000_000,
            extra_args: Vec::new(),
            verbose: false,
        }
    }
}

/// Runs one nemesis test (see the module docs); errors are harness failures, not findings.
pub fn run(options: &Options) -> anyhow::Result<Report> {
    anyhow::ensure!(options.nodes >= 3, "the nemesis needs at least 3 nodes, got {}", options.nodes);
    anyhow::ensure!(options.workload.clients > 0, "the nemesis needs at least one client");
    let proxy = Arc::new(proxy::Proxy::new()?);
    let routes = proxy.clone();
    // Deleted keys keep their revision counter for the whole run (the default purges them
    // after 10 minutes, which restarts revisions at 0 and is not part of the model).
    let mut extra_args: Vec<String> = vec!["--tombstone-retention".into(), "24h".into()];
    extra_args.extend(options.extra_args.iter().cloned());
    let mut cluster = Cluster::start(ClusterOptions {
        nodes: options.nodes,
        partitions: options.partitions,
        extra_args,
        peer_addresses: Some(PeerAddresses::new(move |from, to, real| routes.route(from, to, real))),
        ..ClusterOptions::default()
    })?;
    let endpoints: Vec<String> = (0..cluster.len()).map(|i| cluster.endpoint(i)).collect();
    let schedule = faults::schedule(options.seed, options.nodes, options.partitions, options.duration, &options.faults);

    let start = Instant::now();
    let shared = Arc::new(workload::Shared::default());
    let clients = workload::spawn(&options.workload, &endpoints, options.seed, start, &shared);
    let mut nemesis = faults::Nemesis::new(&mut cluster, &proxy, start);
    nemesis.verbose = options.verbose;
    nemesis.run(&schedule, start + options.duration);
    shared.stop.store(true, Ordering::SeqCst);
    let elapsed = start.elapsed();
    let mut parts: Vec<Vec<Op>> = Vec::new();
    for handle in clients {
        parts.push(handle.join().map_err(|_| anyhow::anyhow!("a client thread panicked"))?);
    }

    // Heal (done at the end of `run`), then restart everything from a cold stop.
    let fired = nemesis.fired;
    nemesis.restart_all()?;
    let mut events = std::mem::take(&mut nemesis.events);
    let partial = History::merge(parts.clone(), Vec::new());
    let (final_ops, finals, errors) = final_reads(&cluster, &partial, &shared, &options.workload, start);
    parts.push(final_ops);
    events.sort_by_key(|e| e.at);
    let history = History::merge(parts, events);

    let report = Report::check(options, history, schedule, fired, elapsed, &finals, errors, proxy.stats());
    if let Some(dir) = &options.out {
        report.write(dir)?;
    }
    Ok(report)
}

/// Reads every key the run wrote, after the restart; records the register reads as final
/// operations of [`FINAL_PROCESS`] so they take part in the linearizability check.
fn final_reads(
    cluster: &Cluster,
    history: &History,
    shared: &workload::Shared,
    workload: &workload::Workload,
    start: Instant,
) -> (Vec<Op>, BTreeMap<String, FinalRead>, Vec<String>) {
    let mut errors = Vec::new();
    let client = match BlockingClient::connect(&cluster.endpoints(), ClientOptions::default()) {
        Ok(c) => c,
        Err(e) => return (Vec::new(), BTreeMap::new(), vec![format!("final reads: cannot connect: {e}")]),
    };
    let mut keys: Vec<String> = shared.register_keys(workload);
    keys.extend(history.ops.iter().filter(|op| op.call.is_write()).map(|op| op.key.clone()));
    keys.sort();
    keys.dedup();
    let mut recorder = Recorder::new(start, FINAL_PROCESS, 1);
    let mut finals = BTreeMap::new();
    for key in keys {
        let mut outcome = Outcome::Info("not read".into());
        for _ in 0..5 {
            let read = || client.try_get(&key, Durability::Persistent);
            outcome = recorder.run(&key, Call::Get, read, |r| Ret::Read {
                found: r.found,
                value: r.found.then(|| decode(&r.value)),
                revision: r.revision,
            });
            if !matches!(outcome, Outcome::Ok(_)) {
                std::thread::sleep(Duration::from_millis(200));
                continue;
            }
            break;
        }
        match outcome {
            Outcome::Ok(Ret::Read { found, value, revision }) => {
                finals.insert(key, FinalRead { found, value, revision });
            }
            other => errors.push(format!("final read of {key} failed 5 times: {other:?}")),
        }
    }
    client.close();
    // Only the register keys' reads go into the history (the ack keys are checked apart).
    let ops = recorder.into_ops().into_iter().filter(|op| op.key.starts_with(workload::REGISTER_PREFIX)).collect();
    (ops, finals, errors)
}
