// Kahuna.Client: the C# client of Kahuna, a thin layer over libkahuna (the C API).
//
//   C# caller ── Client.TryGet("k") ── Native.kahuna_try_get(handle, "k\0", ...) ──> libkahuna
//                  <── (Found, Value, Revision) ── copy out, kahuna_get_result_free ──┘
//
// Everything that makes a client correct (routing to partition leaders, retries with backoff,
// deadlines, error classification) happens in the Rust client core under libkahuna; this file
// only converts arguments, copies results into managed objects, frees the native buffers at
// once, and turns status codes into exceptions (KahunaException.FromCode).
//
// Thread safety: one Client may be used by any number of threads at once; the calls share the
// native client's connections. The handle is a SafeHandle, so Dispose while calls are in flight
// waits for them to return before the native client is freed; calls after Dispose throw
// ObjectDisposedException.

using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;
using System.Text;

namespace Kahuna
{
    /// <summary>A connection to a Kahuna cluster: the key/value and lock API, thread-safe, disposable.</summary>
    public sealed class Client : IDisposable
    {
        private readonly ClientHandle handle;

        /// <summary>Connects through any of <paramref name="endpoints"/> ("host:port,host:port").</summary>
        /// <exception cref="UnavailableException">No endpoint answered within the timeout.</exception>
        /// <exception cref="InvalidInputException">The endpoints or options are malformed.</exception>
        public Client(string endpoints, ClientOptions options = null)
        {
            var native = (options ?? new ClientOptions()).ToNative();
            int status = Native.kahuna_client_connect(Native.Text(endpoints, "endpoints"), ref native, out handle, out IntPtr err);
            Native.Check(status, err);
        }

        /// <summary>Connects through any of <paramref name="endpoints"/> (each "host:port").</summary>
        public Client(IEnumerable<string> endpoints, ClientOptions options = null)
            : this(endpoints == null ? null : string.Join(",", endpoints), options)
        {
        }

        /// <summary>The version of the native library (libkahuna).</summary>
        public static string NativeVersion => Native.ReadString(Native.kahuna_version());

        /// <summary>Writes <paramref name="value"/> under <paramref name="key"/>, unconditionally or as <paramref name="flags"/> say.</summary>
        /// <param name="key">A non-empty UTF-8 key of at most 4 KiB.</param>
        /// <param name="value">The value (not null; may be empty).</param>
        /// <param name="expiresMs">Time to live in milliseconds; 0 = never.</param>
        /// <param name="flags">At most one of SetIfExists / SetIfNotExists, optionally with NoRevision.</param>
        /// <param name="durability">The keyspace to write to.</param>
        /// <returns>Whether it was written, and the new revision (or the current one, -1 if none).</returns>
        public (bool Set, long Revision) TrySet(string key, byte[] value, long expiresMs = 0,
            KeyValueFlags flags = KeyValueFlags.None, Durability durability = Durability.Persistent)
        {
            value = Native.Bytes(value, nameof(value));
            int status = Native.kahuna_try_set(handle, Native.Text(key, nameof(key)), value, Native.Len(value),
                expiresMs, (uint)flags, (int)durability, out Native.SetResult r, out IntPtr err);
            Native.Check(status, err);
            return (r.Set != 0, r.Revision);
        }

        /// <summary>TrySet with a UTF-8 string value.</summary>
        public (bool Set, long Revision) TrySet(string key, string value, long expiresMs = 0,
            KeyValueFlags flags = KeyValueFlags.None, Durability durability = Durability.Persistent)
            => TrySet(key, Native.Value(value, nameof(value)), expiresMs, flags, durability);

