@0x9ad6daa93baa2fd1;
# Kahuna client API.
#
# Connect with two-party Cap'n Proto RPC to any node's RPC port and bootstrap the `Kahuna`
# interface. Every node accepts every request: a node that does not lead the key's partition
# forwards the request to the leader. Clients that want to save that hop compute the partition
# with the documented hash (docs/partition.md) and send to the leader named by `topology`.
#
# Normal outcomes ("not found", "condition not met") are results, never errors. Errors travel in
# `ResponseHeader.status` with a message naming the argument; a Cap'n Proto exception means the
# transport or the message itself was broken.


enum Status {
  # Stable codes, mirrored by the Rust, C, Python and C# clients. Never renumber.
  ok @0;
  invalidInput @1;      # a bad argument; the message names it. Nothing was written.
  notFound @2;          # the key, revision or target does not exist (where an error is due).
  aborted @3;           # a definite transactional conflict: start again.
  mustRetry @4;         # transient: no leader, stale route, leader change. Safe to retry.
  unavailable @5;       # a quorum could not be reached in time.
  timeout @6;           # the deadline passed; the outcome of a write is unknown.
  lockDoesNotExist @7;
  invalidOwner @8;
  internal @9;          # a bug or an I/O failure on the server.
  resourceExhausted @10; # the node's Ephemeral store is at its memory cap. Nothing was written.
}

enum Durability {
  persistent @0;        # replicated through Raft and fsynced on a quorum; linearizable.
  ephemeral @1;         # only in the partition leader's memory; lost with leadership.
}

struct RequestHeader {
  hlc @0 :UInt64;              # the caller's hybrid logical clock (0 = none); moves the server clock forward
  partition @1 :UInt32;        # the partition the caller routed to (checked when partitionCount > 0)
  partitionCount @2 :UInt32;   # the partition count the caller's map was built with (0 = no route check)
  timeoutMs @3 :UInt32;        # how long the server may work on this request (0 = server default)
}

struct ResponseHeader {
  status @0 :Status;
  message @1 :Text;            # human-readable detail when status != ok
  hlc @2 :UInt64;              # the server's clock after the request
  leader @3 :UInt64;           # node id that leads the request's partition, if known (0 = unknown)
  term @4 :UInt64;             # that leader's Raft term
}

struct Entry {
  key @0 :Text;
  value @1 :Data;
  revision @2 :Int64;          # per-key revision; -1 when the key never existed
  expiresAt @3 :UInt64;        # HLC timestamp of expiry; 0 = never
  lastModified @4 :UInt64;     # HLC timestamp of the write that produced this version
}

struct SetRequest {
  header @0 :RequestHeader;
  key @1 :Text;
  value @2 :Data;
  expiresMs @3 :Int64;         # 0 = no expiry; negative is invalid
  flags @4 :UInt32;            # NO_REVISION=2, SET_IF_EXISTS=4, SET_IF_NOT_EXISTS=8,
                               # SET_IF_EQUAL_TO_VALUE=16 (uses compareValue),
                               # SET_IF_EQUAL_TO_REVISION=32 (uses compareRevision)
  compareValue @5 :Data;
  compareRevision @6 :Int64;
  durability @7 :Durability;
}

struct SetResponse {
  header @0 :ResponseHeader;
  set @1 :Bool;
  revision @2 :Int64;          # the new revision when set, else the current one (-1 if absent)
  lastModified @3 :UInt64;
}

struct GetRequest {
  header @0 :RequestHeader;
  key @1 :Text;
  durability @2 :Durability;
  revision @3 :Int64;          # -1 = latest, else a retained revision
  asOf @4 :UInt64;             # 0 = latest, else an HLC timestamp (newest version at or before it)
}

struct GetResponse {
  header @0 :ResponseHeader;
  found @1 :Bool;
  entry @2 :Entry;             # revision is the current one (or -1) even when not found
}

struct DeleteRequest {
  header @0 :RequestHeader;
  key @1 :Text;
  durability @2 :Durability;
}

struct DeleteResponse {
  header @0 :ResponseHeader;
  deleted @1 :Bool;
  revision @2 :Int64;          # the revision the key had when deleted (delete does not increment)
}

