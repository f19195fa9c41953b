//! Leased locks with fencing tokens against a real cluster: every SEMANTICS rule, contention
//! from many clients (at most one holder at any time, checked from recorded intervals), a
//! leader killed during contention, whole-cluster restart, and the election helper.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kahuna_client::{BlockingClient, ClientOptions, Code, Durability, Election};
use kahuna_schema::routing::partition_for_key;
use kahuna_tests::{Cluster, ClusterOptions, wait_until};

const P: Durability = Durability::Persistent;
const E: Durability = Durability::Ephemeral;

fn start() -> Cluster {
    Cluster::start(ClusterOptions::default()).expect("cluster starts")
}

fn rules_in(c: &BlockingClient, d: Durability) {
    let r = "jobs/reindex";
    let err = c.get_lock(r, d).unwrap_err();
    assert_eq!(err.code, Code::LockDoesNotExist, "{err}");
    let first = c.try_lock(r, b"alice", 60_000, d).unwrap();
    assert!(first.locked);
    assert_eq!(first.fencing_token, 0, "the first grant of a resource gets token 0");
    let info = c.get_lock(r, d).unwrap();
    assert_eq!(info.owner, b"alice");
    assert_eq!(info.fencing_token, 0);

    // The owner acquiring again keeps the token and does not extend the lease.
    let again = c.try_lock(r, b"alice", 600_000, d).unwrap();
    assert_eq!((again.locked, again.fencing_token), (true, 0));
    assert_eq!(c.get_lock(r, d).unwrap().expires_at, info.expires_at);

    // Another owner is refused while the lease is live.
    let busy = c.try_lock(r, b"bob", 60_000, d).unwrap();
    assert!(!busy.locked);

    // Extend and unlock check the owner.
    assert_eq!(c.try_extend_lock(r, b"bob", 1000, d).unwrap_err().code, Code::InvalidOwner);
    assert_eq!(c.unlock(r, b"bob", d).unwrap_err().code, Code::InvalidOwner);
    assert_eq!(c.try_extend_lock(r, b"alice", 120_000, d).unwrap(), 0, "extend keeps the token");
    assert!(c.get_lock(r, d).unwrap().expires_at > info.expires_at);
    assert_eq!(c.try_extend_lock("jobs/none", b"alice", 1000, d).unwrap_err().code, Code::LockDoesNotExist);

    // Unlock: the next holder gets token + 1.
    c.unlock(r, b"alice", d).unwrap();
    assert_eq!(c.unlock(r, b"alice", d).unwrap_err().code, Code::LockDoesNotExist);
    assert_eq!(c.get_lock(r, d).unwrap_err().code, Code::LockDoesNotExist);
    let bob = c.try_lock(r, b"bob", 300, d).unwrap();
    assert_eq!((bob.locked, bob.fencing_token), (true, 1));

    // Expiry hands the lock over with token + 1.
    wait_until("bob's lease expires", Duration::from_secs(10), || {
        c.get_lock(r, d).err().is_some_and(|e| e.code == Code::LockDoesNotExist).then_some(())
    })
    .unwrap();
    let carol = c.try_lock(r, b"carol", 60_000, d).unwrap();
    assert_eq!((carol.locked, carol.fencing_token), (true, 2));

    // Invalid input names the argument.
    for e in [
        c.try_lock("", b"x", 1000, d).unwrap_err(),
        c.try_lock("r", b"", 1000, d).unwrap_err(),
        c.try_lock("r", b"x", 0, d).unwrap_err(),
        c.try_lock("r", b"x", -5, d).unwrap_err(),
        c.try_extend_lock("r", b"x", 0, d).unwrap_err(),
        c.unlock("r", b"", d).unwrap_err(),
        c.try_lock("__kahuna:r", b"x", 1000, d).unwrap_err(),
    ] {
        assert_eq!(e.code, Code::InvalidInput, "{e}");
        assert!(
            e.message.contains("resource") || e.message.contains("owner") || e.message.contains("expires_ms"),
            "{e}"
        );
    }
}

