//! The C# client (`bindings/csharp`, P/Invoke over libkahuna) under Mono against real 3-node
//! clusters: `mcs` compiles the library and its tests (a small runner in
//! `bindings/csharp/tests`), `mono` runs them with `libkahuna.so` copied next to the programs.
//!
//! ```text
//!   this driver ── mcs ──> Kahuna.Client.dll + KahunaTests.exe + libkahuna.so (tempdir)
//!        │                     │ KAHUNA_ENDPOINTS, KAHUNA_TEST_PREFIX
//!        └── Cluster::start ───┴──> 3 x kahuna-server
//! ```
//!
//! The tests cover every operation in both durabilities, the exception of every status code,
//! invalid input, an unknown endpoint, Dispose, threads sharing one client, the lock API and the
//! `KahunaLock` handle (`LockTests.cs`: every lock rule in both durabilities, `using` releasing,
//! waiting for a disposed holder, threads contending for one lock), and a leader killed while
//! the C# program loops.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use kahuna_schema::routing::partition_for_key;
use kahuna_tests::program::{Progress, Running, check_failover_summary};
use kahuna_tests::{Cluster, ClusterOptions, wait_until};

/// The library and test programs, compiled with mcs into a temp dir.
struct CSharpBuild {
    dir: tempfile::TempDir,
}

impl CSharpBuild {
    fn new() -> CSharpBuild {
        assert!(
            Command::new("mcs").arg("--version").output().is_ok_and(|o| o.status.success()),
            "the C# compiler `mcs` is missing: install Mono with \
             `apt-get install -y --no-install-recommends mono-mcs mono-runtime` (or `scripts/deps.sh mono`)"
        );
        let lib = kahuna_tests::built("libkahuna.so");
        assert!(lib.is_file(), "no {}: build it with `cargo build --release --workspace`", lib.display());
        let dir = tempfile::Builder::new().prefix("kahuna-csharp-").tempdir().expect("a temp dir");
        std::fs::copy(&lib, dir.path().join("libkahuna.so")).expect("copy libkahuna.so next to the programs");

        let root = &kahuna_tests::repo_root();
        let csharp = root.join("bindings/csharp");
        let dll = dir.path().join("Kahuna.Client.dll");
        mcs(Command::new("mcs")
            .args(["-target:library", "-warnaserror+"])
            .arg(format!("-out:{}", dll.display()))
            .arg(format!("-doc:{}", dir.path().join("Kahuna.Client.xml").display()))
            .args(sources(&csharp.join("src"))));
        mcs(Command::new("mcs")
            .args(["-warnaserror+", "-r:System.Core"])
            .arg(format!("-r:{}", dll.display()))
            .arg(format!("-out:{}", dir.path().join("KahunaTests.exe").display()))
            .args(sources(&csharp.join("tests"))));
        CSharpBuild { dir }
    }

    /// `mono KahunaTests.exe args...`, talking to `cluster`.
    fn tests(&self, cluster: &Cluster, args: &[&str]) -> Command {
        let mut command = Command::new("mono");
        command
            .arg(self.dir.path().join("KahunaTests.exe"))
            .args(args)
            .current_dir(self.dir.path())
            .env("KAHUNA_ENDPOINTS", cluster.endpoints().join(","));
        command
    }
}

/// Every `.cs` file in `dir`, sorted.
fn sources(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "cs"))
        .collect();
    files.sort();
    files
}

fn mcs(command: &mut Command) {
    let out = command.output().expect("mcs runs");
    assert!(
        out.status.success(),
        "{command:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_csharp_tests_pass_under_mono() {
    let build = CSharpBuild::new();
    let cluster = Cluster::start(ClusterOptions::default()).expect("the cluster starts");
    let out_path = build.dir.path().join("tests.out");
    let mut child = Running(
        build
            .tests(&cluster, &[])
            .env("KAHUNA_TEST_PREFIX", "cs")
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&out_path).expect("an output file"))
            .stderr(Stdio::inherit())
            .spawn()
            .expect("mono runs"),
    );
    let status = child.wait(Duration::from_secs(120));
    let out = std::fs::read_to_string(&out_path).unwrap_or_default();
    assert!(status.is_some_and(|s| s.success()), "the C# tests failed ({status:?}):\n{out}");
    let passed = out.lines().filter(|l| l.starts_with("PASS ")).count();
    assert!(passed >= 31 && out.contains(&format!("{passed} passed, 0 failed")), "{out}");
    for name in [
        "SetGetAndRevisions",
        "EveryStatusCodeHasItsException",
        "InvalidInputNamesTheArgument",
        "ThreadsShareOneClient",
        "FirstLockHasTokenZeroAndGetLockReportsIt",
        "AnExpiredLockGoesToTheNextOwnerWithTheNextToken",
        "InvalidLockInputNamesTheArgument",
        "UsingALockReleasesItOnExit",
        "ASecondLockWithAWaitAcquiresAfterTheFirstIsDisposed",
        "DisposeNeverThrowsForALostLock",
        "ThreadsContendingForOneLockNeverHoldItTogether",
    ] {
        assert!(out.contains(&format!("PASS {name} ")), "{name} did not pass:\n{out}");
    }
}

#[test]
fn a_leader_killed_mid_run_does_not_fail_the_csharp_program() {
    let build = CSharpBuild::new();
    let mut cluster = Cluster::start(ClusterOptions::default()).expect("the cluster starts");
    let key = "failover/csharp/key";
    let partition = partition_for_key(key, cluster.options().partitions);
    let mut child = Running(
        build
            .tests(&cluster, &["--failover", key])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("mono runs"),
    );
    let mut progress = Progress::of(&mut child.0);

    // Phase 1: the loop runs; kill the leader of its key's partition in the middle of it.
    progress.wait_beyond(20, Duration::from_secs(60));
    let victim = cluster.leader_of(partition).expect("the key's partition has a leader");
    cluster.kill(victim);
    let killed_at = progress.latest();

    // Phase 2: a new leader takes over and the program keeps going well past the kill.
    wait_until("a new leader", Duration::from_secs(30), || cluster.leader_of(partition).filter(|l| *l != victim))
        .expect("the partition elects a new leader");
    progress.wait_beyond(killed_at + 200, Duration::from_secs(60));

    // Phase 3: stop; every call succeeded (at most one write, in flight at the kill, had an
    // unknown outcome, which the program resolved by reading).
    child.0.stdin.take().expect("stdin").write_all(b"stop\n").expect("write stop");
    let status = child.wait(Duration::from_secs(30));
    progress.drain_until_exit();
    let said = &progress.other;
    assert!(status.is_some_and(|s| s.success()), "the C# loop failed ({status:?}):\n{}", said.join("\n"));
    check_failover_summary(&progress.other);
}