struct ExtendRequest {
  header @0 :RequestHeader;
  key @1 :Text;
  expiresMs @2 :Int64;         # must be > 0: expiry becomes now + expiresMs
  durability @3 :Durability;
}

struct ExtendResponse {
  header @0 :ResponseHeader;
  extended @1 :Bool;
  revision @2 :Int64;
}

struct BucketRequest {
  header @0 :RequestHeader;
  bucket @1 :Text;             # the part of a key before its last '/'
  durability @2 :Durability;
}

struct BucketResponse {
  header @0 :ResponseHeader;
  entries @1 :List(Entry);     # ordered by key
}

struct ScanRequest {
  header @0 :RequestHeader;
  prefix @1 :Text;             # may be empty: every key
  limit @2 :UInt32;            # page size; 0 = server default; capped by the server
  cursor @3 :Data;             # empty for the first page, else the cursor of the previous page
  durability @4 :Durability;
}

struct ScanResponse {
  header @0 :ResponseHeader;
  entries @1 :List(Entry);     # ordered by key
  cursor @2 :Data;             # empty when there are no more pages
  snapshot @3 :UInt64;         # the HLC timestamp every page of this scan reads at
}

struct NodeInfo {
  id @0 :UInt64;
  address @1 :Text;
}

struct PartitionInfo {
  id @0 :UInt32;
  leader @1 :UInt64;           # 0 = unknown
  term @2 :UInt64;
}

struct TopologyResponse {
  header @0 :ResponseHeader;
  clusterId @1 :UInt64;
  clusterName @2 :Text;
  partitionCount @3 :UInt32;
  nodes @4 :List(NodeInfo);
  partitions @5 :List(PartitionInfo);
  nodeId @6 :UInt64;           # the node that answered
}

struct LockRequest {
  header @0 :RequestHeader;
  resource @1 :Text;           # routed like a key: its bucket decides the partition
  owner @2 :Data;              # non-empty; identifies the holder
  expiresMs @3 :Int64;         # lease length, > 0
  durability @4 :Durability;
}

struct LockResponse {
  header @0 :ResponseHeader;
  locked @1 :Bool;             # false: another owner holds a live lease
  fencingToken @2 :Int64;      # the holder's token when locked (0 on the first grant of a resource)
}

struct ExtendLockRequest {
  header @0 :RequestHeader;
  resource @1 :Text;
  owner @2 :Data;
  expiresMs @3 :Int64;         # new lease length from now, > 0
  durability @4 :Durability;
}

struct ExtendLockResponse {
  header @0 :ResponseHeader;   # lockDoesNotExist / invalidOwner
  fencingToken @1 :Int64;
}

struct UnlockRequest {
  header @0 :RequestHeader;
  resource @1 :Text;
  owner @2 :Data;
  durability @3 :Durability;
}

struct UnlockResponse {
  header @0 :ResponseHeader;   # lockDoesNotExist / invalidOwner
}

struct GetLockRequest {
  header @0 :RequestHeader;
  resource @1 :Text;
  durability @2 :Durability;
}

struct GetLockResponse {
  header @0 :ResponseHeader;   # lockDoesNotExist when free or expired
  owner @1 :Data;
  expiresAt @2 :UInt64;        # HLC timestamp
  fencingToken @3 :Int64;
}

interface Kahuna {
  trySet @0 (req :SetRequest) -> (resp :SetResponse);
  tryGet @1 (req :GetRequest) -> (resp :GetResponse);
  tryExists @2 (req :GetRequest) -> (resp :GetResponse);   # like tryGet, without the value
  tryDelete @3 (req :DeleteRequest) -> (resp :DeleteResponse);
  tryExtend @4 (req :ExtendRequest) -> (resp :ExtendResponse);
  getByBucket @5 (req :BucketRequest) -> (resp :BucketResponse);
  scanByPrefix @6 (req :ScanRequest) -> (resp :ScanResponse);
  topology @7 (header :RequestHeader) -> (resp :TopologyResponse);
  tryLock @8 (req :LockRequest) -> (resp :LockResponse);
  tryExtendLock @9 (req :ExtendLockRequest) -> (resp :ExtendLockResponse);
  unlock @10 (req :UnlockRequest) -> (resp :UnlockResponse);
  getLock @11 (req :GetLockRequest) -> (resp :GetLockResponse);
}
