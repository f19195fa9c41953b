//! Golden-script tests for the MVCC rules.
//!
//! Each file in `testscripts/` starts with a comment saying what it proves, then alternates
//! `> command` lines with the output they must print. Run with `UPDATE_GOLDEN=1` to rewrite
//! the expected output after an intended change (then review the diff).
//!
//! Commands (timestamps are explicit so scripts are deterministic):
//! ```text
//! > set KEY VALUE ts=N [exp=N] [if=exists|not-exists|value:V|rev:N] [norev] [keep=N]
//! > del KEY ts=N              > extend KEY exp=N ts=N
//! > get KEY now=N             > at KEY ts=N            > rev KEY N
//! > scan PREFIX at=N now=N [after=K] [limit=N] [bucket]
//! > purge KEY dead-before=N   > purge-old KEY before=N > dump (n= the count in each version)
//! ```

use std::collections::HashMap;
use std::fmt::Write as _;

use super::*;
use crate::storage::{Engine, MemoryEngine, Reader, Staged};

const P: u32 = 7;

fn args(words: &[&str]) -> (Vec<String>, HashMap<String, String>) {
    let mut positional = Vec::new();
    let mut named = HashMap::new();
    for w in words {
        match w.split_once('=') {
            Some((k, v)) => {
                named.insert(k.to_string(), v.to_string());
            }
            None => positional.push(w.to_string()),
        }
    }
    (positional, named)
}

fn num(named: &HashMap<String, String>, name: &str) -> u64 {
    named.get(name).unwrap_or_else(|| panic!("missing {name}=")).parse().unwrap()
}

fn show(l: &Lookup) -> String {
    match &l.version {
        None => format!("found={} rev={}", l.found, l.revision()),
        Some(v) => format!(
            "found={} rev={} value={} ts={} exp={}",
            l.found,
            v.revision,
            v.value.as_deref().map_or("<tombstone>".into(), |b| String::from_utf8_lossy(b).into_owned()),
            v.ts,
            v.expires_at
        ),
    }
}

