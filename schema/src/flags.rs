//! Bits of the `flags` argument of `try_set`, with the values of the original Kahuna wire.

/// Do not archive the superseded revision: `get_revision` of it finds nothing afterwards.
pub const NO_REVISION: u32 = 2;
/// Write only when the key is live (present, not deleted, not expired).
pub const SET_IF_EXISTS: u32 = 4;
/// Write only when the key is absent, deleted or expired.
pub const SET_IF_NOT_EXISTS: u32 = 8;
/// Write only when the live value equals `compareValue` byte for byte.
pub const SET_IF_EQUAL_TO_VALUE: u32 = 16;
/// Write only when the key is live and its revision equals `compareRevision`.
pub const SET_IF_EQUAL_TO_REVISION: u32 = 32;

/// Every flag a client may send.
pub const ALL: u32 = NO_REVISION | SET_IF_EXISTS | SET_IF_NOT_EXISTS | SET_IF_EQUAL_TO_VALUE | SET_IF_EQUAL_TO_REVISION;

/// Flags that make the write conditional; at most one of them may be set.
pub const CONDITIONS: u32 = SET_IF_EXISTS | SET_IF_NOT_EXISTS | SET_IF_EQUAL_TO_VALUE | SET_IF_EQUAL_TO_REVISION;
