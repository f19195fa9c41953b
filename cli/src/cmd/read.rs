//! Reads of one key: `get`, `exists`, `history`.
//!
//! ```text
//!   get KEY [--revision N | --as-of TIME] [--raw]   latest, a retained revision, or as of a time
//!   exists KEY                                       live or not, and the revision
//!   history KEY [--limit N]                          retained revisions, newest first
//! ```
//!
//! `history` is not a server call: the store keeps the newest revisions of each key (16 by
//! default) and `try_get_revision` reads any of them, so the command asks `try_exists` for the
//! current revision and walks down with `try_get_revision` until a revision is not found
//! (compacted, or skipped by a `--no-revision` write). Each read is linearizable on its own;
//! the walk as a whole is not a snapshot, so a write racing with it may show up or not.
//!
//! A key that is not found (or has no retained revision) exits 1 and prints the current
//! revision, which tells a deleted key (its last revision) from one never written (`-1`).

use clap::Args;
use kahuna_client::GetResult;
use serde::Serialize;

use super::Keyspace;
use crate::exit::Failure;
use crate::parse;
use crate::render::{
    Clock, Report, VERSION_COLUMNS, VersionJson, current_revision, fields, rfc3339, table, value_json, value_text,
    version_row,
};
use crate::session::Session;

/// `get`: read the latest value, a retained revision, or the value as of a time.
#[derive(Debug, Args)]
pub struct Get {
    /// The key
    pub key: String,
    /// Read this retained revision instead of the latest
    #[arg(long, value_name = "N", conflicts_with = "as_of", value_parser = clap::value_parser!(i64).range(0..), allow_negative_numbers = true)]
    pub revision: Option<i64>,
    /// Read the value as of TIME: an HLC timestamp, an RFC 3339 time, '30s ago' or 'now'
    #[arg(long, value_name = "TIME", value_parser = parse::as_of)]
    pub as_of: Option<u64>,
    /// Write only the value's exact bytes (no newline, no other fields; nothing if not found)
    #[arg(long)]
    pub raw: bool,
    #[command(flatten)]
    pub keyspace: Keyspace,
}

/// JSON of `get`: the same fields whether found or not (value fields null when not).
#[derive(Serialize)]
struct GetJson<'a> {
    key: &'a str,
    durability: &'static str,
    found: bool,
    revision: i64,
    value: Option<String>,
    value_encoding: Option<&'static str>,
    last_modified: u64,
    last_modified_time: Option<String>,
    expires_at: u64,
    expires_at_time: Option<String>,
    ttl_ms: Option<i64>,
}

impl Get {
    /// Runs `try_get`, `try_get_revision` or `try_get_as_of`.
    pub fn execute(self, session: &mut Session) -> Result<Report, Failure> {
        let durability = self.keyspace.durability();
        let client = session.client()?;
        let r = match (self.revision, self.as_of) {
            (Some(revision), _) => client.try_get_revision(&self.key, revision, durability)?,
            (None, Some(ts)) => client.try_get_as_of(&self.key, ts, durability)?,
            (None, None) => client.try_get(&self.key, durability)?,
        };
        let mut report = self.report(&session.clock(), &r);
        if self.raw {
            // Nothing at all when not found: stdout may be a file; exit 1 says it.
            report.raw = Some(r.value);
        }
        Ok(report)
    }

