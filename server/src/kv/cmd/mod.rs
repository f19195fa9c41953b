//! One file per request type: validation and execution on the partition leader.

mod bucket;
mod delete;
mod extend;
mod get;
mod lock;
pub mod scan;
mod set;

use kahuna_schema::routing;

use super::{Error, Options, Request, Response, Service};

/// Checks every argument of `request`; the error names the argument and the problem.
pub fn validate(request: &Request, options: &Options) -> Result<(), Error> {
    match request {
        Request::Set(r) => set::validate(r, options),
        Request::Get(r) | Request::Exists(r) => get::validate(r),
        Request::Delete(r) => key("key", &r.key),
        Request::Extend(r) => extend::validate(r),
        Request::Bucket(r) => bucket::validate(r),
        Request::Scan(r) => scan::validate(r),
        Request::ScanPartition(r) => scan::validate_partition(r),
        Request::Lock(r) | Request::ExtendLock(r) => lock::validate(r),
        Request::Unlock(r) => lock::validate_unlock(r),
        Request::GetLock(r) => key("resource", &r.resource),
    }
}

/// Validates a key argument.
fn key(arg: &str, key: &str) -> Result<(), Error> {
    routing::validate_key(arg, key).map_err(Error::InvalidInput)
}

/// The partition serving `request` (not for `Scan`, which spans them all).
pub fn partition_of(request: &Request, count: u32) -> u32 {
    match request {
        Request::Set(r) => routing::partition_for_key(&r.key, count),
        Request::Get(r) | Request::Exists(r) => routing::partition_for_key(&r.key, count),
        Request::Delete(r) => routing::partition_for_key(&r.key, count),
        Request::Extend(r) => routing::partition_for_key(&r.key, count),
        Request::Bucket(r) => routing::partition_for_bucket(&r.bucket, count),
        Request::ScanPartition(r) => r.partition,
        Request::Lock(r) | Request::ExtendLock(r) => routing::partition_for_key(&r.resource, count),
        Request::Unlock(r) => routing::partition_for_key(&r.resource, count),
        Request::GetLock(r) => routing::partition_for_key(&r.resource, count),
        Request::Scan(_) => unreachable!("scans are coordinated, not routed"),
    }
}

/// True for requests that change state.
pub fn is_write(request: &Request) -> bool {
    matches!(
        request,
        Request::Set(_)
            | Request::Delete(_)
            | Request::Extend(_)
            | Request::Lock(_)
            | Request::ExtendLock(_)
            | Request::Unlock(_)
    )
}

/// Executes `request` on this node, which leads `partition`.
pub async fn execute_local(svc: &Service, partition: u32, request: &Request) -> Result<Response, Error> {
    match request {
        Request::Set(r) => set::execute(svc, partition, r).await,
        Request::Get(r) => get::execute(svc, partition, r, true).await,
        Request::Exists(r) => get::execute(svc, partition, r, false).await,
        Request::Delete(r) => delete::execute(svc, partition, r).await,
        Request::Extend(r) => extend::execute(svc, partition, r).await,
        Request::Bucket(r) => bucket::execute(svc, partition, r).await,
        Request::ScanPartition(r) => scan::execute_partition(svc, r).await,
        Request::Lock(r) => lock::lock(svc, partition, r).await,
        Request::ExtendLock(r) => lock::extend(svc, partition, r).await,
        Request::Unlock(r) => lock::unlock(svc, partition, r).await,
        Request::GetLock(r) => lock::get(svc, partition, r).await,
        Request::Scan(_) => unreachable!("scans are coordinated, not routed"),
    }
}

/// Expects a write result from a proposal.
fn write_result(result: crate::raft::CommandResult) -> Result<(bool, i64, u64), Error> {
    match result {
        crate::raft::CommandResult::Write { applied, revision, ts } => Ok((applied, revision, ts)),
        other => Err(Error::Internal(format!("unexpected command result {other:?}"))),
    }
}
