//! Reads of many keys: `bucket` and `scan`.
//!
//! ```text
//!   bucket BUCKET                          every live key whose bucket is BUCKET, one partition
//!   scan [PREFIX]                          every key starting with PREFIX, all pages
//!   scan [PREFIX] --limit N [--cursor C]   one page; prints the cursor of the next one
//! ```
//!
//! A bucket is the text before a key's last `/`: `bucket a` lists `a/x` but not `a/x/y`. A
//! scan crosses partitions; its pages all read at the snapshot of the first one, so the whole
//! scan is one consistent view. Without `--limit` and `--cursor` the command follows the
//! cursors itself (pages of the server's default size) and prints everything at the end.
//! With either flag it prints one page and, when there is more, the cursor to pass next
//! (opaque bytes, printed as hex), so a script can page through a large prefix.
//!
//! An empty bucket or scan is a result like any other: it exits 0 (nothing was asked to
//! exist).

use clap::Args;
use kahuna_client::Entry;
use serde::Serialize;

use super::Keyspace;
use crate::exit::Failure;
use crate::parse::{self, hex};
use crate::render::{Clock, Report, VersionJson, table, version_row};
use crate::session::Session;

/// `bucket`: every live key whose bucket (text before the last `/`) is BUCKET.
#[derive(Debug, Args)]
pub struct Bucket {
    /// The bucket: `a/b` lists `a/b/x` but not `a/b/x/y`
    pub bucket: String,
    #[command(flatten)]
    pub keyspace: Keyspace,
}

/// JSON of `bucket`.
#[derive(Serialize)]
struct BucketJson<'a> {
    bucket: &'a str,
    durability: &'static str,
    count: usize,
    entries: Vec<VersionJson>,
}

impl Bucket {
    /// Runs `get_by_bucket`.
    pub fn execute(self, session: &mut Session) -> Result<Report, Failure> {
        let entries = session.client()?.get_by_bucket(&self.bucket, self.keyspace.durability())?;
        Ok(self.report(&session.clock(), &entries))
    }

    /// The report of a bucket read.
    fn report(&self, clock: &Clock, entries: &[Entry]) -> Report {
        let footer = format!("{} in bucket '{}'{}", keys(entries.len()), self.bucket, self.keyspace.suffix());
        let human = format!("{}{footer}\n", entries_table(clock, entries));
        let json = BucketJson {
            bucket: &self.bucket,
            durability: self.keyspace.name(),
            count: entries.len(),
            entries: entries_json(clock, entries),
        };
        Report::new(true, human, &json)
    }
}

/// `scan`: the keys starting with PREFIX, in key order.
#[derive(Debug, Args)]
pub struct Scan {
    /// The prefix (empty: every key)
    #[arg(default_value = "")]
    pub prefix: String,
    /// Return one page of at most N entries (the server caps N)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..), allow_negative_numbers = true)]
    pub limit: Option<u32>,
    /// Continue a paged scan from the cursor a previous page printed
    #[arg(long, value_name = "CURSOR", value_parser = parse::cursor)]
    pub cursor: Option<parse::Cursor>,
    #[command(flatten)]
    pub keyspace: Keyspace,
}

/// JSON of `scan`.
#[derive(Serialize)]
struct ScanJson<'a> {
    prefix: &'a str,
    durability: &'static str,
    count: usize,
    entries: Vec<VersionJson>,
    snapshot: u64,
    cursor: Option<String>,
}

impl Scan {
    /// Runs `scan_by_prefix`, once or until the last page.
    pub fn execute(self, session: &mut Session) -> Result<Report, Failure> {
        let durability = self.keyspace.durability();
        let client = session.client()?;
        let one_page = self.limit.is_some() || self.cursor.is_some();
        let mut page = client.scan_by_prefix(
            &self.prefix,
            self.limit.unwrap_or(0),
            self.cursor.as_ref().map(|c| c.0.as_slice()),
            durability,
        )?;
        let mut entries = std::mem::take(&mut page.entries);
        while !one_page && let Some(cursor) = page.cursor.take() {
            page = client.scan_by_prefix(&self.prefix, 0, Some(&cursor), durability)?;
            entries.append(&mut page.entries);
        }
        Ok(self.report(&session.clock(), &entries, page.snapshot, page.cursor.as_deref()))
    }

