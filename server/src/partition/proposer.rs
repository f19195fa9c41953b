//! The proposer: turns commands queued by concurrent requests into batched Raft entries.

use std::sync::Arc;

use openraft::error::ClientWriteError;
use tokio::sync::{Semaphore, mpsc, oneshot};

use super::{Error, Options};
use crate::hlc::Clock;
use crate::raft::{Batch, Command, CommandResult, Raft};

type Reply = oneshot::Sender<Result<CommandResult, Error>>;

struct Proposal {
    command: Command,
    reply: Reply,
}

/// Submits commands to a partition's proposer task.
pub(super) struct Handle {
    partition: u32,
    tx: mpsc::UnboundedSender<Proposal>,
}

fn stopped(partition: u32) -> Error {
    Error::Stopped { partition, detail: "the proposer has stopped".into() }
}

impl Handle {
    pub(super) async fn propose(&self, command: Command) -> Result<CommandResult, Error> {
        let (reply, rx) = oneshot::channel();
        self.tx.send(Proposal { command, reply }).map_err(|_| stopped(self.partition))?;
        // A dropped reply may come after the batch was appended: the outcome is unknown.
        rx.await.map_err(|_| Error::Lost { partition: self.partition, detail: "the proposer has stopped".into() })?
    }
}

fn command_size(c: &Command) -> usize {
    match c {
        Command::Set { key, value, .. } => 32 + key.len() + value.len(),
        Command::Delete { key } | Command::Extend { key, .. } => 32 + key.len(),
        Command::Advance { .. } => 16,
        Command::Lock { resource, owner, .. } | Command::ExtendLock { resource, owner, .. } => {
            48 + resource.len() + owner.len()
        }
        Command::Unlock { resource, owner } => 32 + resource.len() + owner.len(),
        Command::PurgeDead { keys, .. } | Command::PurgeVersions { keys, .. } => {
            16 + keys.iter().map(|k| k.len() + 8).sum::<usize>()
        }
    }
}

/// Starts the proposer task of `partition`.
pub(super) fn spawn(partition: u32, raft: Raft, clock: Arc<Clock>, options: &Options) -> Handle {
    let (tx, mut rx) = mpsc::unbounded_channel::<Proposal>();
    let slots = Arc::new(Semaphore::new(options.pipeline.max(1)));
    let max_batch = options.max_batch.max(1);
    let max_bytes = options.max_batch_bytes.max(1);
    tokio::spawn(async move {
        while let Some(first) = rx.recv().await {
            // Wait for a pipeline slot before draining, so commands pile up into this batch
            // while earlier ones are in flight.
            let Ok(slot) = slots.clone().acquire_owned().await else { break };
            let mut bytes = command_size(&first.command);
            let mut proposals = vec![first];
            while proposals.len() < max_batch && bytes < max_bytes {
                match rx.try_recv() {
                    Ok(p) => {
                        bytes += command_size(&p.command);
                        proposals.push(p);
                    }
                    Err(_) => break,
                }
            }
            let (commands, replies): (Vec<Command>, Vec<Reply>) =
                proposals.into_iter().map(|p| (p.command, p.reply)).unzip();
            let batch = Batch { ts: clock.now(), commands };
            match raft.client_write_ff(batch).await {
                Err(fatal) => {
                    let e = Error::Stopped { partition, detail: fatal.to_string() };
                    replies.into_iter().for_each(|r| drop(r.send(Err(e.clone()))));
                }
                Ok(pending) => {
                    tokio::spawn(async move {
                        let outcome = match pending.await {
                            // The batch is in the log: the group stopping now does not say
                            // whether a later leader commits it.
                            Err(_) => Err(Error::Lost { partition, detail: "the Raft group stopped".into() }),
                            // openraft answers ForwardToLeader for appended entries only when
                            // it truncates them (a new leader overwrote them): not applied.
                            Ok(Err(ClientWriteError::ForwardToLeader(f))) => {
                                Err(Error::NotLeader { partition, leader: f.leader_id })
                            }
                            Ok(Err(other)) => Err(Error::Lost { partition, detail: other.to_string() }),
                            Ok(Ok(response)) => Ok(response.data.0),
                        };
                        drop(slot);
                        match outcome {
                            Ok(results) => {
                                debug_assert_eq!(results.len(), replies.len());
                                for (reply, result) in replies.into_iter().zip(results) {
                                    let _ = reply.send(Ok(result));
                                }
                            }
                            Err(e) => replies.into_iter().for_each(|r| drop(r.send(Err(e.clone())))),
                        }
                    });
                }
            }
        }
    });
    Handle { partition, tx }
}