fn write<R>(e: &MemoryEngine, f: impl FnOnce(&mut Staged<'_>) -> R) -> R {
    let mut st = Staged::new(e);
    let r = f(&mut st);
    let batch = st.into_batch();
    e.write(batch).unwrap();
    r
}

fn run(e: &MemoryEngine, heads: &mut Heads, line: &str) -> String {
    let words: Vec<&str> = line.split_whitespace().collect();
    let (pos, named) = args(&words[1..]);
    match words[0] {
        "set" => {
            let condition = match named.get("if").map(String::as_str) {
                None => Condition::None,
                Some("exists") => Condition::IfExists,
                Some("not-exists") => Condition::IfNotExists,
                Some(c) if c.starts_with("value:") => Condition::IfValue(c.as_bytes()[6..].to_vec()),
                Some(c) if c.starts_with("rev:") => Condition::IfRevision(c[4..].parse().unwrap()),
                Some(c) => panic!("bad condition {c}"),
            };
            let a = SetArgs {
                key: &pos[0],
                value: pos[1].as_bytes(),
                expires_at: named.get("exp").map_or(0, |v| v.parse().unwrap()),
                condition: &condition,
                no_revision: pos.iter().any(|p| p == "norev"),
            };
            let keep = named.get("keep").map_or(16, |v| v.parse().unwrap());
            let o = write(e, |st| set(st, heads, P, &a, num(&named, "ts"), keep).unwrap());
            format!("set={} rev={}", o.applied, o.revision)
        }
        "del" => {
            let o = write(e, |st| delete(st, heads, P, &pos[0], num(&named, "ts"), 16).unwrap());
            format!("deleted={} rev={}", o.applied, o.revision)
        }
        "extend" => {
            let o = write(e, |st| extend(st, heads, P, &pos[0], num(&named, "exp"), num(&named, "ts")).unwrap());
            format!("extended={} rev={}", o.applied, o.revision)
        }
        "get" => show(&get_latest(e, P, &pos[0], num(&named, "now")).unwrap()),
        "at" => show(&get_at(e, P, &pos[0], num(&named, "ts")).unwrap()),
        "rev" => show(&get_revision(e, P, &pos[0], pos[1].parse().unwrap()).unwrap()),
        "scan" => {
            let bucket = pos.iter().any(|p| p == "bucket");
            let prefix = if bucket { format!("{}/", pos[0]) } else { pos.first().cloned().unwrap_or_default() };
            let plen = prefix.len();
            let filter = move |k: &str| !bucket || !k[plen..].contains('/');
            let window = Window {
                prefix: &prefix,
                start_after: named.get("after").map(String::as_str),
                limit: named.get("limit").map_or(100, |v| v.parse().unwrap()),
            };
            let page = scan(e, P, window, num(&named, "at"), num(&named, "now"), &filter).unwrap();
            let mut out = String::new();
            for (k, v) in &page.entries {
                let value = String::from_utf8_lossy(v.value.as_deref().unwrap());
                writeln!(out, "{k} rev={} value={value}", v.revision).unwrap();
            }
            write!(out, "more={}", page.more).unwrap();
            out
        }
        "purge" => {
            format!("purged={}", write(e, |st| purge_dead(st, heads, P, &pos[0], num(&named, "dead-before")).unwrap()))
        }
        "purge-old" => {
            format!(
                "purged={}",
                write(e, |st| purge_versions_before(st, heads, P, &pos[0], num(&named, "before")).unwrap())
            )
        }
        "dump" => {
            let (from, to) = crate::storage::keys::partition_range(P);
            let mut out = Vec::new();
            for item in e.scan(crate::storage::Cf::Data, &from, &to) {
                let (k, v) = item.unwrap();
                let (key, ts) = decode_version_key(P, &k).unwrap();
                let version = decode_record(ts, &v).unwrap();
                let count = version.count;
                let l = Lookup { found: true, version: Some(version) };
                out.push(format!("{key}: {} n={count}", show(&l).trim_start_matches("found=true ")));
            }
            if out.is_empty() { "<empty>".into() } else { out.join("\n") }
        }
        other => panic!("unknown command {other}"),
    }
}

/// Runs a script with a [`Heads`] cache of `capacity` (0: every write reads storage).
fn run_script(text: &str, capacity: usize) -> String {
    let e = MemoryEngine::new();
    let mut heads = Heads::new(capacity);
    let mut out = String::new();
    for line in text.lines() {
        if let Some(cmd) = line.strip_prefix("> ") {
            writeln!(out, "{line}").unwrap();
            writeln!(out, "{}", run(&e, &mut heads, cmd)).unwrap();
        } else if line.starts_with('#') || line.trim().is_empty() {
            writeln!(out, "{line}").unwrap();
        }
    }
    out
}

#[test]
fn golden_scripts() {
    // The crate directory at run time (cargo and nextest set it): a reused target directory
    // may hold a binary compiled in another checkout.
    let crate_dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| env!("CARGO_MANIFEST_DIR").into(), std::path::PathBuf::from);
    let dir = crate_dir.join("src/mvcc/testscripts");
    let mut paths: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    paths.sort();
    assert!(paths.len() >= 5, "scripts missing in {}", dir.display());
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut failures = Vec::new();
    for path in paths {
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with('#'), "{} must start with a comment saying what it proves", path.display());
        let actual = run_script(&text, 0);
        // The heads cache must not change a single answer: with room for one key (evicted by
        // every other key's write) and for all of them.
        for capacity in [1, 1024] {
            let cached = run_script(&text, capacity);
            if cached != actual {
                failures.push(format!("--- {} with {capacity} cached heads\n{cached}", path.display()));
            }
        }
        if update {
            std::fs::write(&path, &actual).unwrap();
        } else if actual != text {
            failures.push(format!("--- {}\n{actual}", path.display()));
        }
    }
    assert!(failures.is_empty(), "golden scripts differ (UPDATE_GOLDEN=1 rewrites):\n{}", failures.join("\n"));
}

#[test]
fn survey_finds_dead_keys_and_old_versions_in_stretches() {
    let e = MemoryEngine::new();
    let heads = &mut Heads::disabled();
    for line in [
        "set a 1 ts=10",
        "set a 2 ts=20",
        "set b 1 ts=11",
        "del b ts=12",
        "set c 1 ts=13 exp=15",
        "set d 1 ts=14",
        "del d ts=50",
    ] {
        run(&e, heads, line);
    }
    let s = survey(&e, P, None, 10, 30, Some(15)).unwrap();
    assert_eq!(s.dead, vec!["b".to_string(), "c".to_string()]);
    assert_eq!(s.with_old_versions, vec!["a".to_string(), "b".to_string(), "d".to_string()]);
    assert_eq!(s.next, None);
    let first = survey(&e, P, None, 2, 30, None).unwrap();
    assert_eq!(first.dead, vec!["b".to_string()]);
    assert_eq!(first.next.as_deref(), Some("b"));
    let rest = survey(&e, P, first.next.as_deref(), 2, 30, None).unwrap();
    assert_eq!(rest.dead, vec!["c".to_string()]);
    assert_eq!(rest.next, None, "c and d were the last keys");
    let last = survey(&e, P, Some("c"), 2, 30, None).unwrap();
    assert_eq!(last, Survey::default());
}

