//! The domain types of the key/value service: requests, responses and errors.
//!
//! These cross the wire between nodes (forwarding) serialized with postcard, so they are plain
//! serde types; the `rpc` layer converts the client API's Cap'n Proto messages to and from them.

use kahuna_schema::Code;
use serde::{Deserialize, Serialize};

/// Where a key lives and how durable it is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Durability {
    /// Replicated through Raft, fsynced on a quorum.
    #[default]
    Persistent,
    /// Only in the partition leader's memory.
    Ephemeral,
}

/// `try_set` and its compare-and-set variants.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetRequest {
    /// The key.
    pub key: String,
    /// The new value.
    pub value: Vec<u8>,
    /// Expiry in ms from the write; 0 = never.
    pub expires_ms: i64,
    /// `kahuna_schema::flags` bits.
    pub flags: u32,
    /// Compared with the live value under `SET_IF_EQUAL_TO_VALUE`.
    pub compare_value: Vec<u8>,
    /// Compared with the live revision under `SET_IF_EQUAL_TO_REVISION`.
    pub compare_revision: i64,
    /// Keyspace.
    pub durability: Durability,
}

/// `try_get`, `try_get_revision`, `try_get_as_of`, `try_exists`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetRequest {
    /// The key.
    pub key: String,
    /// Keyspace.
    pub durability: Durability,
    /// -1 = latest, else a retained revision.
    pub revision: i64,
    /// 0 = latest, else an HLC timestamp.
    pub as_of: u64,
}

/// `try_delete`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteRequest {
    /// The key.
    pub key: String,
    /// Keyspace.
    pub durability: Durability,
}

/// `try_extend`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtendRequest {
    /// The key.
    pub key: String,
    /// New expiry in ms from now (> 0).
    pub expires_ms: i64,
    /// Keyspace.
    pub durability: Durability,
}

/// `get_by_bucket`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BucketRequest {
    /// The bucket (the text before a key's last `/`).
    pub bucket: String,
    /// Keyspace.
    pub durability: Durability,
}

/// `scan_by_prefix`, one page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanRequest {
    /// Key prefix (may be empty).
    pub prefix: String,
    /// Page size; 0 = default.
    pub limit: u32,
    /// Empty for the first page, else the previous page's cursor.
    pub cursor: Vec<u8>,
    /// Keyspace.
    pub durability: Durability,
}

/// One partition's share of a scan page (sent by the scan's coordinator to each leader).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanPartitionRequest {
    /// The partition.
    pub partition: u32,
    /// Key prefix.
    pub prefix: String,
    /// Exclusive lower bound.
    pub start_after: Option<String>,
    /// Most entries to return.
    pub limit: u32,
    /// The snapshot timestamp of the whole scan.
    pub snapshot: u64,
    /// Keyspace.
    pub durability: Durability,
}

/// `try_lock` and `try_extend_lock`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockRequest {
    /// The resource (routed like a key).
    pub resource: String,
    /// The holder.
    pub owner: Vec<u8>,
    /// Lease length in ms (> 0).
    pub expires_ms: i64,
    /// Keyspace.
    pub durability: Durability,
}

/// `unlock`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnlockRequest {
    /// The resource.
    pub resource: String,
    /// The holder.
    pub owner: Vec<u8>,
    /// Keyspace.
    pub durability: Durability,
}

/// `get_lock`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetLockRequest {
    /// The resource.
    pub resource: String,
    /// Keyspace.
    pub durability: Durability,
}

/// A request to the key/value service.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Request {
    /// Set a key.
    Set(SetRequest),
    /// Read a key with its value.
    Get(GetRequest),
    /// Read a key without its value.
    Exists(GetRequest),
    /// Delete a key.
    Delete(DeleteRequest),
    /// Extend a key's expiry.
    Extend(ExtendRequest),
    /// Read a bucket.
    Bucket(BucketRequest),
    /// Scan a prefix across partitions.
    Scan(ScanRequest),
    /// Scan a prefix in one partition at a snapshot.
    ScanPartition(ScanPartitionRequest),
    /// Acquire a lock.
    Lock(LockRequest),
    /// Extend a held lock.
    ExtendLock(LockRequest),
    /// Release a lock.
    Unlock(UnlockRequest),
    /// Read a lock.
    GetLock(GetLockRequest),
}

/// A key with one version.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// The key.
    pub key: String,
    /// The value (empty for `exists` and misses).
    pub value: Vec<u8>,
    /// The revision; -1 when the key never existed.
    pub revision: i64,
    /// HLC expiry; 0 = never.
    pub expires_at: u64,
    /// HLC timestamp of the write.
    pub last_modified: u64,
}

