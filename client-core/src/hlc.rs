//! Hybrid logical clock timestamps, as the server stamps them.
//!
//! A timestamp is one `u64`: the high 48 bits are physical milliseconds since the Unix epoch,
//! the low 16 bits a logical counter that orders events within one millisecond.
//!
//! ```text
//!   63                                   16 15            0
//!  +---------------------------------------+---------------+
//!  |        physical milliseconds          |    logical    |
//!  +---------------------------------------+---------------+
//! ```
//!
//! `last_modified`, `expires_at` and scan snapshots are such timestamps; `try_get_as_of` takes
//! one. [`from_ms`] turns a wall-clock time into the smallest timestamp of that millisecond, so
//! `try_get_as_of(key, hlc::from_ms(ms) | 0xffff, ..)` reads as of the end of millisecond `ms`.

/// Bits of the logical counter.
pub const LOGICAL_BITS: u32 = 16;

/// The physical milliseconds of a timestamp.
pub fn physical_ms(ts: u64) -> u64 {
    ts >> LOGICAL_BITS
}

/// The logical counter of a timestamp.
pub fn logical(ts: u64) -> u16 {
    (ts & 0xffff) as u16
}

/// The first timestamp of millisecond `ms` (logical counter 0).
pub fn from_ms(ms: u64) -> u64 {
    ms << LOGICAL_BITS
}

/// The timestamp of the current wall-clock millisecond (logical counter 0).
pub fn now() -> u64 {
    let ms =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0);
    from_ms(ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_round_trip() {
        let ts = from_ms(1_700_000_000_123) | 7;
        assert_eq!(physical_ms(ts), 1_700_000_000_123);
        assert_eq!(logical(ts), 7);
        assert_eq!(from_ms(1), 65_536);
        assert!(now() > from_ms(1_600_000_000_000));
    }
}
