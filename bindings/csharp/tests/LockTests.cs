// The tests of the lock API of Kahuna.Client against a real cluster, in both durabilities:
// every rule of docs/locks.md on TryLock / LockWithWait / TryExtendLock / Unlock / GetLock,
// invalid input named in the message, and the KahunaLock handle (using releases it, waiting for
// a disposed holder, Extend, a lease running out, Dispose never throwing for a lost lock),
// with threads contending for one lock through one client.

using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Text;
using System.Threading;

namespace Kahuna.Tests
{
    public sealed class LockTests : ClusterFixture
    {
        public LockTests(string endpoints, string prefix) : base(endpoints, prefix) { }

        /// <summary>"prefix/locks/p|e/name": a resource of this run in this durability.</summary>
        private string Res(Durability d, string name) => $"{prefix}/locks/{Tag(d)}/{name}";

        private static long WallMs() => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();

        private static long HlcMs(long hlc) => (long)((ulong)hlc >> 16);

        /// <summary>Polls <paramref name="condition"/> every 20 ms until it holds, failing after <paramref name="seconds"/>.</summary>
        private static void WaitFor(string what, Func<bool> condition, int seconds = 10)
        {
            var watch = Stopwatch.StartNew();
            while (!condition())
            {
                if (watch.Elapsed > TimeSpan.FromSeconds(seconds))
                    throw new AssertionException($"timed out after {seconds} s waiting for {what}");
                Thread.Sleep(20);
            }
        }

        [Test]
        public void FirstLockHasTokenZeroAndGetLockReportsIt()
        {
            foreach (var d in Both)
            {
                var r = Res(d, "first");
                Assert.Equal(null, client.GetLock(r, d), "a free resource has no lock (null, not an exception)");
                long before = WallMs();
                Assert.Equal((true, 0L), client.TryLock(r, "w1", 10000, d), "first grant");
                var info = client.GetLock(r, d);
                Assert.Equal(r, info.Resource, "resource");
                Assert.Bytes(Encoding.UTF8.GetBytes("w1"), info.Owner, "owner");
                Assert.Equal("w1", info.OwnerAsString, "owner as string");
                Assert.Equal(0L, info.FencingToken, "token");
                long lease = HlcMs(info.ExpiresAt) - before;
                Assert.True(lease >= 9000 && lease <= 11000, $"the lease ends about 10 s after the request ({lease} ms)");

                // Any bytes make an owner.
                var binary = new byte[] { 0, (byte)'w', 255 };
                Assert.Equal((true, 0L), client.TryLock(Res(d, "binary-owner"), binary, 10000, d), "binary owner");
                Assert.Bytes(binary, client.GetLock(Res(d, "binary-owner"), d).Owner, "binary owner read back");
                client.Unlock(Res(d, "binary-owner"), binary, d);
            }
        }

        [Test]
        public void OwnerReacquiringALockKeepsItsTokenAndLease()
        {
            foreach (var d in Both)
            {
                var r = Res(d, "reacquire");
                Assert.Equal((true, 0L), client.TryLock(r, "w1", 5000, d), "grant");
                var first = client.GetLock(r, d);
                Thread.Sleep(50);
                Assert.Equal((true, 0L), client.TryLock(r, Encoding.UTF8.GetBytes("w1"), 60000, d), "the owner again, as bytes");
                Assert.Equal(first.ExpiresAt, client.GetLock(r, d).ExpiresAt, "the lease was not extended");
            }
        }

        [Test]
        public void ALockHeldByAnotherOwnerIsBusy()
        {
            foreach (var d in Both)
            {
                var r = Res(d, "busy");
                Assert.True(client.TryLock(r, "w1", 10000, d).Locked, "w1 takes it");
                Assert.Equal((false, 0L), client.TryLock(r, "w2", 10000, d), "busy for w2 (a result, not an exception)");
                Assert.Equal("w1", client.GetLock(r, d).OwnerAsString, "w1 still holds it");
                client.Unlock(r, "w1", d);
                Assert.Equal((true, 1L), client.TryLock(r, "w2", 10000, d), "after a release: the next token");
                client.Unlock(r, "w2", d);
                Assert.Equal((true, 2L), client.TryLock(r, "w2", 10000, d), "the same owner after a release is a new holder");
            }
        }

