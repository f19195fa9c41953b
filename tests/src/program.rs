//! Driving a test program in another language (C, C#) that loops against a cluster.
//!
//! The failover programs print `iteration N` after every round, anything else as free text,
//! and a closing `done unknown=.. slowest=..ms at=..` line; [`Progress`] follows that output,
//! [`Running`] makes sure the process is gone when the test ends, and
//! [`check_failover_summary`] holds the assertions both languages share.

use std::io::{BufRead, BufReader};
use std::process::{Child, ExitStatus};
use std::sync::mpsc;
use std::time::Duration;

use crate::wait_until;

/// A child process that is killed and reaped when dropped (also when a test panics).
pub struct Running(pub Child);

impl Running {
    /// Waits up to `timeout` for the exit; `None` (after killing it) if it overran.
    pub fn wait(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let status = wait_until("the program to exit", timeout, || self.0.try_wait().ok().flatten()).ok();
        if status.is_none() {
            let _ = self.0.kill();
        }
        status
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// What a looping program reported: its latest iteration, and every other line it printed.
pub struct Progress {
    lines: mpsc::Receiver<String>,
    latest: u64,
    /// Every line that was not an `iteration N` report.
    pub other: Vec<String>,
}

impl Progress {
    /// Follows the child's stdout (the reader thread ends with the child).
    pub fn of(child: &mut Child) -> Progress {
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Progress { lines, latest: 0, other: Vec::new() }
    }

    /// The latest iteration reported so far.
    pub fn latest(&mut self) -> u64 {
        while let Ok(line) = self.lines.try_recv() {
            self.take(line);
        }
        self.latest
    }

    fn take(&mut self, line: String) {
        match line.strip_prefix("iteration ").and_then(|n| n.parse::<u64>().ok()) {
            Some(n) => self.latest = n,
            None => {
                eprintln!("program: {line}");
                self.other.push(line);
            }
        }
    }

    /// Takes every line up to the end of the output (the program has exited).
    pub fn drain_until_exit(&mut self) {
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(10)) {
            self.take(line);
        }
    }

    /// Waits until the program reports an iteration beyond `after`.
    pub fn wait_beyond(&mut self, after: u64, timeout: Duration) {
        wait_until(&format!("iteration {}", after + 1), timeout, || (self.latest() > after).then_some(()))
            .unwrap_or_else(|e| panic!("{e}; the program said: {:?}", self.other));
    }
}

/// Checks a failover program's `done` line: at most one write (the one in flight at the kill)
/// had an unknown outcome, and one iteration did wait for the new leader.
pub fn check_failover_summary(said: &[String]) {
    let done = said.iter().find(|l| l.starts_with("done ")).unwrap_or_else(|| panic!("no summary: {said:?}"));
    let field = |name: &str| -> u64 {
        let value = done.split_whitespace().find_map(|w| w.strip_prefix(name)).unwrap_or_else(|| panic!("{done}"));
        value.trim_end_matches("ms").parse().unwrap_or_else(|_| panic!("{name} in {done}"))
    };
    assert!(field("unknown=") <= 1, "{said:?}: more writes had an unknown outcome than were in flight at the kill");
    assert!(field("slowest=") >= 500 && field("at=") > 20, "{done}: no iteration waited for an election");
    eprintln!("failover: {done}");
}
