//! `try_extend`: moves a live key's expiry to now + expires_ms; the revision stays.

use super::{key, write_result};
use crate::kv::ephemeral::Admit;
use crate::kv::{Durability, Error, ExtendRequest, Response, Service};
use crate::mvcc;
use crate::raft::Command;

pub(super) fn validate(r: &ExtendRequest) -> Result<(), Error> {
    key("key", &r.key)?;
    if r.expires_ms <= 0 {
        return Err(Error::InvalidInput(format!("expires_ms must be greater than 0, got {}", r.expires_ms)));
    }
    Ok(())
}

pub(super) async fn execute(svc: &Service, partition: u32, r: &ExtendRequest) -> Result<Response, Error> {
    let expires_ms = r.expires_ms as u64;
    match r.durability {
        Durability::Persistent => {
            let command = Command::Extend { key: r.key.clone(), expires_ms };
            let (extended, revision, _) = write_result(svc.cluster().partition(partition).propose(command).await?)?;
            Ok(Response::Extend { extended, revision })
        }
        Durability::Ephemeral => {
            svc.ephemeral_write(partition, Admit::WithinCap, |st, ts, _term| {
                let o = mvcc::extend(
                    st,
                    &mut mvcc::Heads::disabled(),
                    partition,
                    &r.key,
                    crate::hlc::expiry(ts, expires_ms),
                    ts,
                )?;
                Ok(Response::Extend { extended: o.applied, revision: o.revision })
            })
            .await
        }
    }
}
