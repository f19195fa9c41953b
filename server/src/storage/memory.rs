//! An in-memory engine: ordered maps behind a lock. Used by tests and by the Ephemeral
//! keyspace, which lives only in a partition leader's memory.
//!
//! Every engine counts the bytes it holds ([`MemoryEngine::bytes`]: keys and values rounded up
//! to the allocator's size classes, plus a fixed [`ENTRY_OVERHEAD`] per pair) and charges them to an optional [`Budget`] shared with other
//! engines, so that a node can cap all of its Ephemeral stores together
//! ([`MemoryEngine::write_capped`]).

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use parking_lot::RwLock;

use super::{Cf, Engine, KeyValue, Op, Reader, Result, Scan, WriteBatch};

type Tree = BTreeMap<Vec<u8>, Vec<u8>>;

/// How many pairs a scan copies out of the map per lock acquisition.
const CHUNK: usize = 128;

/// Bytes counted per stored pair on top of its key's and value's allocations: the two `Vec`
/// headers in the B-tree node and the node's share of slack. With it the count tracks RSS
/// within a few percent (measured in docs/operations.md, "Memory").
pub const ENTRY_OVERHEAD: u64 = 112;

/// What one pair costs in a [`Budget`].
fn cost(key: &[u8], value: &[u8]) -> i64 {
    cost_of_lengths(key.len(), value.len())
}

fn cost_of_lengths(key: usize, value: usize) -> i64 {
    (allocated(key) + allocated(value)) as i64 + ENTRY_OVERHEAD as i64
}

/// The bytes an allocation of `n` bytes takes: `n` rounded up to the allocator's size class.
/// Classes are 16 bytes apart up to 128 bytes, then four per doubling (mimalloc's spacing, and
/// close to glibc's effective cost), so an estimate rounds up by at most a quarter.
fn allocated(n: usize) -> usize {
    if n == 0 {
        return 0;
    }
    if n <= 128 {
        return n.next_multiple_of(16);
    }
    let step = (1usize << (usize::BITS - 1 - n.leading_zeros())) / 4;
    n.next_multiple_of(step)
}

/// A byte budget shared by several engines: what they hold together, and the cap
/// [`MemoryEngine::write_capped`] enforces (0 = none).
#[derive(Debug, Default)]
pub struct Budget {
    used: AtomicI64,
    cap: u64,
}

impl Budget {
    /// A budget of `cap` bytes (0 = no cap).
    pub fn new(cap: u64) -> Budget {
        Budget { used: AtomicI64::new(0), cap }
    }

    /// Bytes the engines charged to this budget hold now.
    pub fn used(&self) -> u64 {
        self.used.load(Ordering::Relaxed).max(0) as u64
    }

    /// The cap, bytes (0 = none).
    pub fn cap(&self) -> u64 {
        self.cap
    }

    fn charge(&self, delta: i64) -> i64 {
        self.used.fetch_add(delta, Ordering::Relaxed) + delta
    }
}

/// A write refused by [`MemoryEngine::write_capped`]: it would have taken the budget past its cap.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OverBudget {
    /// Bytes held before the write.
    pub used: u64,
    /// Bytes the write would have added.
    pub needed: u64,
    /// The cap.
    pub cap: u64,
}

#[derive(Default)]
struct Trees {
    cfs: BTreeMap<Cf, Tree>,
    /// What the pairs of every tree cost together.
    bytes: i64,
}

/// The previous state of one pair, to undo a refused write.
type Undo = (Cf, Vec<u8>, Option<Vec<u8>>);

impl Trees {
    /// Applies `op`, returning the change in bytes; records what it replaced in `undo` if given.
    fn apply(&mut self, op: Op, mut undo: Option<&mut Vec<Undo>>) -> i64 {
        let mut delta = 0;
        match op {
            Op::Put(cf, k, v) => {
                delta += cost(&k, &v);
                let key_len = k.len();
                let undo_key = undo.is_some().then(|| k.clone());
                let old = self.cfs.entry(cf).or_default().insert(k, v);
                if let Some(old) = &old {
                    delta -= cost_of_lengths(key_len, old.len());
                }
                if let (Some(undo), Some(k)) = (undo.as_deref_mut(), undo_key) {
                    undo.push((cf, k, old));
                }
            }
            Op::Delete(cf, k) => {
                if let Some(old) = self.cfs.get_mut(&cf).and_then(|t| t.remove(&k)) {
                    delta -= cost(&k, &old);
                    if let Some(undo) = undo.as_deref_mut() {
                        undo.push((cf, k, Some(old)));
                    }
                }
            }
            Op::DeleteRange(cf, from, to) => {
                if let Some(t) = self.cfs.get_mut(&cf)
                    && from < to
                {
                    let doomed: Vec<Vec<u8>> = t.range(from..to).map(|(k, _)| k.clone()).collect();
                    for k in doomed {
                        if let Some(old) = t.remove(&k) {
                            delta -= cost(&k, &old);
                            if let Some(undo) = undo.as_deref_mut() {
                                undo.push((cf, k, Some(old)));
                            }
                        }
                    }
                }
            }
        }
        self.bytes += delta;
        delta
    }