#[test]
fn lock_rules_hold_in_both_durabilities() {
    let cluster = start();
    let c = cluster.client();
    rules_in(&c, P);
    rules_in(&c, E);
    // The keyspaces are separate.
    assert_eq!(c.get_lock("jobs/reindex", P).unwrap().owner, b"carol");
    c.unlock("jobs/reindex", b"carol", E).unwrap();
    assert_eq!(c.get_lock("jobs/reindex", P).unwrap().owner, b"carol");
}

/// One grant as a client saw it: held from the answer until the earlier of the lease (timed
/// from the request) and the unlock request.
#[derive(Clone, Debug)]
struct Held {
    start: Instant,
    end: Instant,
    token: i64,
    owner: String,
}

/// Clients fighting over one lock in background threads.
struct Contention {
    threads: Vec<std::thread::JoinHandle<()>>,
    holds: Arc<Mutex<Vec<Held>>>,
}

impl Contention {
    /// Starts `clients` clients that fight over `resource` for `duration`.
    fn start(endpoints: &[String], resource: &str, clients: usize, duration: Duration) -> Contention {
        let holds = Arc::new(Mutex::new(Vec::new()));
        let stop_at = Instant::now() + duration;
        let threads = (0..clients)
            .map(|i| {
                // Each client knows the nodes in a different order.
                let mut eps = endpoints.to_vec();
                let n = eps.len();
                eps.rotate_left(i % n);
                let client = BlockingClient::connect(&eps, ClientOptions::default()).unwrap();
                let (holds, resource) = (holds.clone(), resource.to_string());
                std::thread::spawn(move || {
                    let owner = format!("client-{i}");
                    let ttl = Duration::from_millis(400);
                    let mut attempt = 0u64;
                    while Instant::now() < stop_at {
                        attempt += 1;
                        let sent = Instant::now();
                        let Ok(r) = client.try_lock(&resource, owner.as_bytes(), ttl.as_millis() as i64, P) else {
                            continue;
                        };
                        if !r.locked {
                            std::thread::sleep(Duration::from_millis(5));
                            continue;
                        }
                        let got = Instant::now();
                        // Hold a little, then release; every fifth grant lets the lease run out.
                        std::thread::sleep(Duration::from_millis(10 + (attempt * 7 % 40)));
                        let expires = sent + ttl;
                        let end = if !attempt.is_multiple_of(5) {
                            let released = Instant::now();
                            let _ = client.unlock(&resource, owner.as_bytes(), P);
                            released.min(expires)
                        } else {
                            expires
                        };
                        holds.lock().unwrap().push(Held {
                            start: got,
                            end,
                            token: r.fencing_token,
                            owner: owner.clone(),
                        });
                        if attempt.is_multiple_of(5) {
                            std::thread::sleep(ttl);
                        }
                    }
                })
            })
            .collect();
        Contention { threads, holds }
    }

    /// Waits for the clients; every hold, in start order.
    fn finish(self) -> Vec<Held> {
        for t in self.threads {
            t.join().unwrap();
        }
        let mut holds = Arc::try_unwrap(self.holds).unwrap().into_inner().unwrap();
        holds.sort_by_key(|h| h.start);
        holds
    }

    fn count(&self) -> usize {
        self.holds.lock().unwrap().len()
    }
}

fn assert_mutual_exclusion(holds: &[Held]) {
    assert!(holds.len() >= 10, "too few grants to judge: {}", holds.len());
    for pair in holds.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        assert!(b.start >= a.end, "overlapping holders: {a:?} and {b:?}");
        assert!(b.token > a.token, "fencing tokens must strictly increase across holders: {a:?} then {b:?}");
    }
}

#[test]
fn contended_lock_has_at_most_one_holder_and_increasing_tokens() {
    let cluster = start();
    let holds = Contention::start(&cluster.endpoints(), "contended/lock", 6, Duration::from_secs(4)).finish();
    assert_mutual_exclusion(&holds);
    let owners: std::collections::BTreeSet<&str> = holds.iter().map(|h| h.owner.as_str()).collect();
    assert!(owners.len() >= 3, "the lock went round: {owners:?}");
}

