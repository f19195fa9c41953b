//! Every key/value rule of SEMANTICS.md, through the Rust client, against a real 3-node cluster.
//!
//! Each test starts its own cluster and walks through one area in phases: revisions, conditions,
//! expiry, history and snapshots, buckets, scans, the Ephemeral keyspace, and concurrency.

use std::collections::BTreeMap;
use std::time::Duration;

use kahuna_client::{BlockingClient, Code, Durability, SetOptions};
use kahuna_tests::{Cluster, ClusterOptions, wait_until};

const P: Durability = Durability::Persistent;
const E: Durability = Durability::Ephemeral;

fn start(extra: &[&str]) -> (Cluster, BlockingClient) {
    let options =
        ClusterOptions { extra_args: extra.iter().map(|s| s.to_string()).collect(), ..ClusterOptions::default() };
    let cluster = Cluster::start(options).expect("cluster starts");
    let client = cluster.client();
    (cluster, client)
}

/// The revision rules hold identically in both keyspaces.
fn revisions_in(c: &BlockingClient, d: Durability) {
    let k = "rev/key";
    let missing = c.try_get(k, d).unwrap();
    assert!(!missing.found);
    assert_eq!(missing.revision, -1, "a key that never existed reports -1");
    assert_eq!(c.try_exists(k, d).unwrap().revision, -1);
    let del = c.try_delete(k, d).unwrap();
    assert!(!del.deleted);
    assert_eq!(del.revision, -1);

    let s0 = c.try_set(k, b"v0", SetOptions::new().durability(d)).unwrap();
    assert!(s0.set);
    assert_eq!(s0.revision, 0, "the first write is revision 0");
    assert!(s0.last_modified > 0);
    let s1 = c.try_set(k, b"v1", SetOptions::new().durability(d)).unwrap();
    assert_eq!(s1.revision, 1);
    assert!(s1.last_modified > s0.last_modified, "last_modified grows with each write");

    let got = c.try_get(k, d).unwrap();
    assert!(got.found);
    assert_eq!(got.value, b"v1");
    assert_eq!(got.revision, 1);
    assert_eq!(got.expires_at, 0);
    assert_eq!(got.last_modified, s1.last_modified);
    let ex = c.try_exists(k, d).unwrap();
    assert!(ex.exists);
    assert_eq!(ex.revision, 1);

    let del = c.try_delete(k, d).unwrap();
    assert!(del.deleted);
    assert_eq!(del.revision, 1, "delete reports the revision the key had, not a new one");
    let gone = c.try_get(k, d).unwrap();
    assert!(!gone.found);
    assert_eq!(gone.revision, 1, "a deleted key still reports its revision");
    assert!(!c.try_exists(k, d).unwrap().exists);
    let again = c.try_delete(k, d).unwrap();
    assert!(!again.deleted);
    assert_eq!(again.revision, 1);

    let s2 = c.try_set(k, b"v2", SetOptions::new().durability(d)).unwrap();
    assert_eq!(s2.revision, 2, "a set after delete continues the counter");

    // Extend never changes the revision; reads never change it.
    let ext = c.try_extend(k, 60_000, d).unwrap();
    assert!(ext.extended);
    assert_eq!(ext.revision, 2);
    let got = c.try_get(k, d).unwrap();
    assert_eq!(got.revision, 2);
    assert!(got.expires_at > got.last_modified, "extend set an expiry after the write");
    assert!(!c.try_extend("rev/never", 1000, d).unwrap().extended);

    // History: older revisions stay readable by revision.
    for (rev, value) in [(0, &b"v0"[..]), (1, b"v1"), (2, b"v2")] {
        let h = c.try_get_revision(k, rev, d).unwrap();
        assert!(h.found, "revision {rev}");
        assert_eq!(h.value, value);
        assert_eq!(h.revision, rev);
    }
    assert!(!c.try_get_revision(k, 3, d).unwrap().found);

    // NO_REVISION: the counter moves on, the superseded revision is not archived.
    let s3 = c.try_set(k, b"v3", SetOptions::new().no_revision().durability(d)).unwrap();
    assert_eq!(s3.revision, 3);
    assert!(!c.try_get_revision(k, 2, d).unwrap().found, "revision 2 was superseded without archive");
    assert!(c.try_get_revision(k, 1, d).unwrap().found);
}