        [Test]
        public void ExtendLockIsForTheOwnerAndKeepsTheToken()
        {
            foreach (var d in Both)
            {
                var r = Res(d, "extend");
                Assert.Throws<LockDoesNotExistException>(() => client.TryExtendLock(r, "w1", 1000, d), r);
                client.TryLock(r, "w1", 3000, d);
                var before = client.GetLock(r, d);
                Assert.Equal(0L, client.TryExtendLock(r, Encoding.UTF8.GetBytes("w1"), 30000, d), "extend returns the token");
                var after = client.GetLock(r, d);
                Assert.Equal(0L, after.FencingToken, "token unchanged");
                Assert.True(HlcMs(after.ExpiresAt) - HlcMs(before.ExpiresAt) >= 26000, "the lease moved (by about 30000 - 3000 ms)");
                var e = Assert.Throws<InvalidOwnerException>(() => client.TryExtendLock(r, "w2", 60000, d), "locked by another owner");
                Assert.Equal(StatusCode.InvalidOwner, e.Code, "code");
                Assert.False(e.IsRetriable, "not retriable");
                Assert.Equal(after.ExpiresAt, client.GetLock(r, d).ExpiresAt, "a refused extension changes nothing");
            }
        }

        [Test]
        public void UnlockOfALockIsForTheOwner()
        {
            foreach (var d in Both)
            {
                var r = Res(d, "unlock");
                var e = Assert.Throws<LockDoesNotExistException>(() => client.Unlock(r, "w1", d), r);
                Assert.Equal(StatusCode.LockDoesNotExist, e.Code, "code");
                client.TryLock(r, "w1", 10000, d);
                Assert.Throws<InvalidOwnerException>(() => client.Unlock(r, "w2", d), "locked by another owner");
                Assert.Equal("w1", client.GetLock(r, d).OwnerAsString, "still w1's");
                client.Unlock(r, Encoding.UTF8.GetBytes("w1"), d);
                Assert.Equal(null, client.GetLock(r, d), "released");
                Assert.Throws<LockDoesNotExistException>(() => client.Unlock(r, "w1", d), r);
            }
        }

        [Test]
        public void AnExpiredLockGoesToTheNextOwnerWithTheNextToken()
        {
            foreach (var d in Both)
            {
                var r = Res(d, "expiry");
                Assert.Equal((true, 0L), client.TryLock(r, "w1", 800, d), "short lease");
                Assert.False(client.TryLock(r, "w2", 10000, d).Locked, "busy while live");
                (bool Locked, long FencingToken) taken = (false, -1);
                WaitFor("the lease to run out", () => (taken = client.TryLock(r, "w2", 10000, d)).Locked, 5);
                Assert.Equal(1L, taken.FencingToken, "the next token");
                var info = client.GetLock(r, d);
                Assert.Equal(("w2", 1L), (info.OwnerAsString, info.FencingToken), "w2 holds it");
                Assert.Throws<InvalidOwnerException>(() => client.TryExtendLock(r, "w1", 10000, d), r);
                Assert.Throws<InvalidOwnerException>(() => client.Unlock(r, "w1", d), r);

                // A lapsed lease nobody took: free for GetLock and extend; even its owner is a new holder.
                var lapsed = Res(d, "lapsed");
                client.TryLock(lapsed, "w1", 200, d);
                Thread.Sleep(400);
                Assert.Equal(null, client.GetLock(lapsed, d), "lapsed = free");
                Assert.Throws<LockDoesNotExistException>(() => client.TryExtendLock(lapsed, "w1", 10000, d), lapsed);
                Assert.Equal((true, 1L), client.TryLock(lapsed, "w1", 10000, d), "after expiry even the owner is a new holder");
            }
        }

        [Test]
        public void LockWithWaitAcquiresWhenTheLeaseRunsOut()
        {
            foreach (var d in Both)
            {
                var r = Res(d, "wait");
                client.TryLock(r, "holder", 500, d);
                var watch = Stopwatch.StartNew();
                Assert.Equal((true, 1L), client.LockWithWait(r, "waiter", 10000, TimeSpan.FromSeconds(5), d), "granted after the lease");
                Assert.True(watch.ElapsedMilliseconds >= 250 && watch.ElapsedMilliseconds < 3000, $"waited {watch.ElapsedMilliseconds} ms");

                watch.Restart();
                Assert.Equal((false, 0L), client.LockWithWait(r, Encoding.UTF8.GetBytes("late"), 10000, TimeSpan.FromMilliseconds(300), d), "the wait runs out");
                Assert.True(watch.ElapsedMilliseconds >= 300 && watch.ElapsedMilliseconds < 2000, $"gave up after {watch.ElapsedMilliseconds} ms");
                Assert.Equal((false, 0L), client.LockWithWait(r, "late", 10000, TimeSpan.Zero, d), "zero = one try");
            }
        }

