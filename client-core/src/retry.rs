//! The retry loop: one operation, many attempts, one deadline.
//!
//! Every public operation runs [`execute`] on the I/O thread with a deadline of
//! `ClientOptions::timeout` from the moment it was called. Each attempt picks a node (the
//! partition's leader when known), sends the call over that node's connection, and the outcome
//! decides what happens next:
//!
//! | outcome of the attempt                               | read                | write              |
//! |------------------------------------------------------|---------------------|--------------------|
//! | `Ok`                                                 | return it           | return it          |
//! | `MustRetry` (no leader, stale route, leader change)  | refresh, back off   | refresh, back off  |
//! | `Unavailable` (no quorum in time)                    | back off            | back off           |
//! | any other status (`InvalidInput`, `Internal`, ...)   | return it           | return it          |
//! | no connection / handshake failed (nothing was sent)  | next node, back off | next node, back off|
//! | connection broke with the request in flight          | reconnect, back off | `Timeout`: outcome unknown |
//! | a read's node did not answer in `read_attempt_timeout` | next node at once | (writes wait)      |
//! | other Cap'n Proto exception, malformed reply         | `Internal`          | `Internal`         |
//! | deadline passed with an attempt in flight            | `Timeout`           | `Timeout`: outcome unknown |
//! | deadline passed between attempts (all definite)      | `Unavailable`       | `Unavailable`: not applied |
//!
//! A write whose connection broke after it was sent may or may not have been applied, so it is
//! never sent again: replaying a non-idempotent write (an increment of the revision, a
//! compare-and-set that already succeeded) would be wrong. The caller gets `Timeout` (the code
//! for "outcome unknown") with a message that says so, and decides. Statuses are different: a
//! server answers `MustRetry` and `Unavailable` only for requests it did not apply, so retrying
//! those is safe for writes too; and when the deadline passes while every attempt so far was
//! definitely not applied (refused connections, those statuses), the caller gets `Unavailable`
//! rather than `Timeout`, so it knows nothing happened.
//!
//! Backoff is exponential with jitter ([`backoff`]): the first pause is 10-20 ms, doubling up
//! to 250-500 ms, never past the deadline. The header's `timeoutMs` tells the server how much
//! of the deadline is left, so it stops working on an attempt the client gave up on.

use std::rc::Rc;
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use kahuna_schema::Code;
use tokio::time::Instant;

use crate::error::{Error, Failure};
use crate::ops::{Call, Route};
use crate::router::Router;

/// Smallest pause between two attempts (before jitter).
pub(crate) const MIN_BACKOFF: Duration = Duration::from_millis(10);
/// Largest pause between two attempts (before jitter; jitter adds up to as much again).
pub(crate) const MAX_BACKOFF: Duration = Duration::from_millis(250);

/// The pauses between attempts: 10 ms doubling to 250 ms, each plus up to 100 % jitter.
pub(crate) fn backoff() -> impl Iterator<Item = Duration> {
    ExponentialBuilder::new()
        .with_min_delay(MIN_BACKOFF)
        .with_max_delay(MAX_BACKOFF)
        .with_factor(2.0)
        .with_jitter()
        .without_max_times()
        .build()
}