#[test]
fn revisions_follow_the_seed_rules_in_both_keyspaces() {
    let (_cluster, c) = start(&[]);
    revisions_in(&c, P);
    revisions_in(&c, E);
}

#[test]
fn durabilities_are_separate_keyspaces() {
    let (_cluster, c) = start(&[]);
    c.try_set("shared", b"persistent", SetOptions::new()).unwrap();
    assert!(!c.try_get("shared", E).unwrap().found);
    let e = c.try_set("shared", b"ephemeral", SetOptions::new().durability(E)).unwrap();
    assert_eq!(e.revision, 0, "the ephemeral key has its own counter");
    assert_eq!(c.try_get("shared", P).unwrap().value, b"persistent");
    assert_eq!(c.try_get("shared", E).unwrap().value, b"ephemeral");
    c.try_delete("shared", E).unwrap();
    assert!(c.try_get("shared", P).unwrap().found);
}

fn conditions_in(c: &BlockingClient, d: Durability) {
    let k = "cond/key";
    let o = || SetOptions::new().durability(d);
    let r = c.try_set(k, b"x", o().if_exists()).unwrap();
    assert_eq!((r.set, r.revision), (false, -1), "if-exists on a missing key");
    let r = c.try_compare_value_and_set(k, b"x", b"x", 0, d).unwrap();
    assert_eq!((r.set, r.revision), (false, -1));
    let r = c.try_compare_revision_and_set(k, b"x", 0, 0, d).unwrap();
    assert_eq!((r.set, r.revision), (false, -1), "compare-revision needs a live key");

    let r = c.try_set(k, b"a", o().if_not_exists()).unwrap();
    assert_eq!((r.set, r.revision), (true, 0));
    let r = c.try_set(k, b"b", o().if_not_exists()).unwrap();
    assert_eq!((r.set, r.revision), (false, 0), "a failed condition reports the current revision");
    let r = c.try_set(k, b"b", o().if_exists()).unwrap();
    assert_eq!((r.set, r.revision), (true, 1));

    let r = c.try_compare_value_and_set(k, b"c", b"nope", 0, d).unwrap();
    assert_eq!((r.set, r.revision), (false, 1));
    let r = c.try_compare_value_and_set(k, b"c", b"b", 0, d).unwrap();
    assert_eq!((r.set, r.revision), (true, 2));
    assert_eq!(c.try_get(k, d).unwrap().value, b"c");

    let r = c.try_compare_revision_and_set(k, b"d", 1, 0, d).unwrap();
    assert_eq!((r.set, r.revision), (false, 2));
    let r = c.try_compare_revision_and_set(k, b"d", 2, 0, d).unwrap();
    assert_eq!((r.set, r.revision), (true, 3));

    // Empty values are values, compared byte for byte.
    let r = c.try_compare_value_and_set(k, b"", b"d", 0, d).unwrap();
    assert!(r.set);
    let r = c.try_compare_value_and_set(k, b"e", b"", 0, d).unwrap();
    assert_eq!((r.set, r.revision), (true, 5));

    // A deleted key counts as absent for every condition.
    c.try_delete(k, d).unwrap();
    assert!(!c.try_set(k, b"f", o().if_exists()).unwrap().set);
    assert!(!c.try_compare_value_and_set(k, b"f", b"e", 0, d).unwrap().set);
    assert!(!c.try_compare_revision_and_set(k, b"f", 5, 0, d).unwrap().set);
    let r = c.try_set(k, b"f", o().if_not_exists()).unwrap();
    assert_eq!((r.set, r.revision), (true, 6));
}