/// Regression: trimming a hot key's history looked for its oldest versions from the old end
/// of the key's range, where every version trimmed so far left a RocksDB deletion marker, so
/// each write crossed all of them (1 key, 1 client: 1,000 puts/s fell to 120 within 15 s).
/// RocksDB's perf context counts the markers a read skips; a write must not cross them.
#[test]
fn a_hot_keys_writes_do_not_cross_the_markers_trimming_left_behind() {
    use rocksdb::perf::{PerfContext, PerfMetric, PerfStatsLevel, set_perf_stats};

    let dir = tempfile::tempdir().unwrap();
    let engine = crate::storage::RocksEngine::open(dir.path(), &crate::storage::RocksOptions::default()).unwrap();
    let set_once = |ts: u64| {
        let mut st = Staged::new(&engine);
        let args = SetArgs { key: "hot", value: b"v", expires_at: 0, condition: &Condition::None, no_revision: false };
        // No heads: every write finds the oldest versions in storage, which is what this tests.
        let outcome = set(&mut st, &mut Heads::disabled(), 0, &args, ts, 16).unwrap();
        engine.write(st.into_batch()).unwrap();
        outcome
    };
    for ts in 1..=2_000 {
        set_once(ts);
    }
    set_perf_stats(PerfStatsLevel::EnableCount);
    let mut perf = PerfContext::default();
    perf.reset();
    let outcome = set_once(2_001);
    let skipped = perf.metric(PerfMetric::InternalDeleteSkippedCount);
    set_perf_stats(PerfStatsLevel::Disable);
    assert_eq!(outcome, WriteOutcome { applied: true, revision: 2_000 });
    assert!(skipped < 100, "one write crossed {skipped} deletion markers");
    let history = read::versions(&engine, 0, "hot").collect::<crate::storage::Result<Vec<_>>>().unwrap();
    assert_eq!(history.len(), 16, "retention keeps 16 versions");
    assert_eq!(history.first().map(|v| v.revision), Some(2_000));
    assert_eq!(history.last().map(|v| v.revision), Some(1_985));

    // Reading history (a revision that is no longer kept) stops at the oldest version too.
    set_perf_stats(PerfStatsLevel::EnableCount);
    perf.reset();
    let old = get_revision(&engine, 0, "hot", 3).unwrap();
    let skipped = perf.metric(PerfMetric::InternalDeleteSkippedCount);
    set_perf_stats(PerfStatsLevel::Disable);
    assert!(!old.found);
    assert!(skipped < 100, "reading history crossed {skipped} deletion markers");
}

/// A reader that counts the scans reaching it.
struct Counting<'a> {
    inner: &'a MemoryEngine,
    scans: std::cell::Cell<usize>,
}

impl Reader for Counting<'_> {
    fn get(&self, cf: crate::storage::Cf, key: &[u8]) -> crate::storage::Result<Option<Vec<u8>>> {
        self.inner.get(cf, key)
    }

    fn scan(&self, cf: crate::storage::Cf, from: &[u8], to: &[u8]) -> crate::storage::Scan<'_> {
        self.scans.set(self.scans.get() + 1);
        self.inner.scan(cf, from, to)
    }

    fn scan_rev(&self, cf: crate::storage::Cf, from: &[u8], to: &[u8]) -> crate::storage::Scan<'_> {
        self.scans.set(self.scans.get() + 1);
        self.inner.scan_rev(cf, from, to)
    }
}

