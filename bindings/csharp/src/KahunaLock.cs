// KahunaLock: a disposable handle on one leased lock, made by Client.Lock.
//
//   using (var lk = client.Lock("jobs/reindex", ttlMs: 10000, wait: TimeSpan.FromSeconds(5)))
//   {
//       if (!lk.IsAcquired) return;                    // busy for the whole wait
//       WriteProtectedData(fence: lk.FencingToken.Value);
//   }                                                  // Dispose releases the lock
//
// A thin layer over the four lock calls of Client (TryLock, TryExtendLock, Unlock; the rules
// are those of docs/locks.md), like the Python binding's kahuna.Lock. It adds:
// - a default owner unique to the handle ("host/pid/random"), so two handles never share a
//   grant by accident;
// - waiting: retries while another owner holds the lock (10 ms, doubling up to 250 ms);
// - the client's view of the lease: a grant is taken to end ttlMs after the request that got
//   it was *sent* (the server's lease starts later, so this view is never the longer one), and
//   IsAcquired turns false when it ends;
// - Dispose: releases the lock if the handle holds it, and never throws because the lock was
//   already lost (LockDoesNotExist, InvalidOwner): its lease may simply have run out.

using System;
using System.Diagnostics;
using System.Threading;

namespace Kahuna
{
    /// <summary>A handle on one leased lock, made by <see cref="Client.Lock"/>; disposing it releases the
    /// lock if the handle holds it. Thread-safe.</summary>
    public sealed class KahunaLock : IDisposable
    {
        /// <summary>The first pause between two tries while waiting for a busy lock, in milliseconds.</summary>
        private const int FirstPauseMs = 10;

        /// <summary>The longest pause between two tries, in milliseconds.</summary>
        private const int MaxPauseMs = 250;

        /// <summary>The monotonic clock the lease is measured on.</summary>
        private static readonly Stopwatch Clock = Stopwatch.StartNew();

        private readonly Client client;
        private readonly byte[] ownerBytes;
        private readonly object gate = new object();

        /// <summary>True while this handle has a grant it has not released and that the server has not refused
        /// (its lease may still have run out: see leaseEndMs).</summary>
        private bool held;

        /// <summary>The fencing token of the latest grant; null before any.</summary>
        private long? token;

        /// <summary>Clock time (ms) at which the client's view of the lease ends.</summary>
        private double leaseEndMs;

        internal KahunaLock(Client client, string resource, long ttlMs, Durability durability, string owner)
        {
            CheckTtl(nameof(ttlMs), ttlMs);
            ownerBytes = Native.Value(owner, nameof(owner));
            if (ownerBytes.Length == 0)
                throw new InvalidInputException("owner must not be empty");
            this.client = client;
            Resource = resource;
            Owner = owner;
            TtlMs = ttlMs;
            Durability = durability;
        }

        /// <summary>The locked resource.</summary>
        public string Resource { get; }

        /// <summary>The owner id this handle locks as (its UTF-8 bytes are what <see cref="LockInfo.Owner"/> shows).</summary>
        public string Owner { get; }

        /// <summary>The lease of a grant or an extension, in milliseconds.</summary>
        public long TtlMs { get; }

        /// <summary>The lock's keyspace.</summary>
        public Durability Durability { get; }

        /// <summary>The fencing token of the latest grant (kept after the lock is released); null when this
        /// handle never got the lock. Pass it to every resource written under the lock.</summary>
        public long? FencingToken
        {
            get
            {
                lock (gate)
                    return token;
            }
        }

        /// <summary>True while this handle holds the lock as far as the client can tell: granted, not released,
        /// not refused on an extension, and its lease (counted from when the request was sent) not run out.</summary>
        public bool IsAcquired
        {
            get
            {
                lock (gate)
                    return held && NowMs() < leaseEndMs;
            }
        }

        /// <summary>What is left of the client's view of the lease (zero when not acquired).</summary>
        public TimeSpan Remaining
        {
            get
            {
                double left;
                lock (gate)
                    left = held ? leaseEndMs - NowMs() : 0;
                if (left <= 0)
                    return TimeSpan.Zero;
                return left >= TimeSpan.MaxValue.TotalMilliseconds ? TimeSpan.MaxValue : TimeSpan.FromMilliseconds(left);
            }
        }