    /// Puts back what `undo` recorded, newest first.
    fn revert(&mut self, undo: Vec<Undo>) {
        for (cf, k, old) in undo.into_iter().rev() {
            let tree = self.cfs.entry(cf).or_default();
            if let Some(now) = tree.remove(&k) {
                self.bytes -= cost(&k, &now);
            }
            if let Some(old) = old {
                self.bytes += cost(&k, &old);
                tree.insert(k, old);
            }
        }
    }
}

/// An engine whose data lives in memory and vanishes with it.
#[derive(Clone, Default)]
pub struct MemoryEngine {
    trees: Arc<RwLock<Trees>>,
    budget: Option<Arc<Budget>>,
}

impl MemoryEngine {
    /// An empty engine.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty engine that charges what it holds to `budget`.
    pub fn with_budget(budget: Arc<Budget>) -> Self {
        MemoryEngine { trees: Arc::default(), budget: Some(budget) }
    }

    /// Removes every key.
    pub fn clear(&self) {
        let mut trees = self.trees.write();
        trees.cfs.clear();
        let freed = std::mem::take(&mut trees.bytes);
        if let Some(budget) = &self.budget {
            budget.charge(-freed);
        }
    }

    /// What the stored pairs cost: their allocations and [`ENTRY_OVERHEAD`] per pair.
    pub fn bytes(&self) -> u64 {
        self.trees.read().bytes.max(0) as u64
    }

    /// Applies `batch` unless it adds bytes and would take the budget past its cap; a refused
    /// write leaves the engine as it was. Writes that free bytes (or add none) always pass, so
    /// a full store can still be shrunk. Without a budget, or with cap 0, it is [`Engine::write`].
    pub fn write_capped(&self, batch: WriteBatch) -> std::result::Result<(), OverBudget> {
        let Some(budget) = self.budget.as_ref().filter(|b| b.cap > 0) else {
            self.apply(batch);
            return Ok(());
        };
        let mut trees = self.trees.write();
        let mut undo = Vec::new();
        let delta: i64 = batch.into_ops().into_iter().map(|op| trees.apply(op, Some(&mut undo))).sum();
        let after = budget.charge(delta);
        if delta > 0 && after > budget.cap as i64 {
            budget.charge(-delta);
            trees.revert(undo);
            return Err(OverBudget { used: (after - delta).max(0) as u64, needed: delta as u64, cap: budget.cap });
        }
        Ok(())
    }

    fn apply(&self, batch: WriteBatch) {
        let mut trees = self.trees.write();
        let delta: i64 = batch.into_ops().into_iter().map(|op| trees.apply(op, None)).sum();
        if let Some(budget) = &self.budget {
            budget.charge(delta);
        }
    }

    /// Number of keys in `cf`.
    pub fn len(&self, cf: Cf) -> usize {
        self.trees.read().cfs.get(&cf).map_or(0, |t| t.len())
    }

    /// True when `cf` holds no key.
    pub fn is_empty(&self, cf: Cf) -> bool {
        self.len(cf) == 0
    }
}

