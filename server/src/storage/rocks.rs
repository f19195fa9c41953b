//! The RocksDB engine: one database per node, one column family per [`Cf`].

use std::path::Path;

use rocksdb::{
    BlockBasedOptions, Cache, ColumnFamilyDescriptor, DB, DBCompressionType, DBRawIteratorWithThreadMode, FlushOptions,
    Options, ReadOptions, SnapshotWithThreadMode, WriteOptions,
};

use super::{Cf, Engine, Error, KeyValue, Reader, Result, Scan, WriteBatch};

/// Tuning knobs for [`RocksEngine::open`].
#[derive(Clone, Debug)]
pub struct RocksOptions {
    /// Shared block cache, in bytes.
    pub block_cache_bytes: usize,
    /// Budget for all memtables together, in bytes.
    pub write_buffer_bytes: usize,
}

impl Default for RocksOptions {
    fn default() -> Self {
        Self { block_cache_bytes: 64 << 20, write_buffer_bytes: 64 << 20 }
    }
}

/// A RocksDB database holding every partition of a node.
pub struct RocksEngine {
    db: DB,
    unlogged: WriteOptions,
}

impl RocksEngine {
    /// Opens (creating if missing) the database in `dir`.
    pub fn open(dir: &Path, options: &RocksOptions) -> Result<Self> {
        let cache = Cache::new_lru_cache(options.block_cache_bytes);
        let mut db_opts = Options::default();
        db_opts.create_if_missing(true);
        db_opts.create_missing_column_families(true);
        db_opts.set_max_background_jobs(2);
        db_opts.set_db_write_buffer_size(options.write_buffer_bytes);
        db_opts.set_max_total_wal_size(256 << 20);
        db_opts.set_keep_log_file_num(4);
        db_opts.set_max_log_file_size(16 << 20);
        // Writers must not spin waiting for each other: cores are few and shared.
        db_opts.set_enable_write_thread_adaptive_yield(false);
        // Unlogged writes (the state machines') exist only in memory tables until a flush.
        // Flushing every column family together keeps what survives a crash consistent: the
        // applied log id (Cf::State) never gets ahead of the data it describes (Cf::Data).
        db_opts.set_atomic_flush(true);
        let descriptors = Cf::ALL.iter().map(|cf| {
            let mut table = BlockBasedOptions::default();
            table.set_block_cache(&cache);
            table.set_bloom_filter(10.0, false);
            let mut o = Options::default();
            o.set_block_based_table_factory(&table);
            o.set_compression_type(match cf {
                Cf::Log | Cf::Raft | Cf::State => DBCompressionType::None,
                _ => DBCompressionType::Lz4,
            });
            o.set_write_buffer_size(match cf {
                Cf::Log | Cf::Data => 32 << 20,
                _ => 4 << 20,
            });
            ColumnFamilyDescriptor::new(cf.name(), o)
        });
        let db = DB::open_cf_descriptors(&db_opts, dir, descriptors)
            .map_err(|e| Error::Engine(format!("cannot open RocksDB in {}: {e}", dir.display())))?;
        let mut unlogged = WriteOptions::default();
        unlogged.disable_wal(true);
        Ok(Self { db, unlogged })
    }

    fn cf(&self, cf: Cf) -> &rocksdb::ColumnFamily {
        self.db.cf_handle(cf.name()).expect("every column family is created at open")
    }
}

fn engine_err(e: rocksdb::Error) -> Error {
    Error::Engine(e.into_string())
}

fn bounded(from: &[u8], to: &[u8]) -> ReadOptions {
    let mut o = ReadOptions::default();
    o.set_iterate_lower_bound(from.to_vec());
    o.set_iterate_upper_bound(to.to_vec());
    o
}

/// Adapts a RocksDB raw iterator to the [`Scan`] item stream.
struct RawScan<'a, D: rocksdb::DBAccess> {
    it: DBRawIteratorWithThreadMode<'a, D>,
    reverse: bool,
    started: bool,
    done: bool,
}

impl<'a, D: rocksdb::DBAccess> RawScan<'a, D> {
    fn new(it: DBRawIteratorWithThreadMode<'a, D>, reverse: bool) -> Self {
        Self { it, reverse, started: false, done: false }
    }
}