        [Test]
        public void LockDurabilitiesAreSeparateFromEachOtherAndFromKeys()
        {
            var r = $"{prefix}/locks/shared";
            Assert.Equal((true, 0L), client.TryLock(r, "p", 10000), "persistent");
            Assert.Equal((true, 0L), client.TryLock(r, "e", 10000, Durability.Ephemeral), "ephemeral");
            Assert.Equal("p", client.GetLock(r).OwnerAsString, "persistent owner");
            Assert.Equal("e", client.GetLock(r, Durability.Ephemeral).OwnerAsString, "ephemeral owner");
            Assert.False(client.TryGet(r).Found, "a lock is not a key");
        }

        [Test]
        public void InvalidLockInputNamesTheArgument()
        {
            var r = Res(Durability.Persistent, "invalid");
            Assert.Throws<InvalidInputException>(() => client.TryLock(null, "w", 1000), "resource is NULL");
            Assert.Throws<InvalidInputException>(() => client.TryLock("", "w", 1000), "resource must not be empty");
            Assert.Throws<InvalidInputException>(() => client.TryLock("__kahuna:x", "w", 1000), "reserved");
            Assert.Throws<InvalidInputException>(() => client.TryLock("nul\0inside", "w", 1000), "resource must not contain NUL");
            Assert.Throws<InvalidInputException>(() => client.TryLock(r, (string)null, 1000), "owner must not be null");
            Assert.Throws<InvalidInputException>(() => client.TryLock(r, (byte[])null, 1000), "owner must not be null");
            Assert.Throws<InvalidInputException>(() => client.TryLock(r, "", 1000), "owner must not be empty");
            Assert.Throws<InvalidInputException>(() => client.TryLock(r, new byte[0], 1000), "owner must not be empty");
            Assert.Throws<InvalidInputException>(() => client.TryLock(r, new byte[1025], 1000), "owner");
            Assert.Throws<InvalidInputException>(() => client.TryLock(r, "w", 0), "expires_ms must be greater than 0, got 0");
            Assert.Throws<InvalidInputException>(() => client.TryLock(r, "w", -5), "expires_ms must be greater than 0, got -5");
            Assert.Throws<InvalidInputException>(() => client.TryLock(r, "w", 1000, (Durability)5), "durability must be KAHUNA_PERSISTENT (0) or KAHUNA_EPHEMERAL (1), got 5");
            Assert.Throws<InvalidInputException>(() => client.LockWithWait(r, "w", 1000, TimeSpan.FromSeconds(-1)), "wait must not be negative");
            Assert.Throws<InvalidInputException>(() => client.LockWithWait(null, "w", 1000, TimeSpan.Zero), "resource is NULL");
            Assert.Throws<InvalidInputException>(() => client.TryExtendLock(r, "w", 0), "expires_ms must be greater than 0, got 0");
            Assert.Throws<InvalidInputException>(() => client.TryExtendLock("", "w", 1000), "resource must not be empty");
            Assert.Throws<InvalidInputException>(() => client.TryExtendLock(r, "", 1000), "owner must not be empty");
            Assert.Throws<InvalidInputException>(() => client.Unlock(null, "w"), "resource is NULL");
            Assert.Throws<InvalidInputException>(() => client.Unlock(r, (byte[])null), "owner must not be null");
            Assert.Throws<InvalidInputException>(() => client.Unlock(r, ""), "owner must not be empty");
            Assert.Throws<InvalidInputException>(() => client.GetLock(null), "resource is NULL");
            Assert.Throws<InvalidInputException>(() => client.GetLock(""), "resource must not be empty");
            Assert.Throws<InvalidInputException>(() => client.GetLock("bad\uD800"), "resource is not valid Unicode");
            Assert.Throws<InvalidInputException>(() => client.Lock(r, 0), "ttlMs must be greater than 0, got 0");
            Assert.Throws<InvalidInputException>(() => client.Lock(r, 1000, owner: ""), "owner must not be empty");
            Assert.Throws<InvalidInputException>(() => client.Lock("", 1000), "resource must not be empty");
            Assert.Throws<InvalidInputException>(() => client.Lock(r, 1000, TimeSpan.FromMilliseconds(-1)), "wait must not be negative");
            using (var lk = client.Lock(r, 1000))
            {
                Assert.Throws<InvalidInputException>(() => lk.Extend(-1), "ttlMs must be greater than 0, got -1");
                Assert.Throws<InvalidInputException>(() => lk.TryAcquire(TimeSpan.FromSeconds(-2)), "wait must not be negative");
            }
            Assert.Equal(null, client.GetLock(r), "nothing is left locked");
        }

