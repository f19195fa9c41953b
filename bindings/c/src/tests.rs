//! Tests of the C ABI that need no cluster: the header, argument checks, frees, panics.

use std::ffi::{CStr, c_char};
use std::path::PathBuf;
use std::ptr;
use std::time::Duration;

use crate::client::{kahuna_client_connect, kahuna_client_free, kahuna_options, kahuna_options_default};
use crate::status::kahuna_status;

/// The header cbindgen generated for this build.
const GENERATED_HEADER: &str = include_str!(concat!(env!("OUT_DIR"), "/kahuna.h"));

#[test]
fn the_committed_header_is_current() {
    // The crate directory at run time (cargo and nextest set it), not the one this binary was
    // compiled in: a target directory may be reused from another checkout.
    let crate_dir =
        std::env::var_os("CARGO_MANIFEST_DIR").map_or_else(|| env!("CARGO_MANIFEST_DIR").into(), PathBuf::from);
    let path = crate_dir.join("include/kahuna.h");
    if std::env::var_os("KAHUNA_BLESS").is_some() {
        std::fs::write(&path, GENERATED_HEADER).expect("write include/kahuna.h");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == GENERATED_HEADER,
        "{} is out of date with the Rust sources of bindings/c. Refresh it with\n  \
         KAHUNA_BLESS=1 cargo nextest run --release -p kahuna-c the_committed_header_is_current\n\
         and commit the result.",
        path.display()
    );
}

/// Takes the message out of `err` and frees it.
fn take_message(err: *mut c_char) -> String {
    assert!(!err.is_null(), "an error message was expected");
    // SAFETY: the library wrote a NUL-terminated string it allocated.
    let text = unsafe { CStr::from_ptr(err) }.to_string_lossy().into_owned();
    // SAFETY: freed once, by the library.
    unsafe { crate::memory::kahuna_string_free(err) };
    text
}

#[test]
fn connect_rejects_bad_arguments_naming_them() {
    let mut client: *mut crate::kahuna_client = ptr::null_mut();
    let mut err: *mut c_char = ptr::null_mut();
    // SAFETY: every pointer is valid or deliberately NULL.
    unsafe {
        let s = kahuna_client_connect(ptr::null(), ptr::null(), &mut client, &mut err);
        assert_eq!((s, take_message(err)), (kahuna_status::KAHUNA_INVALID_INPUT, "endpoints is NULL".into()));
        assert!(client.is_null());

        let s = kahuna_client_connect(c" , ".as_ptr(), ptr::null(), &mut client, &mut err);
        assert_eq!(s, kahuna_status::KAHUNA_INVALID_INPUT);
        assert!(take_message(err).contains("at least one host:port"));

        let s = kahuna_client_connect(c"nonsense".as_ptr(), ptr::null(), &mut client, &mut err);
        assert_eq!(s, kahuna_status::KAHUNA_INVALID_INPUT);
        assert!(take_message(err).contains("endpoints[0] must be host:port"));

        let s = kahuna_client_connect(c"127.0.0.1:1".as_ptr(), ptr::null(), ptr::null_mut(), &mut err);
        assert_eq!((s, take_message(err)), (kahuna_status::KAHUNA_INVALID_INPUT, "out is NULL".into()));

        let bad_utf8 = [b'h', 0xff, b':', b'1', 0];
        let s = kahuna_client_connect(bad_utf8.as_ptr().cast(), ptr::null(), &mut client, ptr::null_mut());
        assert_eq!(s, kahuna_status::KAHUNA_INVALID_INPUT);
    }
}

