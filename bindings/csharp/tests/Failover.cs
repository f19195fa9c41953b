// The C# side of the leader-kill test (tests/tests/csharp_binding.rs): a loop of writes and
// reads through one Client that must keep working while the driver kills the leader of the
// key's partition.
//
// Protocol: prints "iteration N" after every iteration; stops when a line arrives on stdin;
// prints "done iterations=N slowest=Tms at=I unknown=U" (the slowest iteration is the one that
// waited for the new leader). Every call must succeed, except that a write in flight
// on the killed leader's connection fails with KahunaTimeoutException ("outcome is unknown"):
// the client never retries such a write. The loop then reads the key to learn the outcome and
// writes again; the driver bounds how often that may happen.

using System;
using System.Threading;

namespace Kahuna.Tests
{
    public static class Failover
    {
        private static volatile bool stopRequested;

        public static int Run(string endpoints, string key)
        {
            try
            {
                using (var client = new Client(endpoints))
                {
                    var reader = new Thread(() => { Console.In.ReadLine(); stopRequested = true; }) { IsBackground = true };
                    reader.Start();
                    long iterations = 0, unknown = 0, revision = -1, slowestMs = 0, slowestAt = 0;
                    while (!stopRequested)
                    {
                        var watch = System.Diagnostics.Stopwatch.StartNew();
                        var text = iterations.ToString();
                        (bool Set, long Revision) r;
                        try
                        {
                            r = client.TrySet(key, text);
                        }
                        catch (KahunaTimeoutException e) when (e.Message.Contains("outcome is unknown"))
                        {
                            Console.WriteLine($"unknown outcome at iteration {iterations}: {e.Message}");
                            unknown++;
                            var seen = client.TryGetString(key);
                            Assert.True(seen.Value == text || seen.Value == (iterations - 1).ToString() || (!seen.Found && iterations == 0),
                                $"after an unknown outcome the key holds {seen.Value}");
                            r = client.TrySet(key, text);
                        }
                        Assert.True(r.Set, "an unconditional set is applied");
                        Assert.True(r.Revision > revision, "revisions grow");
                        revision = r.Revision;
                        var got = client.TryGetString(key);
                        Assert.Equal(text, got.Value, "the value read back");
                        Assert.Equal(revision, got.Revision, "the revision read back");
                        iterations++;
                        if (watch.ElapsedMilliseconds > slowestMs)
                        {
                            slowestMs = watch.ElapsedMilliseconds;
                            slowestAt = iterations;
                        }
                        Console.WriteLine($"iteration {iterations}");
                    }
                    Console.WriteLine($"done iterations={iterations} slowest={slowestMs}ms at={slowestAt} unknown={unknown}");
                    return 0;
                }
            }
            catch (Exception e)
            {
                Console.WriteLine($"failover loop failed: {e}");
                return 1;
            }
        }
    }
}
