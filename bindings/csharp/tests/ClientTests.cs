// The tests of Kahuna.Client against a real cluster: every operation and its results in both
// durabilities, string overloads, the exception of every status code, invalid input of each
// kind, an unknown endpoint, Dispose, and many threads sharing one client.

using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Text;
using System.Threading;

namespace Kahuna.Tests
{
    public sealed class ClientTests : ClusterFixture
    {
        public ClientTests(string endpoints, string prefix) : base(endpoints, prefix) { }

        /// <summary>"prefix/p|e/name": a key of this run in this durability.</summary>
        private string Key(Durability d, string name) => $"{prefix}/{Tag(d)}/{name}";

        [Test]
        public void SetGetAndRevisions()
        {
            foreach (var d in Both)
            {
                var k = Key(d, "basic");
                Assert.Equal((true, 0L), client.TrySet(k, Encoding.UTF8.GetBytes("one"), durability: d), "first set");
                var first = client.TryGetEntry(k, d);
                Assert.Equal("one", first.ValueAsString, "value");
                Assert.Equal(0L, first.Revision, "revision");
                Assert.Equal(0L, first.ExpiresAt, "expires at");
                Assert.True(first.LastModified > 0, "last modified is an HLC timestamp");

                Assert.Equal((true, 1L), client.TrySet(k, "two", durability: d), "second set");
                var got = client.TryGet(k, d);
                Assert.True(got.Found, "found");
                Assert.Bytes(Encoding.UTF8.GetBytes("two"), got.Value);
                Assert.Equal(1L, got.Revision, "revision");
                Assert.Equal((true, "two", 1L), client.TryGetString(k, d), "string get");

                var old = client.TryGetRevision(k, 0, d);
                Assert.Equal("one", Encoding.UTF8.GetString(old.Value), "revision 0");
                Assert.False(client.TryGetRevision(k, 7, d).Found, "revision 7 was never written");

                var asOf = client.TryGetAsOf(k, first.LastModified, d);
                Assert.Equal("one", Encoding.UTF8.GetString(asOf.Value), "as of the first write");
                Assert.Equal(0L, asOf.Revision, "as-of revision");

                var missing = client.TryGet(Key(d, "never-written"), d);
                Assert.Equal((false, (byte[])null, -1L), missing, "missing key");
                Assert.Equal(null, client.TryGetEntry(Key(d, "never-written"), d), "missing entry");
            }
        }

        [Test]
        public void FlagsDecideWhetherASetHappens()
        {
            foreach (var d in Both)
            {
                var k = Key(d, "flags");
                Assert.Equal((false, -1L), client.TrySet(k, "x", 0, KeyValueFlags.SetIfExists, d), "if exists, absent");
                Assert.Equal((true, 0L), client.TrySet(k, "x", 0, KeyValueFlags.SetIfNotExists, d), "if not exists, absent");
                Assert.Equal((false, 0L), client.TrySet(k, "y", 0, KeyValueFlags.SetIfNotExists, d), "if not exists, present");
                Assert.Equal((true, 1L), client.TrySet(k, "y", 0, KeyValueFlags.SetIfExists | KeyValueFlags.NoRevision, d), "if exists");
                Assert.False(client.TryGetRevision(k, 0, d).Found, "NoRevision dropped revision 0");
            }
        }

        [Test]
        public void CompareAndSet()
        {
            foreach (var d in Both)
            {
                var k = Key(d, "cas");
                client.TrySet(k, "v1", durability: d);
                Assert.Equal((false, 0L), client.TryCompareValueAndSet(k, "v2", "wrong", durability: d), "value mismatch");
                Assert.Equal((true, 1L), client.TryCompareValueAndSet(k, Encoding.UTF8.GetBytes("v2"), Encoding.UTF8.GetBytes("v1"), 0, d), "value match");
                Assert.Equal((false, 1L), client.TryCompareRevisionAndSet(k, "v3", 0, durability: d), "revision mismatch");
                Assert.Equal((true, 2L), client.TryCompareRevisionAndSet(k, Encoding.UTF8.GetBytes("v3"), 1, 0, d), "revision match");
                Assert.Equal((false, -1L), client.TryCompareRevisionAndSet(Key(d, "cas-missing"), "v", 0, durability: d), "missing key");
            }
        }

