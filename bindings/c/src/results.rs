//! The `#[repr(C)]` result structs, their conversions from `kahuna-client` results, and the
//! `_free` function of every struct that owns memory.
//!
//! Invariants of every struct here:
//! - `Default` is all zeroes and NULLs: what a function leaves in `*out` when it fails, and
//!   what a `_free` function may always be given.
//! - A struct owns exactly the pointers it holds, with the lengths next to them; its `_free`
//!   releases them and resets the pointers to NULL and the lengths to 0, so freeing twice is
//!   harmless. Scalar fields are left as they were.
//!
//! ```text
//!   kahuna_scan_page ── entries: kahuna_entries ── items ──> [kahuna_entry; len]
//!                    │                                          ├─ key   (char *, NUL-terminated)
//!                    │                                          └─ value (uint8_t *, value_len)
//!                    └─ cursor (uint8_t *, cursor_len; NULL on the last page)
//!   kahuna_lock_info ── owner (uint8_t *, owner_len; non-NULL after a successful kahuna_get_lock)
//! ```

use std::ffi::c_char;
use std::ptr;

use ::kahuna_client::{
    DeleteResult, Entry, ExistsResult, ExtendResult, GetResult, LockInfo, LockResult, ScanPage, SetResult, Topology,
};

use crate::ffi;
use crate::memory::{self, take_ptr};

/// The outcome of a set: whether it was written and the key's revision afterwards.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct kahuna_set_result {
    /// True when the value was written; false when the condition was not met.
    pub set: bool,
    /// The new revision when set; otherwise the current one (-1 if the key never existed).
    pub revision: i64,
    /// HLC timestamp of the write when set; 0 when nothing was written.
    pub last_modified: u64,
}

impl From<SetResult> for kahuna_set_result {
    fn from(r: SetResult) -> kahuna_set_result {
        kahuna_set_result { set: r.set, revision: r.revision, last_modified: r.last_modified }
    }
}

/// The outcome of a read of one key. Owns `value`: free with `kahuna_get_result_free`.
#[repr(C)]
#[derive(Debug)]
pub struct kahuna_get_result {
    /// True when a live version was found.
    pub found: bool,
    /// The value; NULL exactly when `found` is false (an empty value is non-NULL, length 0).
    pub value: *mut u8,
    /// The number of bytes in `value`.
    pub value_len: usize,
    /// The version's revision; when not found, the current revision or -1.
    pub revision: i64,
    /// HLC timestamp of the expiry; 0 = never.
    pub expires_at: u64,
    /// HLC timestamp of the write that produced this version.
    pub last_modified: u64,
}

impl Default for kahuna_get_result {
    fn default() -> kahuna_get_result {
        kahuna_get_result {
            found: false,
            value: ptr::null_mut(),
            value_len: 0,
            revision: 0,
            expires_at: 0,
            last_modified: 0,
        }
    }
}

impl From<GetResult> for kahuna_get_result {
    fn from(r: GetResult) -> kahuna_get_result {
        let (value, value_len) = if r.found { memory::bytes_into_raw(r.value) } else { (ptr::null_mut(), 0) };
        kahuna_get_result {
            found: r.found,
            value,
            value_len,
            revision: r.revision,
            expires_at: r.expires_at,
            last_modified: r.last_modified,
        }
    }
}

/// Frees the value of a get result and resets it to NULL. NULL is ignored.
///
/// # Safety
/// `result` must be NULL or point to a result filled by this library (or zeroed).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn kahuna_get_result_free(result: *mut kahuna_get_result) {
    ffi::run_void(|| {
        // SAFETY: the caller guarantees `result` is NULL or a valid result.
        if let Some(r) = unsafe { result.as_mut() } {
            let len = std::mem::take(&mut r.value_len);
            // SAFETY: (value, value_len) were made by bytes_into_raw.
            unsafe { memory::bytes_free(take_ptr(&mut r.value), len) };
        }
    });
}

