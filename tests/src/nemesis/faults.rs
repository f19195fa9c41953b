//! The nemesis: a fault schedule derived from a seed, and the code that carries it out.
//!
//! A schedule is a list of [`Step`]s: at offset `at` from the start of the run, inject a
//! [`Fault`], hold it for `hold`, then heal everything. Steps never overlap, and a quiet
//! period of 1-4 s separates them so the cluster can elect leaders and catch up before the
//! next blow. The schedule is a pure function of (seed, nodes, partitions, length, kinds), so
//! a failing run is reproduced by its seed; targets that only exist at run time ("the current
//! leader of partition 3") are resolved when the step starts and written into the event log.
//!
//! ```text
//!   |warm-up| kill n2 ──hold── restart |quiet| partition {n1} | {n2,n3} ── heal |quiet| ...  |cool-down|
//! ```
//!
//! Faults, all on real processes and real TCP connections:
//!
//! | kind               | what                                                                |
//! |--------------------|---------------------------------------------------------------------|
//! | `kill`             | `kill -9` a minority of random nodes; restart them after the hold    |
//! | `kill-leader`      | `kill -9` the current leader of a random partition; restart          |
//! | `pause`            | SIGSTOP a random node; SIGCONT after the hold                        |
//! | `pause-leader`     | SIGSTOP the current leader of a random partition; SIGCONT            |
//! | `partition`        | cut a random minority from the majority (both directions)            |
//! | `partition-leader` | cut the current leader of a random partition from everyone           |
//! | `one-way`          | cut only the leader's outbound, or only its inbound, traffic         |
//! | `bridge`           | 5 nodes: {a,b} and {d,e} cannot talk, c talks to both (3: partition) |
//!
//! Partitions go through the [`Proxy`](super::proxy::Proxy), each in `drop` (black hole) or
//! `reset` (connection reset) mode, chosen by the seed. At most a minority is ever down, so a
//! majority can always make progress once it has elected leaders.

use std::str::FromStr;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

use super::proxy::{Mode, Proxy};
use crate::Cluster;

/// A kind of fault (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Kill -9 random nodes.
    Kill,
    /// Kill -9 a partition leader.
    KillLeader,
    /// SIGSTOP a random node.
    Pause,
    /// SIGSTOP a partition leader.
    PauseLeader,
    /// Cut a random minority off.
    Partition,
    /// Cut a partition leader off.
    PartitionLeader,
    /// Cut one direction of a leader's traffic.
    OneWay,
    /// Two groups joined by one node.
    Bridge,
}

impl Kind {
    /// Every kind.
    pub const ALL: [Kind; 8] = [
        Kind::Kill,
        Kind::KillLeader,
        Kind::Pause,
        Kind::PauseLeader,
        Kind::Partition,
        Kind::PartitionLeader,
        Kind::OneWay,
        Kind::Bridge,
    ];

    /// The kind's name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Kill => "kill",
            Kind::KillLeader => "kill-leader",
            Kind::Pause => "pause",
            Kind::PauseLeader => "pause-leader",
            Kind::Partition => "partition",
            Kind::PartitionLeader => "partition-leader",
            Kind::OneWay => "one-way",
            Kind::Bridge => "bridge",
        }
    }
}

impl FromStr for Kind {
    type Err = String;
    fn from_str(s: &str) -> Result<Kind, String> {
        Kind::ALL.into_iter().find(|k| k.name() == s).ok_or_else(|| {
            let names: Vec<&str> = Kind::ALL.iter().map(|k| k.name()).collect();
            format!("unknown fault kind '{s}' (known: {})", names.join(", "))
        })
    }
}

/// A node, or whichever node leads a partition when the step starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// Node index.
    Node(usize),
    /// The current leader of this partition (a random node if it has none).
    LeaderOf(u32),
}

/// One fault.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// SIGKILL these nodes; restart them at the heal.
    Kill(Vec<Target>),
    /// SIGSTOP this node; SIGCONT at the heal.
    Pause(Target),
    /// Cut `minority` from the other nodes, both directions.
    Isolate {
        /// The cut-off side.
        minority: Vec<Target>,
        /// Drop or reset.
        mode: Mode,
    },
    /// Cut one direction between `node` and every other node.
    OneWay {
        /// The node.
        node: Target,
        /// True: `node` cannot send; false: `node` cannot receive.
        outbound: bool,
        /// Drop or reset.
        mode: Mode,
    },
    /// `left` and `right` cannot talk; the remaining node talks to both.
    Bridge {
        /// One side.
        left: Vec<usize>,
        /// The other side.
        right: Vec<usize>,
        /// Drop or reset.
        mode: Mode,
    },
}

