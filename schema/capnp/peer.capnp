@0x964feac3f30885d5;
# Kahuna peer API: what nodes of one cluster say to each other.
#
# A node's RPC port bootstraps a `Gateway`, which is the client `Kahuna` interface plus `peer`,
# through which another node of the same cluster obtains the `Peer` capability.


using K = import "kahuna.capnp";

enum RaftKind {
  appendEntries @0;
  vote @1;
  installSnapshot @2;
}

struct RaftMessage {
  partition @0 :UInt32;
  kind @1 :RaftKind;
  payload @2 :Data;
}

interface Peer {
  # A Raft message for one partition's group; payloads are the serialized openraft request and
  # `Result<response, RaftError>`.
  raft @0 (partition :UInt32, kind :RaftKind, payload :Data, hlc :UInt64) -> (payload :Data, hlc :UInt64);
  # A client request routed to the partition leader on behalf of a client of the sending node.
  # Payloads are the serialized request and reply of the server's `kv` layer: peers of one
  # cluster run the same version.
  forward @1 (payload :Data, hlc :UInt64) -> (payload :Data, hlc :UInt64);
  # Several Raft messages (of different partitions) in one call; replies in the same order. A
  # reply is empty when its message could not be delivered (unknown partition, undecodable).
  raftBatch @2 (messages :List(RaftMessage), hlc :UInt64) -> (replies :List(Data), hlc :UInt64);
}

interface Gateway extends(K.Kahuna) {
  # Opens the peer channel. Fails when the caller belongs to another cluster.
  peer @0 (clusterId :UInt64, fromNode :UInt64) -> (peer :Peer);
}