#[test]
fn killing_the_leader_during_contention_keeps_exclusion_and_tokens_increasing() {
    let mut cluster = start();
    let resource = "contended/failover";
    let leader = cluster.leader_of(partition_for_key(resource, 8)).unwrap();
    let contention = Contention::start(&cluster.endpoints(), resource, 5, Duration::from_secs(9));
    wait_until("some grants before the fault", Duration::from_secs(10), || (contention.count() >= 5).then_some(()))
        .unwrap();
    let killed_at = Instant::now();
    cluster.kill(leader);
    let holds = contention.finish();
    assert_mutual_exclusion(&holds);
    let after = holds.iter().filter(|h| h.start > killed_at).count();
    assert!(after >= 3, "the lock is granted again after the failover ({after} grants)");
}

#[test]
fn persistent_locks_survive_a_whole_cluster_restart() {
    let mut cluster = start();
    let c = cluster.client();
    c.try_lock("held/one", b"owner-1", 3_600_000, P).unwrap();
    c.try_lock("held/two", b"owner-2", 1000, P).unwrap();
    c.unlock("held/two", b"owner-2", P).unwrap();
    c.try_lock("held/eph", b"owner-3", 3_600_000, E).unwrap();
    let before = c.get_lock("held/one", P).unwrap();
    drop(c);
    cluster.stop_all();
    cluster.start_all().unwrap();
    let c = cluster.client();
    assert_eq!(c.get_lock("held/one", P).unwrap(), before, "owner, expiry and token survive");
    assert!(!c.try_lock("held/one", b"intruder", 1000, P).unwrap().locked);
    assert_eq!(c.try_lock("held/two", b"owner-9", 1000, P).unwrap().fencing_token, 1, "tokens continue");
    assert_eq!(c.get_lock("held/eph", E).unwrap_err().code, Code::LockDoesNotExist, "Ephemeral locks are gone");
    c.unlock("held/one", b"owner-1", P).unwrap();
}

#[test]
fn election_elects_one_leader_keeps_it_alive_and_hands_over_on_resign() {
    let cluster = start();
    let ttl = Duration::from_millis(600);
    let a = Election::new(cluster.client(), "services/scheduler", b"node-a", ttl);
    let b = Election::new(cluster.client(), "services/scheduler", b"node-b", ttl);
    assert_eq!(a.leader().unwrap(), None);
    let lead_a = a.campaign(Duration::from_secs(5)).unwrap().expect("a wins an empty election");
    assert_eq!(lead_a.fencing_token(), 0);
    // b cannot win while a keeps its lease alive, well past one ttl.
    assert!(b.campaign(ttl * 3).unwrap().is_none());
    assert!(lead_a.is_leader());
    let seen = b.leader().unwrap().unwrap();
    assert_eq!(seen.candidate, b"node-a");
    // a resigns: b wins with the next token.
    lead_a.resign().unwrap();
    let lead_b = b.campaign(Duration::from_secs(5)).unwrap().expect("b wins after a resigns");
    assert_eq!(lead_b.fencing_token(), 1);
    // Someone releasing b's lock (here: b's own id from elsewhere) makes b notice it lost.
    cluster.client().unlock("services/scheduler", b"node-b", P).unwrap();
    wait_until("b notices it lost the lease", Duration::from_secs(5), || (!lead_b.is_leader()).then_some(())).unwrap();
    drop(lead_b);
    assert!(a.campaign(Duration::from_secs(5)).unwrap().is_some());
}

#[test]
fn a_leader_whose_extensions_hang_stops_leading_when_its_lease_ends() {
    let mut cluster = start();
    let ttl = Duration::from_millis(600);
    let e = Election::new(cluster.client(), "services/hung", b"node-a", ttl);
    let lead = e.campaign(Duration::from_secs(5)).unwrap().expect("an empty election is won");
    std::thread::sleep(ttl / 2);
    // Every node stops answering: the keep-alive's extension hangs until the client deadline
    // (far beyond the lease), yet the leader must give up when the lease it knows of ends.
    for i in 0..3 {
        cluster.pause(i);
    }
    let paused = Instant::now();
    let lost = wait_until("is_leader turns false", Duration::from_secs(5), || (!lead.is_leader()).then_some(()));
    let after = paused.elapsed();
    for i in 0..3 {
        cluster.resume(i);
    }
    lost.unwrap();
    assert!(after < ttl * 3, "still the leader {after:?} after the last extension");
}
