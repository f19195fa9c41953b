//! `kahuna-cli` against real clusters: every command in human and `--json` form, the exit code
//! of each class, values from arguments, files and stdin, the Ephemeral keyspace, endpoints
//! from `-e` and `KAHUNA_ENDPOINTS`, unreachable and silent clusters bounded by `--timeout`, and
//! the shell driven through a pipe.
//!
//! The binary is the one built next to the server (`cargo build --release --workspace`). Every
//! run gets `TZ=UTC` so human output is stable; JSON is checked as text, field by field (its
//! field order is part of the contract).

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use kahuna_tests::{Cluster, ClusterOptions};

/// The `kahuna-cli` binary beside `kahuna-server`.
fn binary() -> PathBuf {
    kahuna_tests::built("kahuna-cli")
}

/// What one run printed and how it exited.
#[derive(Debug)]
struct Out {
    code: i32,
    stdout: String,
    raw: Vec<u8>,
    stderr: String,
}

impl Out {
    /// Asserts the exit code, showing everything the run printed when it differs.
    #[track_caller]
    fn code(self, expected: i32) -> Out {
        assert_eq!(self.code, expected, "exit code\nstdout: {}\nstderr: {}", self.stdout, self.stderr);
        self
    }

    /// Asserts stdout contains every one of `parts`.
    #[track_caller]
    fn has(self, parts: &[&str]) -> Out {
        for part in parts {
            assert!(self.stdout.contains(part), "stdout lacks {part:?}:\n{}\nstderr: {}", self.stdout, self.stderr);
        }
        self
    }

    /// Asserts stderr contains `part`.
    #[track_caller]
    fn err_has(self, part: &str) -> Out {
        assert!(self.stderr.contains(part), "stderr lacks {part:?}:\n{}", self.stderr);
        self
    }

    /// The value of a top-level scalar field of the JSON on stdout (its raw text).
    #[track_caller]
    fn field(&self, name: &str) -> String {
        let key = format!("\"{name}\":");
        let start = self.stdout.find(&key).unwrap_or_else(|| panic!("no field {name} in {}", self.stdout)) + key.len();
        let rest = &self.stdout[start..];
        let end = rest.find([',', '}']).unwrap_or(rest.len());
        rest[..end].trim_matches('"').to_string()
    }
}