/// The point of [`Heads`]: a write of a recently written key reads nothing from storage, also
/// when it trims history; a value condition still reads the stored value; a purge forgets.
#[test]
fn writes_of_cached_keys_read_nothing_from_storage() {
    let e = MemoryEngine::new();
    let counting = Counting { inner: &e, scans: std::cell::Cell::new(0) };
    let mut heads = Heads::new(16);
    let mut scans_of = |f: &mut dyn FnMut(&mut Staged<'_>, &mut Heads)| {
        let before = counting.scans.get();
        let mut st = Staged::new(&counting);
        f(&mut st, &mut heads);
        let batch = st.into_batch();
        e.write(batch).unwrap();
        counting.scans.get() - before
    };
    fn plain<'a>(value: &'a [u8], condition: &'a Condition) -> SetArgs<'a> {
        SetArgs { key: "k", value, expires_at: 0, condition, no_revision: false }
    }
    let first = |st: &mut Staged<'_>, h: &mut Heads| {
        assert!(set(st, h, P, &plain(b"v", &Condition::None), 1, 3).unwrap().applied)
    };
    assert_eq!(scans_of(&mut { first }), 1, "the first write reads storage");
    for ts in 2..=10 {
        let o = scans_of(&mut |st, h| {
            let condition = Condition::IfRevision(ts as i64 - 2);
            let o = set(st, h, P, &plain(b"v", &condition), ts, 3).unwrap();
            assert!(o.applied, "revision {} at ts {ts}", ts - 2);
        });
        assert_eq!(o, 0, "write at ts {ts} read storage");
    }
    let history = read::versions(&e, P, "k").collect::<crate::storage::Result<Vec<_>>>().unwrap();
    assert_eq!(history.iter().map(|v| v.ts).collect::<Vec<_>>(), vec![10, 9, 8], "retention 3, trimmed from cache");
    assert_eq!(history[0].count, 3);

    let by_value = Condition::IfValue(b"v".to_vec());
    assert_eq!(scans_of(&mut |st, h| assert!(set(st, h, P, &plain(b"w", &by_value), 11, 3).unwrap().applied)), 1);
    assert_eq!(scans_of(&mut |st, h| assert!(delete(st, h, P, "k", 12, 3).unwrap().applied)), 0);
    assert_eq!(scans_of(&mut |st, h| assert!(purge_dead(st, h, P, "k", 20).unwrap())), 1);
    // Purged: the key starts over at revision 0, read from storage again.
    assert_eq!(
        scans_of(&mut |st, h| assert_eq!(set(st, h, P, &plain(b"v", &Condition::None), 21, 3).unwrap().revision, 0)),
        1
    );
}

/// Random writes over a few keys, once through a tiny cache (constant evictions) and once
/// without: every answer and the stored data must be identical.
#[test]
fn random_writes_answer_the_same_with_and_without_heads() {
    use rand::{Rng, SeedableRng};

    for seed in 0..20u64 {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let (plain, cached) = (MemoryEngine::new(), MemoryEngine::new());
        let (mut off, mut on) = (Heads::disabled(), Heads::new(2));
        let keys = ["a", "b", "c", "d"];
        for ts in 1..400u64 {
            let key = keys[rng.random_range(0..keys.len())];
            let retention = rng.random_range(1..5);
            let line = match rng.random_range(0..10) {
                0..=3 => {
                    let cond = ["", " if=exists", " if=not-exists", " if=value:x", " if=rev:2"][rng.random_range(0..5)];
                    let norev = if rng.random_bool(0.2) { " norev" } else { "" };
                    let exp = if rng.random_bool(0.2) {
                        format!(" exp={}", ts + rng.random_range(1..20))
                    } else {
                        String::new()
                    };
                    let value = ["x", "y"][rng.random_range(0..2)];
                    format!("set {key} {value} ts={ts}{cond}{norev}{exp} keep={retention}")
                }
                4..=5 => format!("del {key} ts={ts}"),
                6 => format!("extend {key} exp={} ts={ts}", ts + rng.random_range(1..30)),
                7 => format!("purge {key} dead-before={}", ts.saturating_sub(rng.random_range(0..10))),
                8 => format!("purge-old {key} before={}", ts.saturating_sub(rng.random_range(0..40))),
                _ => format!("get {key} now={ts}"),
            };
            let expected = run(&plain, &mut off, &line);
            assert_eq!(run(&cached, &mut on, &line), expected, "seed {seed}: {line}");
        }
        assert_eq!(run(&cached, &mut on, "dump"), run(&plain, &mut off, "dump"), "seed {seed}");
    }
}

#[test]
fn a_record_is_encoded_into_a_buffer_of_its_own_size() {
    for (value, revision, expires_at) in
        [(None, 0, 0), (Some(vec![]), -1, 0), (Some(vec![7; 4096]), i64::MAX, u64::MAX), (Some(vec![1; 300]), 5, 9)]
    {
        let v = Version { ts: 42, revision, expires_at, value: value.clone(), count: u32::MAX };
        let bytes = encode_record(&v);
        // The Ephemeral store keeps the buffer as it is: no doubling slack.
        assert!(bytes.capacity() <= bytes.len() + RECORD_HEADER_MAX, "{} of {}", bytes.capacity(), bytes.len());
        // The borrowed form encodes exactly as the owned record decodes.
        let owned = postcard::to_allocvec(&Record { revision, expires_at, count: u32::MAX, value }).unwrap();
        assert_eq!(bytes, owned);
        let back = decode_record(42, &bytes).unwrap();
        assert_eq!(
            (back.revision, back.expires_at, back.value, back.count),
            (v.revision, v.expires_at, v.value, v.count)
        );
    }
}
