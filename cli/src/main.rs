//! `kahuna-cli`: the command-line client of Kahuna, one-shot or as an interactive shell.
//!
//! The binary is a thin edge around three pieces: clap parses the command line into a
//! [`cmd::Command`], the command runs against a [`session::Session`] (which owns the
//! `kahuna_client::BlockingClient`) and returns a [`render::Report`], and the report is printed
//! for people or as JSON. The exit code says how it went ([`exit::Exit`]).
//!
//! ```text
//!   argv ──clap──> Cli { global, command }
//!                    ├─ store command ─> Command::execute(session) ─> Report ─> stdout, exit code
//!                    └─ none / shell ──> shell::run(session): the same, once per input line
//!   errors ─> stderr "error: <Status>: <message>", the status class's exit code
//! ```
//!
//! Modules: `cmd` (the command set, one module per group), `session` (connection and
//! printing), `render` (human and JSON output), `parse` (durations, times, values), `exit`
//! (exit codes), `shell` (the interactive loop). This file holds the command line itself.
//!
//! What it deliberately does not do: cache anything between runs, retry beyond what the
//! client core does, or read configuration files; everything is flags and `KAHUNA_*`
//! environment variables.
//!
//! ## The command line
//!
//! ```text
//!   kahuna-cli [-e HOST:PORT,...] [--timeout D] [--json] <command> [args]   one command, then exit
//!   kahuna-cli [global options] [shell]                                     the interactive shell
//! ```
//!
//! Global options may also follow the command (`kahuna-cli get k --json`). Endpoints come from
//! `--endpoints`/`-e`, else `KAHUNA_ENDPOINTS`, else the local three-node cluster of
//! `scripts/cluster.sh`; the timeout from `--timeout`, else `KAHUNA_TIMEOUT`, else 10 s.
//!
//! Parsing is clap's: an unknown flag, a missing argument or a value that does not parse
//! prints clap's message and exits 2 before anything is sent. The exit-code table is part of
//! `--help`.

mod cmd;
mod exit;
mod parse;
mod render;
mod session;
mod shell;

use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::cmd::Command;
use crate::exit::EXIT_CODES_HELP;
use crate::session::{Session, print_failure};

fn main() -> ExitCode {
    // Usage errors print clap's message and exit 2; --help and --version exit 0.
    let cli = Cli::parse();
    let mut session = Session::new(cli.global.endpoints, cli.global.timeout, cli.global.json);
    let code = match cli.command {
        None | Some(TopCommand::Shell) => shell::run(&mut session),
        Some(TopCommand::Store(command)) => {
            let exit = match command.execute(&mut session) {
                Ok(report) => session.print(&report, session.json),
                Err(failure) => print_failure(&failure),
            };
            session.close();
            exit.code()
        }
    };
    ExitCode::from(code)
}

/// Endpoints used when neither `--endpoints` nor `KAHUNA_ENDPOINTS` is given.
pub const DEFAULT_ENDPOINTS: &str = "127.0.0.1:7071,127.0.0.1:7072,127.0.0.1:7073";

/// `kahuna-cli`: the command-line client of Kahuna.
#[derive(Debug, Parser)]
#[command(
    name = "kahuna-cli",
    version,
    about = "Command-line client and interactive shell for the Kahuna key/value store",
    long_about = "Command-line client and interactive shell for the Kahuna key/value store.\n\n\
                  Run one command (kahuna-cli set config/a on --ttl 10s), or start the shell with no \
                  command (or `kahuna-cli shell`) and type the same commands there.",
    after_help = EXIT_CODES_HELP,
    after_long_help = EXIT_CODES_HELP
)]
pub struct Cli {
    #[command(flatten, next_help_heading = "Global options")]
    pub global: Global,
    #[command(subcommand)]
    pub command: Option<TopCommand>,
}