#[test]
fn connect_to_nothing_is_unavailable_after_the_timeout() {
    let options = kahuna_options { timeout_ms: 1_000, connect_timeout_ms: 100, ..kahuna_options::default() };
    let mut client: *mut crate::kahuna_client = ptr::null_mut();
    let mut err: *mut c_char = ptr::null_mut();
    let started = std::time::Instant::now();
    // SAFETY: valid pointers.
    let s = unsafe { kahuna_client_connect(c"127.0.0.1:1".as_ptr(), &options, &mut client, &mut err) };
    assert_eq!(s, kahuna_status::KAHUNA_UNAVAILABLE);
    // The client retries in rounds until the next backoff pause (at most 500 ms) would cross
    // the deadline, then gives up: it returns between 0.5 s and a little over 1 s.
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(450) && elapsed < Duration::from_secs(3), "{elapsed:?}");
    assert!(take_message(err).contains("127.0.0.1:1"));
    assert!(client.is_null());
    // SAFETY: NULL is ignored.
    unsafe { kahuna_client_free(client) };
}

#[test]
fn default_options_are_the_client_defaults() {
    let o = kahuna_options_default();
    assert_eq!((o.timeout_ms, o.connect_timeout_ms, o.read_attempt_timeout_ms), (10_000, 3_000, 2_000));
}

#[test]
fn every_operation_rejects_a_null_client_and_zeroes_its_out_struct() {
    use crate::client::kahuna_get_topology;
    use crate::kv::*;
    use crate::locks::*;
    use crate::results::*;

    let null = ptr::null();
    let k = c"k".as_ptr();
    let v = b"v".as_ptr();
    let mut err: *mut c_char = ptr::null_mut();
    let mut set = kahuna_set_result { set: true, revision: 7, last_modified: 7 };
    let mut get = kahuna_get_result { found: true, revision: 7, ..Default::default() };
    let mut exists = kahuna_exists_result { exists: true, revision: 7 };
    let mut deleted = kahuna_delete_result { deleted: true, revision: 7 };
    let mut extended = kahuna_extend_result { extended: true, revision: 7 };
    let mut entries = kahuna_entries::default();
    let mut page = kahuna_scan_page { snapshot: 7, ..Default::default() };
    let mut topology = kahuna_topology { cluster_id: 7, ..Default::default() };
    let mut lock = kahuna_lock_result { locked: true, fencing_token: 7 };
    let mut token = 7_i64;
    let mut info = kahuna_lock_info { expires_at: 7, fencing_token: 7, ..Default::default() };
    let mut statuses = Vec::new();
    // SAFETY: every pointer is valid or deliberately NULL; each message is taken (and freed)
    // before the next call overwrites `err`.
    unsafe {
        let s = kahuna_try_set(null, k, v, 1, 0, 0, 0, &mut set, &mut err);
        statuses.push((s, take_message(err)));
        let s = kahuna_try_compare_value_and_set(null, k, v, 1, v, 1, 0, 0, &mut set, &mut err);
        statuses.push((s, take_message(err)));
        let s = kahuna_try_compare_revision_and_set(null, k, v, 1, 0, 0, 0, &mut set, &mut err);
        statuses.push((s, take_message(err)));
        let s = kahuna_try_get(null, k, 0, &mut get, &mut err);
        statuses.push((s, take_message(err)));
        let s = kahuna_try_get_revision(null, k, 0, 0, &mut get, &mut err);
        statuses.push((s, take_message(err)));
        let s = kahuna_try_get_as_of(null, k, 1, 0, &mut get, &mut err);
        statuses.push((s, take_message(err)));
        let s = kahuna_try_exists(null, k, 0, &mut exists, &mut err);
        statuses.push((s, take_message(err)));
        let s = kahuna_try_delete(null, k, 0, &mut deleted, &mut err);
        statuses.push((s, take_message(err)));
        let s = kahuna_try_extend(null, k, 1, 0, &mut extended, &mut err);
        statuses.push((s, take_message(err)));
        let s = kahuna_get_by_bucket(null, k, 0, &mut entries, &mut err);
        statuses.push((s, take_message(err)));
        let s = kahuna_scan_by_prefix(null, k, 0, ptr::null(), 0, 0, &mut page, &mut err);
        statuses.push((s, take_message(err)));
        let s = kahuna_scan_all_by_prefix(null, k, 0, &mut entries, &mut err);
        statuses.push((s, take_message(err)));
        let s = kahuna_get_topology(null, &mut topology, &mut err);
        statuses.push((s, take_message(err)));
        let s = kahuna_try_lock(null, k, v, 1, 1_000, 0, &mut lock, &mut err);
        statuses.push((s, take_message(err)));
        let s = kahuna_lock_with_wait(null, k, v, 1, 1_000, 0, 0, &mut lock, &mut err);
        statuses.push((s, take_message(err)));
        let s = kahuna_try_extend_lock(null, k, v, 1, 1_000, 0, &mut token, &mut err);
        statuses.push((s, take_message(err)));
        let s = kahuna_unlock(null, k, v, 1, 0, &mut err);
        statuses.push((s, take_message(err)));
        let s = kahuna_get_lock(null, k, 0, &mut info, &mut err);
        statuses.push((s, take_message(err)));
    }
    for (status, message) in statuses {
        assert_eq!((status, message.as_str()), (kahuna_status::KAHUNA_INVALID_INPUT, "client is NULL"));
    }
    assert_eq!(set, kahuna_set_result::default());
    assert!(!get.found && get.value.is_null() && get.revision == 0);
    assert_eq!((exists.exists, deleted.deleted, extended.extended), (false, false, false));
    assert_eq!((page.snapshot, topology.cluster_id), (0, 0));
    assert_eq!((lock, token), (kahuna_lock_result::default(), 0));
    assert!(info.owner.is_null() && info.owner_len == 0 && info.expires_at == 0 && info.fencing_token == 0);

    // A NULL out struct is named too, and nothing is written through it.
    // SAFETY: as above.
    let s = unsafe { kahuna_try_get(null, k, 0, ptr::null_mut(), &mut err) };
    assert_eq!((s, take_message(err).as_str()), (kahuna_status::KAHUNA_INVALID_INPUT, "out is NULL"));
}

