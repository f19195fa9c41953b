//! A cluster of real `kahuna-server` processes, owned by one test.
//!
//! Node `i` (0-based) has node id `i + 1`, a fixed port chosen at start, a data directory
//! `<tempdir>/node-<id>` and a log `<tempdir>/node-<id>.log` that every incarnation appends
//! to. Killing and restarting a node keeps its id, port and data, like a machine rebooting.
//!
//! ```text
//!   Cluster { tempdir, nodes: [Node { id, reserved port, child: Option<Child>, paused }] }
//!     start ─ ports ─ spawn all ─ wait_ready
//!     kill (SIGKILL) / stop (SIGTERM, must exit 0) / pause (SIGSTOP) / resume / restart
//!     Drop ─ SIGKILL + reap everything ─ remove tempdir
//! ```
//!
//! Ports are found by binding `127.0.0.1:0` for every node at once. Each port stays reserved
//! for the cluster's lifetime by a socket that is bound with `SO_REUSEADDR` but never listens:
//! the server (which binds with `SO_REUSEADDR` too) can still listen on it, while the kernel
//! never hands the port to another `bind(0)` (a nemesis proxy link, another test's cluster),
//! not even while the node is down between a kill and its restart.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use anyhow::Context;
use kahuna_client::{BlockingClient, ClientOptions};
use nix::sys::signal::Signal;

use crate::process;

/// How long `stop` waits for a node to exit after SIGTERM.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// What cluster to start.
#[derive(Clone, Debug)]
pub struct ClusterOptions {
    /// Number of nodes (default 3).
    pub nodes: usize,
    /// Number of data partitions (default 8).
    pub partitions: u32,
    /// Extra command-line arguments for every node.
    pub extra_args: Vec<String>,
    /// Extra environment variables for every node (`RUST_LOG` defaults to `info,openraft=error`, and
    /// `NO_COLOR=1` is always set since logs go to files).
    pub env: Vec<(String, String)>,
    /// How long `start` and `start_all` wait for the cluster to be ready (default 60 s).
    pub ready_timeout: Duration,
    /// Per-node peer addresses (default `None`: every node is told every node's real address).
    /// With `Some`, node `from` is started with `--peers ...,<id of to>=f(from, to, real)` for
    /// every other node `to`, so a test can put a proxy on each link (the nemesis does). The
    /// cluster id depends only on node ids, so nodes may see different addresses.
    pub peer_addresses: Option<PeerAddresses>,
    /// Start every node with an admin HTTP endpoint on a port of its own
    /// ([`Cluster::admin_endpoint`]).
    pub admin: bool,
}

/// `f(from, to, real address of to) -> address node from is told for node to`.
type PeerAddressFn = dyn Fn(usize, usize, &str) -> String + Send + Sync;

/// Chooses the address node `from` uses for node `to` (indexes), given `to`'s real address.
#[derive(Clone)]
pub struct PeerAddresses(Arc<PeerAddressFn>);

impl PeerAddresses {
    /// Wraps `f(from, to, real address) -> address to use`.
    pub fn new(f: impl Fn(usize, usize, &str) -> String + Send + Sync + 'static) -> PeerAddresses {
        PeerAddresses(Arc::new(f))
    }

    /// The address node `from` is told for node `to`.
    pub fn address(&self, from: usize, to: usize, real: &str) -> String {
        (self.0)(from, to, real)
    }
}

impl std::fmt::Debug for PeerAddresses {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PeerAddresses(..)")
    }
}

impl Default for ClusterOptions {
    fn default() -> ClusterOptions {
        ClusterOptions {
            nodes: 3,
            partitions: 8,
            extra_args: Vec::new(),
            env: Vec::new(),
            ready_timeout: Duration::from_secs(60),
            peer_addresses: None,
            admin: false,
        }
    }
}

pub(crate) struct Node {
    pub(crate) id: u64,
    /// The node's port, kept out of other `bind(0)` calls while the cluster lives (see the
    /// module doc).
    pub(crate) port: PortReservation,
    /// The admin endpoint's port, when the cluster has them.
    pub(crate) admin_port: Option<PortReservation>,
    pub(crate) child: Mutex<Option<Child>>,
    pub(crate) paused: bool,
}

