//! What a node answered its clients: request counts by operation, keyspace and status code, and
//! latency histograms by operation and keyspace. Read by the admin endpoint (`/metrics`).
//! Requests a peer forwarded are not counted again on the leader that serves them: the node
//! the client called counts them, forwarding included in their latency.
//!
//! Recording costs one relaxed atomic add and one histogram observation (a short lock per
//! (operation, keyspace)) per request, 17 ns together in a loop; the arrays are indexed, never
//! hashed.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use kahuna_schema::Code;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};

use super::{Durability, Request};

/// Operation names, as the `op` label spells them; indexed by [`op_index`].
pub const OPS: [&str; 12] = [
    "set",
    "get",
    "exists",
    "delete",
    "extend",
    "bucket",
    "scan",
    "scan_partition",
    "lock",
    "extend_lock",
    "unlock",
    "get_lock",
];

/// Keyspace names, as the `durability` label spells them.
pub const DURABILITIES: [&str; 2] = ["persistent", "ephemeral"];

/// Latency bucket bounds in seconds: 50 µs doubling up to about 13 s.
fn latency_buckets() -> impl Iterator<Item = f64> {
    exponential_buckets(50e-6, 2.0, 19)
}

fn op_index(request: &Request) -> usize {
    match request {
        Request::Set(_) => 0,
        Request::Get(_) => 1,
        Request::Exists(_) => 2,
        Request::Delete(_) => 3,
        Request::Extend(_) => 4,
        Request::Bucket(_) => 5,
        Request::Scan(_) => 6,
        Request::ScanPartition(_) => 7,
        Request::Lock(_) => 8,
        Request::ExtendLock(_) => 9,
        Request::Unlock(_) => 10,
        Request::GetLock(_) => 11,
    }
}

fn durability(request: &Request) -> Durability {
    match request {
        Request::Set(r) => r.durability,
        Request::Get(r) | Request::Exists(r) => r.durability,
        Request::Delete(r) => r.durability,
        Request::Extend(r) => r.durability,
        Request::Bucket(r) => r.durability,
        Request::Scan(r) => r.durability,
        Request::ScanPartition(r) => r.durability,
        Request::Lock(r) | Request::ExtendLock(r) => r.durability,
        Request::Unlock(r) => r.durability,
        Request::GetLock(r) => r.durability,
    }
}

/// Where a request's counters live: (operation, keyspace).
#[derive(Clone, Copy, Debug)]
pub(super) struct Slot(usize);

impl Slot {
    pub(super) fn of(request: &Request) -> Slot {
        let d = match durability(request) {
            Durability::Persistent => 0,
            Durability::Ephemeral => 1,
        };
        Slot(op_index(request) * DURABILITIES.len() + d)
    }
}

/// One series of the request counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Count {
    /// The operation (one of [`OPS`]).
    pub op: &'static str,
    /// The keyspace (one of [`DURABILITIES`]).
    pub durability: &'static str,
    /// The status code answered.
    pub code: Code,
    /// Requests answered with it since the node started.
    pub count: u64,
}

/// Request counters and latency histograms of one node.
#[derive(Debug)]
pub struct RequestStats {
    /// `[slot][code]`, flattened.
    counts: Vec<AtomicU64>,
    /// `[slot]`.
    latency: Vec<Histogram>,
}

impl Default for RequestStats {
    fn default() -> Self {
        let slots = OPS.len() * DURABILITIES.len();
        RequestStats {
            counts: (0..slots * Code::ALL.len()).map(|_| AtomicU64::new(0)).collect(),
            latency: (0..slots).map(|_| Histogram::new(latency_buckets())).collect(),
        }
    }
}

impl RequestStats {
    /// Counts a request answered with `code` after `elapsed`.
    pub(super) fn record(&self, slot: Slot, code: Code, elapsed: Duration) {
        self.counts[slot.0 * Code::ALL.len() + code.as_u8() as usize].fetch_add(1, Ordering::Relaxed);
        self.latency[slot.0].observe(elapsed.as_secs_f64());
    }

    /// Every non-zero counter series.
    pub fn counts(&self) -> Vec<Count> {
        let mut out = Vec::new();
        for (i, c) in self.counts.iter().enumerate() {
            let count = c.load(Ordering::Relaxed);
            if count > 0 {
                let (slot, code) = (i / Code::ALL.len(), i % Code::ALL.len());
                out.push(Count {
                    op: OPS[slot / DURABILITIES.len()],
                    durability: DURABILITIES[slot % DURABILITIES.len()],
                    code: Code::ALL[code],
                    count,
                });
            }
        }
        out
    }

