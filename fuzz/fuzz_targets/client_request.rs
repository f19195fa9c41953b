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
//!           RequestHeader (topology) | Gateway.peer params | Peer.raft params |
//!           Peer.forward params | Peer.raftBatch params
//! ```
//!
//! Requests are decoded with the server's own `kahuna_server::rpc::convert` functions (the
//! code the RPC layer runs), into the same `kv::Request` values. Each decoded request is then:
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
    bucket_request, delete_request, extend_lock_request, extend_request, get_lock_request, get_request, lock_request,
    scan_request, set_request, unlock_request,
};
use kahuna_schema::peer_capnp::{gateway, peer};
use kahuna_schema::routing;
use kahuna_server::kv;
use kahuna_server::rpc::convert;
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

/// Decodes the message as the struct `selector` names, with the server's functions; `Ok(None)`
/// for structs that are not key/value requests (headers, peer parameters).
fn decode<S: ReaderSegments>(selector: u8, message: &Reader<S>) -> Decoded {
    let e = |e: capnp::Error| e.to_string();
    let s = |e: kv::Error| e.to_string();
    let request = match selector % 15 {
        0 => {
            let r: set_request::Reader = message.get_root().map_err(e)?;
            convert::header(r.get_header());
            kv::Request::Set(convert::set_request(r).map_err(s)?)
        }
        1 => {
            let r: get_request::Reader = message.get_root().map_err(e)?;
            convert::header(r.get_header());
            kv::Request::Get(convert::get_request(r).map_err(s)?)
        }
        2 => {
            let r: delete_request::Reader = message.get_root().map_err(e)?;
            convert::header(r.get_header());
            kv::Request::Delete(convert::delete_request(r).map_err(s)?)
        }
        3 => {
            let r: extend_request::Reader = message.get_root().map_err(e)?;
            convert::header(r.get_header());
            kv::Request::Extend(convert::extend_request(r).map_err(s)?)
        }
        4 => {
            let r: bucket_request::Reader = message.get_root().map_err(e)?;
            convert::header(r.get_header());
            kv::Request::Bucket(convert::bucket_request(r).map_err(s)?)
        }
        5 => {
            let r: scan_request::Reader = message.get_root().map_err(e)?;
            convert::header(r.get_header());
            kv::Request::Scan(convert::scan_request(r).map_err(s)?)
        }
        6 => {
            let r: lock_request::Reader = message.get_root().map_err(e)?;
            convert::header(r.get_header());
            kv::Request::Lock(convert::lock_request(r).map_err(s)?)
        }
        7 => {
            let r: extend_lock_request::Reader = message.get_root().map_err(e)?;
            convert::header(r.get_header());
            kv::Request::ExtendLock(convert::extend_lock_request(r).map_err(s)?)
        }
        8 => {
            let r: unlock_request::Reader = message.get_root().map_err(e)?;
            convert::header(r.get_header());
            kv::Request::Unlock(convert::unlock_request(r).map_err(s)?)
        }
        9 => {
            let r: get_lock_request::Reader = message.get_root().map_err(e)?;
            convert::header(r.get_header());
            kv::Request::GetLock(convert::get_lock_request(r).map_err(s)?)
        }
        10 => {
            convert::header(message.get_root());
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
        13 => {
            let p: peer::forward_params::Reader = message.get_root().map_err(e)?;
            let payload = p.get_payload().map_err(e)?;
            let _ = postcard::from_bytes::<(kv::Request, u32)>(payload);
            return Ok(None);
        }
        _ => {
            // raftBatch: a list of (partition, kind, payload), each payload decoded on its own
            // as the peer API does (an undecodable message gets an empty reply, not an error).
            let p: peer::raft_batch_params::Reader = message.get_root().map_err(e)?;
            let _ = p.get_hlc();
            for m in p.get_messages().map_err(e)?.iter() {
                let _ = (m.get_partition(), m.get_kind());
                if let Ok(payload) = m.get_payload() {
                    let _ = postcard::from_bytes::<kahuna_server::raft::RaftRequest>(payload);
                }
            }
            return Ok(None);
        }
    };
    Ok(Some(request))
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
