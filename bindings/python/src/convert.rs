//! Conversions between Python values and the client core's types.
//!
//! In: keys are `str` (pyo3 checks that); values are `bytes` (borrowed, no copy), `str`
//! (its UTF-8 bytes, borrowed) or `bytearray` (copied); a durability must be a
//! `kahuna.Durability` member; durations are seconds. A wrong type is a `TypeError`, a bad
//! value an `InvalidInputError` (which is also a `ValueError`).
//!
//! Out: results become the frozen dataclasses of `kahuna/_types.py`, imported once.

use std::borrow::Cow;
use std::time::Duration;

use kahuna_client::{
    DeleteResult, Durability, Entry, ExistsResult, ExtendResult, GetResult, LeaderInfo, LockInfo, LockResult, ScanPage,
    SetResult, Topology,
};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedStr;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyByteArray, PyBytes, PyList, PyString, PyTuple, PyType};
use pyo3::{Borrowed, intern};

use crate::error::invalid_input;

/// The module that defines the Python data types.
const TYPES: &str = "kahuna._types";

/// A durability argument: a `kahuna.Durability` member.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Dur(pub(crate) Durability);

/// The default of every `durability=` argument.
pub(crate) const PERSISTENT: Dur = Dur(Durability::Persistent);

impl<'a, 'py> FromPyObject<'a, 'py> for Dur {
    type Error = PyErr;

    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Dur> {
        static CLASS: PyOnceLock<Py<PyType>> = PyOnceLock::new();
        let py = obj.py();
        let class = CLASS.import(py, TYPES, "Durability")?;
        if !obj.is_instance(class)? {
            return Err(PyTypeError::new_err(format!(
                "durability must be a kahuna.Durability, not {}",
                obj.get_type().qualname()?
            )));
        }
        match obj.getattr(intern!(py, "value"))?.extract::<u8>()? {
            0 => Ok(Dur(Durability::Persistent)),
            1 => Ok(Dur(Durability::Ephemeral)),
            other => Err(PyTypeError::new_err(format!("unknown kahuna.Durability value {other}"))),
        }
    }
}

impl Dur {
    /// The `kahuna.Durability` member of this durability.
    pub(crate) fn to_py<'py>(self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        static CLASS: PyOnceLock<Py<PyType>> = PyOnceLock::new();
        let value: u8 = match self.0 {
            Durability::Persistent => 0,
            Durability::Ephemeral => 1,
        };
        CLASS.import(py, TYPES, "Durability")?.call1((value,))
    }
}

/// The bytes of a value argument: `bytes` and `str` are borrowed, `bytearray` is copied.
pub(crate) fn bytes_arg<'a>(name: &str, obj: &'a Bound<'_, PyAny>) -> PyResult<Cow<'a, [u8]>> {
    if let Ok(b) = obj.cast::<PyBytes>() {
        return Ok(Cow::Borrowed(b.as_bytes()));
    }
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(Cow::Borrowed(s.to_str()?.as_bytes()));
    }
    if let Ok(b) = obj.cast::<PyByteArray>() {
        return Ok(Cow::Owned(b.to_vec()));
    }
    Err(PyTypeError::new_err(format!("{name} must be bytes or str, not {}", obj.get_type().qualname()?)))
}

/// An optional scan cursor: `None` or the `bytes` a previous page returned.
pub(crate) fn cursor_arg<'a>(obj: Option<&'a Bound<'_, PyAny>>) -> PyResult<Option<&'a [u8]>> {
    match obj {
        None => Ok(None),
        Some(o) if o.is_none() => Ok(None),
        Some(o) => match o.cast::<PyBytes>() {
            Ok(b) => Ok(Some(b.as_bytes())),
            Err(_) => {
                Err(PyTypeError::new_err(format!("cursor must be bytes or None, not {}", o.get_type().qualname()?)))
            }
        },
    }
}

/// A duration given in seconds: finite and greater than 0.
pub(crate) fn seconds_arg(py: Python<'_>, name: &str, seconds: f64) -> PyResult<Duration> {
    if !seconds.is_finite() || seconds <= 0.0 {
        return Err(invalid_input(py, format!("{name} must be a positive number of seconds, got {seconds}")));
    }
    Duration::try_from_secs_f64(seconds)
        .map_err(|e| invalid_input(py, format!("{name} of {seconds} seconds is out of range: {e}")))
}

