//! Fuzz target: a client request as it arrives off the wire, decoded the way the server does.
//!
//! Input layout: the first byte picks the request struct, the rest is a Cap'n Proto message in
//! the standard stream framing (segment table + segments), read with the server's own
//! [`kahuna_server::rpc::reader_options`] and message size limit.
//!
//! ```text
//!   [selector][segment count-1][segment sizes][padding][segments ...]
//!       │            └── capnp::serialize::read_message_from_flat_slice (server limits)
//!       └── SetRequest | GetRequest | DeleteRequest | ExtendRequest | BucketRequest |
//!           ScanRequest | LockRequest | ExtendLockRequest | UnlockRequest | GetLockRequest |
//!           RequestHeader (topology) | Gateway.peer params | Peer.raft params | Peer.forward params
//! ```
//!
//! The decoding below mirrors `kahuna_server::rpc::convert` field for field (header, `Text`
//! that must be UTF-8, `Data`, the `Durability` enum with unknown values) and builds the same
//! `kv::Request` values. `rpc::convert` is private to the server crate, so it cannot be called
//! from here; making it `pub` would let this target exercise the real functions (see
//! docs/reliability.md). Each decoded request is then:
//!
//! - validated with the shared key rules (`routing::validate_key`) and routed
//!   (`partition_for_key`), as the client and the server do;
//! - encoded with postcard and decoded again, which is what a node does when it forwards a
//!   request to the partition leader: the round trip must give back the same request.
//!
//! Any malformed input must end in an `Err`, never a panic, an abort or a hang.

#![no_main]

use capnp::message::{Reader, ReaderSegments};
use kahuna_schema::kahuna_capnp::{
    Durability as WireDurability, bucket_request, delete_request, extend_lock_request, extend_request,
    get_lock_request, get_request, lock_request, request_header, scan_request, set_request, unlock_request,
};
use kahuna_schema::peer_capnp::{gateway, peer};
use kahuna_schema::routing;
use kahuna_server::kv::{self, Durability};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, bytes)) = data.split_first() else {
        return;
    };
    // Segments must be 8-byte aligned, as they are in the server's read buffers.
    let mut words = capnp::Word::allocate_zeroed_vec(bytes.len().div_ceil(8));
    capnp::Word::words_to_bytes_mut(&mut words)[..bytes.len()].copy_from_slice(bytes);
    let mut aligned = &capnp::Word::words_to_bytes(&words)[..bytes.len()];
    let limit = kahuna_server::server::max_message_bytes(&kahuna_server::config::Config::default());
    let options = kahuna_server::rpc::reader_options(limit);
    let Ok(message) = capnp::serialize::read_message_from_flat_slice(&mut aligned, options) else {
        return;
    };
    if let Ok(Some(request)) = decode(selector, &message) {
        check(&request);
    }
});

type Decoded = Result<Option<kv::Request>, String>;