/// A scan that copies chunks of the range under the read lock and resumes after the last key.
struct ChunkedScan<'a> {
    trees: &'a RwLock<Trees>,
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
        let chunk: Vec<KeyValue> = match trees.cfs.get(&self.cf) {
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
        Ok(self.trees.read().cfs.get(&cf).and_then(|t| t.get(key).cloned()))
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
        self.apply(batch);
        Ok(())
    }

    fn sync(&self) -> Result<()> {
        Ok(())
    }

    fn snapshot(&self) -> Box<dyn Reader + '_> {
        let trees = self.trees.read();
        let copy = Trees { cfs: trees.cfs.clone(), bytes: trees.bytes };
        Box::new(MemoryEngine { trees: Arc::new(RwLock::new(copy)), budget: None })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CF: Cf = Cf::Data;

    fn put(k: &str, v: &str) -> WriteBatch {
        let mut b = WriteBatch::new();
        b.put(CF, k.as_bytes().to_vec(), v.as_bytes().to_vec());
        b
    }

    fn cost_of(k: &str, v: &str) -> u64 {
        cost(k.as_bytes(), v.as_bytes()) as u64
    }

    #[test]
    fn allocations_round_up_to_size_classes() {
        let cases = [(0, 0), (1, 16), (16, 16), (17, 32), (128, 128), (129, 160), (256, 256), (257, 320), (4097, 5120)];
        for (n, size) in cases {
            assert_eq!(allocated(n), size, "{n} bytes");
        }
        for n in 1..100_000 {
            assert!(allocated(n) >= n && allocated(n) <= n + n / 4 + 16, "{n} bytes");
        }
    }

    #[test]
    fn bytes_follow_puts_replacements_deletes_and_clear() {
        let budget = Arc::new(Budget::new(0));
        let e = MemoryEngine::with_budget(budget.clone());
        e.write(put("a", "12345")).unwrap();
        e.write(put("b", "1")).unwrap();
        assert_eq!(e.bytes(), cost_of("a", "12345") + cost_of("b", "1"));
        e.write(put("a", "1")).unwrap(); // a replacement counts the new value only
        assert_eq!(e.bytes(), cost_of("a", "1") + cost_of("b", "1"));
        let mut b = WriteBatch::new();
        b.delete(CF, b"b".to_vec());
        b.delete(CF, b"missing".to_vec());
        e.write(b).unwrap();
        assert_eq!(e.bytes(), cost_of("a", "1"));
        e.write(put("c", "xy")).unwrap();
        let mut b = WriteBatch::new();
        b.delete_range(CF, b"a".to_vec(), b"b".to_vec());
        e.write(b).unwrap();
        assert_eq!(e.bytes(), cost_of("c", "xy"));
        assert_eq!(budget.used(), e.bytes());
        e.clear();
        assert_eq!((e.bytes(), budget.used()), (0, 0));
    }

    #[test]
    fn a_write_past_the_cap_is_refused_and_leaves_nothing_behind() {
        let v40 = "v".repeat(40);
        let cap = 3 * cost_of("k1", &v40);
        let budget = Arc::new(Budget::new(cap));
        // Two engines (two partitions) share the node's budget.
        let (e1, e2) = (MemoryEngine::with_budget(budget.clone()), MemoryEngine::with_budget(budget.clone()));
        e1.write_capped(put("k1", &v40)).unwrap();
        e2.write_capped(put("k2", &v40)).unwrap();
        e1.write_capped(put("k3", &v40)).unwrap();
        assert_eq!(budget.used(), cap);

        // A batch that replaces one value by a bigger one, deletes another key and adds a
        // third (twice): net growth.
        let before = e1.bytes();
        let mut b = put("k1", &"w".repeat(100));
        b.delete(CF, b"k3".to_vec());
        b.put(CF, b"k4".to_vec(), v40.clone().into_bytes());
        b.put(CF, b"k4".to_vec(), b"other".to_vec());
        let err = e2.write_capped(put("k5", "x")).unwrap_err();
        assert_eq!(err, OverBudget { used: cap, needed: cost_of("k5", "x"), cap });
        let err = e1.write_capped(b).unwrap_err();
        assert_eq!((err.used, err.cap), (cap, cap));
        assert_eq!(e1.get(CF, b"k1").unwrap(), Some(v40.clone().into_bytes()), "replacement undone");
        assert_eq!(e1.get(CF, b"k3").unwrap(), Some(v40.clone().into_bytes()), "delete undone");
        assert_eq!(e1.get(CF, b"k4").unwrap(), None, "insert undone");
        assert_eq!(e2.get(CF, b"k5").unwrap(), None);
        assert_eq!((e1.bytes(), budget.used()), (before, cap));

        // Writes that keep or free memory pass at the cap.
        e1.write_capped(put("k1", &"u".repeat(40))).unwrap();
        e1.write_capped(put("k1", "short")).unwrap();
        assert!(budget.used() < cap);
        // Uncapped writes (deletes that leave a tombstone) may go past it.
        e2.write(put("k2", &"t".repeat(200))).unwrap();
        assert!(budget.used() > cap);
        // Clearing one engine frees its share for the other.
        e2.clear();
        e1.write_capped(put("k6", &v40)).unwrap();
        assert_eq!(budget.used(), e1.bytes());
    }

    #[test]
    fn no_cap_admits_everything() {
        let budget = Arc::new(Budget::new(0));
        let e = MemoryEngine::with_budget(budget.clone());
        for i in 0..100 {
            e.write_capped(put(&format!("k{i}"), "v")).unwrap();
        }
        assert_eq!(budget.used(), 100 * cost_of("k00", "v"), "keys of 2 and 3 bytes take one size class");
        assert!(MemoryEngine::new().write_capped(put("k", "v")).is_ok());
    }
}
