//! Status codes: the C spelling of [`kahuna_client::Code`], number for number.
//!
//! The enum is only ever *returned* to C, never read from it, so a caller passing a stray
//! integer cannot produce an invalid Rust enum value. Functions that take a status as input
//! ([`kahuna_status_name`]) take a plain `int32_t`.

use std::ffi::{CStr, c_char};

use ::kahuna_client::Code;

/// The outcome of a call. The numbers are stable and equal to the status codes of the wire,
/// Python and C# (`kahuna_schema::Code`): never renumbered, only appended to.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum kahuna_status {
    /// Success: the results are in `*out`.
    KAHUNA_OK = 0,
    /// A bad argument; the message names it. Nothing was sent or written.
    KAHUNA_INVALID_INPUT = 1,
    /// The target does not exist (where an error is due rather than a `found = false` result).
    KAHUNA_NOT_FOUND = 2,
    /// A definite transactional conflict: start again.
    KAHUNA_ABORTED = 3,
    /// Transient (no leader, stale route, leader change), nothing applied: safe to retry.
    KAHUNA_MUST_RETRY = 4,
    /// No node, quorum or leader could be reached in time; nothing applied.
    KAHUNA_UNAVAILABLE = 5,
    /// The deadline passed, or a write's connection broke in flight: a write's outcome is unknown.
    KAHUNA_TIMEOUT = 6,
    /// The lock does not exist (or its lease expired).
    KAHUNA_LOCK_DOES_NOT_EXIST = 7,
    /// The lock is held by another owner.
    KAHUNA_INVALID_OWNER = 8,
    /// A bug or an I/O failure (also a panic caught inside the library).
    KAHUNA_INTERNAL = 9,
    /// The node's Ephemeral store is at its memory cap (`limits.max_ephemeral_mb`); nothing
    /// was written. Deletes, expiries or a larger cap make room.
    KAHUNA_RESOURCE_EXHAUSTED = 10,
}

impl From<Code> for kahuna_status {
    fn from(code: Code) -> kahuna_status {
        match code {
            Code::Ok => kahuna_status::KAHUNA_OK,
            Code::InvalidInput => kahuna_status::KAHUNA_INVALID_INPUT,
            Code::NotFound => kahuna_status::KAHUNA_NOT_FOUND,
            Code::Aborted => kahuna_status::KAHUNA_ABORTED,
            Code::MustRetry => kahuna_status::KAHUNA_MUST_RETRY,
            Code::Unavailable => kahuna_status::KAHUNA_UNAVAILABLE,
            Code::Timeout => kahuna_status::KAHUNA_TIMEOUT,
            Code::LockDoesNotExist => kahuna_status::KAHUNA_LOCK_DOES_NOT_EXIST,
            Code::InvalidOwner => kahuna_status::KAHUNA_INVALID_OWNER,
            Code::Internal => kahuna_status::KAHUNA_INTERNAL,
            Code::ResourceExhausted => kahuna_status::KAHUNA_RESOURCE_EXHAUSTED,
        }
    }
}

/// The name of a status code as every binding spells it (`"MustRetry"`), or `"Unknown"`.
///
/// The string is static: do not free it.
#[unsafe(no_mangle)]
pub extern "C" fn kahuna_status_name(status: i32) -> *const c_char {
    crate::ffi::run_value(c"Unknown".as_ptr(), || status_name(status).as_ptr())
}

/// The static name of a status number.
fn status_name(status: i32) -> &'static CStr {
    match u8::try_from(status).ok().and_then(Code::from_u8) {
        Some(Code::Ok) => c"Ok",
        Some(Code::InvalidInput) => c"InvalidInput",
        Some(Code::NotFound) => c"NotFound",
        Some(Code::Aborted) => c"Aborted",
        Some(Code::MustRetry) => c"MustRetry",
        Some(Code::Unavailable) => c"Unavailable",
        Some(Code::Timeout) => c"Timeout",
        Some(Code::LockDoesNotExist) => c"LockDoesNotExist",
        Some(Code::InvalidOwner) => c"InvalidOwner",
        Some(Code::Internal) => c"Internal",
        Some(Code::ResourceExhausted) => c"ResourceExhausted",
        None => c"Unknown",
    }
}

/// The library's version (`"0.1.0"`), a static string: do not free it.
#[unsafe(no_mangle)]
pub extern "C" fn kahuna_version() -> *const c_char {
    const VERSION: &CStr = match CStr::from_bytes_with_nul(concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes()) {
        Ok(v) => v,
        Err(_) => panic!("the crate version has no NUL inside"),
    };
    VERSION.as_ptr()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_names_are_those_of_the_shared_code_table() {
        for code in Code::ALL {
            assert_eq!(kahuna_status::from(code) as i32, i32::from(code.as_u8()), "{code}");
            // SAFETY: kahuna_status_name returns a static NUL-terminated string.
            let name = unsafe { CStr::from_ptr(kahuna_status_name(i32::from(code.as_u8()))) };
            assert_eq!(name.to_str().unwrap(), code.name());
        }
        for unknown in [-1, 11, 256, i32::MAX] {
            // SAFETY: as above.
            let name = unsafe { CStr::from_ptr(kahuna_status_name(unknown)) };
            assert_eq!(name.to_str().unwrap(), "Unknown");
        }
    }

    #[test]
    fn the_version_is_the_crate_version() {
        // SAFETY: kahuna_version returns a static NUL-terminated string.
        let v = unsafe { CStr::from_ptr(kahuna_version()) };
        assert_eq!(v.to_str().unwrap(), env!("CARGO_PKG_VERSION"));
    }
}
