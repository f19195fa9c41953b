//! Reads: the latest version, a version at a timestamp, a retained revision, prefix scans.

use super::{Version, decode_record, decode_version_key, key_prefix, version_key};
use crate::storage::{Cf, Reader, Result, keys};

/// The outcome of a point read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lookup {
    /// True when a live value was found.
    pub found: bool,
    /// The version read: the live one when found; when not found, the dead version that decided
    /// it (tombstone or expired), if any, for its revision.
    pub version: Option<Version>,
}

impl Lookup {
    /// The revision to report: the version's, or -1 without one.
    pub fn revision(&self) -> i64 {
        self.version.as_ref().map_or(-1, |v| v.revision)
    }

    fn judge(version: Option<Version>, now: u64) -> Lookup {
        let found = version.as_ref().is_some_and(|v| v.is_live_at(now));
        Lookup { found, version }
    }
}

/// The newest version of `key` with `commit_ts <= at`.
pub(super) fn newest_at(r: &dyn Reader, partition: u32, key: &str, at: u64) -> Result<Option<Version>> {
    let from = version_key(partition, key, at);
    let to = keys::prefix_end(&key_prefix(partition, key)).expect("prefix ends with 00 00");
    match r.scan(Cf::Data, &from, &to).next() {
        None => Ok(None),
        Some(item) => {
            let (k, v) = item?;
            let (_, ts) = decode_version_key(partition, &k)?;
            Ok(Some(decode_record(ts, &v)?))
        }
    }
}

/// The newest version of `key` and the commit timestamps of its stored versions, newest first
/// (as many as the newest version counts; a record without a count counts as one).
///
/// Walks forward from the newest version and stops after the versions the key holds. Trimming
/// leaves a deletion marker behind the oldest version for every version it removed, and those
/// markers stay in RocksDB until compaction: a walk from the old end (as the search for the
/// oldest versions once was) crossed all of them, so a hot key's writes slowed down with every
/// write (1 key, 1 client: 1,000 to 120 puts/s within 15 s).
pub(super) fn head(r: &dyn Reader, partition: u32, key: &str) -> Result<Option<(Version, Vec<u64>)>> {
    let prefix = key_prefix(partition, key);
    let to = keys::prefix_end(&prefix).expect("prefix ends with 00 00");
    let mut scan = r.scan(Cf::Data, &prefix, &to);
    let Some(first) = scan.next() else { return Ok(None) };
    let (k, v) = first?;
    let (_, ts) = decode_version_key(partition, &k)?;
    let newest = decode_record(ts, &v)?;
    let mut stamps = Vec::with_capacity(newest.count.max(1) as usize);
    stamps.push(ts);
    for item in scan.take(newest.count.max(1) as usize - 1) {
        stamps.push(decode_version_key(partition, &item?.0)?.1);
    }
    Ok(Some((newest, stamps)))
}

/// Every version of `key`, newest first. Stops after as many versions as the newest one
/// records (its `count`), so it never walks into the deletion markers that trimming leaves
/// behind the oldest version.
pub(super) fn versions<'r>(r: &'r dyn Reader, partition: u32, key: &str) -> impl Iterator<Item = Result<Version>> + 'r {
    let prefix = key_prefix(partition, key);
    let to = keys::prefix_end(&prefix).expect("prefix ends with 00 00");
    let mut scan = r.scan(Cf::Data, &prefix, &to);
    // Versions still to read; unknown until the newest is read (a count of 0: no limit).
    let mut left: Option<u32> = None;
    std::iter::from_fn(move || {
        if left == Some(0) {
            return None;
        }
        let version = scan.next()?.and_then(|(k, v)| {
            let (_, ts) = decode_version_key(partition, &k)?;
            decode_record(ts, &v)
        });
        if let Ok(v) = &version {
            let remaining = left.get_or_insert(if v.count == 0 { u32::MAX } else { v.count });
            *remaining -= 1;
        }
        Some(version)
    })
}

/// The latest version of `key`, judged live or not at `now`.
pub fn get_latest(r: &dyn Reader, partition: u32, key: &str, now: u64) -> Result<Lookup> {
    Ok(Lookup::judge(newest_at(r, partition, key, u64::MAX)?, now))
}

/// The version of `key` visible at timestamp `at` (a snapshot read; expiry judged at `at`).
pub fn get_at(r: &dyn Reader, partition: u32, key: &str, at: u64) -> Result<Lookup> {
    Ok(Lookup::judge(newest_at(r, partition, key, at)?, at))
}

