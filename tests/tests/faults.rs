//! Faults against real processes: kill -9, restart, log and snapshot catch-up, whole-cluster
//! restart, and the loss of Ephemeral data with its leader. No acknowledged Persistent write
//! may ever be lost.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kahuna_client::{BlockingClient, ClientOptions, Durability, SetOptions};
use kahuna_schema::routing::partition_for_key;
use kahuna_tests::{Cluster, ClusterOptions, wait_until};

const P: Durability = Durability::Persistent;
const E: Durability = Durability::Ephemeral;
const PARTITIONS: u32 = 8;

fn start(extra: &[&str]) -> Cluster {
    let options = ClusterOptions {
        partitions: PARTITIONS,
        extra_args: extra.iter().map(|s| s.to_string()).collect(),
        ..ClusterOptions::default()
    };
    Cluster::start(options).expect("cluster starts")
}

/// Like [`start`], with the log store's debug lines ("purged log partition=P upto=I") in the
/// node logs, for tests that wait for purges.
fn start_logging_purges(extra: &[&str]) -> Cluster {
    let options = ClusterOptions {
        partitions: PARTITIONS,
        extra_args: extra.iter().map(|s| s.to_string()).collect(),
        env: vec![("RUST_LOG".into(), "info,openraft=error,kahuna_server::raft::log_store=debug".into())],
        ..ClusterOptions::default()
    };
    Cluster::start(options).expect("cluster starts")
}

/// One key per partition, for probing that every partition serves.
fn probe_keys() -> Vec<String> {
    let mut keys: BTreeMap<u32, String> = BTreeMap::new();
    for i in 0.. {
        let k = format!("probe-{i}");
        keys.entry(partition_for_key(&k, PARTITIONS)).or_insert(k);
        if keys.len() == PARTITIONS as usize {
            break;
        }
    }
    keys.into_values().collect()
}

/// Waits until a write succeeds on every partition; returns how long that took.
fn wait_all_partitions_write(cluster: &Cluster, timeout: Duration) -> Duration {
    let started = Instant::now();
    let client = cluster.client();
    for key in probe_keys() {
        wait_until(&format!("a write to {key}'s partition succeeds"), timeout, || {
            client.try_set(&key, b"probe", SetOptions::new()).ok().map(|_| ())
        })
        .unwrap_or_else(|e| panic!("{e}\n{}", cluster.log_tails()));
    }
    started.elapsed()
}

/// Writers that record every acknowledged write until stopped.
struct Writers {
    stop: Arc<AtomicBool>,
    acked: Arc<Mutex<BTreeMap<String, Vec<u8>>>>,
    threads: Vec<std::thread::JoinHandle<usize>>,
}

impl Writers {
    fn start(cluster: &Cluster, threads: usize, prefix: &str) -> Writers {
        let stop = Arc::new(AtomicBool::new(false));
        let acked = Arc::new(Mutex::new(BTreeMap::new()));
        let threads = (0..threads)
            .map(|t| {
                let client = cluster.client();
                let (stop, acked, prefix) = (stop.clone(), acked.clone(), prefix.to_string());
                std::thread::spawn(move || {
                    let mut errors = 0;
                    let mut i = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        let key = format!("{prefix}/{t}/{i}");
                        let value = format!("value-{t}-{i}").into_bytes();
                        match client.try_set(&key, &value, SetOptions::new()) {
                            Ok(r) if r.set => {
                                acked.lock().unwrap().insert(key, value);
                            }
                            Ok(r) => panic!("unconditional set not applied: {r:?}"),
                            Err(_) => errors += 1,
                        }
                        i += 1;
                    }
                    errors
                })
            })
            .collect();
        Writers { stop, acked, threads }
    }

    fn count(&self) -> usize {
        self.acked.lock().unwrap().len()
    }

    fn finish(self) -> (BTreeMap<String, Vec<u8>>, usize) {
        self.stop.store(true, Ordering::Relaxed);
        let errors = self.threads.into_iter().map(|t| t.join().unwrap()).sum();
        (Arc::try_unwrap(self.acked).unwrap().into_inner().unwrap(), errors)
    }
}

