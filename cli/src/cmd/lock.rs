//! Leased locks: `lock`, `unlock`, `extend-lock`, `get-lock`.
//!
//! ```text
//!   lock RESOURCE --owner O --ttl D [--wait D]     acquire (exit 1 if another owner holds it)
//!   unlock RESOURCE --owner O                      release
//!   extend-lock RESOURCE --owner O --ttl D         move the lease to now + D
//!   get-lock RESOURCE                              holder, lease end, fencing token
//! ```
//!
//! The owner is any text that identifies the holder; use the same one to extend and release.
//! A busy lock is a *result* (exit 1). `LockDoesNotExist` and `InvalidOwner` are errors of the
//! lock class (exit 8). Every command takes `--ephemeral` for the Ephemeral lock keyspace.

use std::time::Duration;

use clap::Args;
use kahuna_client::LockInfo;
use serde::Serialize;

use super::Keyspace;
use crate::exit::Failure;
use crate::parse;
use crate::render::{Clock, Report, fields, value_text};
use crate::session::Session;

/// `lock`: acquire a leased lock.
#[derive(Debug, Args)]
pub struct Lock {
    /// The resource (routed like a key)
    pub resource: String,
    /// Who holds the lock (any text; use the same to extend and unlock)
    #[arg(long)]
    pub owner: String,
    /// Lease length: 10s, 1m, 500ms
    #[arg(long, value_name = "DURATION", value_parser = parse::positive_ttl, allow_hyphen_values = true)]
    pub ttl: i64,
    /// Keep trying this long while another owner holds it (default: try once)
    #[arg(long, value_name = "DURATION", value_parser = parse::timeout, allow_hyphen_values = true)]
    pub wait: Option<Duration>,
    #[command(flatten)]
    pub keyspace: Keyspace,
}

/// `unlock`: release a lock.
#[derive(Debug, Args)]
pub struct Unlock {
    /// The resource
    pub resource: String,
    /// The holder
    #[arg(long)]
    pub owner: String,
    #[command(flatten)]
    pub keyspace: Keyspace,
}

/// `extend-lock`: move a held lock's lease to now + TTL.
#[derive(Debug, Args)]
pub struct ExtendLock {
    /// The resource
    pub resource: String,
    /// The holder
    #[arg(long)]
    pub owner: String,
    /// New lease length from now
    #[arg(long, value_name = "DURATION", value_parser = parse::positive_ttl, allow_hyphen_values = true)]
    pub ttl: i64,
    #[command(flatten)]
    pub keyspace: Keyspace,
}

/// `get-lock`: the holder of a lock.
#[derive(Debug, Args)]
pub struct GetLock {
    /// The resource
    pub resource: String,
    #[command(flatten)]
    pub keyspace: Keyspace,
}

#[derive(Serialize)]
struct LockJson<'a> {
    resource: &'a str,
    durability: &'static str,
    locked: bool,
    fencing_token: Option<i64>,
}

#[derive(Serialize)]
struct DoneJson<'a> {
    resource: &'a str,
    durability: &'static str,
    unlocked: bool,
}

#[derive(Serialize)]
struct ExtendJson<'a> {
    resource: &'a str,
    durability: &'static str,
    extended: bool,
    fencing_token: i64,
}

#[derive(Serialize)]
struct InfoJson<'a> {
    resource: &'a str,
    durability: &'static str,
    owner: String,
    fencing_token: i64,
    expires_at: u64,
    expires_at_ms: u64,
}

impl Lock {
    /// Runs `try_lock` (or `lock_with_wait`).
    pub fn execute(self, session: &mut Session) -> Result<Report, Failure> {
        let d = self.keyspace.durability();
        let client = session.client()?;
        let owner = self.owner.as_bytes();
        let r = match self.wait {
            Some(wait) => client.lock_with_wait(&self.resource, owner, self.ttl, wait, d)?,
            None => client.try_lock(&self.resource, owner, self.ttl, d)?,
        };
        let human = if r.locked {
            format!(
                "locked {}{} by {} (fencing token {})\n",
                self.resource,
                self.keyspace.suffix(),
                self.owner,
                r.fencing_token
            )
        } else {
            format!("busy: {}{} is held by another owner\n", self.resource, self.keyspace.suffix())
        };
        let json = LockJson {
            resource: &self.resource,
            durability: self.keyspace.name(),
            locked: r.locked,
            fencing_token: r.locked.then_some(r.fencing_token),
        };
        Ok(Report::new(r.locked, human, &json))
    }
}

impl Unlock {
    /// Runs `unlock`.
    pub fn execute(self, session: &mut Session) -> Result<Report, Failure> {
        session.client()?.unlock(&self.resource, self.owner.as_bytes(), self.keyspace.durability())?;
        let human = format!("unlocked {}{}\n", self.resource, self.keyspace.suffix());
        let json = DoneJson { resource: &self.resource, durability: self.keyspace.name(), unlocked: true };
        Ok(Report::new(true, human, &json))
    }
}

impl ExtendLock {
    /// Runs `try_extend_lock`.
    pub fn execute(self, session: &mut Session) -> Result<Report, Failure> {
        let token = session.client()?.try_extend_lock(
            &self.resource,
            self.owner.as_bytes(),
            self.ttl,
            self.keyspace.durability(),
        )?;
        let human = format!("extended {}{} (fencing token {token})\n", self.resource, self.keyspace.suffix());
        let json = ExtendJson {
            resource: &self.resource,
            durability: self.keyspace.name(),
            extended: true,
            fencing_token: token,
        };
        Ok(Report::new(true, human, &json))
    }
}

impl GetLock {
    /// Runs `get_lock`.
    pub fn execute(self, session: &mut Session) -> Result<Report, Failure> {
        let info = session.client()?.get_lock(&self.resource, self.keyspace.durability())?;
        Ok(info_report(&session.clock(), &self.resource, self.keyspace, &info))
    }
}

fn info_report(clock: &Clock, resource: &str, keyspace: Keyspace, info: &LockInfo) -> Report {
    let human = fields(&[
        ("resource", format!("{resource}{}", keyspace.suffix())),
        ("owner", value_text(&info.owner)),
        ("fencing token", info.fencing_token.to_string()),
        ("expires", format!("{} ({})", clock.expiry(info.expires_at), clock.remaining(info.expires_at))),
    ]);
    let json = InfoJson {
        resource,
        durability: keyspace.name(),
        owner: String::from_utf8_lossy(&info.owner).into_owned(),
        fencing_token: info.fencing_token,
        expires_at: info.expires_at,
        expires_at_ms: kahuna_client::hlc::physical_ms(info.expires_at),
    };
    Report::new(true, human, &json)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn get_lock_shows_holder_token_and_lease() {
        let clock = Clock { now_ms: 1_000_000, utc: true };
        let info = LockInfo { owner: b"worker-7".to_vec(), expires_at: 1_010_000 << 16, fencing_token: 3 };
        let r = info_report(&clock, "jobs/reindex", Keyspace::default(), &info);
        assert!(r.human.contains("worker-7"), "{}", r.human);
        assert!(r.human.contains("fencing token  3"), "{}", r.human);
        assert!(r.json.contains("\"fencing_token\":3"), "{}", r.json);
        assert!(r.json.contains("\"expires_at_ms\":1010000"), "{}", r.json);
    }
}
