//! Kahuna client core: an async [`Client`] and a [`BlockingClient`] over Cap'n Proto RPC.
//!
//! One client core serves every language: Rust programs use it directly, the C ABI and the
//! Python module wrap [`BlockingClient`]. Routing, retries and error classification are written
//! once, here.
//!
//! ```text
//!   Client (Send + Sync, Clone) ──jobs──> I/O thread (current-thread tokio + LocalSet)
//!   BlockingClient ── block_on ─┘            Router: routes (partition -> leader), hlc
//!                                            Conn per node: TCP + capnp-rpc VatNetwork
//!                                            retry::execute per call (backoff, deadline)
//! ```
//!
//! What the client guarantees:
//! - A call goes straight to the leader of its key's partition when the client knows it
//!   (partitions are computed with the shared hash of [`kahuna_schema::routing`]); otherwise to
//!   any reachable node, which forwards it.
//! - Every call has one deadline, [`ClientOptions::timeout`], retries included; when it passes
//!   the call fails with [`Code::Timeout`].
//! - Transient answers (`MustRetry`, `Unavailable`) and connection failures that happened before
//!   a request was sent are retried with jittered exponential backoff.
//! - **A write whose connection breaks while it is in flight is not retried**: it may or may not
//!   have been applied. It fails with [`Code::Timeout`] (the code for "outcome unknown") and a
//!   message that says so. Reads in the same situation are retried on another node. A write is
//!   not sent on a connection whose node has already closed it (checked by peeking at the
//!   socket): that counts as a failure before sending, and the write goes elsewhere.
//! - Every request carries the highest hybrid logical clock the client has seen, so what it
//!   reads after a write is ordered after that write even on another node.
//!
//! What it does not do: cache values, batch calls, or retry an `Aborted`, `InvalidInput` or
//! `Internal` answer.

mod blocking;
mod conn;
mod error;
pub mod hlc;
mod io;
mod lock_ops;
mod locks;
mod ops;
mod retry;
mod router;
mod routes;
mod types;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

pub use blocking::BlockingClient;
pub use error::{Error, Result};
pub use kahuna_schema::Code;
pub use locks::{Election, LeaderInfo, Leadership};
pub use types::{
    ClientOptions, DeleteResult, Durability, Entry, ExistsResult, ExtendResult, GetResult, LockInfo, LockResult,
    ScanPage, SetOptions, SetResult, Topology,
};

use error::{Failure, check_expires, check_extend_expires, check_key, check_lock_args};
use io::IoThread;
use lock_ops::{GetLockCall, LockCall, UnlockCall};
use ops::{BucketCall, Call, DeleteCall, ExistsCall, ExtendCall, GetCall, ScanCall, SetCall, TopologyCall};
use tokio::time::Instant;

/// An async Kahuna client. Cheap to clone (clones share connections); usable from any async
/// runtime, since all I/O happens on the client's own thread.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    io: IoThread,
    options: ClientOptions,
    closed: AtomicBool,
}

impl Client {
    /// Connects to a cluster through any of `endpoints` (`host:port`), learning its topology.
    ///
    /// Tries every endpoint in turn, in rounds with backoff, until one answers or
    /// `options.timeout` passes (then `Unavailable`, listing why each endpoint failed).
    pub async fn connect<S: AsRef<str>>(endpoints: &[S], options: ClientOptions) -> Result<Client> {
        let seeds = check_endpoints(endpoints)?;
        check_options(&options)?;
        let deadline = Instant::now() + options.timeout;
        let io = IoThread::start(options.clone(), seeds)?;
        let client = Client { inner: Arc::new(Inner { io, options, closed: AtomicBool::new(false) }) };
        client.inner.io.run(move |router| async move { router.bootstrap(deadline).await }).await?;
        Ok(client)
    }

