//! The bootstrap capability of every connection: the client `Kahuna` API plus `peer`.

use std::sync::Arc;

use capnp::capability::Rc;
use kahuna_schema::kahuna_capnp::{Status, kahuna, request_header};
use kahuna_schema::peer_capnp::{gateway, peer};

use super::convert::{self, Header};
use super::peer_api::PeerImpl;
use crate::kv::{self, Reply, Request};

/// Serves one connection's `Gateway`.
pub struct GatewayImpl {
    pub(super) kv: Arc<kv::Service>,
}

impl GatewayImpl {
    /// Runs `request` (or reports its decoding error) with the header's clock and deadline.
    async fn run(&self, header: Header, request: Result<Request, kv::Error>) -> (Reply, u64) {
        let clock = self.kv.clock();
        clock.observe(header.hlc);
        let reply = match request {
            Ok(r) => self.kv.execute(r, self.kv.context(header.timeout_ms, header.route, false)).await,
            Err(e) => Reply::plain(Err(e)),
        };
        (reply, clock.peek())
    }
}

fn read_header(h: capnp::Result<request_header::Reader<'_>>) -> Header {
    convert::header(h)
}

impl kahuna::Server for GatewayImpl {
    async fn try_set(
        self: Rc<Self>,
        params: kahuna::TrySetParams,
        mut results: kahuna::TrySetResults,
    ) -> Result<(), capnp::Error> {
        let req = params.get()?.get_req()?;
        let header = read_header(req.get_header());
        let (reply, hlc) = self.run(header, convert::set_request(req).map(Request::Set)).await;
        convert::set_response(results.get().init_resp(), &reply, hlc);
        Ok(())
    }

    async fn try_get(
        self: Rc<Self>,
        params: kahuna::TryGetParams,
        mut results: kahuna::TryGetResults,
    ) -> Result<(), capnp::Error> {
        let req = params.get()?.get_req()?;
        let header = read_header(req.get_header());
        let (reply, hlc) = self.run(header, convert::get_request(req).map(Request::Get)).await;
        convert::get_response(results.get().init_resp(), &reply, hlc);
        Ok(())
    }

    async fn try_exists(
        self: Rc<Self>,
        params: kahuna::TryExistsParams,
        mut results: kahuna::TryExistsResults,
    ) -> Result<(), capnp::Error> {
        let req = params.get()?.get_req()?;
        let header = read_header(req.get_header());
        let (reply, hlc) = self.run(header, convert::get_request(req).map(Request::Exists)).await;
        convert::get_response(results.get().init_resp(), &reply, hlc);
        Ok(())
    }

    async fn try_delete(
        self: Rc<Self>,
        params: kahuna::TryDeleteParams,
        mut results: kahuna::TryDeleteResults,
    ) -> Result<(), capnp::Error> {
        let req = params.get()?.get_req()?;
        let header = read_header(req.get_header());
        let (reply, hlc) = self.run(header, convert::delete_request(req).map(Request::Delete)).await;
        convert::delete_response(results.get().init_resp(), &reply, hlc);
        Ok(())
    }

    async fn try_extend(
        self: Rc<Self>,
        params: kahuna::TryExtendParams,
        mut results: kahuna::TryExtendResults,
    ) -> Result<(), capnp::Error> {
        let req = params.get()?.get_req()?;
        let header = read_header(req.get_header());
        let (reply, hlc) = self.run(header, convert::extend_request(req).map(Request::Extend)).await;
        convert::extend_response(results.get().init_resp(), &reply, hlc);
        Ok(())
    }

    async fn get_by_bucket(
        self: Rc<Self>,
        params: kahuna::GetByBucketParams,
        mut results: kahuna::GetByBucketResults,
    ) -> Result<(), capnp::Error> {
        let req = params.get()?.get_req()?;
        let header = read_header(req.get_header());
        let (reply, hlc) = self.run(header, convert::bucket_request(req).map(Request::Bucket)).await;
        convert::bucket_response(results.get().init_resp(), &reply, hlc);
        Ok(())
    }

    async fn scan_by_prefix(
        self: Rc<Self>,
        params: kahuna::ScanByPrefixParams,
        mut results: kahuna::ScanByPrefixResults,
    ) -> Result<(), capnp::Error> {
        let req = params.get()?.get_req()?;
        let header = read_header(req.get_header());
        let (reply, hlc) = self.run(header, convert::scan_request(req).map(Request::Scan)).await;
        convert::scan_response(results.get().init_resp(), &reply, hlc);
        Ok(())
    }

