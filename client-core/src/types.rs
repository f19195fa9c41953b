//! The values callers pass in and get back: options, durabilities and results.
//!
//! These are plain data with no I/O and no Cap'n Proto types in them, so they cross the thread
//! boundary between a caller and the client's I/O thread, and the C and Python bindings map them
//! one to one. Results mirror the contract of `SEMANTICS.md`: a missing key, a failed condition
//! or a key that is not live is a result (`set = false`, `found = false`, revision `-1`), never an
//! error.
//!
//! Timestamps (`last_modified`, `expires_at`, `snapshot`) are hybrid logical clock values: see
//! [`crate::hlc`] for taking them apart.

use std::time::Duration;

use kahuna_schema::flags;
use kahuna_schema::kahuna_capnp;

/// Where a key lives: replicated and durable, or only in the partition leader's memory.
///
/// The two durabilities are separate keyspaces: persistent `a` and ephemeral `a` are different
/// keys.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Durability {
    /// Replicated through Raft and fsynced on a quorum before the call returns; linearizable.
    #[default]
    Persistent,
    /// Kept only in the memory of the partition leader; lost when leadership moves.
    Ephemeral,
}

impl Durability {
    /// The wire enum of this durability.
    pub(crate) fn wire(self) -> kahuna_capnp::Durability {
        match self {
            Durability::Persistent => kahuna_capnp::Durability::Persistent,
            Durability::Ephemeral => kahuna_capnp::Durability::Ephemeral,
        }
    }
}

/// How a [`Client`](crate::Client) connects, waits and retries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientOptions {
    /// Deadline of one operation, retries included (default 10 s). When it passes the call
    /// returns `Timeout`; the outcome of a write in flight at that moment is unknown.
    pub timeout: Duration,
    /// How long opening one connection may take, TCP connect and first round trip (default 3 s).
    pub connect_timeout: Duration,
    /// How long one attempt of a *read* waits on one node before trying another (default 2 s).
    /// Writes are never abandoned this way: they wait for the whole `timeout`.
    pub read_attempt_timeout: Duration,
}

impl Default for ClientOptions {
    fn default() -> ClientOptions {
        ClientOptions {
            timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(3),
            read_attempt_timeout: Duration::from_secs(2),
        }
    }
}

/// The optional arguments of [`Client::try_set`](crate::Client::try_set), built fluently:
/// `SetOptions::new().expires_ms(5_000).if_not_exists()`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SetOptions {
    expires_ms: i64,
    flags: u32,
    durability: Durability,
}

impl SetOptions {
    /// No expiry, unconditional, persistent.
    pub fn new() -> SetOptions {
        SetOptions::default()
    }

    /// Expire the key `ms` milliseconds after the write (0 = never; negative is invalid).
    pub fn expires_ms(mut self, ms: i64) -> SetOptions {
        self.expires_ms = ms;
        self
    }

    /// Write only when the key is live (present, not deleted, not expired).
    pub fn if_exists(mut self) -> SetOptions {
        self.flags |= flags::SET_IF_EXISTS;
        self
    }

    /// Write only when the key is absent, deleted or expired.
    pub fn if_not_exists(mut self) -> SetOptions {
        self.flags |= flags::SET_IF_NOT_EXISTS;
        self
    }

    /// Do not keep the superseded revision readable through `try_get_revision`.
    pub fn no_revision(mut self) -> SetOptions {
        self.flags |= flags::NO_REVISION;
        self
    }

    /// Write to this durability's keyspace.
    pub fn durability(mut self, durability: Durability) -> SetOptions {
        self.durability = durability;
        self
    }

    /// Adds raw [`kahuna_schema::flags`] bits (for bindings that receive them as an integer).
    pub fn with_flags(mut self, bits: u32) -> SetOptions {
        self.flags |= bits;
        self
    }

    /// The expiry in milliseconds (0 = never).
    pub fn get_expires_ms(&self) -> i64 {
        self.expires_ms
    }

    /// The flag bits that will be sent.
    pub fn get_flags(&self) -> u32 {
        self.flags
    }

    /// The durability the write goes to.
    pub fn get_durability(&self) -> Durability {
        self.durability
    }

    /// Rejects flag combinations `try_set` cannot send, naming the problem.
    pub(crate) fn validate(&self) -> Result<(), String> {
        let unknown = self.flags & !flags::ALL;
        if unknown != 0 {
            return Err(format!("flags has unknown bits {unknown:#x}"));
        }
        let compare = self.flags & (flags::SET_IF_EQUAL_TO_VALUE | flags::SET_IF_EQUAL_TO_REVISION);
        if compare != 0 {
            return Err(format!(
                "flags {compare:#x} need a comparand: use try_compare_value_and_set or \
                 try_compare_revision_and_set"
            ));
        }
        if self.flags & flags::CONDITIONS == flags::SET_IF_EXISTS | flags::SET_IF_NOT_EXISTS {
            return Err("flags must not combine if_exists and if_not_exists".to_string());
        }
        Ok(())
    }
}

/// The outcome of a set: whether it was written and the key's revision afterwards.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SetResult {
    /// True when the value was written.
    pub set: bool,
    /// The new revision when set; otherwise the current one (-1 if the key is absent).
    pub revision: i64,
    /// HLC timestamp of the write (when set).
    pub last_modified: u64,
}

