//! One fake node: routes, scripts and serves calls against the shared [`State`].

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::{Arc, Mutex};

use kahuna_schema::flags;
use kahuna_schema::kahuna_capnp::{Durability, Status, entry, kahuna, request_header, response_header};
use tokio::task::JoinHandle;

use super::{Seen, State, Version};
/// A request, owned, as the fake handles it.
enum Req {
    Set { key: String, value: Vec<u8>, expires_ms: i64, flags: u32, cmp_value: Vec<u8>, cmp_rev: i64, eph: bool },
    Get { key: String, eph: bool, revision: i64 },
    Delete { key: String, eph: bool },
    Extend { key: String, ms: i64, eph: bool },
    Bucket { bucket: String, eph: bool },
    Scan { prefix: String, limit: u32, cursor: Vec<u8>, eph: bool },
}

/// What a served request produced.
enum Out {
    Set(bool, i64, u64),
    Get(bool, Version),
    Delete(bool, i64),
    Extend(bool, i64),
    Entries(Vec<(String, Version)>, Vec<u8>, u64),
}

struct Head {
    status: Status,
    message: String,
    hlc: u64,
    leader: u64,
    term: u64,
}

/// One node's service object (one per connection).
pub(super) struct Node {
    pub(super) id: u64,
    pub(super) state: Arc<Mutex<State>>,
    pub(super) conns: Rc<RefCell<Vec<JoinHandle<()>>>>,
}

fn eph(d: Result<Durability, capnp::NotInSchema>) -> bool {
    matches!(d, Ok(Durability::Ephemeral))
}

impl Node {
    /// Routes, scripts and serves one request; `None` means "never answer".
    async fn handle(
        &self,
        method: &'static str,
        req: Req,
        h: request_header::Reader<'_>,
    ) -> Option<(Head, Option<Out>)> {
        let (route_key, write) = match &req {
            Req::Set { key, .. } | Req::Delete { key, .. } | Req::Extend { key, .. } => {
                (Some(routing::routing_unit(key).to_string()), true)
            }
            Req::Get { key, .. } => (Some(routing::routing_unit(key).to_string()), false),
            Req::Bucket { bucket, .. } => (Some(bucket.clone()), false),
            Req::Scan { .. } => (None, false),
        };
        let (hlc_in, count_in) = (h.get_hlc(), h.get_partition_count());
        let delay = {
            let mut s = self.state.lock().unwrap();
            let key = match &req {
                Req::Set { key, .. } | Req::Get { key, .. } | Req::Delete { key, .. } | Req::Extend { key, .. } => {
                    key.clone()
                }
                Req::Bucket { bucket, .. } => bucket.clone(),
                Req::Scan { prefix, .. } => prefix.clone(),
            };
            s.seen.push(Seen {
                node: self.id,
                method,
                key,
                hlc: hlc_in,
                partition: h.get_partition(),
                partition_count: count_in,
                timeout_ms: h.get_timeout_ms(),
            });
            s.inflight += 1;
            s.max_inflight = s.max_inflight.max(s.inflight);
            s.script.delay
        };
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        let mut s = self.state.lock().unwrap();
        s.inflight -= 1;
        s.hlc = s.hlc.max(hlc_in) + 1;
        let partition = route_key.map(|k| routing::partition_for_unit_of(&k, s.partition_count));
        let leader = partition.map(|p| s.leaders[p as usize]).unwrap_or(0);
        let head = |s: &State, status: Status, message: &str| Head {
            status,
            message: message.into(),
            hlc: s.hlc,
            leader,
            term: s.term,
        };
        if s.script.hang_node == Some(self.id) {
            drop(s);
            return None;
        }
        if count_in != 0 && count_in != s.partition_count {
            return Some((head(&s, Status::MustRetry, "partition count mismatch"), None));
        }
        if s.script.must_retry > 0 {
            s.script.must_retry -= 1;
            let mut h = head(&s, Status::MustRetry, "scripted");
            h.leader = 0;
            return Some((h, None));
        }
        if s.script.unavailable > 0 {
            s.script.unavailable -= 1;
            return Some((head(&s, Status::Unavailable, "scripted"), None));
        }
        if partition.is_some() && leader != self.id && !s.script.forward {
            return Some((head(&s, Status::MustRetry, "not the leader"), None));
        }
        let out = apply(&mut s, req);
        let drop_now = if write && s.script.drop_after_write > 0 {
            s.script.drop_after_write -= 1;
            true
        } else if !write && s.script.drop_on_read > 0 {
            s.script.drop_on_read -= 1;
            true
        } else {
            false
        };
        if drop_now {
            for task in self.conns.borrow().iter() {
                task.abort();
            }
            return None;
        }
        Some((head(&s, Status::Ok, ""), Some(out)))
    }
}