/// One step of a schedule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    /// When it starts, from the start of the run.
    pub at: Duration,
    /// How long the fault is held before healing.
    pub hold: Duration,
    /// The fault.
    pub fault: Fault,
}

/// The schedule for a run of `length` on `nodes` nodes (see the module docs).
pub fn schedule(seed: u64, nodes: usize, partitions: u32, length: Duration, kinds: &[Kind]) -> Vec<Step> {
    let mut rng = StdRng::seed_from_u64(seed ^ 0x006e_656d_6573_6973);
    let mut steps = Vec::new();
    if kinds.is_empty() || nodes < 2 {
        return steps;
    }
    let minority = (nodes - 1) / 2;
    let warmup = Duration::from_secs(3).min(length / 10);
    let cooldown = Duration::from_secs(3).min(length / 10);
    let mut at = warmup;
    loop {
        let hold = Duration::from_millis(rng.random_range(2_000..=8_000));
        if at + hold + cooldown > length {
            break;
        }
        let mode = if rng.random_bool(0.5) { Mode::Drop } else { Mode::Reset };
        let leader = Target::LeaderOf(rng.random_range(0..partitions.max(1)));
        let mut shuffled: Vec<usize> = (0..nodes).collect();
        shuffled.shuffle(&mut rng);
        let some = |rng: &mut StdRng, shuffled: &[usize]| -> Vec<Target> {
            let count = rng.random_range(1..=minority.max(1));
            shuffled[..count].iter().map(|&i| Target::Node(i)).collect()
        };
        let fault = match kinds[rng.random_range(0..kinds.len())] {
            Kind::Kill => Fault::Kill(some(&mut rng, &shuffled)),
            Kind::KillLeader => Fault::Kill(vec![leader]),
            Kind::Pause => Fault::Pause(Target::Node(shuffled[0])),
            Kind::PauseLeader => Fault::Pause(leader),
            Kind::Partition => Fault::Isolate { minority: some(&mut rng, &shuffled), mode },
            Kind::PartitionLeader => Fault::Isolate { minority: vec![leader], mode },
            Kind::OneWay => Fault::OneWay { node: leader, outbound: rng.random_bool(0.5), mode },
            Kind::Bridge if nodes >= 5 => {
                Fault::Bridge { left: shuffled[..2].to_vec(), right: shuffled[3..5].to_vec(), mode }
            }
            Kind::Bridge => Fault::Isolate { minority: vec![Target::Node(shuffled[0])], mode },
        };
        steps.push(Step { at, hold, fault });
        at += hold + Duration::from_millis(rng.random_range(1_000..=4_000));
    }
    steps
}

/// Something the nemesis did, for the history and the report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// When, ns since the run started.
    pub at: u64,
    /// Jepsen-style function: `kill`, `restart`, `pause`, `resume`, `partition`, `heal`, `error`.
    pub f: String,
    /// What exactly (resolved targets).
    pub detail: String,
}

/// Carries out a schedule on a cluster and its proxy.
pub struct Nemesis<'a> {
    cluster: &'a mut Cluster,
    proxy: &'a Proxy,
    start: Instant,
    /// Events so far.
    pub events: Vec<Event>,
    /// Faults that started.
    pub fired: usize,
    /// Print every event to stderr as it happens.
    pub verbose: bool,
    killed: Vec<usize>,
    paused: Vec<usize>,
}

