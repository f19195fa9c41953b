//! The key/value operations, one exported function per operation of the client.
//!
//! Every function has the same shape: the handle first, the operation's arguments in the
//! order of `kahuna_client::BlockingClient`, then `out` and `err`; it reads its arguments
//! with the [`ffi`] readers and runs the client call inside [`ffi::run`]. The semantics are
//! those of `docs/semantics.md`; a missing key or a failed condition is a result, not an error.
//!
//! Pointer rules shared by every function here (see also the crate docs):
//! - `client` is a live handle from `kahuna_client_connect`;
//! - `key`, `bucket` and `prefix` are NUL-terminated UTF-8;
//! - a `(pointer, length)` buffer may be NULL only with length 0 (an empty buffer);
//! - `out` is writable and zeroed first; `err` is NULL or receives NULL or a message.

// The C functions take the operation's arguments one by one, like the Rust client does.
#![allow(clippy::too_many_arguments)]

use std::ffi::c_char;

use ::kahuna_client::SetOptions;

use crate::client::kahuna_client;
use crate::ffi::{self, kahuna_durability};
use crate::results::{
    kahuna_delete_result, kahuna_entries, kahuna_exists_result, kahuna_extend_result, kahuna_get_result,
    kahuna_scan_page, kahuna_set_result,
};
use crate::status::kahuna_status;

/// `kahuna_try_set` flag: do not keep the superseded revision readable by revision.
pub const KAHUNA_NO_REVISION: u32 = 2;
/// `kahuna_try_set` flag: write only when the key is live (present, not deleted, not expired).
pub const KAHUNA_SET_IF_EXISTS: u32 = 4;
/// `kahuna_try_set` flag: write only when the key is absent, deleted or expired.
pub const KAHUNA_SET_IF_NOT_EXISTS: u32 = 8;

// The header needs literal values; these make sure they are the schema's.
const _: () = assert!(KAHUNA_NO_REVISION == kahuna_schema::flags::NO_REVISION);
const _: () = assert!(KAHUNA_SET_IF_EXISTS == kahuna_schema::flags::SET_IF_EXISTS);
const _: () = assert!(KAHUNA_SET_IF_NOT_EXISTS == kahuna_schema::flags::SET_IF_NOT_EXISTS);

/// Writes `value` under `key`, unconditionally or as `flags` say.
///
/// `flags` is 0 or a combination of `KAHUNA_NO_REVISION` with at most one of
/// `KAHUNA_SET_IF_EXISTS` / `KAHUNA_SET_IF_NOT_EXISTS`. `expires_ms` is the time to live in
/// milliseconds (0 = never; negative is invalid). `out->set` is false when the condition was
/// not met; `out->revision` is then the current revision (-1 if the key never existed).
///
/// # Safety
/// Every pointer must follow the rules of this header: `client` live, `key` NUL-terminated,
/// `value` readable for `value_len` bytes (or NULL with 0), `out` writable, `err` NULL or
/// writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn kahuna_try_set(
    client: *const kahuna_client,
    key: *const c_char,
    value: *const u8,
    value_len: usize,
    expires_ms: i64,
    flags: u32,
    durability: kahuna_durability,
    out: *mut kahuna_set_result,
    err: *mut *mut c_char,
) -> kahuna_status {
    // SAFETY: the caller guarantees the pointer rules above.
    unsafe {
        ffi::run(out, err, || {
            let client = ffi::client(client)?;
            let key = ffi::string("key", key)?;
            let value = ffi::bytes("value", value, value_len)?;
            let options =
                SetOptions::new().expires_ms(expires_ms).with_flags(flags).durability(ffi::durability(durability)?);
            Ok(client.try_set(key, value, options)?.into())
        })
    }
}

/// Writes `value` only if the live value of `key` equals `compare_value` byte for byte.
///
/// # Safety
/// As for `kahuna_try_set`; `compare_value` readable for `compare_value_len` bytes (or NULL
/// with 0, meaning the empty value).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn kahuna_try_compare_value_and_set(
    client: *const kahuna_client,
    key: *const c_char,
    value: *const u8,
    value_len: usize,
    compare_value: *const u8,
    compare_value_len: usize,
    expires_ms: i64,
    durability: kahuna_durability,
    out: *mut kahuna_set_result,
    err: *mut *mut c_char,
) -> kahuna_status {
    // SAFETY: the caller guarantees the pointer rules above.
    unsafe {
        ffi::run(out, err, || {
            let client = ffi::client(client)?;
            let key = ffi::string("key", key)?;
            let value = ffi::bytes("value", value, value_len)?;
            let compare = ffi::bytes("compare_value", compare_value, compare_value_len)?;
            let durability = ffi::durability(durability)?;
            Ok(client.try_compare_value_and_set(key, value, compare, expires_ms, durability)?.into())
        })
    }
}

