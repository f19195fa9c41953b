//! The checkers against hand-written histories: each anomaly must be caught, and each correct
//! but tricky history (concurrency, unknown outcomes, delete keeping the revision) must pass.
//! Times are in milliseconds in the helpers below.

use std::collections::BTreeMap;

use super::checks::{FinalRead, check_durability, check_locks};
use super::history::{Call, History, Op, Outcome, Ret};
use super::linearizable::{self, Register, Verdict};

const K: &str = "nemesis-r0-0";

fn op(process: u64, key: &str, call: Call, invoke: u64, complete: u64, outcome: Outcome) -> Op {
    Op { index: 0, process, key: key.into(), call, invoke: invoke * 1_000_000, complete: complete * 1_000_000, outcome }
}
fn read(found: bool, value: Option<u64>, revision: i64) -> Outcome {
    Outcome::Ok(Ret::Read { found, value, revision })
}
fn wrote(set: bool, revision: i64) -> Outcome {
    Outcome::Ok(Ret::Write { set, revision })
}
fn deleted(deleted: bool, revision: i64) -> Outcome {
    Outcome::Ok(Ret::Delete { deleted, revision })
}
fn info() -> Outcome {
    Outcome::Info("Timeout: outcome unknown".into())
}
fn history(ops: Vec<Op>) -> History {
    History::merge(vec![ops], Vec::new())
}
fn linearizable(ops: Vec<Op>) -> bool {
    let h = history(ops);
    let s = linearizable::check(&h, 100_000);
    assert!(s.gave_up.is_empty());
    s.failures.is_empty()
}

#[test]
fn the_model_follows_the_semantics() {
    let r = Register::ABSENT;
    let r = r.step(&Call::Set { value: 1 }, Some(&Ret::Write { set: true, revision: 0 })).expect("first write is r0");
    let r = r.step(&Call::Delete, Some(&Ret::Delete { deleted: true, revision: 0 })).expect("delete keeps r0");
    assert!(r.step(&Call::Get, Some(&Ret::Read { found: false, value: None, revision: 0 })).is_some());
    assert!(r.step(&Call::Get, Some(&Ret::Read { found: false, value: None, revision: -1 })).is_none());
    let cas = Call::CasRevision { value: 2, expect: 0 };
    assert!(r.step(&cas, Some(&Ret::Write { set: false, revision: 0 })).is_some(), "a dead key fails every CAS");
    let r = r.step(&Call::Set { value: 3 }, Some(&Ret::Write { set: true, revision: 1 })).expect("continues at r1");
    assert!(r.step(&Call::CasValue { value: 4, expect: 3 }, Some(&Ret::Write { set: true, revision: 2 })).is_some());
    assert_eq!(r.step(&Call::Delete, None), Some(Register { live: false, value: 3, revision: 1 }));
}

#[test]
fn a_sequential_history_passes() {
    assert!(linearizable(vec![
        op(0, K, Call::Get, 0, 1, read(false, None, -1)),
        op(0, K, Call::Set { value: 10 }, 2, 3, wrote(true, 0)),
        op(0, K, Call::CasRevision { value: 11, expect: 0 }, 4, 5, wrote(true, 1)),
        op(0, K, Call::CasValue { value: 12, expect: 10 }, 6, 7, wrote(false, 1)),
        op(0, K, Call::Delete, 8, 9, deleted(true, 1)),
        op(0, K, Call::Delete, 10, 11, deleted(false, 1)),
        op(0, K, Call::Set { value: 13 }, 12, 13, wrote(true, 2)),
        op(0, K, Call::Get, 14, 15, read(true, Some(13), 2)),
    ]));
}

