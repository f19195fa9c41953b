//! `kahuna.Client`: one method per operation of the contract, and the scan page iterator.
//!
//! Every method has the same three steps: convert the arguments while holding the GIL,
//! run the blocking call with the GIL released (`py.detach`), convert the result or the error
//! with the GIL held again. The class is frozen (no `&mut self`), so threads share a client
//! freely; the core serializes nothing but what it must.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use kahuna_client::{BlockingClient, ClientOptions, Error, SetOptions};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyList, PyTuple};

use crate::convert::{self, Dur, PERSISTENT, bytes_arg, cursor_arg, endpoints_arg, seconds_arg};
use crate::error::{IntoPyResult, invalid_input};
use crate::locks::Election;

/// A connection to a Kahuna cluster; thread-safe, and a context manager that closes it.
#[pyclass(module = "kahuna", frozen)]
pub(crate) struct Client {
    inner: BlockingClient,
    endpoints: Vec<String>,
    timeout: f64,
    closed: AtomicBool,
}

#[pymethods]
impl Client {
    /// Connects through any of `endpoints` ("host:port"), learning the cluster's topology.
    #[new]
    #[pyo3(signature = (endpoints, *, timeout = 10.0, connect_timeout = 3.0, read_attempt_timeout = 2.0))]
    fn new(
        py: Python<'_>,
        endpoints: &Bound<'_, PyAny>,
        timeout: f64,
        connect_timeout: f64,
        read_attempt_timeout: f64,
    ) -> PyResult<Client> {
        let endpoints = endpoints_arg(endpoints)?;
        let options = ClientOptions {
            timeout: seconds_arg(py, "timeout", timeout)?,
            connect_timeout: seconds_arg(py, "connect_timeout", connect_timeout)?,
            read_attempt_timeout: seconds_arg(py, "read_attempt_timeout", read_attempt_timeout)?,
        };
        let inner = py.detach(|| BlockingClient::connect(&endpoints, options)).into_py_result(py)?;
        Ok(Client { inner, endpoints, timeout, closed: AtomicBool::new(false) })
    }

