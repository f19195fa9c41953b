//! `try_get`, `try_get_revision`, `try_get_as_of` and `try_exists`.

use super::key;
use crate::kv::{Durability, Entry, Error, GetRequest, Response, Service};
use crate::mvcc::{self, Lookup};

pub(super) fn validate(r: &GetRequest) -> Result<(), Error> {
    key("key", &r.key)?;
    if r.revision < -1 {
        return Err(Error::InvalidInput(format!("revision must be -1 (latest) or >= 0, got {}", r.revision)));
    }
    if r.revision >= 0 && r.as_of > 0 {
        return Err(Error::InvalidInput("revision and as_of cannot be combined: read by one or the other".into()));
    }
    Ok(())
}

/// The entry a lookup reports: the live version, or just the revision of a miss.
pub(super) fn entry(key: &str, lookup: &Lookup, with_value: bool) -> Entry {
    match &lookup.version {
        Some(v) if lookup.found => Entry {
            key: key.to_string(),
            value: if with_value { v.value.clone().unwrap_or_default() } else { Vec::new() },
            revision: v.revision,
            expires_at: v.expires_at,
            last_modified: v.ts,
        },
        _ => Entry { key: key.to_string(), revision: lookup.revision(), ..Entry::default() },
    }
}

fn lookup(engine: &dyn crate::storage::Reader, partition: u32, r: &GetRequest, now: u64) -> Result<Lookup, Error> {
    Ok(if r.as_of > 0 {
        mvcc::get_at(engine, partition, &r.key, r.as_of)?
    } else if r.revision >= 0 {
        mvcc::get_revision(engine, partition, &r.key, r.revision)?
    } else {
        mvcc::get_latest(engine, partition, &r.key, now)?
    })
}

pub(super) async fn execute(
    svc: &Service,
    partition: u32,
    r: &GetRequest,
    with_value: bool,
) -> Result<Response, Error> {
    let found = match r.durability {
        Durability::Persistent => {
            let part = svc.cluster().partition(partition);
            part.read_barrier().await?;
            if r.as_of > 0 {
                svc.close_timestamp(partition, r.as_of, r.durability, "as_of").await?;
            }
            lookup(&*part.view().engine, partition, r, svc.clock().now())?
        }
        Durability::Ephemeral => {
            if r.as_of > 0 {
                svc.close_timestamp(partition, r.as_of, r.durability, "as_of").await?;
            }
            svc.ephemeral_read(partition, |engine, now, _| lookup(engine, partition, r, now)).await?
        }
    };
    Ok(Response::Get { found: found.found, entry: entry(&r.key, &found, with_value) })
}