#[test]
fn conditional_writes_in_both_keyspaces() {
    let (_cluster, c) = start(&[]);
    conditions_in(&c, P);
    conditions_in(&c, E);
}

fn expiry_in(c: &BlockingClient, d: Durability) {
    let k = "ttl/key";
    let s = c.try_set(k, b"short", SetOptions::new().expires_ms(300).durability(d)).unwrap();
    let got = c.try_get(k, d).unwrap();
    assert!(got.found);
    assert!(got.expires_at > s.last_modified);
    // The end is the commit millisecond + TTL + 1: rounded up, never before request time + TTL.
    assert_eq!(kahuna_client::hlc::physical_ms(got.expires_at), kahuna_client::hlc::physical_ms(s.last_modified) + 301);
    wait_until("the key expires", Duration::from_secs(10), || (!c.try_get(k, d).unwrap().found).then_some(())).unwrap();
    // Expired behaves as deleted: absent for reads and conditions, no revision spent.
    let got = c.try_get(k, d).unwrap();
    assert_eq!(got.revision, 0);
    assert!(!c.try_exists(k, d).unwrap().exists);
    assert!(!c.try_delete(k, d).unwrap().deleted);
    assert!(!c.try_extend(k, 1000, d).unwrap().extended, "an expired key cannot be extended");
    assert!(!c.try_set(k, b"x", SetOptions::new().if_exists().durability(d)).unwrap().set);
    let r = c.try_set(k, b"back", SetOptions::new().if_not_exists().durability(d)).unwrap();
    assert_eq!((r.set, r.revision), (true, 1));

    // Extend keeps a key alive past its first expiry.
    let k2 = "ttl/extended";
    c.try_set(k2, b"v", SetOptions::new().expires_ms(400).durability(d)).unwrap();
    let ext = c.try_extend(k2, 60_000, d).unwrap();
    assert!(ext.extended);
    assert_eq!(ext.revision, 0);
    // A key that expires in 400 ms unless extended: check it is still there well after that.
    let short = "ttl/witness";
    c.try_set(short, b"w", SetOptions::new().expires_ms(400).durability(d)).unwrap();
    wait_until("the witness expires", Duration::from_secs(10), || (!c.try_get(short, d).unwrap().found).then_some(()))
        .unwrap();
    assert!(c.try_get(k2, d).unwrap().found, "the extended key outlives its first expiry");
}

#[test]
fn expiry_is_lazy_and_costs_no_revision() {
    let (_cluster, c) = start(&[]);
    expiry_in(&c, P);
    expiry_in(&c, E);
}

#[test]
fn as_of_reads_see_the_version_at_a_timestamp() {
    let (_cluster, c) = start(&[]);
    let k = "asof/key";
    let a = c.try_set(k, b"a", SetOptions::new()).unwrap();
    let b = c.try_set(k, b"b", SetOptions::new()).unwrap();
    c.try_delete(k, P).unwrap();
    let before = c.try_get_as_of(k, a.last_modified - 1, P).unwrap();
    assert!(!before.found);
    assert_eq!(before.revision, -1);
    let at_a = c.try_get_as_of(k, a.last_modified, P).unwrap();
    assert_eq!((at_a.found, at_a.value.as_slice(), at_a.revision), (true, &b"a"[..], 0));
    let between = c.try_get_as_of(k, b.last_modified - 1, P).unwrap();
    assert_eq!(between.value, b"a");
    let at_b = c.try_get_as_of(k, b.last_modified, P).unwrap();
    assert_eq!(at_b.value, b"b");
    assert_eq!(at_b.last_modified, b.last_modified);
    let now = c.try_get(k, P).unwrap();
    assert!(!now.found);
    // "As of" a time after the delete: the tombstone decides.
    let top = c.topology().unwrap();
    assert!(top.partition_count > 0);
    let later = c.try_set("asof/other", b"x", SetOptions::new()).unwrap().last_modified;
    assert!(!c.try_get_as_of(k, later, P).unwrap().found);
}

