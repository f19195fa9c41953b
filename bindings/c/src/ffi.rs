//! The call guard and the argument readers every export goes through.
//!
//! [`run`] is the one shape of an exported operation: check and zero `*out`, clear `*err`, run
//! the body inside `catch_unwind`, then either move the result into `*out` or turn the error
//! into a status and a message. The readers ([`client`], [`string`], [`bytes`],
//! [`durability`]) turn raw C arguments into Rust values, failing with `InvalidInput` and a
//! message that names the argument.
//!
//! Nothing here allocates for the caller except [`set_error`] (through [`memory`]).

use std::any::Any;
use std::ffi::{CStr, c_char};
use std::panic::{AssertUnwindSafe, catch_unwind};

use ::kahuna_client::{BlockingClient, Code, Durability, Error};

use crate::client::kahuna_client;
use crate::memory;
use crate::status::kahuna_status;

/// Durability of a call, as an integer (`KAHUNA_PERSISTENT` or `KAHUNA_EPHEMERAL`).
///
/// Taken as a plain integer so that an out-of-range value is an `InvalidInput` error, not
/// undefined behaviour.
pub type kahuna_durability = i32;

/// Replicated through Raft and fsynced on a quorum before the call returns; linearizable.
pub const KAHUNA_PERSISTENT: kahuna_durability = 0;
/// Kept only in the memory of the partition leader; lost when leadership moves. A separate
/// keyspace from `KAHUNA_PERSISTENT`.
pub const KAHUNA_EPHEMERAL: kahuna_durability = 1;

/// Runs one operation whose result goes to `*out`.
///
/// `*out` is zeroed (`T::default()`) before anything else, so it is safe to free whatever the
/// outcome; `*err` is set to NULL, or to the message of the error.
///
/// # Safety
/// `out` must be NULL or valid for writes of a `T`; `err` must be NULL or valid for writes of
/// a pointer.
pub(crate) unsafe fn run<T: Default>(
    out: *mut T,
    err: *mut *mut c_char,
    body: impl FnOnce() -> Result<T, Error>,
) -> kahuna_status {
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        if out.is_null() {
            return Err(Error::invalid_input("out is NULL"));
        }
        // SAFETY: the caller guarantees `out` is writable. `write` drops nothing, so whatever
        // garbage the caller's struct held is not freed; the default owns nothing.
        unsafe { out.write(T::default()) };
        let value = body()?;
        // SAFETY: as above; the result moves into the caller's struct.
        unsafe { out.write(value) };
        Ok(())
    }));
    // SAFETY: the caller guarantees `err` is NULL or writable.
    unsafe { finish(outcome, err) }
}

/// Runs an operation without an out-struct (connect writes its own out-pointer).
///
/// # Safety
/// `err` must be NULL or valid for writes of a pointer.
pub(crate) unsafe fn run_plain(err: *mut *mut c_char, body: impl FnOnce() -> Result<(), Error>) -> kahuna_status {
    let outcome = catch_unwind(AssertUnwindSafe(body));
    // SAFETY: the caller guarantees `err` is NULL or writable.
    unsafe { finish(outcome, err) }
}

/// Runs a function that returns nothing (the `_free` functions); a panic is swallowed after
/// the panic hook has reported it, since unwinding into C is undefined behaviour.
pub(crate) fn run_void(body: impl FnOnce()) {
    let _ = catch_unwind(AssertUnwindSafe(body));
}

/// Runs a function that returns a plain value (`kahuna_status_name`, ...); a panic, which
/// none of them can raise today, yields `fallback` instead of unwinding into C.
pub(crate) fn run_value<T>(fallback: T, body: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or(fallback)
}