/// The outcome of a read of one key.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GetResult {
    /// True when a live version was found.
    pub found: bool,
    /// The value (empty when not found; an empty value is also a value).
    pub value: Vec<u8>,
    /// The version's revision; the current revision or -1 when not found.
    pub revision: i64,
    /// HLC timestamp of expiry; 0 = never.
    pub expires_at: u64,
    /// HLC timestamp of the write that produced this version.
    pub last_modified: u64,
}

/// The outcome of `try_exists`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExistsResult {
    /// True when the key is live.
    pub exists: bool,
    /// The key's revision (-1 when it never existed).
    pub revision: i64,
}

/// The outcome of `try_delete`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeleteResult {
    /// True when a live key was deleted.
    pub deleted: bool,
    /// The revision the key had when deleted (delete does not increment it).
    pub revision: i64,
}

/// The outcome of `try_extend`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExtendResult {
    /// True when the key was live and its expiry moved.
    pub extended: bool,
    /// The key's revision (unchanged by extend).
    pub revision: i64,
}

/// One key and its current version, as returned by bucket reads and scans.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Entry {
    /// The key.
    pub key: String,
    /// The value.
    pub value: Vec<u8>,
    /// The version's revision.
    pub revision: i64,
    /// HLC timestamp of expiry; 0 = never.
    pub expires_at: u64,
    /// HLC timestamp of the write that produced this version.
    pub last_modified: u64,
}

/// One page of a prefix scan.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScanPage {
    /// Entries ordered by key.
    pub entries: Vec<Entry>,
    /// Pass to the next `scan_by_prefix` call; `None` when there are no more pages.
    pub cursor: Option<Vec<u8>>,
    /// HLC timestamp every page of this scan reads at.
    pub snapshot: u64,
}

/// The cluster as one node sees it: members and partition leaders.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Topology {
    /// The cluster's unique id.
    pub cluster_id: u64,
    /// The cluster's configured name.
    pub cluster_name: String,
    /// Number of data partitions.
    pub partition_count: u32,
    /// Every member as (node id, RPC address).
    pub nodes: Vec<(u64, String)>,
    /// The leader's node id of each partition (index = partition), `None` when unknown.
    pub leaders: Vec<Option<u64>>,
    /// The Raft term of each partition's leader (index = partition; 0 = unknown).
    pub terms: Vec<u64>,
    /// The node that answered.
    pub answered_by: u64,
}

impl Topology {
    /// The RPC address of the node with this id, if it is a member.
    pub fn address_of(&self, node: u64) -> Option<&str> {
        self.nodes.iter().find(|(id, _)| *id == node).map(|(_, a)| a.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_options_build_flags() {
        let o = SetOptions::new();
        assert_eq!((o.get_expires_ms(), o.get_flags()), (0, 0));
        assert_eq!(o.get_durability(), Durability::Persistent);

        let o = SetOptions::new().expires_ms(5_000).if_not_exists().no_revision().durability(Durability::Ephemeral);
        assert_eq!(o.get_expires_ms(), 5_000);
        assert_eq!(o.get_flags(), flags::SET_IF_NOT_EXISTS | flags::NO_REVISION);
        assert_eq!(o.get_durability(), Durability::Ephemeral);
        assert!(o.validate().is_ok());

        assert_eq!(SetOptions::new().if_exists().get_flags(), 4);
        assert_eq!(SetOptions::new().with_flags(8).get_flags(), 8);
    }

    #[test]
    fn set_options_reject_what_try_set_cannot_send() {
        let both = SetOptions::new().if_exists().if_not_exists();
        assert!(both.validate().unwrap_err().contains("if_exists"));
        let cmp = SetOptions::new().with_flags(flags::SET_IF_EQUAL_TO_VALUE);
        assert!(cmp.validate().unwrap_err().contains("try_compare_value_and_set"));
        let unknown = SetOptions::new().with_flags(0x100);
        assert_eq!(unknown.validate().unwrap_err(), "flags has unknown bits 0x100");
    }

    #[test]
    fn defaults_match_the_documentation() {
        let o = ClientOptions::default();
        assert_eq!(o.timeout, Duration::from_secs(10));
        assert_eq!(o.connect_timeout, Duration::from_secs(3));
        assert_eq!(Durability::default(), Durability::Persistent);
        assert_eq!(Durability::Ephemeral.wire(), kahuna_capnp::Durability::Ephemeral);
    }

    #[test]
    fn topology_resolves_addresses() {
        let t = Topology { nodes: vec![(1, "127.0.0.1:1".into()), (2, "127.0.0.1:2".into())], ..Topology::default() };
        assert_eq!(t.address_of(2), Some("127.0.0.1:2"));
        assert_eq!(t.address_of(3), None);
    }
}

/// The outcome of [`Client::try_lock`](crate::Client::try_lock).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LockResult {
    /// True when the owner holds the lock (newly, or already).
    pub locked: bool,
    /// The holder's fencing token when locked: 0 on a resource's first grant, +1 on every grant
    /// to a new holder. 0 when not locked.
    pub fencing_token: i64,
}

/// A live lock, from [`Client::get_lock`](crate::Client::get_lock).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LockInfo {
    /// The holder.
    pub owner: Vec<u8>,
    /// HLC timestamp at which the lease ends (see [`crate::hlc`]).
    pub expires_at: u64,
    /// The holder's fencing token.
    pub fencing_token: i64,
}