    /// Writes `value` under `key`, subject to the conditions in `options`.
    pub async fn try_set(&self, key: &str, value: &[u8], options: SetOptions) -> Result<SetResult> {
        check_key(key)?;
        check_expires(options.get_expires_ms())?;
        options.validate().map_err(Error::invalid_input)?;
        self.execute(SetCall {
            key: key.to_string(),
            value: value.to_vec(),
            expires_ms: options.get_expires_ms(),
            flags: options.get_flags(),
            compare_value: Vec::new(),
            compare_revision: 0,
            durability: options.get_durability(),
        })
        .await
    }

    /// Writes `value` only if the key's live value equals `compare_value` byte for byte.
    pub async fn try_compare_value_and_set(
        &self,
        key: &str,
        value: &[u8],
        compare_value: &[u8],
        expires_ms: i64,
        durability: Durability,
    ) -> Result<SetResult> {
        check_key(key)?;
        check_expires(expires_ms)?;
        self.execute(SetCall {
            key: key.to_string(),
            value: value.to_vec(),
            expires_ms,
            flags: kahuna_schema::flags::SET_IF_EQUAL_TO_VALUE,
            compare_value: compare_value.to_vec(),
            compare_revision: 0,
            durability,
        })
        .await
    }

    /// Writes `value` only if the key is live and its revision equals `compare_revision`.
    pub async fn try_compare_revision_and_set(
        &self,
        key: &str,
        value: &[u8],
        compare_revision: i64,
        expires_ms: i64,
        durability: Durability,
    ) -> Result<SetResult> {
        check_key(key)?;
        check_expires(expires_ms)?;
        self.execute(SetCall {
            key: key.to_string(),
            value: value.to_vec(),
            expires_ms,
            flags: kahuna_schema::flags::SET_IF_EQUAL_TO_REVISION,
            compare_value: Vec::new(),
            compare_revision,
            durability,
        })
        .await
    }

    /// Reads the latest live version of `key` (linearizable for `Persistent`).
    pub async fn try_get(&self, key: &str, durability: Durability) -> Result<GetResult> {
        self.get(key, durability, -1, 0).await
    }

    /// Reads a retained older `revision` of `key`; not found if compacted or never written.
    pub async fn try_get_revision(&self, key: &str, revision: i64, durability: Durability) -> Result<GetResult> {
        if revision < 0 {
            return Err(Error::invalid_input(format!("revision must not be negative, got {revision}")));
        }
        self.get(key, durability, revision, 0).await
    }

    /// Reads the newest version of `key` whose `last_modified` is at or before `timestamp` (HLC).
    pub async fn try_get_as_of(&self, key: &str, timestamp: u64, durability: Durability) -> Result<GetResult> {
        if timestamp == 0 {
            return Err(Error::invalid_input("timestamp must be an HLC timestamp greater than 0"));
        }
        self.get(key, durability, -1, timestamp).await
    }

    async fn get(&self, key: &str, durability: Durability, revision: i64, as_of: u64) -> Result<GetResult> {
        check_key(key)?;
        self.execute(GetCall { key: key.to_string(), durability, revision, as_of }).await
    }

    /// Tells whether `key` is live, and its revision.
    pub async fn try_exists(&self, key: &str, durability: Durability) -> Result<ExistsResult> {
        check_key(key)?;
        self.execute(ExistsCall { key: key.to_string(), durability }).await
    }

    /// Deletes `key`; `deleted` is false if it was not live. The revision does not change.
    pub async fn try_delete(&self, key: &str, durability: Durability) -> Result<DeleteResult> {
        check_key(key)?;
        self.execute(DeleteCall { key: key.to_string(), durability }).await
    }

    /// Moves the expiry of a live `key` to now + `expires_ms` (which must be > 0).
    pub async fn try_extend(&self, key: &str, expires_ms: i64, durability: Durability) -> Result<ExtendResult> {
        check_key(key)?;
        check_extend_expires(expires_ms)?;
        self.execute(ExtendCall { key: key.to_string(), expires_ms, durability }).await
    }

