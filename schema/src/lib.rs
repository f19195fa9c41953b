//! Kahuna's wire contract, shared by the server and every client.
//!
//! - [`kahuna_capnp`]: the client API (`capnp/kahuna.capnp`), what any program may call.
//! - [`peer_capnp`]: the node-to-node API (`capnp/peer.capnp`): Raft messages and forwarding.
//! - [`Code`]: the stable status codes, the same numbers on the wire, in the C ABI, in Python
//!   and in C#.
//! - [`routing`]: keys, buckets and the partition hash. Clients compute the same partition as
//!   the server, so they can send a request straight to the partition's leader.
//! - [`flags`]: the `try_set` flag bits.
//! - [`io`]: write coalescing for Cap'n Proto connections (one `send` per burst of messages).

#[allow(clippy::all, missing_docs, unused_qualifications)]
pub mod kahuna_capnp {
    include!(concat!(env!("OUT_DIR"), "/kahuna_capnp.rs"));
}

#[allow(clippy::all, missing_docs, unused_qualifications)]
pub mod peer_capnp {
    include!(concat!(env!("OUT_DIR"), "/peer_capnp.rs"));
}

mod code;
pub mod flags;
pub mod io;
pub mod routing;

pub use code::Code;