    /// The report of a read.
    fn report(&self, clock: &Clock, r: &GetResult) -> Report {
        let (key, suffix) = (&self.key, self.keyspace.suffix());
        let human = if r.found {
            fields(&[
                ("key", format!("{key}{suffix}")),
                ("value", value_text(&r.value)),
                ("revision", r.revision.to_string()),
                ("expires", clock.expiry(r.expires_at)),
                ("last modified", clock.hlc(r.last_modified)),
            ])
        } else {
            let what = match (self.revision, self.as_of) {
                (Some(n), _) => format!("revision {n} not found (compacted, skipped or never written)"),
                (None, Some(ts)) => format!("not found as of {}", clock.hlc(ts)),
                (None, None) => format!("not found ({})", current_revision(r.revision)),
            };
            format!("{key}{suffix}: {what}\n")
        };
        let value = r.found.then(|| value_json(&r.value));
        let json = GetJson {
            key,
            durability: self.keyspace.name(),
            found: r.found,
            revision: r.revision,
            value_encoding: value.as_ref().map(|v| v.1),
            value: value.map(|v| v.0),
            last_modified: r.last_modified,
            last_modified_time: rfc3339(r.last_modified),
            expires_at: r.expires_at,
            expires_at_time: rfc3339(r.expires_at),
            ttl_ms: clock.ttl_ms(r.expires_at),
        };
        Report::new(r.found, human, &json)
    }
}

/// `exists`: whether a key is live, and its revision.
#[derive(Debug, Args)]
pub struct Exists {
    /// The key
    pub key: String,
    #[command(flatten)]
    pub keyspace: Keyspace,
}

/// JSON of `exists`.
#[derive(Serialize)]
struct ExistsJson<'a> {
    key: &'a str,
    durability: &'static str,
    exists: bool,
    revision: i64,
}

impl Exists {
    /// Runs `try_exists`.
    pub fn execute(self, session: &mut Session) -> Result<Report, Failure> {
        let r = session.client()?.try_exists(&self.key, self.keyspace.durability())?;
        let (key, suffix) = (&self.key, self.keyspace.suffix());
        let human = if r.exists {
            format!("{key}{suffix} exists at revision {}\n", r.revision)
        } else {
            format!("{key}{suffix} does not exist ({})\n", current_revision(r.revision))
        };
        let json = ExistsJson { key, durability: self.keyspace.name(), exists: r.exists, revision: r.revision };
        Ok(Report::new(r.exists, human, &json))
    }
}

/// `history`: the retained revisions of a key, newest first.
#[derive(Debug, Args)]
pub struct History {
    /// The key
    pub key: String,
    /// Show at most N revisions
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..), allow_negative_numbers = true)]
    pub limit: Option<u32>,
    #[command(flatten)]
    pub keyspace: Keyspace,
}

/// JSON of `history`.
#[derive(Serialize)]
struct HistoryJson<'a> {
    key: &'a str,
    durability: &'static str,
    current_revision: i64,
    revisions: Vec<VersionJson>,
}

impl History {
    /// Walks the revisions down from the current one with `try_get_revision`.
    pub fn execute(self, session: &mut Session) -> Result<Report, Failure> {
        let durability = self.keyspace.durability();
        let limit = self.limit.map_or(usize::MAX, |l| l as usize);
        let client = session.client()?;
        let current = client.try_exists(&self.key, durability)?.revision;
        let mut versions = Vec::new();
        let mut revision = current;
        while revision >= 0 && versions.len() < limit {
            let r = client.try_get_revision(&self.key, revision, durability)?;
            if !r.found {
                break;
            }
            versions.push(r);
            revision -= 1;
        }
        Ok(self.report(&session.clock(), current, &versions))
    }

