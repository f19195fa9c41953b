//! `try_set`, compare-value-and-set and compare-revision-and-set.

use kahuna_schema::flags;

use super::{key, write_result};
use crate::kv::ephemeral::Admit;
use crate::kv::{Durability, Error, Options, Response, Service, SetRequest};
use crate::mvcc::{self, Condition};
use crate::raft::Command;

pub(super) fn validate(r: &SetRequest, options: &Options) -> Result<(), Error> {
    key("key", &r.key)?;
    if r.value.len() > options.max_value_bytes {
        return Err(Error::InvalidInput(format!(
            "value is {} bytes long; the limit is {} bytes (max-value-bytes)",
            r.value.len(),
            options.max_value_bytes
        )));
    }
    if r.expires_ms < 0 {
        return Err(Error::InvalidInput(format!("expires_ms must not be negative, got {}", r.expires_ms)));
    }
    let unknown = r.flags & !flags::ALL;
    if unknown != 0 {
        return Err(Error::InvalidInput(format!("flags holds unknown bits {unknown:#x} (known: {:#x})", flags::ALL)));
    }
    if (r.flags & flags::CONDITIONS).count_ones() > 1 {
        return Err(Error::InvalidInput(format!(
            "flags may hold at most one condition (SET_IF_EXISTS, SET_IF_NOT_EXISTS, \
             SET_IF_EQUAL_TO_VALUE, SET_IF_EQUAL_TO_REVISION), got {:#x}",
            r.flags
        )));
    }
    if r.flags & flags::SET_IF_EQUAL_TO_VALUE != 0 && r.compare_value.len() > options.max_value_bytes {
        return Err(Error::InvalidInput(format!(
            "compare_value is {} bytes long; the limit is {} bytes",
            r.compare_value.len(),
            options.max_value_bytes
        )));
    }
    Ok(())
}

fn condition(r: &SetRequest) -> Condition {
    let f = r.flags;
    if f & flags::SET_IF_EXISTS != 0 {
        Condition::IfExists
    } else if f & flags::SET_IF_NOT_EXISTS != 0 {
        Condition::IfNotExists
    } else if f & flags::SET_IF_EQUAL_TO_VALUE != 0 {
        Condition::IfValue(r.compare_value.clone())
    } else if f & flags::SET_IF_EQUAL_TO_REVISION != 0 {
        Condition::IfRevision(r.compare_revision)
    } else {
        Condition::None
    }
}

pub(super) async fn execute(svc: &Service, partition: u32, r: &SetRequest) -> Result<Response, Error> {
    let no_revision = r.flags & flags::NO_REVISION != 0;
    let expires_ms = r.expires_ms as u64;
    match r.durability {
        Durability::Persistent => {
            let command = Command::Set {
                key: r.key.clone(),
                value: r.value.clone(),
                expires_ms,
                condition: condition(r),
                no_revision,
            };
            let (set, revision, ts) = write_result(svc.cluster().partition(partition).propose(command).await?)?;
            Ok(Response::Set { set, revision, last_modified: if set { ts } else { 0 } })
        }
        Durability::Ephemeral => {
            let condition = condition(r);
            let retention = svc.options().retention;
            svc.ephemeral_write(partition, Admit::WithinCap, |st, ts, _term| {
                let args = mvcc::SetArgs {
                    key: &r.key,
                    value: &r.value,
                    expires_at: crate::hlc::ttl_expiry(ts, expires_ms),
                    condition: &condition,
                    no_revision,
                };
                let o = mvcc::set(st, &mut mvcc::Heads::disabled(), partition, &args, ts, retention)?;
                Ok(Response::Set {
                    set: o.applied,
                    revision: o.revision,
                    last_modified: if o.applied { ts } else { 0 },
                })
            })
            .await
        }
    }
}