/// Decodes the message as the struct `selector` names; `Ok(None)` for structs that are not
/// key/value requests (headers, peer parameters).
fn decode<S: ReaderSegments>(selector: u8, message: &Reader<S>) -> Decoded {
    let e = |e: capnp::Error| e.to_string();
    let request = match selector % 14 {
        0 => {
            let r: set_request::Reader = message.get_root().map_err(e)?;
            header(r.get_header());
            kv::Request::Set(kv::SetRequest {
                key: text(r.get_key(), "key")?,
                value: data(r.get_value(), "value")?,
                expires_ms: r.get_expires_ms(),
                flags: r.get_flags(),
                compare_value: data(r.get_compare_value(), "compare_value")?,
                compare_revision: r.get_compare_revision(),
                durability: durability(r.get_durability())?,
            })
        }
        1 => {
            let r: get_request::Reader = message.get_root().map_err(e)?;
            header(r.get_header());
            kv::Request::Get(kv::GetRequest {
                key: text(r.get_key(), "key")?,
                durability: durability(r.get_durability())?,
                revision: r.get_revision(),
                as_of: r.get_as_of(),
            })
        }
        2 => {
            let r: delete_request::Reader = message.get_root().map_err(e)?;
            header(r.get_header());
            kv::Request::Delete(kv::DeleteRequest {
                key: text(r.get_key(), "key")?,
                durability: durability(r.get_durability())?,
            })
        }
        3 => {
            let r: extend_request::Reader = message.get_root().map_err(e)?;
            header(r.get_header());
            kv::Request::Extend(kv::ExtendRequest {
                key: text(r.get_key(), "key")?,
                expires_ms: r.get_expires_ms(),
                durability: durability(r.get_durability())?,
            })
        }
        4 => {
            let r: bucket_request::Reader = message.get_root().map_err(e)?;
            header(r.get_header());
            kv::Request::Bucket(kv::BucketRequest {
                bucket: text(r.get_bucket(), "bucket")?,
                durability: durability(r.get_durability())?,
            })
        }
        5 => {
            let r: scan_request::Reader = message.get_root().map_err(e)?;
            header(r.get_header());
            kv::Request::Scan(kv::ScanRequest {
                prefix: text(r.get_prefix(), "prefix")?,
                limit: r.get_limit(),
                cursor: data(r.get_cursor(), "cursor")?,
                durability: durability(r.get_durability())?,
            })
        }
        6 => {
            let r: lock_request::Reader = message.get_root().map_err(e)?;
            header(r.get_header());
            kv::Request::Lock(kv::LockRequest {
                resource: text(r.get_resource(), "resource")?,
                owner: data(r.get_owner(), "owner")?,
                expires_ms: r.get_expires_ms(),
                durability: durability(r.get_durability())?,
            })
        }
        7 => {
            let r: extend_lock_request::Reader = message.get_root().map_err(e)?;
            header(r.get_header());
            kv::Request::ExtendLock(kv::LockRequest {
                resource: text(r.get_resource(), "resource")?,
                owner: data(r.get_owner(), "owner")?,
                expires_ms: r.get_expires_ms(),
                durability: durability(r.get_durability())?,
            })
        }
        8 => {
            let r: unlock_request::Reader = message.get_root().map_err(e)?;
            header(r.get_header());
            kv::Request::Unlock(kv::UnlockRequest {
                resource: text(r.get_resource(), "resource")?,
                owner: data(r.get_owner(), "owner")?,
                durability: durability(r.get_durability())?,
            })
        }
        9 => {
            let r: get_lock_request::Reader = message.get_root().map_err(e)?;
            header(r.get_header());
            kv::Request::GetLock(kv::GetLockRequest {
                resource: text(r.get_resource(), "resource")?,
                durability: durability(r.get_durability())?,
            })
        }
        10 => {
            header(message.get_root());
            return Ok(None);
        }
        11 => {
            let p: gateway::peer_params::Reader = message.get_root().map_err(e)?;
            let _ = (p.get_cluster_id(), p.get_from_node());
            return Ok(None);
        }
        12 => {
            let p: peer::raft_params::Reader = message.get_root().map_err(e)?;
            let _ = (p.get_partition(), p.get_kind(), p.get_hlc());
            // The payload is postcard, decoded by the `peer_payload` target.
            let payload = p.get_payload().map_err(e)?;
            let _ = postcard::from_bytes::<kahuna_server::raft::RaftRequest>(payload);
            return Ok(None);
        }
        _ => {
            let p: peer::forward_params::Reader = message.get_root().map_err(e)?;
            let payload = p.get_payload().map_err(e)?;
            let _ = postcard::from_bytes::<(kv::Request, u32)>(payload);
            return Ok(None);
        }
    };
    Ok(Some(request))
}

/// Reads a request header the way the server does: an unreadable header means defaults.
fn header(r: capnp::Result<request_header::Reader<'_>>) -> (u64, Option<(u32, u32)>, u32) {
    match r {
        Ok(h) => {
            let route = (h.get_partition_count() > 0).then(|| (h.get_partition(), h.get_partition_count()));
            (h.get_hlc(), route, h.get_timeout_ms())
        }
        Err(_) => (0, None, 0),
    }
}

fn text(r: capnp::Result<capnp::text::Reader<'_>>, arg: &str) -> Result<String, String> {
    r.map_err(|e| format!("cannot read {arg}: {e}"))?.to_string().map_err(|_| format!("{arg} is not valid UTF-8"))
}

fn data(r: capnp::Result<capnp::data::Reader<'_>>, arg: &str) -> Result<Vec<u8>, String> {
    Ok(r.map_err(|e| format!("cannot read {arg}: {e}"))?.to_vec())
}

fn durability(r: Result<WireDurability, capnp::NotInSchema>) -> Result<Durability, String> {
    match r {
        Ok(WireDurability::Persistent) => Ok(Durability::Persistent),
        Ok(WireDurability::Ephemeral) => Ok(Durability::Ephemeral),
        Err(capnp::NotInSchema(n)) => Err(format!("durability has an unknown value {n}")),
    }
}

/// Validation, routing and the forwarding round trip of a decoded request.
fn check(request: &kv::Request) {
    let subject = match request {
        kv::Request::Set(r) => Some(("key", &r.key)),
        kv::Request::Get(r) | kv::Request::Exists(r) => Some(("key", &r.key)),
        kv::Request::Delete(r) => Some(("key", &r.key)),
        kv::Request::Extend(r) => Some(("key", &r.key)),
        kv::Request::Lock(r) | kv::Request::ExtendLock(r) => Some(("resource", &r.resource)),
        kv::Request::Unlock(r) => Some(("resource", &r.resource)),
        kv::Request::GetLock(r) => Some(("resource", &r.resource)),
        kv::Request::Bucket(r) => {
            let _ = routing::partition_for_bucket(&r.bucket, 8);
            None
        }
        kv::Request::Scan(_) | kv::Request::ScanPartition(_) => None,
    };
    if let Some((arg, key)) = subject
        && routing::validate_key(arg, key).is_ok()
    {
        for count in [1, 8, 4096] {
            assert!(routing::partition_for_key(key, count) < count);
        }
    }
    let forwarded = postcard::to_allocvec(&(request, 1000u32)).expect("a request serializes");
    let (back, timeout): (kv::Request, u32) = postcard::from_bytes(&forwarded).expect("a forwarded request decodes");
    assert_eq!(&back, request, "the forwarding round trip changed the request");
    assert_eq!(timeout, 1000);
}
