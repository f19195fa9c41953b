//! A session: the connection settings, the lazily connected client and the output mode.
//!
//! One-shot commands and the shell share this. The client connects on the first command that
//! needs the cluster, not before, so `kahuna-cli shell` starts (and `help` works) with the
//! cluster down, and a failed connection is reported by the command that needed it and tried
//! again by the next one.
//!
//! ```text
//!   Session { endpoints, options, client: None } ─ command needs the cluster ─> connect
//!        │                                                 ok: keep the client for later commands
//!        └─ print(report) ─ --json? one line of JSON : the human text (or --raw bytes)
//! ```
//!
//! Deadlines: `--timeout` is the client's per-call deadline, retries included, and also bounds
//! connecting; the client's per-connection and per-read-attempt limits are capped by it, so a
//! short `--timeout` against an unreachable endpoint fails with `Unavailable` in about that
//! time.

use std::io::Write;
use std::time::Duration;

use kahuna_client::{BlockingClient, ClientOptions};

use crate::exit::{Exit, Failure};
use crate::render::{Clock, Report};

/// Where and how to talk to the cluster, and how to print results.
pub struct Session {
    endpoints: Vec<String>,
    options: ClientOptions,
    client: Option<BlockingClient>,
    /// Print JSON instead of text.
    pub json: bool,
    /// Values may be read from standard input (false in the shell).
    pub stdin_values: bool,
}

impl Session {
    /// A session that will connect to `endpoints` with per-call deadline `timeout`.
    pub fn new(endpoints: Vec<String>, timeout: Duration, json: bool) -> Session {
        let defaults = ClientOptions::default();
        let options = ClientOptions {
            timeout,
            connect_timeout: defaults.connect_timeout.min(timeout),
            read_attempt_timeout: defaults.read_attempt_timeout.min(timeout),
        };
        Session { endpoints, options, client: None, json, stdin_values: true }
    }

    /// The client, connecting first if this session has none yet.
    pub fn client(&mut self) -> Result<&BlockingClient, Failure> {
        if self.client.is_none() {
            let client = BlockingClient::connect(&self.endpoints, self.options.clone())?;
            self.client = Some(client);
        }
        Ok(self.client.as_ref().expect("connected above"))
    }

    /// The endpoints this session connects to.
    pub fn endpoints(&self) -> &[String] {
        &self.endpoints
    }

    /// The clock human output is rendered against.
    pub fn clock(&self) -> Clock {
        Clock::local()
    }

    /// Writes a report to standard output in the session's mode; returns its exit class.
    ///
    /// A closed pipe (`kahuna-cli scan x | head`) is not an error: the reader has what it
    /// wanted.
    pub fn print(&self, report: &Report, json: bool) -> Exit {
        let mut out = std::io::stdout().lock();
        let written = match (&report.raw, json) {
            (Some(raw), _) => out.write_all(raw),
            (None, true) => writeln!(out, "{}", report.json),
            (None, false) => out.write_all(report.human.as_bytes()),
        };
        match written.and_then(|()| out.flush()) {
            Ok(()) => report.exit,
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => report.exit,
            Err(e) => print_failure(&Failure::internal(format!("writing the output: {e}"))),
        }
    }

    /// Closes the client's connections.
    pub fn close(&mut self) {
        if let Some(client) = self.client.take() {
            client.close();
        }
    }
}

/// Prints a failure to stderr as `error: <Status>: <message>`; returns its exit class.
pub fn print_failure(failure: &Failure) -> Exit {
    eprintln!("error: {failure}");
    failure.exit()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_timeout_caps_every_client_limit() {
        let s = Session::new(vec!["127.0.0.1:1".into()], Duration::from_millis(500), false);
        assert_eq!(s.options.timeout, Duration::from_millis(500));
        assert_eq!(s.options.connect_timeout, Duration::from_millis(500));
        assert_eq!(s.options.read_attempt_timeout, Duration::from_millis(500));
        let s = Session::new(vec!["127.0.0.1:1".into()], Duration::from_secs(30), true);
        assert_eq!(s.options.connect_timeout, ClientOptions::default().connect_timeout);
        assert!(s.json && s.stdin_values && s.client.is_none());
    }
}
