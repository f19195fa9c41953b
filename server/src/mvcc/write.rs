//! Writes: set with conditions, delete, extend, and the purges run by the sweep.

use super::heads::{Head, Heads};
use super::read::{head, newest_at, versions};
use super::{Version, encode_record, version_key};
use crate::storage::{Cf, Result, Staged};

/// The condition of a set.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Condition {
    /// Always write.
    None,
    /// Only when the key is live.
    IfExists,
    /// Only when the key is absent, deleted or expired.
    IfNotExists,
    /// Only when the live value equals this, byte for byte.
    IfValue(Vec<u8>),
    /// Only when the key is live at this revision.
    IfRevision(i64),
}

/// Arguments of [`set`].
#[derive(Clone, Debug)]
pub struct SetArgs<'a> {
    /// The user key.
    pub key: &'a str,
    /// The new value.
    pub value: &'a [u8],
    /// Absolute expiry (HLC); 0 = never.
    pub expires_at: u64,
    /// When to write.
    pub condition: &'a Condition,
    /// Drop the superseded version instead of archiving it.
    pub no_revision: bool,
}

/// The outcome of a write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WriteOutcome {
    /// True when the write happened.
    pub applied: bool,
    /// The new revision if applied, else the key's current revision (-1 without any version).
    pub revision: i64,
}

/// The head of `key`: from `heads` if cached (taken out: the caller keeps what the key holds
/// afterwards), else read from storage.
fn load(st: &Staged<'_>, heads: &mut Heads, partition: u32, key: &str) -> Result<Option<Head>> {
    if let Some(head) = heads.take(key) {
        return Ok(Some(head));
    }
    Ok(head(st, partition, key)?.map(|(newest, stamps)| Head::new(&newest, stamps)))
}

/// Sets `args.key` at commit timestamp `ts` if the condition holds at `ts`; keeps at most
/// `retention` versions of the key.
pub fn set(
    st: &mut Staged<'_>,
    heads: &mut Heads,
    partition: u32,
    args: &SetArgs<'_>,
    ts: u64,
    retention: usize,
) -> Result<WriteOutcome> {
    let current = load(st, heads, partition, args.key)?;
    let live = current.as_ref().filter(|h| h.is_live_at(ts));
    let holds = match args.condition {
        Condition::None => true,
        Condition::IfExists => live.is_some(),
        Condition::IfNotExists => live.is_none(),
        Condition::IfValue(expected) => {
            // Heads hold no values: compare against the stored newest version.
            live.is_some()
                && newest_at(st, partition, args.key, u64::MAX)?
                    .is_some_and(|v| v.value.as_deref() == Some(expected.as_slice()))
        }
        Condition::IfRevision(expected) => live.is_some_and(|h| h.revision == *expected),
    };
    let current_revision = current.as_ref().map_or(-1, |h| h.revision);
    if !holds {
        if let Some(head) = current {
            heads.keep(args.key, head);
        }
        return Ok(WriteOutcome { applied: false, revision: current_revision });
    }
    let mut stamps = current.map_or_else(Vec::new, |h| h.stamps);
    if args.no_revision && !stamps.is_empty() {
        let superseded = stamps.remove(0);
        st.delete(Cf::Data, version_key(partition, args.key, superseded));
    }
    let revision = current_revision + 1;
    let value = Some(args.value.to_vec());
    let version = Version { ts, revision, expires_at: args.expires_at, value, count: 0 };
    put_newest(st, heads, partition, args.key, version, stamps, retention);
    Ok(WriteOutcome { applied: true, revision })
}

/// Writes `version` as the newest of `key` above the versions stamped `stamps` (newest first),
/// trimming the oldest beyond `retention`, and records the resulting count in it and in `heads`.
fn put_newest(
    st: &mut Staged<'_>,
    heads: &mut Heads,
    partition: u32,
    key: &str,
    mut version: Version,
    mut stamps: Vec<u64>,
    retention: usize,
) {
    let keep = retention.max(1);
    while stamps.len() >= keep {
        let oldest = stamps.pop().expect("not empty: keep >= 1");
        st.delete(Cf::Data, version_key(partition, key, oldest));
    }
    stamps.insert(0, version.ts);
    version.count = stamps.len() as u32;
    st.put(Cf::Data, version_key(partition, key, version.ts), encode_record(&version));
    heads.keep(key, Head::new(&version, stamps));
}

/// Deletes `key` at `ts` if it is live: writes a tombstone carrying the key's revision.
pub fn delete(
    st: &mut Staged<'_>,
    heads: &mut Heads,
    partition: u32,
    key: &str,
    ts: u64,
    retention: usize,
) -> Result<WriteOutcome> {
    let Some(current) = load(st, heads, partition, key)? else {
        return Ok(WriteOutcome { applied: false, revision: -1 });
    };
    let revision = current.revision;
    if !current.is_live_at(ts) {
        heads.keep(key, current);
        return Ok(WriteOutcome { applied: false, revision });
    }
    let tombstone = Version { ts, revision, expires_at: 0, value: None, count: 0 };
    put_newest(st, heads, partition, key, tombstone, current.stamps, retention);
    Ok(WriteOutcome { applied: true, revision })
}

/// Sets the expiry of live `key` to `expires_at`, rewriting its latest version in place.
pub fn extend(
    st: &mut Staged<'_>,
    heads: &mut Heads,
    partition: u32,
    key: &str,
    expires_at: u64,
    ts: u64,
) -> Result<WriteOutcome> {
    match newest_at(st, partition, key, u64::MAX)? {
        None => Ok(WriteOutcome { applied: false, revision: -1 }),
        Some(v) if !v.is_live_at(ts) => Ok(WriteOutcome { applied: false, revision: v.revision }),
        Some(mut v) => {
            v.expires_at = expires_at;
            st.put(Cf::Data, version_key(partition, key, v.ts), encode_record(&v));
            heads.set_expiry(key, expires_at);
            Ok(WriteOutcome { applied: true, revision: v.revision })
        }
    }
}

/// Removes every version of `key` when its latest version died (deleted or expired) at or
/// before `dead_before`. Returns true when the key was purged; its revision restarts at 0.
pub fn purge_dead(st: &mut Staged<'_>, heads: &mut Heads, partition: u32, key: &str, dead_before: u64) -> Result<bool> {
    heads.forget(key);
    let history = versions(st, partition, key).collect::<Result<Vec<Version>>>()?;
    let dead = history.first().and_then(Version::died_at).is_some_and(|t| t <= dead_before);
    if dead {
        for v in &history {
            st.delete(Cf::Data, version_key(partition, key, v.ts));
        }
    }
    Ok(dead)
}

/// Removes the versions of `key` older than `before`, except the latest one.
pub fn purge_versions_before(
    st: &mut Staged<'_>,
    heads: &mut Heads,
    partition: u32,
    key: &str,
    before: u64,
) -> Result<usize> {
    heads.forget(key);
    let history = versions(st, partition, key).collect::<Result<Vec<Version>>>()?;
    let Some(latest) = history.first() else { return Ok(0) };
    let mut purged = 0;
    for v in history.iter().skip(1).filter(|v| v.ts < before) {
        st.delete(Cf::Data, version_key(partition, key, v.ts));
        purged += 1;
    }
    if purged > 0 {
        let latest = Version { count: (history.len() - purged) as u32, ..latest.clone() };
        st.put(Cf::Data, version_key(partition, key, latest.ts), encode_record(&latest));
    }
    Ok(purged)
}
