//! Per-key linearizability: a Wing-Gong-Lowe search against the register model of SEMANTICS.md.
//!
//! A history is linearizable when every operation can be given a single instant between its
//! invocation and its completion such that, taken in the order of those instants, the results
//! are those of a sequential register. Keys are independent in Kahuna's model, so the history
//! is split per key and each key is searched on its own (P-compositionality): the search is
//! exponential in the worst case, per-key histories stay small.
//!
//! The model ([`Register`]) is the contract, not the implementation: a key is absent with
//! revision -1 until its first write; every applied set gives revision + 1 (so the first write
//! is 0); delete keeps the revision and makes the key not live; a failed condition and a read
//! of a dead key report the current revision. Every result field is checked, revisions
//! included, which also pins the search: a write's revision says how many writes came before.
//!
//! ```text
//!   entries, by time:  call(a) call(b) ret(a) call(c) ret(b) ret(c) ...   (doubly linked list)
//!   walk from the head:
//!     call(x) and model.step(state, x) fits  -> linearize x: push (x, state), unlink x and
//!                                                ret(x), restart at the head (memoized on
//!                                                (linearized set, state), Lowe's cache)
//!     ret(x) reached, x not linearized       -> backtrack: pop, relink, try the next call
//!   stack empty at a ret                     -> not linearizable
//! ```
//!
//! `:fail` operations never happened and are left out; `:info` writes may have happened at any
//! instant after their invocation, or never: they have a call entry and no return entry, so
//! the search may linearize them anywhere after their call or leave them out, and their result
//! is whatever the model says. `:info` reads say nothing and are left out.
//!
//! When a key fails, the report shrinks it: a binary search finds the shortest prefix of the
//! key's history (by completion time; operations still running at the cut count as `:info`)
//! that already fails, and shows the longest linearization the search found for it, the state
//! it led to, and the operations that could not follow.

use std::collections::{BTreeMap, HashSet};

use super::history::{Call, History, Op, Outcome, Ret, Value};

/// The state of one key in the model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Register {
    /// True when the key is live (written and not deleted).
    pub live: bool,
    /// The live value (meaningless when not live).
    pub value: Value,
    /// The key's revision; -1 before the first write.
    pub revision: i64,
}

impl Register {
    /// A key that was never written.
    pub const ABSENT: Register = Register { live: false, value: 0, revision: -1 };

    /// Applies `call`; with `ret` checks the observed result, without (`:info`) accepts what
    /// the model would answer. `None` when the result does not fit this state.
    pub fn step(&self, call: &Call, ret: Option<&Ret>) -> Option<Register> {
        match call {
            Call::Get => match ret {
                None => Some(*self),
                Some(Ret::Read { found, value, revision }) => {
                    let fits = if self.live {
                        *found && *value == Some(self.value) && *revision == self.revision
                    } else {
                        !*found && *revision == self.revision
                    };
                    fits.then_some(*self)
                }
                Some(_) => None,
            },
            Call::Set { value } => self.write(true, *value, ret),
            Call::CasRevision { value, expect } => self.write(self.live && self.revision == *expect, *value, ret),
            Call::CasValue { value, expect } => self.write(self.live && self.value == *expect, *value, ret),
            Call::Delete => {
                let next = Register { live: false, ..*self };
                match ret {
                    None => Some(next),
                    Some(Ret::Delete { deleted, revision }) => {
                        (*deleted == self.live && *revision == self.revision).then_some(next)
                    }
                    Some(_) => None,
                }
            }
            Call::Lock { .. } | Call::Unlock { .. } => None,
        }
    }

    fn write(&self, applies: bool, value: Value, ret: Option<&Ret>) -> Option<Register> {
        let next = if applies { Register { live: true, value, revision: self.revision + 1 } } else { *self };
        match ret {
            None => Some(next),
            Some(Ret::Write { set, revision }) => (*set == applies && *revision == next.revision).then_some(next),
            Some(_) => None,
        }
    }
}

/// The answer of a search.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// A linearization exists.
    Linearizable,
    /// None exists; the deepest attempt.
    NotLinearizable(Counterexample),
    /// The search ran out of budget (states explored).
    GaveUp,
}

/// The deepest point the search reached on a history that is not linearizable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Counterexample {
    /// History indexes of the operations linearized, in linearization order.
    pub linearized: Vec<usize>,
    /// The model state after them.
    pub state: Register,
    /// The operation whose completion the search could not get past.
    pub stuck: usize,
}