/// Writes `value` only if `key` is live and its revision equals `compare_revision`.
///
/// # Safety
/// As for `kahuna_try_set`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn kahuna_try_compare_revision_and_set(
    client: *const kahuna_client,
    key: *const c_char,
    value: *const u8,
    value_len: usize,
    compare_revision: i64,
    expires_ms: i64,
    durability: kahuna_durability,
    out: *mut kahuna_set_result,
    err: *mut *mut c_char,
) -> kahuna_status {
    // SAFETY: the caller guarantees the pointer rules above.
    unsafe {
        ffi::run(out, err, || {
            let client = ffi::client(client)?;
            let key = ffi::string("key", key)?;
            let value = ffi::bytes("value", value, value_len)?;
            let durability = ffi::durability(durability)?;
            Ok(client.try_compare_revision_and_set(key, value, compare_revision, expires_ms, durability)?.into())
        })
    }
}

/// Reads the latest live version of `key` (linearizable for `KAHUNA_PERSISTENT`).
///
/// Free `*out` with `kahuna_get_result_free`.
///
/// # Safety
/// `client` live, `key` NUL-terminated, `out` writable, `err` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn kahuna_try_get(
    client: *const kahuna_client,
    key: *const c_char,
    durability: kahuna_durability,
    out: *mut kahuna_get_result,
    err: *mut *mut c_char,
) -> kahuna_status {
    // SAFETY: the caller guarantees the pointer rules above.
    unsafe {
        ffi::run(out, err, || {
            let (client, key) = (ffi::client(client)?, ffi::string("key", key)?);
            Ok(client.try_get(key, ffi::durability(durability)?)?.into())
        })
    }
}

/// Reads the retained version of `key` with this `revision` (>= 0), whatever its expiry; not
/// found if it was compacted or never written. Free `*out` with `kahuna_get_result_free`.
///
/// # Safety
/// As for `kahuna_try_get`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn kahuna_try_get_revision(
    client: *const kahuna_client,
    key: *const c_char,
    revision: i64,
    durability: kahuna_durability,
    out: *mut kahuna_get_result,
    err: *mut *mut c_char,
) -> kahuna_status {
    // SAFETY: the caller guarantees the pointer rules above.
    unsafe {
        ffi::run(out, err, || {
            let (client, key) = (ffi::client(client)?, ffi::string("key", key)?);
            Ok(client.try_get_revision(key, revision, ffi::durability(durability)?)?.into())
        })
    }
}

/// Reads the newest version of `key` whose `last_modified` is at or before `timestamp` (an
/// HLC timestamp > 0, such as a `last_modified` seen earlier). Free `*out` with
/// `kahuna_get_result_free`.
///
/// # Safety
/// As for `kahuna_try_get`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn kahuna_try_get_as_of(
    client: *const kahuna_client,
    key: *const c_char,
    timestamp: u64,
    durability: kahuna_durability,
    out: *mut kahuna_get_result,
    err: *mut *mut c_char,
) -> kahuna_status {
    // SAFETY: the caller guarantees the pointer rules above.
    unsafe {
        ffi::run(out, err, || {
            let (client, key) = (ffi::client(client)?, ffi::string("key", key)?);
            Ok(client.try_get_as_of(key, timestamp, ffi::durability(durability)?)?.into())
        })
    }
}

/// Tells whether `key` is live, and its revision.
///
/// # Safety
/// As for `kahuna_try_get`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn kahuna_try_exists(
    client: *const kahuna_client,
    key: *const c_char,
    durability: kahuna_durability,
    out: *mut kahuna_exists_result,
    err: *mut *mut c_char,
) -> kahuna_status {
    // SAFETY: the caller guarantees the pointer rules above.
    unsafe {
        ffi::run(out, err, || {
            let (client, key) = (ffi::client(client)?, ffi::string("key", key)?);
            Ok(client.try_exists(key, ffi::durability(durability)?)?.into())
        })
    }
}

