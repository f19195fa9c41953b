//! A raw Cap'n Proto client for tests: requests go out exactly as written, so what a test sees
//! is the *server's* behaviour, not `kahuna-client`'s local checks and routing.
//!
//! Two levels, for two kinds of test:
//!
//! ```text
//!   RawConn ── capnp-rpc (two-party, client side) ──> one node's Kahuna interface
//!     any key bytes (invalid UTF-8 too), any flags, any header, any durability number;
//!     answers decoded into plain structs: ResponseHeader { code, message, hlc, leader, term }
//!
//!   frame::* + FrameConn ── hand-built RPC frames over a plain TcpStream ──> one node's port
//!     Bootstrap / Call messages, truncated, with a huge segment table, with pointers that
//!     alias one blob (over the traversal limit) or point at themselves
//!   raw_bytes ── arbitrary bytes, then half-close; waits for the node to close the connection
//! ```
//!
//! Every call has a deadline (10 s by default), so a node that stops answering fails the test
//! instead of hanging it. [`RawConn`] runs its own current-thread tokio runtime and `LocalSet`
//! (capnp-rpc is `!Send`), driven only while a call blocks; it is not `Send`.
//!
//! Deliberately absent: retries, routing, leader discovery, validation. This is a wire probe.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use capnp::dynamic_value;
use capnp::introspect::TypeVariant;
use capnp::traits::HasTypeId;
use capnp_rpc::rpc_capnp;
use capnp_rpc::rpc_twoparty_capnp::Side;
use capnp_rpc::{RpcSystem, twoparty};
use futures::AsyncReadExt;
use kahuna_schema::Code;
use kahuna_schema::kahuna_capnp::{
    bucket_request, delete_request, entry, extend_request, get_request, kahuna, request_header, response_header,
    scan_request, set_request,
};
use tokio_util::compat::TokioAsyncReadCompatExt;

/// Deadline of one call unless [`RawConn::with_timeout`] says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// The wire number of `Durability.persistent`.
pub const PERSISTENT: u16 = 0;
/// The wire number of `Durability.ephemeral`.
pub const EPHEMERAL: u16 = 1;

/// `RequestHeader`, every field as sent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RequestHeader {
    /// The caller's clock (0 = none).
    pub hlc: u64,
    /// The partition the caller routed to.
    pub partition: u32,
    /// The partition count of the caller's map (0 = no route check).
    pub partition_count: u32,
    /// The server's time budget in ms (0 = server default).
    pub timeout_ms: u32,
}

/// `SetRequest`, every field as sent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SetReq {
    /// The header.
    pub header: RequestHeader,
    /// Key bytes, sent as Text without any UTF-8 check.
    pub key: Vec<u8>,
    /// The value.
    pub value: Vec<u8>,
    /// Expiry in ms (0 = none).
    pub expires_ms: i64,
    /// Flag bits, unknown ones included.
    pub flags: u32,
    /// The value compared by `SET_IF_EQUAL_TO_VALUE`.
    pub compare_value: Vec<u8>,
    /// The revision compared by `SET_IF_EQUAL_TO_REVISION`.
    pub compare_revision: i64,
    /// The durability's wire number, unknown ones included.
    pub durability: u16,
}

impl SetReq {
    /// A plain persistent set of `key` to `value`.
    pub fn new(key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> SetReq {
        SetReq { key: key.as_ref().to_vec(), value: value.as_ref().to_vec(), ..SetReq::default() }
    }
}

/// `GetRequest` (for `tryGet` and `tryExists`), every field as sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GetReq {
    /// The header.
    pub header: RequestHeader,
    /// Key bytes.
    pub key: Vec<u8>,
    /// The durability's wire number.
    pub durability: u16,
    /// -1 = latest (the schema's default is 0, so [`GetReq::new`] sets -1).
    pub revision: i64,
    /// 0 = latest, else an HLC timestamp.
    pub as_of: u64,
}

impl GetReq {
    /// A persistent read of the latest version of `key`.
    pub fn new(key: impl AsRef<[u8]>) -> GetReq {
        GetReq { header: RequestHeader::default(), key: key.as_ref().to_vec(), durability: 0, revision: -1, as_of: 0 }
    }
}

