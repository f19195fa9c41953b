//! The history: every operation a client invoked, when, and what came back.
//!
//! Each client thread owns a [`Recorder`] and appends one [`Op`] per call: the call, the key
//! (or lock resource), the invocation and completion instants (nanoseconds since the run
//! started, from one monotonic clock shared by all threads) and the [`Outcome`]. The recorders
//! are merged into a [`History`] at the end of the run, ordered by invocation.
//!
//! Outcomes follow Jepsen's three completion types:
//!
//! ```text
//!   answer                                         outcome     meaning for the checkers
//!   Ok(result)                                     :ok         happened, with this result
//!   MustRetry | Unavailable | InvalidInput         :fail       definitely did not happen
//!   Timeout | connection lost | anything else      :info       may have happened, at any time
//!                                                              after its invocation (or never)
//! ```
//!
//! As in Jepsen, a process that got an `:info` answer is considered crashed: the thread goes
//! on under a new process number (`process + clients`), so that no process ever has two
//! operations in flight from an external checker's point of view.
//!
//! Values are unique `u64`s written as decimal text, so every read names the write it saw.

use std::time::Instant;

use kahuna_client::{Code, Error};

/// A value written by the register workload (unique across the run).
pub type Value = u64;

/// What a client asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Call {
    /// `try_get`.
    Get,
    /// `try_set` without conditions.
    Set {
        /// The value written.
        value: Value,
    },
    /// `try_compare_revision_and_set`.
    CasRevision {
        /// The value written.
        value: Value,
        /// The revision the key must have.
        expect: i64,
    },
    /// `try_compare_value_and_set`.
    CasValue {
        /// The value written.
        value: Value,
        /// The value the key must hold.
        expect: Value,
    },
    /// `try_delete`.
    Delete,
    /// `try_lock` (Persistent).
    Lock {
        /// The owner, fresh for every attempt.
        owner: String,
        /// The lease asked for.
        lease_ms: i64,
    },
    /// `unlock`.
    Unlock {
        /// The owner releasing.
        owner: String,
    },
}

impl Call {
    /// True for calls that change the key/value state.
    pub fn is_write(&self) -> bool {
        matches!(self, Call::Set { .. } | Call::CasRevision { .. } | Call::CasValue { .. } | Call::Delete)
    }

    /// True for the lock workload's calls.
    pub fn is_lock(&self) -> bool {
        matches!(self, Call::Lock { .. } | Call::Unlock { .. })
    }

    /// The value a write stores, if it stores one.
    pub fn written(&self) -> Option<Value> {
        match self {
            Call::Set { value } | Call::CasRevision { value, .. } | Call::CasValue { value, .. } => Some(*value),
            _ => None,
        }
    }
}

/// What came back from a call that completed normally.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ret {
    /// A read: found, the value (when found) and the revision.
    Read {
        /// True when the key was live.
        found: bool,
        /// The value, when found (`u64::MAX` if it was not one of ours).
        value: Option<Value>,
        /// The revision (current one, or -1, when not found).
        revision: i64,
    },
    /// A set or compare-and-set.
    Write {
        /// True when written.
        set: bool,
        /// The new revision, or the current one when not written.
        revision: i64,
    },
    /// A delete.
    Delete {
        /// True when a live key was deleted.
        deleted: bool,
        /// The revision the key had.
        revision: i64,
    },
    /// A lock attempt.
    Lock {
        /// True when granted.
        locked: bool,
        /// The fencing token of the grant.
        token: i64,
    },
    /// An unlock: released, or the lock error code the server answered with.
    Unlock {
        /// True when released.
        released: bool,
        /// `LockDoesNotExist` / `InvalidOwner` when not released.
        code: Option<Code>,
    },
}

/// How a call ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// It happened, with this result.
    Ok(Ret),
    /// It definitely did not happen (the message says why).
    Fail(String),
    /// It may or may not have happened (the message says why).
    Info(String),
}

impl Outcome {
    /// The result of an `:ok` call.
    pub fn ret(&self) -> Option<&Ret> {
        match self {
            Outcome::Ok(r) => Some(r),
            _ => None,
        }
    }

    /// True for `:info`.
    pub fn is_info(&self) -> bool {
        matches!(self, Outcome::Info(_))
    }

    /// Jepsen's completion type: `ok`, `fail` or `info`.
    pub fn kind(&self) -> &'static str {
        match self {
            Outcome::Ok(_) => "ok",
            Outcome::Fail(_) => "fail",
            Outcome::Info(_) => "info",
        }
    }

    /// Classifies a client error (see the module docs).
    pub fn from_error(e: &Error) -> Outcome {
        match e.code {
            Code::MustRetry | Code::Unavailable | Code::InvalidInput => Outcome::Fail(e.to_string()),
            _ => Outcome::Info(e.to_string()),
        }
    }
}

