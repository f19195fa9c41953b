//! Group commit: one thread that makes queued log appends durable with one fsync each round.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, mpsc};

use openraft::storage::LogFlushed;

use super::TypeConfig;
use crate::storage::Engine;

enum Job {
    Flushed(LogFlushed<TypeConfig>),
    Barrier(tokio::sync::oneshot::Sender<Result<(), String>>),
}

/// Counters of the group-commit thread.
#[derive(Debug, Default)]
pub struct SyncStats {
    /// fsync calls made.
    pub syncs: AtomicU64,
    /// Appends (and barriers) made durable.
    pub jobs: AtomicU64,
    /// Time spent in fsync, in microseconds.
    pub sync_micros: AtomicU64,
}

/// Handle to the node's group-commit thread. Clones share the thread; it exits when the last
/// handle is dropped.
#[derive(Clone)]
pub struct Syncer {
    tx: mpsc::Sender<Job>,
    stats: Arc<SyncStats>,
}

impl Syncer {
    /// Starts the thread syncing `engine`.
    pub fn start(engine: Arc<dyn Engine>) -> Self {
        let (tx, rx) = mpsc::channel::<Job>();
        let stats = Arc::new(SyncStats::default());
        let thread_stats = stats.clone();
        std::thread::Builder::new()
            .name("kahuna-sync".into())
            .spawn(move || {
                while let Ok(first) = rx.recv() {
                    let mut jobs = vec![first];
                    jobs.extend(rx.try_iter());
                    let started = std::time::Instant::now();
                    let result = engine.sync().map_err(|e| e.to_string());
                    thread_stats.sync_micros.fetch_add(started.elapsed().as_micros() as u64, Ordering::Relaxed);
                    thread_stats.syncs.fetch_add(1, Ordering::Relaxed);
                    thread_stats.jobs.fetch_add(jobs.len() as u64, Ordering::Relaxed);
                    if let Err(e) = &result {
                        tracing::error!(error = %e, "fsync of the write-ahead log failed");
                    }
                    for job in jobs {
                        match job {
                            Job::Flushed(cb) => cb.log_io_completed(result.clone().map_err(std::io::Error::other)),
                            Job::Barrier(tx) => {
                                let _ = tx.send(result.clone());
                            }
                        }
                    }
                }
            })
            .expect("spawning the sync thread");
        Self { tx, stats }
    }

    /// Reports `callback` once every write issued before this call is durable.
    pub fn flushed(&self, callback: LogFlushed<TypeConfig>) {
        if let Err(mpsc::SendError(Job::Flushed(cb))) = self.tx.send(Job::Flushed(callback)) {
            cb.log_io_completed(Err(std::io::Error::other("the sync thread has stopped")));
        }
    }

    /// Waits until every write issued before this call is durable.
    pub async fn barrier(&self) -> Result<(), String> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.tx.send(Job::Barrier(tx)).map_err(|_| "the sync thread has stopped".to_string())?;
        rx.await.map_err(|_| "the sync thread has stopped".to_string())?
    }

    /// The thread's counters.
    pub fn stats(&self) -> &SyncStats {
        &self.stats
    }
}
