//! Cluster: who the members are, where they listen, and bringing the partition groups up.
//!
//! Membership is static in this version: every node is started with the same member list
//! (`--peers`), every node is a voter of every partition, and the partition count is fixed when
//! the cluster is bootstrapped. On first start a node records its identity (cluster name and
//! id, node id, partition count) in its data directory and initializes each partition's group
//! with the full member list (every node does so with the same list, which openraft allows).
//! On later starts the stored identity must match the configuration, so a node never joins
//! another cluster's data or runs with a different partition count.
//!
//! Leaders are spread: partition `p` prefers the `p mod n`-th member (by node id). Only that
//! member initializes the partition's group (initializing makes a node campaign at once), so a
//! fresh cluster starts with its leaders balanced; the other members join when the leader
//! first replicates to them. After a restart, a preferred member that sees no leader shortly
//! after start calls an election. It never campaigns against a live leader (that would only
//! bump terms and disrupt writes).
//!
//! Not here: moving members in and out at run time (a later version: joint consensus through
//! openraft's `change_membership`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::hlc::Clock;
use crate::partition::{self, Partition};
use crate::raft::{Syncer, Transport};
use crate::storage::{Cf, Engine, WriteBatch};

/// The key of the node identity record in `Cf::State` (outside every partition's range).
const IDENTITY_KEY: &[u8] = b"\xff\xff\xff\xffidentity";
const FORMAT: u32 = 1;

/// What makes a node part of one cluster.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// Version of the on-disk layout.
    pub format: u32,
    /// The cluster's name.
    pub cluster_name: String,
    /// Hash of name, partition count and member ids: peers of other clusters are refused.
    pub cluster_id: u64,
    /// This node's id.
    pub node_id: u64,
    /// Partitions fixed at bootstrap.
    pub partitions: u32,
}

/// Static configuration of the cluster as this node sees it.
#[derive(Clone, Debug)]
pub struct Members {
    /// The cluster's name.
    pub cluster_name: String,
    /// This node's id.
    pub node_id: u64,
    /// Every member's id and RPC address, this node included.
    pub addresses: BTreeMap<u64, String>,
    /// Partition count.
    pub partitions: u32,
}

impl Members {
    /// The id derived from name, partition count and member ids.
    pub fn cluster_id(&self) -> u64 {
        let ids: Vec<String> = self.addresses.keys().map(u64::to_string).collect();
        let text = format!("{}|{}|{}", self.cluster_name, self.partitions, ids.join(","));
        xxhash_rust::xxh3::xxh3_64(text.as_bytes())
    }

    fn identity(&self) -> Identity {
        Identity {
            format: FORMAT,
            cluster_name: self.cluster_name.clone(),
            cluster_id: self.cluster_id(),
            node_id: self.node_id,
            partitions: self.partitions,
        }
    }

    /// The member that should lead `partition`.
    pub fn preferred_leader(&self, partition: u32) -> u64 {
        let ids: Vec<u64> = self.addresses.keys().copied().collect();
        ids[partition as usize % ids.len()]
    }
}

/// Checks the identity stored in `engine` against `members`, writing it on first start.
/// Returns true when the data directory was fresh.
pub fn check_identity(engine: &dyn Engine, members: &Members, data_dir: &Path) -> Result<bool, String> {
    let want = members.identity();
    let stored = engine.get(Cf::State, IDENTITY_KEY).map_err(|e| e.to_string())?;
    let Some(bytes) = stored else {
        let mut b = WriteBatch::new();
        b.put(Cf::State, IDENTITY_KEY.to_vec(), serde_json::to_vec(&want).expect("identity serializes"));
        engine.write(b).map_err(|e| e.to_string())?;
        engine.sync().map_err(|e| e.to_string())?;
        return Ok(true);
    };
    let have: Identity = serde_json::from_slice(&bytes)
        .map_err(|e| format!("the identity record in {} is unreadable: {e}", data_dir.display()))?;
    let dir = data_dir.display();
    if have.format != FORMAT {
        return Err(format!("data directory {dir} has layout version {}, this server reads {FORMAT}", have.format));
    }
    if have.cluster_name != want.cluster_name {
        return Err(format!(
            "data directory {dir} belongs to cluster '{}', but this node is configured for cluster '{}' \
             (use another --data-dir, or the original --cluster-name)",
            have.cluster_name, want.cluster_name
        ));
    }
    if have.node_id != want.node_id {
        return Err(format!(
            "data directory {dir} belongs to node {}, but this node is configured as node {} (--node-id)",
            have.node_id, want.node_id
        ));
    }
    if have.partitions != want.partitions {
        return Err(format!(
            "data directory {dir} was bootstrapped with {} partitions, but --partitions is {}; \
             the partition count cannot change after bootstrap",
            have.partitions, want.partitions
        ));
    }
    if have.cluster_id != want.cluster_id {
        return Err(format!(
            "data directory {dir} belongs to another cluster named '{}' (its member ids differ from --peers)",
            have.cluster_name
        ));
    }
    Ok(false)
}

/// The running partition groups of this node and the member address book.
pub struct Cluster {
    members: Members,
    cluster_id: u64,
    partitions: Vec<Partition>,
}

