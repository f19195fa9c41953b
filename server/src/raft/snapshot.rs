//! Snapshot files: a partition's state machine key range, streamed to and from disk.
//!
//! ```text
//! "KAHUNASNAP\x01"  partition u32  last_ts u64
//! { 1u8  cf u8  key_len u32  key  value_len u32  value }*   every key of the partition in
//! 0u8  xxh3_64(all bytes before) u64                         Cf::Data, Cf::Locks, Cf::Txn
//! ```
//!
//! A snapshot is read from one consistent engine snapshot, written to a temporary file, fsynced
//! and renamed, so a file under its final name is always complete. Installing verifies the
//! checksum before it touches the engine, then replaces the partition's range in one batch.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::Path;

use xxhash_rust::xxh3::Xxh3;

use crate::storage::{Cf, Reader, WriteBatch, keys};

const MAGIC: &[u8; 11] = b"KAHUNASNAP\x01";

/// Why a snapshot could not be written or read.
pub type SnapshotResult<T> = Result<T, String>;

struct HashingWriter<W: Write> {
    inner: W,
    hash: Xxh3,
}

impl<W: Write> HashingWriter<W> {
    fn put(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.hash.update(bytes);
        self.inner.write_all(bytes)
    }
}

fn cf_tag(cf: Cf) -> u8 {
    Cf::ALL.iter().position(|c| *c == cf).expect("known cf") as u8
}

/// Writes the state machine range of `partition`, as seen by `reader`, to `path`.
pub fn write(reader: &dyn Reader, partition: u32, last_ts: u64, path: &Path) -> SnapshotResult<u64> {
    let tmp = path.with_extension("tmp");
    let io = |e: std::io::Error| format!("writing snapshot {}: {e}", tmp.display());
    let file = File::create(&tmp).map_err(io)?;
    let mut w = HashingWriter { inner: BufWriter::with_capacity(1 << 20, file), hash: Xxh3::new() };
    w.put(MAGIC).map_err(io)?;
    w.put(&partition.to_be_bytes()).map_err(io)?;
    w.put(&last_ts.to_be_bytes()).map_err(io)?;
    let (from, to) = keys::partition_range(partition);
    let mut count = 0u64;
    for cf in Cf::STATE_MACHINE {
        for item in reader.scan(cf, &from, &to) {
            let (k, v) = item.map_err(|e| e.to_string())?;
            w.put(&[1, cf_tag(cf)]).map_err(io)?;
            w.put(&(k.len() as u32).to_be_bytes()).map_err(io)?;
            w.put(&k).map_err(io)?;
            w.put(&(v.len() as u32).to_be_bytes()).map_err(io)?;
            w.put(&v).map_err(io)?;
            count += 1;
        }
    }
    let digest = w.hash.digest();
    let mut inner = w.inner;
    inner.write_all(&[0]).map_err(io)?;
    inner.write_all(&digest.to_be_bytes()).map_err(io)?;
    let file = inner.into_inner().map_err(|e| io(e.into_error()))?;
    file.sync_all().map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)?;
    Ok(count)
}

struct HashingReader<R: Read> {
    inner: R,
    hash: Xxh3,
}

impl<R: Read> HashingReader<R> {
    fn take<const N: usize>(&mut self) -> std::io::Result<[u8; N]> {
        let mut buf = [0u8; N];
        self.inner.read_exact(&mut buf)?;
        self.hash.update(&buf);
        Ok(buf)
    }

    fn take_vec(&mut self, len: usize) -> std::io::Result<Vec<u8>> {
        let mut buf = vec![0u8; len];
        self.inner.read_exact(&mut buf)?;
        self.hash.update(&buf);
        Ok(buf)
    }
}

/// A decoded snapshot: the batch that replaces the partition's range, and its clock.
#[derive(Debug)]
pub struct Loaded {
    /// Deletes the partition's state machine range, then writes every snapshot key.
    pub batch: WriteBatch,
    /// The partition's last commit timestamp at the snapshot.
    pub last_ts: u64,
}

