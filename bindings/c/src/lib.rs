//! `libkahuna`: the C ABI of the Kahuna client (`libkahuna.so`, `libkahuna.a`, `kahuna.h`).
//!
//! This crate is a thin, mechanical shell around [`kahuna_client::BlockingClient`]. Everything
//! that makes a client correct (routing, retries, deadlines, error classification) lives in
//! `kahuna-client`; this layer only translates between C values and Rust values, and it does so
//! the same way for every function so that C, C# (P/Invoke) and any other FFI caller can rely
//! on a handful of rules instead of per-function folklore.
//!
//! ```text
//!   C caller                         libkahuna (this crate)                kahuna-client
//!   ────────                         ──────────────────────                ─────────────
//!   kahuna_try_get(client, "k", ..) ─ ffi::run ─ catch_unwind ─┐
//!                                     read args: NULL? UTF-8?  │
//!                                     zero *out, clear *err    ├──────> BlockingClient::try_get
//!   <── kahuna_status + *out / *err ─ write *out or *err <─────┘ <───── Result<GetResult, Error>
//! ```
//!
//! The rules every exported function keeps:
//!
//! - **Status codes.** Every operation returns a [`kahuna_status`] whose numbers are exactly
//!   those of [`kahuna_client::Code`] (the wire, Python and C# use the same numbers). "Not found"
//!   and "condition not met" are results (`found = false`, `set = false`), never errors.
//! - **Out-parameters.** Results go to a caller-provided struct (`*out`). Before anything else
//!   the function zeroes `*out`, so after *any* return the struct is safe to pass to its
//!   `_free` function; on `KAHUNA_OK` it holds the result.
//! - **Error messages.** `char **err` may be NULL. Otherwise it is set to NULL on success and
//!   to a newly allocated UTF-8 message on failure (free it with `kahuna_string_free`). The
//!   message names the bad argument (`key is NULL`, `key is not valid UTF-8 ...`).
//! - **Ownership.** The library owns nothing the caller passed in and keeps no pointer to it
//!   after returning. Everything the library returns (strings, byte buffers, arrays) was
//!   allocated by Rust and must be released by the library's own `_free` functions, never by
//!   `free(3)`. Free functions accept NULL and zeroed structs, and reset what they freed, so a
//!   second call is harmless.
//! - **Inputs.** Strings are NUL-terminated UTF-8; byte buffers are `(pointer, length)` pairs in
//!   which the pointer may be NULL only when the length is 0. A NULL pointer where one is
//!   required, invalid UTF-8, or an out-of-range enum value is `KAHUNA_INVALID_INPUT` with a
//!   message naming the argument; nothing is sent.
//! - **No unwinding across the boundary.** Every export runs inside `catch_unwind`; a panic
//!   becomes `KAHUNA_INTERNAL` with the panic message.
//! - **Threads.** A `kahuna_client *` is `Send + Sync`: any number of threads may call through
//!   one handle at once (the calls are multiplexed over shared connections). Only
//!   `kahuna_client_free` must not race with other calls on the same handle.
//!
//! Layout: [`status`] (codes, messages), [`ffi`] (the call guard and argument readers),
//! [`memory`] (allocation and the generic free functions), [`results`] (the `#[repr(C)]` result
//! structs), [`client`] (options, connect, free, topology), [`kv`] (the key/value operations),
//! [`locks`] (leased locks with fencing tokens).
//!
//! [`locks`] shows how an API family is added: one file beside [`kv`], written the same way,
//! with its `#[repr(C)]` result structs ([`kahuna_lock_result`], and [`kahuna_lock_info`] with
//! its `_free` since it owns the owner's bytes) in [`results`], each function calling
//! [`ffi::run`] with its reads of the arguments and the client call. "You do not hold this
//! lock" comes back as `KAHUNA_LOCK_DOES_NOT_EXIST` or `KAHUNA_INVALID_OWNER` through the same
//! status mapping as every other error, while a busy lock is a result (`locked = false`), as a
//! failed condition is for the key/value calls. `kahuna_unlock` has no result, so it takes no
//! `out` (it runs in [`ffi::run_plain`]: `KAHUNA_OK` alone means released). Transactions,
//! when they come, will be a second opaque handle (`kahuna_txn *`) with its own `_free`, like
//! `kahuna_client`.
//!
//! What this crate does not do: retry, cache, spawn threads of its own (the client's I/O thread
//! is the only one), or read the environment. The header `include/kahuna.h` is generated from
//! these sources by `build.rs` (cbindgen); a test fails when the committed copy is stale.

#![allow(non_camel_case_types)]

pub mod client;
pub mod ffi;
pub mod kv;
pub mod locks;
pub mod memory;
pub mod results;
pub mod status;

pub use client::{kahuna_client, kahuna_options};
pub use results::{
    kahuna_delete_result, kahuna_entries, kahuna_entry, kahuna_exists_result, kahuna_extend_result, kahuna_get_result,
    kahuna_lock_info, kahuna_lock_result, kahuna_node, kahuna_partition, kahuna_scan_page, kahuna_set_result,
    kahuna_topology,
};
pub use status::kahuna_status;

#[cfg(test)]
mod tests;
