//! `scan_by_prefix`: ordered pages across every partition, all read at one snapshot timestamp.
//!
//! The node that receives the scan coordinates it: the first page picks the snapshot timestamp
//! `T` (this node's clock), asks every partition leader for up to `limit` keys after the
//! cursor as of `T`, merges, and returns the first `limit` with a cursor holding `T` and the
//! last key. A leader first makes `T` stable (its clock passes `T` and, for Persistent data, an
//! `Advance` command guarantees nothing can still commit at or below `T`), so later pages, from
//! any node, see the same snapshot.

use futures::future::join_all;
use kahuna_schema::routing;
use serde::{Deserialize, Serialize};

use super::get::entry;
use crate::kv::{
    Context, Durability, Entry, Error, Reply, Request, Response, ScanPartitionRequest, ScanRequest, Service,
};
use crate::mvcc::{self, Lookup};
use crate::storage::Reader;

#[derive(Serialize, Deserialize)]
struct Cursor {
    prefix_hash: u64,
    snapshot: u64,
    after: String,
}

fn prefix_hash(prefix: &str) -> u64 {
    xxhash_rust::xxh3::xxh3_64(prefix.as_bytes())
}

fn decode_cursor(r: &ScanRequest) -> Result<Option<Cursor>, Error> {
    if r.cursor.is_empty() {
        return Ok(None);
    }
    let cursor: Cursor = postcard::from_bytes(&r.cursor)
        .map_err(|_| Error::InvalidInput("cursor is not a cursor returned by scan_by_prefix".into()))?;
    if cursor.prefix_hash != prefix_hash(&r.prefix) {
        return Err(Error::InvalidInput("cursor belongs to a scan of another prefix".into()));
    }
    Ok(Some(cursor))
}

fn check_prefix(prefix: &str) -> Result<(), Error> {
    if prefix.len() > routing::MAX_KEY_BYTES {
        return Err(Error::InvalidInput(format!(
            "prefix is {} bytes long; the limit is {} bytes",
            prefix.len(),
            routing::MAX_KEY_BYTES
        )));
    }
    Ok(())
}

pub(super) fn validate(r: &ScanRequest) -> Result<(), Error> {
    check_prefix(&r.prefix)?;
    decode_cursor(r).map(|_| ())
}

pub(super) fn validate_partition(r: &ScanPartitionRequest) -> Result<(), Error> {
    check_prefix(&r.prefix)
}

/// Runs one page of a scan from this node.
pub async fn coordinate(svc: &Service, r: &ScanRequest, ctx: Context) -> Result<Response, Error> {
    let options = svc.options();
    let limit = if r.limit == 0 { options.scan_default_limit } else { r.limit.min(options.scan_max_limit) };
    let (snapshot, after) = match decode_cursor(r)? {
        Some(c) => (c.snapshot, Some(c.after)),
        None => (svc.clock().now(), None),
    };
    let count = svc.cluster().partition_count();
    let pages = join_all((0..count).map(|p| {
        let request = Request::ScanPartition(ScanPartitionRequest {
            partition: p,
            prefix: r.prefix.clone(),
            start_after: after.clone(),
            limit,
            snapshot,
            durability: r.durability,
        });
        svc.route(p, request, Context { route: None, ..ctx })
    }))
    .await;
    let mut entries = Vec::new();
    let mut more = false;
    // The smallest last key among partitions that stopped early: beyond it, a partition may
    // hold keys it did not return, so the merged page must end there.
    let mut boundary: Option<String> = None;
    for Reply { result, .. } in pages {
        match result? {
            Response::ScanPartition { entries: e, more: m } => {
                if m {
                    more = true;
                    if let Some(last) = e.last()
                        && boundary.as_ref().is_none_or(|b| last.key < *b)
                    {
                        boundary = Some(last.key.clone());
                    }
                }
                entries.extend(e);
            }
            other => return Err(Error::Internal(format!("unexpected scan reply {other:?}"))),
        }
    }
    entries.sort_by(|a, b| a.key.cmp(&b.key));
    if let Some(b) = &boundary {
        entries.retain(|e| e.key <= *b);
    }
    let mut bytes = 0usize;
    let keep = entries
        .iter()
        .position(|e| {
            bytes += e.key.len() + e.value.len();
            bytes > options.scan_max_page_bytes
        })
        .map_or(entries.len(), |i| i.max(1))
        .min(limit as usize);
    if entries.len() > keep {
        entries.truncate(keep);
        more = true;
    }
    let cursor = match (more, entries.last()) {
        (true, Some(last)) => {
            postcard::to_allocvec(&Cursor { prefix_hash: prefix_hash(&r.prefix), snapshot, after: last.key.clone() })
                .expect("cursor serializes")
        }
        _ => Vec::new(),
    };
    Ok(Response::Scan { entries, cursor, snapshot })
}

fn read(engine: &dyn Reader, r: &ScanPartitionRequest, max_bytes: usize) -> Result<Response, Error> {
    let window = mvcc::Window { prefix: &r.prefix, start_after: r.start_after.as_deref(), limit: r.limit as usize };
    let page = mvcc::scan(engine, r.partition, window, r.snapshot, r.snapshot, &|_| true)?;
    let mut more = page.more;
    let mut bytes = 0usize;
    let mut entries: Vec<Entry> = Vec::with_capacity(page.entries.len());
    for (key, version) in page.entries {
        if bytes > max_bytes {
            more = true;
            break;
        }
        let e = entry(&key, &Lookup { found: true, version: Some(version) }, true);
        bytes += e.key.len() + e.value.len();
        entries.push(e);
    }
    Ok(Response::ScanPartition { entries, more })
}

/// Reads one partition's share of a scan page on its leader.
pub async fn execute_partition(svc: &Service, r: &ScanPartitionRequest) -> Result<Response, Error> {
    match r.durability {
        Durability::Persistent => {
            let part = svc.cluster().partition(r.partition);
            part.read_barrier().await?;
            svc.close_timestamp(r.partition, r.snapshot, r.durability, "cursor").await?;
            read(&*part.view().engine, r, svc.options().scan_max_page_bytes)
        }
        Durability::Ephemeral => {
            svc.close_timestamp(r.partition, r.snapshot, r.durability, "cursor").await?;
            let max = svc.options().scan_max_page_bytes;
            svc.ephemeral_read(r.partition, |engine, _, _| read(engine, r, max)).await
        }
    }
}