/// Reads and verifies the snapshot at `path` for `partition`.
pub fn read(path: &Path, partition: u32) -> SnapshotResult<Loaded> {
    let io = |e: std::io::Error| format!("reading snapshot {}: {e}", path.display());
    let file = File::open(path).map_err(io)?;
    let mut r = HashingReader { inner: BufReader::with_capacity(1 << 20, file), hash: Xxh3::new() };
    if &r.take::<11>().map_err(io)? != MAGIC {
        return Err(format!("{} is not a Kahuna snapshot", path.display()));
    }
    let p = u32::from_be_bytes(r.take::<4>().map_err(io)?);
    if p != partition {
        return Err(format!("snapshot {} is of partition {p}, not {partition}", path.display()));
    }
    let last_ts = u64::from_be_bytes(r.take::<8>().map_err(io)?);
    let (from, to) = keys::partition_range(partition);
    let mut batch = WriteBatch::new();
    for cf in Cf::STATE_MACHINE {
        batch.delete_range(cf, from.clone(), to.clone());
    }
    loop {
        let mut tag = [0u8; 1];
        r.inner.read_exact(&mut tag).map_err(io)?;
        match tag[0] {
            0 => break,
            1 => r.hash.update(&tag),
            t => return Err(format!("snapshot {}: bad record tag {t}", path.display())),
        }
        let cf = *Cf::ALL
            .get(r.take::<1>().map_err(io)?[0] as usize)
            .ok_or_else(|| format!("snapshot {}: bad column family", path.display()))?;
        let klen = u32::from_be_bytes(r.take::<4>().map_err(io)?) as usize;
        let key = r.take_vec(klen).map_err(io)?;
        let vlen = u32::from_be_bytes(r.take::<4>().map_err(io)?) as usize;
        let value = r.take_vec(vlen).map_err(io)?;
        if !key.starts_with(&from) {
            return Err(format!("snapshot {}: key outside partition {partition}", path.display()));
        }
        batch.put(cf, key, value);
    }
    let expected = r.hash.digest();
    let mut stored = [0u8; 8];
    r.inner.read_exact(&mut stored).map_err(io)?;
    if u64::from_be_bytes(stored) != expected {
        return Err(format!("snapshot {}: checksum mismatch", path.display()));
    }
    Ok(Loaded { batch, last_ts })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::{Engine, MemoryEngine};

    #[test]
    fn round_trips_only_the_partition_and_detects_damage() {
        let e = MemoryEngine::new();
        let mut b = WriteBatch::new();
        b.put(Cf::Data, keys::prefixed(2, b"a"), b"1".to_vec());
        b.put(Cf::Locks, keys::prefixed(2, b"l"), b"2".to_vec());
        b.put(Cf::Data, keys::prefixed(3, b"other"), b"x".to_vec());
        b.put(Cf::Log, keys::prefixed(2, b"log"), b"not in snapshots".to_vec());
        e.write(b).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.snap");
        assert_eq!(write(&e, 2, 99, &path).unwrap(), 2);

        let target = MemoryEngine::new();
        let mut stale = WriteBatch::new();
        stale.put(Cf::Data, keys::prefixed(2, b"stale"), b"gone".to_vec());
        stale.put(Cf::Data, keys::prefixed(3, b"kept"), b"y".to_vec());
        target.write(stale).unwrap();
        let loaded = read(&path, 2).unwrap();
        assert_eq!(loaded.last_ts, 99);
        target.write(loaded.batch).unwrap();
        assert_eq!(target.get(Cf::Data, &keys::prefixed(2, b"a")).unwrap(), Some(b"1".to_vec()));
        assert_eq!(target.get(Cf::Locks, &keys::prefixed(2, b"l")).unwrap(), Some(b"2".to_vec()));
        assert_eq!(target.get(Cf::Data, &keys::prefixed(2, b"stale")).unwrap(), None);
        assert_eq!(target.get(Cf::Data, &keys::prefixed(3, b"kept")).unwrap(), Some(b"y".to_vec()));

        assert!(read(&path, 3).unwrap_err().contains("partition 2"));
        let mut bytes = std::fs::read(&path).unwrap();
        let n = bytes.len();
        bytes[n - 12] ^= 0xff;
        std::fs::write(&path, &bytes).unwrap();
        assert!(read(&path, 2).is_err());
        std::fs::write(&path, &bytes[..20]).unwrap();
        assert!(read(&path, 2).is_err());
    }
}
