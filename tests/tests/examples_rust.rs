//! The Rust example connects to a real cluster and does set / get / compare-and-set.

use std::process::Command;

use kahuna_tests::{Cluster, ClusterOptions};

#[test]
fn the_rust_example_runs_against_a_real_cluster() {
    let cluster = Cluster::start(ClusterOptions::default()).expect("cluster starts");
    let bin = kahuna_tests::built("kahuna-example-rust");
    let out = Command::new(&bin)
        .env("KAHUNA_ENDPOINTS", cluster.endpoints().join(","))
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e} (build it with cargo build --release --workspace)", bin.display()));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("set config/greeting -> revision 0"), "{stdout}");
    assert!(stdout.contains("get config/greeting -> \"hello\""), "{stdout}");
    assert!(stdout.contains("compare-revision-and-set -> set=true revision 1"), "{stdout}");
}
