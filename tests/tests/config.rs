//! How `kahuna-server` takes its configuration and guards its data directory, tested on the
//! binary itself: `--help`, bad flags, values and files, `KAHUNA_*` variables, the default data
//! location, identity checks on restart, the data-directory lock, and clean exits on signals.
//!
//! Every process is owned by a [`Server`] guard (SIGKILL and reap on drop) and lives in a temp
//! dir that is removed at the end; every server is told where its data goes, or has `HOME`,
//! `XDG_DATA_HOME` and `KAHUNA_HOME` pointed into the temp dir, so nothing touches the real home.

use std::collections::BTreeSet;
use std::io;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use kahuna_schema::Code;
use kahuna_tests::raw::{GetReq, RawConn, RequestHeader, SetReq};
use kahuna_tests::{PortReservation, reserve_ports, server_binary, wait_until};
use nix::sys::signal::Signal;
use nix::unistd::Pid;

/// The binary's source: the flags `--help` must describe are read from it.
const SERVER_SOURCE: &str = include_str!("../../server/src/bin/kahuna-server.rs");
/// How long a process may take to exit (bad settings, a signal).
const EXIT_TIMEOUT: Duration = Duration::from_secs(15);
/// How long a server may take to serve.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// One `kahuna-server` process; killed and reaped on drop.
struct Server {
    child: Option<Child>,
    log: PathBuf,
    name: String,
}

