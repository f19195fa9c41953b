//! An in-memory engine: ordered maps behind a lock. Used by tests and by the Ephemeral
//! keyspace, which lives only in a partition leader's memory.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;

use parking_lot::RwLock;

use super::{Cf, Engine, KeyValue, Op, Reader, Result, Scan, WriteBatch};

type Tree = BTreeMap<Vec<u8>, Vec<u8>>;

/// How many pairs a scan copies out of the map per lock acquisition.
const CHUNK: usize = 128;

/// An engine whose data lives in memory and vanishes with it.
#[derive(Clone, Default)]
pub struct MemoryEngine {
    trees: Arc<RwLock<BTreeMap<Cf, Tree>>>,
}

impl MemoryEngine {
    /// An empty engine.
    pub fn new() -> Self {
        Self::default()
    }

    /// Removes every key.
    pub fn clear(&self) {
        self.trees.write().clear();
    }

    /// Number of keys in `cf`.
    pub fn len(&self, cf: Cf) -> usize {
        self.trees.read().get(&cf).map_or(0, |t| t.len())
    }

    /// True when `cf` holds no key.
    pub fn is_empty(&self, cf: Cf) -> bool {
        self.len(cf) == 0
    }
}

/// A scan that copies chunks of the range under the read lock and resumes after the last key.
struct ChunkedScan<'a> {
    trees: &'a RwLock<BTreeMap<Cf, Tree>>,
    cf: Cf,
    lower: Bound<Vec<u8>>,
    upper: Bound<Vec<u8>>,
    reverse: bool,
    buffer: std::vec::IntoIter<KeyValue>,
    exhausted: bool,
}

impl ChunkedScan<'_> {
    fn refill(&mut self) {
        let trees = self.trees.read();
        let chunk: Vec<KeyValue> = match trees.get(&self.cf) {
            None => Vec::new(),
            Some(tree) => {
                let range = tree.range((self.lower.clone(), self.upper.clone()));
                if self.reverse {
                    range.rev().take(CHUNK).map(|(k, v)| (k.clone(), v.clone())).collect()
                } else {
                    range.take(CHUNK).map(|(k, v)| (k.clone(), v.clone())).collect()
                }
            }
        };
        if chunk.len() < CHUNK {
            self.exhausted = true;
        }
        if let Some((last, _)) = chunk.last() {
            if self.reverse {
                self.upper = Bound::Excluded(last.clone());
            } else {
                self.lower = Bound::Excluded(last.clone());
            }
        }
        self.buffer = chunk.into_iter();
    }
}

impl Iterator for ChunkedScan<'_> {
    type Item = Result<KeyValue>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(kv) = self.buffer.next() {
                return Some(Ok(kv));
            }
            if self.exhausted {
                return None;
            }
            self.refill();
        }
    }
}

impl MemoryEngine {
    fn chunked(&self, cf: Cf, from: &[u8], to: &[u8], reverse: bool) -> Scan<'_> {
        if from >= to {
            return Box::new(std::iter::empty());
        }
        Box::new(ChunkedScan {
            trees: &self.trees,
            cf,
            lower: Bound::Included(from.to_vec()),
            upper: Bound::Excluded(to.to_vec()),
            reverse,
            buffer: Vec::new().into_iter(),
            exhausted: false,
        })
    }
}

impl Reader for MemoryEngine {
    fn get(&self, cf: Cf, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self.trees.read().get(&cf).and_then(|t| t.get(key).cloned()))
    }

    fn scan(&self, cf: Cf, from: &[u8], to: &[u8]) -> Scan<'_> {
        self.chunked(cf, from, to, false)
    }

    fn scan_rev(&self, cf: Cf, from: &[u8], to: &[u8]) -> Scan<'_> {
        self.chunked(cf, from, to, true)
    }
}

impl Engine for MemoryEngine {
    fn write(&self, batch: WriteBatch) -> Result<()> {
        let mut trees = self.trees.write();
        for op in batch.into_ops() {
            match op {
                Op::Put(cf, k, v) => {
                    trees.entry(cf).or_default().insert(k, v);
                }
                Op::Delete(cf, k) => {
                    if let Some(t) = trees.get_mut(&cf) {
                        t.remove(&k);
                    }
                }
                Op::DeleteRange(cf, from, to) => {
                    if let Some(t) = trees.get_mut(&cf)
                        && from < to
                    {
                        let doomed: Vec<Vec<u8>> = t.range(from..to).map(|(k, _)| k.clone()).collect();
                        for k in doomed {
                            t.remove(&k);
                        }
                    }
                }
            }
        }
        Ok(())
    }

    fn sync(&self) -> Result<()> {
        Ok(())
    }

    fn snapshot(&self) -> Box<dyn Reader + '_> {
        Box::new(MemoryEngine { trees: Arc::new(RwLock::new(self.trees.read().clone())) })
    }
}