/// Searches one key's operations (`:ok` and `:info`, any order) from `initial`.
pub fn search(ops: &[&Op], initial: Register, budget: usize) -> Verdict {
    // Entries: call of op i = 2i, return of op i = 2i + 1 (absent for :info).
    let mut entries: Vec<(u64, bool, usize)> = Vec::with_capacity(ops.len() * 2);
    for (i, op) in ops.iter().enumerate() {
        entries.push((op.invoke, true, i));
        if !op.outcome.is_info() {
            entries.push((op.complete.max(op.invoke), false, i));
        }
    }
    // Calls before returns at equal times: the more permissive reading.
    entries.sort_by_key(|&(t, is_call, i)| (t, !is_call, i));
    let n = entries.len();
    if n == 0 {
        return Verdict::Linearizable;
    }
    let head = n;
    let mut next: Vec<usize> = (0..=n).map(|e| if e + 1 < n { e + 1 } else { usize::MAX }).collect();
    let mut prev: Vec<usize> = (0..=n).map(|e| if e == 0 { head } else { e - 1 }).collect();
    next[head] = 0;
    let mut return_of = vec![usize::MAX; ops.len()];
    for (pos, &(_, is_call, i)) in entries.iter().enumerate() {
        if !is_call {
            return_of[i] = pos;
        }
    }
    let unlink = |next: &mut Vec<usize>, prev: &mut Vec<usize>, e: usize| {
        let (p, q) = (prev[e], next[e]);
        next[p] = q;
        if q != usize::MAX {
            prev[q] = p;
        }
    };
    let relink = |next: &mut Vec<usize>, prev: &mut Vec<usize>, e: usize| {
        let (p, q) = (prev[e], next[e]);
        next[p] = e;
        if q != usize::MAX {
            prev[q] = e;
        }
    };

    let mut remaining_ok = ops.iter().filter(|op| !op.outcome.is_info()).count();
    let mut bits = vec![0u64; ops.len().div_ceil(64)];
    let mut cache: HashSet<(Vec<u64>, Register)> = HashSet::new();
    let mut stack: Vec<(usize, Register)> = Vec::new();
    let mut state = initial;
    let mut entry = next[head];
    let mut deepest: Option<Counterexample> = None;
    let mut steps = 0usize;
    loop {
        if remaining_ok == 0 {
            return Verdict::Linearizable;
        }
        // The walk meets an :ok return before the end of the list while any is left.
        let (is_call, i) = entries.get(entry).map_or((false, usize::MAX), |&(_, c, i)| (c, i));
        if is_call {
            let op = ops[i];
            if let Some(after) = state.step(&op.call, op.outcome.ret()) {
                bits[i / 64] |= 1 << (i % 64);
                if cache.insert((bits.clone(), after)) {
                    steps += 1;
                    if steps > budget {
                        return Verdict::GaveUp;
                    }
                    stack.push((entry, state));
                    state = after;
                    if !op.outcome.is_info() {
                        remaining_ok -= 1;
                        unlink(&mut next, &mut prev, return_of[i]);
                    }
                    unlink(&mut next, &mut prev, entry);
                    entry = next[head];
                    continue;
                }
                bits[i / 64] &= !(1 << (i % 64));
            }
            entry = next[entry];
        } else {
            if deepest.as_ref().is_none_or(|d| stack.len() > d.linearized.len()) {
                deepest = Some(Counterexample {
                    linearized: stack.iter().map(|&(e, _)| ops[entries[e].2].index).collect(),
                    state,
                    stuck: ops.get(i).map_or(0, |op| op.index),
                });
            }
            let Some((call_entry, before)) = stack.pop() else {
                return Verdict::NotLinearizable(deepest.expect("recorded above"));
            };
            let j = entries[call_entry].2;
            bits[j / 64] &= !(1 << (j % 64));
            state = before;
            relink(&mut next, &mut prev, call_entry);
            if !ops[j].outcome.is_info() {
                remaining_ok += 1;
                relink(&mut next, &mut prev, return_of[j]);
            }
            entry = next[call_entry];
        }
    }
}

/// A key that failed, with the shrunk counterexample as text.
#[derive(Clone, Debug)]
pub struct KeyFailure {
    /// The key.
    pub key: String,
    /// The report: shortest failing prefix, linearization, state, what could not follow.
    pub report: String,
}

/// The result of checking a whole history.
#[derive(Clone, Debug, Default)]
pub struct Summary {
    /// Keys checked.
    pub keys: usize,
    /// Operations considered (`:ok` and `:info` writes).
    pub ops: usize,
    /// Keys that are not linearizable.
    pub failures: Vec<KeyFailure>,
    /// Keys the search gave up on.
    pub gave_up: Vec<String>,
}

