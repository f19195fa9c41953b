//! MVCC: versioned keys with per-key revisions, tombstones, expiry and retention.
//!
//! Every write of a user key adds a **version**, stored under the key and the commit timestamp
//! (an HLC value) of the write:
//!
//! ```text
//!  Cf::Data:  [partition u32][escaped key][00 00][!commit_ts u64]  ->  Version record
//!                                                 ^ inverted: the newest version sorts first
//!
//!  "a" @ts 30  rev 2  live  "v3"       <- latest: one seek finds it
//!  "a" @ts 20  rev 1  tombstone        <- delete: same revision as the version it deleted
//!  "a" @ts 10  rev 1  live  "v2"
//!  "b" @ts 15  rev 0  live  "x" expires_at 17
//! ```
//!
//! Rules (SEMANTICS.md): a key's first write is revision 0; every successful set adds 1; delete
//! writes a tombstone carrying the revision the key had, so a later set continues the counter;
//! extend rewrites the latest version's expiry in place and never changes the revision. A key
//! whose latest version is a tombstone or has expired is *absent* for every read and every
//! condition. A key that has no version at all reports revision -1.
//!
//! Reads at a timestamp `T` see the newest version with `commit_ts <= T` (a snapshot); expiry is
//! judged at the time the caller passes. Retention keeps the newest `retention` versions per key
//! (tombstones count); `NO_REVISION` writes drop the superseded version at once. The newest
//! version records how many versions the key holds, so a write reads the timestamps of the key's
//! versions with one seek instead of decoding its history, and a partition keeps those of its
//! recently written keys in memory ([`Heads`]) so most writes read nothing at all. Physically
//! removing dead keys (sweep) and old versions (age retention) are explicit commands, so every
//! replica removes exactly the same data at the same point of the log.
//!
//! This layer is pure: functions of (reader, staged writes, arguments, timestamps). It never
//! reads a clock, spawns, or does I/O beyond the `storage::Reader` it is handed, so the same code
//! serves the Raft state machine (RocksDB) and the Ephemeral keyspace (memory).

mod heads;
mod read;
#[cfg(test)]
mod tests;
mod write;

use serde::{Deserialize, Serialize};

use crate::storage::{self, keys};

pub use heads::Heads;
pub use read::{Lookup, ScanPage, Survey, Window, get_at, get_latest, get_revision, scan, survey};
pub use write::{Condition, SetArgs, WriteOutcome, delete, extend, purge_dead, purge_versions_before, set};

/// One version of a key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Version {
    /// The HLC commit timestamp of the write that produced it (`last_modified`).
    pub ts: u64,
    /// The key's revision at this version.
    pub revision: i64,
    /// HLC timestamp at which the value expires; 0 = never.
    pub expires_at: u64,
    /// The value; `None` for a tombstone.
    pub value: Option<Vec<u8>>,
    /// How many versions of the key were stored, this one included, when this version was the
    /// newest: lets a write trim history without walking it.
    pub count: u32,
}

/// The liveness rule shared by stored versions and cached heads: a value that has not expired at
/// `now` (`expires_at` is the first instant it no longer holds; 0 = never).
fn live_at(has_value: bool, expires_at: u64, now: u64) -> bool {
    has_value && (expires_at == 0 || expires_at > now)
}

impl Version {
    /// True when this version holds a value that has not expired at `now`.
    pub fn is_live_at(&self, now: u64) -> bool {
        live_at(self.value.is_some(), self.expires_at, now)
    }

    /// When this version stopped being live (tombstone: its write; expired: its expiry).
    pub fn died_at(&self) -> Option<u64> {
        match (&self.value, self.expires_at) {
            (None, _) => Some(self.ts),
            (Some(_), 0) => None,
            (Some(_), e) => Some(e),
        }
    }
}

#[derive(Serialize, Deserialize)]
struct Record {
    revision: i64,
    expires_at: u64,
    count: u32,
    value: Option<Vec<u8>>,
}

/// [`Record`] borrowing its value: the same encoding (serde writes `Vec<u8>` and `&[u8]` alike).
#[derive(Serialize)]
struct RecordRef<'a> {
    revision: i64,
    expires_at: u64,
    count: u32,
    value: Option<&'a [u8]>,
}

/// Most bytes a record adds to its value: three varints, the option tag and the length.
const RECORD_HEADER_MAX: usize = 10 + 10 + 5 + 1 + 5;

fn encode_record(v: &Version) -> Vec<u8> {
    let value = v.value.as_deref();
    // Sized up front: a buffer grown by doubling would keep up to twice the value's size
    // allocated, and the Ephemeral store keeps the buffer as it is (storage::memory).
    let buffer = Vec::with_capacity(value.map_or(0, <[u8]>::len) + RECORD_HEADER_MAX);
    postcard::to_extend(&RecordRef { revision: v.revision, expires_at: v.expires_at, count: v.count, value }, buffer)
        .expect("serializing a version cannot fail")
}

fn decode_record(ts: u64, bytes: &[u8]) -> storage::Result<Version> {
    let r: Record = postcard::from_bytes(bytes)
        .map_err(|e| storage::Error::Corrupt { what: "mvcc version", detail: e.to_string() })?;
    Ok(Version { ts, revision: r.revision, expires_at: r.expires_at, value: r.value, count: r.count })
}

/// `[partition][escaped key][00 00]`: the prefix of every version of `key`.
fn key_prefix(partition: u32, key: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(4 + key.len() + 10);
    k.extend_from_slice(&keys::partition_prefix(partition));
    keys::escape_terminated_into(&mut k, key.as_bytes());
    k
}

/// The storage key of `key`'s version at `ts`.
fn version_key(partition: u32, key: &str, ts: u64) -> Vec<u8> {
    let mut k = key_prefix(partition, key);
    k.extend_from_slice(&(!ts).to_be_bytes());
    k
}

/// Splits a storage key into (user key, commit timestamp).
fn decode_version_key(partition: u32, raw: &[u8]) -> storage::Result<(String, u64)> {
    let corrupt = |detail: &str| storage::Error::Corrupt { what: "mvcc key", detail: detail.to_string() };
    let rest = raw.strip_prefix(&keys::partition_prefix(partition)[..]).ok_or_else(|| corrupt("partition"))?;
    let (key, tail) = keys::unescape_terminated(rest).ok_or_else(|| corrupt("escaping"))?;
    let ts: [u8; 8] = tail.try_into().map_err(|_| corrupt("timestamp"))?;
    let key = String::from_utf8(key).map_err(|_| corrupt("utf-8"))?;
    Ok((key, !u64::from_be_bytes(ts)))
}
