//! The Python example connects to a real cluster and does set / get / compare-and-set.
//!
//! Needs the `kahuna` Python package installed (`python3 -m pip install ./bindings/python`,
//! which `scripts/test.sh` does).

use std::process::Command;

use kahuna_tests::{Cluster, ClusterOptions};

#[test]
fn the_python_example_runs_against_a_real_cluster() {
    let repo = &kahuna_tests::repo_root();
    let cluster = Cluster::start(ClusterOptions::default()).expect("cluster starts");
    let out = Command::new("python3")
        .arg(repo.join("examples/python/hello.py"))
        .env("KAHUNA_ENDPOINTS", cluster.endpoints().join(","))
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .expect("running python3 (is Python 3 installed?)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("No module named 'kahuna'"),
        "the kahuna Python package is not installed: run `python3 -m pip install ./bindings/python`"
    );
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("set config/greeting -> revision 0"), "{stdout}");
    assert!(stdout.contains("get config/greeting -> 'hello' (revision 0)"), "{stdout}");
    assert!(stdout.contains("compare-revision-and-set -> set=True revision 1"), "{stdout}");
    assert!(stdout.contains("compare-revision-and-set with the old revision -> set=False revision 1"), "{stdout}");
    assert!(stdout.contains("empty key -> InvalidInputError (code INVALID_INPUT): key must not be empty"), "{stdout}");
}