impl<'a> Nemesis<'a> {
    /// A nemesis timing its events from `start`.
    pub fn new(cluster: &'a mut Cluster, proxy: &'a Proxy, start: Instant) -> Nemesis<'a> {
        Nemesis {
            cluster,
            proxy,
            start,
            events: Vec::new(),
            fired: 0,
            verbose: false,
            killed: Vec::new(),
            paused: Vec::new(),
        }
    }

    fn log(&mut self, f: &str, detail: String) {
        let at = self.start.elapsed().as_nanos() as u64;
        tracing::info!(f, %detail, "nemesis");
        if self.verbose {
            eprintln!("  {:>9.3}s  {f:<9} {detail}", at as f64 / 1e9);
        }
        self.events.push(Event { at, f: f.to_string(), detail });
    }

    /// Resolves a target to a node index, with a description.
    fn resolve(&mut self, target: &Target) -> (usize, String) {
        match *target {
            Target::Node(i) => (i, format!("node {i}")),
            Target::LeaderOf(p) => match self.cluster.leader_of(p) {
                Some(i) => (i, format!("node {i} (leader of partition {p})")),
                None => {
                    let i = p as usize % self.cluster.len();
                    (i, format!("node {i} (partition {p} had no known leader)"))
                }
            },
        }
    }

    /// Starts `fault`.
    pub fn inject(&mut self, fault: &Fault) {
        self.fired += 1;
        match fault {
            Fault::Kill(targets) => {
                for t in targets {
                    let (i, what) = self.resolve(t);
                    if !self.killed.contains(&i) {
                        self.cluster.kill(i);
                        self.killed.push(i);
                        self.log("kill", what);
                    }
                }
            }
            Fault::Pause(t) => {
                let (i, what) = self.resolve(t);
                self.cluster.pause(i);
                self.paused.push(i);
                self.log("pause", what);
            }
            Fault::Isolate { minority, mode } => {
                let mut side = Vec::new();
                let mut names = Vec::new();
                for t in minority {
                    let (i, what) = self.resolve(t);
                    side.push(i);
                    names.push(what);
                }
                let rest: Vec<usize> = (0..self.cluster.len()).filter(|i| !side.contains(i)).collect();
                self.proxy.partition(&side, &rest, *mode);
                self.log("partition", format!("{mode:?}: [{}] | {rest:?}", names.join(", ")));
            }
            Fault::OneWay { node, outbound, mode } => {
                let (i, what) = self.resolve(node);
                for j in (0..self.cluster.len()).filter(|j| *j != i) {
                    if *outbound { self.proxy.cut(i, j, *mode) } else { self.proxy.cut(j, i, *mode) }
                }
                let dir = if *outbound { "cannot send" } else { "cannot receive" };
                self.log("partition", format!("{mode:?}: {what} {dir} (one way)"));
            }
            Fault::Bridge { left, right, mode } => {
                self.proxy.partition(left, right, *mode);
                self.log("partition", format!("{mode:?}: bridge {left:?} | {right:?}, the rest talks to both"));
            }
        }
    }

    /// Undoes every fault: heals the network, resumes paused nodes, restarts killed ones.
    pub fn heal(&mut self) {
        if !self.proxy.cuts().is_empty() {
            self.proxy.heal();
            self.log("heal", "network healed".into());
        }
        for i in std::mem::take(&mut self.paused) {
            self.cluster.resume(i);
            self.log("resume", format!("node {i}"));
        }
        for i in std::mem::take(&mut self.killed) {
            match self.cluster.restart(i) {
                Ok(()) => self.log("restart", format!("node {i}")),
                Err(e) => {
                    self.log("error", format!("restart of node {i} failed: {e}"));
                    self.killed.push(i);
                }
            }
        }
    }

    /// Runs `steps` until they are done or `deadline` passes, then heals.
    pub fn run(&mut self, steps: &[Step], deadline: Instant) {
        for step in steps {
            let at = self.start + step.at;
            if at >= deadline {
                break;
            }
            sleep_until(at);
            self.inject(&step.fault);
            sleep_until((Instant::now() + step.hold).min(deadline));
            self.heal();
        }
        sleep_until(deadline);
        self.heal();
    }

    /// Heals, then kills every node and starts them all again (a cold restart of the whole
    /// cluster); waits until the cluster is ready.
    pub fn restart_all(&mut self) -> anyhow::Result<()> {
        self.heal();
        for i in 0..self.cluster.len() {
            self.cluster.kill(i);
        }
        self.log("kill", "every node (cold restart of the cluster)".into());
        self.cluster.start_all()?;
        self.log("restart", "every node; the cluster is ready".into());
        Ok(())
    }
}

fn sleep_until(t: Instant) {
    let now = Instant::now();
    if t > now {
        std::thread::sleep(t - now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_are_a_function_of_the_seed() {
        let length = Duration::from_secs(120);
        let a = schedule(7, 3, 4, length, &Kind::ALL);
        assert_eq!(a, schedule(7, 3, 4, length, &Kind::ALL));
        assert_ne!(a, schedule(8, 3, 4, length, &Kind::ALL));
        assert!(a.len() >= 8, "{} steps in 2 minutes", a.len());
        for pair in a.windows(2) {
            assert!(pair[0].at + pair[0].hold + Duration::from_secs(1) <= pair[1].at, "steps overlap");
        }
        let last = a.last().unwrap();
        assert!(last.at + last.hold <= length);
        for step in &a {
            if let Fault::Kill(t) | Fault::Isolate { minority: t, .. } = &step.fault {
                assert_eq!(t.len(), 1, "a 3-node cluster loses at most one node: {step:?}");
            }
        }
    }

    #[test]
    fn kinds_restrict_the_schedule_and_parse() {
        let only = schedule(1, 5, 4, Duration::from_secs(60), &[Kind::Pause]);
        assert!(only.iter().all(|s| matches!(s.fault, Fault::Pause(_))));
        assert!(schedule(1, 5, 4, Duration::from_secs(60), &[]).is_empty());
        assert_eq!("one-way".parse::<Kind>(), Ok(Kind::OneWay));
        assert!("meteor".parse::<Kind>().unwrap_err().contains("kill-leader"));
    }
}
