//! The C API (`libkahuna`, `bindings/c/include/kahuna.h`) as C programs use it: the programs
//! in `bindings/c/tests/*.c` are compiled with gcc, linked dynamically (with an rpath) and
//! statically, and run against real 3-node clusters.
//!
//! ```text
//!   this driver ── gcc ──> kv / errors / threads / locks / failover (tempdir)
//!        │                     │ KAHUNA_ENDPOINTS, KAHUNA_TEST_PREFIX
//!        └── Cluster::start ───┴──> 3 x kahuna-server
//! ```
//!
//! Each C program checks its own results and exits non-zero, naming the failed check, when one
//! is wrong; the driver asserts on the exit status and the program's last line. The libraries
//! are the ones `cargo build --release --workspace` put next to `kahuna-server`.

use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use kahuna_schema::routing::partition_for_key;
use kahuna_tests::program::{Progress, Running, check_failover_summary};
use kahuna_tests::{Cluster, ClusterOptions, wait_until};

/// How long one C program may run (valgrind is ~20x slower than the program alone).
const PROGRAM_TIMEOUT: Duration = Duration::from_secs(90);

/// Linking a C program against libkahuna.
#[derive(Clone, Copy, Debug)]
enum Link {
    /// `-lkahuna` with an rpath to `target/release`.
    Dynamic,
    /// `libkahuna.a -lpthread -ldl -lm`.
    Static,
}

/// A temp dir of C programs compiled against the built libkahuna.
struct CBuild {
    dir: tempfile::TempDir,
    lib_dir: PathBuf,
    root: PathBuf,
}

impl CBuild {
    fn new() -> CBuild {
        let so = kahuna_tests::built("libkahuna.so");
        let lib_dir = so.parent().expect("target/release").to_path_buf();
        for lib in ["libkahuna.so", "libkahuna.a"] {
            assert!(
                lib_dir.join(lib).is_file(),
                "no {lib} in {}: build it with `cargo build --release --workspace`",
                lib_dir.display()
            );
        }
        let root = kahuna_tests::repo_root();
        let dir = tempfile::Builder::new().prefix("kahuna-c-").tempdir().expect("a temp dir");
        CBuild { dir, lib_dir, root }
    }

    /// Compiles `bindings/c/tests/<name>.c` (all warnings are errors); returns the program.
    fn compile(&self, name: &str, link: Link) -> PathBuf {
        let tests = self.root.join("bindings/c/tests");
        let program = self.dir.path().join(format!("{name}-{link:?}").to_lowercase());
        let mut gcc = Command::new("gcc");
        gcc.args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic", "-g", "-O1", "-I"])
            .arg(self.root.join("bindings/c/include"))
            .arg("-I")
            .arg(&tests)
            .arg(tests.join(format!("{name}.c")))
            .arg("-o")
            .arg(&program);
        match link {
            Link::Dynamic => gcc
                .arg(format!("-L{}", self.lib_dir.display()))
                .arg("-lkahuna")
                .arg(format!("-Wl,-rpath,{}", self.lib_dir.display()))
                .arg("-lpthread"),
            Link::Static => gcc.arg(self.lib_dir.join("libkahuna.a")).args(["-lpthread", "-ldl", "-lm"]),
        };
        let out = gcc.output().expect("gcc runs (apt-get install build-essential)");
        assert!(out.status.success(), "gcc {name}.c ({link:?}) failed:\n{}", String::from_utf8_lossy(&out.stderr));
        program
    }

    /// Runs `command` with the cluster's endpoints, to completion; panics on failure.
    fn run(&self, mut command: Command, cluster: &Cluster, prefix: &str) -> String {
        let log = |stream: &str| self.dir.path().join(format!("{prefix}.{stream}"));
        command
            .env("KAHUNA_ENDPOINTS", cluster.endpoints().join(","))
            .env("KAHUNA_TEST_PREFIX", prefix)
            .stdin(Stdio::null())
            .stdout(File::create(log("stdout")).expect("stdout file"))
            .stderr(File::create(log("stderr")).expect("stderr file"));
        let mut child = Running(command.spawn().unwrap_or_else(|e| panic!("cannot start {command:?}: {e}")));
        let status = child.wait(PROGRAM_TIMEOUT);
        let stdout = std::fs::read_to_string(log("stdout")).unwrap_or_default();
        let stderr = std::fs::read_to_string(log("stderr")).unwrap_or_default();
        match status {
            Some(s) if s.success() => stdout,
            Some(s) => panic!("{command:?} exited with {s}\n--- stdout:\n{stdout}\n--- stderr:\n{stderr}"),
            None => panic!("{command:?} did not finish within {PROGRAM_TIMEOUT:?}\n{stdout}\n{stderr}"),
        }
    }
}