#[test]
fn concurrent_operations_may_take_effect_in_any_order_within_their_intervals() {
    // The set of 2 completes first but must be ordered after the set of 1 (revisions say so).
    assert!(linearizable(vec![
        op(0, K, Call::Set { value: 1 }, 0, 10, wrote(true, 0)),
        op(1, K, Call::Set { value: 2 }, 1, 5, wrote(true, 1)),
        op(2, K, Call::Get, 2, 3, read(true, Some(1), 0)),
        op(2, K, Call::Get, 11, 12, read(true, Some(2), 1)),
    ]));
}

#[test]
fn unknown_outcomes_may_or_may_not_have_happened() {
    // An :info set seen much later by a read: it happened.
    assert!(linearizable(vec![
        op(0, K, Call::Set { value: 1 }, 0, 5_000, info()),
        op(1, K, Call::Get, 100, 101, read(false, None, -1)),
        op(1, K, Call::Get, 9_000, 9_001, read(true, Some(1), 0)),
    ]));
    // An :info set never seen: it did not happen.
    assert!(linearizable(vec![
        op(0, K, Call::Set { value: 1 }, 0, 5_000, info()),
        op(1, K, Call::Set { value: 2 }, 6_000, 6_001, wrote(true, 0)),
        op(1, K, Call::Get, 9_000, 9_001, read(true, Some(2), 0)),
    ]));
    // A failed write never happened, even if a read would like it to.
    assert!(!linearizable(vec![
        op(0, K, Call::Set { value: 1 }, 0, 10, Outcome::Fail("Unavailable: no quorum".into())),
        op(1, K, Call::Get, 20, 21, read(true, Some(1), 0)),
    ]));
}

#[test]
fn a_lost_update_is_caught() {
    // Two compare-and-sets from revision 0 both succeed with revision 1.
    assert!(!linearizable(vec![
        op(0, K, Call::Set { value: 1 }, 0, 1, wrote(true, 0)),
        op(1, K, Call::CasRevision { value: 2, expect: 0 }, 2, 5, wrote(true, 1)),
        op(2, K, Call::CasRevision { value: 3, expect: 0 }, 3, 6, wrote(true, 1)),
    ]));
}

#[test]
fn a_stale_read_is_caught_and_shrunk_to_its_window() {
    let mut ops: Vec<Op> =
        (0..20).map(|i| op(3, "nemesis-r0-1", Call::Get, i * 10, i * 10 + 1, read(false, None, -1))).collect();
    ops.extend([
        op(0, K, Call::Set { value: 1 }, 0, 1, wrote(true, 0)),
        op(0, K, Call::Set { value: 2 }, 10, 11, wrote(true, 1)),
        op(1, K, Call::Get, 12, 13, read(true, Some(2), 1)),
        op(2, K, Call::Get, 20, 21, read(true, Some(1), 0)),
        op(1, K, Call::Get, 30, 31, read(true, Some(2), 1)),
    ]);
    let h = history(ops);
    let summary = linearizable::check(&h, 100_000);
    assert_eq!(summary.keys, 2);
    assert_eq!(summary.failures.len(), 1);
    let failure = &summary.failures[0];
    assert_eq!(failure.key, K);
    assert!(failure.report.contains("ends at 0.021s"), "{}", failure.report);
    assert!(failure.report.contains("Read { found: true, value: Some(1), revision: 0 }"), "{}", failure.report);
    assert!(!failure.report.contains("0.031s"), "the window stops at the failure:\n{}", failure.report);
}

#[test]
fn wrong_revisions_are_caught() {
    // A set after a delete must continue the counter.
    assert!(!linearizable(vec![
        op(0, K, Call::Set { value: 1 }, 0, 1, wrote(true, 0)),
        op(0, K, Call::Delete, 2, 3, deleted(true, 0)),
        op(0, K, Call::Set { value: 2 }, 4, 5, wrote(true, 0)),
    ]));
    // A failed condition reports the current revision.
    assert!(!linearizable(vec![
        op(0, K, Call::Set { value: 1 }, 0, 1, wrote(true, 0)),
        op(0, K, Call::CasRevision { value: 2, expect: 5 }, 2, 3, wrote(false, -1)),
    ]));
    // A value nobody wrote.
    assert!(!linearizable(vec![op(0, K, Call::Get, 0, 1, read(true, Some(99), 0))]));
}

