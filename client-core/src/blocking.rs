//! The blocking facade: the same API as [`Client`], for callers without an async runtime.
//!
//! The C ABI, the Python module (which releases the GIL while it waits) and plain threads use
//! this. Nothing here runs I/O: every method hands its call to the client's I/O thread exactly
//! like the async client does and parks the calling thread on the reply with
//! `futures::executor::block_on`, so no tokio runtime is needed on the caller's side.
//!
//! ```text
//!   caller thread ── block_on(Client::try_get(..)) ── job ──> I/O thread ── reply ──> wakes
//! ```
//!
//! Do not call these methods from inside an async task: they block the executor's thread for
//! as long as the call takes (up to `ClientOptions::timeout`). Use [`Client`] there; both can
//! be had from each other ([`BlockingClient::from_async`], [`BlockingClient::as_async`]).

use futures::executor::block_on;

use crate::Client;
use crate::error::Result;
use crate::types::{
    ClientOptions, DeleteResult, Durability, Entry, ExistsResult, ExtendResult, GetResult, LockInfo, LockResult,
    ScanPage, SetOptions, SetResult, Topology,
};

/// A synchronous Kahuna client; `Send + Sync`, cheap to clone.
#[derive(Clone, Debug)]
pub struct BlockingClient {
    client: Client,
}

impl BlockingClient {
    /// Connects to a cluster through any of `endpoints` (see [`Client::connect`]).
    pub fn connect<S: AsRef<str>>(endpoints: &[S], options: ClientOptions) -> Result<BlockingClient> {
        block_on(Client::connect(endpoints, options)).map(BlockingClient::from_async)
    }

    /// Wraps an async client; both share connections.
    pub fn from_async(client: Client) -> BlockingClient {
        BlockingClient { client }
    }

    /// The async client underneath.
    pub fn as_async(&self) -> &Client {
        &self.client
    }

    /// See [`Client::try_set`].
    pub fn try_set(&self, key: &str, value: &[u8], options: SetOptions) -> Result<SetResult> {
        block_on(self.client.try_set(key, value, options))
    }

    /// See [`Client::try_compare_value_and_set`].
    pub fn try_compare_value_and_set(
        &self,
        key: &str,
        value: &[u8],
        compare_value: &[u8],
        expires_ms: i64,
        durability: Durability,
    ) -> Result<SetResult> {
        block_on(self.client.try_compare_value_and_set(key, value, compare_value, expires_ms, durability))
    }

    /// See [`Client::try_compare_revision_and_set`].
    pub fn try_compare_revision_and_set(
        &self,
        key: &str,
        value: &[u8],
        compare_revision: i64,
        expires_ms: i64,
        durability: Durability,
    ) -> Result<SetResult> {
        block_on(self.client.try_compare_revision_and_set(key, value, compare_revision, expires_ms, durability))
    }

    /// See [`Client::try_get`].
    pub fn try_get(&self, key: &str, durability: Durability) -> Result<GetResult> {
        block_on(self.client.try_get(key, durability))
    }

    /// See [`Client::try_get_revision`].
    pub fn try_get_revision(&self, key: &str, revision: i64, durability: Durability) -> Result<GetResult> {
        block_on(self.client.try_get_revision(key, revision, durability))
    }

    /// See [`Client::try_get_as_of`].
    pub fn try_get_as_of(&self, key: &str, timestamp: u64, durability: Durability) -> Result<GetResult> {
        block_on(self.client.try_get_as_of(key, timestamp, durability))
    }

    /// See [`Client::try_exists`].
    pub fn try_exists(&self, key: &str, durability: Durability) -> Result<ExistsResult> {
        block_on(self.client.try_exists(key, durability))
    }

    /// See [`Client::try_delete`].
    pub fn try_delete(&self, key: &str, durability: Durability) -> Result<DeleteResult> {
        block_on(self.client.try_delete(key, durability))
    }

    /// See [`Client::try_lock`].
    pub fn try_lock(
        &self,
        resource: &str,
        owner: &[u8],
        expires_ms: i64,
        durability: Durability,
    ) -> Result<LockResult> {
        block_on(self.client.try_lock(resource, owner, expires_ms, durability))
    }

    /// See [`Client::try_extend_lock`].
    pub fn try_extend_lock(
        &self,
        resource: &str,
        owner: &[u8],
        expires_ms: i64,
        durability: Durability,
    ) -> Result<i64> {
        block_on(self.client.try_extend_lock(resource, owner, expires_ms, durability))
    }

    /// See [`Client::unlock`].
    pub fn unlock(&self, resource: &str, owner: &[u8], durability: Durability) -> Result<()> {
        block_on(self.client.unlock(resource, owner, durability))
    }

    /// See [`Client::get_lock`].
    pub fn get_lock(&self, resource: &str, durability: Durability) -> Result<LockInfo> {
        block_on(self.client.get_lock(resource, durability))
    }

    /// See [`Client::try_extend`].
    pub fn try_extend(&self, key: &str, expires_ms: i64, durability: Durability) -> Result<ExtendResult> {
        block_on(self.client.try_extend(key, expires_ms, durability))
    }

    /// See [`Client::get_by_bucket`].
    pub fn get_by_bucket(&self, bucket: &str, durability: Durability) -> Result<Vec<Entry>> {
        block_on(self.client.get_by_bucket(bucket, durability))
    }

    /// See [`Client::scan_by_prefix`].
    pub fn scan_by_prefix(
        &self,
        prefix: &str,
        limit: u32,
        cursor: Option<&[u8]>,
        durability: Durability,
    ) -> Result<ScanPage> {
        block_on(self.client.scan_by_prefix(prefix, limit, cursor, durability))
    }

    /// See [`Client::scan_all_by_prefix`].
    pub fn scan_all_by_prefix(&self, prefix: &str, durability: Durability) -> Result<Vec<Entry>> {
        block_on(self.client.scan_all_by_prefix(prefix, durability))
    }

    /// See [`Client::topology`].
    pub fn topology(&self) -> Result<Topology> {
        block_on(self.client.topology())
    }

    /// See [`Client::topology_from`].
    pub fn topology_from(&self, endpoint: &str) -> Result<Topology> {
        block_on(self.client.topology_from(endpoint))
    }

    /// Closes the client like [`Client::close`] and waits until its I/O thread has ended, so
    /// every connection is closed and its memory freed when this returns.
    pub fn close(&self) {
        self.client.close_and_wait()
    }
}
