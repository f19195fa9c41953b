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
    assert_eq!(e.get(Cf::Data, b"c").unwrap(), Some(b"again".to_vec()));
}
