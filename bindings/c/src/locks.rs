//! Leased locks with fencing tokens, one exported function per lock call of the client.
//!
//! Written like [`crate::kv`]: the handle first, the call's arguments in the order of
//! `kahuna_client::BlockingClient`, then `out` (where there is a result) and `err`; every
//! function reads its arguments with the [`ffi`] readers inside [`ffi::run`] (or
//! [`ffi::run_plain`] for `kahuna_unlock`, which has no result). The rules are those of
//! `docs/locks.md`:
//!
//! ```text
//!   kahuna_try_lock(r, owner, ms)         free / released / expired -> locked, token = previous + 1 (0 first)
//!                                         held by owner             -> locked, same token, lease NOT extended
//!                                         held by another           -> locked = false
//!   kahuna_lock_with_wait(.., wait_ms)    kahuna_try_lock again (10 ms, doubling to 250 ms) until locked or wait_ms
//!   kahuna_try_extend_lock(r, owner, ms)  held by owner -> lease = now + ms, token unchanged
//!                                         held by another -> KAHUNA_INVALID_OWNER; free -> KAHUNA_LOCK_DOES_NOT_EXIST
//!   kahuna_unlock(r, owner)               held by owner (even lapsed) -> released
//!                                         held by another -> KAHUNA_INVALID_OWNER; not held -> KAHUNA_LOCK_DOES_NOT_EXIST
//!   kahuna_get_lock(r)                    live -> owner, expires_at, token; otherwise KAHUNA_LOCK_DOES_NOT_EXIST
//! ```
//!
//! A busy lock is a *result* (`locked = false`); "you do not hold it" is a status
//! (`KAHUNA_LOCK_DOES_NOT_EXIST`, `KAHUNA_INVALID_OWNER`). An empty resource or owner, a
//! resource the server would reject as a key, `expires_ms <= 0` and a negative `wait_ms` are
//! `KAHUNA_INVALID_INPUT` with a message naming the argument; nothing is sent.
//!
//! Pointer rules shared by every function here (see also the crate docs):
//! - `client` is a live handle from `kahuna_client_connect`;
//! - `resource` is NUL-terminated UTF-8;
//! - `owner` is a `(pointer, length)` buffer of any bytes, NULL only with length 0 (which the
//!   client then rejects: an owner must not be empty);
//! - `out` is writable and zeroed first; `err` is NULL or receives NULL or a message.

// The C functions take the call's arguments one by one, like the Rust client does.
#![allow(clippy::too_many_arguments)]

use std::ffi::c_char;
use std::time::Duration;

use ::kahuna_client::Error;

use crate::client::kahuna_client;
use crate::ffi::{self, kahuna_durability};
use crate::results::{kahuna_lock_info, kahuna_lock_result};
use crate::status::kahuna_status;

/// Takes the lock on `resource` for `owner` with a lease of `expires_ms` (> 0) milliseconds.
///
/// `out->locked` is true when `owner` holds the lock after the call: newly granted (the
/// fencing token is the resource's previous token + 1, 0 on its first grant ever) or already
/// held (the same token; the lease is **not** extended: use `kahuna_try_extend_lock`). It is
/// false while another owner holds a live lease (`out->fencing_token` is then 0). A call whose
/// answer was lost (`KAHUNA_TIMEOUT`) may still have taken the lock: calling again with the
/// same owner is safe.
///
/// # Safety
/// `client` live, `resource` NUL-terminated, `owner` readable for `owner_len` bytes (or NULL
/// with 0), `out` writable, `err` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn kahuna_try_lock(
    client: *const kahuna_client,
    resource: *const c_char,
    owner: *const u8,
    owner_len: usize,
    expires_ms: i64,
    durability: kahuna_durability,
    out: *mut kahuna_lock_result,
    err: *mut *mut c_char,
) -> kahuna_status {
    // SAFETY: the caller guarantees the pointer rules above.
    unsafe {
        ffi::run(out, err, || {
            let (client, resource) = (ffi::client(client)?, ffi::string("resource", resource)?);
            let owner = ffi::bytes("owner", owner, owner_len)?;
            Ok(client.try_lock(resource, owner, expires_ms, ffi::durability(durability)?)?.into())
        })
    }
}