    /// Every live key whose bucket (text before the last `/`) is `bucket`, ordered by key.
    pub async fn get_by_bucket(&self, bucket: &str, durability: Durability) -> Result<Vec<Entry>> {
        if bucket.len() > kahuna_schema::routing::MAX_KEY_BYTES {
            return Err(Error::invalid_input(format!(
                "bucket is {} bytes long; the limit is {} bytes",
                bucket.len(),
                kahuna_schema::routing::MAX_KEY_BYTES
            )));
        }
        self.execute(BucketCall { bucket: bucket.to_string(), durability }).await
    }

    /// One page of the keys starting with `prefix`, ordered across all partitions.
    ///
    /// `limit` 0 means the server's default page size; pass the returned cursor to get the
    /// next page. All pages of one scan read at the same snapshot.
    pub async fn scan_by_prefix(
        &self,
        prefix: &str,
        limit: u32,
        cursor: Option<&[u8]>,
        durability: Durability,
    ) -> Result<ScanPage> {
        self.execute(ScanCall {
            prefix: prefix.to_string(),
            limit,
            cursor: cursor.map(<[u8]>::to_vec).unwrap_or_default(),
            durability,
        })
        .await
    }

    /// Every key starting with `prefix`, following cursors to the end (one consistent snapshot).
    ///
    /// Each page has its own deadline of `ClientOptions::timeout`.
    pub async fn scan_all_by_prefix(&self, prefix: &str, durability: Durability) -> Result<Vec<Entry>> {
        let mut entries = Vec::new();
        let mut cursor: Option<Vec<u8>> = None;
        loop {
            let page = self.scan_by_prefix(prefix, 0, cursor.as_deref(), durability).await?;
            entries.extend(page.entries);
            match page.cursor {
                Some(next) => cursor = Some(next),
                None => return Ok(entries),
            }
        }
    }

    /// The cluster's members and partition leaders, as a node sees them now.
    pub async fn topology(&self) -> Result<Topology> {
        self.run(|router, deadline| async move {
            let topology = retry::execute(&router, &TopologyCall, deadline).await?;
            // Cannot fail: connections are only made to nodes of the client's cluster.
            let _ = router.ingest("topology", &topology);
            Ok(topology)
        })
        .await
    }

    /// The topology as one particular node (`host:port`) sees it, for tools and tests that
    /// compare nodes' views. Not retried on another node.
    pub async fn topology_from(&self, endpoint: &str) -> Result<Topology> {
        let address = check_endpoints(&[endpoint])?.remove(0);
        self.run(move |router, deadline| async move {
            router.fetch_topology(&address, deadline).await.map_err(|f| match f {
                Failure::InFlight(_) | Failure::NotSent(_) if Instant::now() >= deadline => {
                    Error::new(Code::Timeout, format!("topology from {address}: {f}"))
                }
                f => f.into_error(),
            })
        })
        .await
    }

    /// Closes the client: its connections close and every pending or later call fails with
    /// `InvalidInput` ("the client is closed"). Clones share the closed state. Returns at once;
    /// the I/O thread finishes closing in the background ([`BlockingClient::close`] waits).
    pub fn close(&self) {
        self.inner.closed.store(true, Ordering::SeqCst);
        self.inner.io.close();
    }

    /// Closes like [`Client::close`], then waits for the I/O thread to end.
    pub(crate) fn close_and_wait(&self) {
        self.inner.closed.store(true, Ordering::SeqCst);
        self.inner.io.close_and_join();
    }

    /// Acquires the lock on `resource` for `owner` with a lease of `expires_ms` (> 0).
    ///
    /// `locked` is false while another owner holds a live lease. The current owner acquiring
    /// again gets its token back without extending the lease.
    pub async fn try_lock(
        &self,
        resource: &str,
        owner: &[u8],
        expires_ms: i64,
        durability: Durability,
    ) -> Result<LockResult> {
        check_lock_args(resource, owner)?;
        check_extend_expires(expires_ms)?;
        let call = LockCall { resource: resource.into(), owner: owner.to_vec(), expires_ms, durability, extend: false };
        self.execute(call).await
    }