/// Runs the CLI with `KAHUNA_ENDPOINTS` set to `endpoints`, the given args and stdin.
fn run_with(endpoints: &str, args: &[&str], stdin: &[u8]) -> Out {
    let mut child = Command::new(binary())
        .args(args)
        .env("KAHUNA_ENDPOINTS", endpoints)
        .env("TZ", "UTC")
        .env_remove("KAHUNA_TIMEOUT")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("running {}: {e} (cargo build --release --workspace)", binary().display()));
    child.stdin.take().expect("stdin").write_all(stdin).expect("write stdin");
    let out = child.wait_with_output().expect("wait");
    Out {
        code: out.status.code().expect("exited"),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        raw: out.stdout,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The CLI pointed at one cluster.
struct Cli {
    endpoints: String,
}

impl Cli {
    fn new(cluster: &Cluster) -> Cli {
        Cli { endpoints: cluster.endpoints().join(",") }
    }

    fn run(&self, args: &[&str]) -> Out {
        run_with(&self.endpoints, args, b"")
    }

    fn stdin(&self, args: &[&str], stdin: &[u8]) -> Out {
        run_with(&self.endpoints, args, stdin)
    }
}

#[test]
fn every_command_in_human_and_json_form() {
    let cluster = Cluster::start(ClusterOptions::default()).expect("the cluster starts");
    let cli = Cli::new(&cluster);

    // set and get: revision, expiry as local time + time left, last_modified as time and HLC.
    cli.run(&["set", "cfg/a", "hello", "--ttl", "1h"]).code(0).has(&[
        "set cfg/a: revision 0, last modified ",
        "(hlc ",
        "expires in 1h",
    ]);
    cli.run(&["get", "cfg/a"]).code(0).has(&[
        "key            cfg/a\n",
        "value          hello\n",
        "revision       0\n",
        "expires        ",
        " +00:00 (in 59m",
        "last modified  ",
    ]);
    let got = cli.run(&["get", "cfg/a", "--json"]).code(0).has(&[
        "{\"key\":\"cfg/a\",\"durability\":\"persistent\",\"found\":true,\"revision\":0,\"value\":\"hello\",\"value_encoding\":\"utf8\",\"last_modified\":",
    ]);
    let first_write = got.field("last_modified");
    assert!(got.field("ttl_ms").parse::<i64>().unwrap() > 3_500_000);
    assert!(got.field("last_modified_time").ends_with('Z'));
    assert!(got.stdout.ends_with("}\n") && got.stdout.lines().count() == 1);

    // Conditions not met exit 1 and print the current revision.
    cli.run(&["set", "cfg/a", "again", "--if-not-exists"])
        .code(1)
        .has(&["not set cfg/a: condition not met (current revision 0)"]);
    cli.run(&["set", "cfg/missing", "x", "--if-exists", "--json"])
        .code(1)
        .has(&["\"set\":false,\"revision\":-1,\"last_modified\":0,\"last_modified_time\":null"]);
    cli.run(&["set", "cfg/a", "world", "--if-exists", "--json"]).code(0).has(&["\"set\":true,\"revision\":1"]);
    cli.run(&["get", "cfg/nothing"]).code(1).has(&["cfg/nothing: not found (never written)"]);
    cli.run(&["get", "cfg/nothing", "--json"]).code(1).has(&["\"found\":false,\"revision\":-1,\"value\":null"]);

    // cas by value and by revision.
    cli.run(&["cas", "cfg/a", "v2", "--expect-value", "world"]).code(0).has(&["cas cfg/a: revision 2"]);
    cli.run(&["cas", "cfg/a", "v3", "--expect-value", "world"])
        .code(1)
        .has(&["not cas cfg/a: condition not met (current revision 2)"]);
    cli.run(&["cas", "cfg/a", "v3", "--expect-revision", "2", "--json"]).code(0).has(&["\"set\":true,\"revision\":3"]);
    cli.run(&["cas", "cfg/a", "v4", "--expect-revision", "2", "--json"]).code(1).has(&["\"set\":false,\"revision\":3"]);

    // Older revisions and as-of reads.
    cli.run(&["get", "cfg/a", "--revision", "0"]).code(0).has(&["value          hello\n", "revision       0\n"]);
    cli.run(&["get", "cfg/a", "--as-of", &first_write]).code(0).has(&["value          hello\n"]);
    cli.run(&["get", "cfg/a", "--as-of", "now", "--json"]).code(0).has(&["\"value\":\"v3\""]);
    cli.run(&["get", "cfg/a", "--as-of", "2000-01-01T00:00:00Z"]).code(1).has(&["cfg/a: not found as of 2000-01-01"]);
    cli.run(&["get", "cfg/a", "--revision", "99"]).code(1).has(&["revision 99 not found"]);

    // history walks down from the current revision.
    cli.run(&["history", "cfg/a"]).code(0).has(&[
        "REVISION  LAST MODIFIED",
        "v3",
        "v2",
        "world",
        "hello",
        "4 retained revisions of cfg/a",
    ]);
    cli.run(&["history", "cfg/a", "--limit", "2", "--json"])
        .code(0)
        .has(&["{\"key\":\"cfg/a\",\"durability\":\"persistent\",\"current_revision\":3,\"revisions\":[{\"key\":\"cfg/a\",\"revision\":3,\"value\":\"v3\"", "\"revision\":2,\"value\":\"v2\""]);
    cli.run(&["history", "cfg/never"]).code(1).has(&["cfg/never: no retained revision (never written)"]);

    // exists, extend, delete, and what a deleted key reports.
    cli.run(&["exists", "cfg/a"]).code(0).has(&["cfg/a exists at revision 3"]);
    cli.run(&["exists", "cfg/a", "--json"])
        .code(0)
        .has(&["{\"key\":\"cfg/a\",\"durability\":\"persistent\",\"exists\":true,\"revision\":3}"]);
    cli.run(&["extend", "cfg/a", "30s"]).code(0).has(&["extended cfg/a: expires in 30.0s (revision 3)"]);
    let ttl: i64 = cli.run(&["get", "cfg/a", "--json"]).field("ttl_ms").parse().unwrap();
    assert!((1..=30_000).contains(&ttl), "{ttl}");
    cli.run(&["extend", "cfg/nothing", "30s", "--json"])
        .code(1)
        .has(&["\"extended\":false,\"revision\":-1,\"expires_ms\":30000"]);
    cli.run(&["delete", "cfg/a"]).code(0).has(&["deleted cfg/a at revision 3"]);
    cli.run(&["del", "cfg/a", "--json"])
        .code(1)
        .has(&["{\"key\":\"cfg/a\",\"durability\":\"persistent\",\"deleted\":false,\"revision\":3}"]);
    cli.run(&["exists", "cfg/a"]).code(1).has(&["cfg/a does not exist (current revision 3)"]);
    cli.run(&["get", "cfg/a"]).code(1).has(&["cfg/a: not found (current revision 3)"]);
    cli.run(&["history", "cfg/a", "--limit", "1"]).code(0).has(&["1 retained revision of cfg/a"]);
    cli.run(&["set", "cfg/a", "back", "--no-revision"]).code(0).has(&["revision 4"]);

    // bucket and scan, all pages or one page at a time.
    for key in ["b/1", "b/2", "b/3", "b/x/1", "c/1"] {
        cli.run(&["set", key, &format!("v-{key}")]).code(0);
    }
    cli.run(&["bucket", "b"]).code(0).has(&["KEY  REVISION", "b/1  0", "v-b/3\n", "3 keys in bucket 'b'"]);
    let bucket = cli
        .run(&["bucket", "b", "--json"])
        .code(0)
        .has(&["{\"bucket\":\"b\",\"durability\":\"persistent\",\"count\":3,\"entries\":[{\"key\":\"b/1\""]);
    assert!(!bucket.stdout.contains("b/x/1"));
    cli.run(&["bucket", "nothing"]).code(0).has(&["no key in bucket 'nothing'"]);
    cli.run(&["scan", "b"]).code(0).has(&["b/x/1", "4 keys with prefix 'b' at snapshot "]);
    let page = cli.run(&["scan", "b", "--limit", "3", "--json"]).code(0).has(&["\"count\":3", "\"key\":\"b/3\""]);
    let cursor = page.field("cursor");
    assert!(cursor.chars().all(|c| c.is_ascii_hexdigit()) && !cursor.is_empty(), "{cursor}");
    cli.run(&["scan", "b", "--limit", "3"]).code(0).has(&["3 keys with prefix 'b'", "more: --cursor "]);
    let last = cli.run(&["scan", "b", "--cursor", &cursor, "--json"]).code(0).has(&[
        "\"count\":1",
        "\"key\":\"b/x/1\"",
        "\"cursor\":null}",
    ]);
    assert_eq!(last.field("snapshot"), page.field("snapshot"), "all pages read at one snapshot");
    cli.run(&["scan", "zzz"]).code(0).has(&["no key with prefix 'zzz'"]);

    // topology.
    cli.run(&["topology"]).code(0).has(&[
        "cluster        ",
        "answered by    node ",
        "partitions     8",
        "NODE  ADDRESS",
        "PARTITION  LEADER  TERM  ADDRESS",
    ]);
    cli.run(&["topology", "--json"]).code(0).has(&[
        "{\"cluster_id\":",
        "\"partition_count\":8,\"nodes\":[{\"id\":1,\"address\":\"127.0.0.1:",
        "\"partitions\":[{\"partition\":0,\"leader\":",
    ]);

    // Values from stdin and files, binary values, --raw.
    cli.stdin(&["set", "v/stdin", "-"], b"from\nstdin").code(0);
    cli.run(&["get", "v/stdin"]).code(0).has(&["value          \"from\\nstdin\"\n"]);
    cli.run(&["get", "v/stdin", "--json"]).code(0).has(&["\"value\":\"from\\nstdin\",\"value_encoding\":\"utf8\""]);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bin");
    std::fs::write(&path, [0xff, 0x00, 0x10, b'\n']).unwrap();
    cli.run(&["set", "v/bin", "--file", path.to_str().unwrap()]).code(0);
    cli.run(&["get", "v/bin"]).code(0).has(&["value          hex:ff00100a (4 bytes)\n"]);
    cli.run(&["get", "v/bin", "--json"]).code(0).has(&["\"value\":\"/wAQCg==\",\"value_encoding\":\"base64\""]);
    assert_eq!(cli.run(&["get", "v/bin", "--raw"]).code(0).raw, [0xff, 0x00, 0x10, b'\n']);
    cli.stdin(&["cas", "v/bin", "next", "--expect-file", "-"], &[0xff, 0x00, 0x10, b'\n']).code(0).has(&["revision 1"]);
    cli.run(&["set", "v/empty", "--file", "/dev/null"]).code(0);
    cli.run(&["get", "v/empty", "--json"]).code(0).has(&["\"found\":true,\"revision\":0,\"value\":\"\""]);
    cli.run(&["set", "v/dash", "--", "-5"]).code(0);
    cli.run(&["get", "v/dash", "--raw"]).code(0).has(&["-5"]);
    assert!(cli.run(&["get", "v/none", "--raw"]).code(1).raw.is_empty());

    // The Ephemeral keyspace is separate from the Persistent one.
    cli.run(&["set", "e/1", "eph", "--ephemeral"]).code(0).has(&["set e/1 (ephemeral): revision 0"]);
    cli.run(&["get", "e/1"]).code(1);
    cli.run(&["get", "e/1", "--ephemeral", "--json"])
        .code(0)
        .has(&["\"durability\":\"ephemeral\",\"found\":true", "\"value\":\"eph\""]);
    cli.run(&["exists", "e/1", "--ephemeral"]).code(0);
    cli.run(&["cas", "e/1", "eph2", "--expect-revision", "0", "--ephemeral"]).code(0);
    cli.run(&["extend", "e/1", "1m", "--ephemeral"]).code(0);
    cli.run(&["history", "e/1", "--ephemeral"]).code(0).has(&["2 retained revisions of e/1 (ephemeral)"]);
    cli.run(&["bucket", "e", "--ephemeral"]).code(0).has(&["1 key in bucket 'e' (ephemeral)"]);
    cli.run(&["scan", "e/", "--ephemeral", "--json"]).code(0).has(&["\"durability\":\"ephemeral\",\"count\":1"]);
    cli.run(&["delete", "e/1", "--ephemeral"]).code(0);

    // Arguments the store rejects: InvalidInput, exit 3, status name on stderr.
    cli.run(&["set", "", "v"]).code(3).err_has("error: InvalidInput: key must not be empty");
    cli.run(&["get", "__kahuna:x"]).code(3).err_has("error: InvalidInput: ");
    // ... unless the command line already can: a zero extend or lease is a usage error naming
    // the argument, a negative value after a flag is that flag's (bad) value.
    cli.run(&["extend", "b/1", "0s"]).code(2).err_has("'0s' is zero; it must be at least 1ms");
    cli.run(&["set", "b/1", "v", "--ttl", "-5s"]).code(2).err_has("for '--ttl <DURATION>': '-5s' is negative");
    cli.run(&["set", "k", "--file", "/nonexistent/kahuna-value"])
        .code(3)
        .err_has("InvalidInput: cannot read value from /nonexistent/kahuna-value");
    cli.run(&["get", "k", "--as-of", "2999-01-01T00:00:00Z"]).code(3).err_has("InvalidInput");

    // Endpoints: the flag wins over KAHUNA_ENDPOINTS; either alone works.
    run_with("127.0.0.1:1", &["-e", &cli.endpoints, "get", "b/1"], b"").code(0);
    run_with(&cli.endpoints, &["get", "b/1", "--timeout", "5s"], b"").code(0);
    run_with("127.0.0.1:1", &["--timeout", "500ms", "get", "b/1"], b"").code(4).err_has("error: Unavailable: ");
}

#[test]
fn the_shell_reads_commands_from_a_pipe() {
    let cluster = Cluster::start(ClusterOptions::default()).expect("the cluster starts");
    let cli = Cli::new(&cluster);
    let script = "# set up\n\
                  set sh/1 'two words' --ttl 1m\n\
                  get sh/1\n\
                  \n\
                  get sh/1 --json\n\
                  set sh/1 x --if-not-exists\n\
                  set sh/2 -\n\
                  help\n\
                  help cas\n\
                  bogus\n\
                  get\n\
                  bucket sh\n\
                  exists sh/1\n";
    let out = cli.stdin(&[], script.as_bytes()).code(0);
    let out = out.has(&[
        "set sh/1: revision 0",
        "value          two words\n",
        "{\"key\":\"sh/1\",\"durability\":\"persistent\",\"found\":true,\"revision\":0,\"value\":\"two words\"",
        "not set sh/1: condition not met (current revision 0)",
        "Commands:\n  set ",
        "  exit         Leave the shell",
        "--expect-revision <N>",
        "1 key in bucket 'sh'",
        "sh/1 exists at revision 0",
    ]);
    assert!(!out.stdout.contains("kahuna>"), "no prompt when stdin is not a terminal");
    out.err_has("error: InvalidInput: value cannot come from standard input in the shell; use --file PATH")
        .err_has("error: unrecognized subcommand 'bogus'")
        .err_has("error: the following required arguments were not provided");

    // The exit code is that of the last command, or the one given to exit; `shell` is the same.
    cli.stdin(&["shell"], b"get sh/none\n").code(1).has(&["sh/none: not found"]);
    cli.stdin(&[], b"get sh/none\nexit\n").code(1);
    cli.stdin(&[], b"get sh/1\nexit 7\nget sh/none\n").code(7);
    let out = cli.stdin(&[], b"get sh/1\nquit\ndelete sh/1\n").code(0);
    assert!(!out.stdout.contains("deleted"));
    cli.stdin(&[], b"set 'unclosed\n").code(2).err_has("unclosed quote");
    cli.stdin(&["--json"], b"exists sh/1\n")
        .code(0)
        .has(&["{\"key\":\"sh/1\",\"durability\":\"persistent\",\"exists\":true"]);

    // The shell starts without a cluster; the command that needs one reports Unavailable.
    let out = run_with("127.0.0.1:1", &["--timeout", "300ms"], b"help get\nget k\n").code(4);
    out.has(&["--as-of <TIME>"]).err_has("error: Unavailable: ");
}

#[test]
fn a_silent_cluster_times_out_within_the_deadline() {
    // A shell connects with its first command; then every node stops answering (SIGSTOP), so
    // the next write is in flight when its deadline passes: Timeout, exit 5.
    let mut cluster = Cluster::start(ClusterOptions::default()).expect("the cluster starts");
    let mut child = Command::new(binary())
        .args(["--timeout", "1s"])
        .env("KAHUNA_ENDPOINTS", cluster.endpoints().join(","))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn kahuna-cli");
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    writeln!(stdin, "exists quiet/1").unwrap();
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    assert_eq!(line, "quiet/1 does not exist (never written)\n");

    for i in 0..cluster.len() {
        cluster.pause(i);
    }
    let started = Instant::now();
    writeln!(stdin, "set quiet/1 v").unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    let elapsed = started.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(5), "{stderr}");
    assert!(stderr.contains("error: Timeout: "), "{stderr}");
    assert!(elapsed < Duration::from_secs(5), "bounded by --timeout: {elapsed:?}");
    for i in 0..cluster.len() {
        cluster.resume(i);
    }
}