#[test]
fn the_search_reports_the_stuck_operation() {
    let ops =
        [op(0, K, Call::Set { value: 1 }, 0, 1, wrote(true, 0)), op(1, K, Call::Get, 2, 3, read(false, None, -1))];
    let h = history(ops.to_vec());
    let refs: Vec<&Op> = h.ops.iter().collect();
    match linearizable::search(&refs, Register::ABSENT, 1_000) {
        Verdict::NotLinearizable(c) => {
            assert_eq!(c.linearized, vec![0]);
            assert_eq!(c.stuck, 1);
        }
        other => panic!("{other:?}"),
    }
}

fn lock(process: u64, owner: &str, lease_ms: i64, invoke: u64, complete: u64, outcome: Outcome) -> Op {
    op(process, "nemesis-lock-0", Call::Lock { owner: owner.into(), lease_ms }, invoke, complete, outcome)
}
fn unlock(process: u64, owner: &str, invoke: u64, complete: u64) -> Op {
    let released = Outcome::Ok(Ret::Unlock { released: true, code: None });
    op(process, "nemesis-lock-0", Call::Unlock { owner: owner.into() }, invoke, complete, released)
}
fn granted(token: i64) -> Outcome {
    Outcome::Ok(Ret::Lock { locked: true, token })
}

#[test]
fn correct_lock_histories_pass() {
    let h = history(vec![
        lock(0, "a", 1_000, 0, 10, granted(0)),
        unlock(0, "a", 500, 510),
        lock(1, "b", 1_000, 505, 520, granted(1)),
        // Held past its lease: the next holder may start once the lease is over.
        lock(1, "c", 1_000, 2_000, 2_010, granted(2)),
        lock(0, "d", 1_000, 2_500, 3_010, granted(3)),
        // Answered after its lease ran out: an empty window, ignored for overlap and order.
        lock(2, "e", 100, 3_100, 3_300, granted(4)),
        lock(0, "f", 1_000, 3_050, 3_060, Outcome::Ok(Ret::Lock { locked: false, token: 0 })),
    ]);
    let s = check_locks(&h);
    assert_eq!(s.grants, 5);
    assert!(s.violations.is_empty(), "{:?}", s.violations);
}

#[test]
fn overlapping_holders_are_caught() {
    let h = history(vec![lock(0, "a", 1_000, 0, 10, granted(0)), lock(1, "b", 1_000, 200, 210, granted(1))]);
    let s = check_locks(&h);
    assert_eq!(s.violations.len(), 1, "{:?}", s.violations);
    assert!(s.violations[0].contains("two holders at once"), "{:?}", s.violations);
}

#[test]
fn decreasing_and_repeated_tokens_are_caught() {
    let h = history(vec![lock(0, "a", 100, 0, 10, granted(5)), lock(1, "b", 100, 200, 210, granted(4))]);
    let s = check_locks(&h);
    assert!(s.violations.iter().any(|v| v.contains("fencing token went from 5")), "{:?}", s.violations);
    let h = history(vec![lock(0, "a", 100, 0, 10, granted(3)), lock(1, "b", 100, 200, 210, granted(3))]);
    let s = check_locks(&h);
    assert!(s.violations.iter().any(|v| v.contains("token 3 granted twice")), "{:?}", s.violations);
}

fn finals(entries: &[(&str, bool, Option<u64>, i64)]) -> BTreeMap<String, FinalRead> {
    entries.iter().map(|&(k, found, value, revision)| (k.to_string(), FinalRead { found, value, revision })).collect()
}

