//! `kahuna._kahuna`: the native half of the Python client, a thin pyo3 layer over
//! [`kahuna_client::BlockingClient`].
//!
//! Routing, retries, deadlines and error classification live in the client core and are not
//! repeated here. This crate only translates, in both directions, and gets out of the way of
//! other Python threads while a call waits:
//!
//! ```text
//!   Python thread ── Client.try_get(key, durability=...)          (client.rs)
//!        │  convert: str/bytes/Durability -> Rust arguments         (convert.rs)
//!        │  py.detach(|| BlockingClient::try_get(..))  ── GIL released while the core's
//!        │                                                 I/O thread does the network work
//!        │  Ok(GetResult)  -> kahuna.GetResult (frozen dataclass)   (convert.rs)
//!        └─ Err(Error)     -> kahuna.<Code>Error exception          (error.rs)
//! ```
//!
//! The data types the user sees (`Code`, the exception tree, `Durability`, the result classes)
//! are plain Python, in `python/kahuna/`, so they are typed, documented and picklable like any
//! Python class; this module imports them once and builds instances of them.
//!
//! Invariants:
//! - No Python object is touched while the GIL is released: arguments are converted to Rust
//!   values (or borrowed from immutable `bytes`/`str`) first, results are converted after.
//! - [`client::Client`] is a frozen class over a `Send + Sync` core, so one client may be used
//!   by any number of threads at once without locks on the Python side.
//!
//! Locks: the four lock operations are methods of `Client` like the key/value ones;
//! `Client.lock` hands over to the pure-Python `kahuna.Lock` handle (`kahuna/_locks.py`: a
//! context manager, waiting and keep-alive over those methods); leader election wraps the
//! core's `Election` / `Leadership` (`locks.rs`).
//!
//! Not here (yet): transactions. They will follow the same shape: a method per operation on
//! `Client`, and a small class (a `with` context manager) for the transaction handle.

mod client;
mod convert;
mod error;
mod locks;

use kahuna_client::{Code, Error};
use pyo3::prelude::*;

/// The native module: the client class and a few private helpers for the test suite.
#[pymodule]
fn _kahuna(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<client::Client>()?;
    m.add_class::<client::ScanPages>()?;
    m.add_class::<locks::Election>()?;
    m.add_class::<locks::Leadership>()?;
    m.add_function(wrap_pyfunction!(_codes, m)?)?;
    m.add_function(wrap_pyfunction!(_error_for_code, m)?)?;
    m.add_function(wrap_pyfunction!(_partition_for_key, m)?)?;
    Ok(())
}

/// Every status code of the client core as `(number, name)`, to check `kahuna.Code` against.
#[pyfunction]
fn _codes() -> Vec<(u8, &'static str)> {
    Code::ALL.iter().map(|c| (c.as_u8(), c.name())).collect()
}

/// The exception a core error with status `code` becomes (for tests of the mapping).
#[pyfunction]
fn _error_for_code(py: Python<'_>, code: u8, message: &str) -> PyResult<Py<PyAny>> {
    let code =
        Code::from_u8(code).ok_or_else(|| pyo3::exceptions::PyValueError::new_err(format!("no status code {code}")))?;
    Ok(error::to_py(py, Error::new(code, message)).into_value(py).into_any())
}

/// The partition `key` belongs to in a cluster of `partition_count` partitions (shared hash).
#[pyfunction]
fn _partition_for_key(key: &str, partition_count: u32) -> PyResult<u32> {
    if partition_count == 0 {
        return Err(pyo3::exceptions::PyValueError::new_err("partition_count must be greater than 0"));
    }
    Ok(kahuna_schema::routing::partition_for_key(key, partition_count))
}