/// `DeleteRequest`, every field as sent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeleteReq {
    /// The header.
    pub header: RequestHeader,
    /// Key bytes.
    pub key: Vec<u8>,
    /// The durability's wire number.
    pub durability: u16,
}

impl DeleteReq {
    /// A persistent delete of `key`.
    pub fn new(key: impl AsRef<[u8]>) -> DeleteReq {
        DeleteReq { key: key.as_ref().to_vec(), ..DeleteReq::default() }
    }
}

/// `ExtendRequest`, every field as sent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExtendReq {
    /// The header.
    pub header: RequestHeader,
    /// Key bytes.
    pub key: Vec<u8>,
    /// New expiry from now, ms.
    pub expires_ms: i64,
    /// The durability's wire number.
    pub durability: u16,
}

impl ExtendReq {
    /// A persistent extend of `key` by `expires_ms`.
    pub fn new(key: impl AsRef<[u8]>, expires_ms: i64) -> ExtendReq {
        ExtendReq { key: key.as_ref().to_vec(), expires_ms, ..ExtendReq::default() }
    }
}

/// `BucketRequest`, every field as sent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BucketReq {
    /// The header.
    pub header: RequestHeader,
    /// Bucket bytes.
    pub bucket: Vec<u8>,
    /// The durability's wire number.
    pub durability: u16,
}

impl BucketReq {
    /// A persistent read of `bucket`.
    pub fn new(bucket: impl AsRef<[u8]>) -> BucketReq {
        BucketReq { bucket: bucket.as_ref().to_vec(), ..BucketReq::default() }
    }
}

/// `ScanRequest`, every field as sent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScanReq {
    /// The header.
    pub header: RequestHeader,
    /// Prefix bytes.
    pub prefix: Vec<u8>,
    /// Page size (0 = server default).
    pub limit: u32,
    /// The previous page's cursor, or anything at all.
    pub cursor: Vec<u8>,
    /// The durability's wire number.
    pub durability: u16,
}

impl ScanReq {
    /// The first page of a persistent scan of `prefix`.
    pub fn new(prefix: impl AsRef<[u8]>) -> ScanReq {
        ScanReq { prefix: prefix.as_ref().to_vec(), ..ScanReq::default() }
    }
}

/// A decoded `ResponseHeader`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResponseHeader {
    /// The status.
    pub code: Code,
    /// Detail when the status is not `Ok`.
    pub message: String,
    /// The server's clock after the request.
    pub hlc: u64,
    /// The node that leads the request's partition (0 = unknown).
    pub leader: u64,
    /// That leader's term.
    pub term: u64,
}

/// A decoded `Entry`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Entry {
    /// The key.
    pub key: String,
    /// The value.
    pub value: Vec<u8>,
    /// Its revision (-1 = never existed).
    pub revision: i64,
    /// Expiry HLC (0 = never).
    pub expires_at: u64,
    /// HLC of the write.
    pub last_modified: u64,
}

/// A decoded `SetResponse`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SetReply {
    /// The header.
    pub header: ResponseHeader,
    /// Whether the write happened.
    pub set: bool,
    /// The new or current revision.
    pub revision: i64,
    /// HLC of the write.
    pub last_modified: u64,
}

/// A decoded `GetResponse`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GetReply {
    /// The header.
    pub header: ResponseHeader,
    /// Whether a live version was found.
    pub found: bool,
    /// The entry (revision is the current one, or -1, even when not found).
    pub entry: Entry,
}

/// A decoded `DeleteResponse` or `ExtendResponse`: did it apply, and the revision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApplyReply {
    /// The header.
    pub header: ResponseHeader,
    /// `deleted` or `extended`.
    pub applied: bool,
    /// The key's revision.
    pub revision: i64,
}

/// A decoded `BucketResponse` or `ScanResponse`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListReply {
    /// The header.
    pub header: ResponseHeader,
    /// The entries, in the server's order.
    pub entries: Vec<Entry>,
    /// The next page's cursor (scans; empty when done).
    pub cursor: Vec<u8>,
    /// The scan's snapshot timestamp (scans).
    pub snapshot: u64,
}

/// One partition of a `TopologyResponse`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PartitionInfo {
    /// Partition id.
    pub id: u32,
    /// Its leader (0 = unknown).
    pub leader: u64,
    /// The leader's term.
    pub term: u64,
}

