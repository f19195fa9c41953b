//! Nemesis runs in the test suite: real clusters under kill -9, SIGSTOP and network partitions,
//! their histories checked for linearizability, lock safety and lost acknowledged writes.
//!
//! The short mode of `kahuna-nemesis` (docs/reliability.md), about three minutes in all, split
//! into three runs with fixed seeds so nextest can run them side by side:
//!
//! | test                                   | nodes | faults                                        |
//! |----------------------------------------|-------|-----------------------------------------------|
//! | `crashes_and_pauses_on_three_nodes`    | 3     | kill, kill-leader, pause, pause-leader         |
//! | `partitions_on_three_nodes`            | 3     | partition, partition-leader, one-way           |
//! | `every_fault_on_five_nodes`            | 5     | all, bridge included                           |
//!
//! `KAHUNA_NEMESIS_SEED=N` replaces the fixed seeds (to explore), `KAHUNA_NEMESIS_SECS=N` the
//! length of each run (to soak). A failing run keeps its history and report in a temp directory
//! named in the panic message, next to the seed and the command that reproduces it.

use std::time::Duration;

use kahuna_tests::nemesis::{self, Options, faults::Kind, workload::Workload};

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

/// Runs the nemesis and fails the test unless the run passed and was conclusive.
fn must_pass(seed: u64, nodes: usize, faults: &[Kind]) {
    let out = tempfile::Builder::new().prefix("kahuna-nemesis-").tempdir().expect("a temp dir");
    let options = Options {
        seed: env_u64("KAHUNA_NEMESIS_SEED").unwrap_or(seed),
        nodes,
        duration: Duration::from_secs(env_u64("KAHUNA_NEMESIS_SECS").unwrap_or(50)),
        workload: Workload { clients: 6, lock_clients: 2, ..Workload::default() },
        faults: faults.to_vec(),
        out: Some(out.path().to_path_buf()),
        ..Options::default()
    };
    let report = nemesis::run(&options).unwrap_or_else(|e| panic!("the harness failed (seed {}): {e:#}", options.seed));
    let text = report.render();
    println!("{text}");
    if !report.passed() {
        let kept = out.keep();
        panic!("{text}\nhistory, schedule and report kept in {}", kept.display());
    }
}

#[test]
fn crashes_and_pauses_on_three_nodes() {
    must_pass(11, 3, &[Kind::Kill, Kind::KillLeader, Kind::Pause, Kind::PauseLeader]);
}

#[test]
fn partitions_on_three_nodes() {
    must_pass(12, 3, &[Kind::Partition, Kind::PartitionLeader, Kind::OneWay]);
}

#[test]
fn every_fault_on_five_nodes() {
    must_pass(13, 5, &Kind::ALL);
}
