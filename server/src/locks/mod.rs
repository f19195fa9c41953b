//! Locks: leased resource locks with fencing tokens (SEMANTICS.md, "Locks").
//!
//! One record per resource in `Cf::Locks`, routed like a key (the resource's bucket decides the
//! partition) and kept after unlock so that fencing tokens never repeat:
//!
//! ```text
//!  Cf::Locks: [partition]['L'][escaped resource][00 00] -> Record {
//!      owner, expires_at (HLC), token, held, term (of the leader that last granted or extended) }
//!
//!  lock(owner)      free / expired ─> held by owner, token + 1 (0 on the first grant)
//!                   held by owner ──> same token, lease NOT extended
//!                   held by another ─> busy
//!  extend(owner)    held by owner ──> expires_at = now + ms, token unchanged
//!  unlock(owner)    held by owner ──> free (the record and its token stay)
//! ```
//!
//! Expiry is judged at the command's commit timestamp, i.e. by the partition leader's clock, so
//! every replica decides alike. A record granted or extended under an earlier leader (an older
//! term) counts as held for `guard` longer: the new leader's clock may run ahead of the old
//! one's, and a holder timed its lease against the old leader. This is how a new leader waits
//! out the remaining lease of the previous one instead of granting early.
//!
//! Pure functions over `storage` (no clock, no I/O): the Raft state machine applies them for
//! Persistent locks and the leader applies them to its in-memory store for Ephemeral ones.

#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};

use crate::hlc;
use crate::storage::{self, Cf, Reader, Staged, keys};

/// A resource's lock record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// The holder (or last holder).
    pub owner: Vec<u8>,
    /// HLC expiry of the lease.
    pub expires_at: u64,
    /// The fencing token of the current (or last) grant.
    pub token: i64,
    /// False after an unlock.
    pub held: bool,
    /// Term of the leader that last granted or extended the lease.
    pub term: u64,
}

/// The outcome of a lock command.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outcome {
    /// The owner holds the lock with this token.
    Locked {
        /// Fencing token.
        token: i64,
    },
    /// Another owner holds a live lease.
    Busy,
    /// The lease was extended; the token is unchanged.
    Extended {
        /// Fencing token.
        token: i64,
    },
    /// The lock was released.
    Unlocked,
    /// No live lock (for extend and get) or no held lock (for unlock).
    DoesNotExist,
    /// The lock is held by another owner.
    InvalidOwner,
}

/// When a judgement happens: the commit (or read) timestamp and the current leader's term.
#[derive(Clone, Copy, Debug)]
pub struct At {
    /// HLC timestamp.
    pub ts: u64,
    /// The current leader's term.
    pub term: u64,
    /// Extra lease (ms) granted to records of older terms: the clock offset allowed between nodes.
    pub guard_ms: u64,
}

impl Record {
    /// True when the lease still binds at `at` (`expires_at` is the first instant it does not,
    /// see [`hlc::expiry`]).
    pub fn is_live(&self, at: At) -> bool {
        let guard = if self.term < at.term { at.guard_ms } else { 0 };
        self.held && at.ts < hlc::add_ms(self.expires_at, guard).max(self.expires_at)
    }
}

fn record_key(partition: u32, resource: &str) -> Vec<u8> {
    let mut k = keys::prefixed(partition, b"L");
    keys::escape_terminated_into(&mut k, resource.as_bytes());
    k
}

/// The record of `resource`, live or not.
pub fn read(r: &dyn Reader, partition: u32, resource: &str) -> storage::Result<Option<Record>> {
    match r.get(Cf::Locks, &record_key(partition, resource))? {
        None => Ok(None),
        Some(bytes) => postcard::from_bytes(&bytes)
            .map(Some)
            .map_err(|e| storage::Error::Corrupt { what: "lock record", detail: e.to_string() }),
    }
}

fn write(st: &mut Staged<'_>, partition: u32, resource: &str, record: &Record) {
    let bytes = postcard::to_allocvec(record).expect("serializing a lock record cannot fail");
    st.put(Cf::Locks, record_key(partition, resource), bytes);
}

/// The live lock of `resource` at `at`, if any.
pub fn get(r: &dyn Reader, partition: u32, resource: &str, at: At) -> storage::Result<Option<Record>> {
    Ok(read(r, partition, resource)?.filter(|rec| rec.is_live(at)))
}

/// Grants `resource` to `owner` for `expires_ms` unless another owner holds a live lease.
pub fn lock(
    st: &mut Staged<'_>,
    partition: u32,
    resource: &str,
    owner: &[u8],
    expires_ms: u64,
    at: At,
) -> storage::Result<Outcome> {
    let current = read(st, partition, resource)?;
    if let Some(rec) = current.as_ref().filter(|r| r.is_live(at)) {
        return Ok(if rec.owner == owner { Outcome::Locked { token: rec.token } } else { Outcome::Busy });
    }
    let token = current.map_or(0, |r| r.token + 1);
    let record =
        Record { owner: owner.to_vec(), expires_at: hlc::expiry(at.ts, expires_ms), token, held: true, term: at.term };
    write(st, partition, resource, &record);
    Ok(Outcome::Locked { token })
}

/// Moves the lease of `owner`'s live lock to `at + expires_ms`.
pub fn extend(
    st: &mut Staged<'_>,
    partition: u32,
    resource: &str,
    owner: &[u8],
    expires_ms: u64,
    at: At,
) -> storage::Result<Outcome> {
    match read(st, partition, resource)?.filter(|r| r.is_live(at)) {
        None => Ok(Outcome::DoesNotExist),
        Some(rec) if rec.owner != owner => Ok(Outcome::InvalidOwner),
        Some(mut rec) => {
            rec.expires_at = hlc::expiry(at.ts, expires_ms);
            rec.term = at.term;
            write(st, partition, resource, &rec);
            Ok(Outcome::Extended { token: rec.token })
        }
    }
}

/// Releases `owner`'s lock. As in the original Kahuna, an owner may release its own lock even
/// after the lease ran out, as long as nobody else took it.
pub fn unlock(st: &mut Staged<'_>, partition: u32, resource: &str, owner: &[u8]) -> storage::Result<Outcome> {
    match read(st, partition, resource)?.filter(|r| r.held) {
        None => Ok(Outcome::DoesNotExist),
        Some(rec) if rec.owner != owner => Ok(Outcome::InvalidOwner),
        Some(mut rec) => {
            rec.held = false;
            write(st, partition, resource, &rec);
            Ok(Outcome::Unlocked)
        }
    }
}
