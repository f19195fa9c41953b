//! The stable status codes of the Kahuna API.

use crate::kahuna_capnp::Status;

/// A status code. The numbers are part of the public contract (wire, C ABI, Python, C#):
/// never renumber, only append.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Code {
    /// Success.
    Ok = 0,
    /// A bad argument; the message names it. Nothing was written.
    InvalidInput = 1,
    /// The key, revision or target does not exist.
    NotFound = 2,
    /// A definite transactional conflict: start again.
    Aborted = 3,
    /// Transient (no leader, stale route, leader change): safe to retry.
    MustRetry = 4,
    /// A quorum could not be reached in time.
    Unavailable = 5,
    /// The deadline passed; the outcome of a write is unknown.
    Timeout = 6,
    /// The lock does not exist (or expired).
    LockDoesNotExist = 7,
    /// The lock is held by another owner.
    InvalidOwner = 8,
    /// A bug or an I/O failure on the server.
    Internal = 9,
    /// A node's Ephemeral store is at its memory cap (`limits.max_ephemeral_mb`). Nothing was
    /// written; deletes, expiries or a larger cap make room.
    ResourceExhausted = 10,
}

impl Code {
    /// Every code, in numeric order.
    pub const ALL: [Code; 11] = [
        Code::Ok,
        Code::InvalidInput,
        Code::NotFound,
        Code::Aborted,
        Code::MustRetry,
        Code::Unavailable,
        Code::Timeout,
        Code::LockDoesNotExist,
        Code::InvalidOwner,
        Code::Internal,
        Code::ResourceExhausted,
    ];

    /// The code's stable number.
    pub fn as_u8(self) -> u8 {
        self as u8
    }

    /// The code with this number, if any.
    pub fn from_u8(n: u8) -> Option<Code> {
        Code::ALL.get(n as usize).copied()
    }

    /// The code's name as every binding spells it (`MustRetry`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Code::Ok => "Ok",
            Code::InvalidInput => "InvalidInput",
            Code::NotFound => "NotFound",
            Code::Aborted => "Aborted",
            Code::MustRetry => "MustRetry",
            Code::Unavailable => "Unavailable",
            Code::Timeout => "Timeout",
            Code::LockDoesNotExist => "LockDoesNotExist",
            Code::InvalidOwner => "InvalidOwner",
            Code::Internal => "Internal",
            Code::ResourceExhausted => "ResourceExhausted",
        }
    }

    /// True when repeating the same request is safe and may succeed.
    pub fn is_retriable(self) -> bool {
        matches!(self, Code::MustRetry | Code::Unavailable)
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl From<Status> for Code {
    fn from(s: Status) -> Code {
        match s {
            Status::Ok => Code::Ok,
            Status::InvalidInput => Code::InvalidInput,
            Status::NotFound => Code::NotFound,
            Status::Aborted => Code::Aborted,
            Status::MustRetry => Code::MustRetry,
            Status::Unavailable => Code::Unavailable,
            Status::Timeout => Code::Timeout,
            Status::LockDoesNotExist => Code::LockDoesNotExist,
            Status::InvalidOwner => Code::InvalidOwner,
            Status::Internal => Code::Internal,
            Status::ResourceExhausted => Code::ResourceExhausted,
        }
    }
}

impl From<Code> for Status {
    fn from(c: Code) -> Status {
        match c {
            Code::Ok => Status::Ok,
            Code::InvalidInput => Status::InvalidInput,
            Code::NotFound => Status::NotFound,
            Code::Aborted => Status::Aborted,
            Code::MustRetry => Status::MustRetry,
            Code::Unavailable => Status::Unavailable,
            Code::Timeout => Status::Timeout,
            Code::LockDoesNotExist => Status::LockDoesNotExist,
            Code::InvalidOwner => Status::InvalidOwner,
            Code::Internal => Status::Internal,
            Code::ResourceExhausted => Status::ResourceExhausted,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_stable_and_match_the_schema() {
        for (i, code) in Code::ALL.iter().enumerate() {
            assert_eq!(code.as_u8() as usize, i);
            assert_eq!(Code::from_u8(i as u8), Some(*code));
            // The capnp enum uses the same ordinals.
            assert_eq!(Status::from(*code) as u16 as usize, i);
            assert_eq!(Code::from(Status::from(*code)), *code);
        }
        assert_eq!(Code::from_u8(11), None);
        assert_eq!(Code::ResourceExhausted.as_u8(), 10);
        assert_eq!(Code::MustRetry.as_u8(), 4);
        assert_eq!(Code::Internal.name(), "Internal");
    }
}
