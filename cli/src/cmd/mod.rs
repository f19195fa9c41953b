//! The command set: one enum, one `match`, one module per command group.
//!
//! Each command is a clap `Args` struct that parses and validates its own arguments, executes
//! against a [`Session`] and returns a [`Report`] holding both renderings. Nothing here prints:
//! the caller (one-shot `main` or the shell) prints the report in the mode asked for, so both
//! front ends run exactly the same code.
//!
//! ```text
//!   argv / shell line ─clap─> Command ─execute(session)─> Report { exit, human, json, raw }
//!                                │
//!     write.rs    set, cas, delete, extend         (writes of one key)
//!     read.rs     get, exists, history             (reads of one key)
//!     range.rs    bucket, scan                     (reads of many keys)
//!     cluster.rs  topology
//!     lock.rs     lock, unlock, extend-lock, get-lock   (leased locks with fencing tokens)
//!     txn.rs      begin/commit/rollback and friends      (later: the same)
//! ```
//!
//! Adding a group means a file with its `Args` structs and `execute` functions, its variants
//! in [`Command`] and arms in [`Command::execute`]; the shell, `--json`, exit codes and help
//! come for free.
//!
//! Conventions every command keeps: the key is the first positional argument; `--ephemeral`
//! selects the Ephemeral keyspace ([`Keyspace`]); durations are humantime (`10s`); a result
//! that is "not found" or "condition not met" is `Exit::NotMet` (exit 1), never an error.

mod cluster;
mod lock;
mod range;
mod read;
mod write;

use clap::{Args, Subcommand};
use kahuna_client::Durability;

use crate::exit::Failure;
use crate::render::Report;
use crate::session::Session;

/// Every command that talks to the cluster.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a value: `set KEY VALUE`, `set KEY --file PATH`, or `set KEY -` for stdin
    Set(write::Set),
    /// Write only if the current value or revision is the expected one (compare-and-set)
    Cas(write::Cas),
    /// Read a key: the latest value, a retained `--revision`, or the value `--as-of` a time
    Get(read::Get),
    /// Tell whether a key is live, and its revision (exit 1 when it is not)
    Exists(read::Exists),
    /// Delete a key (its revision stays; the next set continues from it)
    #[command(visible_alias = "del")]
    Delete(write::Delete),
    /// Move a live key's expiry to now + DURATION
    Extend(write::Extend),
    /// List the retained revisions of a key, newest first
    History(read::History),
    /// List every live key whose bucket (text before the last `/`) is BUCKET
    Bucket(range::Bucket),
    /// List the keys starting with PREFIX, ordered (all pages, or one with --limit/--cursor)
    Scan(range::Scan),
    /// Show the cluster's nodes and each partition's leader
    Topology(cluster::Topology),
    /// Acquire a leased lock: `lock RESOURCE --owner O --ttl D [--wait D]` (exit 1 when busy)
    Lock(lock::Lock),
    /// Release a lock held by `--owner`
    Unlock(lock::Unlock),
    /// Move the lease of a lock held by `--owner` to now + `--ttl`
    ExtendLock(lock::ExtendLock),
    /// Show who holds a lock, its fencing token and lease end
    GetLock(lock::GetLock),
}

impl Command {
    /// Runs the command against the session's cluster.
    pub fn execute(self, session: &mut Session) -> Result<Report, Failure> {
        match self {
            Command::Set(c) => c.execute(session),
            Command::Cas(c) => c.execute(session),
            Command::Get(c) => c.execute(session),
            Command::Exists(c) => c.execute(session),
            Command::Delete(c) => c.execute(session),
            Command::Extend(c) => c.execute(session),
            Command::History(c) => c.execute(session),
            Command::Bucket(c) => c.execute(session),
            Command::Scan(c) => c.execute(session),
            Command::Topology(c) => c.execute(session),
            Command::Lock(c) => c.execute(session),
            Command::Unlock(c) => c.execute(session),
            Command::ExtendLock(c) => c.execute(session),
            Command::GetLock(c) => c.execute(session),
        }
    }
}

/// The keyspace flag every key command takes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Args)]
pub struct Keyspace {
    /// Use the Ephemeral keyspace (leader memory only) instead of the Persistent one
    #[arg(long)]
    pub ephemeral: bool,
}

impl Keyspace {
    /// The durability this flag selects.
    pub fn durability(self) -> Durability {
        if self.ephemeral { Durability::Ephemeral } else { Durability::Persistent }
    }

    /// `persistent` or `ephemeral`, as JSON output names it.
    pub fn name(self) -> &'static str {
        if self.ephemeral { "ephemeral" } else { "persistent" }
    }

    /// A suffix for human output: empty, or ` (ephemeral)`.
    pub fn suffix(self) -> &'static str {
        if self.ephemeral { " (ephemeral)" } else { "" }
    }
}
