//! Histories in Jepsen's shapes, for external checkers (Knossos, Elle, Porcupine, jepsen.history).
//!
//! Every operation becomes two events, an invocation and a completion, and every nemesis action
//! one `:info` event of process `:nemesis`, ordered by time and numbered by `:index`:
//!
//! ```text
//!   {:index 0, :type :invoke, :process 3, :f :write, :value ["nemesis-r0-1" 4398046511105], :time 1200345}
//!   {:index 1, :type :ok,     :process 3, :f :write, :value ["nemesis-r0-1" 4398046511105], :time 5230871, :revision 0}
//!   {:index 2, :type :info,   :process :nemesis, :f :kill, :value "node 1 (leader of partition 2)", :time 6000000}
//! ```
//!
//! Values follow Jepsen's `independent` convention, `[key value]` tuples, with the
//! `cas-register` shapes where they exist: `:read` (value or nil), `:write v`, `:cas [old new]`
//! (a compare-and-set whose condition did not hold is `:fail`, as Knossos expects). Kahuna's
//! own operations add `:cas-revision [expected-revision new]`, `:delete`, and for locks
//! `:acquire` / `:release` `[resource owner]`; completions carry `:revision`, `:found`,
//! `:deleted`, `:token` and `:error` fields beside the value. `:time` is in nanoseconds since
//! the start of the run, on one monotonic clock.
//!
//! `history.edn` has one EDN map per line; `history.jsonl` the same events as JSON objects
//! (keywords become strings).

use std::fmt::Write as _;
use std::io::Write;
use std::path::Path;

use serde_json::{Value as Json, json};

use super::history::{Call, History, Op, Outcome, Ret};

/// The events of `history`, in order.
pub fn events(history: &History) -> Vec<Json> {
    let mut timed: Vec<(u64, u8, Json)> = Vec::with_capacity(history.ops.len() * 2 + history.faults.len());
    for op in &history.ops {
        timed.push((op.invoke, 0, invocation(op)));
        timed.push((op.complete.max(op.invoke), 1, completion(op)));
    }
    for e in &history.faults {
        timed.push((e.at, 0, json!({"type": "info", "process": "nemesis", "f": e.f, "value": e.detail, "time": e.at})));
    }
    timed.sort_by_key(|(t, order, _)| (*t, *order));
    timed
        .into_iter()
        .enumerate()
        .map(|(i, (_, _, mut e))| {
            e["index"] = json!(i);
            e
        })
        .collect()
}

fn f(call: &Call) -> &'static str {
    match call {
        Call::Get => "read",
        Call::Set { .. } => "write",
        Call::CasValue { .. } => "cas",
        Call::CasRevision { .. } => "cas-revision",
        Call::Delete => "delete",
        Call::Lock { .. } => "acquire",
        Call::Unlock { .. } => "release",
    }
}

fn argument(op: &Op) -> Json {
    match &op.call {
        Call::Get | Call::Delete => Json::Null,
        Call::Set { value } => json!(value),
        Call::CasValue { value, expect } => json!([expect, value]),
        Call::CasRevision { value, expect } => json!([expect, value]),
        Call::Lock { owner, .. } | Call::Unlock { owner } => json!(owner),
    }
}

fn invocation(op: &Op) -> Json {
    let mut e = json!({
        "type": "invoke", "process": op.process, "f": f(&op.call),
        "value": [op.key, argument(op)], "time": op.invoke,
    });
    if let Call::Lock { lease_ms, .. } = op.call {
        e["lease-ms"] = json!(lease_ms);
    }
    e
}

fn completion(op: &Op) -> Json {
    let mut e = json!({
        "type": op.outcome.kind(), "process": op.process, "f": f(&op.call),
        "value": [op.key, argument(op)], "time": op.complete,
    });
    match &op.outcome {
        Outcome::Fail(why) | Outcome::Info(why) => e["error"] = json!(why),
        Outcome::Ok(ret) => match ret {
            Ret::Read { found, value, revision } => {
                e["value"] = json!([op.key, value]);
                e["found"] = json!(found);
                e["revision"] = json!(revision);
            }
            Ret::Write { set, revision } => {
                e["revision"] = json!(revision);
                if !set {
                    e["type"] = json!("fail");
                    e["error"] = json!("condition not met");
                }
            }
            Ret::Delete { deleted, revision } => {
                e["deleted"] = json!(deleted);
                e["revision"] = json!(revision);
            }
            Ret::Lock { locked, token } => {
                e["token"] = json!(token);
                if !locked {
                    e["type"] = json!("fail");
                    e["error"] = json!("held by another owner");
                }
            }
            Ret::Unlock { released, code } => {
                if !released {
                    e["type"] = json!("fail");
                    e["error"] = json!(code.map(|c| c.name()).unwrap_or("not released"));
                }
            }
        },
    }
    e
}

/// Writes `history.edn` and `history.jsonl` into `dir`.
pub fn write(history: &History, dir: &Path) -> std::io::Result<()> {
    let mut edn = std::io::BufWriter::new(std::fs::File::create(dir.join("history.edn"))?);
    let mut jsonl = std::io::BufWriter::new(std::fs::File::create(dir.join("history.jsonl"))?);
    for e in events(history) {
        writeln!(jsonl, "{e}")?;
        writeln!(edn, "{}", to_edn(&e))?;
    }
    edn.flush()?;
    jsonl.flush()
}

/// An event as EDN: map keys become keywords, and so do the values of `:type`, `:f` and a
/// `:process` that is not a number.
pub fn to_edn(event: &Json) -> String {
    let mut out = String::new();
    edn(event, &mut out, None);
    out
}

fn edn(v: &Json, out: &mut String, key: Option<&str>) {
    match v {
        Json::Null => out.push_str("nil"),
        Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Json::Number(n) => out.push_str(&n.to_string()),
        Json::String(s) if matches!(key, Some("type" | "f" | "process")) => {
            let _ = write!(out, ":{s}");
        }
        Json::String(s) => {
            out.push('"');
            for c in s.chars() {
                match c {
                    '"' => out.push_str("\\\""),
                    '\\' => out.push_str("\\\\"),
                    '\n' => out.push_str("\\n"),
                    '\t' => out.push_str("\\t"),
                    '\r' => out.push_str("\\r"),
                    c => out.push(c),
                }
            }
            out.push('"');
        }
        Json::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                edn(item, out, None);
            }
            out.push(']');
        }
        Json::Object(map) => {
            out.push('{');
            // :index, :type, :process, :f, :value first, as Jepsen prints them.
            let order = ["index", "type", "process", "f", "value"];
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort_by_key(|k| (order.iter().position(|o| o == k).unwrap_or(order.len()), k.to_string()));
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                let _ = write!(out, ":{k} ");
                edn(&map[k], out, Some(k));
            }
            out.push('}');
        }
    }
}