/// Checks every key/value operation of `history`, key by key.
pub fn check(history: &History, budget: usize) -> Summary {
    let mut by_key: BTreeMap<&str, Vec<&Op>> = BTreeMap::new();
    for op in &history.ops {
        if relevant(op) {
            by_key.entry(op.key.as_str()).or_default().push(op);
        }
    }
    let mut summary = Summary { keys: by_key.len(), ..Summary::default() };
    for (key, ops) in by_key {
        summary.ops += ops.len();
        match search(&ops, Register::ABSENT, budget) {
            Verdict::Linearizable => {}
            Verdict::GaveUp => summary.gave_up.push(key.to_string()),
            Verdict::NotLinearizable(_) => {
                summary.failures.push(KeyFailure { key: key.to_string(), report: shrink(history, &ops, budget) })
            }
        }
    }
    summary
}

/// Operations the register check looks at: `:ok` ones and `:info` writes.
fn relevant(op: &Op) -> bool {
    if op.call.is_lock() {
        return false;
    }
    match op.outcome {
        Outcome::Ok(_) => true,
        Outcome::Info(_) => op.call.is_write(),
        Outcome::Fail(_) => false,
    }
}

/// The operations invoked by `cut`, those still running then turned into `:info` (reads dropped).
fn prefix(ops: &[&Op], cut: u64) -> Vec<Op> {
    ops.iter()
        .filter(|op| op.invoke <= cut)
        .filter_map(|op| {
            if op.complete <= cut || op.outcome.is_info() {
                Some((*op).clone())
            } else if op.call.is_write() {
                Some(Op { outcome: Outcome::Info("running at the cut".into()), ..(*op).clone() })
            } else {
                None
            }
        })
        .collect()
}

/// Finds the shortest failing prefix of a failing key and describes it.
fn shrink(history: &History, ops: &[&Op], budget: usize) -> String {
    let mut cuts: Vec<u64> = ops.iter().filter(|op| !op.outcome.is_info()).map(|op| op.complete).collect();
    cuts.sort_unstable();
    cuts.dedup();
    let fails = |cut: u64| -> Option<Counterexample> {
        let owned = prefix(ops, cut);
        let refs: Vec<&Op> = owned.iter().collect();
        match search(&refs, Register::ABSENT, budget) {
            Verdict::NotLinearizable(c) => Some(c),
            _ => None,
        }
    };
    // The whole history fails; find the first cut that does (failing is monotone in the cut).
    let (mut lo, mut hi) = (0usize, cuts.len().saturating_sub(1));
    while lo < hi {
        let mid = (lo + hi) / 2;
        if fails(cuts[mid]).is_some() { hi = mid } else { lo = mid + 1 }
    }
    let cut = cuts.get(lo).copied().unwrap_or(u64::MAX);
    let Some(example) = fails(cut).or_else(|| fails(u64::MAX)) else {
        return "not linearizable (no shorter failing prefix found)".into();
    };
    let by_index: BTreeMap<usize, &Op> = history.ops.iter().map(|op| (op.index, op)).collect();
    let show = |i: &usize| by_index.get(i).map(|op| format!("    {}\n", History::describe(op))).unwrap_or_default();
    let mut text = format!(
        "shortest failing prefix ends at {:.3}s ({} of {} operations of the key)\n",
        cut as f64 / 1e9,
        ops.iter().filter(|op| op.invoke <= cut).count(),
        ops.len()
    );
    let shown = example.linearized.len().saturating_sub(8);
    text.push_str(&format!(
        "  longest linearization found: {} operations; the last {}:\n",
        example.linearized.len(),
        example.linearized.len() - shown
    ));
    example.linearized[shown..].iter().for_each(|i| text.push_str(&show(i)));
    text.push_str(&format!("  model state after it: {:?}\n", example.state));
    text.push_str(&format!("  no operation fits next; the search was stuck at #{}:\n", example.stuck));
    text.push_str(&show(&example.stuck));
    text.push_str("  operations of the window that could not be linearized:\n");
    let done: HashSet<usize> = example.linearized.iter().copied().collect();
    let window: Vec<&&Op> = ops.iter().filter(|op| op.invoke <= cut && !done.contains(&op.index)).take(30).collect();
    window.iter().for_each(|op| text.push_str(&show(&op.index)));
    text
}