        /// <summary>Writes only if the live value of <paramref name="key"/> equals <paramref name="compareValue"/> byte for byte.</summary>
        public (bool Set, long Revision) TryCompareValueAndSet(string key, byte[] value, byte[] compareValue,
            long expiresMs = 0, Durability durability = Durability.Persistent)
        {
            value = Native.Bytes(value, nameof(value));
            compareValue = Native.Bytes(compareValue, nameof(compareValue));
            int status = Native.kahuna_try_compare_value_and_set(handle, Native.Text(key, nameof(key)), value,
                Native.Len(value), compareValue, Native.Len(compareValue), expiresMs, (int)durability,
                out Native.SetResult r, out IntPtr err);
            Native.Check(status, err);
            return (r.Set != 0, r.Revision);
        }

        /// <summary>TryCompareValueAndSet with UTF-8 string values.</summary>
        public (bool Set, long Revision) TryCompareValueAndSet(string key, string value, string compareValue,
            long expiresMs = 0, Durability durability = Durability.Persistent)
            => TryCompareValueAndSet(key, Native.Value(value, nameof(value)),
                Native.Value(compareValue, nameof(compareValue)), expiresMs, durability);

        /// <summary>Writes only if <paramref name="key"/> is live and its revision equals <paramref name="compareRevision"/>.</summary>
        public (bool Set, long Revision) TryCompareRevisionAndSet(string key, byte[] value, long compareRevision,
            long expiresMs = 0, Durability durability = Durability.Persistent)
        {
            value = Native.Bytes(value, nameof(value));
            int status = Native.kahuna_try_compare_revision_and_set(handle, Native.Text(key, nameof(key)), value,
                Native.Len(value), compareRevision, expiresMs, (int)durability, out Native.SetResult r, out IntPtr err);
            Native.Check(status, err);
            return (r.Set != 0, r.Revision);
        }

        /// <summary>TryCompareRevisionAndSet with a UTF-8 string value.</summary>
        public (bool Set, long Revision) TryCompareRevisionAndSet(string key, string value, long compareRevision,
            long expiresMs = 0, Durability durability = Durability.Persistent)
            => TryCompareRevisionAndSet(key, Native.Value(value, nameof(value)), compareRevision, expiresMs, durability);

        /// <summary>Reads the latest live version of <paramref name="key"/> (linearizable for Persistent).</summary>
        /// <returns>Found (false for a missing, deleted or expired key), the value, and the revision.</returns>
        public (bool Found, byte[] Value, long Revision) TryGet(string key, Durability durability = Durability.Persistent)
        {
            var e = TryGetEntry(key, durability, out long revision);
            return e == null ? (false, null, revision) : (true, e.Value, e.Revision);
        }

        /// <summary>TryGet with the value decoded as UTF-8.</summary>
        public (bool Found, string Value, long Revision) TryGetString(string key, Durability durability = Durability.Persistent)
        {
            var (found, value, revision) = TryGet(key, durability);
            return (found, found ? Encoding.UTF8.GetString(value) : null, revision);
        }

        /// <summary>Reads the latest live version with its timestamps; null when not found.</summary>
        public Entry TryGetEntry(string key, Durability durability = Durability.Persistent)
            => TryGetEntry(key, durability, out long _);

        private Entry TryGetEntry(string key, Durability durability, out long revision)
        {
            int status = Native.kahuna_try_get(handle, Native.Text(key, nameof(key)), (int)durability,
                out Native.GetResult r, out IntPtr err);
            return TakeGetResult(key, status, err, ref r, out revision);
        }

        /// <summary>Reads the retained version of <paramref name="key"/> with this revision; not found if compacted or never written.</summary>
        public (bool Found, byte[] Value, long Revision) TryGetRevision(string key, long revision,
            Durability durability = Durability.Persistent)
        {
            int status = Native.kahuna_try_get_revision(handle, Native.Text(key, nameof(key)), revision,
                (int)durability, out Native.GetResult r, out IntPtr err);
            var e = TakeGetResult(key, status, err, ref r, out long current);
            return e == null ? (false, null, current) : (true, e.Value, e.Revision);
        }

