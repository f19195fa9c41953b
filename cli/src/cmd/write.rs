//! Writes of one key: `set`, `cas`, `delete`, `extend`.
//!
//! Each maps to one client call and reports whether it took effect. A write that did not take
//! effect because its condition was not met (`--if-exists`, `--if-not-exists`, a `cas` whose
//! comparand differs, deleting or extending a key that is not live) is a *result*: it prints
//! the key's current revision and exits 1.
//!
//! ```text
//!   set KEY VALUE|-|--file PATH [--ttl D] [--if-exists|--if-not-exists] [--no-revision]
//!   cas KEY VALUE|-|--file PATH (--expect-value V | --expect-file PATH | --expect-revision N) [--ttl D]
//!   delete KEY
//!   extend KEY DURATION
//! ```
//!
//! Values are bytes: from the argument (on Unix any bytes the shell passes), a file, or
//! standard input (`-`, one-shot only: in the shell stdin carries commands). A value that
//! starts with `-` goes after `--`: `set k -- -5`.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{ArgGroup, Args};
use kahuna_client::{SetOptions, SetResult};
use serde::Serialize;

use super::Keyspace;
use crate::exit::Failure;
use crate::parse::{self, Source};
use crate::render::{Clock, Report, current_revision, rfc3339, short};
use crate::session::Session;

/// `set`: write a value, optionally only if the key is (not) live, optionally with a TTL.
#[derive(Debug, Args)]
pub struct Set {
    /// The key
    pub key: String,
    /// The value; `-` reads it from standard input
    #[arg(required_unless_present = "file", conflicts_with = "file")]
    pub value: Option<OsString>,
    /// Read the value from this file (`-` for standard input)
    #[arg(long, short = 'f', value_name = "PATH")]
    pub file: Option<PathBuf>,
    /// Expire the key this long after the write: 10s, 1m 30s, 500ms (0 = never)
    #[arg(long, value_name = "DURATION", value_parser = parse::ttl, default_value = "0", allow_hyphen_values = true)]
    pub ttl: i64,
    /// Write only if the key is live (exit 1 otherwise)
    #[arg(long, conflicts_with = "if_not_exists")]
    pub if_exists: bool,
    /// Write only if the key is missing, deleted or expired (exit 1 otherwise)
    #[arg(long)]
    pub if_not_exists: bool,
    /// Do not keep the superseded revision readable by history and get --revision
    #[arg(long)]
    pub no_revision: bool,
    #[command(flatten)]
    pub keyspace: Keyspace,
}

impl Set {
    /// Runs `try_set`.
    pub fn execute(self, session: &mut Session) -> Result<Report, Failure> {
        let value = Source::of(self.value, self.file).read("value", session.stdin_values)?;
        let mut options = SetOptions::new().expires_ms(self.ttl).durability(self.keyspace.durability());
        if self.if_exists {
            options = options.if_exists();
        }
        if self.if_not_exists {
            options = options.if_not_exists();
        }
        if self.no_revision {
            options = options.no_revision();
        }
        let result = session.client()?.try_set(&self.key, &value, options)?;
        Ok(set_report(&session.clock(), "set", &self.key, self.keyspace, self.ttl, &result))
    }
}

/// `cas`: compare-and-set, against the current value or the current revision.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("expect").required(true).multiple(false)))]
pub struct Cas {
    /// The key
    pub key: String,
    /// The new value; `-` reads it from standard input
    #[arg(required_unless_present = "file", conflicts_with = "file")]
    pub value: Option<OsString>,
    /// Read the new value from this file (`-` for standard input)
    #[arg(long, short = 'f', value_name = "PATH")]
    pub file: Option<PathBuf>,
    /// Write only if the current value is exactly this
    #[arg(long, value_name = "VALUE", group = "expect")]
    pub expect_value: Option<OsString>,
    /// Write only if the current value is exactly this file's content (`-` for stdin)
    #[arg(long, value_name = "PATH", group = "expect")]
    pub expect_file: Option<PathBuf>,
    /// Write only if the key is live at this revision
    #[arg(long, value_name = "N", group = "expect", value_parser = clap::value_parser!(i64).range(0..), allow_negative_numbers = true)]
    pub expect_revision: Option<i64>,
    /// Expire the key this long after the write: 10s, 1m 30s, 500ms (0 = never)
    #[arg(long, value_name = "DURATION", value_parser = parse::ttl, default_value = "0", allow_hyphen_values = true)]
    pub ttl: i64,
    #[command(flatten)]
    pub keyspace: Keyspace,
}

impl Cas {
    /// Runs `try_compare_value_and_set` or `try_compare_revision_and_set`.
    pub fn execute(self, session: &mut Session) -> Result<Report, Failure> {
        let source = Source::of(self.value, self.file);
        let durability = self.keyspace.durability();
        let result = if let Some(revision) = self.expect_revision {
            let value = source.read("value", session.stdin_values)?;
            session.client()?.try_compare_revision_and_set(&self.key, &value, revision, self.ttl, durability)?
        } else {
            let expected = Source::of(self.expect_value, self.expect_file);
            if source == Source::Stdin && expected == Source::Stdin {
                return Err(Failure::invalid_input(
                    "the value and the expected value cannot both come from standard input",
                ));
            }
            let value = source.read("value", session.stdin_values)?;
            let expected = expected.read("expected value", session.stdin_values)?;
            session.client()?.try_compare_value_and_set(&self.key, &value, &expected, self.ttl, durability)?
        };
        Ok(set_report(&session.clock(), "cas", &self.key, self.keyspace, self.ttl, &result))
    }
}

