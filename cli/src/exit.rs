//! Exit codes: one number per class of outcome, so scripts can branch without parsing text.
//!
//! Every run of `kahuna-cli` (and every line of the shell) ends in exactly one [`Exit`]. The
//! store's answers that are *results* (a key not found, a condition not met) get their own
//! code, distinct from success and from every error; each class of [`Code`] error gets one code
//! of its own, and a command line that does not parse is `2`, as clap (and most Unix tools)
//! have it.
//!
//! ```text
//!   Ok ........................................ 0
//!   not found / condition not met ............ 1   (found=false, set=false, ...; Code::NotFound)
//!   usage: the command line does not parse ... 2   (clap's message)
//!   InvalidInput ............................. 3   (the store's rules rejected an argument)
//!   Unavailable, MustRetry ................... 4   (nothing applied: retrying is safe)
//!   Timeout .................................. 5   (deadline passed: a write's outcome is unknown)
//!   Internal ................................. 6
//!   Aborted .................................. 7   (transactions)
//!   LockDoesNotExist, InvalidOwner ........... 8   (locks)
//!   ResourceExhausted ........................ 9   (a node's Ephemeral store is full)
//! ```
//!
//! The table is part of the CLI's contract: it is printed by `--help` ([`EXIT_CODES_HELP`]),
//! documented in `docs/cli.md` and tested. Codes are only ever appended.
//!
//! [`Failure`] is the error side of a command: a status code name and a message, printed to
//! stderr as `error: <Status>: <message>`. Problems found by the CLI itself that are not parse
//! errors (a `--file` that cannot be read, stdin used twice) are reported as `InvalidInput`,
//! since they are bad arguments that reached no server.

use std::fmt;

use kahuna_client::Code;

/// The outcome class of one command, which decides the process exit code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Exit {
    /// The command did what was asked.
    Ok,
    /// A key was not found or a condition was not met (a result, not an error).
    NotMet,
    /// The command line does not parse.
    Usage,
    /// An argument broke the store's rules (`InvalidInput`).
    InvalidInput,
    /// The cluster could not serve the call; nothing was applied (`Unavailable`, `MustRetry`).
    Unavailable,
    /// The deadline passed; a write's outcome is unknown (`Timeout`).
    Timeout,
    /// A bug or an I/O failure (`Internal`).
    Internal,
    /// A transactional conflict (`Aborted`).
    Aborted,
    /// A lock call on a lock that is missing or held by someone else.
    Lock,
    /// A node's Ephemeral store is at its memory cap (`ResourceExhausted`).
    ResourceExhausted,
}

impl Exit {
    /// Every class, in code order.
    #[cfg(test)]
    pub const ALL: [Exit; 10] = [
        Exit::Ok,
        Exit::NotMet,
        Exit::Usage,
        Exit::InvalidInput,
        Exit::Unavailable,
        Exit::Timeout,
        Exit::Internal,
        Exit::Aborted,
        Exit::Lock,
        Exit::ResourceExhausted,
    ];

    /// The process exit code of this class.
    pub fn code(self) -> u8 {
        match self {
            Exit::Ok => 0,
            Exit::NotMet => 1,
            Exit::Usage => 2,
            Exit::InvalidInput => 3,
            Exit::Unavailable => 4,
            Exit::Timeout => 5,
            Exit::Internal => 6,
            Exit::Aborted => 7,
            Exit::Lock => 8,
            Exit::ResourceExhausted => 9,
        }
    }

    /// The class an error status code belongs to.
    pub fn of(code: Code) -> Exit {
        match code {
            Code::Ok => Exit::Ok,
            Code::NotFound => Exit::NotMet,
            Code::InvalidInput => Exit::InvalidInput,
            Code::MustRetry | Code::Unavailable => Exit::Unavailable,
            Code::Timeout => Exit::Timeout,
            Code::Internal => Exit::Internal,
            Code::Aborted => Exit::Aborted,
            Code::LockDoesNotExist | Code::InvalidOwner => Exit::Lock,
            Code::ResourceExhausted => Exit::ResourceExhausted,
        }
    }