    /// Writes `value` under `key`, subject to at most one of `if_exists` / `if_not_exists`.
    #[pyo3(
        signature = (key, value, *, expires_ms = 0, if_exists = false, if_not_exists = false, no_revision = false,
        durability = PERSISTENT),
        text_signature = "($self, key, value, *, expires_ms=0, if_exists=False, if_not_exists=False, no_revision=False, durability=kahuna.Durability.PERSISTENT)"
    )]
    #[allow(clippy::too_many_arguments)]
    fn try_set<'py>(
        &self,
        py: Python<'py>,
        key: &str,
        value: &Bound<'py, PyAny>,
        expires_ms: i64,
        if_exists: bool,
        if_not_exists: bool,
        no_revision: bool,
        durability: Dur,
    ) -> PyResult<Bound<'py, PyAny>> {
        let value = bytes_arg("value", value)?;
        let mut options = SetOptions::new().expires_ms(expires_ms).durability(durability.0);
        if if_exists {
            options = options.if_exists();
        }
        if if_not_exists {
            options = options.if_not_exists();
        }
        if no_revision {
            options = options.no_revision();
        }
        let r = py.detach(|| self.inner.try_set(key, &value, options)).into_py_result(py)?;
        convert::set_result(py, r)
    }

    /// Writes `value` only if the key's live value equals `compare_value` byte for byte.
    #[pyo3(
        signature = (key, value, compare_value, *, expires_ms = 0, durability = PERSISTENT),
        text_signature = "($self, key, value, compare_value, *, expires_ms=0, durability=kahuna.Durability.PERSISTENT)"
    )]
    fn try_compare_value_and_set<'py>(
        &self,
        py: Python<'py>,
        key: &str,
        value: &Bound<'py, PyAny>,
        compare_value: &Bound<'py, PyAny>,
        expires_ms: i64,
        durability: Dur,
    ) -> PyResult<Bound<'py, PyAny>> {
        let value = bytes_arg("value", value)?;
        let compare_value = bytes_arg("compare_value", compare_value)?;
        let r = py
            .detach(|| self.inner.try_compare_value_and_set(key, &value, &compare_value, expires_ms, durability.0))
            .into_py_result(py)?;
        convert::set_result(py, r)
    }

    /// Writes `value` only if the key is live and its revision equals `compare_revision`.
    #[pyo3(
        signature = (key, value, compare_revision, *, expires_ms = 0, durability = PERSISTENT),
        text_signature = "($self, key, value, compare_revision, *, expires_ms=0, durability=kahuna.Durability.PERSISTENT)"
    )]
    fn try_compare_revision_and_set<'py>(
        &self,
        py: Python<'py>,
        key: &str,
        value: &Bound<'py, PyAny>,
        compare_revision: i64,
        expires_ms: i64,
        durability: Dur,
    ) -> PyResult<Bound<'py, PyAny>> {
        let value = bytes_arg("value", value)?;
        let r = py
            .detach(|| self.inner.try_compare_revision_and_set(key, &value, compare_revision, expires_ms, durability.0))
            .into_py_result(py)?;
        convert::set_result(py, r)
    }

    /// Reads the latest live version of `key` (linearizable for PERSISTENT).
    #[pyo3(
        signature = (key, *, durability = PERSISTENT),
        text_signature = "($self, key, *, durability=kahuna.Durability.PERSISTENT)"
    )]
    fn try_get<'py>(&self, py: Python<'py>, key: &str, durability: Dur) -> PyResult<Bound<'py, PyAny>> {
        let r = py.detach(|| self.inner.try_get(key, durability.0)).into_py_result(py)?;
        convert::get_result(py, r)
    }

    /// Reads a retained older `revision` of `key`; not found if compacted or never written.
    #[pyo3(
        signature = (key, revision, *, durability = PERSISTENT),
        text_signature = "($self, key, revision, *, durability=kahuna.Durability.PERSISTENT)"
    )]
    fn try_get_revision<'py>(
        &self,
        py: Python<'py>,
        key: &str,
        revision: i64,
        durability: Dur,
    ) -> PyResult<Bound<'py, PyAny>> {
        let r = py.detach(|| self.inner.try_get_revision(key, revision, durability.0)).into_py_result(py)?;
        convert::get_result(py, r)
    }

    /// Reads the newest version of `key` whose `last_modified` is at or before `timestamp` (HLC).
    #[pyo3(
        signature = (key, timestamp, *, durability = PERSISTENT),
        text_signature = "($self, key, timestamp, *, durability=kahuna.Durability.PERSISTENT)"
    )]
    fn try_get_as_of<'py>(
        &self,
        py: Python<'py>,
        key: &str,
        timestamp: i128,
        durability: Dur,
    ) -> PyResult<Bound<'py, PyAny>> {
        let Ok(timestamp) = u64::try_from(timestamp) else {
            return Err(invalid_input(
                py,
                format!("timestamp must be an HLC timestamp greater than 0, got {timestamp}"),
            ));
        };
        let r = py.detach(|| self.inner.try_get_as_of(key, timestamp, durability.0)).into_py_result(py)?;
        convert::get_result(py, r)
    }

    /// Tells whether `key` is live, and its revision.
    #[pyo3(
        signature = (key, *, durability = PERSISTENT),
        text_signature = "($self, key, *, durability=kahuna.Durability.PERSISTENT)"
    )]
    fn try_exists<'py>(&self, py: Python<'py>, key: &str, durability: Dur) -> PyResult<Bound<'py, PyAny>> {
        let r = py.detach(|| self.inner.try_exists(key, durability.0)).into_py_result(py)?;
        convert::exists_result(py, r)
    }

    /// Deletes `key`; `deleted` is False if it was not live. The revision does not change.
    #[pyo3(
        signature = (key, *, durability = PERSISTENT),
        text_signature = "($self, key, *, durability=kahuna.Durability.PERSISTENT)"
    )]
    fn try_delete<'py>(&self, py: Python<'py>, key: &str, durability: Dur) -> PyResult<Bound<'py, PyAny>> {
        let r = py.detach(|| self.inner.try_delete(key, durability.0)).into_py_result(py)?;
        convert::delete_result(py, r)
    }

    /// Moves the expiry of a live `key` to now + `expires_ms` (which must be > 0).
    #[pyo3(
        signature = (key, expires_ms, *, durability = PERSISTENT),
        text_signature = "($self, key, expires_ms, *, durability=kahuna.Durability.PERSISTENT)"
    )]
    fn try_extend<'py>(
        &self,
        py: Python<'py>,
        key: &str,
        expires_ms: i64,
        durability: Dur,
    ) -> PyResult<Bound<'py, PyAny>> {
        let r = py.detach(|| self.inner.try_extend(key, expires_ms, durability.0)).into_py_result(py)?;
        convert::extend_result(py, r)
    }

    /// Acquires the lock on `resource` for `owner` with a lease of `expires_ms` (> 0).
    ///
    /// `locked` is False while another owner holds a live lease. The current owner acquiring
    /// again gets its token back without extending the lease.
    #[pyo3(
        signature = (resource, owner, expires_ms, *, durability = PERSISTENT),
        text_signature = "($self, resource, owner, expires_ms, *, durability=kahuna.Durability.PERSISTENT)"
    )]
    fn try_lock<'py>(
        &self,
        py: Python<'py>,
        resource: &str,
        owner: &Bound<'py, PyAny>,
        expires_ms: i64,
        durability: Dur,
    ) -> PyResult<Bound<'py, PyAny>> {
        let owner = bytes_arg("owner", owner)?;
        let r = py.detach(|| self.inner.try_lock(resource, &owner, expires_ms, durability.0)).into_py_result(py)?;
        convert::lock_result(py, r)
    }

    /// Extends `owner`'s live lease on `resource` to now + `expires_ms`; returns the unchanged
    /// fencing token. Raises LockDoesNotExistError or InvalidOwnerError.
    #[pyo3(
        signature = (resource, owner, expires_ms, *, durability = PERSISTENT),
        text_signature = "($self, resource, owner, expires_ms, *, durability=kahuna.Durability.PERSISTENT)"
    )]
    fn try_extend_lock(
        &self,
        py: Python<'_>,
        resource: &str,
        owner: &Bound<'_, PyAny>,
        expires_ms: i64,
        durability: Dur,
    ) -> PyResult<i64> {
        let owner = bytes_arg("owner", owner)?;
        py.detach(|| self.inner.try_extend_lock(resource, &owner, expires_ms, durability.0)).into_py_result(py)
    }

    /// Releases `owner`'s lock on `resource`. Raises LockDoesNotExistError or InvalidOwnerError.
    #[pyo3(
        signature = (resource, owner, *, durability = PERSISTENT),
        text_signature = "($self, resource, owner, *, durability=kahuna.Durability.PERSISTENT)"
    )]
    fn unlock(&self, py: Python<'_>, resource: &str, owner: &Bound<'_, PyAny>, durability: Dur) -> PyResult<()> {
        let owner = bytes_arg("owner", owner)?;
        py.detach(|| self.inner.unlock(resource, &owner, durability.0)).into_py_result(py)
    }

    /// The live lock on `resource`: owner, lease end and fencing token. Raises
    /// LockDoesNotExistError when the resource is free.
    #[pyo3(
        signature = (resource, *, durability = PERSISTENT),
        text_signature = "($self, resource, *, durability=kahuna.Durability.PERSISTENT)"
    )]
    fn get_lock<'py>(&self, py: Python<'py>, resource: &str, durability: Dur) -> PyResult<Bound<'py, PyAny>> {
        let r = py.detach(|| self.inner.get_lock(resource, durability.0)).into_py_result(py)?;
        convert::lock_info(py, r)
    }

    /// Tries to take the lock on `resource` (retrying for up to `wait` seconds while it is
    /// busy) and returns a `kahuna.Lock` handle, a context manager that releases it.
    #[pyo3(
        signature = (resource, *, ttl_ms, owner = None, wait = None, keep_alive = false, durability = PERSISTENT),
        text_signature = "($self, resource, *, ttl_ms, owner=None, wait=None, keep_alive=False, durability=kahuna.Durability.PERSISTENT)"
    )]
    #[allow(clippy::too_many_arguments)]
    fn lock<'py>(
        slf: &Bound<'py, Client>,
        resource: &str,
        ttl_ms: i64,
        owner: Option<&Bound<'py, PyAny>>,
        wait: Option<f64>,
        keep_alive: bool,
        durability: Dur,
    ) -> PyResult<Bound<'py, PyAny>> {
        static ACQUIRE: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
        let py = slf.py();
        let acquire =
            ACQUIRE.get_or_try_init(py, || py.import("kahuna._locks")?.getattr("_acquire").map(Bound::unbind))?;
        acquire.bind(py).call1((slf, resource, ttl_ms, owner, wait, keep_alive, durability.to_py(py)?))
    }

    /// An election for `name` in which this process stands as `candidate`, on a Persistent
    /// lock whose lease lasts `ttl_ms` unless kept alive.
    #[pyo3(signature = (name, candidate, ttl_ms))]
    fn election(&self, py: Python<'_>, name: &str, candidate: &Bound<'_, PyAny>, ttl_ms: i64) -> PyResult<Election> {
        let candidate = bytes_arg("candidate", candidate)?;
        Election::new(py, self.inner.clone(), name, &candidate, ttl_ms)
    }

    /// Every live key whose bucket (text before the last '/') is `bucket`, ordered by key.
    #[pyo3(
        signature = (bucket, *, durability = PERSISTENT),
        text_signature = "($self, bucket, *, durability=kahuna.Durability.PERSISTENT)"
    )]
    fn get_by_bucket<'py>(&self, py: Python<'py>, bucket: &str, durability: Dur) -> PyResult<Bound<'py, PyList>> {
        let r = py.detach(|| self.inner.get_by_bucket(bucket, durability.0)).into_py_result(py)?;
        convert::entries(py, r)
    }

    /// One page (at most `limit` entries) of the keys starting with `prefix`, ordered by key.
    #[pyo3(
        signature = (prefix, *, limit = 100, cursor = None, durability = PERSISTENT),
        text_signature = "($self, prefix, *, limit=100, cursor=None, durability=kahuna.Durability.PERSISTENT)"
    )]
    fn scan_by_prefix<'py>(
        &self,
        py: Python<'py>,
        prefix: &str,
        limit: i64,
        cursor: Option<&Bound<'py, PyAny>>,
        durability: Dur,
    ) -> PyResult<Bound<'py, PyAny>> {
        let limit = limit_arg(py, limit)?;
        let cursor = cursor_arg(cursor)?;
        let r = py.detach(|| self.inner.scan_by_prefix(prefix, limit, cursor, durability.0)).into_py_result(py)?;
        convert::scan_page(py, r)
    }

    /// Iterates over every page of a prefix scan; all pages read at one snapshot.
    #[pyo3(
        signature = (prefix, *, limit = 100, durability = PERSISTENT),
        text_signature = "($self, prefix, *, limit=100, durability=kahuna.Durability.PERSISTENT)"
    )]
    fn scan_pages_by_prefix(
        slf: &Bound<'_, Client>,
        prefix: String,
        limit: i64,
        durability: Dur,
    ) -> PyResult<ScanPages> {
        let limit = limit_arg(slf.py(), limit)?;
        let state = ScanState { cursor: None, done: false };
        Ok(ScanPages { client: slf.clone().unbind(), prefix, limit, durability, state: Mutex::new(state) })
    }

    /// The cluster's members and partition leaders, as a node sees them now.
    fn topology<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let r = py.detach(|| self.inner.topology()).into_py_result(py)?;
        convert::topology(py, r)
    }

    /// Closes the connections; later calls raise InvalidInputError. Idempotent.
    fn close(&self, py: Python<'_>) {
        self.closed.store(true, Ordering::SeqCst);
        py.detach(|| self.inner.close());
    }

    /// True once `close` has been called.
    #[getter]
    fn closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    /// The endpoints the client was created with.
    #[getter]
    fn endpoints(&self) -> Vec<String> {
        self.endpoints.clone()
    }

    /// The deadline of one call in seconds, retries included.
    #[getter]
    fn timeout(&self) -> f64 {
        self.timeout
    }

    /// Returns the client itself, for `with Client(...) as client:`.
    fn __enter__(slf: Bound<'_, Client>) -> Bound<'_, Client> {
        slf
    }

    /// Closes the client; exceptions propagate.
    #[pyo3(signature = (*_exc_info))]
    fn __exit__(&self, py: Python<'_>, _exc_info: &Bound<'_, PyTuple>) -> bool {
        self.close(py);
        false
    }

    fn __repr__(&self) -> String {
        let endpoints: Vec<String> = self.endpoints.iter().map(|e| format!("'{e}'")).collect();
        let closed = if self.closed() { "True" } else { "False" };
        format!("Client(endpoints=[{}], timeout={:?}, closed={closed})", endpoints.join(", "), self.timeout)
    }
}

