//! The verdict of a run and how it reads: pass, fail or inconclusive, with what to do next.
//!
//! ```text
//!   kahuna-nemesis: FAIL (seed 42, 3 nodes, 180.0 s, 6 clients)
//!   reproduce: kahuna-nemesis --seed 42 --nodes 3 --duration 180s --clients 6 --faults kill,pause,...
//!   operations: ...                      throughput and outcomes per call
//!   faults: ...                          how many fired, what the proxy did
//!   linearizability / locks / durability: one line each, then every failure in detail
//!   nemesis log                          (on failure) what was done when, resolved targets
//! ```
//!
//! A report is *conclusive* only if a fault fired and enough operations completed; an
//! inconclusive run fails like a broken one, since "nothing went wrong" means nothing when
//! nothing was tried.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::checks::{self, DurabilitySummary, FinalRead, LockSummary};
use super::faults::{Event, Step};
use super::history::{Call, History, Outcome, Ret};
use super::linearizable::{self, Summary};
use super::proxy::Stats;
use super::{Options, jepsen, workload};

/// Everything a run found.
#[derive(Debug)]
pub struct Report {
    /// What was run.
    pub options: Options,
    /// The planned fault schedule.
    pub schedule: Vec<Step>,
    /// Faults that started.
    pub fired: usize,
    /// How long the workload ran.
    pub elapsed: Duration,
    /// Every operation and nemesis event.
    pub history: History,
    /// Linearizability per key.
    pub linear: Summary,
    /// Lock safety.
    pub locks: LockSummary,
    /// Acknowledged writes.
    pub durability: DurabilitySummary,
    /// Why the run proves nothing, if it does not.
    pub inconclusive: Vec<String>,
    /// Harness problems (final reads that failed, ...).
    pub errors: Vec<String>,
    /// Proxy counters: accepted, refused, reset connections; bytes.
    pub proxy: [u64; 4],
}

impl Report {
    /// Runs the checkers over `history` and judges the run.
    #[allow(clippy::too_many_arguments)]
    pub fn check(
        options: &Options,
        history: History,
        schedule: Vec<Step>,
        fired: usize,
        elapsed: Duration,
        finals: &BTreeMap<String, FinalRead>,
        errors: Vec<String>,
        proxy: &Stats,
    ) -> Report {
        let linear = linearizable::check(&history, options.search_budget);
        let locks = checks::check_locks(&history);
        let durability = checks::check_durability(&history, finals, workload::ACK_PREFIX);
        let mut inconclusive = Vec::new();
        if fired == 0 {
            inconclusive.push("no fault fired (the run was too short for the schedule?)".to_string());
        }
        let ok = history.ops.iter().filter(|op| matches!(op.outcome, Outcome::Ok(_))).count();
        if ok < options.min_ops {
            inconclusive
                .push(format!("only {ok} operations completed :ok, fewer than the {} required", options.min_ops));
        }
        if options.workload.lock_clients > 0 && locks.grants == 0 {
            inconclusive.push("no lock was ever granted".to_string());
        }
        if !linear.gave_up.is_empty() {
            inconclusive.push(format!("the linearizability search gave up on keys {:?}", linear.gave_up));
        }
        let load = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
        Report {
            options: options.clone(),
            schedule,
            fired,
            elapsed,
            history,
            linear,
            locks,
            durability,
            inconclusive,
            errors,
            proxy: [load(&proxy.accepted), load(&proxy.refused), load(&proxy.reset), load(&proxy.bytes)],
        }
    }

    /// True when no checker found anything.
    pub fn safe(&self) -> bool {
        self.linear.failures.is_empty() && self.locks.violations.is_empty() && self.durability.violations.is_empty()
    }

    /// True when the run is conclusive, safe and free of harness errors.
    pub fn passed(&self) -> bool {
        self.safe() && self.inconclusive.is_empty() && self.errors.is_empty()
    }

