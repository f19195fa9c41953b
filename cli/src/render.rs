//! How results look: for people by default, one JSON object per result with `--json`.
//!
//! Every command returns a [`Report`] holding both renderings; the caller prints the one the
//! user asked for. Building both is cheap and keeps commands free of output-mode branches.
//!
//! Human output shows what a person needs to act on a key:
//!
//! ```text
//!   key            config/flags/dark-mode
//!   value          on
//!   revision       3
//!   expires        2025-06-01 12:00:10.123 +02:00 (in 9.8s)
//!   last modified  2025-06-01 12:00:00.123 +02:00 (hlc 114607521800060928)
//! ```
//!
//! - Times in the machine's local time zone, to the millisecond, with the offset; the HLC
//!   number beside `last_modified` is what `get --as-of` takes.
//! - Values as text when they are UTF-8 without control characters, as a quoted escaped
//!   string when they are UTF-8 with some (`"a\nb"`), else as `hex:…` with their length.
//!   `get --raw` writes the exact bytes instead.
//! - Lists (bucket, scan, history) as aligned columns with a header, value last.
//!
//! JSON output is one object per line, with field names that are part of the CLI's contract
//! (see `docs/cli.md`). Times appear twice: the HLC number (`last_modified`, `expires_at`;
//! 0 = never) and an RFC 3339 UTC string (`last_modified_time`, `expires_at_time`; null when
//! 0). Values are a string plus `value_encoding`: `"utf8"`, or `"base64"` for other bytes.
//!
//! Rendering is a pure function of the result and a [`Clock`] (now and the time zone), so
//! unit tests pin the exact text.

use std::fmt::Write as _;
use std::time::Duration;

use base64::Engine as _;
use chrono::{DateTime, Local, SecondsFormat, Utc};
use kahuna_client::hlc;
use serde::Serialize;

use crate::exit::Exit;
use crate::parse::{hex, now_ms};

/// Width of the label column of key/value blocks.
const LABEL_WIDTH: usize = 15;

/// The result of one command, in both renderings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    /// `Ok`, or `NotMet` when a key was not found or a condition not met.
    pub exit: Exit,
    /// The text for people, ending with a newline.
    pub human: String,
    /// One JSON object, without a newline.
    pub json: String,
    /// Exact bytes to write instead of either rendering (`get --raw`).
    pub raw: Option<Vec<u8>>,
}

impl Report {
    /// A report from a met flag, the human text and a serializable JSON record.
    pub fn new(met: bool, human: String, json: &impl Serialize) -> Report {
        // Serializing plain structs of strings and numbers cannot fail.
        let json = serde_json::to_string(json).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"));
        Report { exit: Exit::met(met), human, json, raw: None }
    }
}

/// The present moment and time zone that human output is rendered against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Clock {
    /// Unix milliseconds now.
    pub now_ms: u64,
    /// Render wall times in UTC instead of the local time zone (tests).
    pub utc: bool,
}

impl Clock {
    /// The machine's clock and local time zone.
    pub fn local() -> Clock {
        Clock { now_ms: now_ms(), utc: false }
    }

    /// A wall time (Unix ms) as `2025-06-01 12:00:00.123 +02:00`.
    pub fn wall(&self, ms: u64) -> String {
        let Some(t) = DateTime::<Utc>::from_timestamp_millis(ms as i64) else {
            return format!("{ms} ms after 1970");
        };
        const FORMAT: &str = "%Y-%m-%d %H:%M:%S%.3f %:z";
        if self.utc { t.format(FORMAT).to_string() } else { t.with_timezone(&Local).format(FORMAT).to_string() }
    }

    /// An HLC timestamp as its wall time and number: `2025-… +02:00 (hlc 75…)`; `-` when 0.
    pub fn hlc(&self, ts: u64) -> String {
        if ts == 0 { "-".to_string() } else { format!("{} (hlc {ts})", self.wall(hlc::physical_ms(ts))) }
    }

    /// An expiry as its local time and the time left: `… (in 9.8s)`; `never` when 0.
    pub fn expiry(&self, expires_at: u64) -> String {
        if expires_at == 0 {
            return "never".to_string();
        }
        let at = hlc::physical_ms(expires_at);
        format!("{} ({})", self.wall(at), self.remaining(expires_at))
    }

    /// The time left before an expiry, short: `in 9.8s`, `in 2m 30s`, `expired 3s ago`, `never`.
    pub fn remaining(&self, expires_at: u64) -> String {
        if expires_at == 0 {
            return "never".to_string();
        }
        let at = hlc::physical_ms(expires_at);
        if at > self.now_ms {
            format!("in {}", short(at - self.now_ms))
        } else {
            format!("expired {} ago", short(self.now_ms - at))
        }
    }

