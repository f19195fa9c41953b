//! The RPC worker threads: capnp-rpc is `!Send`, so every connection lives on one of a few
//! threads, each a current-thread tokio runtime driving a `LocalSet`.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::mpsc;

type LocalJob = Box<dyn FnOnce() -> Pin<Box<dyn Future<Output = ()>>> + Send>;

/// A pool of `LocalSet` threads.
pub struct Workers {
    senders: Vec<mpsc::UnboundedSender<LocalJob>>,
    threads: Vec<std::thread::JoinHandle<()>>,
    next: AtomicUsize,
}

impl Workers {
    /// Starts `threads` worker threads named `kahuna-rpc-N`.
    pub fn start(threads: usize) -> std::io::Result<Workers> {
        let mut senders = Vec::new();
        let mut handles = Vec::new();
        for i in 0..threads.max(1) {
            let (tx, mut rx) = mpsc::unbounded_channel::<LocalJob>();
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            let handle = std::thread::Builder::new().name(format!("kahuna-rpc-{i}")).spawn(move || {
                let local = tokio::task::LocalSet::new();
                local.block_on(&runtime, async move {
                    while let Some(job) = rx.recv().await {
                        tokio::task::spawn_local(job());
                    }
                });
                // Dropping the LocalSet here drops every connection still open on this thread.
            })?;
            senders.push(tx);
            handles.push(handle);
        }
        Ok(Workers { senders, threads: handles, next: AtomicUsize::new(0) })
    }

    /// Closes every connection and link served by the workers and waits for the threads.
    pub fn shutdown(self) {
        drop(self.senders);
        for t in self.threads {
            let _ = t.join();
        }
    }

    /// Runs the future made by `make` on the next worker (round robin).
    pub fn spawn<F, Fut>(&self, make: F)
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = ()> + 'static,
    {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.senders.len();
        let job: LocalJob = Box::new(move || Box::pin(make()));
        if self.senders[i].send(job).is_err() {
            tracing::error!(worker = i, "rpc worker thread is gone");
        }
    }
}
