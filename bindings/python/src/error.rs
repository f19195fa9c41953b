//! Core errors to Python exceptions: one exception class per stable status code.
//!
//! The classes are defined in Python (`kahuna/_errors.py`, which also says which class a code
//! maps to); this module only calls its `_error(code, message)` factory, so the mapping exists
//! once. Should that import ever fail, the error still surfaces, as a `RuntimeError` naming it.

use kahuna_client::Error;
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyAny;

static FACTORY: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// The Python exception for a core error: `kahuna.<Code>Error(message)` with `.code` set.
pub(crate) fn to_py(py: Python<'_>, error: Error) -> PyErr {
    let built = FACTORY
        .get_or_try_init(py, || py.import("kahuna._errors")?.getattr("_error").map(Bound::unbind))
        .and_then(|factory| factory.bind(py).call1((error.code.as_u8(), error.message.as_str())));
    match built {
        Ok(exception) => PyErr::from_value(exception),
        Err(e) => PyRuntimeError::new_err(format!("{error} (and kahuna._errors failed: {e})")),
    }
}

/// Runs `result` through [`to_py`].
pub(crate) trait IntoPyResult<T> {
    /// The value, or the error as a Python exception.
    fn into_py_result(self, py: Python<'_>) -> PyResult<T>;
}

impl<T> IntoPyResult<T> for Result<T, Error> {
    fn into_py_result(self, py: Python<'_>) -> PyResult<T> {
        self.map_err(|e| to_py(py, e))
    }
}

/// An `InvalidInputError` raised before anything reached the client core.
pub(crate) fn invalid_input(py: Python<'_>, message: impl Into<String>) -> PyErr {
    to_py(py, Error::invalid_input(message))
}