/// A decoded `TopologyResponse`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Topology {
    /// The header.
    pub header: ResponseHeader,
    /// The cluster id.
    pub cluster_id: u64,
    /// The cluster name.
    pub cluster_name: String,
    /// The partition count.
    pub partition_count: u32,
    /// Every member: (id, address).
    pub nodes: Vec<(u64, String)>,
    /// Every partition.
    pub partitions: Vec<PartitionInfo>,
    /// The node that answered.
    pub node_id: u64,
}

/// Any decoded response: they all start with a header.
pub trait Reply {
    /// The response header.
    fn header(&self) -> &ResponseHeader;
}

macro_rules! impl_reply {
    ($($t:ty),*) => {$(
        impl Reply for $t {
            fn header(&self) -> &ResponseHeader {
                &self.header
            }
        }
    )*};
}

impl_reply!(SetReply, GetReply, ApplyReply, ListReply, Topology);

/// One connection to one node's `Kahuna` interface, with a blocking API.
pub struct RawConn {
    // Field order is drop order: the capability before the LocalSet that runs its connection.
    kahuna: kahuna::Client,
    local: tokio::task::LocalSet,
    runtime: tokio::runtime::Runtime,
    address: String,
    timeout: Duration,
}

impl RawConn {
    /// Connects to `address` (TCP only; the bootstrap travels with the first call).
    pub fn connect(address: &str) -> anyhow::Result<RawConn> {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        let local = tokio::task::LocalSet::new();
        let kahuna = local.block_on(&runtime, async {
            let stream = tokio::time::timeout(DEFAULT_TIMEOUT, tokio::net::TcpStream::connect(address))
                .await
                .map_err(|_| anyhow::anyhow!("connecting to {address} timed out"))?
                .with_context(|| format!("cannot connect to {address}"))?;
            stream.set_nodelay(true)?;
            let (reader, writer) = stream.compat().split();
            let mut options = capnp::message::ReaderOptions::new();
            options.traversal_limit_in_words(None);
            let network = twoparty::VatNetwork::new(
                futures::io::BufReader::new(reader),
                futures::io::BufWriter::new(writer),
                Side::Client,
                options,
            );
            let mut rpc = RpcSystem::new(Box::new(network), None);
            let kahuna: kahuna::Client = rpc.bootstrap(Side::Server);
            tokio::task::spawn_local(rpc);
            anyhow::Ok(kahuna)
        })?;
        Ok(RawConn { kahuna, local, runtime, address: address.to_string(), timeout: DEFAULT_TIMEOUT })
    }

    /// The same connection with another per-call deadline.
    pub fn with_timeout(mut self, timeout: Duration) -> RawConn {
        self.timeout = timeout;
        self
    }

    /// The address this connection talks to.
    pub fn address(&self) -> &str {
        &self.address
    }

    fn block<T>(&self, what: &str, work: impl std::future::Future<Output = capnp::Result<T>>) -> anyhow::Result<T> {
        match self.local.block_on(&self.runtime, async { tokio::time::timeout(self.timeout, work).await }) {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(anyhow::anyhow!("{what} on {}: {e}", self.address)),
            Err(_) => Err(anyhow::anyhow!("{what} on {}: no answer within {:?}", self.address, self.timeout)),
        }
    }

    /// `trySet`, sent as given.
    pub fn set(&self, r: &SetReq) -> anyhow::Result<SetReply> {
        let mut request = self.kahuna.try_set_request();
        fill_set(request.get().init_req(), r)?;
        self.block("trySet", async move {
            let response = request.send().promise.await?;
            let resp = response.get()?.get_resp()?;
            Ok(SetReply {
                header: response_header(resp.get_header()?)?,
                set: resp.get_set(),
                revision: resp.get_revision(),
                last_modified: resp.get_last_modified(),
            })
        })
    }

    /// `tryGet`, sent as given.
    pub fn get(&self, r: &GetReq) -> anyhow::Result<GetReply> {
        let mut request = self.kahuna.try_get_request();
        fill_get(request.get().init_req(), r)?;
        self.block("tryGet", async move {
            let response = request.send().promise.await?;
            let resp = response.get()?.get_resp()?;
            Ok(GetReply {
                header: response_header(resp.get_header()?)?,
                found: resp.get_found(),
                entry: read_entry(resp.get_entry()?)?,
            })
        })
    }

