// Hello.cs: the C# hello-world of Kahuna. Connects to the local cluster (KAHUNA_ENDPOINTS or
// 127.0.0.1:7071-7073) and does a set, a get and a compare-and-set.
//
// Build and run with Mono (from the repository root, after cargo build --release):
//   mcs -target:library -out:Kahuna.Client.dll bindings/csharp/src/*.cs
//   mcs -r:Kahuna.Client.dll -out:Hello.exe examples/csharp/Hello.cs
//   cp target/release/libkahuna.so . && mono Hello.exe

using System;
using Kahuna;

public static class Hello
{
    public static int Main()
    {
        var endpoints = Environment.GetEnvironmentVariable("KAHUNA_ENDPOINTS")
            ?? "127.0.0.1:7071,127.0.0.1:7072,127.0.0.1:7073";
        try
        {
            using (var client = new Client(endpoints))
            {
                var set = client.TrySet("config/greeting", "hello");
                Console.WriteLine($"set config/greeting -> revision {set.Revision}");

                var got = client.TryGetString("config/greeting");
                Console.WriteLine($"get config/greeting -> \"{got.Value}\" (revision {got.Revision})");

                var cas = client.TryCompareRevisionAndSet("config/greeting", "hello again", got.Revision);
                Console.WriteLine($"compare-revision-and-set -> set={(cas.Set ? "true" : "false")} revision {cas.Revision}");
            }
            return 0;
        }
        catch (KahunaException e)
        {
            Console.Error.WriteLine($"{e.Code}: {e.Message}");
            return 1;
        }
    }
}