        /// <summary>Tries to take the lock; while another owner holds it, tries again for up to
        /// <paramref name="wait"/> (null or zero: one try). Returns <see cref="IsAcquired"/>.</summary>
        /// <remarks>Taking a lock this handle already holds returns the same grant (same token) and, as the
        /// server does, does not extend its lease: use <see cref="Extend"/> for that.</remarks>
        public bool TryAcquire(TimeSpan? wait = null)
        {
            double deadline = NowMs() + (wait.HasValue ? Client.WaitMilliseconds(wait.Value) : 0);
            int pause = FirstPauseMs;
            while (true)
            {
                double sent = NowMs();
                var (locked, fencingToken) = client.TryLock(Resource, ownerBytes, TtlMs, Durability);
                if (locked)
                {
                    Granted(fencingToken, sent);
                    return IsAcquired;
                }
                double now = NowMs();
                if (now >= deadline)
                    return false;
                Thread.Sleep((int)Math.Ceiling(Math.Min(pause, deadline - now)));
                pause = Math.Min(pause * 2, MaxPauseMs);
            }
        }

        private void Granted(long fencingToken, double sent)
        {
            lock (gate)
            {
                bool sameGrant = held && token == fencingToken;
                if (!sameGrant)
                    leaseEndMs = sent + TtlMs;
                held = true;
                token = fencingToken;
            }
        }

        /// <summary>Moves the end of the lease to now + <paramref name="ttlMs"/> (default: <see cref="TtlMs"/>)
        /// and returns the (unchanged) fencing token.</summary>
        /// <exception cref="LockDoesNotExistException">The lock is free (released, or its lease ran out); this
        /// handle no longer holds it.</exception>
        /// <exception cref="InvalidOwnerException">Another owner holds the lock; this handle no longer holds it.</exception>
        public long Extend(long? ttlMs = null)
        {
            long ttl = ttlMs ?? TtlMs;
            CheckTtl(nameof(ttlMs), ttl);
            double sent = NowMs();
            long fencingToken;
            try
            {
                fencingToken = client.TryExtendLock(Resource, ownerBytes, ttl, Durability);
            }
            catch (KahunaException e) when (e is LockDoesNotExistException || e is InvalidOwnerException)
            {
                lock (gate)
                    held = false;
                throw;
            }
            lock (gate)
            {
                held = true;
                token = fencingToken;
                leaseEndMs = sent + ttl;
            }
            return fencingToken;
        }

        /// <summary>Releases the lock if this handle holds it; does nothing otherwise (a second call included).</summary>
        /// <remarks>A lock that is already free (its lease ran out and nobody took it, or an Ephemeral lock lost
        /// with its partition leader) counts as released, and so does one another owner took while the release
        /// was on its way, if the release was asked for before this handle's lease ran out.</remarks>
        /// <exception cref="InvalidOwnerException">The release came after the lease ran out and another owner
        /// holds the lock: the work done under it may have overlapped theirs.</exception>
        public void Release()
        {
            bool wasHeld, inTime;
            lock (gate)
            {
                wasHeld = held;
                held = false;
                inTime = NowMs() < leaseEndMs;
            }
            if (!wasHeld)
                return;
            try
            {
                client.Unlock(Resource, ownerBytes, Durability);
            }
            catch (LockDoesNotExistException)
            {
            }
            catch (InvalidOwnerException) when (inTime)
            {
            }
        }

        /// <summary>Releases the lock if this handle holds it. Never throws because the lock was already lost
        /// (LockDoesNotExist, InvalidOwner: the lease may have run out) or because the client was disposed first
        /// (the lease then runs out on its own); other failures, such as a timeout whose outcome is unknown, are
        /// thrown.</summary>
        public void Dispose()
        {
            try
            {
                Release();
            }
            catch (InvalidOwnerException)
            {
            }
            catch (ObjectDisposedException)
            {
            }
        }

        /// <inheritdoc/>
        public override string ToString()
            => $"KahunaLock(resource={Resource}, owner={Owner}, fencingToken={FencingToken?.ToString() ?? "none"}, acquired={IsAcquired})";

        /// <summary>A fresh owner id: "host/pid/&lt;128 random bits&gt;", readable in GetLock.</summary>
        internal static string NewOwner()
        {
            int pid;
            using (var self = Process.GetCurrentProcess())
                pid = self.Id;
            return $"{Environment.MachineName}/{pid}/{Guid.NewGuid():N}";
        }

        private static void CheckTtl(string name, long ttlMs)
        {
            if (ttlMs <= 0)
                throw new InvalidInputException($"{name} must be greater than 0, got {ttlMs}");
        }

        private static double NowMs() => Clock.Elapsed.TotalMilliseconds;
    }
}
