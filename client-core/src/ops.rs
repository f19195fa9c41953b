//! The RPC methods: one [`Call`] per method, each encoding its request and decoding its reply.
//!
//! A call is plain owned data (key, value, options) built on the caller's thread and moved to
//! the I/O thread. It knows three things the retry loop needs and nothing else:
//!
//! - its [`Route`]: the key or bucket whose partition leader should get it, or any node;
//! - whether it is a write (a write whose connection breaks mid-flight is not retried);
//! - how to send itself to one node's capability with a given [`Header`], returning the decoded
//!   [`Reply`] header and, when the status is `Ok`, the typed result.
//!
//! ```text
//!   Client::try_set ──> SetCall ──(job channel)──> retry::execute ──> SetCall::send(node, header)
//!                                                        ^                      │
//!                                                        └──── Reply + result ──┘
//! ```
//!
//! Values travel as Cap'n Proto `Data`, keys as `Text`. No retrying, routing or clock
//! bookkeeping happens here; that is `retry.rs` and `router.rs`.

use kahuna_schema::Code;
use kahuna_schema::kahuna_capnp::{entry, kahuna, request_header, response_header};

use crate::error::Failure;
use crate::types::{
    DeleteResult, Durability, Entry, ExistsResult, ExtendResult, GetResult, ScanPage, SetResult, Topology,
};

/// Where a call should go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Route<'a> {
    /// The leader of this key's partition.
    Key(&'a str),
    /// The leader of this bucket's partition.
    Bucket(&'a str),
    /// Any node: the call is not tied to one partition.
    Any,
}

/// The request header the router computes for one attempt.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Header {
    pub hlc: u64,
    pub partition: u32,
    pub partition_count: u32,
    pub timeout_ms: u32,
}

/// The decoded response header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Reply {
    pub status: Code,
    pub message: String,
    pub hlc: u64,
    pub leader: u64,
    pub term: u64,
}

/// One RPC method with its arguments.
pub(crate) trait Call {
    /// The typed result of the method.
    type Output;
    /// The method's name, for messages.
    fn name(&self) -> &'static str;
    /// True when the call changes state (its outcome is unknown if the connection breaks).
    fn is_write(&self) -> bool;
    /// Where the call should be sent.
    fn route(&self) -> Route<'_>;
    /// Sends the call once and decodes the reply; the output is present when the status is Ok.
    async fn send(&self, node: &kahuna::Client, header: &Header) -> Result<(Reply, Option<Self::Output>), Failure>;
}

pub(crate) fn write_header(mut b: request_header::Builder<'_>, h: &Header) {
    b.set_hlc(h.hlc);
    b.set_partition(h.partition);
    b.set_partition_count(h.partition_count);
    b.set_timeout_ms(h.timeout_ms);
}

pub(crate) fn read_header(r: response_header::Reader<'_>) -> Result<Reply, Failure> {
    let status = r.get_status().map_err(|e| Failure::Protocol(format!("reply has an unknown status: {e}")))?;
    Ok(Reply {
        status: status.into(),
        message: text(r.get_message())?,
        hlc: r.get_hlc(),
        leader: r.get_leader(),
        term: r.get_term(),
    })
}

fn text(r: capnp::Result<capnp::text::Reader<'_>>) -> Result<String, Failure> {
    r?.to_string().map_err(|e| Failure::Protocol(format!("reply has invalid UTF-8 text: {e}")))
}

fn read_entry(r: entry::Reader<'_>) -> Result<Entry, Failure> {
    Ok(Entry {
        key: text(r.get_key())?,
        value: r.get_value()?.to_vec(),
        revision: r.get_revision(),
        expires_at: r.get_expires_at(),
        last_modified: r.get_last_modified(),
    })
}

fn read_entries(r: capnp::struct_list::Reader<'_, entry::Owned>) -> Result<Vec<Entry>, Failure> {
    r.iter().map(read_entry).collect()
}

/// `trySet`: every flavour of set (plain, conditional, compare-value, compare-revision).
pub(crate) struct SetCall {
    pub key: String,
    pub value: Vec<u8>,
    pub expires_ms: i64,
    pub flags: u32,
    pub compare_value: Vec<u8>,
    pub compare_revision: i64,
    pub durability: Durability,
}

impl Call for SetCall {
    type Output = SetResult;
    fn name(&self) -> &'static str {
        "try_set"
    }
    fn is_write(&self) -> bool {
        true
    }
    fn route(&self) -> Route<'_> {
        Route::Key(&self.key)
    }
    async fn send(&self, node: &kahuna::Client, h: &Header) -> Result<(Reply, Option<SetResult>), Failure> {
        let mut request = node.try_set_request();
        {
            let mut r = request.get().init_req();
            write_header(r.reborrow().init_header(), h);
            r.set_key(self.key.as_str());
            r.set_value(&self.value);
            r.set_expires_ms(self.expires_ms);
            r.set_flags(self.flags);
            r.set_compare_value(&self.compare_value);
            r.set_compare_revision(self.compare_revision);
            r.set_durability(self.durability.wire());
        }
        let response = request.send().promise.await.map_err(Failure::from_call)?;
        let resp = response.get()?.get_resp()?;
        let reply = read_header(resp.get_header()?)?;
        let out = (reply.status == Code::Ok).then(|| SetResult {
            set: resp.get_set(),
            revision: resp.get_revision(),
            last_modified: resp.get_last_modified(),
        });
        Ok((reply, out))
    }
}