        /// <summary>Reads the newest version whose LastModified is at or before <paramref name="timestamp"/> (an HLC timestamp).</summary>
        public (bool Found, byte[] Value, long Revision) TryGetAsOf(string key, long timestamp,
            Durability durability = Durability.Persistent)
        {
            if (timestamp < 0)
                throw new InvalidInputException($"timestamp must not be negative, got {timestamp}");
            int status = Native.kahuna_try_get_as_of(handle, Native.Text(key, nameof(key)), (ulong)timestamp,
                (int)durability, out Native.GetResult r, out IntPtr err);
            var e = TakeGetResult(key, status, err, ref r, out long current);
            return e == null ? (false, null, current) : (true, e.Value, e.Revision);
        }

        /// <summary>Tells whether <paramref name="key"/> is live, and its revision (-1 if it never existed).</summary>
        public (bool Exists, long Revision) TryExists(string key, Durability durability = Durability.Persistent)
        {
            int status = Native.kahuna_try_exists(handle, Native.Text(key, nameof(key)), (int)durability,
                out Native.FlagResult r, out IntPtr err);
            Native.Check(status, err);
            return (r.Flag != 0, r.Revision);
        }

        /// <summary>Deletes <paramref name="key"/>; Deleted is false if it was not live. The revision does not change.</summary>
        public (bool Deleted, long Revision) TryDelete(string key, Durability durability = Durability.Persistent)
        {
            int status = Native.kahuna_try_delete(handle, Native.Text(key, nameof(key)), (int)durability,
                out Native.FlagResult r, out IntPtr err);
            Native.Check(status, err);
            return (r.Flag != 0, r.Revision);
        }

        /// <summary>Moves the expiry of a live key to now + <paramref name="expiresMs"/> (> 0); the revision does not change.</summary>
        public (bool Extended, long Revision) TryExtend(string key, long expiresMs, Durability durability = Durability.Persistent)
        {
            int status = Native.kahuna_try_extend(handle, Native.Text(key, nameof(key)), expiresMs, (int)durability,
                out Native.FlagResult r, out IntPtr err);
            Native.Check(status, err);
            return (r.Flag != 0, r.Revision);
        }

        /// <summary>Every live key whose bucket (the text before its last '/') is <paramref name="bucket"/>, ordered by key.</summary>
        public IReadOnlyList<Entry> GetByBucket(string bucket, Durability durability = Durability.Persistent)
        {
            int status = Native.kahuna_get_by_bucket(handle, Native.Text(bucket, nameof(bucket)), (int)durability,
                out Native.Entries r, out IntPtr err);
            return TakeEntries(status, err, ref r);
        }

        /// <summary>One page of at most <paramref name="limit"/> keys starting with <paramref name="prefix"/> (0 = the server's default).</summary>
        /// <param name="prefix">The key prefix.</param>
        /// <param name="limit">Page size; 0 for the server's default (100), at most 1000.</param>
        /// <param name="cursor">null for the first page, then the previous page's Cursor.</param>
        /// <param name="durability">The keyspace to read.</param>
        public ScanPage ScanByPrefix(string prefix, int limit = 0, byte[] cursor = null,
            Durability durability = Durability.Persistent)
        {
            if (limit < 0)
                throw new InvalidInputException($"limit must not be negative, got {limit}");
            int status = Native.kahuna_scan_by_prefix(handle, Native.Text(prefix, nameof(prefix)), (uint)limit, cursor,
                Native.Len(cursor), (int)durability, out Native.ScanPage r, out IntPtr err);
            try
            {
                Native.Check(status, err);
                return new ScanPage(ToEntries(r.Entries), Native.CopyBytes(r.Cursor, r.CursorLen), (long)r.Snapshot);
            }
            finally
            {
                Native.kahuna_scan_page_free(ref r);
            }
        }

