//! Kahuna's process-level test harness: real `kahuna-server` processes on 127.0.0.1.
//!
//! End-to-end and fault tests (`tests/tests/*.rs`) start a [`Cluster`], drive it through
//! [`kahuna_client`], and inject faults the way an operator's bad day would: SIGKILL, SIGTERM,
//! SIGSTOP/SIGCONT, restarts on the same data directory.
//!
//! ```text
//!   test thread ── Cluster::start ──> spawner thread ── fork/exec ──> kahuna-server (node 1..n)
//!        │                                                             │ stderr/stdout
//!        │                                                             v
//!        │                          tempdir/ node-1/ (data)  node-1.log  node-2/ ...
//!        └── client() / wait_ready() ── Cap'n Proto ──> 127.0.0.1:<port of each node>
//! ```
//!
//! Rules the harness keeps so tests stay honest and clean:
//! - **No fixed sleeps.** Every wait is a predicate polled with a deadline ([`wait_until`]).
//! - **Nothing leaks.** [`Cluster`]'s `Drop` kills and reaps every node and removes the temp
//!   directory, also when the test panics. Servers are started with `PR_SET_PDEATHSIG` from a
//!   process-wide spawner thread, so even a test binary that is killed outright takes its
//!   servers with it. (Set `KAHUNA_KEEP_TEST_DIRS=1` to keep data and logs for a post-mortem.)
//! - **Failures explain themselves.** A cluster that does not become ready reports why, and the
//!   tail of every node's log.
//!
//! The server binary is not built by `cargo test -p kahuna-tests` (Cargo cannot depend on
//! another package's binary): build it first with `cargo build --release -p kahuna-server`, or
//! point `KAHUNA_SERVER_BIN` at one.

mod cluster;
pub mod http;
pub mod nemesis;
mod process;
pub mod program;
pub mod raw;
mod ready;

use std::path::PathBuf;
use std::time::{Duration, Instant};

pub use cluster::{Cluster, ClusterOptions, PeerAddresses, PortReservation, reserve_ports};

/// How often [`wait_until`] polls.
pub const POLL_INTERVAL: Duration = Duration::from_millis(25);

/// Polls `f` every [`POLL_INTERVAL`] until it returns `Some`, or fails after `timeout` with an
/// error naming `what` was awaited.
pub fn wait_until<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> anyhow::Result<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = f() {
            return Ok(value);
        }
        let now = Instant::now();
        if now >= deadline {
            anyhow::bail!("timed out after {timeout:?} waiting for {what}");
        }
        std::thread::sleep(POLL_INTERVAL.min(deadline - now));
    }
}

/// The repository root. Read from `CARGO_MANIFEST_DIR` at run time (cargo and nextest set it)
/// rather than at compile time, so a test binary reused from a target directory that was built
/// in another checkout still looks at this one.
pub fn repo_root() -> PathBuf {
    let manifest_dir =
        std::env::var_os("CARGO_MANIFEST_DIR").map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from);
    manifest_dir.parent().expect("tests/ has a parent").to_path_buf()
}

/// The `kahuna-server` binary: `$KAHUNA_SERVER_BIN`, else `kahuna-server` next to the running
/// executable (a tool in `target/release`) or in the directory above it (a test in
/// `target/release/deps`).
pub fn server_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("KAHUNA_SERVER_BIN") {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().unwrap_or_default();
    let dir = exe.parent().map(PathBuf::from).unwrap_or_default();
    let beside = dir.join("kahuna-server");
    if beside.is_file() {
        return beside;
    }
    dir.parent().map(PathBuf::from).unwrap_or(dir).join("kahuna-server")
}

/// `name` as the workspace build put it next to [`server_binary`]: another tool
/// (`kahuna-cli`, `kahuna-bench`) or a library (`libkahuna.so`).
pub fn built(name: &str) -> PathBuf {
    server_binary().with_file_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_until_returns_the_first_value() {
        let mut n = 0;
        let v = wait_until("n to reach 3", Duration::from_secs(5), || {
            n += 1;
            (n >= 3).then_some(n)
        })
        .unwrap();
        assert_eq!(v, 3);
    }

    #[test]
    fn wait_until_names_what_it_waited_for() {
        let started = Instant::now();
        let e = wait_until("godot", Duration::from_millis(60), || None::<()>).unwrap_err();
        assert_eq!(e.to_string(), "timed out after 60ms waiting for godot");
        assert!(started.elapsed() >= Duration::from_millis(60));
    }

    #[test]
    fn the_server_binary_sits_next_to_the_test_profile() {
        if std::env::var_os("KAHUNA_SERVER_BIN").is_none() {
            let bin = server_binary();
            assert_eq!(bin.file_name().unwrap(), "kahuna-server");
            assert_ne!(bin.parent().unwrap().file_name().unwrap(), "deps");
        }
    }
}