#[test]
fn usage_errors_exit_2_with_clap_messages() {
    let no_cluster = "127.0.0.1:1";
    for (args, message) in [
        (&["get", "k", "--bogus"][..], "unexpected argument '--bogus'"),
        (&["set", "k"], "the following required arguments were not provided"),
        (&["set", "k", "v", "--ttl", "soon"], "invalid value 'soon' for '--ttl <DURATION>'"),
        (&["set", "k", "v", "--ttl=-5s"], "durations must not be negative"),
        (&["set", "k", "v", "--ttl", "10"], "examples: 10s"),
        (&["set", "k", "v", "--if-exists", "--if-not-exists"], "cannot be used with"),
        (&["cas", "k", "v"], "--expect-value"),
        (&["get", "k", "--revision", "1", "--as-of", "now"], "cannot be used with"),
        (&["get", "k", "--as-of", "yesterday"], "RFC 3339"),
        (&["get", "k", "--revision", "x"], "invalid value 'x'"),
        (&["extend", "k", "forever"], "not a duration"),
        (&["scan", "p", "--cursor", "xyz"], "not a cursor"),
        (&["--timeout", "0s", "topology"], "at least 1ms"),
        (&["frobnicate"], "unrecognized subcommand 'frobnicate'"),
    ] {
        let out = run_with(no_cluster, args, b"").code(2);
        assert!(out.stderr.contains(message), "{args:?}: {}", out.stderr);
        assert!(out.stdout.is_empty(), "{args:?}");
    }
    let help = run_with(no_cluster, &["--help"], b"").code(0);
    help.has(&[
        "Exit codes:",
        "  1  not found",
        "  2  usage",
        "  3  InvalidInput",
        "  4  Unavailable",
        "  5  Timeout",
        "  6  Internal",
        "KAHUNA_ENDPOINTS",
    ]);
    run_with(no_cluster, &["cas", "--help"], b"").code(0).has(&["--expect-revision <N>", "--ephemeral"]);
}