        /// <summary>Every key starting with <paramref name="prefix"/>, all pages at one consistent snapshot.</summary>
        public IReadOnlyList<Entry> ScanAllByPrefix(string prefix, Durability durability = Durability.Persistent)
        {
            int status = Native.kahuna_scan_all_by_prefix(handle, Native.Text(prefix, nameof(prefix)), (int)durability,
                out Native.Entries r, out IntPtr err);
            return TakeEntries(status, err, ref r);
        }

        /// <summary>Takes the lock on <paramref name="resource"/> for <paramref name="owner"/> with a lease of
        /// <paramref name="expiresMs"/> milliseconds.</summary>
        /// <remarks>The rules are those of docs/locks.md: a free, released or expired lock is granted with the
        /// resource's previous fencing token + 1 (0 on its first grant ever); the owner that already holds it gets
        /// the same token back and its lease is <b>not</b> extended (use <see cref="TryExtendLock(string, byte[], long, Durability)"/>);
        /// while another owner holds a live lease the answer is <c>Locked = false</c> (not an exception).
        /// A call that timed out may still have taken the lock: calling again with the same owner is safe.</remarks>
        /// <param name="resource">The resource, routed like a key (non-empty, at most 4 KiB, not reserved).</param>
        /// <param name="owner">Who takes the lock: any non-empty bytes, at most 1024.</param>
        /// <param name="expiresMs">The lease in milliseconds (&gt; 0).</param>
        /// <param name="durability">The lock keyspace (Persistent locks survive failover; Ephemeral ones do not).</param>
        /// <returns>Whether <paramref name="owner"/> holds the lock, and its fencing token (0 when not locked).</returns>
        public (bool Locked, long FencingToken) TryLock(string resource, byte[] owner, long expiresMs,
            Durability durability = Durability.Persistent)
        {
            owner = Native.Owner(owner);
            int status = Native.kahuna_try_lock(handle, Native.Text(resource, nameof(resource)), owner,
                Native.Len(owner), expiresMs, (int)durability, out Native.LockResult r, out IntPtr err);
            Native.Check(status, err);
            return (r.Locked != 0, r.FencingToken);
        }

        /// <summary>TryLock with a UTF-8 string owner.</summary>
        public (bool Locked, long FencingToken) TryLock(string resource, string owner, long expiresMs,
            Durability durability = Durability.Persistent)
            => TryLock(resource, Native.Value(owner, nameof(owner)), expiresMs, durability);

        /// <summary>Like TryLock, but while another owner holds the lock, tries again (after 10 ms, doubling up
        /// to 250 ms) until it is granted or <paramref name="wait"/> has passed; returns the last answer.</summary>
        /// <param name="resource">The resource.</param>
        /// <param name="owner">Who takes the lock (non-empty).</param>
        /// <param name="expiresMs">The lease in milliseconds (&gt; 0).</param>
        /// <param name="wait">How long to keep trying (not negative; zero = one try). The thread blocks meanwhile.</param>
        /// <param name="durability">The lock keyspace.</param>
        public (bool Locked, long FencingToken) LockWithWait(string resource, byte[] owner, long expiresMs,
            TimeSpan wait, Durability durability = Durability.Persistent)
        {
            owner = Native.Owner(owner);
            long waitMs = WaitMilliseconds(wait);
            int status = Native.kahuna_lock_with_wait(handle, Native.Text(resource, nameof(resource)), owner,
                Native.Len(owner), expiresMs, waitMs, (int)durability, out Native.LockResult r, out IntPtr err);
            Native.Check(status, err);
            return (r.Locked != 0, r.FencingToken);
        }

        /// <summary>LockWithWait with a UTF-8 string owner.</summary>
        public (bool Locked, long FencingToken) LockWithWait(string resource, string owner, long expiresMs,
            TimeSpan wait, Durability durability = Durability.Persistent)
            => LockWithWait(resource, Native.Value(owner, nameof(owner)), expiresMs, wait, durability);

