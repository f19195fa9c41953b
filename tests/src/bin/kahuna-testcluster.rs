//! `kahuna-testcluster`: a real Kahuna cluster for test suites written in other languages
//! (pytest, C, C#). It starts the cluster with the `kahuna-tests` harness, prints one JSON line
//! describing it, then obeys one command per stdin line, answering each with one JSON line:
//!
//! ```text
//! kill I | stop I | restart I | pause I | resume I     node index I (0-based)
//! wait-ready                                          every partition has a live leader
//! leader P                                            {"ok":true,"node":I} for partition P
//! endpoints                                           {"ok":true,"endpoints":[...]} of live nodes
//! quit                                                stop everything and exit (also on EOF)
//! ```
//!
//! Usage: `kahuna-testcluster [--nodes N] [--partitions P] [-- extra server flags...]`.
//! Every process and temp dir is removed on exit, even when the caller dies (stdin closes).

use std::io::{BufRead, Write};
use std::time::Duration;

use kahuna_tests::{Cluster, ClusterOptions};

fn reply(out: &mut impl Write, value: String) {
    let _ = writeln!(out, "{value}");
    let _ = out.flush();
}

fn json_list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| format!("\"{s}\"")).collect();
    format!("[{}]", quoted.join(","))
}

fn main() {
    let mut options = ClusterOptions::default();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--nodes" => options.nodes = args.next().and_then(|v| v.parse().ok()).expect("--nodes N"),
            "--partitions" => options.partitions = args.next().and_then(|v| v.parse().ok()).expect("--partitions P"),
            "--" => options.extra_args.extend(args.by_ref()),
            other => {
                eprintln!("kahuna-testcluster: unknown argument {other}");
                std::process::exit(2);
            }
        }
    }
    let partitions = options.partitions;
    let mut cluster = match Cluster::start(options) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("kahuna-testcluster: {e:#}");
            std::process::exit(1);
        }
    };
    let mut out = std::io::stdout().lock();
    reply(
        &mut out,
        format!(
            "{{\"ok\":true,\"endpoints\":{},\"partitions\":{partitions},\"nodes\":{}}}",
            json_list(&cluster.endpoints()),
            cluster.len()
        ),
    );
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        let words: Vec<&str> = line.split_whitespace().collect();
        let index = |n: usize| words.get(n).and_then(|w| w.parse::<usize>().ok());
        let answer = match (words.first().copied(), index(1)) {
            (None, _) => continue,
            (Some("quit"), _) => break,
            (Some("kill"), Some(i)) if i < cluster.len() => {
                cluster.kill(i);
                "{\"ok\":true}".to_string()
            }
            (Some("stop"), Some(i)) if i < cluster.len() => {
                cluster.stop(i);
                "{\"ok\":true}".to_string()
            }
            (Some("pause"), Some(i)) if i < cluster.len() => {
                cluster.pause(i);
                "{\"ok\":true}".to_string()
            }
            (Some("resume"), Some(i)) if i < cluster.len() => {
                cluster.resume(i);
                "{\"ok\":true}".to_string()
            }
            (Some("restart"), Some(i)) if i < cluster.len() => match cluster.restart(i) {
                Ok(()) => "{\"ok\":true}".to_string(),
                Err(e) => format!("{{\"ok\":false,\"error\":{:?}}}", e.to_string()),
            },
            (Some("wait-ready"), _) => match cluster.wait_ready(Duration::from_secs(60)) {
                Ok(()) => "{\"ok\":true}".to_string(),
                Err(e) => format!("{{\"ok\":false,\"error\":{:?}}}", format!("{e:#}")),
            },
            (Some("leader"), Some(p)) => match cluster.leader_of(p as u32) {
                Some(n) => format!("{{\"ok\":true,\"node\":{n}}}"),
                None => "{\"ok\":false,\"error\":\"no leader known\"}".to_string(),
            },
            (Some("endpoints"), _) => format!("{{\"ok\":true,\"endpoints\":{}}}", json_list(&cluster.endpoints())),
            _ => format!("{{\"ok\":false,\"error\":{:?}}}", format!("unknown command: {line}")),
        };
        reply(&mut out, answer);
    }
    drop(cluster);
}
