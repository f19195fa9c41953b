//! Memory handed to C: how it is allocated, and the generic functions that free it.
//!
//! Everything the library returns is allocated by Rust's allocator, as one of three shapes:
//!
//! ```text
//!   char *            CString::into_raw           freed by kahuna_string_free(ptr)
//!   uint8_t * + len   Box<[u8]>::into_raw         freed by kahuna_bytes_free(ptr, len)
//!   T * + count       Box<[T]>::into_raw          freed by the owning struct's _free function
//! ```
//!
//! A byte buffer is NULL only when there is no buffer at all (a value that was not found, the
//! cursor of the last page); an empty buffer is a non-NULL pointer with length 0 that must not
//! be read, and is still freed by the same function (which then does nothing). The lengths are
//! needed to free a buffer: that is why result structs carry them and why `kahuna_bytes_free`
//! takes one.

use std::ffi::{CString, c_char};
use std::ptr;

use crate::ffi;

/// Moves `s` to C as a NUL-terminated string (an interior NUL is written as `\0`).
pub(crate) fn string_into_raw(s: String) -> *mut c_char {
    let c = CString::new(s).unwrap_or_else(|e| {
        let escaped = String::from_utf8_lossy(&e.into_vec()).replace('\0', "\\0");
        CString::new(escaped).expect("no NUL is left after escaping")
    });
    c.into_raw()
}

/// Frees a string made by [`string_into_raw`]; NULL is ignored.
///
/// # Safety
/// `s` must be NULL or come from [`string_into_raw`], and not be freed twice.
pub(crate) unsafe fn string_free(s: *mut c_char) {
    if !s.is_null() {
        // SAFETY: the caller guarantees it came from CString::into_raw.
        drop(unsafe { CString::from_raw(s) });
    }
}

/// Moves `bytes` to C; returns the pointer (never NULL) and the length.
pub(crate) fn bytes_into_raw(bytes: Vec<u8>) -> (*mut u8, usize) {
    slice_into_raw(bytes)
}

/// Frees a buffer made by [`bytes_into_raw`]; NULL is ignored.
///
/// # Safety
/// `ptr` must be NULL or come from [`bytes_into_raw`] with this `len`, and not be freed twice.
pub(crate) unsafe fn bytes_free(ptr: *mut u8, len: usize) {
    // SAFETY: forwarded from the caller.
    drop(unsafe { slice_from_raw(ptr, len) });
}

/// Moves `items` to C as an array; returns the pointer (never NULL) and the count.
pub(crate) fn slice_into_raw<T>(items: Vec<T>) -> (*mut T, usize) {
    let boxed = items.into_boxed_slice();
    let len = boxed.len();
    (Box::into_raw(boxed).cast::<T>(), len)
}

/// Takes back an array made by [`slice_into_raw`] (empty for NULL), to drop or walk it.
///
/// # Safety
/// `ptr` must be NULL or come from [`slice_into_raw`] with this `len`, and not be taken twice.
pub(crate) unsafe fn slice_from_raw<T>(ptr: *mut T, len: usize) -> Box<[T]> {
    if ptr.is_null() {
        return Box::default();
    }
    // SAFETY: the caller guarantees (ptr, len) is exactly what slice_into_raw handed out.
    unsafe { Box::from_raw(ptr::slice_from_raw_parts_mut(ptr, len)) }
}

/// Frees a string returned by the library (an error message, ...). NULL is ignored.
///
/// # Safety
/// `s` must be NULL or a string returned by this library, not already freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn kahuna_string_free(s: *mut c_char) {
    // SAFETY: forwarded from the caller.
    ffi::run_void(|| unsafe { string_free(s) });
}

/// Frees a byte buffer returned by the library, given its length. NULL is ignored.
///
/// Use it for a buffer taken out of a result struct (for example `kahuna_get_result.value`,
/// after setting the field to NULL so the struct's own `_free` skips it).
///
/// # Safety
/// `bytes` must be NULL or a buffer returned by this library with exactly this `len`, not
/// already freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn kahuna_bytes_free(bytes: *mut u8, len: usize) {
    // SAFETY: forwarded from the caller.
    ffi::run_void(|| unsafe { bytes_free(bytes, len) });
}

/// Takes the pointer out of `field`, leaving NULL there, so a second free does nothing.
pub(crate) fn take_ptr<T>(field: &mut *mut T) -> *mut T {
    std::mem::replace(field, ptr::null_mut())
}

#[cfg(test)]
mod tests {
    use std::ffi::CStr;

    use super::*;

    #[test]
    fn strings_round_trip_and_interior_nuls_are_escaped() {
        let s = string_into_raw("a\0b".to_string());
        // SAFETY: s was just made by string_into_raw.
        unsafe {
            assert_eq!(CStr::from_ptr(s).to_str().unwrap(), "a\\0b");
            kahuna_string_free(s);
            kahuna_string_free(ptr::null_mut());
        }
    }

    #[test]
    fn empty_buffers_are_not_null_and_free_cleanly() {
        let (p, n) = bytes_into_raw(Vec::new());
        assert!(!p.is_null());
        assert_eq!(n, 0);
        let (q, m) = bytes_into_raw(b"xyz".to_vec());
        // SAFETY: both were made by bytes_into_raw with these lengths.
        unsafe {
            assert_eq!(std::slice::from_raw_parts(q, m), b"xyz");
            kahuna_bytes_free(p, n);
            kahuna_bytes_free(q, m);
            kahuna_bytes_free(ptr::null_mut(), 3);
        }
    }
}
