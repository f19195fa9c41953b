//! The interactive shell: the same commands, one per line, over one connection.
//!
//! ```text
//!   stdin is a terminal ── rustyline: prompt "kahuna> ", history in ~/.kahuna_history,
//!                          Tab completes commands and --flags, hints from history
//!   stdin is not ───────── plain lines, no prompt, no history (scripts: kahuna-cli < cmds.txt)
//!        │
//!        └─ each line: shell words (quotes like sh; `#` starts a comment)
//!                      ─ clap (multicall: the first word is the command) ─ Command::execute
//!                      ─ print the report ─ remember its exit class
//! ```
//!
//! The shell only adds three words to the command set: `help [COMMAND]` (clap's, for the
//! whole set or one command; `COMMAND --help` works too), `exit [CODE]` and `quit`. Global
//! options (`-e`, `--timeout`, `--json`) are given when the shell starts; `--json` can also end
//! any line. A line that fails prints its error and the shell goes on.
//!
//! The shell exits like `sh` does: with the code given to `exit`, else (at end of input or
//! Ctrl-D) with the exit code of the last command, so `kahuna-cli < script` tells whether the
//! script's last step worked. Ctrl-C abandons the line being typed.
//!
//! Standard input carries commands here, so values cannot come from it: `set k -` is
//! rejected with a hint to use `--file`. The history file is `$KAHUNA_HISTORY` when set, else
//! `~/.kahuna_history`.

use std::borrow::Cow;
use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;

use clap::{CommandFactory, Parser, Subcommand};
use rustyline::completion::{Completer, Pair};
use rustyline::error::ReadlineError;
use rustyline::highlight::Highlighter;
use rustyline::hint::{Hinter, HistoryHinter};
use rustyline::history::DefaultHistory;
use rustyline::validate::Validator;
use rustyline::{CompletionType, Config, Context, Editor, Helper};

use crate::cmd::Command;
use crate::exit::{EXIT_CODES_HELP, Exit, Failure};
use crate::session::{Session, print_failure};

/// The prompt of an interactive shell.
const PROMPT: &str = "kahuna> ";

/// One line of shell input.
#[derive(Debug, Parser)]
#[command(
    multicall = true,
    about = "Kahuna shell: one command per line, quoted like sh. `help COMMAND` (or `COMMAND --help`) \
             shows a command's options; --json may end any line; exit, quit or Ctrl-D leaves.",
    override_usage = "<COMMAND> [ARGS] [--json]",
    after_help = EXIT_CODES_HELP
)]
struct Line {
    #[command(subcommand)]
    command: LineCommand,
}

/// What a shell line can say: a store command, or leave.
#[derive(Debug, Subcommand)]
enum LineCommand {
    #[command(flatten)]
    Store(Command),
    /// Leave the shell, with exit code CODE (default: that of the last command)
    #[command(visible_alias = "quit")]
    Exit {
        /// The exit code
        code: Option<u8>,
    },
}

/// What running one line means for the shell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    /// Go on; `Some` replaces the last exit code (blank lines and comments leave it).
    Next(Option<u8>),
    /// Leave with this code (`None`: the last command's).
    Quit(Option<u8>),
}

/// Runs the shell until `exit`, end of input or Ctrl-D; returns the process exit code.
pub fn run(session: &mut Session) -> u8 {
    session.stdin_values = false;
    let code = if std::io::stdin().is_terminal() { interactive(session) } else { piped(session) };
    session.close();
    code
}

/// Reads commands from a pipe or file, without prompt or history.
fn piped(session: &mut Session) -> u8 {
    let mut last = 0;
    for line in std::io::stdin().lock().lines() {
        let line = match line {
            Ok(line) => line,
            Err(e) => return print_failure(&Failure::invalid_input(format!("reading standard input: {e}"))).code(),
        };
        match run_line(session, &line) {
            Step::Next(code) => last = code.unwrap_or(last),
            Step::Quit(code) => return code.unwrap_or(last),
        }
    }
    last
}

