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

struct ScanPartitionRequest {
  header @0 :K.RequestHeader;
  partition @1 :UInt32;
  prefix @2 :Text;
  startAfter @3 :Text;         # exclusive lower bound inside the prefix
  hasStartAfter @4 :Bool;
  limit @5 :UInt32;
  snapshot @6 :UInt64;         # read at this HLC timestamp
  durability @7 :K.Durability;
}

struct ScanPartitionResponse {
  header @0 :K.ResponseHeader;
  entries @1 :List(K.Entry);
  more @2 :Bool;               # the partition has more keys after the last entry
}

struct ForwardRequest {
  union {
    set @0 :K.SetRequest;
    get @1 :K.GetRequest;
    exists @2 :K.GetRequest;
    delete @3 :K.DeleteRequest;
    extend @4 :K.ExtendRequest;
    bucket @5 :K.BucketRequest;
    scanPartition @6 :ScanPartitionRequest;
  }
}

struct ForwardResponse {
  union {
    set @0 :K.SetResponse;
    get @1 :K.GetResponse;
    exists @2 :K.GetResponse;
    delete @3 :K.DeleteResponse;
    extend @4 :K.ExtendResponse;
    bucket @5 :K.BucketResponse;
    scanPartition @6 :ScanPartitionResponse;
  }
}

interface Peer {
  # A Raft message for one partition's group; payloads are the serialized openraft request and
  # `Result<response, RaftError>`.
  raft @0 (partition :UInt32, kind :RaftKind, payload :Data, hlc :UInt64) -> (payload :Data, hlc :UInt64);
  # A client request routed to the partition leader on behalf of a client of the sending node.
  forward @1 (req :ForwardRequest, hlc :UInt64) -> (resp :ForwardResponse, hlc :UInt64);
}

interface Gateway extends(K.Kahuna) {
  # Opens the peer channel. Fails when the caller belongs to another cluster.
  peer @0 (clusterId :UInt64, fromNode :UInt64) -> (peer :Peer);
}