/// The answer to a [`Request`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Response {
    /// To [`Request::Set`].
    Set {
        /// True when written.
        set: bool,
        /// New revision, or the current one (-1) when not written.
        revision: i64,
        /// Commit timestamp of the write (0 when not written).
        last_modified: u64,
    },
    /// To [`Request::Get`] and [`Request::Exists`].
    Get {
        /// True when a live value was found.
        found: bool,
        /// The entry (revision -1 when the key never existed).
        entry: Entry,
    },
    /// To [`Request::Delete`].
    Delete {
        /// True when deleted.
        deleted: bool,
        /// The revision the key had.
        revision: i64,
    },
    /// To [`Request::Extend`].
    Extend {
        /// True when extended.
        extended: bool,
        /// The key's (unchanged) revision.
        revision: i64,
    },
    /// To [`Request::Bucket`].
    Bucket(Vec<Entry>),
    /// To [`Request::Scan`].
    Scan {
        /// Live entries in key order.
        entries: Vec<Entry>,
        /// Cursor of the next page; empty when done.
        cursor: Vec<u8>,
        /// The scan's snapshot timestamp.
        snapshot: u64,
    },
    /// To [`Request::ScanPartition`].
    ScanPartition {
        /// Live entries in key order.
        entries: Vec<Entry>,
        /// True when the partition holds more matching keys.
        more: bool,
    },
    /// To [`Request::Lock`].
    Lock {
        /// True when the owner holds the lock.
        locked: bool,
        /// The owner's fencing token (0 when not locked).
        fencing_token: i64,
    },
    /// To [`Request::ExtendLock`].
    ExtendLock {
        /// The (unchanged) fencing token.
        fencing_token: i64,
    },
    /// To [`Request::Unlock`].
    Unlock,
    /// To [`Request::GetLock`].
    GetLock {
        /// The holder.
        owner: Vec<u8>,
        /// HLC expiry of the lease.
        expires_at: u64,
        /// The holder's fencing token.
        fencing_token: i64,
    },
}

/// Why a request failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum Error {
    /// A bad argument; the message names it.
    #[error("{0}")]
    InvalidInput(String),
    /// Transient: no leader, stale route, leadership change.
    #[error("{0}")]
    MustRetry(String),
    /// No quorum in time.
    #[error("{0}")]
    Unavailable(String),
    /// The deadline passed.
    #[error("{0}")]
    Timeout(String),
    /// A server-side failure.
    #[error("{0}")]
    Internal(String),
    /// No live lock on the resource.
    #[error("{0}")]
    LockDoesNotExist(String),
    /// The lock is held by another owner.
    #[error("{0}")]
    InvalidOwner(String),
    /// The node's Ephemeral store is at its memory cap.
    #[error("{0}")]
    ResourceExhausted(String),
}

impl Error {
    /// The stable status code.
    pub fn code(&self) -> Code {
        match self {
            Error::InvalidInput(_) => Code::InvalidInput,
            Error::MustRetry(_) => Code::MustRetry,
            Error::Unavailable(_) => Code::Unavailable,
            Error::Timeout(_) => Code::Timeout,
            Error::Internal(_) => Code::Internal,
            Error::LockDoesNotExist(_) => Code::LockDoesNotExist,
            Error::InvalidOwner(_) => Code::InvalidOwner,
            Error::ResourceExhausted(_) => Code::ResourceExhausted,
        }
    }
}

impl From<crate::storage::Error> for Error {
    fn from(e: crate::storage::Error) -> Self {
        Error::Internal(e.to_string())
    }
}

impl From<crate::partition::Error> for Error {
    fn from(e: crate::partition::Error) -> Self {
        use crate::partition::Error as P;
        match e {
            P::NotLeader { .. } => Error::MustRetry(e.to_string()),
            P::NoQuorum { .. } => Error::Unavailable(e.to_string()),
            P::Stopped { .. } => Error::Unavailable(e.to_string()),
            P::Lost { .. } => Error::Timeout(e.to_string()),
        }
    }
}

/// A response (or error) with what the serving node knows of the partition's leadership.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reply {
    /// The outcome.
    pub result: Result<Response, Error>,
    /// Leader of the request's partition, 0 if unknown or not applicable.
    pub leader: u64,
    /// Its term.
    pub term: u64,
}

impl Reply {
    /// A reply without leadership information.
    pub fn plain(result: Result<Response, Error>) -> Reply {
        Reply { result, leader: 0, term: 0 }
    }
}