/// Runs `call` until it succeeds, fails for good, or `deadline` passes.
pub(crate) async fn execute<C: Call>(router: &Rc<Router>, call: &C, deadline: Instant) -> Result<C::Output, Error> {
    let mut delays = backoff();
    let mut avoid: Option<String> = None;
    let mut last: Option<Failure> = None;
    // True once an attempt went unanswered (a read whose node was silent or whose connection
    // broke): the deadline then gives `Timeout`, as only refusals make "not applied" certain.
    let mut unanswered = false;
    loop {
        let now = Instant::now();
        if now >= deadline {
            return Err(gave_up(router, call, last.as_ref(), unanswered));
        }
        let partition = router.partition(call.route());
        let address = router.pick(partition, avoid.as_deref());

        let conn = match tokio::time::timeout_at(deadline, router.connection(&address)).await {
            Err(_) => return Err(gave_up(router, call, last.as_ref(), unanswered)),
            Ok(Err(f)) => Err(f),
            Ok(Ok(conn)) => if call.is_write() { conn.begin_write() } else { conn.begin() }.map(|guard| (conn, guard)),
        };
        let (conn, guard) = match conn {
            Ok(c) => c,
            Err(f) => {
                router.node_failed(&address);
                avoid = Some(address);
                last = Some(f);
                pause(&mut delays, deadline).await;
                continue;
            }
        };

        let remaining = deadline - now;
        let attempt_deadline =
            if call.is_write() { deadline } else { deadline.min(now + router.options.read_attempt_timeout) };
        let header = router.header(partition, attempt_deadline - now);
        let answer = tokio::time::timeout_at(attempt_deadline, call.send(guard.kahuna(), &header)).await;
        drop(guard);
        let failure = match answer {
            Err(_) if attempt_deadline < deadline => {
                // A read that a node sits on (paused, partitioned): try another node now.
                router.node_failed(&address);
                unanswered = true;
                last = Some(Failure::InFlight(format!(
                    "{address} did not answer within {:?}",
                    router.options.read_attempt_timeout
                )));
                avoid = Some(address);
                continue;
            }
            Err(_) => return Err(timed_out(router, call, last.as_ref(), call.is_write())),
            Ok(Ok((reply, output))) => {
                router.observe(&address, &reply, partition);
                match (reply.status, output) {
                    (Code::Ok, Some(output)) => return Ok(output),
                    (Code::Ok, None) => {
                        return Err(Error::new(
                            Code::Internal,
                            format!("{} on {address}: the reply has no result", call.name()),
                        ));
                    }
                    (code, _) => Failure::Status { code, message: reply.message },
                }
            }
            Ok(Err(f)) => {
                router.maybe_evict(&conn, &f);
                f
            }
        };

        match &failure {
            Failure::Status { .. } if failure.is_retriable_status() => avoid = None,
            Failure::Status { .. } | Failure::Protocol(_) => return Err(failure.into_error()),
            Failure::NotSent(_) => {
                router.node_failed(&address);
                avoid = Some(address);
            }
            Failure::InFlight(why) => {
                unanswered = true;
                // Only the connection is known to be bad: the next attempt reconnects (to the
                // same leader if it is still the best choice); a dead node then fails fast
                // with a refused connection and becomes suspect.
                router.request_refresh();
                avoid = None;
                if call.is_write() {
                    return Err(Error::new(
                        Code::Timeout,
                        format!(
                            "{}: the connection to {address} broke while the write was in \
                             flight ({why}); its outcome is unknown",
                            describe(call)
                        ),
                    ));
                }
            }
        }
        tracing::debug!(call = call.name(), error = %failure, ?remaining, "retrying");
        last = Some(failure);
        pause(&mut delays, deadline).await;
    }
}

/// Sleeps for the next backoff delay, but never past the deadline.
async fn pause(delays: &mut impl Iterator<Item = Duration>, deadline: Instant) {
    let delay = delays.next().unwrap_or(MAX_BACKOFF * 2);
    tokio::time::sleep_until(deadline.min(Instant::now() + delay)).await;
}

/// The error for a deadline that passed between attempts. If every attempt so far was refused
/// (statuses that promise nothing was applied, connections that could not be made), the call
/// fails with `Unavailable`: certainly not applied. If some attempt went unanswered (only reads
/// get here after that), it is a plain `Timeout`.
fn gave_up<C: Call>(router: &Router, call: &C, last: Option<&Failure>, unanswered: bool) -> Error {
    if unanswered {
        return timed_out(router, call, last, false);
    }
    let mut message =
        format!("{} could not be done within {:?}; it was not applied", describe(call), router.options.timeout);
    match last {
        Some(f) => message.push_str(&format!("; last failure: {f}")),
        None => message.push_str("; no attempt could be started"),
    }
    Error::new(Code::Unavailable, message)
}

/// The `Timeout` error, with the last failure seen and whether a write's outcome is unknown.
fn timed_out<C: Call>(router: &Router, call: &C, last: Option<&Failure>, unknown: bool) -> Error {
    let mut message = format!("{} did not complete within {:?}", describe(call), router.options.timeout);
    if let Some(f) = last {
        message.push_str(&format!("; last failure: {f}"));
    }
    if unknown {
        message.push_str("; the write was in flight, its outcome is unknown");
    }
    Error::new(Code::Timeout, message)
}

/// The call and its key or bucket, for messages (long keys are cut).
fn describe<C: Call>(call: &C) -> String {
    let subject = match call.route() {
        Route::Key(k) => format!(" of key '{}'", cut(k)),
        Route::Bucket(b) => format!(" of bucket '{}'", cut(b)),
        Route::Any => String::new(),
    };
    format!("{}{subject}", call.name())
}

fn cut(s: &str) -> &str {
    match s.char_indices().nth(64) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_within_jittered_bounds() {
        // backon computes in f32 seconds: allow a few microseconds of rounding.
        let slack = Duration::from_micros(10);
        for _ in 0..50 {
            let mut base = MIN_BACKOFF;
            for delay in backoff().take(12) {
                assert!(delay + slack >= base, "{delay:?} < {base:?}");
                assert!(delay <= base * 2 + slack, "{delay:?} > 2 x {base:?}");
                assert!(delay <= MAX_BACKOFF * 2 + slack);
                base = (base * 2).min(MAX_BACKOFF);
            }
        }
        // It never runs out: the deadline, not a count, ends the retries.
        assert_eq!(backoff().take(1000).count(), 1000);
    }

    #[test]
    fn long_keys_are_cut_in_messages() {
        assert_eq!(cut("short"), "short");
        assert_eq!(cut(&"k".repeat(100)).len(), 64);
        assert_eq!(cut(&"ключ".repeat(30)).chars().count(), 64);
    }
}