    /// `tryExists`, sent as given.
    pub fn exists(&self, r: &GetReq) -> anyhow::Result<GetReply> {
        let mut request = self.kahuna.try_exists_request();
        fill_get(request.get().init_req(), r)?;
        self.block("tryExists", async move {
            let response = request.send().promise.await?;
            let resp = response.get()?.get_resp()?;
            Ok(GetReply {
                header: response_header(resp.get_header()?)?,
                found: resp.get_found(),
                entry: read_entry(resp.get_entry()?)?,
            })
        })
    }

    /// `tryDelete`, sent as given.
    pub fn delete(&self, r: &DeleteReq) -> anyhow::Result<ApplyReply> {
        let mut request = self.kahuna.try_delete_request();
        fill_delete(request.get().init_req(), r)?;
        self.block("tryDelete", async move {
            let response = request.send().promise.await?;
            let resp = response.get()?.get_resp()?;
            Ok(ApplyReply {
                header: response_header(resp.get_header()?)?,
                applied: resp.get_deleted(),
                revision: resp.get_revision(),
            })
        })
    }

    /// `tryExtend`, sent as given.
    pub fn extend(&self, r: &ExtendReq) -> anyhow::Result<ApplyReply> {
        let mut request = self.kahuna.try_extend_request();
        fill_extend(request.get().init_req(), r)?;
        self.block("tryExtend", async move {
            let response = request.send().promise.await?;
            let resp = response.get()?.get_resp()?;
            Ok(ApplyReply {
                header: response_header(resp.get_header()?)?,
                applied: resp.get_extended(),
                revision: resp.get_revision(),
            })
        })
    }

    /// `getByBucket`, sent as given.
    pub fn bucket(&self, r: &BucketReq) -> anyhow::Result<ListReply> {
        let mut request = self.kahuna.get_by_bucket_request();
        fill_bucket(request.get().init_req(), r)?;
        self.block("getByBucket", async move {
            let response = request.send().promise.await?;
            let resp = response.get()?.get_resp()?;
            Ok(ListReply {
                header: response_header(resp.get_header()?)?,
                entries: read_entries(resp.get_entries()?)?,
                cursor: Vec::new(),
                snapshot: 0,
            })
        })
    }

    /// `scanByPrefix`, sent as given.
    pub fn scan(&self, r: &ScanReq) -> anyhow::Result<ListReply> {
        let mut request = self.kahuna.scan_by_prefix_request();
        fill_scan(request.get().init_req(), r)?;
        self.block("scanByPrefix", async move {
            let response = request.send().promise.await?;
            let resp = response.get()?.get_resp()?;
            Ok(ListReply {
                header: response_header(resp.get_header()?)?,
                entries: read_entries(resp.get_entries()?)?,
                cursor: resp.get_cursor()?.to_vec(),
                snapshot: resp.get_snapshot(),
            })
        })
    }

    /// `topology`, with `header` as given.
    pub fn topology(&self, header: &RequestHeader) -> anyhow::Result<Topology> {
        let mut request = self.kahuna.topology_request();
        fill_header(request.get().init_header(), header);
        self.block("topology", async move {
            let response = request.send().promise.await?;
            let resp = response.get()?.get_resp()?;
            let nodes = resp
                .get_nodes()?
                .iter()
                .map(|n| Ok((n.get_id(), text(n.get_address()?))))
                .collect::<capnp::Result<Vec<_>>>()?;
            let partitions = resp
                .get_partitions()?
                .iter()
                .map(|p| PartitionInfo { id: p.get_id(), leader: p.get_leader(), term: p.get_term() })
                .collect();
            Ok(Topology {
                header: response_header(resp.get_header()?)?,
                cluster_id: resp.get_cluster_id(),
                cluster_name: text(resp.get_cluster_name()?),
                partition_count: resp.get_partition_count(),
                nodes,
                partitions,
                node_id: resp.get_node_id(),
            })
        })
    }
}

fn text(t: capnp::text::Reader<'_>) -> String {
    String::from_utf8_lossy(t.as_bytes()).into_owned()
}