#[test]
fn an_unreachable_cluster_is_unavailable_within_the_timeout() {
    // Nothing listens on one port; the other accepts connections but never answers. The first
    // stays reserved (bound, never listening) so a server of a test running alongside cannot
    // be given it.
    let closed = kahuna_tests::reserve_ports(1).unwrap().remove(0);
    let closed_addr = format!("127.0.0.1:{}", closed.port());
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_addr = silent.local_addr().unwrap().to_string();
    for (endpoints, timeout) in [(closed_addr.as_str(), "500ms"), (silent_addr.as_str(), "1s")] {
        let started = Instant::now();
        let out = run_with("", &["-e", endpoints, "--timeout", timeout, "get", "k"], b"").code(4);
        assert!(out.stderr.starts_with("error: Unavailable: "), "{}", out.stderr);
        assert!(out.stdout.is_empty());
        assert!(started.elapsed() < Duration::from_secs(4), "{endpoints}: {:?}", started.elapsed());
    }
    // KAHUNA_ENDPOINTS alone is used when there is no flag.
    let out = run_with(&closed_addr, &["--timeout", "300ms", "exists", "k"], b"").code(4);
    assert!(out.stderr.contains(&closed_addr), "{}", out.stderr);
    drop((closed, silent));
}

#[test]
fn lock_commands_follow_the_lock_rules_with_their_exit_codes() {
    let cluster = Cluster::start(ClusterOptions::default()).expect("the cluster starts");
    let cli = Cli::new(&cluster);
    let first = cli.run(&["--json", "lock", "jobs/reindex", "--owner", "worker-1", "--ttl", "1m"]).code(0);
    assert_eq!(first.field("locked"), "true");
    assert_eq!(first.field("fencing_token"), "0");
    cli.run(&["lock", "jobs/reindex", "--owner", "worker-2", "--ttl", "1m"]).code(1).has(&["busy"]);
    cli.run(&["get-lock", "jobs/reindex"]).code(0).has(&["worker-1", "fencing token  0"]);
    cli.run(&["extend-lock", "jobs/reindex", "--owner", "worker-2", "--ttl", "1m"]).code(8).err_has("InvalidOwner");
    cli.run(&["--json", "extend-lock", "jobs/reindex", "--owner", "worker-1", "--ttl", "2m"])
        .code(0)
        .has(&["\"extended\":true", "\"fencing_token\":0"]);
    cli.run(&["unlock", "jobs/reindex", "--owner", "worker-2"]).code(8).err_has("InvalidOwner");
    cli.run(&["unlock", "jobs/reindex", "--owner", "worker-1"]).code(0).has(&["unlocked"]);
    cli.run(&["unlock", "jobs/reindex", "--owner", "worker-1"]).code(8).err_has("LockDoesNotExist");
    cli.run(&["get-lock", "jobs/reindex"]).code(8).err_has("LockDoesNotExist");
    let next = cli.run(&["--json", "lock", "jobs/reindex", "--owner", "worker-2", "--ttl", "300ms"]).code(0);
    assert_eq!(next.field("fencing_token"), "1", "the next holder gets token + 1");
    // --wait outlasts worker-2's 300 ms lease.
    let waited =
        cli.run(&["--json", "lock", "jobs/reindex", "--owner", "worker-3", "--ttl", "1m", "--wait", "5s"]).code(0);
    assert_eq!(waited.field("fencing_token"), "2");
    // The Ephemeral lock keyspace is separate; bad arguments are usage or input errors.
    cli.run(&["lock", "jobs/reindex", "--owner", "e", "--ttl", "1m", "--ephemeral"]).code(0).has(&["(ephemeral)"]);
    cli.run(&["lock", "jobs/reindex", "--owner", "x"]).code(2);
    cli.run(&["lock", "jobs/reindex", "--owner", "", "--ttl", "1s"]).code(3).err_has("owner");
    cli.run(&["lock", "jobs/reindex", "--owner", "x", "--ttl", "0s"]).code(2).err_has("'0s' is zero");
}