        [Test]
        public void ExistsDeleteExtend()
        {
            foreach (var d in Both)
            {
                var k = Key(d, "life");
                Assert.Equal((false, -1L), client.TryExists(k, d), "never existed");
                client.TrySet(k, "a", 60000, durability: d);
                client.TrySet(k, "b", 60000, durability: d);
                Assert.Equal((true, 1L), client.TryExists(k, d), "exists");
                var before = client.TryGetEntry(k, d);
                Assert.True(before.ExpiresAt > before.LastModified, "an expiry is set");
                Assert.Equal((true, 1L), client.TryExtend(k, 600000, d), "extend");
                Assert.True(client.TryGetEntry(k, d).ExpiresAt > before.ExpiresAt, "the expiry moved");
                Assert.Equal((true, 1L), client.TryDelete(k, d), "delete keeps the revision");
                Assert.Equal((false, 1L), client.TryDelete(k, d), "a second delete");
                Assert.False(client.TryExists(k, d).Exists, "deleted");
                Assert.False(client.TryExtend(k, 1000, d).Extended, "extend of a deleted key");
                Assert.Equal((true, 2L), client.TrySet(k, "c", durability: d), "a set after delete continues the counter");
            }
        }

        [Test]
        public void KeysExpire()
        {
            foreach (var d in Both)
            {
                var k = Key(d, "expiring");
                client.TrySet(k, "soon gone", 300, durability: d);
                var watch = Stopwatch.StartNew();
                while (client.TryExists(k, d).Exists)
                {
                    Assert.True(watch.Elapsed < TimeSpan.FromSeconds(10), "the key expires within 10 s");
                    Thread.Sleep(25);
                }
                Assert.False(client.TryGet(k, d).Found, "an expired key is not found");
            }
        }

        [Test]
        public void EmptyBinaryAndUnicode()
        {
            foreach (var d in Both)
            {
                client.TrySet(Key(d, "empty"), new byte[0], durability: d);
                var empty = client.TryGet(Key(d, "empty"), d);
                Assert.True(empty.Found, "an empty value is a value");
                Assert.Bytes(new byte[0], empty.Value);

                var binary = new byte[] { 0, 1, 2, 0, 255 };
                var k = Key(d, "bïnär/鍵 🔑");
                client.TrySet(k, binary, durability: d);
                Assert.Bytes(binary, client.TryGet(k, d).Value, "binary value under a unicode key");
                Assert.Equal(k, client.GetByBucket(Key(d, "bïnär"), d).Single().Key, "unicode keys come back intact");
            }
        }

        [Test]
        public void BucketsAndScans()
        {
            var names = new[] { "scan/b/1", "scan/b/2", "scan/b/3", "scan/b/deeper/4", "scan/c/5", "scan/c/6", "scan/c/7" };
            foreach (var d in Both)
            {
                foreach (var n in names)
                    client.TrySet(Key(d, n), n, durability: d);
                var bucket = client.GetByBucket(Key(d, "scan/b"), d);
                Assert.Equal(string.Join(" ", names.Take(3).Select(n => Key(d, n))), string.Join(" ", bucket.Select(e => e.Key)), "bucket keys");
                Assert.Equal("scan/b/2", bucket[1].ValueAsString, "bucket value");
                Assert.Equal(0, client.GetByBucket(Key(d, "scan/none"), d).Count, "an empty bucket");

                var seen = new List<string>();
                byte[] cursor = null;
                long snapshot = 0;
                int pages = 0;
                do
                {
                    var page = client.ScanByPrefix(Key(d, "scan/"), 2, cursor, d);
                    Assert.True(page.Entries.Count <= 2, "a page holds at most the limit");
                    if (pages++ == 0)
                        snapshot = page.Snapshot;
                    Assert.Equal(snapshot, page.Snapshot, "every page reads at the first page's snapshot");
                    seen.AddRange(page.Entries.Select(e => e.Key));
                    cursor = page.Cursor;
                    Assert.Equal(cursor != null, page.HasMore, "HasMore");
                } while (cursor != null && pages < 20);
                Assert.Equal(string.Join(" ", names.Select(n => Key(d, n))), string.Join(" ", seen), "scan order");
                Assert.True(pages >= 4, "seven keys in pages of two");
                var all = client.ScanAllByPrefix(Key(d, "scan/"), d);
                Assert.Equal(7, all.Count, "scan all");
                Assert.Equal("scan/c/7", all[6].ValueAsString, "last value");
            }
        }

        [Test]
        public void DurabilitiesAreSeparateKeyspaces()
        {
            var k = $"{prefix}/shared-name";
            client.TrySet(k, "ephemeral", durability: Durability.Ephemeral);
            Assert.False(client.TryGet(k).Found, "not in the persistent keyspace");
            Assert.Equal("ephemeral", client.TryGetString(k, Durability.Ephemeral).Value, "in the ephemeral keyspace");
        }