    /// Extends `owner`'s live lease on `resource` to now + `expires_ms`; returns the (unchanged)
    /// fencing token. Fails with [`Code::LockDoesNotExist`] or [`Code::InvalidOwner`].
    pub async fn try_extend_lock(
        &self,
        resource: &str,
        owner: &[u8],
        expires_ms: i64,
        durability: Durability,
    ) -> Result<i64> {
        check_lock_args(resource, owner)?;
        check_extend_expires(expires_ms)?;
        let call = LockCall { resource: resource.into(), owner: owner.to_vec(), expires_ms, durability, extend: true };
        Ok(self.execute(call).await?.fencing_token)
    }

    /// Releases `owner`'s lock on `resource`. Fails with [`Code::LockDoesNotExist`] or
    /// [`Code::InvalidOwner`].
    pub async fn unlock(&self, resource: &str, owner: &[u8], durability: Durability) -> Result<()> {
        check_lock_args(resource, owner)?;
        self.execute(UnlockCall { resource: resource.into(), owner: owner.to_vec(), durability }).await
    }

    /// The live lock on `resource`: owner, lease end and fencing token. Fails with
    /// [`Code::LockDoesNotExist`] when the resource is free.
    pub async fn get_lock(&self, resource: &str, durability: Durability) -> Result<LockInfo> {
        kahuna_schema::routing::validate_key("resource", resource).map_err(Error::invalid_input)?;
        self.execute(GetLockCall { resource: resource.into(), durability }).await
    }

    /// Runs one call on the I/O thread with a deadline of `options.timeout` from now.
    async fn execute<C>(&self, call: C) -> Result<C::Output>
    where
        C: Call + Send + 'static,
        C::Output: Send + 'static,
    {
        self.run(move |router, deadline| async move { retry::execute(&router, &call, deadline).await }).await
    }

    /// Runs `work` on the I/O thread, passing it the router and the deadline of this operation.
    async fn run<T, F, Fut>(&self, work: F) -> Result<T>
    where
        F: FnOnce(std::rc::Rc<router::Router>, Instant) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = Result<T>> + 'static,
        T: Send + 'static,
    {
        if self.inner.closed.load(Ordering::SeqCst) || self.inner.io.is_closed() {
            return Err(Error::closed());
        }
        let deadline = Instant::now() + self.inner.options.timeout;
        self.inner.io.run(move |router| work(router, deadline)).await
    }
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("options", &self.inner.options)
            .field("closed", &self.inner.closed.load(Ordering::Relaxed))
            .finish()
    }
}

/// Checks and normalizes endpoint strings (`host:port`).
fn check_endpoints<S: AsRef<str>>(endpoints: &[S]) -> Result<Vec<String>> {
    if endpoints.is_empty() {
        return Err(Error::invalid_input("endpoints must not be empty"));
    }
    let mut seeds = Vec::with_capacity(endpoints.len());
    for (i, e) in endpoints.iter().enumerate() {
        let e = e.as_ref().trim();
        let port_ok = e.rsplit_once(':').is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
        if !port_ok {
            return Err(Error::invalid_input(format!("endpoints[{i}] must be host:port, got '{e}'")));
        }
        if !seeds.iter().any(|s| s == e) {
            seeds.push(e.to_string());
        }
    }
    Ok(seeds)
}

/// Rejects options that cannot work.
fn check_options(options: &ClientOptions) -> Result<()> {
    for (name, value) in [
        ("timeout", options.timeout),
        ("connect_timeout", options.connect_timeout),
        ("read_attempt_timeout", options.read_attempt_timeout),
    ] {
        if value.is_zero() {
            return Err(Error::invalid_input(format!("options.{name} must be greater than 0")));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