/// One operation: invocation and completion.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Op {
    /// Position in the merged history (by invocation).
    pub index: usize,
    /// The Jepsen process that ran it.
    pub process: u64,
    /// The key or lock resource.
    pub key: String,
    /// What was asked.
    pub call: Call,
    /// Invocation, ns since the run started.
    pub invoke: u64,
    /// Completion, ns since the run started.
    pub complete: u64,
    /// What came back.
    pub outcome: Outcome,
}

/// The operations of one client thread.
pub struct Recorder {
    start: Instant,
    process: u64,
    clients: u64,
    ops: Vec<Op>,
}

impl Recorder {
    /// A recorder for client `process` of `clients`, timing from `start`.
    pub fn new(start: Instant, process: u64, clients: u64) -> Recorder {
        Recorder { start, process, clients: clients.max(1), ops: Vec::new() }
    }

    /// Nanoseconds since the run started.
    pub fn now(&self) -> u64 {
        self.start.elapsed().as_nanos() as u64
    }

    /// Runs `f` as one operation on `key`, records it and returns its outcome.
    pub fn run<T>(
        &mut self,
        key: &str,
        call: Call,
        f: impl FnOnce() -> Result<T, Error>,
        ret: impl FnOnce(T) -> Ret,
    ) -> Outcome {
        let invoke = self.now();
        let answer = f();
        let complete = self.now();
        let outcome = match answer {
            Ok(v) => Outcome::Ok(ret(v)),
            Err(e) => Outcome::from_error(&e),
        };
        self.push(Op { index: 0, process: self.process, key: key.to_string(), call, invoke, complete, outcome });
        self.ops.last().map(|op| op.outcome.clone()).expect("just pushed")
    }

    /// Records an operation timed by the caller.
    pub fn push(&mut self, op: Op) {
        let crashed = op.outcome.is_info();
        self.ops.push(op);
        if crashed {
            self.process += self.clients;
        }
    }

    /// The operations recorded so far.
    pub fn into_ops(self) -> Vec<Op> {
        self.ops
    }
}

/// A value as the register workload writes it.
pub fn encode(value: Value) -> Vec<u8> {
    value.to_string().into_bytes()
}

/// A value read back; `u64::MAX` when it is not one the workload could have written.
pub fn decode(bytes: &[u8]) -> Value {
    std::str::from_utf8(bytes).ok().and_then(|s| s.parse().ok()).filter(|v| *v != u64::MAX).unwrap_or(u64::MAX)
}

/// All operations of a run, ordered by invocation, plus the nemesis' own log.
#[derive(Clone, Debug, Default)]
pub struct History {
    /// The client operations.
    pub ops: Vec<Op>,
    /// What the nemesis did, in order.
    pub faults: Vec<super::faults::Event>,
}

impl History {
    /// Merges per-thread operations, ordering by invocation and numbering them.
    pub fn merge(parts: Vec<Vec<Op>>, faults: Vec<super::faults::Event>) -> History {
        let mut ops: Vec<Op> = parts.into_iter().flatten().collect();
        ops.sort_by_key(|op| (op.invoke, op.process));
        for (i, op) in ops.iter_mut().enumerate() {
            op.index = i;
        }
        History { ops, faults }
    }

    /// A one-line description of an operation, for reports.
    pub fn describe(op: &Op) -> String {
        let call = match &op.call {
            Call::Get => "get".to_string(),
            Call::Set { value } => format!("set {value}"),
            Call::CasRevision { value, expect } => format!("cas-revision {expect} -> {value}"),
            Call::CasValue { value, expect } => format!("cas-value {expect} -> {value}"),
            Call::Delete => "delete".to_string(),
            Call::Lock { owner, lease_ms } => format!("lock {owner} lease {lease_ms}ms"),
            Call::Unlock { owner } => format!("unlock {owner}"),
        };
        let outcome = match &op.outcome {
            Outcome::Ok(ret) => format!("ok {ret:?}"),
            Outcome::Fail(why) => format!("fail ({})", cut(why)),
            Outcome::Info(why) => format!("info ({})", cut(why)),
        };
        format!(
            "#{:<6} p{:<3} [{:>10.3}s .. {:>10.3}s] {:<16} {call:<28} {outcome}",
            op.index,
            op.process,
            op.invoke as f64 / 1e9,
            op.complete as f64 / 1e9,
            op.key
        )
    }
}

fn cut(s: &str) -> &str {
    match s.char_indices().nth(100) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}
