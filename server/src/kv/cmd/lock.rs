//! `try_lock`, `try_extend_lock`, `unlock` and `get_lock`: leased locks with fencing tokens.

use super::key;
use crate::kv::ephemeral::Admit;
use crate::kv::{Durability, Error, GetLockRequest, LockRequest, Response, Service, UnlockRequest};
use crate::locks::{self, At, Outcome};
use crate::raft::{Command, CommandResult};

/// Longest owner id, in bytes.
const MAX_OWNER_BYTES: usize = 1024;

fn owner(owner: &[u8]) -> Result<(), Error> {
    if owner.is_empty() {
        return Err(Error::InvalidInput("owner must not be empty".into()));
    }
    if owner.len() > MAX_OWNER_BYTES {
        return Err(Error::InvalidInput(format!(
            "owner is {} bytes long; the limit is {MAX_OWNER_BYTES} bytes",
            owner.len()
        )));
    }
    Ok(())
}

pub(super) fn validate(r: &LockRequest) -> Result<(), Error> {
    key("resource", &r.resource)?;
    owner(&r.owner)?;
    if r.expires_ms <= 0 {
        return Err(Error::InvalidInput(format!("expires_ms must be greater than 0, got {}", r.expires_ms)));
    }
    Ok(())
}

pub(super) fn validate_unlock(r: &UnlockRequest) -> Result<(), Error> {
    key("resource", &r.resource)?;
    owner(&r.owner)
}

fn guard_ms(svc: &Service) -> u64 {
    svc.options().max_clock_offset.as_millis() as u64
}

/// Runs a lock command on the partition: through Raft, or in the leader's memory (`admit`:
/// whether the node's Ephemeral memory cap applies).
async fn run(
    svc: &Service,
    partition: u32,
    durability: Durability,
    command: Command,
    admit: Admit,
    in_memory: impl FnOnce(&mut crate::storage::Staged<'_>, At) -> crate::storage::Result<Outcome>,
) -> Result<Outcome, Error> {
    match durability {
        Durability::Persistent => match svc.cluster().partition(partition).propose(command).await? {
            CommandResult::Lock(outcome) => Ok(outcome),
            other => Err(Error::Internal(format!("unexpected command result {other:?}"))),
        },
        // Ephemeral records all date from the current term (the store empties on a new term).
        Durability::Ephemeral => {
            svc.ephemeral_write(partition, admit, |st, ts, term| in_memory(st, At { ts, term, guard_ms: 0 })).await
        }
    }
}

fn not_held(resource: &str) -> Error {
    Error::LockDoesNotExist(format!("resource '{resource}' has no live lock"))
}

fn held_by_other(resource: &str) -> Error {
    Error::InvalidOwner(format!("resource '{resource}' is locked by another owner"))
}

pub(super) async fn lock(svc: &Service, partition: u32, r: &LockRequest) -> Result<Response, Error> {
    let ms = r.expires_ms as u64;
    let command =
        Command::Lock { resource: r.resource.clone(), owner: r.owner.clone(), expires_ms: ms, guard_ms: guard_ms(svc) };
    let outcome = run(svc, partition, r.durability, command, Admit::WithinCap, |st, at| {
        locks::lock(st, partition, &r.resource, &r.owner, ms, at)
    })
    .await?;
    match outcome {
        Outcome::Locked { token } => Ok(Response::Lock { locked: true, fencing_token: token }),
        Outcome::Busy => Ok(Response::Lock { locked: false, fencing_token: 0 }),
        other => Err(Error::Internal(format!("unexpected lock outcome {other:?}"))),
    }
}

pub(super) async fn extend(svc: &Service, partition: u32, r: &LockRequest) -> Result<Response, Error> {
    let ms = r.expires_ms as u64;
    let command = Command::ExtendLock {
        resource: r.resource.clone(),
        owner: r.owner.clone(),
        expires_ms: ms,
        guard_ms: guard_ms(svc),
    };
    let outcome = run(svc, partition, r.durability, command, Admit::WithinCap, |st, at| {
        locks::extend(st, partition, &r.resource, &r.owner, ms, at)
    })
    .await?;
    match outcome {
        Outcome::Extended { token } => Ok(Response::ExtendLock { fencing_token: token }),
        Outcome::DoesNotExist => Err(not_held(&r.resource)),
        Outcome::InvalidOwner => Err(held_by_other(&r.resource)),
        other => Err(Error::Internal(format!("unexpected extend outcome {other:?}"))),
    }
}

pub(super) async fn unlock(svc: &Service, partition: u32, r: &UnlockRequest) -> Result<Response, Error> {
    let command = Command::Unlock { resource: r.resource.clone(), owner: r.owner.clone() };
    let outcome = run(svc, partition, r.durability, command, Admit::Always, |st, _| {
        locks::unlock(st, partition, &r.resource, &r.owner)
    })
    .await?;
    match outcome {
        Outcome::Unlocked => Ok(Response::Unlock),
        Outcome::DoesNotExist => Err(Error::LockDoesNotExist(format!("resource '{}' is not locked", r.resource))),
        Outcome::InvalidOwner => Err(held_by_other(&r.resource)),
        other => Err(Error::Internal(format!("unexpected unlock outcome {other:?}"))),
    }
}

pub(super) async fn get(svc: &Service, partition: u32, r: &GetLockRequest) -> Result<Response, Error> {
    let record = match r.durability {
        Durability::Persistent => {
            let part = svc.cluster().partition(partition);
            part.read_barrier().await?;
            let at = At { ts: svc.clock().now(), term: part.leadership().term, guard_ms: guard_ms(svc) };
            locks::get(&*part.view().engine, partition, &r.resource, at)?
        }
        Durability::Ephemeral => {
            svc.ephemeral_read(partition, |engine, now, term| {
                Ok(locks::get(engine, partition, &r.resource, At { ts: now, term, guard_ms: 0 })?)
            })
            .await?
        }
    };
    let record = record.ok_or_else(|| not_held(&r.resource))?;
    Ok(Response::GetLock { owner: record.owner, expires_at: record.expires_at, fencing_token: record.token })
}