    async fn topology(
        self: Rc<Self>,
        params: kahuna::TopologyParams,
        mut results: kahuna::TopologyResults,
    ) -> Result<(), capnp::Error> {
        let clock = self.kv.clock();
        clock.observe(read_header(params.get()?.get_header()).hlc);
        let cluster = self.kv.cluster();
        let mut resp = results.get().init_resp();
        {
            let mut h = resp.reborrow().init_header();
            h.set_status(Status::Ok);
            h.set_hlc(clock.peek());
        }
        resp.set_cluster_id(cluster.cluster_id());
        resp.set_cluster_name(&cluster.members().cluster_name);
        resp.set_partition_count(cluster.partition_count());
        resp.set_node_id(cluster.node_id());
        let addresses = &cluster.members().addresses;
        let mut nodes = resp.reborrow().init_nodes(addresses.len() as u32);
        for (i, (id, addr)) in addresses.iter().enumerate() {
            let mut n = nodes.reborrow().get(i as u32);
            n.set_id(*id);
            n.set_address(addr);
        }
        let mut parts = resp.init_partitions(cluster.partition_count());
        for p in cluster.partitions() {
            let l = p.leadership();
            let mut b = parts.reborrow().get(p.id());
            b.set_id(p.id());
            b.set_leader(l.leader.unwrap_or(0));
            b.set_term(l.term);
        }
        Ok(())
    }

    async fn try_lock(
        self: Rc<Self>,
        params: kahuna::TryLockParams,
        mut results: kahuna::TryLockResults,
    ) -> Result<(), capnp::Error> {
        let req = params.get()?.get_req()?;
        let header = read_header(req.get_header());
        let (reply, hlc) = self.run(header, convert::lock_request(req).map(Request::Lock)).await;
        convert::lock_response(results.get().init_resp(), &reply, hlc);
        Ok(())
    }

    async fn try_extend_lock(
        self: Rc<Self>,
        params: kahuna::TryExtendLockParams,
        mut results: kahuna::TryExtendLockResults,
    ) -> Result<(), capnp::Error> {
        let req = params.get()?.get_req()?;
        let header = read_header(req.get_header());
        let (reply, hlc) = self.run(header, convert::extend_lock_request(req).map(Request::ExtendLock)).await;
        convert::extend_lock_response(results.get().init_resp(), &reply, hlc);
        Ok(())
    }

    async fn unlock(
        self: Rc<Self>,
        params: kahuna::UnlockParams,
        mut results: kahuna::UnlockResults,
    ) -> Result<(), capnp::Error> {
        let req = params.get()?.get_req()?;
        let header = read_header(req.get_header());
        let (reply, hlc) = self.run(header, convert::unlock_request(req).map(Request::Unlock)).await;
        convert::unlock_response(results.get().init_resp(), &reply, hlc);
        Ok(())
    }

    async fn get_lock(
        self: Rc<Self>,
        params: kahuna::GetLockParams,
        mut results: kahuna::GetLockResults,
    ) -> Result<(), capnp::Error> {
        let req = params.get()?.get_req()?;
        let header = read_header(req.get_header());
        let (reply, hlc) = self.run(header, convert::get_lock_request(req).map(Request::GetLock)).await;
        convert::get_lock_response(results.get().init_resp(), &reply, hlc);
        Ok(())
    }
}

impl gateway::Server for GatewayImpl {
    async fn peer(
        self: Rc<Self>,
        params: gateway::PeerParams,
        mut results: gateway::PeerResults,
    ) -> Result<(), capnp::Error> {
        let p = params.get()?;
        let cluster = self.kv.cluster();
        if p.get_cluster_id() != cluster.cluster_id() {
            return Err(capnp::Error::failed(format!(
                "node {} belongs to another cluster (cluster id {:#x}, caller's {:#x})",
                cluster.node_id(),
                cluster.cluster_id(),
                p.get_cluster_id()
            )));
        }
        let from = p.get_from_node();
        if cluster.address_of(from).is_none() {
            return Err(capnp::Error::failed(format!("node {from} is not a member of this cluster")));
        }
        let client: peer::Client = capnp_rpc::new_client(PeerImpl { kv: self.kv.clone(), from });
        results.get().set_peer(client);
        Ok(())
    }
}