/// `tryGet`: the latest version, a retained revision, or the version as of a timestamp.
pub(crate) struct GetCall {
    pub key: String,
    pub durability: Durability,
    /// -1 = latest.
    pub revision: i64,
    /// 0 = latest.
    pub as_of: u64,
}

impl Call for GetCall {
    type Output = GetResult;
    fn name(&self) -> &'static str {
        "try_get"
    }
    fn is_write(&self) -> bool {
        false
    }
    fn route(&self) -> Route<'_> {
        Route::Key(&self.key)
    }
    async fn send(&self, node: &kahuna::Client, h: &Header) -> Result<(Reply, Option<GetResult>), Failure> {
        let mut request = node.try_get_request();
        {
            let mut r = request.get().init_req();
            write_header(r.reborrow().init_header(), h);
            r.set_key(self.key.as_str());
            r.set_durability(self.durability.wire());
            r.set_revision(self.revision);
            r.set_as_of(self.as_of);
        }
        let response = request.send().promise.await.map_err(Failure::from_call)?;
        let resp = response.get()?.get_resp()?;
        let reply = read_header(resp.get_header()?)?;
        if reply.status != Code::Ok {
            return Ok((reply, None));
        }
        let entry = read_entry(resp.get_entry()?)?;
        let found = resp.get_found();
        let out = GetResult {
            found,
            value: if found { entry.value } else { Vec::new() },
            revision: entry.revision,
            expires_at: entry.expires_at,
            last_modified: entry.last_modified,
        };
        Ok((reply, Some(out)))
    }
}

/// `tryExists`: a get without the value.
pub(crate) struct ExistsCall {
    pub key: String,
    pub durability: Durability,
}

impl Call for ExistsCall {
    type Output = ExistsResult;
    fn name(&self) -> &'static str {
        "try_exists"
    }
    fn is_write(&self) -> bool {
        false
    }
    fn route(&self) -> Route<'_> {
        Route::Key(&self.key)
    }
    async fn send(&self, node: &kahuna::Client, h: &Header) -> Result<(Reply, Option<ExistsResult>), Failure> {
        let mut request = node.try_exists_request();
        {
            let mut r = request.get().init_req();
            write_header(r.reborrow().init_header(), h);
            r.set_key(self.key.as_str());
            r.set_durability(self.durability.wire());
            r.set_revision(-1);
            r.set_as_of(0);
        }
        let response = request.send().promise.await.map_err(Failure::from_call)?;
        let resp = response.get()?.get_resp()?;
        let reply = read_header(resp.get_header()?)?;
        let out = if reply.status == Code::Ok {
            Some(ExistsResult { exists: resp.get_found(), revision: resp.get_entry()?.get_revision() })
        } else {
            None
        };
        Ok((reply, out))
    }
}

/// `tryDelete`.
pub(crate) struct DeleteCall {
    pub key: String,
    pub durability: Durability,
}

impl Call for DeleteCall {
    type Output = DeleteResult;
    fn name(&self) -> &'static str {
        "try_delete"
    }
    fn is_write(&self) -> bool {
        true
    }
    fn route(&self) -> Route<'_> {
        Route::Key(&self.key)
    }
    async fn send(&self, node: &kahuna::Client, h: &Header) -> Result<(Reply, Option<DeleteResult>), Failure> {
        let mut request = node.try_delete_request();
        {
            let mut r = request.get().init_req();
            write_header(r.reborrow().init_header(), h);
            r.set_key(self.key.as_str());
            r.set_durability(self.durability.wire());
        }
        let response = request.send().promise.await.map_err(Failure::from_call)?;
        let resp = response.get()?.get_resp()?;
        let reply = read_header(resp.get_header()?)?;
        let out = (reply.status == Code::Ok)
            .then(|| DeleteResult { deleted: resp.get_deleted(), revision: resp.get_revision() });
        Ok((reply, out))
    }
}

/// `tryExtend`.
pub(crate) struct ExtendCall {
    pub key: String,
    pub expires_ms: i64,
    pub durability: Durability,
}