#[test]
fn lost_acknowledged_writes_are_caught() {
    let ack = |key: &str, value, outcome| op(0, key, Call::Set { value }, 0, 1, outcome);
    let h = history(vec![
        ack("nemesis-ack-0-1", 1, wrote(true, 0)),
        ack("nemesis-ack-0-2", 2, info()),
        ack("nemesis-ack-0-3", 3, Outcome::Fail("MustRetry: leader changed".into())),
    ]);
    let all_good = finals(&[
        ("nemesis-ack-0-1", true, Some(1), 0),
        ("nemesis-ack-0-2", false, None, -1),
        ("nemesis-ack-0-3", false, None, -1),
    ]);
    assert!(check_durability(&h, &all_good, "nemesis-ack-").violations.is_empty());
    let lost = finals(&[
        ("nemesis-ack-0-1", false, None, -1),
        ("nemesis-ack-0-2", true, Some(2), 0),
        ("nemesis-ack-0-3", true, Some(3), 0),
    ]);
    let v = check_durability(&h, &lost, "nemesis-ack-").violations;
    assert_eq!(v.len(), 2, "{v:?}");
    assert!(v[0].contains("acknowledged write of Some(1)") && v[0].contains("lost"), "{v:?}");
    assert!(v[1].contains("must not be applied"), "{v:?}");
}

#[test]
fn register_keys_keep_their_newest_acknowledged_write() {
    let h = history(vec![
        op(0, K, Call::Set { value: 1 }, 0, 1, wrote(true, 0)),
        op(0, K, Call::Set { value: 2 }, 2, 3, wrote(true, 1)),
        op(0, K, Call::Set { value: 3 }, 4, 5, info()),
    ]);
    let check = |f| check_durability(&h, &finals(&[f]), "nemesis-ack-").violations;
    assert!(check((K, true, Some(2), 1)).is_empty());
    assert!(check((K, true, Some(3), 2)).is_empty(), "the :info write took effect");
    assert!(check((K, true, Some(1), 0))[0].contains("acknowledged write lost"));
    assert!(check((K, true, Some(9), 1))[0].contains("does not show"));
    // A delete acknowledged at the newest revision must stay deleted.
    let h = history(vec![
        op(0, K, Call::Set { value: 1 }, 0, 1, wrote(true, 0)),
        op(0, K, Call::Delete, 2, 3, deleted(true, 0)),
    ]);
    assert!(check_durability(&h, &finals(&[(K, false, None, 0)]), "nemesis-ack-").violations.is_empty());
    let v = check_durability(&h, &finals(&[(K, true, Some(1), 0)]), "nemesis-ack-").violations;
    assert_eq!(v.len(), 1, "a resurrected key: {v:?}");
}

#[test]
fn histories_export_in_jepsen_shapes() {
    let mut h = history(vec![
        op(0, K, Call::CasValue { value: 2, expect: 1 }, 0, 1, wrote(false, -1)),
        op(1, K, Call::Set { value: 7 }, 2, 3, info()),
    ]);
    h.faults.push(super::faults::Event { at: 1_500_000, f: "kill".into(), detail: "node 1".into() });
    let lines: Vec<String> = super::jepsen::events(&h).iter().map(super::jepsen::to_edn).collect();
    assert_eq!(lines.len(), 5);
    assert_eq!(lines[0], format!("{{:index 0, :type :invoke, :process 0, :f :cas, :value [\"{K}\" [1 2]], :time 0}}"));
    assert!(lines[1].starts_with("{:index 1, :type :fail, :process 0, :f :cas,"), "{}", lines[1]);
    assert!(lines[1].contains(":revision -1"), "{}", lines[1]);
    assert!(
        lines[2].starts_with("{:index 2, :type :info, :process :nemesis, :f :kill, :value \"node 1\""),
        "{}",
        lines[2]
    );
    assert!(
        lines[4].contains(":type :info, :process 1, :f :write") && lines[4].contains(":error \"Timeout"),
        "{}",
        lines[4]
    );
}