impl Server {
    /// Starts the binary with `args` and `env` in `dir`, output to `<dir>/<name>.log`.
    fn spawn(dir: &Path, name: &str, args: &[String], env: &[(&str, String)]) -> Server {
        let log = dir.join(format!("{name}.log"));
        let file = std::fs::File::create(&log).expect("create the log file");
        let mut command = Command::new(server_binary());
        command
            .args(args)
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("clone the log file"))
            .stderr(file);
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("KAHUNA_") {
                command.env_remove(&key);
            }
        }
        command
            .env_remove("RUST_LOG")
            .env("NO_COLOR", "1")
            .env("HOME", dir.join("home"))
            .env("XDG_DATA_HOME", dir.join("xdg"))
            .env("KAHUNA_HOME", dir.join("kahuna-home"));
        for (key, value) in env {
            command.env(key, value);
        }
        // SAFETY: between fork and exec the closure makes one async-signal-safe system call
        // (prctl) and touches no memory shared with the parent.
        unsafe {
            command.pre_exec(|| nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).map_err(io::Error::from));
        }
        let child = command.spawn().unwrap_or_else(|e| panic!("cannot start {}: {e}", server_binary().display()));
        Server { child: Some(child), log, name: name.to_string() }
    }

    /// Everything the process printed so far.
    fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The exit status, if the process has exited.
    fn exited(&mut self) -> Option<ExitStatus> {
        self.child.as_mut().and_then(|c| c.try_wait().expect("try_wait"))
    }

    /// Waits for the process to exit; panics (and the guard kills it) if it does not in time.
    fn wait(&mut self) -> ExitStatus {
        let deadline = Instant::now() + EXIT_TIMEOUT;
        loop {
            if let Some(status) = self.exited() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "{} did not exit within {EXIT_TIMEOUT:?}; output:\n{}",
                self.name,
                self.output()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends `signal` to the process.
    fn signal(&self, signal: Signal) {
        let child = self.child.as_ref().expect("the process was started");
        nix::sys::signal::kill(Pid::from_raw(child.id() as i32), signal).expect("signal the server");
    }

    /// SIGTERMs the process and asserts it exits with code 0.
    fn must_stop(mut self) {
        self.signal(Signal::SIGTERM);
        let status = self.wait();
        assert_eq!(status.code(), Some(0), "{} exits 0 on SIGTERM ({status}); output:\n{}", self.name, self.output());
    }

    /// Waits until the server at `address` serves: every partition has a leader and a read
    /// succeeds. Panics with the output if the process exits first.
    fn must_serve(&mut self, address: &str, partitions: u32) -> RawConn {
        let probe = || -> Option<RawConn> {
            let conn = RawConn::connect(address).ok()?.with_timeout(Duration::from_secs(2));
            let t = conn.topology(&RequestHeader::default()).ok()?;
            let led = t.partitions.len() == partitions as usize && t.partitions.iter().all(|p| p.leader != 0);
            let read = conn.get(&GetReq::new("config/probe")).ok()?;
            (led && read.header.code == Code::Ok).then_some(conn)
        };
        let served = wait_until(&format!("{} to serve on {address}", self.name), READY_TIMEOUT, || {
            if let Some(status) = self.exited() {
                panic!("{} exited with {status} before serving; output:\n{}", self.name, self.output());
            }
            probe()
        });
        served.unwrap_or_else(|e| panic!("{e}; output:\n{}", self.output()))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// `n` distinct free ports on 127.0.0.1, reserved while the returned guards live (a server can
/// still listen on them; see `kahuna_tests::PortReservation`).
fn free_ports<const N: usize>() -> ([u16; N], Vec<PortReservation>) {
    let reservations = reserve_ports(N).expect("reserve free ports");
    (std::array::from_fn(|i| reservations[i].port()), reservations)
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn temp_dir() -> tempfile::TempDir {
    tempfile::Builder::new().prefix("kahuna-config-").tempdir().expect("temp dir")
}

/// Writes a value and reads it back through `conn`.
fn must_write(conn: &RawConn, key: &str, value: &str) {
    let s = conn.set(&SetReq::new(key, value)).expect("set");
    assert_eq!(s.header.code, Code::Ok, "{}", s.header.message);
    must_read(conn, key, value);
}

fn must_read(conn: &RawConn, key: &str, value: &str) {
    let got = conn.get(&GetReq::new(key)).expect("get");
    assert_eq!(got.header.code, Code::Ok, "{}", got.header.message);
    assert!(got.found, "{key} is there");
    assert_eq!(got.entry.value, value.as_bytes());
}

/// The flags and environment variables `struct Args` of the binary declares.
fn declared_flags() -> (Vec<String>, Vec<String>) {
    let start = SERVER_SOURCE.find("struct Args {").expect("the binary declares `struct Args`");
    let body = &SERVER_SOURCE[start..];
    let body = &body[..body.find("\n}").expect("struct Args ends")];
    let mut flags = Vec::new();
    let mut envs = Vec::new();
    for line in body.lines().map(str::trim) {
        if let Some((field, ty)) = line.split_once(':')
            && ty.trim_start().starts_with("Option<")
            && field.chars().all(|c| c.is_ascii_lowercase() || c == '_')
        {
            flags.push(format!("--{}", field.replace('_', "-")));
        }
        if let Some(at) = line.find("env = \"") {
            let rest = &line[at + 7..];
            envs.push(rest[..rest.find('"').expect("closing quote")].to_string());
        }
    }
    (flags, envs)
}

#[test]
fn help_describes_every_flag_and_its_variable() {
    let dir = temp_dir();
    let (flags, envs) = declared_flags();
    assert!(flags.len() >= 20, "found the flags of struct Args: {flags:?}");
    assert_eq!(flags.len(), envs.len(), "every flag has a KAHUNA_* variable: {flags:?} {envs:?}");

    // Phase 1: --help exits 0 and names every flag and variable.
    let mut help = Server::spawn(dir.path(), "help", &args(&["--help"]), &[]);
    assert_eq!(help.wait().code(), Some(0));
    let text = help.output();
    for flag in &flags {
        assert!(text.contains(flag.as_str()), "--help mentions {flag}:\n{text}");
    }
    for env in &envs {
        assert!(env.starts_with("KAHUNA_"), "{env}");
        assert!(text.contains(env.as_str()), "--help mentions {env}:\n{text}");
    }

    // Phase 2: --version exits 0 and names the program.
    let mut version = Server::spawn(dir.path(), "version", &args(&["--version"]), &[]);
    assert_eq!(version.wait().code(), Some(0));
    assert!(version.output().starts_with("kahuna-server "), "{}", version.output());
}

/// A bad invocation: what it is, its flags, its environment, what the message must contain.
type BadCase<'a> = (&'a str, Vec<&'a str>, Vec<(&'a str, &'a str)>, &'a str);

#[test]
fn bad_settings_exit_2_naming_the_setting_before_touching_disk() {
    let dir = temp_dir();
    let ([port], _ports) = free_ports();
    let listen = format!("127.0.0.1:{port}");
    let file = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).expect("write the config file");
        path.display().to_string()
    };
    let unknown_key = file("unknown-key.toml", "node_id = 1\nnodeid = 3\n");
    let unknown_nested = file("unknown-nested.toml", "[raft]\nheartbeat = 100\n");
    let wrong_type = file("wrong-type.toml", "partitions = \"eight\"\n");
    let wrong_nested = file("wrong-nested.toml", "[limits]\nrequest_timeout = 5\n");
    let not_toml = file("not-toml.toml", "partitions = = 3\n");
    let bad_value = file("bad-value.toml", "partitions = 0\n");
    let missing = dir.path().join("no-such-file.toml").display().to_string();
    let a_directory = dir.path().display().to_string();
    let peers_without_me = format!("2=127.0.0.1:{port}");
    let peers_twice = format!("1=127.0.0.1:{port},1=127.0.0.1:1");

    let cases: Vec<BadCase> = vec![
        ("--partitions 0", vec!["--partitions", "0"], vec![], "partitions"),
        ("--partitions 4097", vec!["--partitions", "4097"], vec![], "partitions"),
        ("--partitions eight", vec!["--partitions", "eight"], vec![], "--partitions"),
        ("--node-id 0", vec!["--node-id", "0"], vec![], "node-id"),
        ("--node-id -1", vec!["--node-id", "-1"], vec![], "-1"),
        ("--peers without a port", vec!["--peers", "1=127.0.0.1"], vec![], "peers"),
        ("--peers without this node", vec!["--peers", &peers_without_me], vec![], "peers"),
        ("--peers listing a node twice", vec!["--peers", &peers_twice], vec![], "peers"),
        ("--peers without an id", vec!["--peers", "127.0.0.1:7070"], vec![], "peers"),
        ("--heartbeat-ms 5000", vec!["--heartbeat-ms", "5000"], vec![], "heartbeat-ms"),
        ("--heartbeat-ms 1", vec!["--heartbeat-ms", "1"], vec![], "heartbeat-ms"),
        ("election timeouts reversed", vec!["--election-timeout-min-ms", "3000"], vec![], "election-timeout-max-ms"),
        ("--max-value-bytes 0", vec!["--max-value-bytes", "0"], vec![], "max-value-bytes"),
        ("--rpc-threads 65", vec!["--rpc-threads", "65"], vec![], "rpc-threads"),
        ("--revisions 0", vec!["--revisions", "0"], vec![], "revisions"),
        ("--cluster-name ''", vec!["--cluster-name", ""], vec![], "cluster-name"),
        ("--request-timeout soon", vec!["--request-timeout", "soon"], vec![], "--request-timeout"),
        ("--request-timeout 0s", vec!["--request-timeout", "0s"], vec![], "request-timeout"),
        ("--snapshot-logs 1", vec!["--snapshot-logs", "1"], vec![], "snapshot-logs"),
        ("an unknown flag", vec!["--no-such-flag", "1"], vec![], "--no-such-flag"),
        ("--admin-listen equal to --listen", vec!["--admin-listen", &listen], vec![], "admin-listen must differ"),
        ("--admin-listen without a port", vec!["--admin-listen", "127.0.0.1"], vec![], "--admin-listen"),
        ("KAHUNA_NODE_ID=0", vec![], vec![("KAHUNA_NODE_ID", "0")], "node-id"),
        ("KAHUNA_PARTITIONS=many", vec![], vec![("KAHUNA_PARTITIONS", "many")], "partitions"),
        ("KAHUNA_HEARTBEAT_MS=5000", vec![], vec![("KAHUNA_HEARTBEAT_MS", "5000")], "heartbeat-ms"),
        ("an unknown key in the file", vec!["--config", &unknown_key], vec![], "nodeid"),
        ("an unknown key in a file section", vec!["--config", &unknown_nested], vec![], "heartbeat"),
        ("a wrongly typed value in the file", vec!["--config", &wrong_type], vec![], "partitions"),
        ("a wrongly typed nested value", vec!["--config", &wrong_nested], vec![], "request_timeout"),
        ("a file that is not TOML", vec!["--config", &not_toml], vec![], "not-toml.toml"),
        ("an invalid value in the file", vec!["--config", &bad_value], vec![], "partitions"),
        ("a missing config file", vec!["--config", &missing], vec![], "--config"),
        ("a config path that is a directory", vec!["--config", &a_directory], vec![], "--config"),
        ("KAHUNA_CONFIG missing", vec![], vec![("KAHUNA_CONFIG", &missing)], "no-such-file.toml"),
    ];

    // Every case starts at once (none may get far enough to bind or write), then each is judged.
    let mut running = Vec::new();
    for (n, (what, flags, env, needle)) in cases.iter().enumerate() {
        let data_dir = dir.path().join(format!("data-{n}"));
        let mut list =
            vec!["--listen".to_string(), listen.clone(), "--data-dir".into(), data_dir.display().to_string()];
        list.extend(flags.iter().map(|s| s.to_string()));
        let env: Vec<(&str, String)> = env.iter().map(|(k, v)| (*k, v.to_string())).collect();
        running.push((what, needle, data_dir, Server::spawn(dir.path(), &format!("case-{n}"), &list, &env)));
    }
    for (what, needle, data_dir, mut server) in running {
        let status = server.wait();
        let output = server.output();
        assert_eq!(status.code(), Some(2), "{what}: exit code 2 ({status}); output:\n{output}");
        assert!(output.contains(needle), "{what}: the message names '{needle}':\n{output}");
        assert!(!data_dir.exists(), "{what}: the data directory was not created");
    }
}

#[test]
fn the_file_then_variables_then_flags_decide() {
    let dir = temp_dir();
    let ([file_port, env_port], _ports) = free_ports();
    let config = dir.path().join("kahuna.toml");
    std::fs::write(
        &config,
        format!(
            "node_id = 3\ncluster_name = \"from-file\"\npartitions = 5\nlisten = \"127.0.0.1:{file_port}\"\n\
             peers = [\"3=127.0.0.1:{file_port}\"]\n[limits]\nmax_value_bytes = 50\n"
        ),
    )
    .unwrap();
    let data_dir = dir.path().join("env-data");

    // Phase 1: the file names everything; variables override some; flags override some of those.
    let env = [
        ("KAHUNA_CONFIG", config.display().to_string()),
        ("KAHUNA_CLUSTER_NAME", "from-env".to_string()),
        ("KAHUNA_PARTITIONS", "4".to_string()),
        ("KAHUNA_LISTEN", format!("127.0.0.1:{env_port}")),
        ("KAHUNA_PEERS", format!("3=127.0.0.1:{env_port}")),
        ("KAHUNA_DATA_DIR", data_dir.display().to_string()),
        ("KAHUNA_MAX_VALUE_BYTES", "60".to_string()),
    ];
    let flags = args(&["--partitions", "2", "--max-value-bytes", "70"]);
    let mut server = Server::spawn(dir.path(), "layered", &flags, &env);
    let address = format!("127.0.0.1:{env_port}");
    let conn = server.must_serve(&address, 2);

    // Phase 2: what the running node reports is each setting's highest-precedence value.
    let t = conn.topology(&RequestHeader::default()).unwrap();
    assert_eq!(t.node_id, 3, "node_id from the file");
    assert_eq!(t.cluster_name, "from-env", "the variable beats the file");
    assert_eq!(t.partition_count, 2, "the flag beats the variable and the file");
    assert_eq!(t.nodes, vec![(3, address.clone())], "the variable's peers and address beat the file's");
    assert!(RawConn::connect(&format!("127.0.0.1:{file_port}")).is_err(), "nothing listens on the file's port");
    assert!(data_dir.join("db").is_dir(), "data under KAHUNA_DATA_DIR");
    let fits = conn.set(&SetReq::new("config/value", vec![1u8; 70])).unwrap();
    assert_eq!(fits.header.code, Code::Ok, "70 bytes fit --max-value-bytes 70: {}", fits.header.message);
    let over = conn.set(&SetReq::new("config/value", vec![1u8; 71])).unwrap();
    assert_eq!(over.header.code, Code::InvalidInput);
    assert!(over.header.message.contains("70"), "the limit is the flag's: {}", over.header.message);

    server.must_stop();
}

#[test]
fn without_flags_the_data_goes_under_kahuna_home_and_one_node_serves() {
    let dir = temp_dir();
    let home = dir.path().join("my-home");
    let ([port], _ports) = free_ports();
    let address = format!("127.0.0.1:{port}");

    // Phase 1: only --listen (the default port may be taken on a test machine) and KAHUNA_HOME.
    let env = [("KAHUNA_HOME", home.display().to_string())];
    let mut server = Server::spawn(dir.path(), "defaults", &args(&["--listen", &address]), &env);
    let conn = server.must_serve(&address, 8);

    // Phase 2: a single-node cluster named `kahuna`, node 1, 8 partitions, all led by itself.
    let t = conn.topology(&RequestHeader::default()).unwrap();
    assert_eq!((t.node_id, t.cluster_name.as_str(), t.partition_count), (1, "kahuna", 8));
    assert_eq!(t.nodes, vec![(1, address.clone())]);
    assert!(t.partitions.iter().all(|p| p.leader == 1), "{:?}", t.partitions);
    must_write(&conn, "config/defaults", "served");
    assert!(home.join("node-1").join("db").is_dir(), "the data is under $KAHUNA_HOME/node-1");
    let elsewhere: BTreeSet<String> =
        ["home", "xdg"].iter().filter(|d| dir.path().join(d).exists()).map(|d| d.to_string()).collect();
    assert!(elsewhere.is_empty(), "nothing was written outside KAHUNA_HOME: {elsewhere:?}");

    // Phase 3: a restart with the same (absent) settings finds the data again.
    server.must_stop();
    let mut server = Server::spawn(dir.path(), "defaults-again", &args(&["--listen", &address]), &env);
    must_read(&server.must_serve(&address, 8), "config/defaults", "served");
    server.must_stop();
}

#[test]
fn a_bootstrapped_data_dir_refuses_another_identity_and_keeps_its_data() {
    let dir = temp_dir();
    let ([port, other_port], _ports) = free_ports();
    let address = format!("127.0.0.1:{port}");
    let data_dir = dir.path().join("data").display().to_string();
    let settings = |node: &str, name: &str, partitions: &str, peers: &str| {
        args(&[
            "--node-id",
            node,
            "--cluster-name",
            name,
            "--partitions",
            partitions,
            "--peers",
            peers,
            "--listen",
            &address,
            "--data-dir",
            &data_dir,
        ])
    };
    let me = format!("1=127.0.0.1:{port}");
    let right = settings("1", "alpha", "4", &me);

    // Phase 1: bootstrap, write, stop cleanly.
    let mut server = Server::spawn(dir.path(), "bootstrap", &right, &[]);
    must_write(&server.must_serve(&address, 4), "config/kept", "v1");
    server.must_stop();

    // Phase 2: every change of identity is refused with a message that says what differs.
    let as_node_2 = format!("2=127.0.0.1:{port}");
    let with_a_peer = format!("{me},2=127.0.0.1:{other_port}");
    let cases = [
        ("another cluster name", settings("1", "beta", "4", &me), "alpha"),
        ("another partition count", settings("1", "alpha", "8", &me), "partitions"),
        ("another node id", settings("2", "alpha", "4", &as_node_2), "--node-id"),
        ("other peer ids", settings("1", "alpha", "4", &with_a_peer), "--peers"),
    ];
    for (what, list, needle) in cases {
        let mut wrong = Server::spawn(dir.path(), &format!("wrong-{}", what.replace(' ', "-")), &list, &[]);
        let status = wrong.wait();
        let output = wrong.output();
        assert!(status.code().is_some_and(|c| c != 0), "{what}: exits non-zero ({status}); output:\n{output}");
        assert!(output.contains(&data_dir), "{what}: the message names the data directory:\n{output}");
        assert!(output.contains(needle), "{what}: the message says '{needle}':\n{output}");
    }

    // Phase 3: the original settings still open the data, intact.
    let mut server = Server::spawn(dir.path(), "reopen", &right, &[]);
    let conn = server.must_serve(&address, 4);
    must_read(&conn, "config/kept", "v1");
    let again = conn.set(&SetReq::new("config/kept", "v2")).unwrap();
    assert_eq!(again.revision, 1, "the key's history survived");
    server.must_stop();
}

#[test]
fn two_servers_cannot_share_a_data_dir() {
    let dir = temp_dir();
    let ([first_port, second_port], _ports) = free_ports();
    let data_dir = dir.path().join("shared").display().to_string();
    let start = |name: &str, port: u16| {
        let list = args(&["--listen", &format!("127.0.0.1:{port}"), "--data-dir", &data_dir]);
        Server::spawn(dir.path(), name, &list, &[])
    };

    // Phase 1: the first server opens the directory and serves.
    let mut first = start("first", first_port);
    let first_address = format!("127.0.0.1:{first_port}");
    let conn = first.must_serve(&first_address, 8);
    must_write(&conn, "config/owner", "first");

    // Phase 2: the second fails, saying the directory is in use, and the first is unharmed.
    let mut second = start("second", second_port);
    let status = second.wait();
    let output = second.output();
    assert!(status.code().is_some_and(|c| c != 0), "the second server exits non-zero ({status}):\n{output}");
    assert!(
        output.contains("another kahuna-server") && output.contains(&data_dir),
        "the message says the data directory is in use:\n{output}"
    );
    assert!(first.exited().is_none(), "the first server still runs");
    must_read(&conn, "config/owner", "first");
    first.must_stop();
}

#[test]
fn sigterm_and_sigint_stop_the_server_with_exit_0() {
    let dir = temp_dir();
    let ([port], _ports) = free_ports();
    let address = format!("127.0.0.1:{port}");
    let data_dir = dir.path().join("data").display().to_string();
    let list = args(&["--listen", &address, "--data-dir", &data_dir]);

    // Phase 1: SIGTERM while serving: exit 0, and the listener is gone.
    let mut server = Server::spawn(dir.path(), "term", &list, &[]);
    must_write(&server.must_serve(&address, 8), "config/signal", "term");
    server.must_stop();
    assert!(RawConn::connect(&address).is_err(), "nothing listens after the exit");

    // Phase 2: SIGINT (Ctrl-C) too, and the data written before it survives.
    let mut server = Server::spawn(dir.path(), "int", &list, &[]);
    let conn = server.must_serve(&address, 8);
    must_read(&conn, "config/signal", "term");
    server.signal(Signal::SIGINT);
    let status = server.wait();
    assert_eq!(status.code(), Some(0), "SIGINT exits 0 ({status}, signal {:?}):\n{}", status.signal(), server.output());
}
