//! The client handle: options, connect, free, and the cluster topology.
//!
//! A `kahuna_client *` is a boxed [`BlockingClient`]. The box is created by
//! [`kahuna_client_connect`] and destroyed by [`kahuna_client_free`]; between the two, any
//! number of threads may use it at once. Freeing closes the client's connections and waits
//! for its I/O thread to end.
//!
//! ```text
//!   kahuna_client_connect("h1:p,h2:p", &options) ──> Box<kahuna_client { BlockingClient }>
//!        ... kahuna_try_get(client, ...) from any thread ...
//!   kahuna_client_free(client) ──> close + drop
//! ```

use std::ffi::c_char;
use std::time::Duration;

use ::kahuna_client::{BlockingClient, ClientOptions, Error};

use crate::ffi;
use crate::results::kahuna_topology;
use crate::status::kahuna_status;

/// A connection to a Kahuna cluster. Opaque; thread-safe; free with `kahuna_client_free`.
pub struct kahuna_client {
    pub(crate) inner: BlockingClient,
}

/// How a client connects, waits and retries. A field left at 0 takes its default.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct kahuna_options {
    /// Deadline of one call, retries included, in milliseconds (default 10000). When it
    /// passes the call returns `KAHUNA_TIMEOUT` (`KAHUNA_UNAVAILABLE` for connect).
    pub timeout_ms: u64,
    /// How long opening one connection may take, in milliseconds (default 3000).
    pub connect_timeout_ms: u64,
    /// How long one attempt of a read waits on one node before trying another, in
    /// milliseconds (default 2000). Writes wait for the whole `timeout_ms`.
    pub read_attempt_timeout_ms: u64,
}

impl kahuna_options {
    /// The Rust client options these stand for (0 = the default of that field).
    fn to_client_options(self) -> ClientOptions {
        let defaults = ClientOptions::default();
        let pick = |ms: u64, default: Duration| if ms == 0 { default } else { Duration::from_millis(ms) };
        ClientOptions {
            timeout: pick(self.timeout_ms, defaults.timeout),
            connect_timeout: pick(self.connect_timeout_ms, defaults.connect_timeout),
            read_attempt_timeout: pick(self.read_attempt_timeout_ms, defaults.read_attempt_timeout),
        }
    }
}

/// The default options, with every field filled in.
#[unsafe(no_mangle)]
pub extern "C" fn kahuna_options_default() -> kahuna_options {
    ffi::run_value(kahuna_options::default(), default_options)
}

/// The client's default options in milliseconds.
fn default_options() -> kahuna_options {
    let d = ClientOptions::default();
    let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
    kahuna_options {
        timeout_ms: ms(d.timeout),
        connect_timeout_ms: ms(d.connect_timeout),
        read_attempt_timeout_ms: ms(d.read_attempt_timeout),
    }
}

/// Connects to a cluster through any of `endpoints` and learns its topology.
///
/// `endpoints` is a comma-separated list of `host:port` (`"10.0.0.1:7070,10.0.0.2:7070"`);
/// spaces around entries are ignored. `options` may be NULL for the defaults. On
/// `KAHUNA_OK`, `*out` is a new handle to free with `kahuna_client_free`; otherwise it is
/// NULL. When no endpoint answers within `timeout_ms`, the status is `KAHUNA_UNAVAILABLE` and
/// the message says why each endpoint failed.
///
/// # Safety
/// `endpoints` must be NULL or a NUL-terminated string; `options` NULL or readable; `out`
/// NULL or writable; `err` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn kahuna_client_connect(
    endpoints: *const c_char,
    options: *const kahuna_options,
    out: *mut *mut kahuna_client,
    err: *mut *mut c_char,
) -> kahuna_status {
    // SAFETY: the caller guarantees every pointer is NULL or valid, as documented.
    unsafe {
        ffi::run_plain(err, || {
            if out.is_null() {
                return Err(Error::invalid_input("out is NULL"));
            }
            out.write(std::ptr::null_mut());
            let endpoints = ffi::string("endpoints", endpoints)?;
            let list: Vec<&str> = endpoints.split(',').map(str::trim).filter(|e| !e.is_empty()).collect();
            if list.is_empty() {
                return Err(Error::invalid_input(format!(
                    "endpoints must list at least one host:port, got '{endpoints}'"
                )));
            }
            let options = options.as_ref().copied().unwrap_or_default().to_client_options();
            let inner = BlockingClient::connect(&list, options)?;
            out.write(Box::into_raw(Box::new(kahuna_client { inner })));
            Ok(())
        })
    }
}

/// Closes a client and frees its handle. NULL is ignored. Returns once the client's I/O
/// thread has ended: every connection is closed and all its memory freed.
///
/// No other call may be using the handle, and it must not be used afterwards.
///
/// # Safety
/// `client` must be NULL or a handle from `kahuna_client_connect` not already freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn kahuna_client_free(client: *mut kahuna_client) {
    ffi::run_void(|| {
        if !client.is_null() {
            // SAFETY: the caller guarantees the handle came from Box::into_raw in connect.
            let handle = unsafe { Box::from_raw(client) };
            handle.inner.close();
        }
    });
}

/// The cluster's members and partition leaders, as a node sees them now.
///
/// On `KAHUNA_OK`, free `*out` with `kahuna_topology_free`.
///
/// # Safety
/// `client` must be NULL or a live handle; `out` NULL or writable; `err` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn kahuna_get_topology(
    client: *const kahuna_client,
    out: *mut kahuna_topology,
    err: *mut *mut c_char,
) -> kahuna_status {
    // SAFETY: the caller guarantees every pointer is NULL or valid, as documented.
    unsafe { ffi::run(out, err, || Ok(ffi::client(client)?.topology()?.into())) }
}