    /// The class of a result: `Ok` when it was met, `NotMet` otherwise.
    pub fn met(met: bool) -> Exit {
        if met { Exit::Ok } else { Exit::NotMet }
    }
}

/// The exit-code table as `--help` prints it.
pub const EXIT_CODES_HELP: &str = "\
Exit codes:
  0  ok
  1  not found, or a condition not met (set/cas not written, nothing deleted or extended)
  2  usage: the command line does not parse
  3  InvalidInput: an argument broke the store's rules (empty key, value too large, ...)
  4  Unavailable or MustRetry: the cluster could not serve the call; nothing was applied
  5  Timeout: the deadline passed; a write's outcome is unknown
  6  Internal: a server bug or I/O failure
  7  Aborted: a transactional conflict
  8  LockDoesNotExist or InvalidOwner
  9  ResourceExhausted: a node's Ephemeral store is at its memory cap; nothing was written";

/// Why a command failed: a status name, a message and the exit class.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// The status code the failure reports.
    pub code: Code,
    /// What went wrong, naming the argument or node involved.
    pub message: String,
}

impl Failure {
    /// A bad argument found by the CLI itself (unreadable file, stdin used twice, ...).
    pub fn invalid_input(message: impl Into<String>) -> Failure {
        Failure { code: Code::InvalidInput, message: message.into() }
    }

    /// A local failure that is nobody's argument (writing the output, the terminal).
    pub fn internal(message: impl Into<String>) -> Failure {
        Failure { code: Code::Internal, message: message.into() }
    }

    /// The exit class of this failure.
    pub fn exit(&self) -> Exit {
        Exit::of(self.code)
    }
}

impl From<kahuna_client::Error> for Failure {
    fn from(error: kahuna_client::Error) -> Failure {
        Failure { code: error.code, message: error.message }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.name(), self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_code_has_a_class_and_classes_have_distinct_codes() {
        for code in Code::ALL {
            let exit = Exit::of(code);
            assert_eq!(exit == Exit::Ok, code == Code::Ok, "{code:?}");
        }
        let codes: Vec<u8> = Exit::ALL.iter().map(|e| e.code()).collect();
        assert_eq!(codes, (0..10).collect::<Vec<u8>>());
    }

    #[test]
    fn the_table_matches_the_suggested_classes() {
        assert_eq!(Exit::of(Code::NotFound).code(), 1);
        assert_eq!(Exit::of(Code::InvalidInput).code(), 3);
        assert_eq!(Exit::of(Code::Unavailable).code(), 4);
        assert_eq!(Exit::of(Code::MustRetry).code(), 4);
        assert_eq!(Exit::of(Code::Timeout).code(), 5);
        assert_eq!(Exit::of(Code::Internal).code(), 6);
        assert_eq!(Exit::of(Code::Aborted).code(), 7);
        assert_eq!(Exit::of(Code::InvalidOwner).code(), 8);
        assert_eq!(Exit::of(Code::ResourceExhausted).code(), 9);
        assert_eq!(Exit::met(false).code(), 1);
        assert_eq!(Exit::met(true).code(), 0);
    }

    #[test]
    fn the_help_table_lists_every_code_once() {
        for exit in Exit::ALL {
            let line = format!("\n  {}  ", exit.code());
            assert_eq!(EXIT_CODES_HELP.matches(&line).count(), 1, "{exit:?}");
        }
    }

    #[test]
    fn failures_print_the_status_name_then_the_message() {
        let f = Failure::from(kahuna_client::Error::new(Code::Unavailable, "no node answered"));
        assert_eq!(f.to_string(), "Unavailable: no node answered");
        assert_eq!(f.exit(), Exit::Unavailable);
        assert_eq!(Failure::invalid_input("x").exit().code(), 3);
    }
}
