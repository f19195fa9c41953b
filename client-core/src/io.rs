//! The client's I/O thread: where every connection lives and every call runs.
//!
//! capnp-rpc is `!Send`, so its connections cannot move between the threads of a multi-thread
//! runtime. Instead each client owns one OS thread running a current-thread tokio runtime and a
//! `LocalSet`. Callers on any thread (or on no runtime at all) hand it jobs over an unbounded
//! channel and wait for a oneshot reply:
//!
//! ```text
//!   caller thread(s)                         I/O thread "kahuna-client-io"
//!   ----------------                         --------------------------------------------
//!   Client::try_get ── Job ──(mpsc)────────> loop { recv job; spawn_local(job(router)) }
//!        .await <──────────── oneshot ─────── task: retry::execute(...) -> Result<T>
//!                                             tasks share Router (Rc): conns, routes, hlc
//! ```
//!
//! Every job is its own `spawn_local` task, so any number of calls are in flight at once and
//! capnp-rpc pipelines them over the shared connections; nothing is serialized per connection.
//!
//! Cancellation: a caller that drops its future (a `select!`, a timeout) closes the oneshot;
//! the task notices and drops its call, which tells capnp-rpc to cancel the request.
//!
//! Shutdown: `close` (or dropping the last handle) ends the receive loop; dropping the
//! `LocalSet` then drops every task and connection, and callers still waiting get "the client
//! is closed". [`IoThread::close`] returns at once (the async `Client::close`);
//! [`IoThread::close_and_join`] also waits for the thread to end, so every socket is closed and
//! every buffer freed when it returns (`BlockingClient::close`, the C library's free).

use std::future::Future;
use std::rc::Rc;

use futures::channel::oneshot;
use futures::future::{Either, select};
use kahuna_schema::Code;
use tokio::sync::mpsc;

use crate::error::{Error, Result};
use crate::router::Router;
use crate::types::ClientOptions;

/// Work for the I/O thread: called there with the router, spawns its own task.
type Job = Box<dyn FnOnce(&Rc<Router>) + Send>;

enum Message {
    Job(Job),
    Close,
}

/// The handle of one I/O thread; jobs sent after close fail with "the client is closed".
pub(crate) struct IoThread {
    jobs: mpsc::UnboundedSender<Message>,
    thread: std::sync::Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl IoThread {
    /// Starts the thread and its runtime; the router starts knowing only `seeds`.
    pub(crate) fn start(options: ClientOptions, seeds: Vec<String>) -> Result<IoThread> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::new(Code::Internal, format!("cannot start the I/O runtime: {e}")))?;
        let (jobs, mut inbox) = mpsc::unbounded_channel::<Message>();
        let thread = std::thread::Builder::new()
            .name("kahuna-client-io".into())
            .spawn(move || {
                let local = tokio::task::LocalSet::new();
                local.block_on(&runtime, async move {
                    let router = Router::new(options, seeds);
                    while let Some(message) = inbox.recv().await {
                        match message {
                            Message::Job(job) => job(&router),
                            Message::Close => break,
                        }
                    }
                    tracing::debug!("client I/O thread closing");
                });
                drop(local);
                drop(runtime);
            })
            .map_err(|e| Error::new(Code::Internal, format!("cannot start the I/O thread: {e}")))?;
        Ok(IoThread { jobs, thread: std::sync::Mutex::new(Some(thread)) })
    }

    /// Runs `work` on the I/O thread and waits for its result.
    pub(crate) async fn run<T, F, Fut>(&self, work: F) -> Result<T>
    where
        F: FnOnce(Rc<Router>) -> Fut + Send + 'static,
        Fut: Future<Output = Result<T>> + 'static,
        T: Send + 'static,
    {
        let (reply, result) = oneshot::channel::<Result<T>>();
        let job: Job = Box::new(move |router: &Rc<Router>| {
            let router = router.clone();
            tokio::task::spawn_local(async move {
                let mut reply = reply;
                let outcome = {
                    let work = std::pin::pin!(work(router));
                    let cancelled = std::pin::pin!(reply.cancellation());
                    match select(work, cancelled).await {
                        Either::Left((outcome, _)) => Some(outcome),
                        Either::Right(_) => None,
                    }
                };
                if let Some(outcome) = outcome {
                    let _ = reply.send(outcome);
                }
            });
        });
        self.jobs.send(Message::Job(job)).map_err(|_| Error::closed())?;
        result.await.map_err(|_| Error::closed())?
    }

    /// Ends the thread: pending and later calls fail with "the client is closed".
    pub(crate) fn close(&self) {
        let _ = self.jobs.send(Message::Close);
    }

    /// Ends the thread and waits until it has dropped every task and connection. Called on
    /// the I/O thread itself (from inside a job) it only closes, as waiting would deadlock.
    pub(crate) fn close_and_join(&self) {
        self.close();
        let handle = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(handle) = handle {
            if handle.thread().id() == std::thread::current().id() {
                return;
            }
            let _ = handle.join();
        }
    }

    /// True once the thread stopped taking jobs.
    pub(crate) fn is_closed(&self) -> bool {
        self.jobs.is_closed()
    }
}