        /// <summary>Moves the end of <paramref name="owner"/>'s live lease to now + <paramref name="expiresMs"/>
        /// (&gt; 0) milliseconds.</summary>
        /// <returns>The fencing token, which does not change.</returns>
        /// <exception cref="LockDoesNotExistException">The lock is free: never taken, released, or its lease ran
        /// out (even its former owner must then take it again, and gets a new token).</exception>
        /// <exception cref="InvalidOwnerException">Another owner holds the lock.</exception>
        public long TryExtendLock(string resource, byte[] owner, long expiresMs, Durability durability = Durability.Persistent)
        {
            owner = Native.Owner(owner);
            int status = Native.kahuna_try_extend_lock(handle, Native.Text(resource, nameof(resource)), owner,
                Native.Len(owner), expiresMs, (int)durability, out long token, out IntPtr err);
            Native.Check(status, err);
            return token;
        }

        /// <summary>TryExtendLock with a UTF-8 string owner.</summary>
        public long TryExtendLock(string resource, string owner, long expiresMs, Durability durability = Durability.Persistent)
            => TryExtendLock(resource, Native.Value(owner, nameof(owner)), expiresMs, durability);

        /// <summary>Releases <paramref name="owner"/>'s lock, so the next TryLock by anyone is granted at once
        /// (with the next fencing token). A lease that ran out but that nobody took since can still be released.</summary>
        /// <exception cref="LockDoesNotExistException">The lock is not held (never taken, or already released).</exception>
        /// <exception cref="InvalidOwnerException">Another owner holds the lock.</exception>
        public void Unlock(string resource, byte[] owner, Durability durability = Durability.Persistent)
        {
            owner = Native.Owner(owner);
            int status = Native.kahuna_unlock(handle, Native.Text(resource, nameof(resource)), owner,
                Native.Len(owner), (int)durability, out IntPtr err);
            Native.Check(status, err);
        }

        /// <summary>Unlock with a UTF-8 string owner.</summary>
        public void Unlock(string resource, string owner, Durability durability = Durability.Persistent)
            => Unlock(resource, Native.Value(owner, nameof(owner)), durability);

        /// <summary>The live lock on <paramref name="resource"/>: owner, lease end and fencing token; null when the
        /// resource is free (never taken, released, or its lease ran out).</summary>
        /// <remarks>A free lock is a result here, not an exception, like a missing key for TryGetEntry (the C API
        /// and the Rust and Python clients answer LockDoesNotExist instead).</remarks>
        public LockInfo GetLock(string resource, Durability durability = Durability.Persistent)
        {
            int status = Native.kahuna_get_lock(handle, Native.Text(resource, nameof(resource)), (int)durability,
                out Native.LockInfo r, out IntPtr err);
            try
            {
                if (status == (int)StatusCode.LockDoesNotExist)
                {
                    Native.TakeString(err);
                    return null;
                }
                Native.Check(status, err);
                return new LockInfo(resource, Native.CopyBytes(r.Owner, r.OwnerLen), (long)r.ExpiresAt, r.FencingToken);
            }
            finally
            {
                Native.kahuna_lock_info_free(ref r);
            }
        }

        /// <summary>A handle on the lock of <paramref name="resource"/>, after one try to take it (or, with
        /// <paramref name="wait"/>, tries until it is granted or the wait has passed).</summary>
        /// <remarks>The handle is returned whether or not the lock was granted: check
        /// <see cref="KahunaLock.IsAcquired"/>. Disposing it releases the lock if it holds it:
        /// <code>using (var lk = client.Lock("jobs/reindex", 10000, TimeSpan.FromSeconds(5))) { if (lk.IsAcquired) ... }</code></remarks>
        /// <param name="resource">The resource, routed like a key.</param>
        /// <param name="ttlMs">The lease of every grant and extension, in milliseconds (&gt; 0).</param>
        /// <param name="wait">null (or zero): one try; otherwise how long to keep trying while another owner holds it.</param>
        /// <param name="durability">The lock keyspace.</param>
        /// <param name="owner">The owner id (UTF-8); null for a new unique one ("host/pid/random").</param>
        public KahunaLock Lock(string resource, long ttlMs, TimeSpan? wait = null,
            Durability durability = Durability.Persistent, string owner = null)
        {
            var lk = new KahunaLock(this, resource, ttlMs, durability, owner ?? KahunaLock.NewOwner());
            lk.TryAcquire(wait);
            return lk;
        }

