//! The two checkers besides linearizability: lock safety and acknowledged-write durability.
//!
//! **Lock safety.** Every `try_lock` that answered `locked` gives its holder a *window* during
//! which it may act as the only holder:
//!
//! ```text
//!   request sent ─────────── answer received ════════ window ════════ min(sent + lease, unlock sent)
//! ```
//!
//! The window starts when the client learns it holds the lock and ends when it must assume it
//! does not any more: its lease, counted from the moment it *sent* the request (the server's
//! lease starts later, at commit), or the moment it sent its unlock, whichever is first. The
//! workload uses a fresh owner for every attempt, so every grant is a grant to a new holder.
//! Two rules must hold per resource:
//!
//! 1. no two windows overlap (mutual exclusion, as far as any client could tell);
//! 2. fencing tokens strictly increase from window to window, and no two grants share a token.
//!    (For non-empty windows that do not overlap, window order is grant order: see
//!    docs/reliability.md for the argument.) A grant whose answer came after its lease was
//!    over has an empty window: it never held anything safely and only rule 2's uniqueness
//!    applies to it.
//!
//! **Acknowledged writes.** After the run the cluster is healed and every node restarted, and
//! every key is read again. Each key of the `ack` workload was written once with a unique
//! value: an `:ok` write must be there with its value, a `:fail` write must not be there, an
//! `:info` write may be either. For the register keys the final read must not be older than
//! the newest acknowledged write: its revision is at least the highest revision an `:ok` write
//! returned, and at that revision it shows that write's value (or no value when a delete of
//! that revision may have followed).

use std::collections::BTreeMap;

use super::history::{Call, History, Op, Outcome, Ret, Value};

/// One grant seen by a client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grant {
    /// The `try_lock` operation.
    pub op: usize,
    /// The resource.
    pub resource: String,
    /// The owner.
    pub owner: String,
    /// The fencing token.
    pub token: i64,
    /// Window start: answer received (ns).
    pub start: u64,
    /// Window end: min(request sent + lease, unlock sent) (ns).
    pub end: u64,
}

/// What the lock checker found.
#[derive(Clone, Debug, Default)]
pub struct LockSummary {
    /// Grants observed.
    pub grants: usize,
    /// Violations, described.
    pub violations: Vec<String>,
}

/// The grants of `history`, per resource, ordered by window start.
pub fn grants(history: &History) -> BTreeMap<String, Vec<Grant>> {
    let mut unlocks: BTreeMap<(&str, &str), u64> = BTreeMap::new();
    for op in &history.ops {
        if let Call::Unlock { owner } = &op.call {
            let at = unlocks.entry((op.key.as_str(), owner.as_str())).or_insert(op.invoke);
            *at = (*at).min(op.invoke);
        }
    }
    let mut out: BTreeMap<String, Vec<Grant>> = BTreeMap::new();
    for op in &history.ops {
        let (Call::Lock { owner, lease_ms }, Outcome::Ok(Ret::Lock { locked: true, token })) = (&op.call, &op.outcome)
        else {
            continue;
        };
        let lease_end = op.invoke + (*lease_ms as u64) * 1_000_000;
        let unlock = unlocks.get(&(op.key.as_str(), owner.as_str())).copied().unwrap_or(u64::MAX);
        let grant = Grant {
            op: op.index,
            resource: op.key.clone(),
            owner: owner.clone(),
            token: *token,
            start: op.complete,
            end: lease_end.min(unlock),
        };
        out.entry(op.key.clone()).or_default().push(grant);
    }
    for list in out.values_mut() {
        list.sort_by_key(|g| (g.start, g.end));
    }
    out
}

/// Checks mutual exclusion and fencing tokens (see the module docs).
pub fn check_locks(history: &History) -> LockSummary {
    let mut summary = LockSummary::default();
    let ms = |t: u64| t as f64 / 1e9;
    for (resource, list) in grants(history) {
        summary.grants += list.len();
        let mut by_token: BTreeMap<i64, &Grant> = BTreeMap::new();
        for g in &list {
            if let Some(other) = by_token.insert(g.token, g)
                && other.owner != g.owner
            {
                summary.violations.push(format!(
                    "{resource}: token {} granted twice, to {} (op #{}) and to {} (op #{})",
                    g.token, other.owner, other.op, g.owner, g.op
                ));
            }
        }
        let held: Vec<&Grant> = list.iter().filter(|g| g.start < g.end).collect();
        for pair in held.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            if b.token <= a.token {
                summary.violations.push(format!(
                    "{resource}: fencing token went from {} ({}, op #{}, window {:.3}s..{:.3}s) to {} ({}, op #{}, \
                     window {:.3}s..{:.3}s)",
                    a.token,
                    a.owner,
                    a.op,
                    ms(a.start),
                    ms(a.end),
                    b.token,
                    b.owner,
                    b.op,
                    ms(b.start),
                    ms(b.end)
                ));
            }
        }
        // Overlap: each window against the one with the latest end among those before it.
        let mut latest: Option<&Grant> = None;
        for g in &held {
            if let Some(l) = latest
                && g.start < l.end
            {
                summary.violations.push(format!(
                    "{resource}: two holders at once: {} (op #{}, token {}, window {:.3}s..{:.3}s) and {} (op #{}, \
                     token {}, window {:.3}s..{:.3}s), overlapping {:.3} ms",
                    l.owner,
                    l.op,
                    l.token,
                    ms(l.start),
                    ms(l.end),
                    g.owner,
                    g.op,
                    g.token,
                    ms(g.start),
                    ms(g.end),
                    (l.end.min(g.end) - g.start) as f64 / 1e6
                ));
            }
            if latest.is_none_or(|l| g.end > l.end) {
                latest = Some(g);
            }
        }
    }
    summary
}