fn apply(s: &mut State, req: Req) -> Out {
    let now = s.hlc;
    match req {
        Req::Set { key, value, expires_ms, flags: f, cmp_value, cmp_rev, eph } => {
            let cur = s.store.get(&(eph, key.clone())).cloned();
            let live = cur.as_ref().is_some_and(|v| v.live);
            let cur_rev = cur.as_ref().map_or(-1, |v| v.revision);
            let ok = if f & flags::SET_IF_EXISTS != 0 {
                live
            } else if f & flags::SET_IF_NOT_EXISTS != 0 {
                !live
            } else if f & flags::SET_IF_EQUAL_TO_VALUE != 0 {
                live && cur.as_ref().unwrap().value == cmp_value
            } else if f & flags::SET_IF_EQUAL_TO_REVISION != 0 {
                live && cur_rev == cmp_rev
            } else {
                true
            };
            if !ok {
                return Out::Set(false, if live { cur_rev } else { -1 }, 0);
            }
            let revision = cur_rev + 1;
            let expires_at = if expires_ms > 0 { now + ((expires_ms as u64) << 16) } else { 0 };
            s.store.insert((eph, key), Version { value, revision, live: true, expires_at, last_modified: now });
            Out::Set(true, revision, now)
        }
        Req::Get { key, eph, revision } => {
            let v = s.store.get(&(eph, key)).cloned().unwrap_or(Version { revision: -1, ..Version::default() });
            let found = v.live && (revision < 0 || revision == v.revision);
            Out::Get(found, v)
        }
        Req::Delete { key, eph } => match s.store.get_mut(&(eph, key)) {
            Some(v) if v.live => {
                v.live = false;
                Out::Delete(true, v.revision)
            }
            Some(v) => Out::Delete(false, v.revision),
            None => Out::Delete(false, -1),
        },
        Req::Extend { key, ms, eph } => match s.store.get_mut(&(eph, key)) {
            Some(v) if v.live => {
                v.expires_at = now + ((ms as u64) << 16);
                Out::Extend(true, v.revision)
            }
            Some(v) => Out::Extend(false, v.revision),
            None => Out::Extend(false, -1),
        },
        Req::Bucket { bucket, eph } => {
            let entries = s
                .store
                .iter()
                .filter(|((e, k), v)| *e == eph && v.live && routing::bucket_of(k) == Some(bucket.as_str()))
                .map(|((_, k), v)| (k.clone(), v.clone()))
                .collect();
            Out::Entries(entries, Vec::new(), now)
        }
        Req::Scan { prefix, limit, cursor, eph } => {
            let after = String::from_utf8(cursor).unwrap();
            let limit = if limit == 0 { 2 } else { limit as usize };
            let mut entries: Vec<(String, Version)> = s
                .store
                .iter()
                .filter(|((e, k), v)| {
                    *e == eph && v.live && k.starts_with(&prefix) && (after.is_empty() || k.as_str() > after.as_str())
                })
                .map(|((_, k), v)| (k.clone(), v.clone()))
                .take(limit + 1)
                .collect();
            let more = entries.len() > limit;
            entries.truncate(limit);
            let cursor = if more { entries.last().unwrap().0.clone().into_bytes() } else { Vec::new() };
            Out::Entries(entries, cursor, 7)
        }
    }
}

mod routing {
    pub use kahuna_schema::routing::*;