#[test]
fn free_functions_accept_null_and_zeroed_structs_twice() {
    use crate::results::*;
    // SAFETY: NULL and zeroed structs are documented as accepted.
    unsafe {
        let mut get = kahuna_get_result::default();
        let mut entries = kahuna_entries::default();
        let mut page = kahuna_scan_page::default();
        let mut topology = kahuna_topology::default();
        let mut info = kahuna_lock_info::default();
        for _ in 0..2 {
            kahuna_get_result_free(&mut get);
            kahuna_entries_free(&mut entries);
            kahuna_scan_page_free(&mut page);
            kahuna_topology_free(&mut topology);
            kahuna_lock_info_free(&mut info);
            kahuna_lock_info_free(ptr::null_mut());
            kahuna_get_result_free(ptr::null_mut());
            kahuna_entries_free(ptr::null_mut());
            kahuna_scan_page_free(ptr::null_mut());
            kahuna_topology_free(ptr::null_mut());
        }
    }
}

#[test]
fn results_own_their_memory_and_free_it_once() {
    use ::kahuna_client::{Entry, GetResult, ScanPage, Topology};

    use crate::results::*;
    let entry = |k: &str| Entry { key: k.into(), value: k.as_bytes().to_vec(), revision: 1, ..Default::default() };
    let mut page: kahuna_scan_page =
        ScanPage { entries: vec![entry("a/1"), entry("a/2")], cursor: Some(vec![1, 2, 3]), snapshot: 9 }.into();
    assert_eq!((page.entries.len, page.cursor_len, page.snapshot), (2, 3, 9));
    // SAFETY: the page was just built by the library's conversion.
    unsafe {
        let second = &*page.entries.items.add(1);
        assert_eq!(CStr::from_ptr(second.key).to_str().unwrap(), "a/2");
        assert_eq!(second.key_len, 3);
        kahuna_scan_page_free(&mut page);
        kahuna_scan_page_free(&mut page);
    }
    assert!(page.entries.items.is_null() && page.cursor.is_null());

    let mut empty: kahuna_get_result = GetResult { found: true, ..Default::default() }.into();
    assert!(!empty.value.is_null(), "an empty value found is not NULL");
    let missing: kahuna_get_result = GetResult { found: false, revision: -1, ..Default::default() }.into();
    assert!(missing.value.is_null());
    let topology = Topology {
        cluster_name: "c".into(),
        partition_count: 2,
        nodes: vec![(1, "127.0.0.1:1".into())],
        leaders: vec![Some(1)],
        terms: vec![3],
        ..Default::default()
    };
    let mut t: kahuna_topology = topology.into();
    // SAFETY: built by the library's conversion; partitions has partition_count entries.
    unsafe {
        let partitions = std::slice::from_raw_parts(t.partitions, 2);
        assert_eq!(partitions, [kahuna_partition { leader: 1, term: 3 }, kahuna_partition::default()]);
        kahuna_get_result_free(&mut empty);
        kahuna_topology_free(&mut t);
    }
}

