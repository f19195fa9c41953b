//! The replicated commands of a partition and their results.

use serde::{Deserialize, Serialize};

use crate::mvcc::Condition;

/// One logical change to a partition's state machine.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    /// Set a key (if the condition holds at the command's commit timestamp).
    Set {
        /// The user key.
        key: String,
        /// The new value.
        value: Vec<u8>,
        /// Expiry relative to the commit timestamp, in ms; 0 = never.
        expires_ms: u64,
        /// When to write.
        condition: Condition,
        /// Drop the superseded version instead of archiving it.
        no_revision: bool,
    },
    /// Delete a live key (writes a tombstone).
    Delete {
        /// The user key.
        key: String,
    },
    /// Move a live key's expiry to commit timestamp + `expires_ms`.
    Extend {
        /// The user key.
        key: String,
        /// New expiry relative to the commit timestamp, in ms (> 0).
        expires_ms: u64,
    },
    /// Raise the partition's clock to at least `ts`: after it applies, no later command commits
    /// at or below `ts`, so snapshot reads at `ts` are stable.
    Advance {
        /// The timestamp to close.
        ts: u64,
    },
    /// Remove every version of each key whose latest version died at or before `dead_before`
    /// (the expiry sweep; re-checked on apply).
    PurgeDead {
        /// Candidate keys.
        keys: Vec<String>,
        /// The cut-off (HLC).
        dead_before: u64,
    },
    /// Remove versions older than `before` (but never the latest) of each key.
    PurgeVersions {
        /// Candidate keys.
        keys: Vec<String>,
        /// The cut-off (HLC).
        before: u64,
    },
    /// Acquire a lease lock (see `locks`).
    Lock {
        /// The resource.
        resource: String,
        /// The would-be holder.
        owner: Vec<u8>,
        /// Lease length from the commit timestamp, in ms.
        expires_ms: u64,
        /// Extra lease for records of earlier terms (the allowed clock offset), in ms.
        guard_ms: u64,
    },
    /// Extend a held lease lock.
    ExtendLock {
        /// The resource.
        resource: String,
        /// The holder.
        owner: Vec<u8>,
        /// New lease length from the commit timestamp, in ms.
        expires_ms: u64,
        /// As for `Lock`.
        guard_ms: u64,
    },
    /// Release a lease lock.
    Unlock {
        /// The resource.
        resource: String,
        /// The holder.
        owner: Vec<u8>,
    },
}

/// Commands proposed together, stamped by the leader's clock.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Batch {
    /// The leader's HLC time at proposal.
    pub ts: u64,
    /// The commands, applied in order.
    pub commands: Vec<Command>,
}

/// The result of one command.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CommandResult {
    /// A set, delete or extend.
    Write {
        /// True when it changed the key.
        applied: bool,
        /// New revision if applied, else the current one (-1 without versions).
        revision: i64,
        /// The command's commit timestamp.
        ts: u64,
    },
    /// An advance; the partition clock after it.
    Advanced {
        /// The partition's last commit timestamp.
        ts: u64,
    },
    /// A purge; how many keys or versions it removed.
    Purged {
        /// Removed count.
        count: u64,
    },
    /// A lock command.
    Lock(crate::locks::Outcome),
}

/// The results of a batch, in command order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchResponse(pub Vec<CommandResult>);