/// Reads commands from a terminal with line editing, history, completion and hints.
fn interactive(session: &mut Session) -> u8 {
    let config = Config::builder()
        .auto_add_history(false)
        .history_ignore_dups(true)
        .and_then(|b| b.max_history_size(10_000))
        .map(|b| b.history_ignore_space(true).completion_type(CompletionType::List).build());
    let editor = config.and_then(Editor::<ShellHelper, DefaultHistory>::with_config);
    let mut editor = match editor {
        Ok(editor) => editor,
        Err(e) => {
            print_failure(&Failure::internal(format!("cannot set up the terminal ({e}); reading lines instead")));
            return piped(session);
        }
    };
    editor.set_helper(Some(ShellHelper::default()));
    let history = history_path();
    if let Some(path) = &history {
        let _ = editor.load_history(path);
    }
    println!("Kahuna shell on {}. Type help, help COMMAND, or exit (Ctrl-D).", session.endpoints().join(","));
    let mut last = 0;
    let quit = loop {
        match editor.readline(PROMPT) {
            Ok(line) => {
                if !line.trim().is_empty() {
                    let _ = editor.add_history_entry(line.as_str());
                }
                match run_line(session, &line) {
                    Step::Next(code) => last = code.unwrap_or(last),
                    Step::Quit(code) => break code.unwrap_or(last),
                }
            }
            Err(ReadlineError::Interrupted) => continue,
            Err(ReadlineError::Eof) => break last,
            Err(e) => break print_failure(&Failure::internal(format!("reading the terminal: {e}"))).code(),
        }
    };
    if let Some(path) = &history
        && let Err(e) = editor.save_history(path)
    {
        eprintln!("warning: cannot save the history to {}: {e}", path.display());
    }
    quit
}

/// `$KAHUNA_HISTORY`, else `~/.kahuna_history`; none without a home directory.
fn history_path() -> Option<PathBuf> {
    match std::env::var_os("KAHUNA_HISTORY") {
        Some(path) if !path.is_empty() => Some(PathBuf::from(path)),
        _ => dirs::home_dir().map(|home| home.join(".kahuna_history")),
    }
}

/// Parses and runs one line, printing its result or error.
fn run_line(session: &mut Session, line: &str) -> Step {
    let Some(words) = shlex::split(line) else {
        eprintln!("error: the line has an unclosed quote or a trailing backslash");
        return Step::Next(Some(Exit::Usage.code()));
    };
    if words.is_empty() {
        return Step::Next(None);
    }
    let (words, json) = strip_json(words);
    let parsed = match Line::try_parse_from(words) {
        Ok(parsed) => parsed,
        Err(e) => {
            let _ = e.print();
            return Step::Next(Some(if e.use_stderr() { Exit::Usage.code() } else { Exit::Ok.code() }));
        }
    };
    match parsed.command {
        LineCommand::Exit { code } => Step::Quit(code),
        LineCommand::Store(command) => {
            let exit = match command.execute(session) {
                Ok(report) => session.print(&report, json || session.json),
                Err(failure) => print_failure(&failure),
            };
            Step::Next(Some(exit.code()))
        }
    }
}

/// Removes `--json` words (any position before a `--`) and tells whether there were any.
fn strip_json(words: Vec<String>) -> (Vec<String>, bool) {
    let end = words.iter().position(|w| w == "--").unwrap_or(words.len());
    let json = words[..end].iter().any(|w| w == "--json");
    if !json {
        return (words, false);
    }
    let kept = words.into_iter().enumerate().filter(|(i, w)| *i >= end || w != "--json").map(|(_, w)| w).collect();
    (kept, true)
}

/// Completion, hints and nothing else for the line editor.
#[derive(Default)]
struct ShellHelper {
    hinter: HistoryHinter,
}

impl Completer for ShellHelper {
    type Candidate = Pair;

    fn complete(&self, line: &str, pos: usize, _: &Context<'_>) -> rustyline::Result<(usize, Vec<Pair>)> {
        let before = &line[..pos];
        let start = before.rfind(char::is_whitespace).map_or(0, |i| i + 1);
        Ok((start, completions(before, &before[start..])))
    }
}

