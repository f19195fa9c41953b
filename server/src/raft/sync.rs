//! Group commit: one thread that makes queued log appends durable with one fsync each round.
//!
//! Every log append takes a ticket (a sequence number) when it is handed to the thread; after
//! each fsync the thread publishes the highest ticket it covered as the *durable mark*. Code
//! that must not let something out before the log is durable (a Raft acknowledgement, see
//! `raft::network`) takes the ticket of the partition's latest append ([`Appends::latest`])
//! and waits with [`Appends::wait_durable`].
//!
//! A ticket taken after a write is covered by any fsync that starts after the ticket is
//! handed over, and tickets are handed over in an order the thread sees, so "the highest
//! ticket in the round" is a safe mark even when several threads append at once: a smaller
//! ticket's write happened before the larger ticket was taken.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, mpsc};

use openraft::storage::LogFlushed;
use tokio::sync::watch;

use super::TypeConfig;
use crate::storage::Engine;

enum Job {
    /// An append that openraft waits for: call back once durable.
    Flushed(LogFlushed<TypeConfig>, u64),
    /// An append already reported to openraft: only the durable mark waits for it.
    Written(u64),
    /// Somebody waits for everything written so far.
    Barrier(tokio::sync::oneshot::Sender<Result<(), String>>, u64),
    /// Sync what is queued, then exit (releasing the engine).
    Stop,
}

impl Job {
    fn ticket(&self) -> u64 {
        match self {
            Job::Flushed(_, t) | Job::Written(t) | Job::Barrier(_, t) => *t,
            Job::Stop => 0,
        }
    }
}

/// A partition's handle on the sync thread: its log store hands appends over through it, and
/// it remembers the ticket of the partition's latest append, which code holding
/// acknowledgements waits for (`raft::network`). Waiting for the partition's own latest append,
/// rather than for every append of the node handed over so far, keeps an acknowledgement from
/// waiting for an fsync round that other partitions started.
#[derive(Clone)]
pub struct Appends {
    syncer: Syncer,
    latest: Arc<AtomicU64>,
}

impl Appends {
    /// The ticket of the partition's latest append (0 before any).
    pub fn latest(&self) -> u64 {
        self.latest.load(Ordering::Acquire)
    }

    /// Waits until every append up to `ticket` is durable (see [`Syncer::wait_durable`]).
    pub async fn wait_durable(&self, ticket: u64) -> Result<(), String> {
        self.syncer.wait_durable(ticket).await
    }

    /// Hands over an append already reported to openraft ([`Syncer::written`]).
    pub fn written(&self) {
        self.record(self.syncer.written());
    }

    /// Hands over an append that openraft waits for ([`Syncer::flushed`]).
    pub fn flushed(&self, callback: LogFlushed<TypeConfig>) {
        self.record(self.syncer.flushed(callback));
    }

    /// Waits until every write issued before this call is durable ([`Syncer::barrier`]).
    pub async fn barrier(&self) -> Result<(), String> {
        self.syncer.barrier().await
    }

    fn record(&self, ticket: u64) {
        self.latest.fetch_max(ticket, Ordering::AcqRel);
    }
}

/// Counters of the group-commit thread.
#[derive(Debug)]
pub struct SyncStats {
    /// fsync calls made.
    pub syncs: AtomicU64,
    /// Appends (and barriers) made durable.
    pub jobs: AtomicU64,
    /// Time spent in fsync, in microseconds.
    pub sync_micros: AtomicU64,
    /// How long each fsync took, in seconds (50 µs doubling up to 1.6 s).
    pub durations: prometheus_client::metrics::histogram::Histogram,
}

impl Default for SyncStats {
    fn default() -> Self {
        SyncStats {
            syncs: AtomicU64::new(0),
            jobs: AtomicU64::new(0),
            sync_micros: AtomicU64::new(0),
            durations: prometheus_client::metrics::histogram::Histogram::new(
                prometheus_client::metrics::histogram::exponential_buckets(50e-6, 2.0, 16),
            ),
        }
    }
}

/// What the thread has made durable.
#[derive(Clone, Debug, Default)]
struct Durable {
    /// Every ticket up to this one is durable.
    mark: u64,
    /// Set when an fsync failed: nothing after it may be called durable.
    failed: Option<String>,
}

/// Handle to the node's group-commit thread. Clones share the thread; it exits when the last
/// handle is dropped.
#[derive(Clone)]
pub struct Syncer {
    tx: mpsc::Sender<Job>,
    stats: Arc<SyncStats>,
    requested: Arc<AtomicU64>,
    durable: Arc<watch::Sender<Durable>>,
    thread: Arc<std::sync::Mutex<Option<std::thread::JoinHandle<()>>>>,
}