/// The outcome of an existence check.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct kahuna_exists_result {
    /// True when the key is live.
    pub exists: bool,
    /// The key's revision (-1 when it never existed).
    pub revision: i64,
}

impl From<ExistsResult> for kahuna_exists_result {
    fn from(r: ExistsResult) -> kahuna_exists_result {
        kahuna_exists_result { exists: r.exists, revision: r.revision }
    }
}

/// The outcome of a delete.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct kahuna_delete_result {
    /// True when a live key was deleted.
    pub deleted: bool,
    /// The revision the key had when deleted (a delete does not increment it), or -1.
    pub revision: i64,
}

impl From<DeleteResult> for kahuna_delete_result {
    fn from(r: DeleteResult) -> kahuna_delete_result {
        kahuna_delete_result { deleted: r.deleted, revision: r.revision }
    }
}

/// The outcome of an extend.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct kahuna_extend_result {
    /// True when the key was live and its expiry moved.
    pub extended: bool,
    /// The key's revision (an extend does not change it), or -1.
    pub revision: i64,
}

impl From<ExtendResult> for kahuna_extend_result {
    fn from(r: ExtendResult) -> kahuna_extend_result {
        kahuna_extend_result { extended: r.extended, revision: r.revision }
    }
}

/// One key and its current version, as returned by bucket reads and scans.
#[repr(C)]
#[derive(Debug)]
pub struct kahuna_entry {
    /// The key, NUL-terminated UTF-8.
    pub key: *mut c_char,
    /// The number of bytes in `key`, without the terminating NUL.
    pub key_len: usize,
    /// The value (non-NULL; length 0 for an empty value).
    pub value: *mut u8,
    /// The number of bytes in `value`.
    pub value_len: usize,
    /// The version's revision.
    pub revision: i64,
    /// HLC timestamp of the expiry; 0 = never.
    pub expires_at: u64,
    /// HLC timestamp of the write that produced this version.
    pub last_modified: u64,
}

impl From<Entry> for kahuna_entry {
    fn from(e: Entry) -> kahuna_entry {
        let key_len = e.key.len();
        let mut key = e.key.into_bytes();
        key.push(0);
        let (value, value_len) = memory::bytes_into_raw(e.value);
        kahuna_entry {
            key: memory::bytes_into_raw(key).0.cast(),
            key_len,
            value,
            value_len,
            revision: e.revision,
            expires_at: e.expires_at,
            last_modified: e.last_modified,
        }
    }
}

/// A list of entries ordered by key. Owns `items`: free with `kahuna_entries_free`.
#[repr(C)]
#[derive(Debug)]
pub struct kahuna_entries {
    /// The entries (NULL only when zeroed after an error or a free).
    pub items: *mut kahuna_entry,
    /// The number of entries in `items`.
    pub len: usize,
}

impl Default for kahuna_entries {
    fn default() -> kahuna_entries {
        kahuna_entries { items: ptr::null_mut(), len: 0 }
    }
}

impl From<Vec<Entry>> for kahuna_entries {
    fn from(entries: Vec<Entry>) -> kahuna_entries {
        let (items, len) = memory::slice_into_raw(entries.into_iter().map(kahuna_entry::from).collect());
        kahuna_entries { items, len }
    }
}

impl kahuna_entries {
    /// Frees every entry and the array, leaving NULL and 0.
    fn release(&mut self) {
        let len = std::mem::take(&mut self.len);
        // SAFETY: (items, len) were made by slice_into_raw from entries made by From<Entry>.
        let items = unsafe { memory::slice_from_raw(take_ptr(&mut self.items), len) };
        for entry in items.iter() {
            // SAFETY: each key is a key_len + 1 byte buffer, each value a value_len one.
            unsafe {
                memory::bytes_free(entry.key.cast(), entry.key_len + 1);
                memory::bytes_free(entry.value, entry.value_len);
            }
        }
    }
}

