//! [`Staged`]: a write batch you can read through. Commands applied together (one Raft entry,
//! or several) stage their writes here, later commands see earlier ones, and the whole lot is
//! written in one atomic batch.

use std::collections::BTreeMap;
use std::iter::Peekable;

use super::{Cf, KeyValue, Reader, Result, Scan, WriteBatch};

/// Pending writes over a base reader. Reads see the pending writes first.
pub struct Staged<'a> {
    base: &'a dyn Reader,
    pending: BTreeMap<(Cf, Vec<u8>), Option<Vec<u8>>>,
    batch: WriteBatch,
}

impl<'a> Staged<'a> {
    /// Stages writes over `base`.
    pub fn new(base: &'a dyn Reader) -> Self {
        Self { base, pending: BTreeMap::new(), batch: WriteBatch::new() }
    }

    /// Stages a put.
    pub fn put(&mut self, cf: Cf, key: Vec<u8>, value: Vec<u8>) {
        self.pending.insert((cf, key.clone()), Some(value.clone()));
        self.batch.put(cf, key, value);
    }

    /// Stages a delete.
    pub fn delete(&mut self, cf: Cf, key: Vec<u8>) {
        self.pending.insert((cf, key.clone()), None);
        self.batch.delete(cf, key);
    }

    /// The staged writes, in the order they were made.
    pub fn into_batch(self) -> WriteBatch {
        self.batch
    }

    /// True when nothing is staged.
    pub fn is_empty(&self) -> bool {
        self.batch.is_empty()
    }

    fn pending_range(&self, cf: Cf, from: &[u8], to: &[u8]) -> Vec<Pending> {
        if from >= to {
            return Vec::new();
        }
        self.pending.range((cf, from.to_vec())..(cf, to.to_vec())).map(|((_, k), v)| (k.clone(), v.clone())).collect()
    }
}

/// A pending write: `None` deletes.
type Pending = (Vec<u8>, Option<Vec<u8>>);

/// Merges a base scan with pending writes; pending entries win, `None` hides a key.
struct Merge<'b> {
    base: Peekable<Scan<'b>>,
    pending: Peekable<std::vec::IntoIter<Pending>>,
    reverse: bool,
}

impl Iterator for Merge<'_> {
    type Item = Result<KeyValue>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let take_pending = match (self.base.peek(), self.pending.peek()) {
                (None, None) => return None,
                (Some(Err(_)), _) => return self.base.next(),
                (None, Some(_)) => true,
                (Some(_), None) => false,
                (Some(Ok((bk, _))), Some((pk, _))) => {
                    if bk == pk {
                        self.base.next(); // shadowed by the pending write
                        true
                    } else {
                        (pk < bk) != self.reverse
                    }
                }
            };
            if take_pending {
                let (k, v) = self.pending.next().expect("peeked");
                if let Some(v) = v {
                    return Some(Ok((k, v)));
                }
            } else {
                return self.base.next();
            }
        }
    }
}

impl Reader for Staged<'_> {
    fn get(&self, cf: Cf, key: &[u8]) -> Result<Option<Vec<u8>>> {
        match self.pending.get(&(cf, key.to_vec())) {
            Some(v) => Ok(v.clone()),
            None => self.base.get(cf, key),
        }
    }

    fn scan(&self, cf: Cf, from: &[u8], to: &[u8]) -> Scan<'_> {
        let pending = self.pending_range(cf, from, to);
        if pending.is_empty() {
            return self.base.scan(cf, from, to);
        }
        Box::new(Merge {
            base: self.base.scan(cf, from, to).peekable(),
            pending: pending.into_iter().peekable(),
            reverse: false,
        })
    }

    fn scan_rev(&self, cf: Cf, from: &[u8], to: &[u8]) -> Scan<'_> {
        let mut pending = self.pending_range(cf, from, to);
        if pending.is_empty() {
            return self.base.scan_rev(cf, from, to);
        }
        pending.reverse();
        Box::new(Merge {
            base: self.base.scan_rev(cf, from, to).peekable(),
            pending: pending.into_iter().peekable(),
            reverse: true,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::{Engine, MemoryEngine};

    #[test]
    fn reads_see_staged_writes_over_the_base() {
        let base = MemoryEngine::new();
        let mut b = WriteBatch::new();
        for k in [b"a", b"c", b"e"] {
            b.put(Cf::Data, k.to_vec(), b"base".to_vec());
        }
        base.write(b).unwrap();

        let mut st = Staged::new(&base);
        st.put(Cf::Data, b"b".to_vec(), b"new".to_vec());
        st.put(Cf::Data, b"c".to_vec(), b"new".to_vec());
        st.delete(Cf::Data, b"e".to_vec());
        st.put(Cf::Log, b"z".to_vec(), b"other cf".to_vec());

        assert_eq!(st.get(Cf::Data, b"c").unwrap(), Some(b"new".to_vec()));
        assert_eq!(st.get(Cf::Data, b"e").unwrap(), None);
        assert_eq!(st.get(Cf::Data, b"a").unwrap(), Some(b"base".to_vec()));
        let fwd: Vec<_> = st.scan(Cf::Data, b"", b"z").map(|r| r.unwrap()).collect();
        assert_eq!(
            fwd,
            vec![(b"a".to_vec(), b"base".to_vec()), (b"b".to_vec(), b"new".to_vec()), (b"c".to_vec(), b"new".to_vec()),]
        );
        let rev: Vec<_> = st.scan_rev(Cf::Data, b"", b"z").map(|r| r.unwrap().0).collect();
        assert_eq!(rev, vec![b"c".to_vec(), b"b".to_vec(), b"a".to_vec()]);

        // Nothing reaches the base until the batch is written.
        assert_eq!(base.get(Cf::Data, b"b").unwrap(), None);
        let batch = st.into_batch();
        base.write(batch).unwrap();
        assert_eq!(base.get(Cf::Data, b"e").unwrap(), None);
        assert_eq!(base.get(Cf::Log, b"z").unwrap(), Some(b"other cf".to_vec()));
    }
}
