//! `try_delete`: a tombstone that keeps the key's revision.

use super::write_result;
use crate::kv::ephemeral::Admit;
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
            // Under memory pressure the key goes at once, history and tombstone with it.
            let purge = svc.ephemeral_under_pressure();
            svc.ephemeral_write(partition, Admit::Always, |st, ts, _term| {
                let heads = &mut mvcc::Heads::disabled();
                let o = mvcc::delete(st, heads, partition, &r.key, ts, retention)?;
                if o.applied && purge {
                    mvcc::purge_dead(st, heads, partition, &r.key, ts)?;
                }
                Ok(Response::Delete { deleted: o.applied, revision: o.revision })
            })
            .await
        }
    }
}