/// Frees every entry of a list and the list's array. NULL is ignored.
///
/// # Safety
/// `entries` must be NULL or point to a list filled by this library (or zeroed).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn kahuna_entries_free(entries: *mut kahuna_entries) {
    // SAFETY: the caller guarantees `entries` is NULL or a valid list.
    ffi::run_void(|| unsafe { entries.as_mut() }.into_iter().for_each(kahuna_entries::release));
}

/// One page of a prefix scan. Owns its entries and cursor: free with `kahuna_scan_page_free`.
#[repr(C)]
#[derive(Debug)]
pub struct kahuna_scan_page {
    /// The entries of this page, ordered by key.
    pub entries: kahuna_entries,
    /// Opaque bytes to pass to the next `kahuna_scan_by_prefix`; NULL on the last page.
    pub cursor: *mut u8,
    /// The number of bytes in `cursor`.
    pub cursor_len: usize,
    /// HLC timestamp every page of this scan reads at.
    pub snapshot: u64,
}

impl Default for kahuna_scan_page {
    fn default() -> kahuna_scan_page {
        kahuna_scan_page { entries: kahuna_entries::default(), cursor: ptr::null_mut(), cursor_len: 0, snapshot: 0 }
    }
}

impl From<ScanPage> for kahuna_scan_page {
    fn from(page: ScanPage) -> kahuna_scan_page {
        let (cursor, cursor_len) = page.cursor.map_or((ptr::null_mut(), 0), memory::bytes_into_raw);
        kahuna_scan_page { entries: page.entries.into(), cursor, cursor_len, snapshot: page.snapshot }
    }
}

/// Frees the entries and the cursor of a scan page. NULL is ignored.
///
/// # Safety
/// `page` must be NULL or point to a page filled by this library (or zeroed).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn kahuna_scan_page_free(page: *mut kahuna_scan_page) {
    ffi::run_void(|| {
        // SAFETY: the caller guarantees `page` is NULL or a valid page.
        if let Some(p) = unsafe { page.as_mut() } {
            p.entries.release();
            let len = std::mem::take(&mut p.cursor_len);
            // SAFETY: (cursor, cursor_len) were made by bytes_into_raw.
            unsafe { memory::bytes_free(take_ptr(&mut p.cursor), len) };
        }
    });
}

/// A member of the cluster.
#[repr(C)]
#[derive(Debug)]
pub struct kahuna_node {
    /// The node's id (at least 1).
    pub id: u64,
    /// Its RPC address, `host:port`, NUL-terminated.
    pub address: *mut c_char,
}

/// Who leads one partition.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct kahuna_partition {
    /// The node id of the partition's leader; 0 when unknown.
    pub leader: u64,
    /// The Raft term of that leader; 0 when unknown.
    pub term: u64,
}

/// The cluster as one node sees it. Owns its strings and arrays: free with
/// `kahuna_topology_free`.
#[repr(C)]
#[derive(Debug)]
pub struct kahuna_topology {
    /// The cluster's unique id.
    pub cluster_id: u64,
    /// The cluster's configured name, NUL-terminated.
    pub cluster_name: *mut c_char,
    /// The number of data partitions, and of entries in `partitions`.
    pub partition_count: u32,
    /// The leader of each partition (index = partition number).
    pub partitions: *mut kahuna_partition,
    /// Every member of the cluster.
    pub nodes: *mut kahuna_node,
    /// The number of entries in `nodes`.
    pub node_count: usize,
    /// The id of the node that answered.
    pub answered_by: u64,
}

impl Default for kahuna_topology {
    fn default() -> kahuna_topology {
        kahuna_topology {
            cluster_id: 0,
            cluster_name: ptr::null_mut(),
            partition_count: 0,
            partitions: ptr::null_mut(),
            nodes: ptr::null_mut(),
            node_count: 0,
            answered_by: 0,
        }
    }
}