#[test]
fn a_full_ephemeral_store_exits_9() {
    let options = ClusterOptions {
        nodes: 1,
        extra_args: ["--max-ephemeral-mb", "1"].map(String::from).to_vec(),
        ..ClusterOptions::default()
    };
    let cluster = Cluster::start(options).expect("the cluster starts");
    let client = cluster.client();
    let value = "x".repeat(4_000);
    let ephemeral = kahuna_client::SetOptions::new().durability(kahuna_client::Durability::Ephemeral);
    let filled = (0..2_000).find(|i| client.try_set(&format!("full/{i}"), value.as_bytes(), ephemeral).is_err());
    assert!(filled.is_some(), "2,000 values of 4,000 bytes fit under a 1 MiB cap");

    let cli = Cli::new(&cluster);
    cli.run(&["set", "full/next", &value, "--ephemeral"])
        .code(9)
        .err_has("error: ResourceExhausted: this node's Ephemeral store is full");
    cli.run(&["set", "full/next", &value]).code(0); // the Persistent keyspace is not capped
    cli.run(&["delete", "full/0", "--ephemeral"]).code(0);
    cli.run(&["set", "full/next", &value, "--ephemeral"]).code(0);
    assert!(cli.run(&["--help"]).stdout.contains("9  ResourceExhausted"));
}