fn start_cluster() -> Cluster {
    Cluster::start(ClusterOptions::default()).expect("the cluster starts")
}

#[test]
fn every_operation_error_and_thread_through_both_linkages() {
    let build = CBuild::new();
    let programs = [
        ("kv", Link::Dynamic, "kv-dynamic", "kv: all passed"),
        ("kv", Link::Static, "kv-static", "kv: all passed"),
        ("errors", Link::Static, "errors", "errors: all passed"),
        ("threads", Link::Dynamic, "threads", "threads: all passed"),
        ("locks", Link::Dynamic, "locks", "locks: all passed"),
    ];
    let compiled: Vec<PathBuf> = programs.iter().map(|(name, link, ..)| build.compile(name, *link)).collect();
    let cluster = start_cluster();
    for ((_, _, prefix, last_line), program) in programs.iter().zip(compiled) {
        let stdout = build.run(Command::new(&program), &cluster, prefix);
        assert!(stdout.contains(last_line), "{prefix}: {stdout}");
        if prefix.starts_with("kv") {
            // Both durabilities ran every operation.
            for durability in ["persistent", "ephemeral"] {
                assert!(stdout.contains(&format!("ok test_bucket_and_scan(d) {durability}")), "{stdout}");
            }
        }
        if *prefix == "locks" {
            // Both durabilities ran every rule, the wait and the contending threads.
            for durability in ["persistent", "ephemeral"] {
                for test in [
                    "test_an_expired_lease_goes_to_the_next_owner_with_the_next_token",
                    "test_lock_with_wait",
                    "test_threads_contending_for_one_lock_never_hold_it_together",
                ] {
                    assert!(stdout.contains(&format!("ok {test}(d) {durability}")), "{stdout}");
                }
            }
            assert!(stdout.contains("ok test_invalid_input_names_the_argument"), "{stdout}");
        }
    }
}

#[test]
fn valgrind_finds_no_leak_in_a_program_that_frees_everything() {
    if Command::new("valgrind").arg("--version").output().is_err() {
        eprintln!("valgrind is not installed (apt-get install valgrind): skipping the leak check");
        return;
    }
    let build = CBuild::new();
    let programs = [("kv", "valgrind"), ("locks", "valgrind-locks")];
    let compiled: Vec<PathBuf> = programs.iter().map(|(name, _)| build.compile(name, Link::Dynamic)).collect();
    let cluster = start_cluster();
    for ((name, prefix), program) in programs.iter().zip(compiled) {
        let mut valgrind = Command::new("valgrind");
        valgrind
            .args(["--leak-check=full", "--errors-for-leak-kinds=definite,indirect,possible", "--error-exitcode=97"])
            .arg(format!("--suppressions={}", build.root.join("bindings/c/tests/valgrind.supp").display()))
            .arg(&program);
        let stdout = build.run(valgrind, &cluster, prefix);
        assert!(stdout.contains(&format!("{name}: all passed")), "{stdout}");
    }
}

#[test]
fn a_leader_killed_mid_run_does_not_fail_the_c_program() {
    let build = CBuild::new();
    let program = build.compile("failover", Link::Dynamic);
    let mut cluster = start_cluster();
    let key = "failover/c/key";
    let partition = partition_for_key(key, cluster.options().partitions);

    let mut child = Running(
        Command::new(&program)
            .arg(key)
            .env("KAHUNA_ENDPOINTS", cluster.endpoints().join(","))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the failover program starts"),
    );
    let mut progress = Progress::of(&mut child.0);

    // Phase 1: the loop runs; kill the leader of its key's partition in the middle of it.
    progress.wait_beyond(20, Duration::from_secs(30));
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
    let mut stderr = String::new();
    if let Some(mut e) = child.0.stderr.take() {
        let _ = std::io::Read::read_to_string(&mut e, &mut stderr);
    }
    let said = progress.other.join("\n");
    assert!(status.is_some_and(|s| s.success()), "the program failed: {status:?}\n{said}\n{stderr}");
    check_failover_summary(&progress.other);
}