impl Node {
    /// The address the node listens on.
    fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port.port())
    }

    /// The process slot (a panic while holding it does not make it unusable).
    fn lock_child(&self) -> MutexGuard<'_, Option<Child>> {
        self.child.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn child_mut(&mut self) -> &mut Option<Child> {
        self.child.get_mut().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A running cluster; kills its processes and removes its files on drop.
pub struct Cluster {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) options: ClusterOptions,
    pub(crate) nodes: Vec<Node>,
    pub(crate) name: String,
    pub(crate) probe_keys: Vec<String>,
}

impl Cluster {
    /// Starts `options.nodes` servers and waits until the cluster is ready.
    pub fn start(options: ClusterOptions) -> anyhow::Result<Cluster> {
        anyhow::ensure!(options.nodes > 0, "a cluster needs at least one node");
        anyhow::ensure!(options.partitions > 0, "a cluster needs at least one partition");
        let dir = tempfile::Builder::new().prefix("kahuna-test-").tempdir()?;
        let reservations = reserve_ports(options.nodes)?;
        let mut admin_ports = if options.admin { reserve_ports(options.nodes)? } else { Vec::new() }.into_iter();
        static CLUSTERS: AtomicU64 = AtomicU64::new(0);
        let name = format!("test-{}-{}", std::process::id(), CLUSTERS.fetch_add(1, Ordering::Relaxed));
        let nodes = reservations
            .into_iter()
            .enumerate()
            .map(|(i, port)| Node {
                id: i as u64 + 1,
                port,
                admin_port: admin_ports.next(),
                child: Mutex::new(None),
                paused: false,
            })
            .collect();
        let probe_keys = crate::ready::probe_keys(options.partitions);
        let mut cluster = Cluster { dir, options, nodes, name, probe_keys };
        for i in 0..cluster.nodes.len() {
            cluster.spawn_node(i)?;
        }
        cluster.wait_ready(cluster.options.ready_timeout)?;
        Ok(cluster)
    }

    /// The number of nodes (running or not).
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// True when the cluster has no nodes (never, once started).
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The options the cluster was started with.
    pub fn options(&self) -> &ClusterOptions {
        &self.options
    }

    /// The addresses of the nodes that are running and not paused.
    pub fn endpoints(&self) -> Vec<String> {
        self.live().into_iter().map(|i| self.endpoint(i)).collect()
    }

    /// The address of node `i`, whatever its state.
    pub fn endpoint(&self, i: usize) -> String {
        self.nodes[i].address()
    }

    /// The admin HTTP endpoint (`host:port`) of node `i`, if the cluster was started with them.
    pub fn admin_endpoint(&self, i: usize) -> Option<String> {
        self.nodes[i].admin_port.as_ref().map(|p| format!("127.0.0.1:{}", p.port()))
    }

    /// True when node `i` has a process (running or paused).
    pub fn is_running(&self, i: usize) -> bool {
        self.nodes[i].lock_child().is_some()
    }

    /// Indexes of the nodes that are running and not paused.
    pub fn live(&self) -> Vec<usize> {
        (0..self.nodes.len()).filter(|i| self.is_running(*i) && !self.nodes[*i].paused).collect()
    }

    /// SIGKILLs node `i` and reaps it (no-op if it is not running).
    pub fn kill(&mut self, i: usize) {
        if let Some(mut child) = self.nodes[i].child_mut().take() {
            process::kill_and_reap(&mut child);
        }
        self.nodes[i].paused = false;
    }

    /// SIGTERMs node `i` and waits up to 10 s; panics unless it exits cleanly with code 0.
    pub fn stop(&mut self, i: usize) {
        self.stop_many(&[i]);
    }

    /// Stops every running node (concurrently), asserting each exits cleanly.
    pub fn stop_all(&mut self) {
        let running: Vec<usize> = (0..self.nodes.len()).filter(|i| self.is_running(*i)).collect();
        self.stop_many(&running);
    }

