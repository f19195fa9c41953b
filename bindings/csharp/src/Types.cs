// The values callers pass to Kahuna.Client and get back: enums with the numbers of the C API
// (and of the wire), options, and the immutable results of bucket reads, scans, locks and
// topology.

using System;
using System.Collections.Generic;
using System.Text;

namespace Kahuna
{
    /// <summary>Where a key lives. The two durabilities are separate keyspaces.</summary>
    public enum Durability
    {
        /// <summary>Replicated through Raft and fsynced on a quorum before the call returns; linearizable.</summary>
        Persistent = 0,
        /// <summary>Kept only in the memory of the partition leader; lost when leadership moves.</summary>
        Ephemeral = 1,
    }

    /// <summary>Conditions and options of <see cref="Client.TrySet(string, byte[], long, KeyValueFlags, Durability)"/>.</summary>
    [Flags]
    public enum KeyValueFlags
    {
        /// <summary>An unconditional write that keeps the superseded revision.</summary>
        None = 0,
        /// <summary>Do not keep the superseded revision readable by revision.</summary>
        NoRevision = 2,
        /// <summary>Write only when the key is live (present, not deleted, not expired).</summary>
        SetIfExists = 4,
        /// <summary>Write only when the key is absent, deleted or expired.</summary>
        SetIfNotExists = 8,
    }

    /// <summary>The stable status codes shared by the wire, C, Python and C#.</summary>
    public enum StatusCode
    {
        /// <summary>Success.</summary>
        Ok = 0,
        /// <summary>A bad argument; the message names it. Nothing was written.</summary>
        InvalidInput = 1,
        /// <summary>The target does not exist (where an error is due).</summary>
        NotFound = 2,
        /// <summary>A definite transactional conflict: start again.</summary>
        Aborted = 3,
        /// <summary>Transient, nothing applied: safe to retry.</summary>
        MustRetry = 4,
        /// <summary>No quorum or leader could be reached in time; nothing applied.</summary>
        Unavailable = 5,
        /// <summary>The deadline passed; the outcome of a write is unknown.</summary>
        Timeout = 6,
        /// <summary>The lock does not exist (or expired).</summary>
        LockDoesNotExist = 7,
        /// <summary>The lock is held by another owner.</summary>
        InvalidOwner = 8,
        /// <summary>A bug or an I/O failure.</summary>
        Internal = 9,
        /// <summary>The node's Ephemeral store is at its memory cap; nothing was written.</summary>
        ResourceExhausted = 10,
    }

    /// <summary>How a client connects, waits and retries.</summary>
    public sealed class ClientOptions
    {
        /// <summary>Deadline of one call, retries included (default 10 s).</summary>
        public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(10);

        /// <summary>How long opening one connection may take (default 3 s).</summary>
        public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(3);

        /// <summary>How long one attempt of a read waits on one node before trying another (default 2 s).</summary>
        public TimeSpan ReadAttemptTimeout { get; set; } = TimeSpan.FromSeconds(2);

        internal Native.Options ToNative()
        {
            return new Native.Options
            {
                TimeoutMs = Milliseconds(Timeout, nameof(Timeout)),
                ConnectTimeoutMs = Milliseconds(ConnectTimeout, nameof(ConnectTimeout)),
                ReadAttemptTimeoutMs = Milliseconds(ReadAttemptTimeout, nameof(ReadAttemptTimeout)),
            };
        }

        private static ulong Milliseconds(TimeSpan span, string name)
        {
            if (span < TimeSpan.FromMilliseconds(1))
                throw new InvalidInputException($"options.{name} must be at least 1 ms, got {span}");
            return (ulong)span.TotalMilliseconds;
        }
    }

    /// <summary>One key and its current version, as returned by bucket reads, scans and TryGetEntry.</summary>
    public sealed class Entry
    {
        internal Entry(string key, byte[] value, long revision, long expiresAt, long lastModified)
        {
            Key = key;
            Value = value;
            Revision = revision;
            ExpiresAt = expiresAt;
            LastModified = lastModified;
        }

        /// <summary>The key.</summary>
        public string Key { get; }

        /// <summary>The value (an empty array for an empty value).</summary>
        public byte[] Value { get; }

