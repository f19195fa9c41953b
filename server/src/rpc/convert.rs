//! Conversions between the client API's Cap'n Proto messages and `kv` domain types.

use kahuna_schema::kahuna_capnp::{
    Durability as WireDurability, Status, bucket_request, bucket_response, delete_request, delete_response, entry,
    extend_lock_request, extend_lock_response, extend_request, extend_response, get_lock_request, get_lock_response,
    get_request, get_response, lock_request, lock_response, request_header, response_header, scan_request,
    scan_response, set_request, set_response, unlock_request, unlock_response,
};

use crate::kv::{self, Durability, Error, Reply, Response};

/// The parts of a request header the service acts on.
#[derive(Clone, Copy, Debug, Default)]
pub struct Header {
    /// The caller's clock.
    pub hlc: u64,
    /// The caller's route (partition, partition count), if it routed itself.
    pub route: Option<(u32, u32)>,
    /// The caller's deadline budget in ms (0 = default).
    pub timeout_ms: u32,
}

fn malformed(arg: &str, e: capnp::Error) -> Error {
    Error::InvalidInput(format!("malformed request: cannot read {arg}: {e}"))
}

/// Reads a request header (absent = defaults).
pub fn header(r: capnp::Result<request_header::Reader<'_>>) -> Header {
    match r {
        Ok(h) => Header {
            hlc: h.get_hlc(),
            route: (h.get_partition_count() > 0).then(|| (h.get_partition(), h.get_partition_count())),
            timeout_ms: h.get_timeout_ms(),
        },
        Err(_) => Header::default(),
    }
}

fn text(r: capnp::Result<capnp::text::Reader<'_>>, arg: &str) -> Result<String, Error> {
    r.map_err(|e| malformed(arg, e))?.to_string().map_err(|_| Error::InvalidInput(format!("{arg} is not valid UTF-8")))
}

fn data(r: capnp::Result<capnp::data::Reader<'_>>, arg: &str) -> Result<Vec<u8>, Error> {
    Ok(r.map_err(|e| malformed(arg, e))?.to_vec())
}

fn durability(r: Result<WireDurability, capnp::NotInSchema>) -> Result<Durability, Error> {
    match r {
        Ok(WireDurability::Persistent) => Ok(Durability::Persistent),
        Ok(WireDurability::Ephemeral) => Ok(Durability::Ephemeral),
        Err(capnp::NotInSchema(n)) => Err(Error::InvalidInput(format!("durability has an unknown value {n}"))),
    }
}

/// Decodes a `SetRequest`.
pub fn set_request(r: set_request::Reader<'_>) -> Result<kv::SetRequest, Error> {
    Ok(kv::SetRequest {
        key: text(r.get_key(), "key")?,
        value: data(r.get_value(), "value")?,
        expires_ms: r.get_expires_ms(),
        flags: r.get_flags(),
        compare_value: data(r.get_compare_value(), "compare_value")?,
        compare_revision: r.get_compare_revision(),
        durability: durability(r.get_durability())?,
    })
}

/// Decodes a `GetRequest`.
pub fn get_request(r: get_request::Reader<'_>) -> Result<kv::GetRequest, Error> {
    Ok(kv::GetRequest {
        key: text(r.get_key(), "key")?,
        durability: durability(r.get_durability())?,
        revision: r.get_revision(),
        as_of: r.get_as_of(),
    })
}

/// Decodes a `DeleteRequest`.
pub fn delete_request(r: delete_request::Reader<'_>) -> Result<kv::DeleteRequest, Error> {
    Ok(kv::DeleteRequest { key: text(r.get_key(), "key")?, durability: durability(r.get_durability())? })
}

/// Decodes an `ExtendRequest`.
pub fn extend_request(r: extend_request::Reader<'_>) -> Result<kv::ExtendRequest, Error> {
    Ok(kv::ExtendRequest {
        key: text(r.get_key(), "key")?,
        expires_ms: r.get_expires_ms(),
        durability: durability(r.get_durability())?,
    })
}