    fn stop_many(&mut self, indexes: &[usize]) {
        let mut children = Vec::new();
        for &i in indexes {
            let node = &mut self.nodes[i];
            if let Some(child) = node.child_mut().take() {
                process::signal(&child, Signal::SIGTERM);
                if node.paused {
                    process::signal(&child, Signal::SIGCONT);
                    node.paused = false;
                }
                children.push((i, child));
            }
        }
        let mut failures = Vec::new();
        for (i, mut child) in children {
            match process::wait_exit(&mut child, STOP_TIMEOUT) {
                Some(status) if status.code() == Some(0) => {}
                Some(status) => failures.push(format!("node {i} exited with {status}")),
                None => {
                    process::kill_and_reap(&mut child);
                    failures.push(format!("node {i} did not exit within {STOP_TIMEOUT:?} of SIGTERM"));
                }
            }
        }
        assert!(failures.is_empty(), "unclean shutdown: {}\n{}", failures.join("; "), self.log_tails());
    }

    /// SIGSTOPs node `i`: it keeps its sockets but stops answering.
    pub fn pause(&mut self, i: usize) {
        if let Some(child) = self.nodes[i].child_mut().as_ref() {
            process::signal(child, Signal::SIGSTOP);
            self.nodes[i].paused = true;
        }
    }

    /// SIGCONTs a paused node `i`.
    pub fn resume(&mut self, i: usize) {
        if let Some(child) = self.nodes[i].child_mut().as_ref() {
            process::signal(child, Signal::SIGCONT);
        }
        self.nodes[i].paused = false;
    }

    /// Starts node `i` again with the same id, port and data directory (does not wait).
    pub fn restart(&mut self, i: usize) -> anyhow::Result<()> {
        anyhow::ensure!(!self.is_running(i), "node {i} is still running");
        self.spawn_node(i)
    }

    /// Starts every node that is not running, then waits until the cluster is ready.
    pub fn start_all(&mut self) -> anyhow::Result<()> {
        for i in 0..self.nodes.len() {
            if !self.is_running(i) {
                self.spawn_node(i)?;
            }
        }
        self.wait_ready(self.options.ready_timeout)
    }

    /// The data directory of node `i`.
    pub fn data_dir(&self, i: usize) -> PathBuf {
        self.dir.path().join(format!("node-{}", self.nodes[i].id))
    }

    /// The log file of node `i` (stdout and stderr of every incarnation).
    pub fn log_path(&self, i: usize) -> PathBuf {
        self.dir.path().join(format!("node-{}.log", self.nodes[i].id))
    }

    /// A blocking client connected to every live node; panics if it cannot connect.
    pub fn client(&self) -> BlockingClient {
        let endpoints = self.endpoints();
        BlockingClient::connect(&endpoints, ClientOptions::default())
            .unwrap_or_else(|e| panic!("cannot connect to {endpoints:?}: {e}\n{}", self.log_tails()))
    }

    /// Starts the server binary with `args` only (no harness flags), in the cluster's
    /// directory, stdout and stderr piped: for testing bad configurations. The caller waits
    /// for or kills the child.
    pub fn spawn_extra(&self, args: &[&str]) -> Child {
        let mut command = Command::new(crate::server_binary());
        command
            .args(args)
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        self.apply_env(&mut command);
        process::spawn(command).unwrap_or_else(|e| panic!("cannot start {}: {e}", crate::server_binary().display()))
    }

