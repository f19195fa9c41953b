//! `get_by_bucket`: every live key of one bucket, a consistent single-partition read.

use kahuna_schema::routing;

use super::get::entry;
use crate::kv::{BucketRequest, Durability, Error, Response, Service};
use crate::mvcc::{self, Lookup};
use crate::storage::Reader;

pub(super) fn validate(r: &BucketRequest) -> Result<(), Error> {
    if r.bucket.len() > routing::MAX_KEY_BYTES {
        return Err(Error::InvalidInput(format!(
            "bucket is {} bytes long; the limit is {} bytes",
            r.bucket.len(),
            routing::MAX_KEY_BYTES
        )));
    }
    if r.bucket.starts_with(routing::RESERVED_PREFIX) {
        return Err(Error::InvalidInput(format!(
            "bucket starts with the reserved prefix '{}'",
            routing::RESERVED_PREFIX
        )));
    }
    Ok(())
}

fn read(
    engine: &dyn Reader,
    partition: u32,
    bucket: &str,
    now: u64,
    max: usize,
    max_bytes: usize,
) -> Result<Vec<crate::kv::Entry>, Error> {
    let prefix = format!("{bucket}/");
    let skip = prefix.len();
    let direct_child = move |k: &str| !k[skip..].contains('/');
    let window = mvcc::Window { prefix: &prefix, start_after: None, limit: max };
    let page = mvcc::scan(engine, partition, window, u64::MAX, now, &direct_child)?;
    if page.more {
        return Err(Error::InvalidInput(format!(
            "bucket '{bucket}' holds more than {max} keys; read it page by page with scan_by_prefix('{prefix}')"
        )));
    }
    let entries: Vec<crate::kv::Entry> = page
        .entries
        .into_iter()
        .map(|(key, version)| entry(&key, &Lookup { found: true, version: Some(version) }, true))
        .collect();
    let bytes: usize = entries.iter().map(|e| e.key.len() + e.value.len()).sum();
    if bytes > max_bytes {
        return Err(Error::InvalidInput(format!(
            "bucket '{bucket}' holds {bytes} bytes, more than one response may carry ({max_bytes}); \
             read it page by page with scan_by_prefix('{prefix}')"
        )));
    }
    Ok(entries)
}

pub(super) async fn execute(svc: &Service, partition: u32, r: &BucketRequest) -> Result<Response, Error> {
    let (max, max_bytes) = (svc.options().bucket_max_entries, svc.options().bucket_max_bytes);
    let entries = match r.durability {
        Durability::Persistent => {
            let part = svc.cluster().partition(partition);
            part.read_barrier().await?;
            read(&*part.view().engine, partition, &r.bucket, svc.clock().now(), max, max_bytes)?
        }
        Durability::Ephemeral => {
            svc.ephemeral_read(partition, |engine, now, _| read(engine, partition, &r.bucket, now, max, max_bytes))
                .await?
        }
    };
    Ok(Response::Bucket(entries))
}