impl Call for ExtendCall {
    type Output = ExtendResult;
    fn name(&self) -> &'static str {
        "try_extend"
    }
    fn is_write(&self) -> bool {
        true
    }
    fn route(&self) -> Route<'_> {
        Route::Key(&self.key)
    }
    async fn send(&self, node: &kahuna::Client, h: &Header) -> Result<(Reply, Option<ExtendResult>), Failure> {
        let mut request = node.try_extend_request();
        {
            let mut r = request.get().init_req();
            write_header(r.reborrow().init_header(), h);
            r.set_key(self.key.as_str());
            r.set_expires_ms(self.expires_ms);
            r.set_durability(self.durability.wire());
        }
        let response = request.send().promise.await.map_err(Failure::from_call)?;
        let resp = response.get()?.get_resp()?;
        let reply = read_header(resp.get_header()?)?;
        let out = (reply.status == Code::Ok)
            .then(|| ExtendResult { extended: resp.get_extended(), revision: resp.get_revision() });
        Ok((reply, out))
    }
}

/// `getByBucket`.
pub(crate) struct BucketCall {
    pub bucket: String,
    pub durability: Durability,
}

impl Call for BucketCall {
    type Output = Vec<Entry>;
    fn name(&self) -> &'static str {
        "get_by_bucket"
    }
    fn is_write(&self) -> bool {
        false
    }
    fn route(&self) -> Route<'_> {
        Route::Bucket(&self.bucket)
    }
    async fn send(&self, node: &kahuna::Client, h: &Header) -> Result<(Reply, Option<Vec<Entry>>), Failure> {
        let mut request = node.get_by_bucket_request();
        {
            let mut r = request.get().init_req();
            write_header(r.reborrow().init_header(), h);
            r.set_bucket(self.bucket.as_str());
            r.set_durability(self.durability.wire());
        }
        let response = request.send().promise.await.map_err(Failure::from_call)?;
        let resp = response.get()?.get_resp()?;
        let reply = read_header(resp.get_header()?)?;
        let out = if reply.status == Code::Ok { Some(read_entries(resp.get_entries()?)?) } else { None };
        Ok((reply, out))
    }
}

/// `scanByPrefix`: one page.
pub(crate) struct ScanCall {
    pub prefix: String,
    pub limit: u32,
    pub cursor: Vec<u8>,
    pub durability: Durability,
}

impl Call for ScanCall {
    type Output = ScanPage;
    fn name(&self) -> &'static str {
        "scan_by_prefix"
    }
    fn is_write(&self) -> bool {
        false
    }
    fn route(&self) -> Route<'_> {
        Route::Any
    }
    async fn send(&self, node: &kahuna::Client, h: &Header) -> Result<(Reply, Option<ScanPage>), Failure> {
        let mut request = node.scan_by_prefix_request();
        {
            let mut r = request.get().init_req();
            write_header(r.reborrow().init_header(), h);
            r.set_prefix(self.prefix.as_str());
            r.set_limit(self.limit);
            r.set_cursor(&self.cursor);
            r.set_durability(self.durability.wire());
        }
        let response = request.send().promise.await.map_err(Failure::from_call)?;
        let resp = response.get()?.get_resp()?;
        let reply = read_header(resp.get_header()?)?;
        if reply.status != Code::Ok {
            return Ok((reply, None));
        }
        let cursor = resp.get_cursor()?;
        let page = ScanPage {
            entries: read_entries(resp.get_entries()?)?,
            cursor: (!cursor.is_empty()).then(|| cursor.to_vec()),
            snapshot: resp.get_snapshot(),
        };
        Ok((reply, Some(page)))
    }
}

/// `topology`: the members and partition leaders as the answering node sees them.
pub(crate) struct TopologyCall;

impl Call for TopologyCall {
    type Output = Topology;
    fn name(&self) -> &'static str {
        "topology"
    }
    fn is_write(&self) -> bool {
        false
    }
    fn route(&self) -> Route<'_> {
        Route::Any
    }
    async fn send(&self, node: &kahuna::Client, h: &Header) -> Result<(Reply, Option<Topology>), Failure> {
        let mut request = node.topology_request();
        write_header(request.get().init_header(), h);
        let response = request.send().promise.await.map_err(Failure::from_call)?;
        let resp = response.get()?.get_resp()?;
        let reply = read_header(resp.get_header()?)?;
        if reply.status != Code::Ok {
            return Ok((reply, None));
        }
        let count = resp.get_partition_count();
        let mut nodes = Vec::new();
        for n in resp.get_nodes()?.iter() {
            nodes.push((n.get_id(), text(n.get_address())?));
        }
        let mut leaders = vec![None; count as usize];
        let mut terms = vec![0; count as usize];
        for p in resp.get_partitions()?.iter() {
            let i = p.get_id() as usize;
            if i < leaders.len() {
                leaders[i] = (p.get_leader() != 0).then_some(p.get_leader());
                terms[i] = p.get_term();
            }
        }
        let topology = Topology {
            cluster_id: resp.get_cluster_id(),
            cluster_name: text(resp.get_cluster_name())?,
            partition_count: count,
            nodes,
            leaders,
            terms,
            answered_by: resp.get_node_id(),
        };
        Ok((reply, Some(topology)))
    }
}