/// Deletes `key`; `out->deleted` is false if it was not live. The revision does not change.
///
/// # Safety
/// As for `kahuna_try_get`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn kahuna_try_delete(
    client: *const kahuna_client,
    key: *const c_char,
    durability: kahuna_durability,
    out: *mut kahuna_delete_result,
    err: *mut *mut c_char,
) -> kahuna_status {
    // SAFETY: the caller guarantees the pointer rules above.
    unsafe {
        ffi::run(out, err, || {
            let (client, key) = (ffi::client(client)?, ffi::string("key", key)?);
            Ok(client.try_delete(key, ffi::durability(durability)?)?.into())
        })
    }
}

/// Moves the expiry of a live `key` to now + `expires_ms` (which must be > 0); the revision
/// does not change. `out->extended` is false if the key is not live.
///
/// # Safety
/// As for `kahuna_try_get`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn kahuna_try_extend(
    client: *const kahuna_client,
    key: *const c_char,
    expires_ms: i64,
    durability: kahuna_durability,
    out: *mut kahuna_extend_result,
    err: *mut *mut c_char,
) -> kahuna_status {
    // SAFETY: the caller guarantees the pointer rules above.
    unsafe {
        ffi::run(out, err, || {
            let (client, key) = (ffi::client(client)?, ffi::string("key", key)?);
            Ok(client.try_extend(key, expires_ms, ffi::durability(durability)?)?.into())
        })
    }
}

/// Every live key whose bucket (the text before its last `/`) is `bucket`, ordered by key,
/// read consistently from one partition. Free `*out` with `kahuna_entries_free`.
///
/// # Safety
/// `client` live, `bucket` NUL-terminated, `out` writable, `err` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn kahuna_get_by_bucket(
    client: *const kahuna_client,
    bucket: *const c_char,
    durability: kahuna_durability,
    out: *mut kahuna_entries,
    err: *mut *mut c_char,
) -> kahuna_status {
    // SAFETY: the caller guarantees the pointer rules above.
    unsafe {
        ffi::run(out, err, || {
            let (client, bucket) = (ffi::client(client)?, ffi::string("bucket", bucket)?);
            Ok(client.get_by_bucket(bucket, ffi::durability(durability)?)?.into())
        })
    }
}

/// One page of at most `limit` keys starting with `prefix` (0 = the server's default page
/// size), ordered across all partitions.
///
/// Pass NULL / 0 as the cursor for the first page, then the `cursor` of the previous page;
/// `out->cursor` is NULL on the last page. All pages of one scan read at the snapshot of the
/// first. Free `*out` with `kahuna_scan_page_free`.
///
/// # Safety
/// `client` live, `prefix` NUL-terminated, `cursor` readable for `cursor_len` bytes (or NULL
/// with 0), `out` writable, `err` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn kahuna_scan_by_prefix(
    client: *const kahuna_client,
    prefix: *const c_char,
    limit: u32,
    cursor: *const u8,
    cursor_len: usize,
    durability: kahuna_durability,
    out: *mut kahuna_scan_page,
    err: *mut *mut c_char,
) -> kahuna_status {
    // SAFETY: the caller guarantees the pointer rules above.
    unsafe {
        ffi::run(out, err, || {
            let (client, prefix) = (ffi::client(client)?, ffi::string("prefix", prefix)?);
            let cursor = ffi::optional_bytes("cursor", cursor, cursor_len)?;
            Ok(client.scan_by_prefix(prefix, limit, cursor, ffi::durability(durability)?)?.into())
        })
    }
}

/// Every key starting with `prefix`, following cursors to the end (one consistent snapshot;
/// each page has its own deadline). Free `*out` with `kahuna_entries_free`.
///
/// # Safety
/// `client` live, `prefix` NUL-terminated, `out` writable, `err` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn kahuna_scan_all_by_prefix(
    client: *const kahuna_client,
    prefix: *const c_char,
    durability: kahuna_durability,
    out: *mut kahuna_entries,
    err: *mut *mut c_char,
) -> kahuna_status {
    // SAFETY: the caller guarantees the pointer rules above.
    unsafe {
        ffi::run(out, err, || {
            let (client, prefix) = (ffi::client(client)?, ffi::string("prefix", prefix)?);
            Ok(client.scan_all_by_prefix(prefix, ffi::durability(durability)?)?.into())
        })
    }
}