    /// Milliseconds left before an expiry (negative once passed); `None` when it never expires.
    pub fn ttl_ms(&self, expires_at: u64) -> Option<i64> {
        (expires_at != 0).then(|| hlc::physical_ms(expires_at) as i64 - self.now_ms as i64)
    }
}

/// A duration in milliseconds, rounded for reading: `950ms`, `9.8s`, `2m 30s`, `3h 2m`.
pub fn short(ms: u64) -> String {
    match ms {
        0..1_000 => format!("{ms}ms"),
        1_000..60_000 => format!("{}.{}s", ms / 1_000, ms % 1_000 / 100),
        60_000..3_600_000 => humantime::format_duration(Duration::from_secs(ms / 1_000)).to_string(),
        _ => humantime::format_duration(Duration::from_secs(ms / 60_000 * 60)).to_string(),
    }
}

/// An HLC timestamp as an RFC 3339 UTC string for JSON; `None` when 0.
pub fn rfc3339(ts: u64) -> Option<String> {
    if ts == 0 {
        return None;
    }
    DateTime::<Utc>::from_timestamp_millis(hlc::physical_ms(ts) as i64)
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Millis, true))
}

/// A value for people, on one line (see the module docs).
pub fn value_text(value: &[u8]) -> String {
    match std::str::from_utf8(value) {
        Ok(text) if !text.chars().any(char::is_control) => text.to_string(),
        Ok(text) => format!("{text:?}"),
        Err(_) => format!("hex:{} ({} byte{})", hex(value), value.len(), if value.len() == 1 { "" } else { "s" }),
    }
}

/// A value for JSON: the string and its encoding (`utf8` or `base64`).
pub fn value_json(value: &[u8]) -> (String, &'static str) {
    match std::str::from_utf8(value) {
        Ok(text) => (text.to_string(), "utf8"),
        Err(_) => (base64::engine::general_purpose::STANDARD.encode(value), "base64"),
    }
}

/// One version of one key in JSON: shared by get, history, bucket and scan.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct VersionJson {
    /// The key.
    pub key: String,
    /// The version's revision.
    pub revision: i64,
    /// The value, as text or base64.
    pub value: String,
    /// `utf8` or `base64`.
    pub value_encoding: &'static str,
    /// HLC of the write.
    pub last_modified: u64,
    /// RFC 3339 UTC time of the write.
    pub last_modified_time: Option<String>,
    /// HLC of the expiry; 0 = never.
    pub expires_at: u64,
    /// RFC 3339 UTC time of the expiry; null = never.
    pub expires_at_time: Option<String>,
    /// Milliseconds left before the expiry when rendered; null = never.
    pub ttl_ms: Option<i64>,
}

impl VersionJson {
    /// The JSON record of a version.
    pub fn new(clock: &Clock, key: &str, revision: i64, value: &[u8], last_modified: u64, expires_at: u64) -> Self {
        let (value, value_encoding) = value_json(value);
        VersionJson {
            key: key.to_string(),
            revision,
            value,
            value_encoding,
            last_modified,
            last_modified_time: rfc3339(last_modified),
            expires_at,
            expires_at_time: rfc3339(expires_at),
            ttl_ms: clock.ttl_ms(expires_at),
        }
    }
}

/// `label  value` lines with the labels padded to one column.
pub fn fields(rows: &[(&str, String)]) -> String {
    let mut out = String::new();
    for (label, value) in rows {
        let _ = writeln!(out, "{label:<LABEL_WIDTH$}{value}");
    }
    out
}

/// The columns of a list of versions, for [`table`]; see [`version_row`].
pub const VERSION_COLUMNS: [&str; 5] = ["REVISION", "LAST MODIFIED", "HLC", "EXPIRES", "VALUE"];

/// One version as a row under [`VERSION_COLUMNS`].
pub fn version_row(clock: &Clock, revision: i64, value: &[u8], last_modified: u64, expires_at: u64) -> Vec<String> {
    vec![
        revision.to_string(),
        clock.wall(hlc::physical_ms(last_modified)),
        last_modified.to_string(),
        clock.expiry(expires_at),
        value_text(value),
    ]
}