    /// The partition of a routing unit (a bucket, or a key without '/').
    pub fn partition_for_unit_of(unit: &str, count: u32) -> u32 {
        partition_for_bucket(unit, count)
    }
}

fn fill_head(mut b: response_header::Builder<'_>, h: &Head) {
    b.set_status(h.status);
    b.set_message(h.message.as_str());
    b.set_hlc(h.hlc);
    b.set_leader(h.leader);
    b.set_term(h.term);
}

fn fill_entry(mut b: entry::Builder<'_>, key: &str, v: &Version) {
    b.set_key(key);
    b.set_value(&v.value);
    b.set_revision(v.revision);
    b.set_expires_at(v.expires_at);
    b.set_last_modified(v.last_modified);
}

fn text(r: capnp::Result<capnp::text::Reader<'_>>) -> capnp::Result<String> {
    Ok(r?.to_string().unwrap())
}

impl kahuna::Server for Node {
    async fn try_set(
        self: Rc<Self>,
        params: kahuna::TrySetParams,
        mut results: kahuna::TrySetResults,
    ) -> Result<(), capnp::Error> {
        let r = params.get()?.get_req()?;
        let req = Req::Set {
            key: text(r.get_key())?,
            value: r.get_value()?.to_vec(),
            expires_ms: r.get_expires_ms(),
            flags: r.get_flags(),
            cmp_value: r.get_compare_value()?.to_vec(),
            cmp_rev: r.get_compare_revision(),
            eph: eph(r.get_durability()),
        };
        let Some((head, out)) = self.handle("try_set", req, r.get_header()?).await else {
            return futures::future::pending().await;
        };
        let mut b = results.get().init_resp();
        fill_head(b.reborrow().init_header(), &head);
        if let Some(Out::Set(set, revision, last_modified)) = out {
            b.set_set(set);
            b.set_revision(revision);
            b.set_last_modified(last_modified);
        }
        Ok(())
    }

    async fn try_get(
        self: Rc<Self>,
        params: kahuna::TryGetParams,
        mut results: kahuna::TryGetResults,
    ) -> Result<(), capnp::Error> {
        let r = params.get()?.get_req()?;
        let req = Req::Get { key: text(r.get_key())?, eph: eph(r.get_durability()), revision: r.get_revision() };
        let key = text(r.get_key())?;
        let Some((head, out)) = self.handle("try_get", req, r.get_header()?).await else {
            return futures::future::pending().await;
        };
        let mut b = results.get().init_resp();
        fill_head(b.reborrow().init_header(), &head);
        if let Some(Out::Get(found, v)) = out {
            b.set_found(found);
            fill_entry(b.init_entry(), &key, &v);
        }
        Ok(())
    }

    async fn try_exists(
        self: Rc<Self>,
        params: kahuna::TryExistsParams,
        mut results: kahuna::TryExistsResults,
    ) -> Result<(), capnp::Error> {
        let r = params.get()?.get_req()?;
        let req = Req::Get { key: text(r.get_key())?, eph: eph(r.get_durability()), revision: -1 };
        let Some((head, out)) = self.handle("try_exists", req, r.get_header()?).await else {
            return futures::future::pending().await;
        };
        let mut b = results.get().init_resp();
        fill_head(b.reborrow().init_header(), &head);
        if let Some(Out::Get(found, v)) = out {
            b.set_found(found);
            b.init_entry().set_revision(v.revision);
        }
        Ok(())
    }

    async fn try_delete(
        self: Rc<Self>,
        params: kahuna::TryDeleteParams,
        mut results: kahuna::TryDeleteResults,
    ) -> Result<(), capnp::Error> {
        let r = params.get()?.get_req()?;
        let req = Req::Delete { key: text(r.get_key())?, eph: eph(r.get_durability()) };
        let Some((head, out)) = self.handle("try_delete", req, r.get_header()?).await else {
            return futures::future::pending().await;
        };
        let mut b = results.get().init_resp();
        fill_head(b.reborrow().init_header(), &head);
        if let Some(Out::Delete(deleted, revision)) = out {
            b.set_deleted(deleted);
            b.set_revision(revision);
        }
        Ok(())
    }

