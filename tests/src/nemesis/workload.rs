//! The client workloads: concurrent threads, each with its own `BlockingClient`, recording
//! every call into its [`Recorder`].
//!
//! ```text
//!   register clients (clients - lock_clients threads)
//!     ~90 %: one op on a key of the current generation: get 40 | set 20 | cas-revision 15 |
//!            cas-value 15 | delete 10 (Persistent), with comparands taken from what this
//!            client saw last, so compare-and-sets succeed often enough to matter
//!     ack %: a set of a brand-new key `nemesis-ack-<client>-<n>` (checked after the heal)
//!   lock clients (lock_clients threads)
//!     try_lock(resource, fresh owner, lease 500..2000 ms, Persistent)
//!       locked  -> hold 0..1.3 x lease (sometimes past the lease), unlock
//!       refused -> back off 10..50 ms
//! ```
//!
//! Keys come in *generations* of `keys` keys (`nemesis-r<generation>-<slot>`, no `/`, so they
//! hash to different partitions); a generation ends after `keys x ops_per_key` operations and
//! the clients move to fresh keys. Per-key histories stay short, which keeps the
//! linearizability search fast however long the run. Every client spreads its seeds: client
//! `i` lists node `i mod n` first. A client reaches nodes at the addresses the cluster's
//! topology gives, which go through the proxy, so partitions can also cut clients off.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use kahuna_client::{BlockingClient, ClientOptions, Code, Durability, SetOptions};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::history::{Call, Op, Outcome, Recorder, Ret, Value, decode, encode};

/// Prefix of the register keys.
pub const REGISTER_PREFIX: &str = "nemesis-r";
/// Prefix of the write-once keys of the acknowledged-write workload.
pub const ACK_PREFIX: &str = "nemesis-ack-";
/// Prefix of the lock resources.
pub const LOCK_PREFIX: &str = "nemesis-lock-";

/// The shape of the workload.
#[derive(Clone, Debug)]
pub struct Workload {
    /// Client threads in all.
    pub clients: usize,
    /// Of which run the lock workload.
    pub lock_clients: usize,
    /// Register keys per generation.
    pub keys: usize,
    /// Operations per key before its generation ends.
    pub ops_per_key: u64,
    /// Lock resources.
    pub resources: usize,
    /// Percentage of register-client operations that write a new acknowledged-write key.
    pub ack_percent: u32,
}

impl Default for Workload {
    fn default() -> Workload {
        Workload { clients: 6, lock_clients: 2, keys: 4, ops_per_key: 150, resources: 2, ack_percent: 10 }
    }
}

/// State shared by the client threads.
#[derive(Debug, Default)]
pub struct Shared {
    /// Set to end the run.
    pub stop: AtomicBool,
    ops: AtomicU64,
    generations: AtomicU64,
}

impl Shared {
    /// Every register key used so far.
    pub fn register_keys(&self, workload: &Workload) -> Vec<String> {
        let generations = self.generations.load(Ordering::SeqCst);
        (0..=generations).flat_map(|g| (0..workload.keys).map(move |s| register_key(g, s))).collect()
    }
}

/// The register key of `slot` in `generation`.
pub fn register_key(generation: u64, slot: usize) -> String {
    format!("{REGISTER_PREFIX}{generation}-{slot}")
}

/// Client options for the workload: short deadlines, so faults produce answers, not hangs.
pub fn client_options() -> ClientOptions {
    ClientOptions {
        timeout: Duration::from_secs(5),
        connect_timeout: Duration::from_secs(1),
        read_attempt_timeout: Duration::from_secs(1),
    }
}

/// Starts the client threads; each returns its operations when `shared.stop` is set.
pub fn spawn(
    workload: &Workload,
    endpoints: &[String],
    seed: u64,
    start: Instant,
    shared: &Arc<Shared>,
) -> Vec<JoinHandle<Vec<Op>>> {
    (0..workload.clients)
        .map(|id| {
            let mut seeds = endpoints.to_vec();
            seeds.rotate_left(id % endpoints.len().max(1));
            let (workload, shared) = (workload.clone(), shared.clone());
            let rng = StdRng::seed_from_u64(seed.wrapping_mul(1_000_003).wrapping_add(id as u64));
            std::thread::Builder::new()
                .name(format!("nemesis-client-{id}"))
                .spawn(move || {
                    let mut recorder = Recorder::new(start, id as u64, workload.clients as u64);
                    if let Some(client) = connect(&seeds, &shared) {
                        let mut worker = Worker { id, client, workload, shared, rng, recorder: &mut recorder };
                        if id < worker.workload.lock_clients {
                            worker.locks()
                        } else {
                            worker.registers()
                        }
                        worker.client.close();
                    }
                    recorder.into_ops()
                })
                .expect("a client thread starts")
        })
        .collect()
}