/// A scan `limit`: 0 (the server's default page size) or more; the server caps it (1000).
fn limit_arg(py: Python<'_>, limit: i64) -> PyResult<u32> {
    u32::try_from(limit).map_err(|_| invalid_input(py, format!("limit must not be negative, got {limit}")))
}

/// Where a scan iterator stands.
struct ScanState {
    cursor: Option<Vec<u8>>,
    done: bool,
}

/// An iterator over the pages of one prefix scan (`Client.scan_pages_by_prefix`).
///
/// Each `next()` fetches one page with the GIL released. Two threads may share the iterator:
/// the state lock is taken only while detached from the interpreter, so a thread waiting for
/// it never holds the GIL that the thread owning it needs.
#[pyclass(module = "kahuna", frozen)]
pub(crate) struct ScanPages {
    client: Py<Client>,
    prefix: String,
    limit: u32,
    durability: Dur,
    state: Mutex<ScanState>,
}

#[pymethods]
impl ScanPages {
    /// Returns the iterator itself.
    fn __iter__(slf: Bound<'_, ScanPages>) -> Bound<'_, ScanPages> {
        slf
    }

    /// Fetches the next page, or ends the iteration after the page without a cursor.
    fn __next__<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let client = self.client.get();
        let page = py.detach(|| -> Result<_, Error> {
            let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
            if state.done {
                return Ok(None);
            }
            let page =
                client.inner.scan_by_prefix(&self.prefix, self.limit, state.cursor.as_deref(), self.durability.0)?;
            state.cursor.clone_from(&page.cursor);
            state.done = page.cursor.is_none();
            Ok(Some(page))
        });
        match page.into_py_result(py)? {
            Some(page) => convert::scan_page(py, page).map(Some),
            None => Ok(None),
        }
    }

    fn __repr__(&self) -> String {
        format!("ScanPages(prefix={:?}, limit={})", self.prefix, self.limit)
    }
}