/// Candidates for `word`, the last (partial) word of `before`: a command name when it is the
/// first word, else one of that command's `--flags`.
fn completions(before: &str, word: &str) -> Vec<Pair> {
    let line = Line::command();
    let first = before.split_whitespace().next().filter(|_| before.trim_start().len() > word.len());
    let names: Vec<String> = match first {
        None => line.get_subcommands().map(|c| c.get_name().to_string()).chain(["help".to_string()]).collect(),
        Some(_) if !word.starts_with('-') => Vec::new(),
        Some(name) => match line.find_subcommand(name) {
            Some(command) => command
                .get_arguments()
                .filter_map(|a| a.get_long().map(|l| format!("--{l}")))
                .chain(["--json".to_string(), "--help".to_string()])
                .collect(),
            None => Vec::new(),
        },
    };
    let mut names: Vec<String> = names.into_iter().filter(|n| n.starts_with(word)).collect();
    names.sort();
    names.dedup();
    names.into_iter().map(|n| Pair { display: n.clone(), replacement: format!("{n} ") }).collect()
}

impl Hinter for ShellHelper {
    type Hint = String;

    fn hint(&self, line: &str, pos: usize, ctx: &Context<'_>) -> Option<String> {
        self.hinter.hint(line, pos, ctx)
    }
}

impl Highlighter for ShellHelper {
    fn highlight_hint<'h>(&self, hint: &'h str) -> Cow<'h, str> {
        // Dim, so a hint is not mistaken for typed text.
        Cow::Owned(format!("\x1b[2m{hint}\x1b[0m"))
    }
}

impl Validator for ShellHelper {}

impl Helper for ShellHelper {}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> Result<LineCommand, clap::Error> {
        Line::try_parse_from(shlex::split(line).unwrap()).map(|l| l.command)
    }

    #[test]
    fn the_definition_is_consistent() {
        Line::command().debug_assert();
    }

    #[test]
    fn lines_are_the_same_commands_with_shell_quoting() {
        let Ok(LineCommand::Store(Command::Set(set))) = parse("set 'a key' \"two words\" --ttl 5s") else {
            panic!("not a set")
        };
        assert_eq!(set.key, "a key");
        assert_eq!(set.value.as_deref(), Some("two words".as_ref()));
        assert_eq!(set.ttl, 5_000);
        assert!(matches!(parse("exit"), Ok(LineCommand::Exit { code: None })));
        assert!(matches!(parse("quit"), Ok(LineCommand::Exit { code: None })));
        assert!(matches!(parse("exit 3"), Ok(LineCommand::Exit { code: Some(3) })));
        assert!(matches!(parse("topology"), Ok(LineCommand::Store(Command::Topology(_)))));
    }

    #[test]
    fn help_is_per_command_and_errors_are_usage_errors() {
        let e = parse("help").unwrap_err();
        assert!(!e.use_stderr());
        assert!(e.to_string().contains("history"), "{e}");
        let e = parse("help cas").unwrap_err();
        assert!(e.to_string().contains("--expect-revision"), "{e}");
        let e = parse("get k --help").unwrap_err();
        assert!(e.to_string().contains("--as-of"), "{e}");
        let e = parse("get").unwrap_err();
        assert!(e.use_stderr());
        assert!(parse("frobnicate").unwrap_err().use_stderr());
    }

    #[test]
    fn json_may_end_any_line() {
        let words = |s: &str| s.split(' ').map(String::from).collect::<Vec<_>>();
        assert_eq!(strip_json(words("get k --json")), (words("get k"), true));
        assert_eq!(strip_json(words("--json get k")), (words("get k"), true));
        assert_eq!(strip_json(words("get k")), (words("get k"), false));
        assert_eq!(strip_json(words("set k -- --json")), (words("set k -- --json"), false));
    }

    #[test]
    fn tab_completes_commands_then_flags() {
        let names =
            |before: &str, word: &str| completions(before, word).into_iter().map(|p| p.display).collect::<Vec<_>>();
        assert_eq!(names("ex", "ex"), ["exists", "exit", "extend", "extend-lock"]);
        assert_eq!(names("h", "h"), ["help", "history"]);
        assert_eq!(names("get k --r", "--r"), ["--raw", "--revision"]);
        assert_eq!(names("set k v --if", "--if"), ["--if-exists", "--if-not-exists"]);
        assert!(names("get k", "k").is_empty());
        assert!(names("nosuch --", "--").is_empty());
        assert_eq!(completions("to", "to")[0].replacement, "topology ");
    }
}
