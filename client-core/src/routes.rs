//! The routing cache: which node leads which partition, and which nodes to avoid for a while.
//!
//! Pure data, no I/O and no clocks of its own (callers pass `now`), so every rule here is unit
//! tested. The router (`router.rs`) feeds it from two sources:
//!
//! - whole topologies (`ingest`), answered by `topology` calls at connect, on every new
//!   connection's handshake and on refreshes;
//! - leader hints in every response header (`observe_leader`), which are cheaper and fresher.
//!
//! Both carry the Raft term of the leader they name, and the cache only moves forward: a hint
//! from an older term (a node that has not heard of the election yet) never replaces a newer
//! leader. A hint of "no leader" in the current term keeps the leader we know.
//!
//! Choosing a node for a call (`pick`):
//!
//! ```text
//!   1. the partition's leader, unless it is suspect or the call must avoid it
//!   2. any other node that is not suspect (rotated, so load spreads)   -> it forwards
//!   3. the leader even if suspect, then any suspect node               -> better than nothing
//! ```
//!
//! A node becomes *suspect* for [`SUSPECT_FOR`] when connecting to it failed, its connection
//! broke or it did not answer a read in time; any successful reply clears it. Suspicion only
//! orders the choice, it never excludes a node, so a cluster whose every node restarted still
//! gets tried.

use std::collections::HashMap;
use std::time::Duration;

use kahuna_schema::routing;
use tokio::time::Instant;

use crate::ops::Route;
use crate::types::Topology;

/// How long a node that failed stays at the back of the line.
pub(crate) const SUSPECT_FOR: Duration = Duration::from_secs(2);

/// The leader of one partition as far as the client knows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Leader {
    /// Node id, 0 = unknown.
    node: u64,
    /// Raft term of that knowledge, 0 = unknown.
    term: u64,
}

/// The client's view of the cluster.
#[derive(Debug)]
pub(crate) struct Routes {
    /// The cluster every node must belong to (0 until the first topology).
    pub cluster_id: u64,
    /// The partition count requests are routed with (0 until the first topology).
    pub partition_count: u32,
    leaders: Vec<Leader>,
    nodes: Vec<(u64, String)>,
    seeds: Vec<String>,
    suspects: HashMap<String, Instant>,
}

impl Routes {
    /// An empty cache that knows only the seed endpoints.
    pub(crate) fn new(seeds: Vec<String>) -> Routes {
        Routes {
            cluster_id: 0,
            partition_count: 0,
            leaders: Vec::new(),
            nodes: Vec::new(),
            seeds,
            suspects: HashMap::new(),
        }
    }

    /// Takes in a topology; leaders only move to newer terms. Returns false (and changes nothing)
    /// when the topology belongs to another cluster.
    pub(crate) fn ingest(&mut self, t: &Topology) -> bool {
        if self.cluster_id != 0 && t.cluster_id != self.cluster_id {
            return false;
        }
        self.cluster_id = t.cluster_id;
        if !t.nodes.is_empty() {
            self.nodes = t.nodes.clone();
        }
        if t.partition_count != self.partition_count && t.partition_count > 0 {
            self.partition_count = t.partition_count;
            self.leaders = vec![Leader::default(); t.partition_count as usize];
        }
        for (p, leader) in t.leaders.iter().enumerate() {
            let term = t.terms.get(p).copied().unwrap_or(0);
            self.observe_leader(p as u32, leader.unwrap_or(0), term);
        }
        true
    }

    /// Takes in a leader hint for one partition; returns true when the known leader changed.
    pub(crate) fn observe_leader(&mut self, partition: u32, node: u64, term: u64) -> bool {
        let Some(current) = self.leaders.get_mut(partition as usize) else {
            return false;
        };
        let newer = term > current.term;
        let same_term_news = term == current.term && node != 0;
        if !(newer || same_term_news) {
            return false;
        }
        let changed = current.node != node;
        *current = Leader { node, term };
        changed
    }

    /// The known leader of a partition.
    pub(crate) fn leader(&self, partition: u32) -> Option<u64> {
        self.leaders.get(partition as usize).map(|l| l.node).filter(|n| *n != 0)
    }

    /// True when `node` is a member the cache has an address for.
    pub(crate) fn knows_node(&self, node: u64) -> bool {
        self.nodes.iter().any(|(id, _)| *id == node)
    }

    /// The partition a call is routed to, or `None` for calls any node may serve.
    pub(crate) fn partition_of(&self, route: Route<'_>) -> Option<u32> {
        if self.partition_count == 0 {
            return None;
        }
        match route {
            Route::Key(key) => Some(routing::partition_for_key(key, self.partition_count)),
            Route::Bucket(b) => Some(routing::partition_for_bucket(b, self.partition_count)),
            Route::Any => None,
        }
    }

    /// Every address worth trying: members first, then seeds that are not members.
    pub(crate) fn addresses(&self) -> Vec<String> {
        let mut out: Vec<String> = self.nodes.iter().map(|(_, a)| a.clone()).collect();
        for s in &self.seeds {
            if !out.contains(s) {
                out.push(s.clone());
            }
        }
        out
    }

    /// Puts a node at the back of the line until `now + SUSPECT_FOR`.
    pub(crate) fn mark_suspect(&mut self, address: &str, now: Instant) {
        self.suspects.insert(address.to_string(), now + SUSPECT_FOR);
    }

    /// Forgets a node's suspicion (it answered).
    pub(crate) fn clear_suspect(&mut self, address: &str) {
        self.suspects.remove(address);
    }

