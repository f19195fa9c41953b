//! The lock rules of SEMANTICS.md, step by step.

use super::*;
use crate::storage::{Engine, MemoryEngine};

const P: u32 = 4;

fn at(ms: u64) -> At {
    At { ts: hlc::pack(ms, 0), term: 1, guard_ms: 0 }
}

fn apply<T>(e: &MemoryEngine, f: impl FnOnce(&mut Staged<'_>) -> storage::Result<T>) -> T {
    let mut st = Staged::new(e);
    let out = f(&mut st).unwrap();
    let batch = st.into_batch();
    e.write(batch).unwrap();
    out
}

#[test]
fn tokens_start_at_zero_and_grow_with_every_new_grant() {
    let e = MemoryEngine::new();
    assert_eq!(apply(&e, |st| lock(st, P, "r", b"a", 1000, at(10))), Outcome::Locked { token: 0 });
    // The owner re-acquiring keeps its token and does not extend the lease.
    assert_eq!(apply(&e, |st| lock(st, P, "r", b"a", 9999, at(20))), Outcome::Locked { token: 0 });
    assert_eq!(get(&e, P, "r", at(20)).unwrap().unwrap().expires_at, hlc::pack(1011, 0));
    // Another owner is refused while the lease is live.
    assert_eq!(apply(&e, |st| lock(st, P, "r", b"b", 1000, at(1010))), Outcome::Busy);
    // After expiry the next holder gets token + 1.
    assert_eq!(apply(&e, |st| lock(st, P, "r", b"b", 1000, at(1011))), Outcome::Locked { token: 1 });
    // After an unlock too.
    assert_eq!(apply(&e, |st| unlock(st, P, "r", b"b")), Outcome::Unlocked);
    assert_eq!(get(&e, P, "r", at(1011)).unwrap(), None);
    assert_eq!(apply(&e, |st| lock(st, P, "r", b"a", 1000, at(1012))), Outcome::Locked { token: 2 });
    // Resources are independent.
    assert_eq!(apply(&e, |st| lock(st, P, "other", b"a", 1000, at(1012))), Outcome::Locked { token: 0 });
}

#[test]
fn extend_and_unlock_check_the_owner() {
    let e = MemoryEngine::new();
    assert_eq!(apply(&e, |st| extend(st, P, "r", b"a", 1000, at(1))), Outcome::DoesNotExist);
    assert_eq!(apply(&e, |st| unlock(st, P, "r", b"a")), Outcome::DoesNotExist);
    apply(&e, |st| lock(st, P, "r", b"a", 100, at(1)));
    assert_eq!(apply(&e, |st| extend(st, P, "r", b"b", 1000, at(50))), Outcome::InvalidOwner);
    assert_eq!(apply(&e, |st| extend(st, P, "r", b"a", 1000, at(50))), Outcome::Extended { token: 0 });
    assert_eq!(get(&e, P, "r", at(1050)).unwrap().unwrap().owner, b"a");
    assert_eq!(get(&e, P, "r", at(1051)).unwrap(), None, "extended to 50 + 1000");
    assert_eq!(apply(&e, |st| extend(st, P, "r", b"a", 1000, at(1051))), Outcome::DoesNotExist, "expired");
    assert_eq!(apply(&e, |st| unlock(st, P, "r", b"b")), Outcome::InvalidOwner);
    // The owner may still release an expired lock nobody else took.
    assert_eq!(apply(&e, |st| unlock(st, P, "r", b"a")), Outcome::Unlocked);
    assert_eq!(apply(&e, |st| unlock(st, P, "r", b"a")), Outcome::DoesNotExist);
}

#[test]
fn a_new_leader_waits_out_the_previous_leaders_lease() {
    let e = MemoryEngine::new();
    let term1 = At { ts: hlc::pack(0, 0), term: 1, guard_ms: 500 };
    apply(&e, |st| lock(st, P, "r", b"a", 1000, term1));
    // Same term: held through millisecond 1000, free from 1001.
    let later = |ms, term| At { ts: hlc::pack(ms, 0), term, guard_ms: 500 };
    assert!(get(&e, P, "r", later(1000, 1)).unwrap().is_some());
    assert!(get(&e, P, "r", later(1001, 1)).unwrap().is_none());
    // A later term's leader (whose clock may run ahead) adds the guard before granting.
    assert_eq!(apply(&e, |st| lock(st, P, "r", b"b", 1000, later(1200, 2))), Outcome::Busy);
    assert!(get(&e, P, "r", later(1500, 2)).unwrap().is_some());
    assert_eq!(apply(&e, |st| lock(st, P, "r", b"b", 1000, later(1501, 2))), Outcome::Locked { token: 1 });
    // Its own grants are judged without the guard.
    assert!(get(&e, P, "r", later(2501, 2)).unwrap().is_some());
    assert!(get(&e, P, "r", later(2502, 2)).unwrap().is_none());
}

#[test]
fn a_lease_never_ends_before_request_time_plus_ttl() {
    // Regression (docs/reliability.md, bug 7): a grant committed 0.9 ms into millisecond 1000
    // (the holder sent its request no earlier than 1000.0) with a 10 ms lease. The
    // holder may count on it until 1010.9 in real time, so every timestamp of millisecond 1010,
    // whatever its logical counter, must still find the lock held: the lease ends at 1011.
    let e = MemoryEngine::new();
    let granted = At { ts: hlc::pack(1000, 900), term: 1, guard_ms: 0 };
    assert_eq!(apply(&e, |st| lock(st, P, "r", b"a", 10, granted)), Outcome::Locked { token: 0 });
    for logical in [0, 1, u16::MAX] {
        let now = At { ts: hlc::pack(1010, logical), term: 1, guard_ms: 0 };
        assert_eq!(apply(&e, |st| lock(st, P, "r", b"b", 10, now)), Outcome::Busy, "at 1010.{logical}");
        assert!(get(&e, P, "r", now).unwrap().is_some());
    }
    assert_eq!(apply(&e, |st| lock(st, P, "r", b"b", 10, at(1011))), Outcome::Locked { token: 1 });
    // An extension committed late in a millisecond is rounded the same way.
    let extended = At { ts: hlc::pack(1015, 7), term: 1, guard_ms: 0 };
    assert_eq!(apply(&e, |st| extend(st, P, "r", b"b", 10, extended)), Outcome::Extended { token: 1 });
    assert!(get(&e, P, "r", At { ts: hlc::pack(1025, u16::MAX), term: 1, guard_ms: 0 }).unwrap().is_some());
    assert!(get(&e, P, "r", at(1026)).unwrap().is_none());
}
