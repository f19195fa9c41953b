//! `try_delete`: a tombstone that keeps the key's revision.

use super::write_result;
use crate::kv::{DeleteRequest, Durability, Error, Response, Service};
use crate::mvcc;
use crate::raft::Command;

pub(super) async fn execute(svc: &Service, partition: u32, r: &DeleteRequest) -> Result<Response, Error> {
    match r.durability {
        Durability::Persistent => {
            let command = Command::Delete { key: r.key.clone() };
            let (deleted, revision, _) = write_result(svc.cluster().partition(partition).propose(command).await?)?;
            Ok(Response::Delete { deleted, revision })
        }
        Durability::Ephemeral => {
            let retention = svc.options().retention;
            svc.ephemeral_write(partition, |st, ts, _term| {
                let o = mvcc::delete(st, &mut mvcc::Heads::disabled(), partition, &r.key, ts, retention)?;
                Ok(Response::Delete { deleted: o.applied, revision: o.revision })
            })
            .await
        }
    }
}
