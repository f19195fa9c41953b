//! [`Heads`]: what a write needs to know of a key, kept in memory so that a write of a recently
//! written key reads nothing from storage.
//!
//! A write needs the key's newest version (its revision, whether it is live) and, once the key
//! holds `retention` versions, the commit timestamps of the oldest ones to trim. Reading them
//! costs a RocksDB seek (an iterator over every memtable and level); with 64 clients writing
//! 10,000 keys that seek was 14 % of a node's CPU. A [`Head`] holds exactly that information,
//! without the value, for the most recently written keys of one partition.
//!
//! The cache is only correct if every change of a key's versions passes through it: the write
//! functions of this module update the head of the key they write, the purges forget it, and
//! whoever writes a partition's data any other way (a snapshot install) or loses staged writes
//! (a failed batch) must [`Heads::clear`] it. Conditions on the value (`IfValue`) still read
//! the value from storage.

use std::num::NonZeroUsize;

use lru::LruCache;

use super::Version;

/// Heads with more stored versions than this are not cached (a large `retention`): the
/// timestamps would cost more memory than the seek they save.
const MAX_STAMPS: usize = 64;

/// What a write needs of a key's stored versions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Head {
    /// The newest version's revision.
    pub revision: i64,
    /// The newest version's expiry (0 = never).
    pub expires_at: u64,
    /// True when the newest version is a tombstone.
    pub tombstone: bool,
    /// The commit timestamps of the stored versions, newest first: `stamps[0]` is the newest
    /// version's, and there are as many as the newest version's `count`.
    pub stamps: Vec<u64>,
}

impl Head {
    /// The head of a key whose newest version is `newest` and whose versions carry `stamps`.
    pub fn new(newest: &Version, stamps: Vec<u64>) -> Head {
        Head { revision: newest.revision, expires_at: newest.expires_at, tombstone: newest.value.is_none(), stamps }
    }

    /// Same rule as [`Version::is_live_at`].
    pub fn is_live_at(&self, now: u64) -> bool {
        super::live_at(!self.tombstone, self.expires_at, now)
    }
}

/// A bounded, least-recently-written cache of the [`Head`]s of one partition's keys.
pub struct Heads {
    cache: Option<LruCache<String, Head>>,
}

impl Heads {
    /// A cache of at most `capacity` heads; 0 caches nothing (every write reads storage).
    pub fn new(capacity: usize) -> Heads {
        Heads { cache: NonZeroUsize::new(capacity).map(LruCache::new) }
    }

    /// A cache that holds nothing, for keyspaces where a read is as cheap as the cache.
    pub fn disabled() -> Heads {
        Heads::new(0)
    }

    /// How many heads are cached.
    pub fn len(&self) -> usize {
        self.cache.as_ref().map_or(0, LruCache::len)
    }

    /// True when no head is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets every head: call after the partition's data changed behind the cache's back.
    pub fn clear(&mut self) {
        if let Some(c) = &mut self.cache {
            c.clear();
        }
    }

    /// Forgets `key`'s head.
    pub(super) fn forget(&mut self, key: &str) {
        if let Some(c) = &mut self.cache {
            c.pop(key);
        }
    }

    /// Removes and returns `key`'s head; the caller puts back what the key holds afterwards.
    pub(super) fn take(&mut self, key: &str) -> Option<Head> {
        self.cache.as_mut()?.pop(key)
    }

    /// Records `head` as what `key` holds now.
    pub(super) fn keep(&mut self, key: &str, head: Head) {
        if let Some(c) = &mut self.cache
            && head.stamps.len() <= MAX_STAMPS
        {
            c.put(key.to_string(), head);
        }
    }

    /// Changes the newest version's expiry of a cached `key`.
    pub(super) fn set_expiry(&mut self, key: &str, expires_at: u64) {
        if let Some(head) = self.cache.as_mut().and_then(|c| c.get_mut(key)) {
            head.expires_at = expires_at;
        }
    }
}
