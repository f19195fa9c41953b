//! Where connections run: capnp-rpc is `!Send`, so every connection lives on one thread with a
//! tokio `LocalSet`.
//!
//! - `Workers::Local` (`rpc_threads = 0`, the default): the node's own thread. The binary then
//!   runs the whole node — Raft groups, the kv service and every connection — on one
//!   current-thread runtime, so a request crosses no thread boundary until the fsync thread.
//!   Fewest context switches per request: best when cores are few or shared.
//! - `Workers::Threads` (`rpc_threads = N`): N threads, each a current-thread runtime with a
//!   `LocalSet`, while Raft runs on the main multi-thread runtime. Uses more cores for
//!   Cap'n Proto work at the price of a thread hop per message.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::mpsc;
use tokio::task::JoinSet;

type LocalJob = Box<dyn FnOnce() -> Pin<Box<dyn Future<Output = ()>>> + Send>;

/// The tasks of the node's own thread, kept so that shutdown can close and end them.
#[derive(Default)]
pub struct Local {
    connections: JoinSet<()>,
    links: JoinSet<()>,
}

/// Where connection tasks run.
pub enum Workers {
    /// On the calling thread's `LocalSet`. The tasks are kept so that [`Workers::shutdown`]
    /// ends them: left to the `LocalSet`, an open connection would outlive the node's teardown
    /// and keep the database referenced at exit.
    Local(RefCell<Local>),
    /// On a pool of `LocalSet` threads.
    Threads {
        /// Job queues, one per thread.
        senders: Vec<mpsc::UnboundedSender<LocalJob>>,
        /// The threads.
        threads: Vec<std::thread::JoinHandle<()>>,
        /// Round-robin position.
        next: AtomicUsize,
    },
}

impl Workers {
    /// Runs connections on this thread (`threads == 0`, call from inside a `LocalSet`) or
    /// starts `threads` worker threads named `kahuna-rpc-N`.
    pub fn start(threads: usize) -> std::io::Result<Workers> {
        if threads == 0 {
            return Ok(Workers::Local(RefCell::new(Local::default())));
        }
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
        Ok(Workers::Threads { senders, threads: handles, next: AtomicUsize::new(0) })
    }

    /// True when connections run on the calling thread.
    pub fn is_local(&self) -> bool {
        matches!(self, Workers::Local(_))
    }

    /// Waits up to `timeout` for the local tasks to end (connections closing after
    /// [`serve`](super::serve) returned); worker threads are waited for by [`Workers::shutdown`].
    pub async fn drain(&self, timeout: std::time::Duration) {
        if let Workers::Local(cell) = self {
            // Taken out of the cell: no borrow is held across the await.
            let mut connections = std::mem::take(&mut cell.borrow_mut().connections);
            let _ = tokio::time::timeout(timeout, async { while connections.join_next().await.is_some() {} }).await;
            // Whatever did not end is put back for `shutdown` to abort.
            cell.borrow_mut().connections = connections;
        }
    }

    /// Closes every connection and link. Worker threads are waited for; local tasks still
    /// running are aborted and dropped at the `LocalSet`'s next turn.
    pub fn shutdown(self) {
        match self {
            // Dropping a `JoinSet` aborts its tasks.
            Workers::Local(cell) => drop(cell.into_inner()),
            Workers::Threads { senders, threads, .. } => {
                drop(senders);
                for t in threads {
                    let _ = t.join();
                }
            }
        }
    }

    /// Runs a served connection, made by `make`, on the next worker (round robin); on the
    /// node's own thread, [`Workers::drain`] waits for it.
    pub fn spawn_connection<F, Fut>(&self, make: F)
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = ()> + 'static,
    {
        self.spawn_into(make, |local| &mut local.connections)
    }

    /// Runs a long-lived task (a peer link), made by `make`, on the next worker (round robin).
    pub fn spawn<F, Fut>(&self, make: F)
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = ()> + 'static,
    {
        self.spawn_into(make, |local| &mut local.links)
    }

    fn spawn_into<F, Fut>(&self, make: F, set: fn(&mut Local) -> &mut JoinSet<()>)
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = ()> + 'static,
    {
        match self {
            Workers::Local(cell) => {
                let mut local = cell.borrow_mut();
                let tasks = set(&mut local);
                // Forget the tasks that ended (closed connections), then add this one.
                while tasks.try_join_next().is_some() {}
                tasks.spawn_local(make());
            }
            Workers::Threads { senders, next, .. } => {
                let i = next.fetch_add(1, Ordering::Relaxed) % senders.len();
                let job: LocalJob = Box::new(move || Box::pin(make()));
                if senders[i].send(job).is_err() {
                    tracing::error!(worker = i, "rpc worker thread is gone");
                }
            }
        }
    }
}