/// A key's state as read at the end of the run, after healing and restarting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FinalRead {
    /// True when the key was live.
    pub found: bool,
    /// Its value, when found.
    pub value: Option<Value>,
    /// Its revision.
    pub revision: i64,
}

/// What the durability checker found.
#[derive(Clone, Debug, Default)]
pub struct DurabilitySummary {
    /// Acknowledged writes checked.
    pub acknowledged: usize,
    /// Keys checked.
    pub keys: usize,
    /// Lost or resurrected writes, described.
    pub violations: Vec<String>,
}

/// Checks the final reads against every write of `history` (see the module docs). `ack_prefix`
/// names the keys written once each.
pub fn check_durability(
    history: &History,
    finals: &BTreeMap<String, FinalRead>,
    ack_prefix: &str,
) -> DurabilitySummary {
    let mut summary = DurabilitySummary::default();
    let mut by_key: BTreeMap<&str, Vec<&Op>> = BTreeMap::new();
    for op in history.ops.iter().filter(|op| op.call.is_write()) {
        by_key.entry(op.key.as_str()).or_default().push(op);
    }
    for (key, writes) in by_key {
        summary.keys += 1;
        let Some(last) = finals.get(key) else {
            summary.violations.push(format!("{key}: no final read"));
            continue;
        };
        if key.starts_with(ack_prefix) {
            check_once_written(key, &writes, last, &mut summary);
        } else {
            check_register(key, &writes, last, &mut summary);
        }
    }
    summary
}

fn check_once_written(key: &str, writes: &[&Op], last: &FinalRead, summary: &mut DurabilitySummary) {
    for op in writes {
        let value = op.call.written();
        match &op.outcome {
            Outcome::Ok(Ret::Write { set: true, .. }) => {
                summary.acknowledged += 1;
                if !last.found || last.value != value {
                    summary.violations.push(format!(
                        "{key}: acknowledged write of {value:?} (op #{}) lost: final read {last:?}",
                        op.index
                    ));
                }
            }
            Outcome::Fail(why) if last.found && last.value == value => summary.violations.push(format!(
                "{key}: write of {value:?} (op #{}) failed with '{why}' (must not be applied) but is there",
                op.index
            )),
            _ => {}
        }
    }
}

fn check_register(key: &str, writes: &[&Op], last: &FinalRead, summary: &mut DurabilitySummary) {
    let mut newest: Option<(i64, &Op)> = None;
    for op in writes {
        let revision = match &op.outcome {
            Outcome::Ok(Ret::Write { set: true, revision }) | Outcome::Ok(Ret::Delete { deleted: true, revision }) => {
                *revision
            }
            _ => continue,
        };
        summary.acknowledged += 1;
        // At equal revisions a delete comes after the set that made the revision.
        let later = |o: &Op| matches!(o.call, Call::Delete);
        if newest.is_none_or(|(r, o)| revision > r || (revision == r && later(op) && !later(o))) {
            newest = Some((revision, op));
        }
    }
    let Some((revision, op)) = newest else {
        return;
    };
    if last.revision < revision {
        summary.violations.push(format!(
            "{key}: acknowledged write lost: op #{} returned revision {revision}, the final read is {last:?}",
            op.index
        ));
        return;
    }
    if last.revision > revision {
        return; // an :info write took effect later
    }
    // Same revision: the set of that revision, or a delete of it, whose outcome may be unknown.
    let deleted_at_revision = writes.iter().any(|o| {
        matches!(o.call, Call::Delete)
            && match &o.outcome {
                Outcome::Ok(Ret::Delete { deleted, revision: r }) => *deleted && *r == revision,
                Outcome::Info(_) => true,
                _ => false,
            }
    });
    let fits = match (&op.call, last.found) {
        (Call::Delete, found) => !found,
        (_, true) => last.value == op.call.written(),
        (_, false) => deleted_at_revision,
    };
    if !fits {
        summary.violations.push(format!(
            "{key}: at revision {revision} the final read {last:?} does not show the acknowledged write op #{} \
             ({:?})",
            op.index, op.call
        ));
    }
}