/// Decodes a `BucketRequest`.
pub fn bucket_request(r: bucket_request::Reader<'_>) -> Result<kv::BucketRequest, Error> {
    Ok(kv::BucketRequest { bucket: text(r.get_bucket(), "bucket")?, durability: durability(r.get_durability())? })
}

/// Decodes a `ScanRequest`.
pub fn scan_request(r: scan_request::Reader<'_>) -> Result<kv::ScanRequest, Error> {
    Ok(kv::ScanRequest {
        prefix: text(r.get_prefix(), "prefix")?,
        limit: r.get_limit(),
        cursor: data(r.get_cursor(), "cursor")?,
        durability: durability(r.get_durability())?,
    })
}

/// Writes a response header for `reply`, stamped with the node clock `hlc`.
pub fn write_header(mut b: response_header::Builder<'_>, reply: &Reply, hlc: u64) {
    b.set_hlc(hlc);
    b.set_leader(reply.leader);
    b.set_term(reply.term);
    match &reply.result {
        Ok(_) => b.set_status(Status::Ok),
        Err(e) => {
            b.set_status(Status::from(e.code()));
            b.set_message(e.to_string());
        }
    }
}

fn write_entry(mut b: entry::Builder<'_>, e: &kv::Entry) {
    b.set_key(&e.key);
    b.set_value(&e.value);
    b.set_revision(e.revision);
    b.set_expires_at(e.expires_at);
    b.set_last_modified(e.last_modified);
}

fn write_entries(mut list: capnp::struct_list::Builder<'_, entry::Owned>, entries: &[kv::Entry]) {
    for (i, e) in entries.iter().enumerate() {
        write_entry(list.reborrow().get(i as u32), e);
    }
}

fn unexpected(reply: &Reply) -> Reply {
    Reply::plain(Err(Error::Internal(format!("the service answered with the wrong response type: {:?}", reply.result))))
}

/// Writes a `SetResponse`.
pub fn set_response(mut b: set_response::Builder<'_>, reply: &Reply, hlc: u64) {
    match &reply.result {
        Ok(Response::Set { set, revision, last_modified }) => {
            b.set_set(*set);
            b.set_revision(*revision);
            b.set_last_modified(*last_modified);
        }
        Ok(_) => return write_header(b.init_header(), &unexpected(reply), hlc),
        Err(_) => b.set_revision(-1),
    }
    write_header(b.init_header(), reply, hlc);
}

/// Writes a `GetResponse` (for get and exists).
pub fn get_response(mut b: get_response::Builder<'_>, reply: &Reply, hlc: u64) {
    match &reply.result {
        Ok(Response::Get { found, entry }) => {
            b.set_found(*found);
            write_entry(b.reborrow().init_entry(), entry);
        }
        Ok(_) => return write_header(b.init_header(), &unexpected(reply), hlc),
        Err(_) => b.reborrow().init_entry().set_revision(-1),
    }
    write_header(b.init_header(), reply, hlc);
}

/// Writes a `DeleteResponse`.
pub fn delete_response(mut b: delete_response::Builder<'_>, reply: &Reply, hlc: u64) {
    match &reply.result {
        Ok(Response::Delete { deleted, revision }) => {
            b.set_deleted(*deleted);
            b.set_revision(*revision);
        }
        Ok(_) => return write_header(b.init_header(), &unexpected(reply), hlc),
        Err(_) => b.set_revision(-1),
    }
    write_header(b.init_header(), reply, hlc);
}

/// Writes an `ExtendResponse`.
pub fn extend_response(mut b: extend_response::Builder<'_>, reply: &Reply, hlc: u64) {
    match &reply.result {
        Ok(Response::Extend { extended, revision }) => {
            b.set_extended(*extended);
            b.set_revision(*revision);
        }
        Ok(_) => return write_header(b.init_header(), &unexpected(reply), hlc),
        Err(_) => b.set_revision(-1),
    }
    write_header(b.init_header(), reply, hlc);
}

/// Writes a `BucketResponse`.
pub fn bucket_response(mut b: bucket_response::Builder<'_>, reply: &Reply, hlc: u64) {
    match &reply.result {
        Ok(Response::Bucket(entries)) => write_entries(b.reborrow().init_entries(entries.len() as u32), entries),
        Ok(_) => return write_header(b.init_header(), &unexpected(reply), hlc),
        Err(_) => {}
    }
    write_header(b.init_header(), reply, hlc);
}

