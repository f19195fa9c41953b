//! Errors: what a caller sees, and how the client classifies what went wrong underneath.
//!
//! A caller only ever sees [`Error`]: a stable [`Code`] plus a message that says what was wrong
//! and with which argument. "Not found" and "condition not met" are results, never errors.
//!
//! Inside the client every attempt to talk to a node ends in one of four [`Failure`]s, and the
//! retry loop (`retry.rs`) decides from the kind alone what to do next:
//!
//! ```text
//!   Failure::Status(code)   the server answered with a non-ok status   -> retry MustRetry and
//!                                                                          Unavailable, else return
//!   Failure::NotSent        no request left this process (connect,      -> always safe to retry
//!                           handshake, connection known broken)
//!   Failure::InFlight       the connection broke after the request was  -> reads retry; writes
//!                           sent: the server may or may not have acted     return Timeout
//!   Failure::Protocol       any other Cap'n Proto exception or a        -> Internal, no retry
//!                           malformed reply
//! ```
//!
//! Cap'n Proto exceptions are mapped by kind: `Disconnected` means the transport failed (a
//! `NotSent` or `InFlight` failure, depending on when), every other kind is a bug on one of the
//! two sides and becomes [`Code::Internal`].

use kahuna_schema::Code;

/// The error of every client operation: a stable status code and a message naming the problem.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct Error {
    /// The stable status code (the same numbers on the wire, in C, Python and C#).
    pub code: Code,
    /// What went wrong, naming the argument or the node involved.
    pub message: String,
}

/// The result of every client operation.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// An error with this code and message.
    pub fn new(code: Code, message: impl Into<String>) -> Error {
        Error { code, message: message.into() }
    }

    /// An `InvalidInput` error: a bad argument, detected before anything was sent.
    pub fn invalid_input(message: impl Into<String>) -> Error {
        Error::new(Code::InvalidInput, message)
    }

    /// The error's status code.
    pub fn code(&self) -> Code {
        self.code
    }

    /// True when repeating the same call may succeed (`MustRetry`, `Unavailable`).
    ///
    /// Both codes mean the request was not applied. A write whose outcome is unknown (its
    /// connection broke in flight, or its deadline passed) is a `Timeout`, which is not
    /// retriable: repeating it is safe only for idempotent writes.
    pub fn is_retriable(&self) -> bool {
        self.code.is_retriable()
    }

    /// The error every call gets after [`Client::close`](crate::Client::close).
    pub(crate) fn closed() -> Error {
        Error::invalid_input("the client is closed")
    }
}

/// How one attempt to talk to one node failed; decides the retry policy.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Failure {
    /// The server answered with a status other than `Ok`.
    #[error("{code}: {message}")]
    Status { code: Code, message: String },
    /// Nothing was sent: the connection could not be opened or was known to be broken.
    #[error("{0}")]
    NotSent(String),
    /// The connection broke after the request was sent; the outcome is unknown.
    #[error("{0}")]
    InFlight(String),
    /// A Cap'n Proto exception other than a disconnect, or a reply that does not decode.
    #[error("{0}")]
    Protocol(String),
}

impl Failure {
    /// Classifies an exception raised by a call that was already sent.
    pub(crate) fn from_call(error: capnp::Error) -> Failure {
        match error.kind {
            capnp::ErrorKind::Disconnected => Failure::InFlight(format!("connection lost: {}", error.extra)),
            _ => Failure::Protocol(format!("remote exception: {error}")),
        }
    }

    /// Classifies an error met while reading a reply that has arrived.
    pub(crate) fn from_decode(error: capnp::Error) -> Failure {
        Failure::Protocol(format!("malformed reply: {error}"))
    }

    /// True when the server said it is safe and useful to try again.
    pub(crate) fn is_retriable_status(&self) -> bool {
        matches!(self, Failure::Status { code, .. } if code.is_retriable())
    }

    /// The error a caller sees when the retry loop gives up on this failure.
    pub(crate) fn into_error(self) -> Error {
        match self {
            Failure::Status { code, message } => Error::new(code, message),
            Failure::NotSent(message) => Error::new(Code::Unavailable, message),
            Failure::InFlight(message) => Error::new(Code::Timeout, message),
            Failure::Protocol(message) => Error::new(Code::Internal, message),
        }
    }
}