    /// The report of a scan: its entries, snapshot and the next cursor, if any.
    fn report(&self, clock: &Clock, entries: &[Entry], snapshot: u64, cursor: Option<&[u8]>) -> Report {
        let mut human = entries_table(clock, entries);
        human.push_str(&format!(
            "{} with prefix '{}'{} at snapshot {}\n",
            keys(entries.len()),
            self.prefix,
            self.keyspace.suffix(),
            clock.hlc(snapshot)
        ));
        if let Some(cursor) = cursor {
            human.push_str(&format!("more: --cursor {}\n", hex(cursor)));
        }
        let json = ScanJson {
            prefix: &self.prefix,
            durability: self.keyspace.name(),
            count: entries.len(),
            entries: entries_json(clock, entries),
            snapshot,
            cursor: cursor.map(hex),
        };
        Report::new(true, human, &json)
    }
}

/// "no key", "1 key", "3 keys".
fn keys(n: usize) -> String {
    match n {
        0 => "no key".to_string(),
        1 => "1 key".to_string(),
        n => format!("{n} keys"),
    }
}

/// Entries as a table with the key first; empty text when there are none.
fn entries_table(clock: &Clock, entries: &[Entry]) -> String {
    if entries.is_empty() {
        return String::new();
    }
    let rows: Vec<Vec<String>> = entries
        .iter()
        .map(|e| {
            let mut row = vec![e.key.clone()];
            row.extend(version_row(clock, e.revision, &e.value, e.last_modified, e.expires_at));
            row
        })
        .collect();
    let mut header = vec!["KEY"];
    header.extend(crate::render::VERSION_COLUMNS);
    table(&header, &rows)
}

/// Entries as JSON records.
fn entries_json(clock: &Clock, entries: &[Entry]) -> Vec<VersionJson> {
    entries
        .iter()
        .map(|e| VersionJson::new(clock, &e.key, e.revision, &e.value, e.last_modified, e.expires_at))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use kahuna_client::hlc;

    const NOW: u64 = 1_750_000_000_000;

    fn entry(key: &str, value: &[u8], revision: i64) -> Entry {
        Entry { key: key.into(), value: value.to_vec(), revision, expires_at: 0, last_modified: hlc::from_ms(NOW) }
    }

    #[test]
    fn buckets_list_entries_and_count_them() {
        let clock = Clock { now_ms: NOW, utc: true };
        let b = Bucket { bucket: "cfg".into(), keyspace: Keyspace::default() };
        let report = b.report(&clock, &[entry("cfg/a", b"1", 0), entry("cfg/bb", b"22", 4)]);
        let lines: Vec<&str> = report.human.lines().collect();
        assert!(lines[0].starts_with("KEY     REVISION  LAST MODIFIED"), "{}", report.human);
        assert!(lines[1].starts_with("cfg/a   0         2025-06-15 15:06:40.000 +00:00"), "{}", report.human);
        assert!(lines[2].ends_with("never    22"), "{}", report.human);
        assert_eq!(lines[3], "2 keys in bucket 'cfg'");
        assert!(report.json.starts_with(
            "{\"bucket\":\"cfg\",\"durability\":\"persistent\",\"count\":2,\"entries\":[{\"key\":\"cfg/a\""
        ));
        let empty = b.report(&clock, &[]);
        assert_eq!(empty.human, "no key in bucket 'cfg'\n");
        assert_eq!(empty.exit.code(), 0);
    }

    #[test]
    fn one_page_scans_print_the_next_cursor() {
        let clock = Clock { now_ms: NOW, utc: true };
        let s = Scan { prefix: "p".into(), limit: Some(1), cursor: None, keyspace: Keyspace { ephemeral: true } };
        let snapshot = hlc::from_ms(NOW) | 1;
        let report = s.report(&clock, &[entry("p1", b"x", 0)], snapshot, Some(&[0xab, 0x01]));
        assert!(
            report.human.ends_with(&format!(
                "1 key with prefix 'p' (ephemeral) at snapshot 2025-06-15 15:06:40.000 +00:00 (hlc {snapshot})\n\
                 more: --cursor ab01\n"
            )),
            "{}",
            report.human
        );
        assert!(report.json.ends_with(&format!("\"snapshot\":{snapshot},\"cursor\":\"ab01\"}}")), "{}", report.json);
        let last = s.report(&clock, &[], snapshot, None);
        assert!(last.json.ends_with("\"cursor\":null}"));
        assert!(!last.human.contains("more:"));
    }
}
