//! Turning command-line text into the client's argument types.
//!
//! Two kinds of parsing live here, and they fail differently on purpose:
//!
//! - **clap value parsers** ([`ttl`], [`timeout`], [`as_of`], [`cursor`]) run while the command
//!   line is parsed. A duration, timestamp or cursor that does not parse is a *usage* error:
//!   clap prints its message naming the flag and the process exits 2.
//! - **value sources** ([`Source`]) run when a command executes: the value comes from the
//!   argument, a file (`--file PATH`) or standard input (`-`). A file that cannot be read is a
//!   bad argument reported as `InvalidInput` (exit 3).
//!
//! ```text
//!   "10s" "1m 30s" "500ms" ──ttl──> 10_000 ms      (humantime; 0 = no expiry; < 0 rejected)
//!   "7516193497843187712"  ──as_of─> HLC as given
//!   "2025-06-01T12:00:00Z" ──as_of─> HLC of the end of that millisecond
//!   "30s ago" / "now"      ──as_of─> HLC relative to this machine's clock
//! ```
//!
//! What is *not* checked here: key rules (empty, reserved, too long), value size and the
//! store's other limits. Those belong to the store; the client and server report them as
//! `InvalidInput` with the argument named, and duplicating them here could only drift.

use std::ffi::OsString;
use std::io::Read;
use std::path::PathBuf;
use std::time::Duration;

use kahuna_client::hlc;

use crate::exit::Failure;

/// Parses a time-to-live: a humantime duration (`10s`, `1m 30s`, `500ms`), `0` for none.
pub fn ttl(text: &str) -> Result<i64, String> {
    let d = duration(text)?;
    let ms = d.as_millis();
    if !d.is_zero() && ms == 0 {
        return Err(format!("'{text}' is shorter than the 1ms resolution of expiry"));
    }
    i64::try_from(ms).map_err(|_| format!("'{text}' is too long"))
}

/// Parses a lease or time to live that must end in the future (locks, `extend`): like [`ttl`],
/// but at least 1ms.
pub fn positive_ttl(text: &str) -> Result<i64, String> {
    match ttl(text)? {
        0 => Err(format!("'{}' is zero; it must be at least 1ms (examples: 10s, 1m 30s, 500ms)", text.trim())),
        ms => Ok(ms),
    }
}

/// Parses the per-call deadline (`--timeout`): a positive humantime duration.
pub fn timeout(text: &str) -> Result<Duration, String> {
    let d = duration(text)?;
    if d.as_millis() == 0 {
        return Err("the timeout must be at least 1ms".to_string());
    }
    Ok(d)
}

/// A humantime duration that is not negative; a bare `0` is zero.
fn duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if let Some(rest) = text.strip_prefix('-') {
        if rest.starts_with(|c: char| c.is_ascii_digit()) {
            return Err(format!("'{text}' is negative; durations must not be negative"));
        }
        // Most likely the next flag, taken as the value because the value is missing.
        return Err(format!("'{text}' is not a duration (is the value missing?); examples: 10s, 1m 30s, 500ms"));
    }
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    humantime::parse_duration(text)
        .map_err(|e| format!("'{text}' is not a duration ({e}); examples: 10s, 1m 30s, 500ms"))
}

/// Parses an `--as-of` time into an HLC timestamp (see the module docs for the forms).
pub fn as_of(text: &str) -> Result<u64, String> {
    as_of_at(text, now_ms())
}