fn response_header(h: response_header::Reader<'_>) -> capnp::Result<ResponseHeader> {
    let code = match h.get_status() {
        Ok(s) => Code::from(s),
        Err(capnp::NotInSchema(n)) => return Err(capnp::Error::failed(format!("the server sent status {n}"))),
    };
    Ok(ResponseHeader {
        code,
        message: text(h.get_message()?),
        hlc: h.get_hlc(),
        leader: h.get_leader(),
        term: h.get_term(),
    })
}

fn read_entry(e: entry::Reader<'_>) -> capnp::Result<Entry> {
    Ok(Entry {
        key: text(e.get_key()?),
        value: e.get_value()?.to_vec(),
        revision: e.get_revision(),
        expires_at: e.get_expires_at(),
        last_modified: e.get_last_modified(),
    })
}

fn read_entries(list: capnp::struct_list::Reader<'_, entry::Owned>) -> capnp::Result<Vec<Entry>> {
    list.iter().map(read_entry).collect()
}

fn fill_header(mut b: request_header::Builder<'_>, h: &RequestHeader) {
    b.set_hlc(h.hlc);
    b.set_partition(h.partition);
    b.set_partition_count(h.partition_count);
    b.set_timeout_ms(h.timeout_ms);
}

/// Writes the `durability` field of a request struct as a raw number, known to the schema or not.
fn set_durability<'a>(b: impl Into<dynamic_value::Builder<'a>>, value: u16) -> capnp::Result<()> {
    let mut s: capnp::dynamic_struct::Builder<'a> = b.into().downcast();
    let field = s.get_schema().get_field_by_name("durability")?;
    let TypeVariant::Enum(schema) = field.get_type().which() else {
        return Err(capnp::Error::failed("durability is not an enum field".into()));
    };
    s.set(field, dynamic_value::Enum::new(value, schema.into()).into())
}

fn fill_set(mut b: set_request::Builder<'_>, r: &SetReq) -> capnp::Result<()> {
    fill_header(b.reborrow().init_header(), &r.header);
    b.set_key(capnp::text::Reader::from(&r.key[..]));
    b.set_value(&r.value[..]);
    b.set_expires_ms(r.expires_ms);
    b.set_flags(r.flags);
    b.set_compare_value(&r.compare_value[..]);
    b.set_compare_revision(r.compare_revision);
    set_durability(b, r.durability)
}

fn fill_get(mut b: get_request::Builder<'_>, r: &GetReq) -> capnp::Result<()> {
    fill_header(b.reborrow().init_header(), &r.header);
    b.set_key(capnp::text::Reader::from(&r.key[..]));
    b.set_revision(r.revision);
    b.set_as_of(r.as_of);
    set_durability(b, r.durability)
}

fn fill_delete(mut b: delete_request::Builder<'_>, r: &DeleteReq) -> capnp::Result<()> {
    fill_header(b.reborrow().init_header(), &r.header);
    b.set_key(capnp::text::Reader::from(&r.key[..]));
    set_durability(b, r.durability)
}

fn fill_extend(mut b: extend_request::Builder<'_>, r: &ExtendReq) -> capnp::Result<()> {
    fill_header(b.reborrow().init_header(), &r.header);
    b.set_key(capnp::text::Reader::from(&r.key[..]));
    b.set_expires_ms(r.expires_ms);
    set_durability(b, r.durability)
}

fn fill_bucket(mut b: bucket_request::Builder<'_>, r: &BucketReq) -> capnp::Result<()> {
    fill_header(b.reborrow().init_header(), &r.header);
    b.set_bucket(capnp::text::Reader::from(&r.bucket[..]));
    set_durability(b, r.durability)
}

fn fill_scan(mut b: scan_request::Builder<'_>, r: &ScanReq) -> capnp::Result<()> {
    fill_header(b.reborrow().init_header(), &r.header);
    b.set_prefix(capnp::text::Reader::from(&r.prefix[..]));
    b.set_limit(r.limit);
    b.set_cursor(&r.cursor[..]);
    set_durability(b, r.durability)
}

mod frames;

pub use frames::{FrameConn, RawOutcome, Returned, frame, huge_segment_table, raw_bytes};
