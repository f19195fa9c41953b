//! Fuzz target: the postcard payloads that travel between nodes on the peer channel.
//!
//! A node decodes what a peer sends it in `rpc::peer_api` (Raft messages and forwarded client
//! requests) and in `rpc::peers` (the replies), all with postcard into the server's public
//! types. Peers of one cluster are trusted, but a corrupted or truncated payload, or a peer of
//! another version, must still produce a decoding error and never a crash, an abort, a huge
//! allocation or a hang.
//!
//! ```text
//!   [selector][postcard bytes]
//!       └── RaftRequest | RaftReply | forwarded (kv::Request, timeout) | kv::Reply |
//!           raft::Batch (a log entry's commands) | raft::BatchResponse
//! ```
//!
//! Whatever decodes must also encode again, and the encoding must be stable: decoding the
//! re-encoded bytes gives the same value (compared with `==` where the type has it, by the
//! bytes of a second encoding where it does not, as for openraft's messages).

#![no_main]

use kahuna_server::kv;
use kahuna_server::raft::{Batch, BatchResponse, RaftReply, RaftRequest};
use libfuzzer_sys::fuzz_target;
use serde::Serialize;
use serde::de::DeserializeOwned;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, bytes)) = data.split_first() else {
        return;
    };
    match selector % 6 {
        0 => stable::<RaftRequest>(bytes),
        1 => stable::<RaftReply>(bytes),
        2 => equal::<(kv::Request, u32)>(bytes),
        3 => equal::<kv::Reply>(bytes),
        4 => equal::<Batch>(bytes),
        _ => equal::<BatchResponse>(bytes),
    }
});

/// Decodes `bytes`; if they decode, re-encoding and decoding again gives the same bytes.
fn stable<T: Serialize + DeserializeOwned>(bytes: &[u8]) {
    let Ok(value) = postcard::from_bytes::<T>(bytes) else {
        return;
    };
    let once = postcard::to_allocvec(&value).expect("a decoded value encodes");
    let again: T = postcard::from_bytes(&once).expect("an encoded value decodes");
    assert_eq!(postcard::to_allocvec(&again).expect("encodes"), once, "postcard encoding is not stable");
}

/// Decodes `bytes`; if they decode, the value survives an encode/decode round trip.
fn equal<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(bytes: &[u8]) {
    let Ok(value) = postcard::from_bytes::<T>(bytes) else {
        return;
    };
    let once = postcard::to_allocvec(&value).expect("a decoded value encodes");
    let again: T = postcard::from_bytes(&once).expect("an encoded value decodes");
    assert_eq!(again, value, "the round trip changed the value");
}