        [Test]
        public void UsingALockReleasesItOnExit()
        {
            foreach (var d in Both)
            {
                var r = Res(d, "using");
                KahunaLock seen;
                using (var lk = client.Lock(r, 5000, durability: d))
                {
                    seen = lk;
                    Assert.True(lk.IsAcquired, "acquired");
                    Assert.Equal((long?)0, lk.FencingToken, "token");
                    Assert.Equal((r, 5000L, d), (lk.Resource, lk.TtlMs, lk.Durability), "properties");
                    Assert.True(lk.Remaining > TimeSpan.FromSeconds(4) && lk.Remaining <= TimeSpan.FromSeconds(5), $"remaining {lk.Remaining}");
                    Assert.Equal(lk.Owner, client.GetLock(r, d).OwnerAsString, "the handle's owner holds it");
                    Assert.False(client.TryLock(r, "other", 5000, d).Locked, "busy for others");
                }
                Assert.False(seen.IsAcquired, "not acquired after the block");
                Assert.Equal(TimeSpan.Zero, seen.Remaining, "nothing remaining");
                Assert.Equal((long?)0, seen.FencingToken, "the token of the last grant is kept");
                Assert.Equal(null, client.GetLock(r, d), "released on exit");
                seen.Release();
                seen.Dispose();

                try
                {
                    using (var lk = client.Lock(r, 5000, durability: d))
                    {
                        seen = lk;
                        Assert.Equal((long?)1, lk.FencingToken, "the next grant");
                        throw new InvalidOperationException("the block's own");
                    }
                }
                catch (InvalidOperationException e)
                {
                    Assert.Equal("the block's own", e.Message, "the block's exception comes through");
                }
                Assert.Equal(null, client.GetLock(r, d), "released on an exception too");
            }
        }

        [Test]
        public void ASecondLockWithAWaitAcquiresAfterTheFirstIsDisposed()
        {
            foreach (var d in Both)
            {
                var r = Res(d, "handover");
                var first = client.Lock(r, 10000, durability: d);
                Assert.True(first.IsAcquired, "first");
                using (var busy = client.Lock(r, 10000, durability: d))
                {
                    Assert.False(busy.IsAcquired, "busy without a wait");
                    Assert.Equal((long?)null, busy.FencingToken, "no token before a grant");
                }
                Assert.Equal(first.Owner, client.GetLock(r, d).OwnerAsString, "disposing a handle that never got the lock releases nothing");

                var disposer = new Thread(() => { Thread.Sleep(300); first.Dispose(); });
                var watch = Stopwatch.StartNew();
                disposer.Start();
                using (var second = client.Lock(r, 10000, TimeSpan.FromSeconds(5), d))
                {
                    long waited = watch.ElapsedMilliseconds;
                    Assert.True(second.IsAcquired, "the second handle got the lock");
                    Assert.Equal((long?)1, second.FencingToken, "with the next token");
                    Assert.True(waited >= 250 && waited < 2500, $"at the release, not at the expiry ({waited} ms)");
                    Assert.False(first.IsAcquired, "the first no longer holds it");
                    Assert.Equal(second.Owner, client.GetLock(r, d).OwnerAsString, "the second holds it");
                }
                disposer.Join();
                Assert.Equal(null, client.GetLock(r, d), "both released");

                // A wait that runs out returns a handle that does not hold the lock.
                using (var holder = client.Lock(r, 10000, durability: d))
                {
                    watch.Restart();
                    var late = client.Lock(r, 10000, TimeSpan.FromMilliseconds(300), d);
                    Assert.False(late.IsAcquired, "busy for the whole wait");
                    Assert.True(watch.ElapsedMilliseconds >= 300 && watch.ElapsedMilliseconds < 2000, $"gave up after {watch.ElapsedMilliseconds} ms");
                    Assert.False(late.TryAcquire(), "one more try");
                    late.Dispose();
                    Assert.True(holder.IsAcquired, "the holder keeps it");
                }
            }
        }

        [Test]
        public void DefaultLockOwnersAreUniqueAndReadable()
        {
            using (var a = client.Lock($"{prefix}/locks/owners/a", 5000))
            using (var b = client.Lock($"{prefix}/locks/owners/b", 5000))
            using (var me = client.Lock($"{prefix}/locks/owners/c", 5000, owner: "me"))
            {
                Assert.True(a.Owner != b.Owner, "two handles never share an owner");
                Assert.Equal(2, a.Owner.Count(c => c == '/'), "host/pid/random");
                Assert.True(a.Owner.Length < 300, "short");
                Assert.Equal("me", me.Owner, "an explicit owner");
                Assert.Equal("me", client.GetLock($"{prefix}/locks/owners/c").OwnerAsString, "locked as me");
                Assert.True(a.ToString().Contains("fencingToken=0"), a.ToString());
            }
        }

