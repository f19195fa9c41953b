//! The C example (`examples/c/hello.c`) compiles against `kahuna.h` and `libkahuna`, and does
//! set / get / compare-and-set against a real cluster.

use std::process::Command;

use kahuna_tests::{Cluster, ClusterOptions};

#[test]
fn the_c_example_runs_against_a_real_cluster() {
    let lib_dir = kahuna_tests::built("libkahuna.so");
    let lib_dir = lib_dir.parent().expect("target/release");
    assert!(
        lib_dir.join("libkahuna.so").is_file(),
        "no libkahuna.so in {}: build it with cargo build --release --workspace",
        lib_dir.display()
    );
    let root = &kahuna_tests::repo_root();
    let dir = tempfile::Builder::new().prefix("kahuna-example-c-").tempdir().expect("a temp dir");
    let program = dir.path().join("hello");
    let gcc = Command::new("gcc")
        .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-I"])
        .arg(root.join("bindings/c/include"))
        .arg(root.join("examples/c/hello.c"))
        .arg(format!("-L{}", lib_dir.display()))
        .arg("-lkahuna")
        .arg(format!("-Wl,-rpath,{}", lib_dir.display()))
        .arg("-o")
        .arg(&program)
        .output()
        .expect("gcc runs");
    assert!(gcc.status.success(), "gcc examples/c/hello.c failed:\n{}", String::from_utf8_lossy(&gcc.stderr));

    let cluster = Cluster::start(ClusterOptions::default()).expect("cluster starts");
    let out = Command::new(&program)
        .env("KAHUNA_ENDPOINTS", cluster.endpoints().join(","))
        .output()
        .expect("the example runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("set config/greeting -> revision 0"), "{stdout}");
    assert!(stdout.contains("get config/greeting -> \"hello\" (revision 0)"), "{stdout}");
    assert!(stdout.contains("compare-revision-and-set -> set=true revision 1"), "{stdout}");
}