fn assert_all_present(client: &BlockingClient, acked: &BTreeMap<String, Vec<u8>>, when: &str) {
    for (key, value) in acked {
        let got = client.try_get(key, P).unwrap_or_else(|e| panic!("{when}: reading {key}: {e}"));
        assert!(got.found, "{when}: acknowledged write {key} was lost");
        assert_eq!(&got.value, value, "{when}: {key}");
    }
}

/// Writes `count` keys `{prefix}/{i % 16}/{i}` = `v{i}` one after the other; returns them.
fn write_keys(client: &BlockingClient, prefix: &str, count: usize) -> BTreeMap<String, Vec<u8>> {
    let mut written = BTreeMap::new();
    for i in 0..count {
        let key = format!("{prefix}/{}/{i}", i % 16);
        let value = format!("v{i}").into_bytes();
        client.try_set(&key, &value, SetOptions::new()).unwrap();
        written.insert(key, value);
    }
    written
}

/// How often `needle` occurs in node `i`'s log so far.
fn log_count(cluster: &Cluster, i: usize, needle: &str) -> usize {
    std::fs::read_to_string(cluster.log_path(i)).unwrap_or_default().matches(needle).count()
}

/// Waits until node `i` logs `needle`.
fn wait_for_log(cluster: &Cluster, i: usize, needle: &str) {
    wait_until(&format!("node {i} logs {needle:?}"), Duration::from_secs(30), || {
        (log_count(cluster, i, needle) > 0).then_some(())
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", cluster.log_tails()));
}

fn wait_for_more_writes(writers: &Writers, more: usize) {
    let target = writers.count() + more;
    wait_until("writers make progress", Duration::from_secs(30), || (writers.count() >= target).then_some(())).unwrap();
}

#[test]
fn kill_9_of_any_node_loses_no_acknowledged_write_and_the_node_catches_up() {
    let mut cluster = start(&[]);
    let writers = Writers::start(&cluster, 4, "kill");
    wait_for_more_writes(&writers, 200);

    // Phase 1: kill -9 the node leading the most partitions, in the middle of the writes.
    let victim = (0..3).max_by_key(|i| (0..PARTITIONS).filter(|p| cluster.leader_of(*p) == Some(*i)).count()).unwrap();
    cluster.kill(victim);
    let recovery = wait_all_partitions_write(&cluster, Duration::from_secs(20));
    println!("every partition took writes again {recovery:?} after kill -9 of node {victim}");
    wait_for_more_writes(&writers, 200);

    // Phase 2: the node restarts on its data and catches up from the log.
    cluster.restart(victim).unwrap();
    cluster.wait_ready(Duration::from_secs(30)).unwrap();
    wait_for_more_writes(&writers, 200);
    let (acked, errors) = writers.finish();
    println!("{} writes acknowledged, {errors} failed during the fault", acked.len());
    assert_all_present(&cluster.client(), &acked, "after restart");

    // Phase 3: rolling failure. Kill another node: the restarted one is now needed for every
    // quorum, so the next writes land on it. Then bring that node back and kill the third:
    // what the quorum {victim, other} acknowledged must be on the victim's disk.
    let second = (victim + 1) % 3;
    let third = (victim + 2) % 3;
    cluster.kill(second);
    wait_all_partitions_write(&cluster, Duration::from_secs(20));
    let client = cluster.client();
    let mut late = BTreeMap::new();
    for i in 0..100 {
        let key = format!("late/{i}");
        client.try_set(&key, b"late", SetOptions::new()).unwrap();
        late.insert(key, b"late".to_vec());
    }
    cluster.restart(second).unwrap();
    cluster.wait_ready(Duration::from_secs(30)).unwrap();
    cluster.kill(third);
    wait_all_partitions_write(&cluster, Duration::from_secs(20));
    let client = cluster.client();
    assert_all_present(&client, &late, "after the rolling failure");
    assert_all_present(&client, &acked, "after the rolling failure");
}

#[test]
fn a_node_behind_the_purged_log_catches_up_by_snapshot() {
    let mut cluster = start(&["--snapshot-logs", "20", "--logs-to-keep", "5"]);
    cluster.stop(2);
    let written = write_keys(&cluster.client(), "snap", 600);
    // Node 2 restarts far behind the purged logs: the leaders must send it snapshots.
    cluster.restart(2).unwrap();
    cluster.wait_ready(Duration::from_secs(30)).unwrap();
    wait_for_log(&cluster, 2, "installed snapshot");
    // Make node 2 necessary: with node 0 gone, every quorum includes it.
    cluster.kill(0);
    wait_all_partitions_write(&cluster, Duration::from_secs(20));
    assert_all_present(&cluster.client(), &written, "after snapshot catch-up");
}

/// The state machines write without RocksDB's write-ahead log: after a crash a node re-applies
/// from its Raft log, so the log may only be purged once those writes are on disk. Killing every
/// node at once after many purges leaves no copy anywhere that could hide a lost write.
#[test]
fn kill_9_of_every_node_after_log_purges_loses_no_acknowledged_write() {
    let mut cluster = start_logging_purges(&["--snapshot-logs", "20", "--logs-to-keep", "5"]);
    let written = write_keys(&cluster.client(), "purged", 600);
    wait_for_log(&cluster, 0, "purged log");

    for i in 0..3 {
        cluster.kill(i);
    }
    for i in 0..3 {
        cluster.restart(i).unwrap();
    }
    cluster.wait_ready(Duration::from_secs(30)).unwrap();
    wait_all_partitions_write(&cluster, Duration::from_secs(30));
    assert_all_present(&cluster.client(), &written, "after kill -9 of every node");
}

/// openraft restarts a node that led a partition as its leader again, in the same term and
/// without an election, when no one else was elected meanwhile. Its state machine then restarts
/// at its last RocksDB flush, behind its log. A read that reaches it before its first heartbeat
/// round gets a read index from openraft (the term's first entry or the restart's applied id)
/// that the stale state machine already satisfies; the leader must still not serve until the log
/// it restarted with is applied again.
#[test]
fn a_leader_restarted_without_an_election_serves_no_stale_read() {
    // Elections far apart, so the followers wait for the restarted leader instead of electing.
    let mut cluster = start_logging_purges(&[
        "--election-timeout-min-ms",
        "6000",
        "--election-timeout-max-ms",
        "7000",
        "--snapshot-logs",
        "40",
        "--logs-to-keep",
        "5",
    ]);
    let key = "restored-leader/key";
    let partition = partition_for_key(key, PARTITIONS);
    let leader = cluster.leader_of(partition).expect("the partition has a leader");
    let purged = format!("purged log partition={partition} ");
    let purges = || log_count(&cluster, leader, &purged);
    let client = cluster.client();
    let mut last = 0;
    let mut set = |n: usize| {
        for _ in 0..n {
            last += 1;
            client.try_set(key, format!("v{last}").as_bytes(), SetOptions::new()).unwrap();
        }
    };
    // Purges flush the state machine: write until the leader flushed an applied entry of its
    // term, then a few more that stay in memory only (no purge in between).
    set(100);
    wait_for_log(&cluster, leader, &purged);
    loop {
        let before = purges();
        set(3);
        std::thread::sleep(Duration::from_millis(300));
        if purges() == before {
            break;
        }
    }
    drop(client);
    let expected = format!("v{last}").into_bytes();

    // Restart the leader with its followers paused, so the read below reaches it before it
    // hears from a quorum; resume them while the read waits.
    let followers: Vec<usize> = (0..3).filter(|i| *i != leader).collect();
    cluster.kill(leader);
    for &f in &followers {
        cluster.pause(f);
    }
    cluster.restart(leader).unwrap();
    let only_leader = vec![cluster.endpoint(leader)];
    let reader = std::thread::spawn(move || {
        let options = ClientOptions { read_attempt_timeout: Duration::from_secs(8), ..ClientOptions::default() };
        let client = wait_until("the restarted leader accepts a client", Duration::from_secs(10), || {
            BlockingClient::connect(&only_leader, options.clone()).ok()
        })
        .unwrap();
        client.try_get(key, P)
    });
    std::thread::sleep(Duration::from_millis(1500));
    for &f in &followers {
        cluster.resume(f);
    }
    let got = reader.join().unwrap().unwrap_or_else(|e| panic!("reading {key}: {e}\n{}", cluster.log_tails()));
    assert_eq!(
        String::from_utf8_lossy(&got.value),
        String::from_utf8_lossy(&expected),
        "the restarted leader served a state machine behind its log"
    );
    assert_eq!(cluster.leader_of(partition), Some(leader), "the test needs the leader restored, not re-elected");
}

#[test]
fn whole_cluster_restart_keeps_persistent_data_and_drops_ephemeral_data() {
    let mut cluster = start(&[]);
    let client = cluster.client();
    let mut persistent = BTreeMap::new();
    for i in 0..50 {
        let key = format!("durable/{i}");
        client.try_set(&key, b"first", SetOptions::new()).unwrap();
        client.try_set(&key, format!("second-{i}").as_bytes(), SetOptions::new()).unwrap();
        persistent.insert(key, format!("second-{i}").into_bytes());
        client.try_set(&format!("eph/{i}"), b"gone soon", SetOptions::new().durability(E)).unwrap();
    }
    client.try_set("durable/ttl", b"t", SetOptions::new().expires_ms(3_600_000)).unwrap();
    let before = client.try_get("durable/ttl", P).unwrap();
    drop(client);

    cluster.stop_all();
    cluster.start_all().unwrap();

    let client = cluster.client();
    assert_all_present(&client, &persistent, "after the whole-cluster restart");
    for key in persistent.keys() {
        let got = client.try_get(key, P).unwrap();
        assert_eq!(got.revision, 1, "revisions survive");
        assert_eq!(client.try_get_revision(key, 0, P).unwrap().value, b"first", "history survives");
    }
    let after = client.try_get("durable/ttl", P).unwrap();
    assert_eq!(after.expires_at, before.expires_at, "expiry survives");
    for i in 0..50 {
        assert!(!client.try_get(&format!("eph/{i}"), E).unwrap().found, "Ephemeral data died with the cluster");
    }
    // Both keyspaces take writes again.
    assert_eq!(client.try_set("durable/0", b"third", SetOptions::new()).unwrap().revision, 2);
    assert_eq!(client.try_set("eph/0", b"new", SetOptions::new().durability(E)).unwrap().revision, 0);
}

#[test]
fn ephemeral_data_is_lost_when_its_leader_dies_and_persistent_data_is_not() {
    let mut cluster = start(&[]);
    let client = cluster.client();
    let key = "session/abc";
    client.try_set(key, b"eph", SetOptions::new().durability(E)).unwrap();
    client.try_set(key, b"per", SetOptions::new()).unwrap();
    assert!(client.try_get(key, E).unwrap().found);
    let leader = cluster.leader_of(partition_for_key(key, PARTITIONS)).unwrap();
    cluster.kill(leader);
    cluster.wait_ready(Duration::from_secs(30)).unwrap();
    let client = cluster.client();
    let got = client.try_get(key, E).unwrap();
    assert!(!got.found, "Ephemeral data lives only in the old leader's memory");
    assert_eq!(got.revision, -1);
    assert_eq!(client.try_get(key, P).unwrap().value, b"per");
    assert_eq!(client.try_set(key, b"eph2", SetOptions::new().durability(E)).unwrap().revision, 0);
}

#[test]
fn a_paused_leader_is_replaced_and_rejoins_without_serving_stale_data() {
    let mut cluster = start(&[]);
    let client = cluster.client();
    let key = "paused/key";
    client.try_set(key, b"before", SetOptions::new()).unwrap();
    let leader = cluster.leader_of(partition_for_key(key, PARTITIONS)).unwrap();
    cluster.pause(leader);
    cluster.wait_ready(Duration::from_secs(30)).unwrap();
    let client = cluster.client();
    let r = client.try_set(key, b"during", SetOptions::new()).unwrap();
    assert_eq!(r.revision, 1);
    cluster.resume(leader);
    cluster.wait_ready(Duration::from_secs(30)).unwrap();
    // Reads through the old leader's node are linearizable: it no longer leads, or it has
    // learnt the newer value before answering.
    let through_old =
        BlockingClient::connect(&[cluster.endpoint(leader)], kahuna_client::ClientOptions::default()).unwrap();
    let got = through_old.try_get(key, P).unwrap();
    assert_eq!(got.value, b"during");
    assert_eq!(got.revision, 1);
}