/// Connects, retrying while nodes are down, until the run stops.
fn connect(seeds: &[String], shared: &Shared) -> Option<BlockingClient> {
    while !shared.stop.load(Ordering::SeqCst) {
        match BlockingClient::connect(seeds, client_options()) {
            Ok(c) => return Some(c),
            Err(e) => tracing::debug!(error = %e, "nemesis client cannot connect yet"),
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    None
}

struct Worker<'a> {
    id: usize,
    client: BlockingClient,
    workload: Workload,
    shared: Arc<Shared>,
    rng: StdRng,
    recorder: &'a mut Recorder,
}

impl Worker<'_> {
    fn stopped(&self) -> bool {
        self.shared.stop.load(Ordering::SeqCst)
    }

    fn registers(&mut self) {
        const P: Durability = Durability::Persistent;
        let mut seen: HashMap<String, (Option<Value>, i64)> = HashMap::new();
        let mut written = 0u64;
        let client = self.client.clone();
        while !self.stopped() {
            written += 1;
            let value: Value = ((self.id as u64 + 1) << 40) | written;
            if self.rng.random_range(0..100) < self.workload.ack_percent {
                let key = format!("{ACK_PREFIX}{}-{written}", self.id);
                let call = Call::Set { value };
                let set = || client.try_set(&key, &encode(value), SetOptions::new());
                self.recorder.run(&key, call, set, |r| Ret::Write { set: r.set, revision: r.revision });
                continue;
            }
            let n = self.shared.ops.fetch_add(1, Ordering::SeqCst);
            let generation = n / (self.workload.keys.max(1) as u64 * self.workload.ops_per_key.max(1));
            self.shared.generations.fetch_max(generation, Ordering::SeqCst);
            let key = register_key(generation, self.rng.random_range(0..self.workload.keys.max(1)));
            let (last_value, last_revision) = seen.get(&key).copied().unwrap_or((None, -1));
            let roll = self.rng.random_range(0..100);
            let outcome = match roll {
                0..40 => self.recorder.run(
                    &key,
                    Call::Get,
                    || client.try_get(&key, P),
                    |r| Ret::Read { found: r.found, value: r.found.then(|| decode(&r.value)), revision: r.revision },
                ),
                40..60 => {
                    let set = || client.try_set(&key, &encode(value), SetOptions::new());
                    self.recorder
                        .run(&key, Call::Set { value }, set, |r| Ret::Write { set: r.set, revision: r.revision })
                }
                60..75 => {
                    let expect = if self.rng.random_bool(0.8) {
                        last_revision
                    } else {
                        last_revision + self.rng.random_range(-1..=1)
                    };
                    let cas = || client.try_compare_revision_and_set(&key, &encode(value), expect, 0, P);
                    let call = Call::CasRevision { value, expect };
                    self.recorder.run(&key, call, cas, |r| Ret::Write { set: r.set, revision: r.revision })
                }
                75..90 => {
                    let expect = last_value.unwrap_or(value ^ 1);
                    let cas = || client.try_compare_value_and_set(&key, &encode(value), &encode(expect), 0, P);
                    let call = Call::CasValue { value, expect };
                    self.recorder.run(&key, call, cas, |r| Ret::Write { set: r.set, revision: r.revision })
                }
                _ => self.recorder.run(
                    &key,
                    Call::Delete,
                    || client.try_delete(&key, P),
                    |r| Ret::Delete { deleted: r.deleted, revision: r.revision },
                ),
            };
            match outcome {
                Outcome::Ok(Ret::Read { value, revision, .. }) => {
                    seen.insert(key, (value, revision));
                }
                Outcome::Ok(Ret::Write { set: true, revision }) => {
                    seen.insert(key, (Some(value), revision));
                }
                Outcome::Ok(Ret::Write { set: false, revision }) | Outcome::Ok(Ret::Delete { revision, .. }) => {
                    seen.insert(key, (None, revision));
                }
                _ => {}
            }
        }
    }

    fn locks(&mut self) {
        const P: Durability = Durability::Persistent;
        let client = self.client.clone();
        let mut attempt = 0u64;
        while !self.stopped() {
            attempt += 1;
            let resource = format!("{LOCK_PREFIX}{}", self.rng.random_range(0..self.workload.resources.max(1)));
            let owner = format!("c{}-{attempt}", self.id);
            let lease_ms: i64 = self.rng.random_range(500..=2_000);
            let call = Call::Lock { owner: owner.clone(), lease_ms };
            let lock = || client.try_lock(&resource, owner.as_bytes(), lease_ms, P);
            let outcome =
                self.recorder.run(&resource, call, lock, |r| Ret::Lock { locked: r.locked, token: r.fencing_token });
            let held = matches!(outcome, Outcome::Ok(Ret::Lock { locked: true, .. }));
            if held {
                let hold = Duration::from_millis(self.rng.random_range(0..(lease_ms as u64) * 13 / 10));
                let until = Instant::now() + hold;
                while !self.stopped() && Instant::now() < until {
                    std::thread::sleep((until - Instant::now()).min(Duration::from_millis(50)));
                }
            }
            if held || outcome.is_info() {
                // After an unknown outcome the lock may be ours: release it either way.
                let unlock = || match client.unlock(&resource, owner.as_bytes(), P) {
                    Ok(()) => Ok(Ret::Unlock { released: true, code: None }),
                    Err(e) if matches!(e.code, Code::LockDoesNotExist | Code::InvalidOwner) => {
                        Ok(Ret::Unlock { released: false, code: Some(e.code) })
                    }
                    Err(e) => Err(e),
                };
                self.recorder.run(&resource, Call::Unlock { owner: owner.clone() }, unlock, |r| r);
            } else {
                std::thread::sleep(Duration::from_millis(self.rng.random_range(10..50)));
            }
        }
    }
}