impl From<capnp::Error> for Failure {
    fn from(error: capnp::Error) -> Failure {
        Failure::from_decode(error)
    }
}

/// Checks a key the way the server will, so obviously bad calls fail without a round trip.
pub(crate) fn check_key(key: &str) -> Result<()> {
    kahuna_schema::routing::validate_key("key", key).map_err(Error::invalid_input)
}

/// Checks the resource and owner of a lock call.
pub(crate) fn check_lock_args(resource: &str, owner: &[u8]) -> Result<()> {
    kahuna_schema::routing::validate_key("resource", resource).map_err(Error::invalid_input)?;
    if owner.is_empty() {
        return Err(Error::invalid_input("owner must not be empty"));
    }
    Ok(())
}

/// Checks an expiry argument: 0 means none, negative is invalid.
pub(crate) fn check_expires(expires_ms: i64) -> Result<()> {
    if expires_ms < 0 {
        return Err(Error::invalid_input(format!("expires_ms must not be negative, got {expires_ms}")));
    }
    Ok(())
}

/// Checks the expiry of `try_extend`, which must be strictly positive.
pub(crate) fn check_extend_expires(expires_ms: i64) -> Result<()> {
    if expires_ms <= 0 {
        return Err(Error::invalid_input(format!("expires_ms must be greater than 0, got {expires_ms}")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_code_then_message() {
        let e = Error::new(Code::MustRetry, "no leader for partition 3");
        assert_eq!(e.to_string(), "MustRetry: no leader for partition 3");
        assert_eq!(e.code(), Code::MustRetry);
        assert!(e.is_retriable());
        assert!(Error::new(Code::Unavailable, "x").is_retriable());
        assert!(!Error::new(Code::Timeout, "x").is_retriable());
        assert!(!Error::new(Code::InvalidInput, "x").is_retriable());
        assert!(!Error::closed().is_retriable());
    }

    #[test]
    fn capnp_exceptions_are_classified_by_kind() {
        let lost = Failure::from_call(capnp::Error::disconnected("peer reset".into()));
        assert!(matches!(lost, Failure::InFlight(ref m) if m.contains("peer reset")));
        assert_eq!(lost.into_error().code, Code::Timeout);

        for e in [
            capnp::Error::failed("boom".into()),
            capnp::Error::unimplemented("nope".into()),
            capnp::Error::overloaded("busy".into()),
        ] {
            let f = Failure::from_call(e);
            assert!(matches!(f, Failure::Protocol(_)), "{f:?}");
            assert_eq!(f.into_error().code, Code::Internal);
        }
        let bad = Failure::from(capnp::Error::failed("truncated".into()));
        assert_eq!(bad.into_error().code, Code::Internal);
        assert_eq!(Failure::NotSent("refused".into()).into_error().code, Code::Unavailable);
    }

    #[test]
    fn statuses_keep_their_code_and_message() {
        let f = Failure::Status { code: Code::InvalidInput, message: "value is 17 MiB".into() };
        assert!(!f.is_retriable_status());
        assert_eq!(f.into_error(), Error::new(Code::InvalidInput, "value is 17 MiB"));
        for code in [Code::MustRetry, Code::Unavailable] {
            let f = Failure::Status { code, message: String::new() };
            assert!(f.is_retriable_status());
        }
    }

    #[test]
    fn local_validation_names_the_argument() {
        assert!(check_key("a").is_ok());
        let e = check_key("").unwrap_err();
        assert_eq!(e.code, Code::InvalidInput);
        assert_eq!(e.message, "key must not be empty");
        assert!(check_key("__kahuna:x").unwrap_err().message.contains("reserved"));
        assert!(check_key(&"k".repeat(4097)).is_err());

        assert!(check_expires(0).is_ok());
        assert!(check_expires(5).is_ok());
        let e = check_expires(-5).unwrap_err();
        assert_eq!(e.code, Code::InvalidInput);
        assert_eq!(e.message, "expires_ms must not be negative, got -5");

        assert!(check_extend_expires(1).is_ok());
        assert!(check_extend_expires(0).unwrap_err().message.contains("expires_ms"));
        assert!(check_extend_expires(-1).is_err());
    }
}
