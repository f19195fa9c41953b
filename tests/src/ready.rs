//! Readiness: when may a test start using the cluster, and who leads what.
//!
//! A cluster is *ready* when, all at once:
//!
//! 1. every live node (running, not paused) answers `topology` with the expected partition
//!    count;
//! 2. for every partition, the newest view among those answers (highest Raft term) names a
//!    leader, and that leader is a live node;
//! 3. a linearizable (persistent) read succeeds on every partition. Each partition has its own
//!    probe key, found by hashing `kahuna-harness-probe-<n>` until every partition is covered;
//!    the probes are reads of keys nobody writes, so they change nothing.
//!
//! Point 3 is what matters to a test; points 1 and 2 make a restarted node count only once it
//! serves, and make a paused leader block readiness until it has been replaced. The last
//! reason the cluster was not ready is kept and reported on timeout, with the nodes' logs.

use std::time::Duration;

use kahuna_client::{BlockingClient, ClientOptions, Durability};
use kahuna_schema::routing;

use crate::Cluster;

/// Client options for probing: short deadlines, so one poll never blocks for long.
fn probe_options() -> ClientOptions {
    ClientOptions {
        timeout: Duration::from_secs(2),
        connect_timeout: Duration::from_millis(500),
        read_attempt_timeout: Duration::from_millis(500),
    }
}

/// One key per partition, in partition order.
pub(crate) fn probe_keys(partitions: u32) -> Vec<String> {
    let mut keys: Vec<Option<String>> = vec![None; partitions as usize];
    let mut missing = partitions as usize;
    let mut n = 0u64;
    while missing > 0 {
        let key = format!("kahuna-harness-probe-{n}");
        let p = routing::partition_for_key(&key, partitions) as usize;
        if keys[p].is_none() {
            keys[p] = Some(key);
            missing -= 1;
        }
        n += 1;
    }
    keys.into_iter().flatten().collect()
}

impl Cluster {
    /// Waits until every partition has a live leader and serves a read (see the module docs).
    pub fn wait_ready(&self, timeout: Duration) -> anyhow::Result<()> {
        let mut client: Option<BlockingClient> = None;
        let mut why = String::from("nothing was checked yet");
        let outcome = crate::wait_until("the cluster to be ready", timeout, || {
            let exited = self.reap_exited();
            if !exited.is_empty() {
                return Some(Err(exited.join("; ")));
            }
            match self.check_ready(&mut client) {
                Ok(()) => Some(Ok(())),
                Err(reason) => {
                    why = reason;
                    None
                }
            }
        });
        match outcome {
            Ok(Ok(())) => Ok(()),
            Ok(Err(exited)) => anyhow::bail!("{exited}\n{}", self.log_tails()),
            Err(e) => anyhow::bail!("{e}; last reason: {why}\n{}", self.log_tails()),
        }
    }

    /// The index of the node that leads `partition`, by the newest view of any live node.
    pub fn leader_of(&self, partition: u32) -> Option<usize> {
        let client = BlockingClient::connect(&self.endpoints(), probe_options()).ok()?;
        let views = self.views(&client).ok()?;
        let (_, leader) = newest_claims(&views, partition as usize)?;
        let index = usize::try_from(leader).ok()?.checked_sub(1)?;
        (index < self.len()).then_some(index)
    }

    fn check_ready(&self, client: &mut Option<BlockingClient>) -> Result<(), String> {
        let live = self.live();
        if live.is_empty() {
            return Err("no node is running".into());
        }
        if client.is_none() {
            let c = BlockingClient::connect(&self.endpoints(), probe_options())
                .map_err(|e| format!("cannot connect: {e}"))?;
            *client = Some(c);
        }
        let client = client.as_ref().expect("connected above");
        let views = self.views(client)?;
        let partitions = self.options.partitions;
        for p in 0..partitions as usize {
            let Some((_, leader)) = newest_claims(&views, p) else {
                return Err(format!("partition {p} has no leader yet"));
            };
            let index = (leader as usize).checked_sub(1);
            if !index.is_some_and(|i| live.contains(&i)) {
                return Err(format!("partition {p} is led by node id {leader}, which is not live"));
            }
        }
        for (p, key) in self.probe_keys.iter().enumerate() {
            client
                .try_get(key, Durability::Persistent)
                .map_err(|e| format!("the probe read of partition {p} failed: {e}"))?;
        }
        Ok(())
    }

    /// Every live node's topology; fails if one does not answer or disagrees on the count.
    fn views(&self, client: &BlockingClient) -> Result<Vec<kahuna_client::Topology>, String> {
        let mut views = Vec::new();
        for i in self.live() {
            let t = client
                .topology_from(&self.endpoint(i))
                .map_err(|e| format!("node {i} does not answer topology: {e}"))?;
            if t.partition_count != self.options.partitions {
                return Err(format!(
                    "node {i} reports {} partitions, expected {}",
                    t.partition_count, self.options.partitions
                ));
            }
            views.push(t);
        }
        Ok(views)
    }
}

/// The (term, leader id) of `partition` with the highest term among views that name a leader.
fn newest_claims(views: &[kahuna_client::Topology], partition: usize) -> Option<(u64, u64)> {
    views
        .iter()
        .filter_map(|t| {
            let leader = t.leaders.get(partition).copied().flatten()?;
            Some((t.terms.get(partition).copied().unwrap_or(0), leader))
        })
        .max()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_keys_cover_every_partition_in_order() {
        for n in [1, 3, 8, 64] {
            let keys = probe_keys(n);
            assert_eq!(keys.len(), n as usize);
            for (p, k) in keys.iter().enumerate() {
                assert_eq!(routing::partition_for_key(k, n) as usize, p);
                assert!(routing::validate_key("key", k).is_ok());
            }
        }
    }

    #[test]
    fn the_newest_term_names_the_leader() {
        let view = |leaders: Vec<Option<u64>>, terms: Vec<u64>| kahuna_client::Topology {
            leaders,
            terms,
            ..Default::default()
        };
        let views = [
            view(vec![Some(1), None], vec![3, 0]),
            view(vec![Some(2), None], vec![4, 0]),
            view(vec![None, None], vec![5, 0]),
        ];
        assert_eq!(newest_claims(&views, 0), Some((4, 2)));
        assert_eq!(newest_claims(&views, 1), None);
        assert_eq!(newest_claims(&views, 9), None);
    }
}