#[test]
fn buckets_hold_exactly_their_direct_keys_in_order() {
    let (_cluster, c) = start(&[]);
    for (k, v) in
        [("svc/b", "2"), ("svc/a", "1"), ("svc/c", "3"), ("svc/a/nested", "n"), ("svc", "root"), ("svx/a", "x")]
    {
        c.try_set(k, v.as_bytes(), SetOptions::new()).unwrap();
    }
    c.try_set("svc/gone", b"g", SetOptions::new()).unwrap();
    c.try_delete("svc/gone", P).unwrap();
    c.try_set("svc/expired", b"e", SetOptions::new().expires_ms(1)).unwrap();
    wait_until("expiry", Duration::from_secs(5), || (!c.try_get("svc/expired", P).unwrap().found).then_some(()))
        .unwrap();
    let entries = c.get_by_bucket("svc", P).unwrap();
    let keys: Vec<&str> = entries.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(keys, vec!["svc/a", "svc/b", "svc/c"]);
    assert_eq!(entries[1].value, b"2");
    assert_eq!(entries[0].revision, 0);
    assert_eq!(c.get_by_bucket("svc/a", P).unwrap().len(), 1, "a nested bucket is its own bucket");
    assert!(c.get_by_bucket("nothing-here", P).unwrap().is_empty());
    // Ephemeral buckets are separate.
    assert!(c.get_by_bucket("svc", E).unwrap().is_empty());
    c.try_set("svc/eph", b"e", SetOptions::new().durability(E)).unwrap();
    assert_eq!(c.get_by_bucket("svc", E).unwrap().len(), 1);
}

#[test]
fn scans_page_through_one_snapshot_across_partitions() {
    let (_cluster, c) = start(&[]);
    let mut expected = BTreeMap::new();
    for i in 0..57 {
        // Different buckets, so the keys spread over every partition.
        let key = format!("scan/{:02}/k", i);
        c.try_set(&key, format!("v{i}").as_bytes(), SetOptions::new()).unwrap();
        expected.insert(key, format!("v{i}"));
    }
    c.try_set("scanx", b"outside the prefix", SetOptions::new()).unwrap();

    // First page, then change the data, then read the remaining pages: they still show the
    // data as of the first page's snapshot.
    let first = c.scan_by_prefix("scan/", 10, None, P).unwrap();
    assert_eq!(first.entries.len(), 10);
    let snapshot = first.snapshot;
    assert!(snapshot > 0);
    c.try_set("scan/00/k", b"changed", SetOptions::new()).unwrap();
    c.try_delete("scan/30/k", P).unwrap();
    c.try_set("scan/99/new", b"new", SetOptions::new()).unwrap();

    let mut seen: Vec<(String, Vec<u8>)> = first.entries.iter().map(|e| (e.key.clone(), e.value.clone())).collect();
    let mut cursor = first.cursor.clone();
    let mut pages = 1;
    while let Some(cur) = cursor {
        let page = c.scan_by_prefix("scan/", 10, Some(&cur), P).unwrap();
        assert_eq!(page.snapshot, snapshot, "every page reads the same snapshot");
        assert!(page.entries.len() <= 10);
        seen.extend(page.entries.iter().map(|e| (e.key.clone(), e.value.clone())));
        cursor = page.cursor;
        pages += 1;
        assert!(pages < 20, "the scan terminates");
    }
    let keys: Vec<&String> = seen.iter().map(|(k, _)| k).collect();
    let want: Vec<&String> = expected.keys().collect();
    assert_eq!(keys, want, "ordered, complete, no duplicates, nothing written after the snapshot");
    assert!(seen.iter().all(|(k, v)| expected[k].as_bytes() == v.as_slice()));

    // A new scan sees the changes.
    let all = c.scan_all_by_prefix("scan/", P).unwrap();
    assert_eq!(all.len(), 57);
    assert!(all.iter().any(|e| e.key == "scan/99/new"));
    assert!(!all.iter().any(|e| e.key == "scan/30/k"));
    assert_eq!(all.iter().find(|e| e.key == "scan/00/k").unwrap().value, b"changed");
    // An empty prefix scans everything.
    assert_eq!(c.scan_all_by_prefix("", P).unwrap().len(), 58);
    assert!(c.scan_all_by_prefix("none/", P).unwrap().is_empty());
    // The Ephemeral keyspace scans the same way.
    for i in 0..12 {
        c.try_set(&format!("scan/{i:02}/e"), b"e", SetOptions::new().durability(E)).unwrap();
    }
    assert_eq!(c.scan_all_by_prefix("scan/", E).unwrap().len(), 12);
}