impl Cluster {
    /// Opens every partition on `engine` and, on a fresh data directory, bootstraps the groups.
    #[allow(clippy::too_many_arguments)]
    pub async fn start(
        members: Members,
        fresh: bool,
        options: &partition::Options,
        engine: Arc<dyn Engine>,
        syncer: Syncer,
        clock: Arc<Clock>,
        transport: Arc<dyn Transport>,
        data_dir: &Path,
    ) -> Result<Cluster, String> {
        let mut partitions = Vec::with_capacity(members.partitions as usize);
        for p in 0..members.partitions {
            let dir = data_dir.join("snapshots").join(format!("p{p}"));
            let partition = Partition::start(
                p,
                members.node_id,
                options,
                engine.clone(),
                syncer.clone(),
                clock.clone(),
                transport.clone(),
                dir,
            )
            .await?;
            partitions.push(partition);
        }
        // Each partition is bootstrapped by its preferred leader alone: initializing makes a
        // node campaign at once, so this spreads the first leaders over the members. The
        // others join when that leader first replicates to them.
        let voters: BTreeMap<u64, openraft::BasicNode> =
            members.addresses.iter().map(|(id, addr)| (*id, openraft::BasicNode { addr: addr.clone() })).collect();
        let mut initialized = Vec::new();
        for p in &partitions {
            if members.preferred_leader(p.id()) != members.node_id {
                continue;
            }
            let ready = p.raft().is_initialized().await.map_err(|e| format!("partition {}: {e}", p.id()))?;
            if !ready {
                p.raft()
                    .initialize(voters.clone())
                    .await
                    .map_err(|e| format!("initializing partition {}: {e}", p.id()))?;
                initialized.push(p.id());
            }
        }
        if !initialized.is_empty() {
            tracing::info!(partitions = ?initialized, fresh, members = ?members.addresses.keys().collect::<BTreeSet<_>>(), "bootstrapped partitions");
        }
        let cluster = Cluster { cluster_id: members.cluster_id(), members, partitions };
        cluster.campaign_where_preferred(options.raft.heartbeat_interval);
        Ok(cluster)
    }

    fn campaign_where_preferred(&self, heartbeat_ms: u64) {
        for p in &self.partitions {
            if self.members.preferred_leader(p.id()) != self.members.node_id || self.members.addresses.len() < 2 {
                continue;
            }
            let raft = p.raft().clone();
            let mut leadership = p.watch_leadership();
            let partition = p.id();
            tokio::spawn(async move {
                let wait = Duration::from_millis(heartbeat_ms * 2);
                let seen = tokio::time::timeout(wait, leadership.wait_for(|l| l.leader.is_some()))
                    .await
                    .is_ok_and(|r| r.is_ok());
                if !seen {
                    tracing::debug!(partition, "no leader seen; campaigning as the preferred leader");
                    let _ = raft.trigger().elect().await;
                }
            });
        }
    }

    /// The configured members.
    pub fn members(&self) -> &Members {
        &self.members
    }

    /// The cluster id peers must present.
    pub fn cluster_id(&self) -> u64 {
        self.cluster_id
    }

    /// This node's id.
    pub fn node_id(&self) -> u64 {
        self.members.node_id
    }

    /// Number of partitions.
    pub fn partition_count(&self) -> u32 {
        self.members.partitions
    }

    /// Partition `p` (must exist).
    pub fn partition(&self, p: u32) -> &Partition {
        &self.partitions[p as usize]
    }

    /// Every partition, by id.
    pub fn partitions(&self) -> &[Partition] {
        &self.partitions
    }

    /// The RPC address of member `node`.
    pub fn address_of(&self, node: u64) -> Option<&str> {
        self.members.addresses.get(&node).map(String::as_str)
    }

    /// Stops every partition group.
    pub async fn shutdown(&self) {
        for p in &self.partitions {
            p.shutdown().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::MemoryEngine;

    fn members(name: &str, node: u64, partitions: u32, ids: &[u64]) -> Members {
        Members {
            cluster_name: name.into(),
            node_id: node,
            addresses: ids.iter().map(|i| (*i, format!("127.0.0.1:{}", 7000 + i))).collect(),
            partitions,
        }
    }

    #[test]
    fn identity_is_recorded_then_enforced() {
        let e = MemoryEngine::new();
        let dir = Path::new("/data/n1");
        let m = members("prod", 1, 8, &[1, 2, 3]);
        assert!(check_identity(&e, &m, dir).unwrap());
        assert!(!check_identity(&e, &m, dir).unwrap());
        // Addresses may change; identity does not depend on them.
        let mut moved = m.clone();
        moved.addresses.insert(2, "10.0.0.2:7000".into());
        assert!(!check_identity(&e, &moved, dir).unwrap());

        let err = check_identity(&e, &members("staging", 1, 8, &[1, 2, 3]), dir).unwrap_err();
        assert!(err.contains("belongs to cluster 'prod'"), "{err}");
        let err = check_identity(&e, &members("prod", 2, 8, &[1, 2, 3]), dir).unwrap_err();
        assert!(err.contains("belongs to node 1"), "{err}");
        let err = check_identity(&e, &members("prod", 1, 16, &[1, 2, 3]), dir).unwrap_err();
        assert!(err.contains("bootstrapped with 8 partitions"), "{err}");
        let err = check_identity(&e, &members("prod", 1, 8, &[1, 2, 4]), dir).unwrap_err();
        assert!(err.contains("another cluster"), "{err}");
    }

    #[test]
    fn preferred_leaders_rotate_over_members() {
        let m = members("c", 1, 8, &[3, 1, 2]);
        let leaders: Vec<u64> = (0..6).map(|p| m.preferred_leader(p)).collect();
        assert_eq!(leaders, vec![1, 2, 3, 1, 2, 3]);
    }
}