        [Test]
        public void LockExtendMovesTheLease()
        {
            var r = Res(Durability.Persistent, "handle-extend");
            var lk = client.Lock(r, 1000);
            Assert.Equal(0L, lk.Extend(5000), "extend returns the token");
            Thread.Sleep(1200);
            Assert.True(lk.IsAcquired && lk.Remaining > TimeSpan.FromSeconds(3), "the extended lease outlasts the first one");
            Assert.False(client.TryLock(r, "other", 1000).Locked, "still busy for others");
            Assert.Equal(0L, lk.Extend(), "the handle's TtlMs by default");
            lk.Release();
            Assert.Throws<LockDoesNotExistException>(() => lk.Extend(), r);
            Assert.False(lk.IsAcquired, "released");
            lk.Dispose();
        }

        [Test]
        public void IsAcquiredTurnsFalseWhenTheLockLeaseRunsOut()
        {
            var r = Res(Durability.Persistent, "lapse");
            using (var lk = client.Lock(r, 200))
            {
                Assert.True(lk.IsAcquired, "acquired");
                Thread.Sleep(300);
                Assert.False(lk.IsAcquired, "the lease ran out");
                Assert.Equal(TimeSpan.Zero, lk.Remaining, "nothing remaining");
            }
            Assert.Equal(null, client.GetLock(r), "free");
        }

        [Test]
        public void DisposeNeverThrowsForALostLock()
        {
            foreach (var d in Both)
            {
                // The lease ran out and another owner took the lock: Release says so, Dispose does not.
                var r = Res(d, "lost");
                var lk = client.Lock(r, 200, durability: d);
                WaitFor("the lease to run out", () => client.TryLock(r, "other", 10000, d).Locked, 5);
                Assert.Throws<InvalidOwnerException>(() => lk.Release(), "locked by another owner");
                lk.Release(); // nothing held any more: quiet
                client.Unlock(r, "other", d);

                var lk2 = client.Lock(r, 200, durability: d);
                WaitFor("the lease to run out", () => client.TryLock(r, "other", 10000, d).Locked, 5);
                lk2.Dispose();
                Assert.Equal("other", client.GetLock(r, d).OwnerAsString, "Dispose did not take it from the new owner");
                client.Unlock(r, "other", d);

                // Someone broke the lock: LockDoesNotExist counts as released.
                var lk3 = client.Lock(r, 10000, durability: d);
                client.Unlock(r, lk3.Owner, d);
                lk3.Dispose();
                var lk4 = client.Lock(r, 10000, durability: d);
                Assert.Throws<LockDoesNotExistException>(() => { client.Unlock(r, lk4.Owner, d); lk4.Extend(); }, r);
                Assert.False(lk4.IsAcquired, "a refused extension drops the handle's hold");
                lk4.Dispose();
            }
            // A client disposed before the lock: the lease runs out on its own, Dispose is quiet.
            var own = new Client(endpoints);
            var orphan = own.Lock(Res(Durability.Persistent, "orphan"), 10000);
            Assert.True(orphan.IsAcquired, "acquired");
            own.Dispose();
            orphan.Dispose();
        }

        [Test]
        public void ThreadsContendingForOneLockNeverHoldItTogether()
        {
            const int threads = 4, rounds = 5;
            foreach (var d in Both)
            {
                var r = Res(d, "contended");
                int inside = 0, overlaps = 0;
                var tokens = new List<long>();
                var failures = new List<Exception>();
                var workers = Enumerable.Range(0, threads).Select(t => new Thread(() =>
                {
                    try
                    {
                        for (int i = 0; i < rounds; i++)
                        {
                            using (var lk = client.Lock(r, 10000, TimeSpan.FromSeconds(30), d))
                            {
                                Assert.True(lk.IsAcquired, "acquired within the wait");
                                if (Interlocked.Increment(ref inside) != 1)
                                    Interlocked.Increment(ref overlaps);
                                lock (tokens)
                                    tokens.Add(lk.FencingToken.Value);
                                Thread.Sleep(5);
                                Interlocked.Decrement(ref inside);
                            }
                        }
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
                Assert.Equal(0, overlaps, "two holders at once");
                Assert.Equal(string.Join(",", Enumerable.Range(0, threads * rounds)), string.Join(",", tokens.OrderBy(t => t)),
                    "every grant went to a new holder: tokens 0, 1, 2, ...");
                Assert.Equal(null, client.GetLock(r, d), "free at the end");
            }
        }
    }
}