/// Aligned columns under a header; the last column is not padded.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let header: Vec<String> = header.iter().map(|h| h.to_string()).collect();
    for row in std::iter::once(&header).chain(rows) {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i + 1 == row.len() {
                line.push_str(cell);
            } else {
                let _ = write!(line, "{cell:<width$}  ", width = widths[i]);
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// "current revision 3", or "never written" for revision -1.
pub fn current_revision(revision: i64) -> String {
    if revision < 0 { "never written".to_string() } else { format!("current revision {revision}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2025-06-15 15:06:40.000 UTC.
    const NOW: u64 = 1_750_000_000_000;

    fn clock() -> Clock {
        Clock { now_ms: NOW, utc: true }
    }

    #[test]
    fn times_show_wall_clock_and_hlc() {
        let c = clock();
        assert_eq!(c.wall(NOW + 123), "2025-06-15 15:06:40.123 +00:00");
        let ts = hlc::from_ms(NOW) | 5;
        assert_eq!(c.hlc(ts), format!("2025-06-15 15:06:40.000 +00:00 (hlc {ts})"));
        assert_eq!(c.hlc(0), "-");
        assert_eq!(rfc3339(ts).as_deref(), Some("2025-06-15T15:06:40.000Z"));
        assert_eq!(rfc3339(0), None);
    }

    #[test]
    fn expiries_show_local_time_and_time_left() {
        let c = clock();
        assert_eq!(c.expiry(0), "never");
        let soon = hlc::from_ms(NOW + 9_876);
        assert_eq!(c.expiry(soon), "2025-06-15 15:06:49.876 +00:00 (in 9.8s)");
        assert_eq!(c.remaining(hlc::from_ms(NOW - 3_000)), "expired 3.0s ago");
        assert_eq!(c.ttl_ms(soon), Some(9_876));
        assert_eq!(c.ttl_ms(0), None);
        assert_eq!(short(950), "950ms");
        assert_eq!(short(150_000), "2m 30s");
        assert_eq!(short(3 * 3_600_000 + 125_000), "3h 2m");
    }

    #[test]
    fn values_are_text_escaped_text_or_hex() {
        assert_eq!(value_text(b"hello world"), "hello world");
        assert_eq!(value_text("héllo".as_bytes()), "héllo");
        assert_eq!(value_text(b"a\nb"), "\"a\\nb\"");
        assert_eq!(value_text(&[0xff, 0x00, 0x10]), "hex:ff0010 (3 bytes)");
        assert_eq!(value_text(b""), "");
        assert_eq!(value_json(b"a\nb"), ("a\nb".to_string(), "utf8"));
        assert_eq!(value_json(&[0xff, 0x00, 0x10]), ("/wAQ".to_string(), "base64"));
    }

    #[test]
    fn version_json_has_stable_field_names_in_order() {
        let ts = hlc::from_ms(NOW);
        let v = VersionJson::new(&clock(), "a/b", 2, b"v", ts, hlc::from_ms(NOW + 5_000));
        let json = serde_json::to_string(&v).unwrap();
        assert_eq!(
            json,
            format!(
                "{{\"key\":\"a/b\",\"revision\":2,\"value\":\"v\",\"value_encoding\":\"utf8\",\
                 \"last_modified\":{ts},\"last_modified_time\":\"2025-06-15T15:06:40.000Z\",\
                 \"expires_at\":{},\"expires_at_time\":\"2025-06-15T15:06:45.000Z\",\"ttl_ms\":5000}}",
                hlc::from_ms(NOW + 5_000)
            )
        );
        let never = serde_json::to_string(&VersionJson::new(&clock(), "k", 0, b"", ts, 0)).unwrap();
        assert!(never.ends_with("\"expires_at\":0,\"expires_at_time\":null,\"ttl_ms\":null}"), "{never}");
    }

    #[test]
    fn fields_and_tables_align() {
        assert_eq!(fields(&[("key", "a".into()), ("revision", "3".into())]), "key            a\nrevision       3\n");
        let t = table(&["KEY", "REVISION", "VALUE"], &[vec!["a/long".into(), "0".into(), "x".into()]]);
        assert_eq!(t, "KEY     REVISION  VALUE\na/long  0         x\n");
        let empty_value = table(&["KEY", "VALUE"], &[vec!["k".into(), String::new()]]);
        assert_eq!(empty_value, "KEY  VALUE\nk\n");
        assert_eq!(current_revision(-1), "never written");
        assert_eq!(current_revision(4), "current revision 4");
    }

    #[test]
    fn reports_carry_the_exit_class() {
        let r = Report::new(false, "x\n".into(), &serde_json::json!({"found": false}));
        assert_eq!(r.exit, Exit::NotMet);
        assert_eq!(r.json, "{\"found\":false}");
    }
}