/// Options that apply to every command.
#[derive(Clone, Debug, PartialEq, Eq, Args)]
pub struct Global {
    /// Cluster endpoints (host:port, comma-separated); any one that answers will do
    #[arg(
        long,
        short = 'e',
        global = true,
        env = "KAHUNA_ENDPOINTS",
        value_name = "HOST:PORT,...",
        value_delimiter = ',',
        default_value = DEFAULT_ENDPOINTS,
        hide_env_values = true
    )]
    pub endpoints: Vec<String>,
    /// Deadline of each call, retries and connecting included: 10s, 500ms, 1m
    #[arg(long, global = true, env = "KAHUNA_TIMEOUT", value_name = "DURATION", value_parser = parse::timeout, default_value = "10s", hide_env_values = true)]
    pub timeout: Duration,
    /// Print one JSON object per result (one line) instead of text
    #[arg(long, global = true)]
    pub json: bool,
}

/// What a one-shot run does: a store command, or the shell.
#[derive(Debug, Subcommand)]
pub enum TopCommand {
    #[command(flatten)]
    Store(Command),
    /// Start the interactive shell (also what kahuna-cli does without a command)
    Shell,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;
    use clap::error::ErrorKind;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("kahuna-cli").chain(args.iter().copied()))
    }

    #[test]
    fn the_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn global_options_go_before_or_after_the_command() {
        let cli = parse(&["-e", "h1:1,h2:2", "--timeout", "2s", "get", "k", "--json"]).unwrap();
        assert_eq!(cli.global.endpoints, ["h1:1", "h2:2"]);
        assert_eq!(cli.global.timeout, Duration::from_secs(2));
        assert!(cli.global.json);
        let cli = parse(&["get", "k", "--endpoints", "h:3", "--timeout", "250ms"]).unwrap();
        assert_eq!(cli.global.endpoints, ["h:3"]);
        assert_eq!(cli.global.timeout, Duration::from_millis(250));
    }

    #[test]
    fn defaults_are_the_local_cluster_and_ten_seconds() {
        // The test process may have KAHUNA_ENDPOINTS set; only check when it has not.
        if std::env::var_os("KAHUNA_ENDPOINTS").is_none() && std::env::var_os("KAHUNA_TIMEOUT").is_none() {
            let cli = parse(&[]).unwrap();
            assert_eq!(cli.global.endpoints.join(","), DEFAULT_ENDPOINTS);
            assert_eq!(cli.global.timeout, Duration::from_secs(10));
            assert!(cli.command.is_none());
        }
        assert!(matches!(parse(&["shell"]).unwrap().command, Some(TopCommand::Shell)));
    }

    #[test]
    fn set_takes_a_value_a_file_or_stdin_and_its_flags() {
        let cli = parse(&["set", "k", "v", "--ttl", "1m 30s", "--if-not-exists", "--ephemeral"]).unwrap();
        let Some(TopCommand::Store(Command::Set(set))) = cli.command else { panic!("not a set") };
        assert_eq!((set.key.as_str(), set.value.as_deref()), ("k", Some("v".as_ref())));
        assert_eq!(set.ttl, 90_000);
        assert!(set.if_not_exists && !set.if_exists && set.keyspace.ephemeral);
        assert!(parse(&["set", "k", "--file", "/tmp/x"]).is_ok());
        assert!(parse(&["set", "k", "-"]).is_ok());
        assert!(parse(&["set", "k", "--", "-5"]).is_ok());
    }

    #[test]
    fn usage_errors_are_clap_errors() {
        let kind = |args: &[&str]| parse(args).unwrap_err().kind();
        assert_eq!(kind(&["set", "k"]), ErrorKind::MissingRequiredArgument);
        assert_eq!(kind(&["set", "k", "v", "--file", "f"]), ErrorKind::ArgumentConflict);
        assert_eq!(kind(&["set", "k", "v", "--if-exists", "--if-not-exists"]), ErrorKind::ArgumentConflict);
        assert_eq!(kind(&["set", "k", "v", "--ttl", "soon"]), ErrorKind::ValueValidation);
        assert_eq!(kind(&["set", "k", "v", "--ttl=-5s"]), ErrorKind::ValueValidation);
        // Negative values reach the value parsers, which name the argument and the problem,
        // instead of being taken for flags.
        for args in [
            &["set", "k", "v", "--ttl", "-5s"][..],
            &["cas", "k", "v", "--expect-revision", "-1"],
            &["cas", "k", "v", "--expect-revision", "1", "--ttl", "-1m"],
            &["get", "k", "--revision", "-1"],
            &["extend", "k", "-1s"],
            &["extend", "k", "0s"],
            &["history", "k", "--limit", "-3"],
            &["scan", "p", "--limit", "-3"],
            &["lock", "r", "--owner", "o", "--ttl", "-10s"],
            &["lock", "r", "--owner", "o", "--ttl", "0s"],
            &["lock", "r", "--owner", "o", "--ttl", "10s", "--wait", "-1s"],
            &["extend-lock", "r", "--owner", "o", "--ttl", "0"],
        ] {
            assert_eq!(kind(args), ErrorKind::ValueValidation, "{args:?}");
        }
        let message = parse(&["set", "k", "v", "--ttl", "-5s"]).unwrap_err().to_string();
        assert!(message.contains("--ttl") && message.contains("negative"), "{message}");
        let message = parse(&["lock", "r", "--owner", "o", "--ttl", "0s"]).unwrap_err().to_string();
        assert!(message.contains("--ttl") && message.contains("at least 1ms"), "{message}");
        let message = parse(&["get", "k", "--revision", "-1"]).unwrap_err().to_string();
        assert!(message.contains("--revision") && message.contains("-1"), "{message}");
        assert_eq!(kind(&["set", "k", "v", "--bogus"]), ErrorKind::UnknownArgument);
        assert_eq!(kind(&["get", "k", "--revision", "1", "--as-of", "now"]), ErrorKind::ArgumentConflict);
        assert_eq!(kind(&["get", "k", "--as-of", "yesterday"]), ErrorKind::ValueValidation);
        assert_eq!(kind(&["cas", "k", "v"]), ErrorKind::MissingRequiredArgument);
        assert_eq!(
            kind(&["cas", "k", "v", "--expect-value", "a", "--expect-revision", "1"]),
            ErrorKind::ArgumentConflict
        );
        assert_eq!(kind(&["extend", "k"]), ErrorKind::MissingRequiredArgument);
        assert_eq!(kind(&["extend", "k", "soon"]), ErrorKind::ValueValidation);
        assert_eq!(kind(&["scan", "p", "--cursor", "xyz"]), ErrorKind::ValueValidation);
        assert_eq!(kind(&["--timeout", "0s", "topology"]), ErrorKind::ValueValidation);
        assert_eq!(kind(&["frobnicate"]), ErrorKind::InvalidSubcommand);
        assert_eq!(parse(&["get", "k", "--bogus"]).unwrap_err().exit_code(), 2);
    }

    #[test]
    fn every_command_parses_its_documented_form() {
        for args in [
            &["get", "k", "--revision", "3"][..],
            &["get", "k", "--as-of", "30s ago", "--raw"],
            &["get", "k", "--as-of", "2025-06-01T12:00:00Z"],
            &["exists", "k", "--ephemeral"],
            &["delete", "k"],
            &["del", "k"],
            &["extend", "k", "30s"],
            &["cas", "k", "new", "--expect-value", "old"],
            &["cas", "k", "new", "--expect-revision", "3", "--ttl", "5s"],
            &["cas", "k", "--file", "f", "--expect-file", "g"],
            &["history", "k", "--limit", "5"],
            &["bucket", "b"],
            &["scan"],
            &["scan", "p", "--limit", "10", "--cursor", "00ff"],
            &["topology"],
        ] {
            let cli = parse(args).unwrap_or_else(|e| panic!("{args:?}: {e}"));
            assert!(matches!(cli.command, Some(TopCommand::Store(_))), "{args:?}");
        }
    }

    #[test]
    fn help_lists_the_exit_codes() {
        let help = Cli::command().render_long_help().to_string();
        assert!(help.contains("Exit codes:"), "{help}");
        assert!(help.contains("4  Unavailable or MustRetry"), "{help}");
        assert!(help.contains("KAHUNA_ENDPOINTS"), "{help}");
    }
}