    fn spawn_node(&mut self, i: usize) -> anyhow::Result<()> {
        let binary = crate::server_binary();
        anyhow::ensure!(
            binary.is_file(),
            "no server binary at {}: build it with `cargo build --release -p kahuna-server` \
             or set KAHUNA_SERVER_BIN",
            binary.display()
        );
        let data_dir = self.data_dir(i);
        std::fs::create_dir_all(&data_dir)?;
        let log_path = self.log_path(i);
        let mut log = OpenOptions::new().create(true).append(true).open(&log_path)?;
        let peers: Vec<String> = (self.nodes.iter().enumerate())
            .map(|(j, n)| {
                let real = n.address();
                match &self.options.peer_addresses {
                    Some(f) if j != i => format!("{}={}", n.id, f.address(i, j, &real)),
                    _ => format!("{}={real}", n.id),
                }
            })
            .collect();
        let node = &self.nodes[i];
        let mut command = Command::new(&binary);
        command
            .arg("--node-id")
            .arg(node.id.to_string())
            .arg("--listen")
            .arg(node.address())
            .arg("--peers")
            .arg(peers.join(","))
            .arg("--data-dir")
            .arg(&data_dir)
            .arg("--partitions")
            .arg(self.options.partitions.to_string());
        if let Some(admin) = &node.admin_port {
            command.arg("--admin-listen").arg(format!("127.0.0.1:{}", admin.port()));
        }
        if !self.options.extra_args.iter().any(|a| a.starts_with("--cluster-name")) {
            command.arg("--cluster-name").arg(&self.name);
        }
        command.args(&self.options.extra_args).current_dir(self.dir.path()).stdin(Stdio::null());
        writeln!(log, "=== harness: starting node {} (index {i}): {command:?}", node.id)?;
        command.stdout(log.try_clone()?).stderr(log);
        self.apply_env(&mut command);
        let child =
            process::spawn(command).with_context(|| format!("cannot start {} for node {i}", binary.display()))?;
        *self.nodes[i].child_mut() = Some(child);
        self.nodes[i].paused = false;
        Ok(())
    }

    fn apply_env(&self, command: &mut Command) {
        let has_log_filter = self.options.env.iter().any(|(k, _)| k == "RUST_LOG");
        if !has_log_filter && std::env::var_os("RUST_LOG").is_none() {
            command.env("RUST_LOG", "info,openraft=error,openraft::replication=off");
        }
        // Logs go to files: no terminal colour codes in them.
        command.env("NO_COLOR", "1");
        for (k, v) in &self.options.env {
            command.env(k, v);
        }
    }

    /// Reaps nodes whose process exited by itself; describes them (exit status), if any.
    pub(crate) fn reap_exited(&self) -> Vec<String> {
        let mut exited = Vec::new();
        for (i, node) in self.nodes.iter().enumerate() {
            let mut child = node.lock_child();
            if let Some(c) = child.as_mut()
                && let Ok(Some(status)) = c.try_wait()
            {
                exited.push(format!("node {i} (id {}) exited by itself with {status}", node.id));
                *child = None;
            }
        }
        exited
    }

    /// The last lines of every node's log, for error messages.
    pub fn log_tails(&self) -> String {
        let mut out = String::new();
        for i in 0..self.nodes.len() {
            let path = self.log_path(i);
            out.push_str(&format!("---- node {i} log ({}), last lines:\n", path.display()));
            out.push_str(&process::tail(&path, 40));
            out.push('\n');
        }
        out
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("kahuna-tests: the test panicked; node logs:\n{}", self.log_tails());
        }
        for node in &mut self.nodes {
            if let Some(mut child) = node.child_mut().take() {
                process::kill_and_reap(&mut child);
            }
        }
        if std::env::var_os("KAHUNA_KEEP_TEST_DIRS").is_some() {
            self.dir.disable_cleanup(true);
            eprintln!("kahuna-tests: kept {}", self.dir.path().display());
        }
    }
}

/// A free TCP port on 127.0.0.1, held by a socket that is bound with `SO_REUSEADDR` but never
/// listens: a server binding with `SO_REUSEADDR` (tokio and std both do) can listen on it, and no
/// other `bind(0)` on the machine is given it while the reservation lives.
#[derive(Debug)]
pub struct PortReservation {
    port: u16,
    _socket: tokio::net::TcpSocket,
}

impl PortReservation {
    /// The reserved port.
    pub fn port(&self) -> u16 {
        self.port
    }
}

/// Reserves `n` distinct free ports on 127.0.0.1 (see [`PortReservation`]).
pub fn reserve_ports(n: usize) -> anyhow::Result<Vec<PortReservation>> {
    let reserve = || -> std::io::Result<PortReservation> {
        let socket = tokio::net::TcpSocket::new_v4()?;
        socket.set_reuseaddr(true)?;
        socket.bind(std::net::SocketAddr::from(([127, 0, 0, 1], 0)))?;
        Ok(PortReservation { port: socket.local_addr()?.port(), _socket: socket })
    };
    (0..n).map(|_| reserve()).collect::<Result<Vec<_>, _>>().context("cannot reserve free ports on 127.0.0.1")
}
