// The state every test fixture shares: the cluster's endpoints, this run's key prefix, and one
// client. TestRunner creates each fixture with (endpoints, prefix) and disposes it afterwards.

using System;

namespace Kahuna.Tests
{
    public abstract class ClusterFixture : IDisposable
    {
        protected static readonly Durability[] Both = { Durability.Persistent, Durability.Ephemeral };
        protected readonly string endpoints;
        protected readonly string prefix;
        protected readonly Client client;

        protected ClusterFixture(string endpoints, string prefix)
        {
            this.endpoints = endpoints;
            this.prefix = prefix;
            client = new Client(endpoints);
        }

        public void Dispose() => client.Dispose();

        /// <summary>"p" or "e": the path segment of a durability in keys and resources.</summary>
        protected static string Tag(Durability d) => d == Durability.Persistent ? "p" : "e";
    }
}
