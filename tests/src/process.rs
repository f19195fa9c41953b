//! Starting, signalling and reaping server processes; reading the tail of their logs.
//!
//! Every process is forked by one long-lived spawner thread with `PR_SET_PDEATHSIG = SIGKILL`.
//! The kernel delivers that signal when the *thread* that forked the child exits, not the
//! process; forking from a thread that lives as long as the test binary means "when the test
//! binary dies, its servers die", even if a test hands its cluster to a short-lived helper
//! thread that restarts nodes.
//!
//! ```text
//!   any thread ── Command ──> spawner thread (lives until exit) ── fork + prctl + exec
//!              <── Child ────
//! ```

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, ExitStatus};
use std::sync::OnceLock;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

type SpawnRequest = (Command, mpsc::SyncSender<io::Result<Child>>);

static SPAWNER: OnceLock<mpsc::Sender<SpawnRequest>> = OnceLock::new();

/// Spawns `command` from the spawner thread, with the parent-death signal set.
pub(crate) fn spawn(mut command: Command) -> io::Result<Child> {
    // SAFETY: the closure runs between fork and exec and only makes one async-signal-safe
    // system call (prctl), touching no memory shared with the parent.
    unsafe {
        command.pre_exec(|| nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).map_err(io::Error::from));
    }
    let spawner = SPAWNER.get_or_init(|| {
        let (requests, inbox) = mpsc::channel::<SpawnRequest>();
        std::thread::Builder::new()
            .name("kahuna-harness-spawner".into())
            .spawn(move || {
                for (mut command, reply) in inbox {
                    let _ = reply.send(command.spawn());
                }
            })
            .expect("cannot start the process spawner thread");
        requests
    });
    let gone = || io::Error::other("the process spawner thread is gone");
    let (reply, result) = mpsc::sync_channel(1);
    spawner.send((command, reply)).map_err(|_| gone())?;
    result.recv().map_err(|_| gone())?
}

/// Sends `signal` to `child` (ignoring a process that already exited).
pub(crate) fn signal(child: &Child, signal: Signal) {
    let _ = kill(Pid::from_raw(child.id() as i32), signal);
}

/// SIGKILLs and reaps `child`.
pub(crate) fn kill_and_reap(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// Waits up to `timeout` for `child` to exit; `None` if it is still running.
pub(crate) fn wait_exit(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The last `lines` lines of a log file (reads at most the last 64 KiB).
pub(crate) fn tail(path: &Path, lines: usize) -> String {
    let read = || -> io::Result<String> {
        let mut file = File::open(path)?;
        let len = file.metadata()?.len();
        file.seek(SeekFrom::Start(len.saturating_sub(64 * 1024)))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    };
    match read() {
        Ok(text) => {
            let all: Vec<&str> = text.lines().collect();
            all[all.len().saturating_sub(lines)..].join("\n")
        }
        Err(e) => format!("(cannot read {}: {e})", path.display()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spawned_processes_can_be_signalled_and_reaped() {
        let mut child = spawn({
            let mut c = Command::new("sleep");
            c.arg("30");
            c
        })
        .unwrap();
        assert!(wait_exit(&mut child, Duration::from_millis(50)).is_none());
        signal(&child, Signal::SIGTERM);
        let status = wait_exit(&mut child, Duration::from_secs(5)).unwrap();
        assert!(!status.success());
    }

    #[test]
    fn tail_keeps_the_last_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let text: String = (0..100).map(|i| format!("line {i}\n")).collect();
        std::fs::write(&path, text).unwrap();
        assert_eq!(tail(&path, 2), "line 98\nline 99");
        assert!(tail(&dir.path().join("missing"), 2).starts_with("(cannot read"));
    }
}