/// A retained version of `key` holding `revision`. History is returned whatever its expiry:
/// found = false only when that revision was never written or is no longer retained.
pub fn get_revision(r: &dyn Reader, partition: u32, key: &str, revision: i64) -> Result<Lookup> {
    for v in versions(r, partition, key) {
        let v = v?;
        if v.revision == revision && v.value.is_some() {
            return Ok(Lookup { found: true, version: Some(v) });
        }
        if v.revision < revision {
            break;
        }
    }
    Ok(Lookup { found: false, version: None })
}

/// One page of a prefix scan.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScanPage {
    /// Live keys and their visible versions, in key order.
    pub entries: Vec<(String, Version)>,
    /// True when keys after the last entry may match.
    pub more: bool,
}

/// Which keys a [`scan`] reads.
#[derive(Clone, Copy, Debug)]
pub struct Window<'a> {
    /// Keys start with this.
    pub prefix: &'a str,
    /// Keys sort after this (exclusive), if given.
    pub start_after: Option<&'a str>,
    /// At most this many entries.
    pub limit: usize,
}

/// Live keys of `window`, as visible at `at` and judged live at `now`. `filter` drops keys
/// (e.g. nested buckets) without counting them against the limit.
pub fn scan(
    r: &dyn Reader,
    partition: u32,
    window: Window<'_>,
    at: u64,
    now: u64,
    filter: &dyn Fn(&str) -> bool,
) -> Result<ScanPage> {
    let Window { prefix, start_after, limit } = window;
    let mut range_start = keys::partition_prefix(partition).to_vec();
    keys::escape_into(&mut range_start, prefix.as_bytes());
    let range_end = keys::prefix_end(&range_start).unwrap_or_else(|| vec![0xff; range_start.len() + 1]);
    if let Some(after) = start_after
        && after >= prefix
    {
        // Just past every version of `after`: escaped keys never contain `00 01`.
        let after_key = keys::prefix_end(&key_prefix(partition, after)).expect("ends with 00 00");
        range_start = range_start.max(after_key);
    }
    let mut page = ScanPage::default();
    let mut current: Option<String> = None; // the key whose visible version was already decided
    for item in r.scan(Cf::Data, &range_start, &range_end) {
        let (k, v) = item?;
        let (key, ts) = decode_version_key(partition, &k)?;
        if current.as_deref() == Some(key.as_str()) || ts > at {
            continue;
        }
        current = Some(key.clone());
        let version = decode_record(ts, &v)?;
        if !version.is_live_at(now) || !filter(&key) {
            continue;
        }
        if page.entries.len() == limit {
            page.more = true;
            break;
        }
        page.entries.push((key, version));
    }
    Ok(page)
}

/// What the expiry sweep found in one stretch of a partition.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Survey {
    /// Keys whose latest version died (deleted or expired) at or before the cut-off.
    pub dead: Vec<String>,
    /// Keys holding non-latest versions older than the age cut-off.
    pub with_old_versions: Vec<String>,
    /// Where the next survey continues; `None` after the last key.
    pub next: Option<String>,
}

/// Surveys up to `max_keys` keys of `partition` after `start_after` for the sweep.
pub fn survey(
    r: &dyn Reader,
    partition: u32,
    start_after: Option<&str>,
    max_keys: usize,
    dead_before: u64,
    old_before: Option<u64>,
) -> Result<Survey> {
    let (mut from, to) = keys::partition_range(partition);
    if let Some(after) = start_after {
        from = keys::prefix_end(&key_prefix(partition, after)).expect("ends with 00 00");
    }
    let mut survey = Survey::default();
    let mut current: Option<String> = None;
    let mut seen = 0usize;
    let mut old_noted = false;
    for item in r.scan(Cf::Data, &from, &to) {
        let (k, v) = item?;
        let (key, ts) = decode_version_key(partition, &k)?;
        if current.as_deref() == Some(key.as_str()) {
            if !old_noted && old_before.is_some_and(|b| ts < b) {
                survey.with_old_versions.push(key);
                old_noted = true;
            }
            continue;
        }
        if seen == max_keys {
            survey.next = current;
            return Ok(survey);
        }
        seen += 1;
        old_noted = false;
        let latest = decode_record(ts, &v)?;
        if latest.died_at().is_some_and(|t| t <= dead_before) {
            survey.dead.push(key.clone());
        }
        current = Some(key);
    }
    Ok(survey)
}