    /// The report of a history walk.
    fn report(&self, clock: &Clock, current: i64, versions: &[GetResult]) -> Report {
        let (key, suffix) = (&self.key, self.keyspace.suffix());
        let human = if versions.is_empty() {
            format!("{key}{suffix}: no retained revision ({})\n", current_revision(current))
        } else {
            let rows: Vec<Vec<String>> = versions
                .iter()
                .map(|v| version_row(clock, v.revision, &v.value, v.last_modified, v.expires_at))
                .collect();
            let n = versions.len();
            let plural = if n == 1 { "" } else { "s" };
            format!("{}{n} retained revision{plural} of {key}{suffix}\n", table(&VERSION_COLUMNS, &rows))
        };
        let revisions = versions
            .iter()
            .map(|v| VersionJson::new(clock, key, v.revision, &v.value, v.last_modified, v.expires_at))
            .collect();
        let json = HistoryJson { key, durability: self.keyspace.name(), current_revision: current, revisions };
        Report::new(!versions.is_empty(), human, &json)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kahuna_client::hlc;

    const NOW: u64 = 1_750_000_000_000;

    fn clock() -> Clock {
        Clock { now_ms: NOW, utc: true }
    }

    fn get(revision: Option<i64>) -> Get {
        Get { key: "a/b".into(), revision, as_of: None, raw: false, keyspace: Keyspace::default() }
    }

    #[test]
    fn a_found_key_shows_every_field() {
        let ts = hlc::from_ms(NOW - 1_000);
        let r = GetResult {
            found: true,
            value: b"on".to_vec(),
            revision: 3,
            expires_at: hlc::from_ms(NOW + 60_000),
            last_modified: ts,
        };
        let report = get(None).report(&clock(), &r);
        assert_eq!(
            report.human,
            format!(
                "key            a/b\nvalue          on\nrevision       3\n\
                 expires        2025-06-15 15:07:40.000 +00:00 (in 1m)\n\
                 last modified  2025-06-15 15:06:39.000 +00:00 (hlc {ts})\n"
            )
        );
        assert!(report.json.starts_with("{\"key\":\"a/b\",\"durability\":\"persistent\",\"found\":true,\"revision\":3,\"value\":\"on\",\"value_encoding\":\"utf8\""), "{}", report.json);
        assert!(report.json.ends_with("\"ttl_ms\":60000}"), "{}", report.json);
        assert_eq!(report.exit.code(), 0);
    }

    #[test]
    fn a_missing_key_exits_1_with_null_value_fields() {
        let r = GetResult { found: false, revision: 2, ..GetResult::default() };
        let report = get(None).report(&clock(), &r);
        assert_eq!(report.human, "a/b: not found (current revision 2)\n");
        assert_eq!(
            report.json,
            "{\"key\":\"a/b\",\"durability\":\"persistent\",\"found\":false,\"revision\":2,\"value\":null,\
             \"value_encoding\":null,\"last_modified\":0,\"last_modified_time\":null,\"expires_at\":0,\
             \"expires_at_time\":null,\"ttl_ms\":null}"
        );
        assert_eq!(report.exit.code(), 1);
        let old = get(Some(7)).report(&clock(), &GetResult { revision: -1, ..r });
        assert_eq!(old.human, "a/b: revision 7 not found (compacted, skipped or never written)\n");
    }

    #[test]
    fn history_is_a_table_newest_first() {
        let h = History { key: "k".into(), limit: None, keyspace: Keyspace::default() };
        let v = |rev: i64, value: &[u8]| GetResult {
            found: true,
            value: value.to_vec(),
            revision: rev,
            expires_at: 0,
            last_modified: hlc::from_ms(NOW),
        };
        let report = h.report(&clock(), 1, &[v(1, b"two"), v(0, &[0xff])]);
        let ts = hlc::from_ms(NOW);
        assert_eq!(
            report.human,
            format!(
                "REVISION  LAST MODIFIED                   HLC{pad}  EXPIRES  VALUE\n\
                 1         2025-06-15 15:06:40.000 +00:00  {ts}  never    two\n\
                 0         2025-06-15 15:06:40.000 +00:00  {ts}  never    hex:ff (1 byte)\n\
                 2 retained revisions of k\n",
                pad = " ".repeat(ts.to_string().len() - 3)
            )
        );
        assert!(report.json.contains("\"current_revision\":1,\"revisions\":[{\"key\":\"k\",\"revision\":1"));
        assert!(report.json.contains("\"value\":\"/w==\",\"value_encoding\":\"base64\""));
        let empty = h.report(&clock(), -1, &[]);
        assert_eq!(empty.human, "k: no retained revision (never written)\n");
        assert_eq!(empty.exit.code(), 1);
    }
}
