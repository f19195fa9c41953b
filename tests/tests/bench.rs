//! `kahuna-bench` against a real cluster: every workload runs and reports what it measured in
//! its JSON line, the options that shape the writes reach the store (`--ephemeral`,
//! `--no-revision`), and options that only apply to Kahuna are refused for etcd by name.
//!
//! Numbers are not asserted beyond "something was measured and nothing failed": performance is
//! measured by running the tool, not by tests (docs/performance.md).

use std::process::{Command, Output};

use kahuna_client::{BlockingClient, Durability};
use kahuna_tests::{Cluster, ClusterOptions};

fn bench(args: &[&str]) -> Output {
    Command::new(kahuna_tests::built("kahuna-bench")).args(args).output().expect("kahuna-bench runs")
}

/// Runs a short bench against `endpoints` and returns its JSON line, after checking that it
/// exited 0, measured operations and counted no error.
#[track_caller]
fn measure(endpoints: &str, extra: &[&str]) -> serde_json::Value {
    let mut args = vec!["--endpoints", endpoints, "--duration", "1s", "--warmup", "0s", "--clients", "4", "--quiet"];
    args.extend_from_slice(extra);
    let out = bench(&args);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "kahuna-bench {args:?} failed\nstdout: {stdout}\nstderr: {stderr}");
    let json = stdout.lines().find(|l| l.starts_with('{')).unwrap_or_else(|| panic!("no JSON line in {stdout}"));
    let v: serde_json::Value = serde_json::from_str(json).expect("the JSON line parses");
    assert!(v["ops"].as_u64().is_some_and(|n| n > 0), "no operation measured: {v}");
    assert_eq!(v["errors"], 0, "errors in {args:?}: {v}\nstderr: {stderr}");
    for field in ["p50_ms", "p99_ms", "ops_per_sec"] {
        assert!(v[field].as_f64().is_some_and(|x| x > 0.0), "{field} missing or zero: {v}");
    }
    v
}

#[test]
fn every_workload_measures_a_real_cluster() {
    let cluster = Cluster::start(ClusterOptions::default()).expect("the cluster starts");
    let endpoints = cluster.endpoints().join(",");
    let keys = ["--keys", "200"];
    for workload in ["put", "get", "mixed", "cas", "lock"] {
        let v = measure(&endpoints, &[&["--workload", workload], &keys[..]].concat());
        assert_eq!(v["workload"], workload, "{v}");
        assert_eq!(v["durability"], "persistent", "{v}");
    }
    let v = measure(&endpoints, &["--workload", "put", "--ephemeral", "--keys", "200"]);
    assert_eq!(v["durability"], "ephemeral", "{v}");
    // Open loop: the rate is reported with the run.
    let v = measure(&endpoints, &["--workload", "get", "--rate", "200", "--keys", "200"]);
    assert_eq!(v["rate"], 200, "{v}");
}

/// With `--no-revision` each write replaces the previous version instead of keeping it as
/// history, in both keyspaces; without it the history is readable.
#[test]
fn no_revision_writes_keep_no_history() {
    let cluster = Cluster::start(ClusterOptions::default()).expect("the cluster starts");
    let endpoints = cluster.endpoints().join(",");
    let client: BlockingClient = cluster.client();
    let history = |prefix: &str, durability: Durability| -> bool {
        // Key 0 of 4 (`--key-size 1`: no padding), rewritten by four clients for a second.
        let key = format!("{prefix}/0/0");
        let latest = client.try_get(&key, durability).expect("get the latest");
        assert!(latest.found && latest.revision >= 1, "{key} was rewritten: {latest:?}");
        client.try_get_revision(&key, latest.revision - 1, durability).map(|r| r.found).unwrap_or(false)
    };
    let runs = [
        ("kept", &[][..], Durability::Persistent, true),
        ("dropped", &["--no-revision"][..], Durability::Persistent, false),
    ];
    for (prefix, flags, durability, expected) in runs {
        let v = measure(
            &endpoints,
            &[&["--workload", "put", "--keys", "4", "--key-size", "1", "--prefix", prefix], flags].concat(),
        );
        assert_eq!(v["no_revision"], !expected, "{v}");
        assert_eq!(history(prefix, durability), expected, "{prefix}: the previous revision");
    }
    let flags =
        ["--workload", "put", "--keys", "4", "--key-size", "1", "--ephemeral", "--no-revision", "--prefix", "eph"];
    measure(&endpoints, &flags);
    assert!(!history("eph", Durability::Ephemeral), "Ephemeral: the previous revision was dropped");
}

#[test]
fn kahuna_only_options_are_refused_for_etcd() {
    for option in ["--ephemeral", "--no-revision"] {
        let out = bench(&["--system", "etcd", "--endpoints", "127.0.0.1:1", option, "--duration", "1s", "--quiet"]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{option} with etcd must fail");
        assert!(stderr.contains(&format!("{option} applies to Kahuna only")), "{option}: {stderr}");
    }
}
