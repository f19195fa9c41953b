//! `kahuna.Election` and `kahuna.Leadership`: leader election, a thin layer over the client
//! core's [`kahuna_client::Election`] and [`kahuna_client::Leadership`].
//!
//! ```text
//!   Client.election(name, candidate, ttl_ms) -> Election
//!     .campaign(timeout)  loop: core campaign(0) (one try_lock, GIL released)
//!                               sleep ttl/4 in 50 ms slices, GIL released, Ctrl-C checked between
//!                         -> Leadership (the core's keep-alive thread extends every ttl/3)
//!     .leader()           -> LeaderInfo | None
//!   Leadership.resign() / __exit__ / garbage collection -> the core's resign (unlock)
//! ```
//!
//! The waiting loop is here rather than in the core's `campaign(wait)` so that a long (or
//! endless, `timeout=None`) campaign still answers Ctrl-C. Dropping a `Leadership` (the Python
//! object being collected) resigns on a short-lived thread of its own: a destructor runs with
//! the GIL held and must not wait on the network.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use kahuna_client::BlockingClient;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString, PyTuple};

use crate::convert::{self, seconds_arg};
use crate::error::{IntoPyResult, invalid_input};

/// How long the campaign loop sleeps between two checks for Ctrl-C.
const SIGNAL_SLICE: Duration = Duration::from_millis(50);

/// An election for one name among candidates (`Client.election`).
#[pyclass(module = "kahuna", frozen)]
pub(crate) struct Election {
    inner: kahuna_client::Election,
    name: String,
    candidate: Vec<u8>,
    ttl: Duration,
}

impl Election {
    /// Checks the arguments (as the core would on the first campaign) and builds the election.
    pub(crate) fn new(
        py: Python<'_>,
        client: BlockingClient,
        name: &str,
        candidate: &[u8],
        ttl_ms: i64,
    ) -> PyResult<Election> {
        kahuna_schema::routing::validate_key("name", name).map_err(|m| invalid_input(py, m))?;
        if candidate.is_empty() {
            return Err(invalid_input(py, "candidate must not be empty"));
        }
        let ttl = u64::try_from(ttl_ms)
            .ok()
            .filter(|&ms| ms > 0)
            .map(Duration::from_millis)
            .ok_or_else(|| invalid_input(py, format!("ttl_ms must be greater than 0, got {ttl_ms}")))?;
        let inner = kahuna_client::Election::new(client, name, candidate, ttl);
        Ok(Election { inner, name: name.to_string(), candidate: candidate.to_vec(), ttl })
    }
}

#[pymethods]
impl Election {
    /// Tries to become the leader, for up to `timeout` seconds (None: until it succeeds;
    /// 0: one try). Returns a Leadership, or None if another candidate still leads.
    #[pyo3(signature = (timeout = None))]
    fn campaign(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<Option<Leadership>> {
        let deadline = match timeout {
            None => None,
            Some(t) if t > 0.0 => Some(Instant::now() + seconds_arg(py, "timeout", t)?),
            Some(t) if t >= 0.0 => Some(Instant::now()),
            Some(t) => {
                return Err(invalid_input(py, format!("timeout must be None or a number of seconds >= 0, got {t}")));
            }
        };
        let poll = (self.ttl / 4).clamp(Duration::from_millis(10), Duration::from_secs(1));
        loop {
            let won = py.detach(|| self.inner.campaign(Duration::ZERO)).into_py_result(py)?;
            if let Some(leadership) = won {
                return Ok(Some(Leadership {
                    fencing_token: leadership.fencing_token(),
                    inner: Mutex::new(Some(leadership)),
                    name: self.name.clone(),
                    candidate: self.candidate.clone(),
                }));
            }
            let now = Instant::now();
            let pause = match deadline {
                Some(d) if now >= d => return Ok(None),
                Some(d) => poll.min(d - now),
                None => poll,
            };
            sleep_interruptibly(py, pause)?;
        }
    }

    /// The current leader, or None when nobody leads.
    fn leader<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        match py.detach(|| self.inner.leader()).into_py_result(py)? {
            Some(info) => convert::leader_info(py, info).map(Some),
            None => Ok(None),
        }
    }

