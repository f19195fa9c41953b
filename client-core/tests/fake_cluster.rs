//! The client against a fake cluster: encoding, routing, clocks, retries and failure handling.
//!
//! Each test is a scenario: start fake nodes, script a fault, check what the client did (the
//! fake records every call it received) and what the caller saw.

mod fake;

use std::time::{Duration, Instant};

use fake::FakeCluster;
use kahuna_client::{BlockingClient, Client, ClientOptions, Code, Durability, Entry, SetOptions};
use kahuna_schema::routing;

const P: Durability = Durability::Persistent;

async fn connect(cluster: &FakeCluster, options: ClientOptions) -> Client {
    Client::connect(&cluster.endpoints(), options).await.unwrap()
}

fn quick() -> ClientOptions {
    ClientOptions {
        timeout: Duration::from_millis(600),
        connect_timeout: Duration::from_millis(200),
        read_attempt_timeout: Duration::from_millis(100),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_operation_round_trips_and_goes_to_the_leader() {
    let cluster = FakeCluster::start(3, 8);
    let client = connect(&cluster, ClientOptions::default()).await;
    cluster.take_seen();

    let r = client.try_set("a/x", b"1", SetOptions::new()).await.unwrap();
    assert_eq!((r.set, r.revision), (true, 0));
    assert!(r.last_modified > 0);
    let r = client.try_set("a/x", b"2", SetOptions::new().if_not_exists()).await.unwrap();
    assert_eq!((r.set, r.revision), (false, 0));
    let r = client.try_set("a/x", b"2", SetOptions::new().if_exists()).await.unwrap();
    assert_eq!((r.set, r.revision), (true, 1));
    let r = client.try_compare_value_and_set("a/x", b"3", b"nope", 0, P).await.unwrap();
    assert!(!r.set);
    let r = client.try_compare_value_and_set("a/x", b"3", b"2", 0, P).await.unwrap();
    assert_eq!((r.set, r.revision), (true, 2));
    let r = client.try_compare_revision_and_set("a/x", b"4", 2, 5_000, P).await.unwrap();
    assert_eq!((r.set, r.revision), (true, 3));

    let g = client.try_get("a/x", P).await.unwrap();
    assert!(g.found);
    assert_eq!((g.value.as_slice(), g.revision), (&b"4"[..], 3));
    assert!(g.expires_at > g.last_modified);
    assert!(!client.try_get("a/x", Durability::Ephemeral).await.unwrap().found);
    let missing = client.try_get("nope", P).await.unwrap();
    assert_eq!((missing.found, missing.revision, missing.value.len()), (false, -1, 0));
    assert!(client.try_get_revision("a/x", 3, P).await.unwrap().found);

    let e = client.try_exists("a/x", P).await.unwrap();
    assert_eq!((e.exists, e.revision), (true, 3));
    let x = client.try_extend("a/x", 1_000, P).await.unwrap();
    assert_eq!((x.extended, x.revision), (true, 3));

    client.try_set("a/y", b"", SetOptions::new()).await.unwrap();
    client.try_set("b/z", b"z", SetOptions::new()).await.unwrap();
    let bucket = client.get_by_bucket("a", P).await.unwrap();
    let keys: Vec<&str> = bucket.iter().map(|e: &Entry| e.key.as_str()).collect();
    assert_eq!(keys, ["a/x", "a/y"]);
    assert_eq!(bucket[1].value, b"");

    // The fake pages by 2 by default: three keys need two pages.
    let page = client.scan_by_prefix("", 0, None, P).await.unwrap();
    assert_eq!(page.entries.len(), 2);
    assert_eq!(page.snapshot, 7);
    let next = client.scan_by_prefix("", 0, page.cursor.as_deref(), P).await.unwrap();
    assert_eq!((next.entries.len(), next.cursor), (1, None));
    let all = client.scan_all_by_prefix("", P).await.unwrap();
    let keys: Vec<String> = all.into_iter().map(|e| e.key).collect();
    assert_eq!(keys, ["a/x", "a/y", "b/z"]);

    let d = client.try_delete("a/x", P).await.unwrap();
    assert_eq!((d.deleted, d.revision), (true, 3));
    assert!(!client.try_delete("a/x", P).await.unwrap().deleted);

    // Every partitioned call went straight to its partition's leader, with the right header.
    let state = cluster.lock();
    for seen in &state.seen {
        if seen.method == "scan_by_prefix" {
            assert_eq!(seen.partition_count, 0);
            continue;
        }
        let p = routing::partition_for_bucket(routing::routing_unit(&seen.key), 8);
        assert_eq!((seen.partition, seen.partition_count), (p, 8), "{seen:?}");
        assert_eq!(seen.node, state.leaders[p as usize], "{seen:?}");
        assert!(seen.timeout_ms > 0 && seen.timeout_ms <= 10_000, "{seen:?}");
        assert!(seen.hlc > 0);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn requests_carry_the_highest_clock_seen() {
    let cluster = FakeCluster::start(3, 8);
    let client = connect(&cluster, ClientOptions::default()).await;
    for i in 0..5 {
        client.try_set(&format!("k{i}"), b"v", SetOptions::new()).await.unwrap();
        let clock_after = cluster.lock().hlc;
        cluster.take_seen();
        client.try_get(&format!("k{}", i + 7), P).await.unwrap();
        let seen = cluster.take_seen();
        assert!(seen[0].hlc >= clock_after, "{} < {clock_after}", seen[0].hlc);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn leader_hints_redirect_and_are_remembered() {
    let cluster = FakeCluster::start(3, 8);
    let client = connect(&cluster, ClientOptions::default()).await;
    let p = routing::partition_for_key("moved", 8) as usize;
    let new_leader = {
        let mut s = cluster.lock();
        s.term += 1;
        s.leaders[p] = s.leaders[p] % 3 + 1;
        s.leaders[p]
    };
    cluster.take_seen();
    client.try_set("moved", b"v", SetOptions::new()).await.unwrap();
    let seen = cluster.take_seen();
    let data: Vec<_> = seen.iter().filter(|s| s.key == "moved").collect();
    assert_eq!(data.len(), 2, "{seen:?}");
    assert_ne!(data[0].node, new_leader);
    assert_eq!(data[1].node, new_leader);

    client.try_get("moved", P).await.unwrap();
    let seen = cluster.take_seen();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].node, new_leader);
}

#[tokio::test(flavor = "multi_thread")]
async fn transient_statuses_are_retried_even_for_writes() {
    let cluster = FakeCluster::start(3, 8);
    let client = connect(&cluster, ClientOptions::default()).await;
    cluster.take_seen();
    {
        let mut s = cluster.lock();
        s.script.must_retry = 3;
        s.script.unavailable = 2;
    }
    let r = client.try_set("k", b"v", SetOptions::new()).await.unwrap();
    assert!(r.set);
    let tries = cluster.take_seen().iter().filter(|s| s.key == "k").count();
    assert_eq!(tries, 6);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_changed_partition_count_is_learned() {
    let cluster = FakeCluster::start(3, 8);
    let client = connect(&cluster, ClientOptions::default()).await;
    {
        let mut s = cluster.lock();
        s.partition_count = 4;
        s.leaders.truncate(4);
        s.term += 1;
    }
    client.try_set("k", b"v", SetOptions::new()).await.unwrap();
    let last = cluster.take_seen().into_iter().rfind(|s| s.key == "k").unwrap();
    assert_eq!(last.partition_count, 4);
    assert_eq!(last.partition, routing::partition_for_key("k", 4));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_write_refused_until_the_deadline_fails_as_unavailable_not_timeout() {
    let cluster = FakeCluster::start(3, 8);
    let client = connect(&cluster, quick()).await;
    cluster.lock().script.unavailable = u32::MAX;
    let started = Instant::now();
    let e = client.try_set("k", b"v", SetOptions::new()).await.unwrap_err();
    // Every attempt was refused, so the caller learns the write was not applied.
    assert_eq!(e.code, Code::Unavailable, "{e}");
    assert!(e.message.contains("not applied"), "{e}");
    assert!(started.elapsed() >= Duration::from_millis(550));
    assert!(cluster.take_seen().iter().filter(|s| s.key == "k").count() >= 2, "it was retried");
    assert!(cluster.lock().store.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_write_cut_off_in_flight_has_an_unknown_outcome() {
    let cluster = FakeCluster::start(3, 8);
    let client = connect(&cluster, ClientOptions::default()).await;
    cluster.lock().script.drop_after_write = 1;
    let e = client.try_set("k", b"v", SetOptions::new()).await.unwrap_err();
    assert_eq!(e.code, Code::Timeout, "{e}");
    assert!(e.message.contains("outcome is unknown"), "{e}");
    // It was applied, and was not sent twice.
    assert_eq!(cluster.lock().store.len(), 1);
    assert_eq!(cluster.take_seen().iter().filter(|s| s.key == "k").count(), 1);
    // The client reconnects for the next call.
    assert!(client.try_get("k", P).await.unwrap().found);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_read_cut_off_in_flight_is_retried() {
    let cluster = FakeCluster::start(3, 8);
    let client = connect(&cluster, ClientOptions::default()).await;
    client.try_set("k", b"v", SetOptions::new()).await.unwrap();
    cluster.lock().script.drop_on_read = 1;
    let started = Instant::now();
    let g = client.try_get("k", P).await.unwrap();
    assert_eq!(g.value, b"v");
    // Reconnected to the same leader at once, not after waiting out a suspicion.
    assert!(started.elapsed() < Duration::from_millis(500));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dead_leader_is_routed_around() {
    let cluster = FakeCluster::start(3, 8);
    let client = connect(&cluster, ClientOptions::default()).await;
    client.try_set("k", b"v", SetOptions::new()).await.unwrap();
    let p = routing::partition_for_key("k", 8) as usize;
    let dead = {
        let mut s = cluster.lock();
        s.script.forward = true;
        s.leaders[p]
    };
    cluster.kill(dead);
    let started = Instant::now();
    // A read first: whether it meets the closed connection or a refused reconnect, it moves on.
    assert!(client.try_get("k", P).await.unwrap().found);
    // The dead node is now suspect: the write goes to a live node without being lost in flight.
    let r = client.try_set("k", b"w", SetOptions::new()).await.unwrap();
    assert_eq!((r.set, r.revision), (true, 1));
    assert!(started.elapsed() < Duration::from_millis(500));
    assert!(cluster.take_seen().iter().filter(|s| s.key == "k").count() >= 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_silent_leader_times_writes_out_and_reads_move_on() {
    let cluster = FakeCluster::start(3, 8);
    let client = connect(&cluster, quick()).await;
    let p = routing::partition_for_key("k", 8) as usize;
    {
        let mut s = cluster.lock();
        s.script.forward = true;
        s.script.hang_node = Some(s.leaders[p]);
    }
    let started = Instant::now();
    let e = client.try_set("k", b"v", SetOptions::new()).await.unwrap_err();
    assert_eq!(e.code, Code::Timeout, "{e}");
    assert!(e.message.contains("outcome is unknown"), "{e}");
    assert!(started.elapsed() >= Duration::from_millis(550));
    assert!(started.elapsed() < Duration::from_secs(2));

    let started = Instant::now();
    let g = client.try_get("k", P).await.unwrap();
    assert!(!g.found);
    assert!(started.elapsed() < Duration::from_millis(500));
}

#[tokio::test(flavor = "multi_thread")]
async fn many_calls_share_one_connection_concurrently() {
    let cluster = FakeCluster::start(1, 1);
    let client = connect(&cluster, ClientOptions::default()).await;
    cluster.lock().script.delay = Duration::from_millis(50);
    let started = Instant::now();
    let calls = (0..100).map(|i| {
        let client = client.clone();
        async move { client.try_get(&format!("k{i}"), P).await }
    });
    for r in futures::future::join_all(calls).await {
        r.unwrap();
    }
    assert!(started.elapsed() < Duration::from_millis(1_500), "{:?}", started.elapsed());
    assert!(cluster.lock().max_inflight >= 50, "{}", cluster.lock().max_inflight);
}

#[test]
fn the_blocking_client_needs_no_runtime_and_is_shared_by_threads() {
    let cluster = FakeCluster::start(3, 8);
    let client = BlockingClient::connect(&cluster.endpoints(), ClientOptions::default()).unwrap();
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let client = client.clone();
            std::thread::spawn(move || {
                for i in 0..20 {
                    let key = format!("t{t}/k{i}");
                    client.try_set(&key, key.as_bytes(), SetOptions::new()).unwrap();
                    assert_eq!(client.try_get(&key, P).unwrap().value, key.as_bytes());
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(client.get_by_bucket("t2", P).unwrap().len(), 20);
    let t = client.topology().unwrap();
    assert_eq!((t.partition_count, t.cluster_id, t.nodes.len()), (8, 42, 3));
    assert_eq!(t.leaders.len(), 8);
    let third = &cluster.endpoints()[2];
    assert_eq!(client.topology_from(third).unwrap().answered_by, 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn close_fails_pending_and_later_calls() {
    let cluster = FakeCluster::start(1, 1);
    let client = connect(&cluster, ClientOptions::default()).await;
    cluster.lock().script.hang_node = Some(1);
    let pending = tokio::spawn({
        let client = client.clone();
        async move { client.try_set("k", b"v", SetOptions::new()).await }
    });
    while cluster.lock().seen.iter().all(|s| s.key != "k") {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    client.close();
    let e = pending.await.unwrap().unwrap_err();
    assert_eq!((e.code, e.message.as_str()), (Code::InvalidInput, "the client is closed"));
    let e = client.try_get("k", P).await.unwrap_err();
    assert_eq!(e.message, "the client is closed");
}

#[tokio::test(flavor = "multi_thread")]
async fn connect_skips_a_node_that_accepts_but_never_answers() {
    let cluster = FakeCluster::start(1, 1);
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_address = silent.local_addr().unwrap().to_string();
    let mut endpoints = vec![silent_address];
    endpoints.extend(cluster.endpoints());
    let started = Instant::now();
    let client = Client::connect(&endpoints, quick()).await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(1));
    client.try_set("k", b"v", SetOptions::new()).await.unwrap();
    drop(silent);
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_arguments_fail_before_anything_is_sent() {
    let cluster = FakeCluster::start(1, 1);
    let client = connect(&cluster, ClientOptions::default()).await;
    cluster.take_seen();
    let cases = [
        client.try_set("", b"v", SetOptions::new()).await.unwrap_err(),
        client.try_set("k", b"v", SetOptions::new().expires_ms(-5)).await.unwrap_err(),
        client.try_set("__kahuna:x", b"v", SetOptions::new()).await.unwrap_err(),
        client.try_extend("k", 0, P).await.unwrap_err(),
        client.try_get_revision("k", -1, P).await.unwrap_err(),
        client.try_compare_value_and_set("k", b"v", b"w", -1, P).await.unwrap_err(),
    ];
    for e in &cases {
        assert_eq!(e.code, Code::InvalidInput, "{e}");
    }
    assert_eq!(cases[1].message, "expires_ms must not be negative, got -5");
    assert!(cluster.take_seen().is_empty());
}