    /// `PASS`, `FAIL` or `INCONCLUSIVE`.
    pub fn verdict(&self) -> &'static str {
        if !self.safe() {
            "FAIL"
        } else if !self.inconclusive.is_empty() || !self.errors.is_empty() {
            "INCONCLUSIVE"
        } else {
            "PASS"
        }
    }

    /// The command line that reproduces this run.
    pub fn command(&self) -> String {
        let o = &self.options;
        let kinds: Vec<&str> = o.faults.iter().map(|k| k.name()).collect();
        format!(
            "kahuna-nemesis --seed {} --nodes {} --partitions {} --duration {}s --clients {} --lock-clients {} --faults {}",
            o.seed,
            o.nodes,
            o.partitions,
            o.duration.as_secs(),
            o.workload.clients,
            o.workload.lock_clients,
            kinds.join(",")
        )
    }

    /// Operations per second that completed `:ok`.
    pub fn ok_per_second(&self) -> f64 {
        let ok = self.history.ops.iter().filter(|op| matches!(op.outcome, Outcome::Ok(_))).count();
        ok as f64 / self.elapsed.as_secs_f64().max(0.001)
    }

    /// The report as text (full detail when the run did not pass).
    pub fn render(&self) -> String {
        let o = &self.options;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "kahuna-nemesis: {} (seed {}, {} nodes, {:.1} s, {} clients)",
            self.verdict(),
            o.seed,
            o.nodes,
            self.elapsed.as_secs_f64(),
            o.workload.clients
        );
        let _ = writeln!(s, "reproduce: {}", self.command());
        let _ = writeln!(s, "operations: {} ({:.1} ok/s)", self.counts(), self.ok_per_second());
        let [accepted, refused, reset, bytes] = self.proxy;
        let _ = writeln!(
            s,
            "faults: {} fired of {} planned; proxy: {accepted} connections, {refused} refused, {reset} reset, {:.1} MiB",
            self.fired,
            self.schedule.len(),
            bytes as f64 / (1 << 20) as f64
        );
        let l = &self.linear;
        let _ = writeln!(
            s,
            "linearizability: {} keys, {} operations: {}",
            l.keys,
            l.ops,
            if l.failures.is_empty() { "ok".to_string() } else { format!("{} keys FAILED", l.failures.len()) }
        );
        let _ = writeln!(
            s,
            "locks: {} grants: {}",
            self.locks.grants,
            if self.locks.violations.is_empty() {
                "ok".to_string()
            } else {
                format!("{} violations", self.locks.violations.len())
            }
        );
        let d = &self.durability;
        let _ = writeln!(
            s,
            "durability: {} acknowledged writes on {} keys: {}",
            d.acknowledged,
            d.keys,
            if d.violations.is_empty() { "ok".to_string() } else { format!("{} violations", d.violations.len()) }
        );
        for why in &self.inconclusive {
            let _ = writeln!(s, "inconclusive: {why}");
        }
        for e in self.errors.iter().take(20) {
            let _ = writeln!(s, "error: {e}");
        }
        if self.passed() {
            return s;
        }
        for f in &self.linear.failures {
            let _ = writeln!(s, "\n=== key {} is not linearizable\n{}", f.key, f.report);
        }
        for v in self.locks.violations.iter().take(50) {
            let _ = writeln!(s, "lock violation: {v}");
        }
        for v in self.durability.violations.iter().take(50) {
            let _ = writeln!(s, "durability violation: {v}");
        }
        let _ = writeln!(s, "\n=== nemesis log");
        s.push_str(&self.nemesis_log());
        s
    }

    /// What the nemesis did, one line per event.
    pub fn nemesis_log(&self) -> String {
        let mut s = String::new();
        for Event { at, f, detail } in &self.history.faults {
            let _ = writeln!(s, "  {:>9.3}s  {f:<9} {detail}", *at as f64 / 1e9);
        }
        s
    }

    /// Counts of outcomes per call, e.g. `get 120/0/3, set ...` (ok/fail/info).
    pub fn counts(&self) -> String {
        let mut by: BTreeMap<&str, [usize; 3]> = BTreeMap::new();
        for op in &self.history.ops {
            let name = match (&op.call, &op.outcome) {
                (Call::Get, _) => "get",
                (Call::Set { .. }, _) if op.key.starts_with(workload::ACK_PREFIX) => "ack-set",
                (Call::Set { .. }, _) => "set",
                (Call::CasRevision { .. }, _) => "cas-rev",
                (Call::CasValue { .. }, _) => "cas-val",
                (Call::Delete, _) => "delete",
                (Call::Lock { .. }, Outcome::Ok(Ret::Lock { locked: true, .. })) => "lock-granted",
                (Call::Lock { .. }, _) => "lock",
                (Call::Unlock { .. }, _) => "unlock",
            };
            let slot = match op.outcome {
                Outcome::Ok(_) => 0,
                Outcome::Fail(_) => 1,
                Outcome::Info(_) => 2,
            };
            by.entry(name).or_default()[slot] += 1;
        }
        let total = self.history.ops.len();
        let parts: Vec<String> = by.iter().map(|(k, [a, b, c])| format!("{k} {a}/{b}/{c}")).collect();
        format!("{total} in all; ok/fail/info per call: {}", parts.join(", "))
    }

    /// Writes `history.edn`, `history.jsonl`, `report.txt` and `schedule.txt` into `dir`.
    pub fn write(&self, dir: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        jepsen::write(&self.history, dir)?;
        let mut full = self.render();
        if self.passed() {
            full.push_str("\n=== nemesis log\n");
            full.push_str(&self.nemesis_log());
        }
        std::fs::write(dir.join("report.txt"), full)?;
        let plan: String = self
            .schedule
            .iter()
            .map(|st| format!("{:>8.3}s hold {:>6.3}s  {:?}\n", st.at.as_secs_f64(), st.hold.as_secs_f64(), st.fault))
            .collect();
        std::fs::write(dir.join("schedule.txt"), plan)
    }
}