#[test]
fn retention_keeps_the_newest_revisions() {
    let (_cluster, c) = start(&["--revisions", "4"]);
    for i in 0..10 {
        c.try_set("ret/key", format!("v{i}").as_bytes(), SetOptions::new()).unwrap();
    }
    for rev in 0..6 {
        assert!(!c.try_get_revision("ret/key", rev, P).unwrap().found, "revision {rev} was compacted");
    }
    for rev in 6..10 {
        assert_eq!(c.try_get_revision("ret/key", rev, P).unwrap().value, format!("v{rev}").as_bytes());
    }
}

#[test]
fn the_sweep_purges_dead_keys_after_the_tombstone_retention() {
    let (_cluster, c) =
        start(&["--sweep-interval", "100ms", "--tombstone-retention", "300ms", "--revision-max-age", "0s"]);
    for d in [P, E] {
        let o = || SetOptions::new().durability(d);
        c.try_set("sweep/dead", b"a", o()).unwrap();
        c.try_set("sweep/dead", b"b", o()).unwrap();
        c.try_delete("sweep/dead", d).unwrap();
        c.try_set("sweep/live", b"x", o()).unwrap();
        // Once purged, the key's history is gone and its revision restarts.
        wait_until("the dead key is purged", Duration::from_secs(10), || {
            (c.try_get("sweep/dead", d).unwrap().revision == -1).then_some(())
        })
        .unwrap();
        assert!(!c.try_get_revision("sweep/dead", 0, d).unwrap().found);
        assert_eq!(c.try_set("sweep/dead", b"c", o()).unwrap().revision, 0);
        assert!(c.try_get("sweep/live", d).unwrap().found, "live keys are never purged");
    }
}

/// Writes Ephemeral keys `{prefix}{i}` of `size` bytes until the node refuses one; returns how
/// many it took and the refusal.
fn fill(c: &BlockingClient, prefix: &str, size: usize, ttl_ms: i64) -> (usize, kahuna_client::Error) {
    const LIMIT: usize = 40_000;
    let value = vec![b'x'; size];
    for i in 0..LIMIT {
        let mut o = SetOptions::new().durability(E);
        if ttl_ms > 0 {
            o = o.expires_ms(ttl_ms);
        }
        match c.try_set(&format!("{prefix}{i}"), &value, o) {
            Ok(r) => assert!(r.set),
            Err(e) => return (i, e),
        }
    }
    panic!("{LIMIT} writes of {size} bytes fit under the cap");
}