impl<D: rocksdb::DBAccess> Iterator for RawScan<'_, D> {
    type Item = Result<KeyValue>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match (self.started, self.reverse) {
            (false, false) => self.it.seek_to_first(),
            (false, true) => self.it.seek_to_last(),
            (true, false) => self.it.next(),
            (true, true) => self.it.prev(),
        }
        self.started = true;
        match self.it.item() {
            Some((k, v)) => Some(Ok((k.to_vec(), v.to_vec()))),
            None => {
                self.done = true;
                self.it.status().err().map(|e| Err(engine_err(e)))
            }
        }
    }
}

impl Reader for RocksEngine {
    fn get(&self, cf: Cf, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.db.get_pinned_cf(self.cf(cf), key).map(|v| v.map(|v| v.to_vec())).map_err(engine_err)
    }

    fn scan(&self, cf: Cf, from: &[u8], to: &[u8]) -> Scan<'_> {
        Box::new(RawScan::new(self.db.raw_iterator_cf_opt(self.cf(cf), bounded(from, to)), false))
    }

    fn scan_rev(&self, cf: Cf, from: &[u8], to: &[u8]) -> Scan<'_> {
        Box::new(RawScan::new(self.db.raw_iterator_cf_opt(self.cf(cf), bounded(from, to)), true))
    }
}

impl RocksEngine {
    fn batch(&self, batch: WriteBatch) -> rocksdb::WriteBatch {
        let mut wb = rocksdb::WriteBatch::default();
        for op in batch.into_ops() {
            match op {
                super::Op::Put(cf, k, v) => wb.put_cf(self.cf(cf), k, v),
                super::Op::Delete(cf, k) => wb.delete_cf(self.cf(cf), k),
                super::Op::DeleteRange(cf, from, to) => wb.delete_range_cf(self.cf(cf), from, to),
            }
        }
        wb
    }
}

impl Engine for RocksEngine {
    fn write(&self, batch: WriteBatch) -> Result<()> {
        self.db.write(self.batch(batch)).map_err(engine_err)
    }

    fn sync(&self) -> Result<()> {
        self.db.flush_wal(true).map_err(engine_err)
    }

    fn write_unlogged(&self, batch: WriteBatch) -> Result<()> {
        self.db.write_opt(self.batch(batch), &self.unlogged).map_err(engine_err)
    }

    fn persist(&self) -> Result<()> {
        self.sync()?;
        let mut wait = FlushOptions::default();
        wait.set_wait(true);
        let cfs: Vec<_> = Cf::ALL.iter().map(|&cf| self.cf(cf)).collect();
        self.db.flush_cfs_opt(&cfs, &wait).map_err(engine_err)
    }

    fn snapshot(&self) -> Box<dyn Reader + '_> {
        Box::new(RocksSnapshot { engine: self, snap: self.db.snapshot() })
    }

    fn close(&self) -> Result<()> {
        // A restart then finds every partition applied as far as it got, with nothing to redo.
        self.persist()?;
        // Flush and compaction threads must not outlive the process's static destructors.
        self.db.cancel_all_background_work(true);
        Ok(())
    }
}

struct RocksSnapshot<'a> {
    engine: &'a RocksEngine,
    snap: SnapshotWithThreadMode<'a, DB>,
}

impl Reader for RocksSnapshot<'_> {
    fn get(&self, cf: Cf, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.snap.get_pinned_cf(self.engine.cf(cf), key).map(|v| v.map(|v| v.to_vec())).map_err(engine_err)
    }

    fn scan(&self, cf: Cf, from: &[u8], to: &[u8]) -> Scan<'_> {
        let it = self.snap.raw_iterator_cf_opt(self.engine.cf(cf), bounded(from, to));
        Box::new(RawScan::new(it, false))
    }

    fn scan_rev(&self, cf: Cf, from: &[u8], to: &[u8]) -> Scan<'_> {
        let it = self.snap.raw_iterator_cf_opt(self.engine.cf(cf), bounded(from, to));
        Box::new(RawScan::new(it, true))
    }
}
