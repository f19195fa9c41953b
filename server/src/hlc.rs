//! Hybrid logical clock: one per node.
//!
//! A timestamp is one `u64`: the high 48 bits are physical milliseconds since the Unix epoch, the
//! low 16 bits a logical counter. [`Clock::now`] never returns the same value twice and never
//! goes backwards; [`Clock::observe`] moves the clock past a timestamp received from a peer or
//! client, so causally related events are ordered across nodes. Timestamps more than
//! `max_forward` ahead of the local wall clock are refused rather than adopted, so one node with
//! a wild clock (or one buggy client) cannot drag every clock into the future.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Bits of the logical counter.
pub const LOGICAL_BITS: u32 = 16;

/// A timestamp from physical milliseconds and a logical counter.
pub fn pack(ms: u64, logical: u16) -> u64 {
    (ms << LOGICAL_BITS) | u64::from(logical)
}

/// The physical milliseconds of a timestamp.
pub fn physical_ms(ts: u64) -> u64 {
    ts >> LOGICAL_BITS
}

/// The timestamp `ms` milliseconds after `ts` (logical counter reset), saturating.
pub fn add_ms(ts: u64, ms: u64) -> u64 {
    pack(physical_ms(ts).saturating_add(ms).min(u64::MAX >> LOGICAL_BITS), 0)
}

/// When something granted at `ts` for `ms` milliseconds (a lock lease, a key's TTL) runs out: the
/// first timestamp at which it no longer holds.
///
/// A timestamp keeps only the whole milliseconds of the instant it was taken, which lies
/// anywhere in that millisecond, so the end is rounded up: `ts`'s milliseconds + `ms` + 1. A
/// client that counts `ms` from before its request was sent (its own bound on a lease) is then
/// never outlived: the grant ends no earlier than request time + `ms` (docs/reliability.md,
/// bug 7). Saturating.
pub fn expiry(ts: u64, ms: u64) -> u64 {
    add_ms(ts, ms.saturating_add(1))
}

/// The expiry of a key written at `ts` with a TTL of `ms` milliseconds: 0 (never) when `ms` is
/// 0, else [`expiry`].
pub fn ttl_expiry(ts: u64, ms: u64) -> u64 {
    if ms == 0 { 0 } else { expiry(ts, ms) }
}

/// The timestamp `ms` milliseconds before `ts` (logical counter reset), saturating at 0.
pub fn sub_ms(ts: u64, ms: u64) -> u64 {
    pack(physical_ms(ts).saturating_sub(ms), 0)
}

/// The source of physical time, in milliseconds since the epoch.
pub type WallClock = Box<dyn Fn() -> u64 + Send + Sync>;

fn system_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

/// A node's hybrid logical clock.
pub struct Clock {
    last: AtomicU64,
    max_forward_ms: u64,
    wall: WallClock,
}

impl Clock {
    /// A clock on the system time that refuses timestamps more than `max_forward` ahead.
    pub fn new(max_forward: Duration) -> Self {
        Self::with_wall(max_forward, Box::new(system_ms))
    }

    /// A clock on the given wall clock (tests).
    pub fn with_wall(max_forward: Duration, wall: WallClock) -> Self {
        Self { last: AtomicU64::new(0), max_forward_ms: max_forward.as_millis() as u64, wall }
    }

    /// A fresh timestamp, greater than every timestamp returned or observed before.
    pub fn now(&self) -> u64 {
        let physical = pack((self.wall)(), 0);
        let mut last = self.last.load(Ordering::Acquire);
        loop {
            let next = physical.max(last + 1);
            match self.last.compare_exchange_weak(last, next, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return next,
                Err(actual) => last = actual,
            }
        }
    }

    /// The latest timestamp handed out or observed, without advancing.
    pub fn peek(&self) -> u64 {
        self.last.load(Ordering::Acquire).max(pack((self.wall)(), 0))
    }

    /// Moves the clock to at least `remote`. Returns false (and changes nothing) when `remote`
    /// is too far ahead of the wall clock to be trusted.
    pub fn observe(&self, remote: u64) -> bool {
        if remote == 0 {
            return true;
        }
        let limit = pack((self.wall)().saturating_add(self.max_forward_ms), 0);
        if remote > limit {
            return false;
        }
        self.last.fetch_max(remote, Ordering::AcqRel);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn manual(ms: Arc<AtomicU64>) -> Clock {
        Clock::with_wall(Duration::from_secs(5), Box::new(move || ms.load(Ordering::SeqCst)))
    }

    #[test]
    fn now_is_strictly_increasing_even_when_the_wall_clock_stalls_or_steps_back() {
        let wall = Arc::new(AtomicU64::new(1_000));
        let c = manual(wall.clone());
        let a = c.now();
        let b = c.now();
        assert_eq!(a, pack(1_000, 0));
        assert_eq!(b, pack(1_000, 1));
        wall.store(900, Ordering::SeqCst);
        assert!(c.now() > b);
        wall.store(2_000, Ordering::SeqCst);
        assert_eq!(c.now(), pack(2_000, 0));
    }

    #[test]
    fn observe_moves_forward_but_refuses_wild_timestamps() {
        let wall = Arc::new(AtomicU64::new(10_000));
        let c = manual(wall);
        assert!(c.observe(pack(12_000, 7)));
        assert_eq!(c.now(), pack(12_000, 8));
        assert!(!c.observe(pack(20_000, 0)), "8 s ahead is beyond the 5 s limit");
        assert!(!c.observe(u64::MAX));
        assert!(c.now() < pack(13_000, 0));
        assert!(c.observe(0));
    }

    #[test]
    fn arithmetic() {
        let ts = pack(5_000, 3);
        assert_eq!(physical_ms(ts), 5_000);
        assert_eq!(add_ms(ts, 250), pack(5_250, 0));
        // A grant taken anywhere in millisecond 5,000 with 250 ms holds through 5,250.
        assert_eq!(expiry(pack(5_000, 0), 250), pack(5_251, 0));
        assert_eq!(expiry(ts, 250), pack(5_251, 0));
        assert_eq!(physical_ms(expiry(u64::MAX, u64::MAX)), u64::MAX >> LOGICAL_BITS);
        assert_eq!(physical_ms(add_ms(u64::MAX, 10)), u64::MAX >> LOGICAL_BITS);
    }
}