/// Turns an outcome into a status, and writes the message (or NULL) to `err`.
///
/// # Safety
/// `err` must be NULL or valid for writes of a pointer.
unsafe fn finish(outcome: Result<Result<(), Error>, Box<dyn Any + Send>>, err: *mut *mut c_char) -> kahuna_status {
    let result = outcome.unwrap_or_else(|payload| Err(panicked(payload.as_ref())));
    match result {
        Ok(()) => {
            // SAFETY: forwarded from the caller.
            unsafe { set_error(err, None) };
            kahuna_status::KAHUNA_OK
        }
        Err(e) => {
            // SAFETY: forwarded from the caller.
            unsafe { set_error(err, Some(&e.message)) };
            e.code.into()
        }
    }
}

/// The `Internal` error reporting a caught panic.
fn panicked(payload: &(dyn Any + Send)) -> Error {
    let what = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_string());
    Error::new(Code::Internal, format!("libkahuna panicked: {what}"))
}

/// Writes a new copy of `message` (or NULL) to `*err`, if `err` is not NULL.
///
/// # Safety
/// `err` must be NULL or valid for writes of a pointer.
pub(crate) unsafe fn set_error(err: *mut *mut c_char, message: Option<&str>) {
    if err.is_null() {
        return;
    }
    let value = message.map_or(std::ptr::null_mut(), |m| memory::string_into_raw(m.to_string()));
    // SAFETY: checked non-NULL; the caller guarantees it is writable.
    unsafe { err.write(value) };
}

/// The client behind a handle; `client is NULL` when there is none.
///
/// # Safety
/// `client` must be NULL or a live handle from `kahuna_client_connect`.
pub(crate) unsafe fn client<'a>(client: *const kahuna_client) -> Result<&'a BlockingClient, Error> {
    // SAFETY: the caller guarantees the handle is NULL or live.
    match unsafe { client.as_ref() } {
        Some(handle) => Ok(&handle.inner),
        None => Err(Error::invalid_input("client is NULL")),
    }
}

/// A NUL-terminated UTF-8 argument called `name`.
///
/// # Safety
/// `ptr` must be NULL or point to a NUL-terminated string that outlives the call.
pub(crate) unsafe fn string<'a>(name: &str, ptr: *const c_char) -> Result<&'a str, Error> {
    if ptr.is_null() {
        return Err(Error::invalid_input(format!("{name} is NULL")));
    }
    // SAFETY: non-NULL and NUL-terminated, as the caller guarantees.
    let text = unsafe { CStr::from_ptr(ptr) };
    text.to_str().map_err(|e| {
        Error::invalid_input(format!("{name} is not valid UTF-8 (invalid byte at offset {})", e.valid_up_to()))
    })
}

/// A `(pointer, length)` byte argument called `name`; NULL is allowed only with length 0.
///
/// # Safety
/// `ptr` must be NULL or valid for reads of `len` bytes that outlive the call.
pub(crate) unsafe fn bytes<'a>(name: &str, ptr: *const u8, len: usize) -> Result<&'a [u8], Error> {
    if ptr.is_null() {
        if len == 0 {
            return Ok(&[]);
        }
        return Err(Error::invalid_input(format!("{name} is NULL but {name}_len is {len}")));
    }
    // SAFETY: non-NULL and readable for `len` bytes, as the caller guarantees.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// An optional `(pointer, length)` byte argument: NULL (with length 0) means "none".
///
/// # Safety
/// As for [`bytes`].
pub(crate) unsafe fn optional_bytes<'a>(name: &str, ptr: *const u8, len: usize) -> Result<Option<&'a [u8]>, Error> {
    if ptr.is_null() && len == 0 {
        return Ok(None);
    }
    // SAFETY: forwarded from the caller.
    unsafe { bytes(name, ptr, len) }.map(Some)
}

/// A durability argument.
pub(crate) fn durability(value: kahuna_durability) -> Result<Durability, Error> {
    match value {
        KAHUNA_PERSISTENT => Ok(Durability::Persistent),
        KAHUNA_EPHEMERAL => Ok(Durability::Ephemeral),
        other => Err(Error::invalid_input(format!(
            "durability must be KAHUNA_PERSISTENT (0) or KAHUNA_EPHEMERAL (1), got {other}"
        ))),
    }
}