/// Like `kahuna_try_lock`, but while another owner holds the lock, tries again (after 10 ms,
/// doubling up to 250 ms between tries) until it is granted or `wait_ms` milliseconds have
/// passed (0 = one try; negative is `KAHUNA_INVALID_INPUT`).
///
/// `out` holds the answer of the last try: `locked = false` when the wait ran out. The calling
/// thread blocks meanwhile (other threads may keep using the client). A failure of any try
/// (for example `KAHUNA_TIMEOUT`) ends the wait with that status.
///
/// # Safety
/// As for `kahuna_try_lock`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn kahuna_lock_with_wait(
    client: *const kahuna_client,
    resource: *const c_char,
    owner: *const u8,
    owner_len: usize,
    expires_ms: i64,
    wait_ms: i64,
    durability: kahuna_durability,
    out: *mut kahuna_lock_result,
    err: *mut *mut c_char,
) -> kahuna_status {
    // SAFETY: the caller guarantees the pointer rules above.
    unsafe {
        ffi::run(out, err, || {
            let (client, resource) = (ffi::client(client)?, ffi::string("resource", resource)?);
            let owner = ffi::bytes("owner", owner, owner_len)?;
            let durability = ffi::durability(durability)?;
            let wait = u64::try_from(wait_ms)
                .map_err(|_| Error::invalid_input(format!("wait_ms must not be negative, got {wait_ms}")))?;
            Ok(client.lock_with_wait(resource, owner, expires_ms, Duration::from_millis(wait), durability)?.into())
        })
    }
}

/// Moves the end of `owner`'s live lease on `resource` to now + `expires_ms` (> 0)
/// milliseconds; `*out` receives the fencing token, which does not change.
///
/// Fails with `KAHUNA_LOCK_DOES_NOT_EXIST` when the lock is free (never taken, released, or
/// its lease ran out: even the former owner must then take it again with `kahuna_try_lock`,
/// and gets a new token) and with `KAHUNA_INVALID_OWNER` when another owner holds it; either
/// way nothing changes and `*out` is 0.
///
/// # Safety
/// `client` live, `resource` NUL-terminated, `owner` readable for `owner_len` bytes (or NULL
/// with 0), `out` writable, `err` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn kahuna_try_extend_lock(
    client: *const kahuna_client,
    resource: *const c_char,
    owner: *const u8,
    owner_len: usize,
    expires_ms: i64,
    durability: kahuna_durability,
    out: *mut i64,
    err: *mut *mut c_char,
) -> kahuna_status {
    // SAFETY: the caller guarantees the pointer rules above.
    unsafe {
        ffi::run(out, err, || {
            let (client, resource) = (ffi::client(client)?, ffi::string("resource", resource)?);
            let owner = ffi::bytes("owner", owner, owner_len)?;
            client.try_extend_lock(resource, owner, expires_ms, ffi::durability(durability)?)
        })
    }
}

/// Releases `owner`'s lock on `resource`, so that the next `kahuna_try_lock` by anyone is
/// granted at once (with the next fencing token).
///
/// There is no result, so there is no `out`: `KAHUNA_OK` means released. A lock whose lease
/// ran out but that nobody took since is still `owner`'s to release. Fails with
/// `KAHUNA_LOCK_DOES_NOT_EXIST` when the lock is not held (never taken, or already released)
/// and with `KAHUNA_INVALID_OWNER` when another owner holds it (for example after this
/// owner's lease ran out and someone else took the lock); either way nothing changes.
///
/// # Safety
/// `client` live, `resource` NUL-terminated, `owner` readable for `owner_len` bytes (or NULL
/// with 0), `err` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn kahuna_unlock(
    client: *const kahuna_client,
    resource: *const c_char,
    owner: *const u8,
    owner_len: usize,
    durability: kahuna_durability,
    err: *mut *mut c_char,
) -> kahuna_status {
    // SAFETY: the caller guarantees the pointer rules above.
    unsafe {
        ffi::run_plain(err, || {
            let (client, resource) = (ffi::client(client)?, ffi::string("resource", resource)?);
            let owner = ffi::bytes("owner", owner, owner_len)?;
            client.unlock(resource, owner, ffi::durability(durability)?)
        })
    }
}

/// Reads the live lock on `resource`: its owner, the HLC timestamp at which its lease ends,
/// and its fencing token.
///
/// Fails with `KAHUNA_LOCK_DOES_NOT_EXIST` when the resource is free (never taken, released,
/// or its lease ran out). On `KAHUNA_OK`, free `*out` with `kahuna_lock_info_free`.
///
/// # Safety
/// `client` live, `resource` NUL-terminated, `out` writable, `err` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn kahuna_get_lock(
    client: *const kahuna_client,
    resource: *const c_char,
    durability: kahuna_durability,
    out: *mut kahuna_lock_info,
    err: *mut *mut c_char,
) -> kahuna_status {
    // SAFETY: the caller guarantees the pointer rules above.
    unsafe {
        ffi::run(out, err, || {
            let (client, resource) = (ffi::client(client)?, ffi::string("resource", resource)?);
            Ok(client.get_lock(resource, ffi::durability(durability)?)?.into())
        })
    }
}