#[test]
fn arguments_are_checked_before_anything_is_sent() {
    // Validation of strings, buffers and durabilities needs no connection.
    // SAFETY: every pointer is valid or deliberately NULL.
    unsafe {
        let e = crate::ffi::string("key", ptr::null()).unwrap_err();
        assert_eq!(e.message, "key is NULL");
        let bad = [b'a', 0xc3, 0x28, 0];
        let e = crate::ffi::string("prefix", bad.as_ptr().cast()).unwrap_err();
        assert_eq!(e.message, "prefix is not valid UTF-8 (invalid byte at offset 1)");
        let e = crate::ffi::bytes("value", ptr::null(), 3).unwrap_err();
        assert_eq!(e.message, "value is NULL but value_len is 3");
        assert_eq!(crate::ffi::bytes("value", ptr::null(), 0).unwrap(), b"");
        assert_eq!(crate::ffi::optional_bytes("cursor", ptr::null(), 0).unwrap(), None);
    }
    let e = crate::ffi::durability(2).unwrap_err();
    assert!(e.message.starts_with("durability must be KAHUNA_PERSISTENT (0) or KAHUNA_EPHEMERAL (1)"));
}

#[test]
fn a_panic_becomes_internal_and_never_unwinds_into_c() {
    let mut err: *mut c_char = ptr::null_mut();
    let mut out = crate::results::kahuna_exists_result { exists: true, revision: 5 };
    // SAFETY: valid pointers.
    let s = unsafe { crate::ffi::run(&mut out, &mut err, || -> Result<_, ::kahuna_client::Error> { panic!("boom") }) };
    assert_eq!(s, kahuna_status::KAHUNA_INTERNAL);
    assert_eq!(take_message(err), "libkahuna panicked: boom");
    assert_eq!(out, Default::default());
}

#[test]
fn lock_results_convert_and_the_lock_info_owns_its_owner() {
    use ::kahuna_client::{LockInfo, LockResult};

    use crate::results::*;
    let r: kahuna_lock_result = LockResult { locked: true, fencing_token: 4 }.into();
    assert_eq!(r, kahuna_lock_result { locked: true, fencing_token: 4 });
    let mut info: kahuna_lock_info = LockInfo { owner: b"w\x001".to_vec(), expires_at: 99, fencing_token: 3 }.into();
    assert_eq!((info.owner_len, info.expires_at, info.fencing_token), (3, 99, 3));
    // SAFETY: built by the library's conversion; owner has owner_len bytes.
    unsafe {
        assert_eq!(std::slice::from_raw_parts(info.owner, info.owner_len), b"w\x001");
        kahuna_lock_info_free(&mut info);
        kahuna_lock_info_free(&mut info);
    }
    assert!(info.owner.is_null() && info.owner_len == 0);
    assert_eq!((info.expires_at, info.fencing_token), (99, 3), "scalars are left as they were");
}
