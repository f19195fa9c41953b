//! The cluster itself: `topology`.
//!
//! ```text
//!   topology                 members and partition leaders, as one node sees them now
//! ```
//!
//! The answer is one node's view at one moment: a partition whose leader is unknown (an
//! election in progress) shows `-`, and another node may be a term ahead. It is the same view
//! the client routes by, which makes it the first thing to look at when calls time out.

use clap::Args;
use kahuna_client::Topology as View;
use serde::Serialize;

use crate::exit::Failure;
use crate::render::{Report, fields, table};
use crate::session::Session;

/// `topology`: the cluster's nodes and each partition's leader.
#[derive(Debug, Args)]
pub struct Topology {}

/// JSON of one node.
#[derive(Serialize)]
struct NodeJson<'a> {
    id: u64,
    address: &'a str,
}

/// JSON of one partition.
#[derive(Serialize)]
struct PartitionJson<'a> {
    partition: u32,
    leader: Option<u64>,
    leader_address: Option<&'a str>,
    term: u64,
}

/// JSON of `topology`.
#[derive(Serialize)]
struct TopologyJson<'a> {
    cluster_id: u64,
    cluster_name: &'a str,
    answered_by: u64,
    partition_count: u32,
    nodes: Vec<NodeJson<'a>>,
    partitions: Vec<PartitionJson<'a>>,
}

impl Topology {
    /// Runs `topology`.
    pub fn execute(self, session: &mut Session) -> Result<Report, Failure> {
        let view = session.client()?.topology()?;
        Ok(report(&view))
    }
}

/// The report of a topology.
fn report(t: &View) -> Report {
    let partitions: Vec<PartitionJson> = (0..t.partition_count)
        .map(|p| {
            let leader = t.leaders.get(p as usize).copied().flatten();
            PartitionJson {
                partition: p,
                leader,
                leader_address: leader.and_then(|l| t.address_of(l)),
                term: t.terms.get(p as usize).copied().unwrap_or(0),
            }
        })
        .collect();
    let nodes: Vec<Vec<String>> = t
        .nodes
        .iter()
        .map(|(id, address)| {
            let leads = partitions.iter().filter(|p| p.leader == Some(*id)).count();
            vec![id.to_string(), address.clone(), leads.to_string()]
        })
        .collect();
    let rows: Vec<Vec<String>> = partitions
        .iter()
        .map(|p| {
            let leader = p.leader.map_or("-".to_string(), |l| l.to_string());
            let term = if p.term == 0 { "-".to_string() } else { p.term.to_string() };
            vec![p.partition.to_string(), leader, term, p.leader_address.unwrap_or("-").to_string()]
        })
        .collect();
    let human = format!(
        "{}\n{}\n{}",
        fields(&[
            ("cluster", format!("{} (id {:#018x})", t.cluster_name, t.cluster_id)),
            ("answered by", format!("node {}", t.answered_by)),
            ("partitions", t.partition_count.to_string()),
        ]),
        table(&["NODE", "ADDRESS", "LEADS"], &nodes),
        table(&["PARTITION", "LEADER", "TERM", "ADDRESS"], &rows),
    );
    let json = TopologyJson {
        cluster_id: t.cluster_id,
        cluster_name: &t.cluster_name,
        answered_by: t.answered_by,
        partition_count: t.partition_count,
        nodes: t.nodes.iter().map(|(id, address)| NodeJson { id: *id, address }).collect(),
        partitions,
    };
    Report::new(true, human, &json)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topology_lists_nodes_and_partition_leaders() {
        let t = View {
            cluster_id: 0xabc,
            cluster_name: "local".into(),
            partition_count: 2,
            nodes: vec![(1, "127.0.0.1:7071".into()), (2, "127.0.0.1:7072".into())],
            leaders: vec![Some(2), None],
            terms: vec![3, 0],
            answered_by: 1,
        };
        let r = report(&t);
        assert_eq!(
            r.human,
            "cluster        local (id 0x0000000000000abc)\nanswered by    node 1\npartitions     2\n\n\
             NODE  ADDRESS         LEADS\n1     127.0.0.1:7071  0\n2     127.0.0.1:7072  1\n\n\
             PARTITION  LEADER  TERM  ADDRESS\n0          2       3     127.0.0.1:7072\n1          -       -     -\n"
        );
        assert_eq!(
            r.json,
            "{\"cluster_id\":2748,\"cluster_name\":\"local\",\"answered_by\":1,\"partition_count\":2,\
             \"nodes\":[{\"id\":1,\"address\":\"127.0.0.1:7071\"},{\"id\":2,\"address\":\"127.0.0.1:7072\"}],\
             \"partitions\":[{\"partition\":0,\"leader\":2,\"leader_address\":\"127.0.0.1:7072\",\"term\":3},\
             {\"partition\":1,\"leader\":null,\"leader_address\":null,\"term\":0}]}"
        );
    }
}