/// Writes a `ScanResponse`.
pub fn scan_response(mut b: scan_response::Builder<'_>, reply: &Reply, hlc: u64) {
    match &reply.result {
        Ok(Response::Scan { entries, cursor, snapshot }) => {
            write_entries(b.reborrow().init_entries(entries.len() as u32), entries);
            b.set_cursor(cursor);
            b.set_snapshot(*snapshot);
        }
        Ok(_) => return write_header(b.init_header(), &unexpected(reply), hlc),
        Err(_) => {}
    }
    write_header(b.init_header(), reply, hlc);
}

/// Decodes a `LockRequest`.
pub fn lock_request(r: lock_request::Reader<'_>) -> Result<kv::LockRequest, Error> {
    Ok(kv::LockRequest {
        resource: text(r.get_resource(), "resource")?,
        owner: data(r.get_owner(), "owner")?,
        expires_ms: r.get_expires_ms(),
        durability: durability(r.get_durability())?,
    })
}

/// Decodes an `ExtendLockRequest`.
pub fn extend_lock_request(r: extend_lock_request::Reader<'_>) -> Result<kv::LockRequest, Error> {
    Ok(kv::LockRequest {
        resource: text(r.get_resource(), "resource")?,
        owner: data(r.get_owner(), "owner")?,
        expires_ms: r.get_expires_ms(),
        durability: durability(r.get_durability())?,
    })
}

/// Decodes an `UnlockRequest`.
pub fn unlock_request(r: unlock_request::Reader<'_>) -> Result<kv::UnlockRequest, Error> {
    Ok(kv::UnlockRequest {
        resource: text(r.get_resource(), "resource")?,
        owner: data(r.get_owner(), "owner")?,
        durability: durability(r.get_durability())?,
    })
}

/// Decodes a `GetLockRequest`.
pub fn get_lock_request(r: get_lock_request::Reader<'_>) -> Result<kv::GetLockRequest, Error> {
    Ok(kv::GetLockRequest {
        resource: text(r.get_resource(), "resource")?,
        durability: durability(r.get_durability())?,
    })
}

/// Writes a `LockResponse`.
pub fn lock_response(mut b: lock_response::Builder<'_>, reply: &Reply, hlc: u64) {
    match &reply.result {
        Ok(Response::Lock { locked, fencing_token }) => {
            b.set_locked(*locked);
            b.set_fencing_token(*fencing_token);
        }
        Ok(_) => return write_header(b.init_header(), &unexpected(reply), hlc),
        Err(_) => {}
    }
    write_header(b.init_header(), reply, hlc);
}

/// Writes an `ExtendLockResponse`.
pub fn extend_lock_response(mut b: extend_lock_response::Builder<'_>, reply: &Reply, hlc: u64) {
    match &reply.result {
        Ok(Response::ExtendLock { fencing_token }) => b.set_fencing_token(*fencing_token),
        Ok(_) => return write_header(b.init_header(), &unexpected(reply), hlc),
        Err(_) => {}
    }
    write_header(b.init_header(), reply, hlc);
}

/// Writes an `UnlockResponse`.
pub fn unlock_response(b: unlock_response::Builder<'_>, reply: &Reply, hlc: u64) {
    match &reply.result {
        Ok(Response::Unlock) | Err(_) => write_header(b.init_header(), reply, hlc),
        Ok(_) => write_header(b.init_header(), &unexpected(reply), hlc),
    }
}

/// Writes a `GetLockResponse`.
pub fn get_lock_response(mut b: get_lock_response::Builder<'_>, reply: &Reply, hlc: u64) {
    match &reply.result {
        Ok(Response::GetLock { owner, expires_at, fencing_token }) => {
            b.set_owner(owner);
            b.set_expires_at(*expires_at);
            b.set_fencing_token(*fencing_token);
        }
        Ok(_) => return write_header(b.init_header(), &unexpected(reply), hlc),
        Err(_) => {}
    }
    write_header(b.init_header(), reply, hlc);
}
