//! The C# example (`examples/csharp/Hello.cs`) compiles with Mono's `mcs` against
//! `bindings/csharp` and does set / get / compare-and-set against a real cluster.

use std::path::PathBuf;
use std::process::Command;

use kahuna_tests::{Cluster, ClusterOptions};

fn mcs(args: &[String]) {
    let out = Command::new("mcs").args(args).output().expect(
        "the C# compiler `mcs` is missing: install Mono with \
         `apt-get install -y --no-install-recommends mono-mcs mono-runtime` (or `scripts/deps.sh mono`)",
    );
    assert!(out.status.success(), "mcs {args:?} failed:\n{}", String::from_utf8_lossy(&out.stdout));
}

#[test]
fn the_csharp_example_runs_against_a_real_cluster() {
    let lib = kahuna_tests::built("libkahuna.so");
    assert!(lib.is_file(), "no {}: build it with cargo build --release --workspace", lib.display());
    let root = &kahuna_tests::repo_root();
    let dir = tempfile::Builder::new().prefix("kahuna-example-csharp-").tempdir().expect("a temp dir");
    std::fs::copy(&lib, dir.path().join("libkahuna.so")).expect("copy libkahuna.so next to the program");

    let mut sources: Vec<PathBuf> = std::fs::read_dir(root.join("bindings/csharp/src"))
        .expect("bindings/csharp/src")
        .map(|e| e.expect("an entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "cs"))
        .collect();
    sources.sort();
    let dll = dir.path().join("Kahuna.Client.dll");
    let mut args = vec!["-target:library".to_string(), format!("-out:{}", dll.display())];
    args.extend(sources.iter().map(|p| p.display().to_string()));
    mcs(&args);
    let exe = dir.path().join("Hello.exe");
    mcs(&[
        format!("-r:{}", dll.display()),
        format!("-out:{}", exe.display()),
        root.join("examples/csharp/Hello.cs").display().to_string(),
    ]);

    let cluster = Cluster::start(ClusterOptions::default()).expect("cluster starts");
    let out = Command::new("mono")
        .arg(&exe)
        .current_dir(dir.path())
        .env("KAHUNA_ENDPOINTS", cluster.endpoints().join(","))
        .output()
        .expect("mono runs the example");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("set config/greeting -> revision 0"), "{stdout}");
    assert!(stdout.contains("get config/greeting -> \"hello\" (revision 0)"), "{stdout}");
    assert!(stdout.contains("compare-revision-and-set -> set=true revision 1"), "{stdout}");
}