        [Test]
        public void TopologyNamesEveryNodeAndLeader()
        {
            var t = client.GetTopology();
            Assert.True(t.ClusterId != 0, "cluster id");
            Assert.True(t.ClusterName.Length > 0, "cluster name");
            Assert.Equal(3, t.Nodes.Count, "nodes");
            Assert.Equal(8, t.Partitions.Count, "partitions");
            foreach (var p in t.Partitions)
            {
                Assert.True(t.Nodes.Any(n => n.Id == p.Leader), $"leader {p.Leader} is a member");
                Assert.True(p.Term > 0, "term");
            }
            Assert.True(t.Nodes.All(n => n.Address.StartsWith("127.0.0.1:")), "addresses");
            Assert.True(Client.NativeVersion.Length > 0, "native version");
        }

        [Test]
        public void EveryStatusCodeHasItsException()
        {
            var expected = new Dictionary<StatusCode, Type>
            {
                { StatusCode.InvalidInput, typeof(InvalidInputException) },
                { StatusCode.NotFound, typeof(NotFoundException) },
                { StatusCode.Aborted, typeof(AbortedException) },
                { StatusCode.MustRetry, typeof(MustRetryException) },
                { StatusCode.Unavailable, typeof(UnavailableException) },
                { StatusCode.Timeout, typeof(KahunaTimeoutException) },
                { StatusCode.LockDoesNotExist, typeof(LockDoesNotExistException) },
                { StatusCode.InvalidOwner, typeof(InvalidOwnerException) },
                { StatusCode.Internal, typeof(InternalException) },
                { StatusCode.ResourceExhausted, typeof(ResourceExhaustedException) },
            };
            for (int n = 1; n <= 10; n++)
            {
                var code = (StatusCode)n;
                var e = KahunaException.FromCode(code, "why");
                Assert.Equal(expected[code], e.GetType(), $"exception of {code}");
                Assert.Equal(code, e.Code, "code");
                Assert.Equal("why", e.Message, "message");
                Assert.Equal(code == StatusCode.MustRetry || code == StatusCode.Unavailable, e.IsRetriable, $"{code} retriable");
            }
            Assert.Equal(typeof(KahunaException), KahunaException.FromCode((StatusCode)42, "x").GetType(), "unknown code");
            Assert.Equal(9, (int)StatusCode.Internal, "the numbers are the C API's");
            Assert.Equal(10, (int)StatusCode.ResourceExhausted, "the numbers are the C API's");
        }

        [Test]
        public void InvalidInputNamesTheArgument()
        {
            Assert.Throws<InvalidInputException>(() => client.TrySet(null, "v"), "key is NULL");
            Assert.Throws<InvalidInputException>(() => client.TryGet(""), "key must not be empty");
            Assert.Throws<InvalidInputException>(() => client.TrySet("__kahuna:x", "v"), "reserved");
            Assert.Throws<InvalidInputException>(() => client.TryExists(new string('k', 4097)), "key");
            Assert.Throws<InvalidInputException>(() => client.TryGet("bad\uD800"), "key is not valid Unicode");
            Assert.Throws<InvalidInputException>(() => client.TryGet("nul\0inside"), "key must not contain NUL");
            Assert.Throws<InvalidInputException>(() => client.TrySet("k", (byte[])null), "value must not be null");
            Assert.Throws<InvalidInputException>(() => client.TrySet("k", (string)null), "value must not be null");
            Assert.Throws<InvalidInputException>(() => client.TryCompareValueAndSet("k", new byte[0], null), "compareValue must not be null");
            Assert.Throws<InvalidInputException>(() => client.TrySet("k", "v", -5), "expires_ms must not be negative, got -5");
            Assert.Throws<InvalidInputException>(() => client.TryExtend("k", 0), "expires_ms must be greater than 0");
            Assert.Throws<InvalidInputException>(() => client.TrySet("k", "v", 0, KeyValueFlags.SetIfExists | KeyValueFlags.SetIfNotExists), "if_exists");
            Assert.Throws<InvalidInputException>(() => client.TrySet("k", "v", 0, (KeyValueFlags)0x100), "flags has unknown bits 0x100");
            Assert.Throws<InvalidInputException>(() => client.TryGet("k", (Durability)7), "durability must be KAHUNA_PERSISTENT (0) or KAHUNA_EPHEMERAL (1), got 7");
            Assert.Throws<InvalidInputException>(() => client.TryGetRevision("k", -2), "revision");
            Assert.Throws<InvalidInputException>(() => client.TryGetAsOf("k", 0), "timestamp");
            Assert.Throws<InvalidInputException>(() => client.TryGetAsOf("k", -1), "timestamp must not be negative");
            Assert.Throws<InvalidInputException>(() => client.GetByBucket(null), "bucket is NULL");
            Assert.Throws<InvalidInputException>(() => client.ScanByPrefix(null), "prefix is NULL");
            Assert.Throws<InvalidInputException>(() => client.ScanByPrefix("p", -1), "limit must not be negative");
            // Only the server knows its value limit (16 MiB): its answer maps the same way.
            Assert.Throws<InvalidInputException>(() => client.TrySet($"{prefix}/big", new byte[17 << 20]), "value");
        }