#[test]
fn the_ephemeral_store_refuses_writes_past_its_memory_cap() {
    // One node, so that every partition's Ephemeral data counts against the same cap.
    let options = ClusterOptions {
        nodes: 1,
        extra_args: ["--max-ephemeral-mb", "1", "--sweep-interval", "200ms"].map(String::from).to_vec(),
        ..ClusterOptions::default()
    };
    let cluster = Cluster::start(options).expect("cluster starts");
    let c = cluster.client();

    // Fill: about 1 MiB of 4,000-byte values fit, and the next write is refused.
    let (written, err) = fill(&c, "cap/", 4_000, 0);
    assert!((200..=262).contains(&written), "{written} values of 4,000 bytes under a 1 MiB cap");
    assert_eq!(err.code, Code::ResourceExhausted, "{err}");
    assert!(!err.is_retriable(), "waiting alone does not make room");
    for part in ["Ephemeral store is full", "limits.max_ephemeral_mb", "nothing was written"] {
        assert!(err.message.contains(part), "{part:?} in {err}");
    }
    let refused = format!("cap/{written}");
    let got = c.try_get(&refused, E).unwrap();
    assert!(!got.found && got.revision == -1, "the refused write left nothing: {got:?}");
    let retry = c.try_set(&refused, &[b'x'; 4_000], SetOptions::new().durability(E)).unwrap_err();
    assert_eq!(retry.code, Code::ResourceExhausted);

    // Only writes that add data are refused: a new revision of a key is, a smaller value that
    // replaces the latest one (no_revision) is not. Persistent data has no such cap, and reads,
    // exists and scans go on.
    let more = c.try_set("cap/0", &[b'y'; 4_000], SetOptions::new().durability(E)).unwrap_err();
    assert_eq!(more.code, Code::ResourceExhausted);
    assert_eq!(c.try_get("cap/0", E).unwrap().revision, 0, "the refused revision was not written");
    let smaller = c.try_set("cap/1", b"small", SetOptions::new().durability(E).no_revision()).unwrap();
    assert!(smaller.set);
    assert_eq!(c.try_get("cap/1", E).unwrap().value, b"small");
    assert!(c.try_set(&refused, &[b'p'; 4_000], SetOptions::new()).unwrap().set, "Persistent writes go on");
    assert!(c.try_exists("cap/2", E).unwrap().exists);
    assert_eq!(c.scan_all_by_prefix("cap/", E).unwrap().len(), written);
    // An Ephemeral lock grant adds a record: refused once the store is full to the last few
    // hundred bytes (filled with small values); a Persistent one is not capped.
    fill(&c, "small/", 1, 0);
    let owner = [b'o'; 1_000];
    let lock = c.try_lock("cap-lock", &owner, 10_000, E).unwrap_err();
    assert_eq!(lock.code, Code::ResourceExhausted);
    assert!(c.try_lock("cap-lock", &owner, 10_000, P).unwrap().locked);

    // Deletes always pass, and under memory pressure they free the key at once (history,
    // tombstone and revision counter, as the sweep's purge would): the room is there right away.
    // (A fifth of the keys: the store stays above 3/4 of its cap, where pressure starts.)
    for i in 0..written / 5 {
        let d = c.try_delete(&format!("cap/{i}"), E).unwrap();
        assert!(d.deleted, "cap/{i}");
        let purged = c.try_get(&format!("cap/{i}"), E).unwrap();
        assert!(!purged.found && purged.revision == -1, "cap/{i} purged under pressure: {purged:?}");
    }
    let again = c.try_set(&refused, &[b'z'; 4_000], SetOptions::new().durability(E)).unwrap();
    assert!(again.set && again.revision == 0);
    assert!(c.try_lock("cap-lock", &owner, 10_000, E).unwrap().locked);

    // Expiry makes room too: keys written with a TTL until the store is full again are purged
    // by the sweep once they expire, without waiting for the tombstone retention (10 minutes).
    let (_, err) = fill(&c, "ttl/", 4_000, 1_000);
    assert_eq!(err.code, Code::ResourceExhausted);
    let big = || c.try_set("after-expiry", &[b'e'; 8_000], SetOptions::new().durability(E));
    assert_eq!(big().unwrap_err().code, Code::ResourceExhausted, "full before the keys expire");
    wait_until("expired keys make room", Duration::from_secs(20), || big().ok()).unwrap();
    assert_eq!(c.try_get("ttl/0", E).unwrap().revision, -1, "the expired key was purged");
    assert_eq!(c.try_get("cap/0", P).unwrap().revision, -1, "the keyspaces stay separate");
}

