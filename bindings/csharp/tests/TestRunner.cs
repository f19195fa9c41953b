// A tiny test runner for Kahuna.Client (no NUnit is reachable here): every public method of
// the fixtures (ClientTests, then LockTests) marked [Test] runs once, in declaration order; the
// runner prints PASS or FAIL with the exception for each, a summary line, and exits non-zero
// when anything failed. A fixture is built with (endpoints, prefix) and disposed after its tests.
//
//   mono KahunaTests.exe [name-filter]      run the tests whose name contains the filter
//   mono KahunaTests.exe --failover KEY     the write/read loop of the leader-kill test
//
// The cluster comes from $KAHUNA_ENDPOINTS; $KAHUNA_TEST_PREFIX keeps the keys of one run apart.

using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Reflection;

namespace Kahuna.Tests
{
    /// <summary>Marks a test method of a fixture (ClientTests, LockTests).</summary>
    [AttributeUsage(AttributeTargets.Method)]
    public sealed class TestAttribute : Attribute
    {
    }

    /// <summary>A failed assertion.</summary>
    public sealed class AssertionException : Exception
    {
        public AssertionException(string message) : base(message) { }
    }

    /// <summary>The assertions the tests use.</summary>
    public static class Assert
    {
        public static void True(bool condition, string what)
        {
            if (!condition)
                throw new AssertionException($"expected true: {what}");
        }

        public static void False(bool condition, string what) => True(!condition, "not " + what);

        public static void Equal<T>(T expected, T actual, string what = "value")
        {
            if (!EqualityComparer<T>.Default.Equals(expected, actual))
                throw new AssertionException($"{what}: expected <{expected}>, got <{actual}>");
        }

        public static void Bytes(byte[] expected, byte[] actual, string what = "bytes")
        {
            if (expected == null || actual == null ? expected != actual : !expected.SequenceEqual(actual))
                throw new AssertionException($"{what}: expected [{Show(expected)}], got [{Show(actual)}]");
        }

        /// <summary>Runs <paramref name="action"/>, which must throw exactly a <typeparamref name="T"/>
        /// whose message contains <paramref name="fragment"/>.</summary>
        public static T Throws<T>(Action action, string fragment = "") where T : Exception
        {
            try
            {
                action();
            }
            catch (Exception e)
            {
                if (e.GetType() != typeof(T))
                    throw new AssertionException($"expected {typeof(T).Name}, got {e.GetType().Name}: {e.Message}");
                if (!e.Message.Contains(fragment))
                    throw new AssertionException($"{typeof(T).Name} message \"{e.Message}\" lacks \"{fragment}\"");
                return (T)e;
            }
            throw new AssertionException($"expected {typeof(T).Name}, nothing was thrown");
        }

        private static string Show(byte[] b) => b == null ? "null" : string.Join(",", b);
    }

    public static class Runner
    {
        /// <summary>The test classes, in the order they run; test names are unique across them.</summary>
        private static readonly Type[] Fixtures = { typeof(ClientTests), typeof(LockTests) };

        public static int Main(string[] args)
        {
            var endpoints = Environment.GetEnvironmentVariable("KAHUNA_ENDPOINTS");
            if (string.IsNullOrEmpty(endpoints))
            {
                Console.Error.WriteLine("KAHUNA_ENDPOINTS is not set");
                return 2;
            }
            if (args.Length == 2 && args[0] == "--failover")
                return Failover.Run(endpoints, args[1]);

            var prefix = Environment.GetEnvironmentVariable("KAHUNA_TEST_PREFIX") ?? "cs";
            var filter = args.Length > 0 ? args[0] : "";
            int passed = 0, failed = 0;
            foreach (var type in Fixtures)
            {
                var tests = type.GetMethods(BindingFlags.Public | BindingFlags.Instance)
                    .Where(m => m.GetCustomAttributes(typeof(TestAttribute), false).Length > 0 && m.Name.Contains(filter))
                    .OrderBy(m => m.MetadataToken)
                    .ToList();
                if (tests.Count == 0)
                    continue;
                using (var fixture = (IDisposable)Activator.CreateInstance(type, endpoints, prefix))
                {
                    foreach (var test in tests)
                    {
                        var watch = Stopwatch.StartNew();
                        try
                        {
                            test.Invoke(fixture, null);
                            passed++;
                            Console.WriteLine($"PASS {test.Name} ({watch.ElapsedMilliseconds} ms)");
                        }
                        catch (TargetInvocationException e)
                        {
                            failed++;
                            Console.WriteLine($"FAIL {test.Name} ({watch.ElapsedMilliseconds} ms): {e.InnerException}");
                        }
                    }
                }
            }
            Console.WriteLine($"{passed} passed, {failed} failed");
            return failed == 0 && passed > 0 ? 0 : 1;
        }
    }
}