    /// The name (a resource, routed like a key) the candidates compete for.
    #[getter]
    fn name(&self) -> &str {
        &self.name
    }

    /// This process's candidate id.
    #[getter]
    fn candidate<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.candidate)
    }

    /// A leader's lease in milliseconds; the keep-alive extends it every third of that.
    #[getter]
    fn ttl_ms(&self) -> u128 {
        self.ttl.as_millis()
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "Election(name={}, candidate={}, ttl_ms={})",
            PyString::new(py, &self.name).repr()?,
            PyBytes::new(py, &self.candidate).repr()?,
            self.ttl.as_millis()
        ))
    }
}

/// Sleeps `pause` with the GIL released, checking for Ctrl-C (and other signals) every slice.
fn sleep_interruptibly(py: Python<'_>, pause: Duration) -> PyResult<()> {
    let until = Instant::now() + pause;
    loop {
        py.check_signals()?;
        let now = Instant::now();
        if now >= until {
            return Ok(());
        }
        let slice = SIGNAL_SLICE.min(until - now);
        py.detach(|| std::thread::sleep(slice));
    }
}

/// Leadership won by `Election.campaign`: kept alive in the background until resigned.
#[pyclass(module = "kahuna", frozen)]
pub(crate) struct Leadership {
    /// The core's leadership; None once resigned.
    inner: Mutex<Option<kahuna_client::Leadership>>,
    fencing_token: i64,
    name: String,
    candidate: Vec<u8>,
}

impl Leadership {
    /// Takes the core's leadership out (None if already resigned).
    fn take(&self) -> Option<kahuna_client::Leadership> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).take()
    }
}

#[pymethods]
impl Leadership {
    /// The fencing token of this leadership: pass it to every resource the leader writes.
    #[getter]
    fn fencing_token(&self) -> i64 {
        self.fencing_token
    }

    /// False once resigned, or once the lease could not be kept alive: stop leading then.
    #[getter]
    fn is_leader(&self) -> bool {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.as_ref().is_some_and(kahuna_client::Leadership::is_leader)
    }

    /// The election's name.
    #[getter]
    fn name(&self) -> &str {
        &self.name
    }

    /// This leader's candidate id.
    #[getter]
    fn candidate<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.candidate)
    }

    /// Stops the keep-alive and releases the lock (if still held), so another candidate takes
    /// over at once. Idempotent.
    fn resign(&self, py: Python<'_>) -> PyResult<()> {
        match self.take() {
            Some(leadership) => py.detach(|| leadership.resign()).into_py_result(py),
            None => Ok(()),
        }
    }

    /// Returns the leadership itself, for `with election.campaign() as leadership:`.
    fn __enter__(slf: Bound<'_, Leadership>) -> Bound<'_, Leadership> {
        slf
    }

    /// Resigns. An exception from the block propagates (a failed resign does not replace it).
    #[pyo3(signature = (*exc_info))]
    fn __exit__(&self, py: Python<'_>, exc_info: &Bound<'_, PyTuple>) -> PyResult<bool> {
        let resigned = self.resign(py);
        let in_flight = exc_info.get_item(0).is_ok_and(|e| !e.is_none());
        if !in_flight {
            resigned?;
        }
        Ok(false)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "Leadership(name={}, candidate={}, fencing_token={}, is_leader={})",
            PyString::new(py, &self.name).repr()?,
            PyBytes::new(py, &self.candidate).repr()?,
            self.fencing_token,
            if self.is_leader() { "True" } else { "False" }
        ))
    }
}

impl Drop for Leadership {
    /// A leadership nobody resigned resigns when collected, off the interpreter's thread.
    fn drop(&mut self) {
        if let Some(leadership) = self.take() {
            // Should no thread be available, `spawn` drops the closure, which resigns here.
            let _ = std::thread::Builder::new().name("kahuna-resign".into()).spawn(move || drop(leadership));
        }
    }
}