/// [`as_of`] with the current time given, for tests.
pub fn as_of_at(text: &str, now_ms: u64) -> Result<u64, String> {
    let text = text.trim();
    let end_of_ms = |ms: u64| hlc::from_ms(ms) | 0xffff;
    if let Ok(ts) = text.parse::<u64>() {
        if ts == 0 {
            return Err("an HLC timestamp must be greater than 0".to_string());
        }
        return Ok(ts);
    }
    if text == "now" {
        return Ok(end_of_ms(now_ms));
    }
    if let Some(ago) = text.strip_suffix("ago") {
        let d = duration(ago)?;
        let ms = now_ms.checked_sub(d.as_millis() as u64).filter(|ms| *ms > 0);
        return ms.map(end_of_ms).ok_or_else(|| format!("'{text}' is before 1970"));
    }
    match chrono::DateTime::parse_from_rfc3339(text) {
        Ok(t) if t.timestamp_millis() > 0 => Ok(end_of_ms(t.timestamp_millis() as u64)),
        Ok(_) => Err(format!("'{text}' is before 1970")),
        Err(_) => Err(format!(
            "'{text}' is not a time; use an HLC timestamp (as printed by get), an RFC 3339 time \
             (2025-06-01T12:00:00Z, 2025-06-01T14:00:00+02:00), '30s ago' or 'now'"
        )),
    }
}

/// An opaque scan cursor (a newtype, so clap takes it as one value rather than many bytes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cursor(pub Vec<u8>);

/// Parses a scan cursor as printed by `scan --limit` (hex).
pub fn cursor(text: &str) -> Result<Cursor, String> {
    let text = text.trim();
    if !text.len().is_multiple_of(2) || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!("'{text}' is not a cursor printed by scan (an even number of hex digits)"));
    }
    let bytes: Result<Vec<u8>, String> = (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).map_err(|e| e.to_string()))
        .collect();
    bytes.map(Cursor)
}

/// Lower-case hex of `bytes`, as cursors and non-UTF-8 values are printed.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// This machine's wall clock in Unix milliseconds.
pub fn now_ms() -> u64 {
    hlc::physical_ms(hlc::now())
}

/// Where a value comes from: the argument itself, a file, or standard input (`-`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// The argument's bytes.
    Arg(OsString),
    /// The whole content of this file.
    File(PathBuf),
    /// Everything on standard input.
    Stdin,
}

impl Source {
    /// The source named by a positional value and a `--file` flag (clap ensures exactly one).
    pub fn of(arg: Option<OsString>, file: Option<PathBuf>) -> Source {
        match (arg, file) {
            (_, Some(path)) if path.as_os_str() == "-" => Source::Stdin,
            (_, Some(path)) => Source::File(path),
            (Some(arg), None) if arg == "-" => Source::Stdin,
            (Some(arg), None) => Source::Arg(arg),
            (None, None) => Source::Arg(OsString::new()),
        }
    }

    /// Reads the value. `stdin` is false in the shell, whose standard input carries commands.
    pub fn read(self, what: &str, stdin: bool) -> Result<Vec<u8>, Failure> {
        match self {
            Source::Arg(arg) => Ok(os_bytes(arg)),
            Source::File(path) => std::fs::read(&path)
                .map_err(|e| Failure::invalid_input(format!("cannot read {what} from {}: {e}", path.display()))),
            Source::Stdin if !stdin => Err(Failure::invalid_input(format!(
                "{what} cannot come from standard input in the shell; use --file PATH"
            ))),
            Source::Stdin => {
                let mut buf = Vec::new();
                std::io::stdin()
                    .read_to_end(&mut buf)
                    .map_err(|e| Failure::invalid_input(format!("cannot read {what} from standard input: {e}")))?;
                Ok(buf)
            }
        }
    }
}