#[test]
fn a_refused_ephemeral_write_has_expired_keys_purged_at_once() {
    // The sweep's interval is an hour: only refused writes can start a round.
    let options = ClusterOptions {
        nodes: 1,
        extra_args: ["--max-ephemeral-mb", "4", "--sweep-interval", "1h"].map(String::from).to_vec(),
        env: vec![("RUST_LOG".into(), "info,kahuna_server::kv::sweep=debug".into())],
        ..ClusterOptions::default()
    };
    let cluster = Cluster::start(options).expect("cluster starts");
    let c = cluster.client();
    let ttl = Duration::from_secs(5);
    // Small values: the keys of bucket `exp` all live in one partition, many times the 1,000
    // keys one survey covers.
    let (written, err) = fill(&c, "exp/", 64, ttl.as_millis() as i64);
    assert_eq!(err.code, Code::ResourceExhausted);
    assert!(written > 15_000, "{written} keys under a 4 MiB cap");
    std::thread::sleep(ttl); // every key has expired

    // Refused writes start rounds (one a second at most) that go through far more than one
    // survey's 1,000 keys: a 3 MiB value fits once nearly all expired keys are purged.
    let big = || c.try_set("exp-big", &[b'b'; 3 << 20], SetOptions::new().durability(E));
    assert_eq!(big().unwrap_err().code, Code::ResourceExhausted, "the store is still full of expired keys");
    wait_until("expired keys make room for 3 MiB", Duration::from_secs(30), || big().ok()).unwrap();
    assert_eq!(c.try_get("exp/0", E).unwrap().revision, -1, "the first key was purged");
}

#[test]
fn many_threads_share_one_client_and_every_write_lands() {
    let (_cluster, c) = start(&[]);
    let c = std::sync::Arc::new(c);
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let c = c.clone();
            std::thread::spawn(move || {
                for i in 0..50 {
                    let key = format!("conc/{t}/{i}");
                    assert_eq!(c.try_set(&key, b"v", SetOptions::new()).unwrap().revision, 0);
                }
                // Contended compare-and-set on one shared counter: no update is lost.
                let mut done = 0;
                while done < 10 {
                    let cur = c.try_get("conc/counter", P).unwrap();
                    let n: u64 = if cur.found { String::from_utf8(cur.value).unwrap().parse().unwrap() } else { 0 };
                    let next = (n + 1).to_string();
                    let r = if cur.found {
                        c.try_compare_revision_and_set("conc/counter", next.as_bytes(), cur.revision, 0, P).unwrap()
                    } else {
                        c.try_set("conc/counter", next.as_bytes(), SetOptions::new().if_not_exists()).unwrap()
                    };
                    if r.set {
                        done += 1;
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(c.scan_all_by_prefix("conc/", P).unwrap().len(), 8 * 50 + 1);
    let counter = c.try_get("conc/counter", P).unwrap();
    assert_eq!(counter.value, b"80");
    assert_eq!(counter.revision, 79);
}

#[test]
fn client_side_validation_names_the_argument() {
    let (_cluster, c) = start(&[]);
    let cases = [
        c.try_set("", b"v", SetOptions::new()).unwrap_err(),
        c.try_set("__kahuna:x", b"v", SetOptions::new()).unwrap_err(),
        c.try_set(&"k".repeat(4097), b"v", SetOptions::new()).unwrap_err(),
        c.try_set("k", b"v", SetOptions::new().expires_ms(-1)).unwrap_err(),
        c.try_extend("k", 0, P).unwrap_err(),
        c.try_get("", P).unwrap_err(),
    ];
    for e in cases {
        assert_eq!(e.code, Code::InvalidInput, "{e}");
        assert!(e.message.contains("key") || e.message.contains("expires_ms"), "{e}");
    }
    assert!(c.scan_all_by_prefix("", P).unwrap().is_empty(), "nothing was written");
}

#[test]
fn the_multi_thread_layout_serves_the_same_semantics() {
    // The default runs each node on one thread; `--rpc-threads N` splits connections off.
    let (_cluster, c) = start(&["--rpc-threads", "2"]);
    revisions_in(&c, P);
    conditions_in(&c, E);
    expiry_in(&c, P);
}