impl From<Topology> for kahuna_topology {
    fn from(t: Topology) -> kahuna_topology {
        let partitions = (0..t.partition_count as usize)
            .map(|p| kahuna_partition {
                leader: t.leaders.get(p).copied().flatten().unwrap_or(0),
                term: t.terms.get(p).copied().unwrap_or(0),
            })
            .collect();
        let nodes = t
            .nodes
            .into_iter()
            .map(|(id, address)| kahuna_node { id, address: memory::string_into_raw(address) })
            .collect();
        let (nodes, node_count) = memory::slice_into_raw(nodes);
        kahuna_topology {
            cluster_id: t.cluster_id,
            cluster_name: memory::string_into_raw(t.cluster_name),
            partition_count: t.partition_count,
            partitions: memory::slice_into_raw(partitions).0,
            nodes,
            node_count,
            answered_by: t.answered_by,
        }
    }
}

/// Frees the strings and arrays of a topology. NULL is ignored.
///
/// # Safety
/// `topology` must be NULL or point to a topology filled by this library (or zeroed).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn kahuna_topology_free(topology: *mut kahuna_topology) {
    ffi::run_void(|| {
        // SAFETY: the caller guarantees `topology` is NULL or a valid topology; every pointer
        // in it was made by memory::*_into_raw with the lengths stored next to it.
        if let Some(t) = unsafe { topology.as_mut() } {
            unsafe {
                memory::string_free(take_ptr(&mut t.cluster_name));
                drop(memory::slice_from_raw(take_ptr(&mut t.partitions), t.partition_count as usize));
                for node in memory::slice_from_raw(take_ptr(&mut t.nodes), std::mem::take(&mut t.node_count)).iter() {
                    memory::string_free(node.address);
                }
            }
        }
    });
}

/// The outcome of `kahuna_try_lock` / `kahuna_lock_with_wait`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct kahuna_lock_result {
    /// True when the owner holds the lock (newly granted, or already held); false while
    /// another owner holds a live lease.
    pub locked: bool,
    /// The holder's fencing token when locked: 0 on the resource's first grant ever, +1 on
    /// every grant to a new holder (or after a release or an expiry). 0 when not locked.
    pub fencing_token: i64,
}

impl From<LockResult> for kahuna_lock_result {
    fn from(r: LockResult) -> kahuna_lock_result {
        kahuna_lock_result { locked: r.locked, fencing_token: r.fencing_token }
    }
}

/// A live lock, from `kahuna_get_lock`. Owns `owner`: free with `kahuna_lock_info_free`.
#[repr(C)]
#[derive(Debug)]
pub struct kahuna_lock_info {
    /// The holder's owner id, the bytes it locked with (not NUL-terminated). Non-NULL after
    /// `KAHUNA_OK`; NULL when zeroed (after an error or a free).
    pub owner: *mut u8,
    /// The number of bytes in `owner`.
    pub owner_len: usize,
    /// HLC timestamp at which the lease ends (the milliseconds since the Unix epoch are
    /// `expires_at >> 16`).
    pub expires_at: u64,
    /// The holder's fencing token.
    pub fencing_token: i64,
}

impl Default for kahuna_lock_info {
    fn default() -> kahuna_lock_info {
        kahuna_lock_info { owner: ptr::null_mut(), owner_len: 0, expires_at: 0, fencing_token: 0 }
    }
}

impl From<LockInfo> for kahuna_lock_info {
    fn from(info: LockInfo) -> kahuna_lock_info {
        let (owner, owner_len) = memory::bytes_into_raw(info.owner);
        kahuna_lock_info { owner, owner_len, expires_at: info.expires_at, fencing_token: info.fencing_token }
    }
}

/// Frees the owner of a lock info and resets it to NULL. NULL is ignored.
///
/// # Safety
/// `info` must be NULL or point to a lock info filled by this library (or zeroed).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn kahuna_lock_info_free(info: *mut kahuna_lock_info) {
    ffi::run_void(|| {
        // SAFETY: the caller guarantees `info` is NULL or a valid lock info.
        if let Some(i) = unsafe { info.as_mut() } {
            let len = std::mem::take(&mut i.owner_len);
            // SAFETY: (owner, owner_len) were made by bytes_into_raw.
            unsafe { memory::bytes_free(take_ptr(&mut i.owner), len) };
        }
    });
}