/// The bytes of an argument (on Unix, arguments need not be UTF-8).
fn os_bytes(arg: OsString) -> Vec<u8> {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStringExt;
        arg.into_vec()
    }
    #[cfg(not(unix))]
    {
        arg.to_string_lossy().into_owned().into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttls_are_humantime_durations_in_milliseconds() {
        assert_eq!(ttl("10s"), Ok(10_000));
        assert_eq!(ttl("1m 30s"), Ok(90_000));
        assert_eq!(ttl("500ms"), Ok(500));
        assert_eq!(ttl("2h"), Ok(7_200_000));
        assert_eq!(ttl("0"), Ok(0));
        assert_eq!(ttl("0s"), Ok(0));
        assert!(ttl("-5s").unwrap_err().contains("negative"));
        assert!(ttl("--if-exists").unwrap_err().contains("is the value missing?"));
        assert!(ttl("10").unwrap_err().contains("examples: 10s"));
        assert!(ttl("soon").is_err());
        assert!(ttl("").is_err());
        assert!(ttl("500us").unwrap_err().contains("1ms"));
        assert_eq!(positive_ttl("10s"), Ok(10_000));
        assert!(positive_ttl("0s").unwrap_err().contains("at least 1ms"));
        assert!(positive_ttl("0").unwrap_err().contains("at least 1ms"));
        assert!(positive_ttl("-1s").unwrap_err().contains("negative"));
    }

    #[test]
    fn timeouts_must_be_positive() {
        assert_eq!(timeout("1s"), Ok(Duration::from_secs(1)));
        assert_eq!(timeout("250ms"), Ok(Duration::from_millis(250)));
        assert!(timeout("0s").is_err());
        assert!(timeout("-1s").is_err());
    }

    #[test]
    fn as_of_takes_hlc_rfc3339_relative_and_now() {
        let now = 1_750_000_000_000;
        assert_eq!(as_of_at("123456789", now), Ok(123_456_789));
        assert!(as_of_at("0", now).is_err());
        assert_eq!(as_of_at("now", now), Ok(hlc::from_ms(now) | 0xffff));
        assert_eq!(as_of_at("30s ago", now), Ok(hlc::from_ms(now - 30_000) | 0xffff));
        assert_eq!(as_of_at("1m ago", now), Ok(hlc::from_ms(now - 60_000) | 0xffff));
        let t = as_of_at("2025-06-15T15:06:40Z", now).unwrap();
        assert_eq!(hlc::physical_ms(t), 1_750_000_000_000);
        assert_eq!(hlc::logical(t), 0xffff);
        let offset = as_of_at("2025-06-15T17:06:40.000+02:00", now).unwrap();
        assert_eq!(offset, t);
        assert!(as_of_at("yesterday", now).unwrap_err().contains("RFC 3339"));
        assert!(as_of_at("1969-12-31T00:00:00Z", now).is_err());
    }

    #[test]
    fn cursors_round_trip_through_hex() {
        let bytes = vec![0x00, 0x7f, 0xff, 0x10];
        assert_eq!(hex(&bytes), "007fff10");
        assert_eq!(cursor("007fff10"), Ok(Cursor(bytes)));
        assert_eq!(cursor("007FFF10").unwrap().0, vec![0x00, 0x7f, 0xff, 0x10]);
        assert!(cursor("abc").is_err());
        assert!(cursor("zz").is_err());
        assert_eq!(cursor(""), Ok(Cursor(Vec::new())));
    }

    #[test]
    fn sources_pick_the_argument_the_file_or_stdin() {
        assert_eq!(Source::of(Some("v".into()), None), Source::Arg("v".into()));
        assert_eq!(Source::of(Some("-".into()), None), Source::Stdin);
        assert_eq!(Source::of(None, Some("-".into())), Source::Stdin);
        assert_eq!(Source::of(None, Some("/x".into())), Source::File("/x".into()));
        assert_eq!(Source::Arg("héllo".into()).read("value", false).unwrap(), "héllo".as_bytes());
        let e = Source::Stdin.read("value", false).unwrap_err();
        assert!(e.message.contains("--file"), "{e}");
        let e = Source::File("/nonexistent/kahuna".into()).read("value", true).unwrap_err();
        assert_eq!(e.exit().code(), 3);
        assert!(e.message.contains("/nonexistent/kahuna"), "{e}");
    }

    #[test]
    fn values_from_files_are_read_exactly() {
        let path = std::env::temp_dir().join(format!("kahuna-cli-parse-{}", std::process::id()));
        std::fs::write(&path, [0u8, 1, 2, 255]).unwrap();
        let read = Source::File(path.clone()).read("value", false);
        std::fs::remove_file(&path).unwrap();
        assert_eq!(read.unwrap(), vec![0u8, 1, 2, 255]);
    }
}