/// The endpoints argument: a sequence of `"host:port"` strings, or one comma-separated string.
pub(crate) fn endpoints_arg(obj: &Bound<'_, PyAny>) -> PyResult<Vec<String>> {
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(s.to_str()?.split(',').map(str::trim).filter(|e| !e.is_empty()).map(String::from).collect());
    }
    let items: Vec<PyBackedStr> = obj.extract().map_err(|_| {
        PyTypeError::new_err("endpoints must be a list of \"host:port\" strings (or one comma-separated string)")
    })?;
    Ok(items.iter().map(|s| s.to_string()).collect())
}

/// Imports the result class `name` from `kahuna._types` once, and builds an instance of it.
macro_rules! build {
    ($py:expr, $name:literal, $args:expr) => {{
        static CLASS: PyOnceLock<Py<PyType>> = PyOnceLock::new();
        CLASS.import($py, TYPES, $name)?.call1($args)
    }};
}

/// `kahuna.SetResult`.
pub(crate) fn set_result<'py>(py: Python<'py>, r: SetResult) -> PyResult<Bound<'py, PyAny>> {
    build!(py, "SetResult", (r.set, r.revision, r.last_modified))
}

/// `kahuna.GetResult`.
pub(crate) fn get_result<'py>(py: Python<'py>, r: GetResult) -> PyResult<Bound<'py, PyAny>> {
    build!(py, "GetResult", (r.found, PyBytes::new(py, &r.value), r.revision, r.expires_at, r.last_modified))
}

/// `kahuna.ExistsResult`.
pub(crate) fn exists_result<'py>(py: Python<'py>, r: ExistsResult) -> PyResult<Bound<'py, PyAny>> {
    build!(py, "ExistsResult", (r.exists, r.revision))
}

/// `kahuna.DeleteResult`.
pub(crate) fn delete_result<'py>(py: Python<'py>, r: DeleteResult) -> PyResult<Bound<'py, PyAny>> {
    build!(py, "DeleteResult", (r.deleted, r.revision))
}

/// `kahuna.ExtendResult`.
pub(crate) fn extend_result<'py>(py: Python<'py>, r: ExtendResult) -> PyResult<Bound<'py, PyAny>> {
    build!(py, "ExtendResult", (r.extended, r.revision))
}

/// `kahuna.Entry`.
pub(crate) fn entry<'py>(py: Python<'py>, e: Entry) -> PyResult<Bound<'py, PyAny>> {
    build!(py, "Entry", (e.key, PyBytes::new(py, &e.value), e.revision, e.expires_at, e.last_modified))
}

/// A list of `kahuna.Entry`.
pub(crate) fn entries<'py>(py: Python<'py>, entries: Vec<Entry>) -> PyResult<Bound<'py, PyList>> {
    let items = entries.into_iter().map(|e| entry(py, e)).collect::<PyResult<Vec<_>>>()?;
    PyList::new(py, items)
}

/// `kahuna.ScanPage` (its entries as a tuple, so the page is immutable).
pub(crate) fn scan_page<'py>(py: Python<'py>, page: ScanPage) -> PyResult<Bound<'py, PyAny>> {
    let items = page.entries.into_iter().map(|e| entry(py, e)).collect::<PyResult<Vec<_>>>()?;
    let cursor = page.cursor.map(|c| PyBytes::new(py, &c));
    build!(py, "ScanPage", (PyTuple::new(py, items)?, cursor, page.snapshot))
}

/// `kahuna.Topology`.
pub(crate) fn topology<'py>(py: Python<'py>, t: Topology) -> PyResult<Bound<'py, PyAny>> {
    let nodes = PyTuple::new(py, t.nodes)?;
    let leaders = PyTuple::new(py, t.leaders)?;
    let terms = PyTuple::new(py, t.terms)?;
    build!(py, "Topology", (t.cluster_id, t.cluster_name, t.partition_count, nodes, leaders, terms, t.answered_by))
}

/// `kahuna.LockResult`.
pub(crate) fn lock_result<'py>(py: Python<'py>, r: LockResult) -> PyResult<Bound<'py, PyAny>> {
    build!(py, "LockResult", (r.locked, r.fencing_token))
}

/// `kahuna.LockInfo`.
pub(crate) fn lock_info<'py>(py: Python<'py>, r: LockInfo) -> PyResult<Bound<'py, PyAny>> {
    build!(py, "LockInfo", (PyBytes::new(py, &r.owner), r.expires_at, r.fencing_token))
}

/// `kahuna.LeaderInfo`.
pub(crate) fn leader_info<'py>(py: Python<'py>, r: LeaderInfo) -> PyResult<Bound<'py, PyAny>> {
    build!(py, "LeaderInfo", (PyBytes::new(py, &r.candidate), r.fencing_token, r.expires_at))
}