        [Test]
        public void BadEndpointsAndOptions()
        {
            Assert.Throws<InvalidInputException>(() => new Client((string)null), "endpoints is NULL");
            Assert.Throws<InvalidInputException>(() => new Client(""), "at least one host:port");
            Assert.Throws<InvalidInputException>(() => new Client("localhost"), "host:port");
            Assert.Throws<InvalidInputException>(() => new Client(endpoints, new ClientOptions { Timeout = TimeSpan.Zero }), "options.Timeout");
            using (var c = new Client(endpoints.Split(','), new ClientOptions { Timeout = TimeSpan.FromSeconds(5) }))
                Assert.True(c.TryExists($"{prefix}/via-list").Revision == -1, "a client from a list of endpoints works");
        }

        [Test]
        public void UnknownEndpointIsUnavailableAfterTheTimeout()
        {
            var options = new ClientOptions { Timeout = TimeSpan.FromMilliseconds(1500), ConnectTimeout = TimeSpan.FromMilliseconds(200) };
            var watch = Stopwatch.StartNew();
            var e = Assert.Throws<UnavailableException>(() => new Client("127.0.0.1:1", options), "127.0.0.1:1");
            Assert.True(e.IsRetriable, "Unavailable is retriable");
            // Retries go on until less than one backoff pause (<= 500 ms) is left.
            Assert.True(watch.Elapsed >= TimeSpan.FromMilliseconds(900) && watch.Elapsed < TimeSpan.FromSeconds(5), $"took {watch.Elapsed}");
        }

        [Test]
        public void DisposeIsFinal()
        {
            var c = new Client(endpoints);
            c.TrySet($"{prefix}/dispose", "v");
            c.Dispose();
            c.Dispose();
            Assert.Throws<ObjectDisposedException>(() => c.TryGet($"{prefix}/dispose"));
        }

        [Test]
        public void ThreadsShareOneClient()
        {
            const int threads = 8, rounds = 40;
            var counter = $"{prefix}/threads/counter";
            var failures = new List<Exception>();
            var workers = Enumerable.Range(0, threads).Select(t => new Thread(() =>
            {
                try
                {
                    for (int i = 0; i < rounds; i++)
                    {
                        var d = i % 2 == 0 ? Durability.Persistent : Durability.Ephemeral;
                        var k = $"{prefix}/threads/{t}/{i % 4}";
                        var value = $"thread {t} round {i}";
                        var set = client.TrySet(k, value, durability: d);
                        Assert.True(set.Set, "set");
                        Assert.Equal((true, value, set.Revision), client.TryGetString(k, d), "read own write");
                        if (i % 4 == 0)
                            Increment(counter);
                    }
                    Assert.Equal(2, client.GetByBucket($"{prefix}/threads/{t}").Count, "persistent keys of the thread");
                }
                catch (Exception e)
                {
                    lock (failures)
                        failures.Add(e);
                }
            })).ToList();
            workers.ForEach(w => w.Start());
            workers.ForEach(w => w.Join());
            Assert.True(failures.Count == 0, "every thread succeeded: " + string.Join("\n", failures));
            var total = client.TryGetString(counter);
            Assert.Equal((threads * rounds / 4).ToString(), total.Value, "no increment was lost");
            Assert.Equal(threads * rounds / 4 - 1L, total.Revision, "one revision per increment");
        }

        /// <summary>Adds one to a decimal counter with compare-and-set, retrying on conflicts.</summary>
        private void Increment(string key)
        {
            for (int attempt = 0; attempt < 10000; attempt++)
            {
                var current = client.TryGetString(key);
                var next = ((current.Found ? long.Parse(current.Value) : 0) + 1).ToString();
                var r = current.Found
                    ? client.TryCompareRevisionAndSet(key, next, current.Revision)
                    : client.TrySet(key, next, 0, KeyValueFlags.SetIfNotExists);
                if (r.Set)
                    return;
            }
            throw new AssertionException("an increment never won its compare-and-set");
        }
    }
}