        /// <summary>A wait as whole milliseconds; negative is InvalidInput.</summary>
        internal static long WaitMilliseconds(TimeSpan wait)
        {
            if (wait < TimeSpan.Zero)
                throw new InvalidInputException($"wait must not be negative, got {wait}");
            return (long)wait.TotalMilliseconds;
        }

        /// <summary>The cluster's members and partition leaders, as a node sees them now.</summary>
        public Topology GetTopology()
        {
            int status = Native.kahuna_get_topology(handle, out Native.Topology r, out IntPtr err);
            try
            {
                Native.Check(status, err);
                var nodes = new List<ClusterNode>();
                int nodeSize = Marshal.SizeOf(typeof(Native.Node));
                for (int i = 0; i < (int)r.NodeCount.ToUInt64(); i++)
                {
                    var n = (Native.Node)Marshal.PtrToStructure(
                        IntPtr.Add(r.Nodes, i * nodeSize), typeof(Native.Node));
                    nodes.Add(new ClusterNode((long)n.Id, Native.ReadString(n.Address)));
                }
                var partitions = new List<PartitionLeader>();
                int partitionSize = Marshal.SizeOf(typeof(Native.Partition));
                for (int i = 0; i < (int)r.PartitionCount; i++)
                {
                    var p = (Native.Partition)Marshal.PtrToStructure(
                        IntPtr.Add(r.Partitions, i * partitionSize), typeof(Native.Partition));
                    partitions.Add(new PartitionLeader((long)p.Leader, (long)p.Term));
                }
                return new Topology(r.ClusterId, Native.ReadString(r.ClusterName), nodes, partitions, (long)r.AnsweredBy);
            }
            finally
            {
                Native.kahuna_topology_free(ref r);
            }
        }

        /// <summary>Closes the client's connections and frees the native client (after calls in flight return).</summary>
        public void Dispose() => handle.Dispose();

        /// <summary>Copies a get result out (null when not found) and frees it.</summary>
        private static Entry TakeGetResult(string key, int status, IntPtr err, ref Native.GetResult r, out long revision)
        {
            try
            {
                Native.Check(status, err);
                revision = r.Revision;
                if (r.Found == 0)
                    return null;
                return new Entry(key, Native.CopyBytes(r.Value, r.ValueLen), r.Revision, (long)r.ExpiresAt, (long)r.LastModified);
            }
            finally
            {
                Native.kahuna_get_result_free(ref r);
            }
        }

        /// <summary>Copies a list of entries out and frees it.</summary>
        private static IReadOnlyList<Entry> TakeEntries(int status, IntPtr err, ref Native.Entries r)
        {
            try
            {
                Native.Check(status, err);
                return ToEntries(r);
            }
            finally
            {
                Native.kahuna_entries_free(ref r);
            }
        }

        private static IReadOnlyList<Entry> ToEntries(Native.Entries entries)
        {
            var list = new List<Entry>();
            foreach (var e in Native.ReadEntries(entries))
            {
                var key = Encoding.UTF8.GetString(Native.CopyBytes(e.Key, e.KeyLen));
                list.Add(new Entry(key, Native.CopyBytes(e.Value, e.ValueLen), e.Revision, (long)e.ExpiresAt, (long)e.LastModified));
            }
            return list;
        }
    }
}
