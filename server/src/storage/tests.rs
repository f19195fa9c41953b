//! The conformance suite every [`Engine`] passes.

use super::*;

fn suite(e: &dyn Engine) {
    // Point reads and atomic batches.
    assert_eq!(e.get(Cf::Data, b"a").unwrap(), None);
    let mut b = WriteBatch::new();
    b.put(Cf::Data, b"a".to_vec(), b"1".to_vec());
    b.put(Cf::Data, b"b".to_vec(), b"2".to_vec());
    b.put(Cf::Data, b"c".to_vec(), b"3".to_vec());
    b.put(Cf::Log, b"a".to_vec(), b"log".to_vec());
    e.write(b).unwrap();
    assert_eq!(e.get(Cf::Data, b"a").unwrap(), Some(b"1".to_vec()));
    assert_eq!(e.get(Cf::Log, b"a").unwrap(), Some(b"log".to_vec()));
    assert_eq!(e.get(Cf::Raft, b"a").unwrap(), None, "column families are separate");

    // Bounded scans in both directions.
    let keys = |s: Scan<'_>| s.map(|r| r.unwrap().0).collect::<Vec<_>>();
    assert_eq!(keys(e.scan(Cf::Data, b"a", b"c")), vec![b"a".to_vec(), b"b".to_vec()]);
    assert_eq!(keys(e.scan_rev(Cf::Data, b"a", b"z")), vec![b"c".to_vec(), b"b".to_vec(), b"a".to_vec()]);
    assert!(keys(e.scan(Cf::Data, b"x", b"z")).is_empty());

    // A snapshot does not see later writes.
    let snap = e.snapshot();
    let mut b = WriteBatch::new();
    b.delete(Cf::Data, b"a".to_vec());
    b.put(Cf::Data, b"d".to_vec(), b"4".to_vec());
    e.write(b).unwrap();
    assert_eq!(snap.get(Cf::Data, b"a").unwrap(), Some(b"1".to_vec()));
    assert_eq!(snap.get(Cf::Data, b"d").unwrap(), None);
    assert_eq!(keys(snap.scan(Cf::Data, b"a", b"z")).len(), 3);
    drop(snap);
    assert_eq!(e.get(Cf::Data, b"a").unwrap(), None);

    // Range deletes, and writes in a batch apply in order.
    let mut b = WriteBatch::new();
    b.delete_range(Cf::Data, b"b".to_vec(), b"d".to_vec());
    b.put(Cf::Data, b"c".to_vec(), b"again".to_vec());
    e.write(b).unwrap();
    assert_eq!(keys(e.scan(Cf::Data, b"", b"\xff")), vec![b"c".to_vec(), b"d".to_vec()]);
    e.sync().unwrap();

    // Scans longer than one internal chunk.
    let mut b = WriteBatch::new();
    for i in 0..1000u32 {
        b.put(Cf::Locks, i.to_be_bytes().to_vec(), vec![1]);
    }
    e.write(b).unwrap();
    let all = keys(e.scan(Cf::Locks, &[0; 4], &[0xff; 4]));
    assert_eq!(all.len(), 1000);
    assert!(all.windows(2).all(|w| w[0] < w[1]));
    let rev = keys(e.scan_rev(Cf::Locks, &[0; 4], &[0xff; 4]));
    assert_eq!(rev.len(), 1000);
    assert!(rev.windows(2).all(|w| w[0] > w[1]));

    // Unlogged writes read like any other, in order with logged ones.
    let mut b = WriteBatch::new();
    b.put(Cf::Data, b"u".to_vec(), b"unlogged".to_vec());
    b.delete(Cf::Data, b"c".to_vec());
    e.write_unlogged(b).unwrap();
    let mut b = WriteBatch::new();
    b.put(Cf::Data, b"u".to_vec(), b"logged".to_vec());
    e.write(b).unwrap();
    assert_eq!(e.get(Cf::Data, b"u").unwrap(), Some(b"logged".to_vec()));
    assert_eq!(e.get(Cf::Data, b"c").unwrap(), None);
    e.persist().unwrap();
    assert_eq!(keys(e.scan(Cf::Data, b"", b"\xff")), vec![b"d".to_vec(), b"u".to_vec()]);
}

#[test]
fn memory_engine_conforms() {
    suite(&MemoryEngine::new());
}

#[test]
fn rocks_engine_conforms_and_persists() {
    let dir = tempfile::tempdir().unwrap();
    {
        let e = RocksEngine::open(dir.path(), &rocks::RocksOptions::default()).unwrap();
        suite(&e);
    }
    let e = RocksEngine::open(dir.path(), &rocks::RocksOptions::default()).unwrap();
    assert_eq!(e.get(Cf::Data, b"u").unwrap(), Some(b"logged".to_vec()));
    assert_eq!(e.get(Cf::Data, b"c").unwrap(), None);
}

const CRASH_DIR: &str = "KAHUNA_TEST_CRASH_DIR";
const CRASH_TEST: &str = "storage::tests::a_crash_keeps_logged_synced_and_persisted_writes_only";

fn put(cf: Cf, key: &[u8], value: &[u8]) -> WriteBatch {
    let mut b = WriteBatch::new();
    b.put(cf, key.to_vec(), value.to_vec());
    b
}

/// The child half of the crash test: writes, then dies without closing the database.
fn write_and_crash(dir: &str) -> ! {
    let e = RocksEngine::open(std::path::Path::new(dir), &rocks::RocksOptions::default()).unwrap();
    e.write(put(Cf::Log, b"logged", b"1")).unwrap();
    let mut b = put(Cf::Data, b"persisted", b"2");
    b.put(Cf::State, b"applied".to_vec(), b"2".to_vec());
    e.write_unlogged(b).unwrap();
    e.persist().unwrap();
    let mut b = put(Cf::Data, b"unpersisted", b"3");
    b.put(Cf::State, b"applied".to_vec(), b"3".to_vec());
    e.write_unlogged(b).unwrap();
    e.write(put(Cf::Log, b"synced", b"4")).unwrap();
    e.sync().unwrap();
    std::process::abort();
}

/// What survives a process crash: logged writes once synced, unlogged ones once persisted, and
/// for the unlogged ones nothing later than what is lost (the applied id never gets ahead of
/// its data). The test binary runs itself as the child that crashes.
#[test]
fn a_crash_keeps_logged_synced_and_persisted_writes_only() {
    if let Ok(dir) = std::env::var(CRASH_DIR) {
        write_and_crash(&dir);
    }
    let dir = tempfile::tempdir().unwrap();
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", CRASH_TEST, "--nocapture", "--test-threads", "1"])
        .env(CRASH_DIR, dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(!status.success(), "the child must die by abort, not finish: {status}");

    let e = RocksEngine::open(dir.path(), &rocks::RocksOptions::default()).unwrap();
    assert_eq!(e.get(Cf::Log, b"logged").unwrap(), Some(b"1".to_vec()), "synced by the later sync");
    assert_eq!(e.get(Cf::Log, b"synced").unwrap(), Some(b"4".to_vec()));
    assert_eq!(e.get(Cf::Data, b"persisted").unwrap(), Some(b"2".to_vec()));
    // The crash is real: the unlogged write after the last persist is gone, with its applied id.
    assert_eq!(e.get(Cf::Data, b"unpersisted").unwrap(), None);
    assert_eq!(e.get(Cf::State, b"applied").unwrap(), Some(b"2".to_vec()));
}
