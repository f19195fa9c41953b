//! Fuzz target: the server's configuration file parser.
//!
//! `kahuna-server --config FILE` reads a TOML file into `config::Config` (`from_toml`, unknown
//! keys are errors), merges flags on top and validates (`validate`, `members`). A file that is
//! not valid UTF-8, not TOML, deeply nested, huge in numbers or durations, or full of odd peer
//! lists must end in an error message that names the problem, never in a panic, an abort or a
//! hang, since the binary turns such an error into exit code 2 with that message.
//!
//! ```text
//!   bytes ── UTF-8? ── Config::from_toml ── validate ── members (peers parsed)
//! ```
//!
//! Properties checked beyond "no crash": a config that validates has a member list containing
//! this node, and its error messages are never empty.

#![no_main]

use kahuna_server::config::Config;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let config = match Config::from_toml(text) {
        Ok(config) => config,
        Err(message) => {
            assert!(!message.is_empty(), "an empty parse error");
            return;
        }
    };
    match config.validate() {
        Ok(()) => {
            let members = config.members().expect("a valid config has members");
            assert!(members.contains_key(&config.node_id), "the members do not list this node");
            let _ = kahuna_server::server::max_message_bytes(&config);
        }
        Err(message) => assert!(!message.is_empty(), "an empty validation error"),
    }
});