        /// <summary>The value decoded as UTF-8.</summary>
        public string ValueAsString => Encoding.UTF8.GetString(Value);

        /// <summary>The version's revision.</summary>
        public long Revision { get; }

        /// <summary>HLC timestamp of the expiry; 0 = never.</summary>
        public long ExpiresAt { get; }

        /// <summary>HLC timestamp of the write that produced this version (usable with TryGetAsOf).</summary>
        public long LastModified { get; }

        /// <inheritdoc/>
        public override string ToString() => $"{Key} (revision {Revision}, {Value.Length} bytes)";
    }

    /// <summary>One page of a prefix scan.</summary>
    public sealed class ScanPage
    {
        internal ScanPage(IReadOnlyList<Entry> entries, byte[] cursor, long snapshot)
        {
            Entries = entries;
            Cursor = cursor;
            Snapshot = snapshot;
        }

        /// <summary>The entries of this page, ordered by key.</summary>
        public IReadOnlyList<Entry> Entries { get; }

        /// <summary>Pass to the next ScanByPrefix call; null on the last page.</summary>
        public byte[] Cursor { get; }

        /// <summary>True when there are more pages.</summary>
        public bool HasMore => Cursor != null;

        /// <summary>HLC timestamp every page of this scan reads at.</summary>
        public long Snapshot { get; }
    }

    /// <summary>A live lock, as <see cref="Client.GetLock(string, Durability)"/> reads it.</summary>
    public sealed class LockInfo
    {
        internal LockInfo(string resource, byte[] owner, long expiresAt, long fencingToken)
        {
            Resource = resource;
            Owner = owner;
            ExpiresAt = expiresAt;
            FencingToken = fencingToken;
        }

        /// <summary>The locked resource.</summary>
        public string Resource { get; }

        /// <summary>The holder's owner id, the bytes it locked with.</summary>
        public byte[] Owner { get; }

        /// <summary>The owner id decoded as UTF-8 (what a string owner was).</summary>
        public string OwnerAsString => Encoding.UTF8.GetString(Owner);

        /// <summary>HLC timestamp at which the lease ends (<c>ExpiresAt &gt;&gt; 16</c> is milliseconds since the Unix epoch).</summary>
        public long ExpiresAt { get; }

        /// <summary>The holder's fencing token.</summary>
        public long FencingToken { get; }

        /// <inheritdoc/>
        public override string ToString() => $"{Resource} (owner {OwnerAsString}, fencing token {FencingToken})";
    }

    /// <summary>A member of the cluster.</summary>
    public sealed class ClusterNode
    {
        internal ClusterNode(long id, string address)
        {
            Id = id;
            Address = address;
        }

        /// <summary>The node's id (at least 1).</summary>
        public long Id { get; }

        /// <summary>Its RPC address, host:port.</summary>
        public string Address { get; }
    }

    /// <summary>Who leads one partition.</summary>
    public sealed class PartitionLeader
    {
        internal PartitionLeader(long leader, long term)
        {
            Leader = leader;
            Term = term;
        }

        /// <summary>The node id of the leader; 0 when unknown.</summary>
        public long Leader { get; }

        /// <summary>The Raft term of that leader; 0 when unknown.</summary>
        public long Term { get; }
    }

    /// <summary>The cluster as one node sees it: members and partition leaders.</summary>
    public sealed class Topology
    {
        internal Topology(ulong clusterId, string clusterName, IReadOnlyList<ClusterNode> nodes,
            IReadOnlyList<PartitionLeader> partitions, long answeredBy)
        {
            ClusterId = clusterId;
            ClusterName = clusterName;
            Nodes = nodes;
            Partitions = partitions;
            AnsweredBy = answeredBy;
        }

        /// <summary>The cluster's unique id.</summary>
        public ulong ClusterId { get; }

        /// <summary>The cluster's configured name.</summary>
        public string ClusterName { get; }

        /// <summary>Every member of the cluster.</summary>
        public IReadOnlyList<ClusterNode> Nodes { get; }

        /// <summary>The leader of each partition (index = partition number).</summary>
        public IReadOnlyList<PartitionLeader> Partitions { get; }

        /// <summary>The id of the node that answered.</summary>
        public long AnsweredBy { get; }
    }
}