impl Syncer {
    /// Starts the thread syncing `engine`.
    pub fn start(engine: Arc<dyn Engine>) -> Self {
        let (tx, rx) = mpsc::channel::<Job>();
        let stats = Arc::new(SyncStats::default());
        let durable = Arc::new(watch::channel(Durable::default()).0);
        let (thread_stats, thread_durable) = (stats.clone(), durable.clone());
        let thread = std::thread::Builder::new()
            .name("kahuna-sync".into())
            .spawn(move || {
                while let Ok(first) = rx.recv() {
                    let mut jobs = vec![first];
                    jobs.extend(rx.try_iter());
                    let stopping = jobs.iter().any(|j| matches!(j, Job::Stop));
                    let covered = jobs.iter().map(Job::ticket).max().unwrap_or(0);
                    let started = std::time::Instant::now();
                    let result = engine.sync().map_err(|e| e.to_string());
                    let took = started.elapsed();
                    thread_stats.sync_micros.fetch_add(took.as_micros() as u64, Ordering::Relaxed);
                    thread_stats.durations.observe(took.as_secs_f64());
                    thread_stats.syncs.fetch_add(1, Ordering::Relaxed);
                    thread_stats.jobs.fetch_add(jobs.len() as u64, Ordering::Relaxed);
                    match &result {
                        Ok(()) => thread_durable.send_modify(|d| {
                            if d.failed.is_none() {
                                d.mark = d.mark.max(covered);
                            }
                        }),
                        Err(e) => {
                            tracing::error!(error = %e, "fsync of the write-ahead log failed");
                            thread_durable.send_modify(|d| d.failed = Some(e.clone()));
                        }
                    }
                    for job in jobs {
                        match job {
                            Job::Flushed(cb, _) => cb.log_io_completed(result.clone().map_err(std::io::Error::other)),
                            Job::Written(_) | Job::Stop => {}
                            Job::Barrier(tx, _) => {
                                let _ = tx.send(result.clone());
                            }
                        }
                    }
                    if stopping {
                        break;
                    }
                }
                // Whoever still waits, or comes later, learns that nothing more becomes durable.
                thread_durable.send_modify(|d| {
                    d.failed.get_or_insert_with(|| "the sync thread has stopped".to_string());
                });
            })
            .expect("spawning the sync thread");
        Self { tx, stats, requested: Arc::default(), durable, thread: Arc::new(std::sync::Mutex::new(Some(thread))) }
    }

    /// Makes what is queued durable, stops the thread and waits for it, so the engine is
    /// released even while other handles still exist. Later appends fail.
    pub fn stop(&self) {
        let _ = self.tx.send(Job::Stop);
        let handle = self.thread.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
        if let Some(handle) = handle
            && handle.join().is_err()
        {
            tracing::error!("the sync thread panicked");
        }
    }

    fn ticket(&self) -> u64 {
        self.requested.fetch_add(1, Ordering::AcqRel) + 1
    }

    /// Reports `callback` once every write issued before this call is durable; returns the
    /// ticket of those writes.
    pub fn flushed(&self, callback: LogFlushed<TypeConfig>) -> u64 {
        let ticket = self.ticket();
        if let Err(mpsc::SendError(Job::Flushed(cb, _))) = self.tx.send(Job::Flushed(callback, ticket)) {
            cb.log_io_completed(Err(std::io::Error::other("the sync thread has stopped")));
        }
        ticket
    }

    /// Makes every write issued before this call durable soon, without a callback: the
    /// durable mark ([`Self::wait_durable`]) of the returned ticket tells when.
    pub fn written(&self) -> u64 {
        let ticket = self.ticket();
        // A stopped thread is seen by the waiters: the mark never reaches the ticket.
        let _ = self.tx.send(Job::Written(ticket));
        ticket
    }

    /// The ticket of the latest write handed to the thread: once [`Self::wait_durable`] of it
    /// returns, every write handed over before this call is durable.
    pub fn requested(&self) -> u64 {
        self.requested.load(Ordering::Acquire)
    }

    /// Waits until every write with a ticket up to `ticket` is durable. Fails if an fsync
    /// failed or the thread stopped.
    pub async fn wait_durable(&self, ticket: u64) -> Result<(), String> {
        let mut rx = self.durable.subscribe();
        let state = rx
            .wait_for(|d| d.mark >= ticket || d.failed.is_some())
            .await
            .map_err(|_| "the sync thread has stopped".to_string())?;
        match &state.failed {
            Some(e) => Err(format!("fsync failed: {e}")),
            None => Ok(()),
        }
    }

    /// Waits until every write issued before this call is durable.
    pub async fn barrier(&self) -> Result<(), String> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.tx.send(Job::Barrier(tx, self.requested())).map_err(|_| "the sync thread has stopped".to_string())?;
        rx.await.map_err(|_| "the sync thread has stopped".to_string())?
    }

    /// A handle for one partition's appends.
    pub fn appends(&self) -> Appends {
        Appends { syncer: self.clone(), latest: Arc::default() }
    }

    /// The thread's counters.
    pub fn stats(&self) -> &SyncStats {
        &self.stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::MemoryEngine;

    #[test]
    fn the_durable_mark_follows_the_tickets_handed_over() {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let syncer = Syncer::start(Arc::new(MemoryEngine::new()));
            assert_eq!(syncer.requested(), 0);
            syncer.wait_durable(0).await.expect("nothing written is durable at once");
            assert_eq!(syncer.written(), 1);
            assert_eq!(syncer.written(), 2);
            assert_eq!(syncer.requested(), 2);
            syncer.wait_durable(2).await.expect("both writes become durable");
            assert!(syncer.durable.borrow().mark >= 2);

            // A ticket nobody handed over is never reached.
            let never = tokio::time::timeout(std::time::Duration::from_millis(50), syncer.wait_durable(3)).await;
            assert!(never.is_err(), "ticket 3 was never handed over");
            syncer.barrier().await.expect("a barrier after the writes");

            // After stop, waiting fails instead of hanging, and the engine is released.
            syncer.stop();
            assert!(syncer.wait_durable(3).await.is_err(), "nothing becomes durable after stop");
            assert!(syncer.barrier().await.is_err(), "a barrier after stop fails");
        });
    }
}