/// JSON of `set` and `cas`.
#[derive(Serialize)]
struct SetJson<'a> {
    key: &'a str,
    durability: &'static str,
    set: bool,
    revision: i64,
    last_modified: u64,
    last_modified_time: Option<String>,
    expires_ms: i64,
}

/// The report of a set or a compare-and-set.
fn set_report(clock: &Clock, verb: &str, key: &str, keyspace: Keyspace, ttl: i64, r: &SetResult) -> Report {
    let human = if r.set {
        let expires = if ttl > 0 { format!(", expires in {}", short(ttl as u64)) } else { String::new() };
        format!(
            "{verb} {key}{}: revision {}, last modified {}{expires}\n",
            keyspace.suffix(),
            r.revision,
            clock.hlc(r.last_modified)
        )
    } else {
        format!("not {verb} {key}{}: condition not met ({})\n", keyspace.suffix(), current_revision(r.revision))
    };
    let json = SetJson {
        key,
        durability: keyspace.name(),
        set: r.set,
        revision: r.revision,
        last_modified: r.last_modified,
        last_modified_time: rfc3339(r.last_modified),
        expires_ms: ttl,
    };
    Report::new(r.set, human, &json)
}

/// `delete`: delete a key; its revision is kept and the next set continues from it.
#[derive(Debug, Args)]
pub struct Delete {
    /// The key
    pub key: String,
    #[command(flatten)]
    pub keyspace: Keyspace,
}

/// JSON of `delete`.
#[derive(Serialize)]
struct DeleteJson<'a> {
    key: &'a str,
    durability: &'static str,
    deleted: bool,
    revision: i64,
}

impl Delete {
    /// Runs `try_delete`.
    pub fn execute(self, session: &mut Session) -> Result<Report, Failure> {
        let r = session.client()?.try_delete(&self.key, self.keyspace.durability())?;
        let (key, suffix) = (&self.key, self.keyspace.suffix());
        let human = if r.deleted {
            format!("deleted {key}{suffix} at revision {}\n", r.revision)
        } else {
            format!("not deleted {key}{suffix}: not live ({})\n", current_revision(r.revision))
        };
        let json = DeleteJson { key, durability: self.keyspace.name(), deleted: r.deleted, revision: r.revision };
        Ok(Report::new(r.deleted, human, &json))
    }
}

/// `extend`: move a live key's expiry to now + DURATION (the revision does not change).
#[derive(Debug, Args)]
pub struct Extend {
    /// The key
    pub key: String,
    /// The new time to live from now: 30s, 5m, 1h (must be greater than 0)
    #[arg(value_parser = parse::positive_ttl, allow_hyphen_values = true)]
    pub duration: i64,
    #[command(flatten)]
    pub keyspace: Keyspace,
}

/// JSON of `extend`.
#[derive(Serialize)]
struct ExtendJson<'a> {
    key: &'a str,
    durability: &'static str,
    extended: bool,
    revision: i64,
    expires_ms: i64,
}

impl Extend {
    /// Runs `try_extend`.
    pub fn execute(self, session: &mut Session) -> Result<Report, Failure> {
        let r = session.client()?.try_extend(&self.key, self.duration, self.keyspace.durability())?;
        let (key, suffix) = (&self.key, self.keyspace.suffix());
        let human = if r.extended {
            format!("extended {key}{suffix}: expires in {} (revision {})\n", short(self.duration as u64), r.revision)
        } else {
            format!("not extended {key}{suffix}: not live ({})\n", current_revision(r.revision))
        };
        let json = ExtendJson {
            key,
            durability: self.keyspace.name(),
            extended: r.extended,
            revision: r.revision,
            expires_ms: self.duration,
        };
        Ok(Report::new(r.extended, human, &json))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kahuna_client::hlc;

    const NOW: u64 = 1_750_000_000_000;

    #[test]
    fn set_reports_show_revision_time_and_expiry() {
        let clock = Clock { now_ms: NOW, utc: true };
        let ts = hlc::from_ms(NOW);
        let r = SetResult { set: true, revision: 2, last_modified: ts };
        let report = set_report(&clock, "set", "a/b", Keyspace::default(), 10_000, &r);
        assert_eq!(
            report.human,
            format!("set a/b: revision 2, last modified 2025-06-15 15:06:40.000 +00:00 (hlc {ts}), expires in 10.0s\n")
        );
        assert_eq!(
            report.json,
            format!(
                "{{\"key\":\"a/b\",\"durability\":\"persistent\",\"set\":true,\"revision\":2,\
                 \"last_modified\":{ts},\"last_modified_time\":\"2025-06-15T15:06:40.000Z\",\"expires_ms\":10000}}"
            )
        );
        assert_eq!(report.exit.code(), 0);
    }

    #[test]
    fn unmet_conditions_report_the_current_revision_and_exit_1() {
        let clock = Clock { now_ms: NOW, utc: true };
        let eph = Keyspace { ephemeral: true };
        let r = SetResult { set: false, revision: 4, last_modified: 0 };
        let report = set_report(&clock, "cas", "k", eph, 0, &r);
        assert_eq!(report.human, "not cas k (ephemeral): condition not met (current revision 4)\n");
        assert!(report.json.contains("\"durability\":\"ephemeral\",\"set\":false,\"revision\":4"));
        assert!(report.json.contains("\"last_modified\":0,\"last_modified_time\":null"));
        assert_eq!(report.exit.code(), 1);
        let never = set_report(&clock, "set", "k", Keyspace::default(), 0, &SetResult { revision: -1, ..r });
        assert_eq!(never.human, "not set k: condition not met (never written)\n");
    }
}