    async fn try_extend(
        self: Rc<Self>,
        params: kahuna::TryExtendParams,
        mut results: kahuna::TryExtendResults,
    ) -> Result<(), capnp::Error> {
        let r = params.get()?.get_req()?;
        let req = Req::Extend { key: text(r.get_key())?, ms: r.get_expires_ms(), eph: eph(r.get_durability()) };
        let Some((head, out)) = self.handle("try_extend", req, r.get_header()?).await else {
            return futures::future::pending().await;
        };
        let mut b = results.get().init_resp();
        fill_head(b.reborrow().init_header(), &head);
        if let Some(Out::Extend(extended, revision)) = out {
            b.set_extended(extended);
            b.set_revision(revision);
        }
        Ok(())
    }

    async fn get_by_bucket(
        self: Rc<Self>,
        params: kahuna::GetByBucketParams,
        mut results: kahuna::GetByBucketResults,
    ) -> Result<(), capnp::Error> {
        let r = params.get()?.get_req()?;
        let req = Req::Bucket { bucket: text(r.get_bucket())?, eph: eph(r.get_durability()) };
        let Some((head, out)) = self.handle("get_by_bucket", req, r.get_header()?).await else {
            return futures::future::pending().await;
        };
        let mut b = results.get().init_resp();
        fill_head(b.reborrow().init_header(), &head);
        if let Some(Out::Entries(entries, _, _)) = out {
            let mut list = b.init_entries(entries.len() as u32);
            for (i, (k, v)) in entries.iter().enumerate() {
                fill_entry(list.reborrow().get(i as u32), k, v);
            }
        }
        Ok(())
    }

    async fn scan_by_prefix(
        self: Rc<Self>,
        params: kahuna::ScanByPrefixParams,
        mut results: kahuna::ScanByPrefixResults,
    ) -> Result<(), capnp::Error> {
        let r = params.get()?.get_req()?;
        let req = Req::Scan {
            prefix: text(r.get_prefix())?,
            limit: r.get_limit(),
            cursor: r.get_cursor()?.to_vec(),
            eph: eph(r.get_durability()),
        };
        let Some((head, out)) = self.handle("scan_by_prefix", req, r.get_header()?).await else {
            return futures::future::pending().await;
        };
        let mut b = results.get().init_resp();
        fill_head(b.reborrow().init_header(), &head);
        if let Some(Out::Entries(entries, cursor, snapshot)) = out {
            b.set_cursor(&cursor);
            b.set_snapshot(snapshot);
            let mut list = b.init_entries(entries.len() as u32);
            for (i, (k, v)) in entries.iter().enumerate() {
                fill_entry(list.reborrow().get(i as u32), k, v);
            }
        }
        Ok(())
    }

    async fn topology(
        self: Rc<Self>,
        params: kahuna::TopologyParams,
        mut results: kahuna::TopologyResults,
    ) -> Result<(), capnp::Error> {
        let hlc_in = params.get()?.get_header()?.get_hlc();
        let mut s = self.state.lock().unwrap();
        s.hlc = s.hlc.max(hlc_in) + 1;
        let mut b = results.get().init_resp();
        fill_head(
            b.reborrow().init_header(),
            &Head { status: Status::Ok, message: String::new(), hlc: s.hlc, leader: 0, term: 0 },
        );
        b.set_cluster_id(s.cluster_id);
        b.set_cluster_name("fake");
        b.set_partition_count(s.partition_count);
        b.set_node_id(self.id);
        let mut nodes = b.reborrow().init_nodes(s.nodes.len() as u32);
        for (i, (id, address)) in s.nodes.iter().enumerate() {
            let mut n = nodes.reborrow().get(i as u32);
            n.set_id(*id);
            n.set_address(address.as_str());
        }
        let mut parts = b.init_partitions(s.leaders.len() as u32);
        for (i, leader) in s.leaders.iter().enumerate() {
            let mut p = parts.reborrow().get(i as u32);
            p.set_id(i as u32);
            p.set_leader(*leader);
            p.set_term(s.term);
        }
        Ok(())
    }
}