    fn is_suspect(&self, address: &str, now: Instant) -> bool {
        self.suspects.get(address).is_some_and(|until| *until > now)
    }

    /// The node to send a call for `partition` to (see the module docs for the order).
    /// `rotor` spreads calls that may go anywhere; `avoid` is a node that just failed.
    pub(crate) fn pick(&self, partition: Option<u32>, avoid: Option<&str>, rotor: usize, now: Instant) -> String {
        let leader = partition
            .and_then(|p| self.leader(p))
            .and_then(|id| self.nodes.iter().find(|(n, _)| *n == id))
            .map(|(_, a)| a.as_str());
        let usable = |a: &str| Some(a) != avoid;
        if let Some(l) = leader.filter(|l| usable(l) && !self.is_suspect(l, now)) {
            return l.to_string();
        }
        let mut others = self.addresses();
        if !others.is_empty() {
            let n = others.len();
            others.rotate_left(rotor % n);
        }
        if let Some(a) = others.iter().find(|a| usable(a) && !self.is_suspect(a, now)) {
            return a.clone();
        }
        if let Some(l) = leader.filter(|l| usable(l)) {
            return l.to_string();
        }
        // Every node is suspect: the one whose suspicion ends first.
        let soonest = others.iter().filter(|a| usable(a)).min_by_key(|a| self.suspects.get(a.as_str()).copied());
        match soonest {
            Some(a) => a.clone(),
            None => avoid.map(str::to_string).or_else(|| others.first().cloned()).unwrap_or_default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topology(leaders: &[Option<u64>], terms: &[u64]) -> Topology {
        Topology {
            cluster_id: 7,
            cluster_name: "t".into(),
            partition_count: leaders.len() as u32,
            nodes: vec![(1, "n1".into()), (2, "n2".into()), (3, "n3".into())],
            leaders: leaders.to_vec(),
            terms: terms.to_vec(),
            answered_by: 1,
        }
    }

    #[test]
    fn leaders_only_move_forward_in_term() {
        let mut r = Routes::new(vec!["n1".into()]);
        assert!(r.ingest(&topology(&[Some(1), None], &[3, 0])));
        assert_eq!(r.leader(0), Some(1));
        assert_eq!(r.leader(1), None);
        // An older term does not replace the leader.
        assert!(!r.observe_leader(0, 2, 2));
        assert_eq!(r.leader(0), Some(1));
        // "No leader" in the same term keeps what we know.
        assert!(!r.observe_leader(0, 0, 3));
        assert_eq!(r.leader(0), Some(1));
        // A newer term wins, even when it says "no leader yet".
        assert!(r.observe_leader(0, 0, 4));
        assert_eq!(r.leader(0), None);
        assert!(r.observe_leader(0, 2, 4));
        assert_eq!(r.leader(0), Some(2));
        // Out-of-range partitions are ignored.
        assert!(!r.observe_leader(9, 1, 100));
    }

    #[test]
    fn topologies_of_another_cluster_are_refused() {
        let mut r = Routes::new(vec![]);
        assert!(r.ingest(&topology(&[Some(1)], &[1])));
        let mut other = topology(&[Some(2)], &[9]);
        other.cluster_id = 8;
        assert!(!r.ingest(&other));
        assert_eq!(r.leader(0), Some(1));
    }

    #[test]
    fn partitions_follow_the_shared_hash() {
        let mut r = Routes::new(vec![]);
        assert_eq!(r.partition_of(Route::Key("a")), None);
        r.ingest(&topology(&[None; 8], &[0; 8]));
        assert_eq!(r.partition_of(Route::Key("services/auth")), Some(4));
        assert_eq!(r.partition_of(Route::Bucket("services")), Some(4));
        assert_eq!(r.partition_of(Route::Any), None);
    }

    #[test]
    fn pick_prefers_a_healthy_leader_then_healthy_others() {
        let now = Instant::now();
        let mut r = Routes::new(vec!["seed".into(), "n2".into()]);
        r.ingest(&topology(&[Some(2), None], &[1, 0]));
        assert_eq!(r.addresses(), vec!["n1", "n2", "n3", "seed"]);
        assert_eq!(r.pick(Some(0), None, 0, now), "n2");
        // Avoiding the leader falls back to another node.
        assert_eq!(r.pick(Some(0), Some("n2"), 0, now), "n1");
        // A suspect leader is skipped while healthy nodes remain.
        r.mark_suspect("n2", now);
        assert_eq!(r.pick(Some(0), None, 1, now), "n3");
        // Suspicion expires.
        assert_eq!(r.pick(Some(0), None, 0, now + SUSPECT_FOR), "n2");
        r.clear_suspect("n2");
        assert_eq!(r.pick(Some(0), None, 0, now), "n2");
        // Unknown leader: rotate over every address.
        let picks: Vec<String> = (0..4).map(|i| r.pick(Some(1), None, i, now)).collect();
        assert_eq!(picks, vec!["n1", "n2", "n3", "seed"]);
    }

    #[test]
    fn pick_never_gives_up_when_everything_is_suspect() {
        let now = Instant::now();
        let mut r = Routes::new(vec!["a".into(), "b".into()]);
        r.mark_suspect("a", now);
        r.mark_suspect("b", now + Duration::from_millis(10));
        assert_eq!(r.pick(None, None, 0, now), "a");
        assert_eq!(r.pick(None, Some("a"), 0, now), "b");
        let single = Routes::new(vec!["only".into()]);
        assert_eq!(single.pick(None, Some("only"), 3, now), "only");
    }
}