    /// The latency histogram of every (operation, keyspace) that served a request.
    pub fn latencies(&self) -> Vec<(&'static str, &'static str, &Histogram)> {
        let codes = Code::ALL.len();
        (self.latency.iter().enumerate())
            .filter(|(slot, _)| {
                self.counts[slot * codes..(slot + 1) * codes].iter().any(|c| c.load(Ordering::Relaxed) > 0)
            })
            .map(|(slot, h)| (OPS[slot / DURABILITIES.len()], DURABILITIES[slot % DURABILITIES.len()], h))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kv::{GetLockRequest, GetRequest};

    #[test]
    fn requests_are_counted_by_operation_keyspace_and_code() {
        let stats = RequestStats::default();
        let get =
            Request::Get(GetRequest { key: "k".into(), durability: Durability::Ephemeral, revision: -1, as_of: 0 });
        let lock = Request::GetLock(GetLockRequest { resource: "r".into(), durability: Durability::Persistent });
        stats.record(Slot::of(&get), Code::Ok, Duration::from_micros(80));
        stats.record(Slot::of(&get), Code::Ok, Duration::from_micros(120));
        stats.record(Slot::of(&lock), Code::LockDoesNotExist, Duration::from_millis(3));
        assert_eq!(
            stats.counts(),
            vec![
                Count { op: "get", durability: "ephemeral", code: Code::Ok, count: 2 },
                Count { op: "get_lock", durability: "persistent", code: Code::LockDoesNotExist, count: 1 },
            ]
        );
        let served: Vec<_> = stats.latencies().into_iter().map(|(op, d, _)| (op, d)).collect();
        assert_eq!(served, vec![("get", "ephemeral"), ("get_lock", "persistent")]);
    }

    #[test]
    fn every_operation_is_counted_under_its_own_name() {
        use crate::kv::{
            BucketRequest, DeleteRequest, ExtendRequest, LockRequest, ScanPartitionRequest, ScanRequest, SetRequest,
            UnlockRequest,
        };
        let d = Durability::Persistent;
        let get = GetRequest { key: "k".into(), durability: d, revision: -1, as_of: 0 };
        let lock = LockRequest { resource: "r".into(), owner: vec![1], expires_ms: 1, durability: d };
        let requests = [
            (
                "set",
                Request::Set(SetRequest {
                    key: "k".into(),
                    value: vec![1],
                    expires_ms: 0,
                    flags: 0,
                    compare_value: Vec::new(),
                    compare_revision: 0,
                    durability: d,
                }),
            ),
            ("get", Request::Get(get.clone())),
            ("exists", Request::Exists(get)),
            ("delete", Request::Delete(DeleteRequest { key: "k".into(), durability: d })),
            ("extend", Request::Extend(ExtendRequest { key: "k".into(), expires_ms: 1, durability: d })),
            ("bucket", Request::Bucket(BucketRequest { bucket: "b".into(), durability: d })),
            ("scan", Request::Scan(ScanRequest { prefix: "p".into(), limit: 1, cursor: Vec::new(), durability: d })),
            (
                "scan_partition",
                Request::ScanPartition(ScanPartitionRequest {
                    partition: 0,
                    prefix: "p".into(),
                    start_after: None,
                    limit: 1,
                    snapshot: 1,
                    durability: d,
                }),
            ),
            ("lock", Request::Lock(lock.clone())),
            ("extend_lock", Request::ExtendLock(lock)),
            ("unlock", Request::Unlock(UnlockRequest { resource: "r".into(), owner: vec![1], durability: d })),
            ("get_lock", Request::GetLock(GetLockRequest { resource: "r".into(), durability: d })),
        ];
        let stats = RequestStats::default();
        for (i, (_, request)) in requests.iter().enumerate() {
            for _ in 0..=i {
                stats.record(Slot::of(request), Code::Ok, Duration::from_micros(1));
            }
        }
        let counted: Vec<(&str, u64)> = stats.counts().iter().map(|c| (c.op, c.count)).collect();
        let expected: Vec<(&str, u64)> = requests.iter().enumerate().map(|(i, (op, _))| (*op, i as u64 + 1)).collect();
        assert_eq!(counted, expected);
        // Every status code has a counter of its own.
        assert!(Code::ALL.iter().enumerate().all(|(i, c)| c.as_u8() as usize == i));
        for code in Code::ALL {
            stats.record(Slot::of(&requests[0].1), code, Duration::from_micros(1));
        }
        let set_codes: Vec<Code> = stats.counts().iter().filter(|c| c.op == "set").map(|c| c.code).collect();
        assert_eq!(set_codes, Code::ALL.to_vec());
    }
}
