//! The lock RPC methods: `tryLock`, `tryExtendLock`, `unlock`, `getLock` (see `ops.rs` for the
//! shape of a [`Call`]). Locks route like keys: the resource's bucket decides the partition.

use kahuna_schema::Code;
use kahuna_schema::kahuna_capnp::kahuna;

use crate::error::Failure;
use crate::ops::{Call, Header, Reply, Route, read_header, write_header};
use crate::types::{Durability, LockInfo, LockResult};

/// `tryLock` and `tryExtendLock`.
pub(crate) struct LockCall {
    pub resource: String,
    pub owner: Vec<u8>,
    pub expires_ms: i64,
    pub durability: Durability,
    /// True for `tryExtendLock`.
    pub extend: bool,
}

impl Call for LockCall {
    type Output = LockResult;
    fn name(&self) -> &'static str {
        if self.extend { "try_extend_lock" } else { "try_lock" }
    }
    fn is_write(&self) -> bool {
        true
    }
    fn route(&self) -> Route<'_> {
        Route::Key(&self.resource)
    }
    async fn send(&self, node: &kahuna::Client, h: &Header) -> Result<(Reply, Option<LockResult>), Failure> {
        if self.extend {
            let mut request = node.try_extend_lock_request();
            {
                let mut r = request.get().init_req();
                write_header(r.reborrow().init_header(), h);
                r.set_resource(self.resource.as_str());
                r.set_owner(&self.owner);
                r.set_expires_ms(self.expires_ms);
                r.set_durability(self.durability.wire());
            }
            let response = request.send().promise.await.map_err(Failure::from_call)?;
            let resp = response.get()?.get_resp()?;
            let reply = read_header(resp.get_header()?)?;
            let out = (reply.status == Code::Ok)
                .then(|| LockResult { locked: true, fencing_token: resp.get_fencing_token() });
            Ok((reply, out))
        } else {
            let mut request = node.try_lock_request();
            {
                let mut r = request.get().init_req();
                write_header(r.reborrow().init_header(), h);
                r.set_resource(self.resource.as_str());
                r.set_owner(&self.owner);
                r.set_expires_ms(self.expires_ms);
                r.set_durability(self.durability.wire());
            }
            let response = request.send().promise.await.map_err(Failure::from_call)?;
            let resp = response.get()?.get_resp()?;
            let reply = read_header(resp.get_header()?)?;
            let out = (reply.status == Code::Ok)
                .then(|| LockResult { locked: resp.get_locked(), fencing_token: resp.get_fencing_token() });
            Ok((reply, out))
        }
    }
}

/// `unlock`.
pub(crate) struct UnlockCall {
    pub resource: String,
    pub owner: Vec<u8>,
    pub durability: Durability,
}

impl Call for UnlockCall {
    type Output = ();
    fn name(&self) -> &'static str {
        "unlock"
    }
    fn is_write(&self) -> bool {
        true
    }
    fn route(&self) -> Route<'_> {
        Route::Key(&self.resource)
    }
    async fn send(&self, node: &kahuna::Client, h: &Header) -> Result<(Reply, Option<()>), Failure> {
        let mut request = node.unlock_request();
        {
            let mut r = request.get().init_req();
            write_header(r.reborrow().init_header(), h);
            r.set_resource(self.resource.as_str());
            r.set_owner(&self.owner);
            r.set_durability(self.durability.wire());
        }
        let response = request.send().promise.await.map_err(Failure::from_call)?;
        let resp = response.get()?.get_resp()?;
        let reply = read_header(resp.get_header()?)?;
        let out = (reply.status == Code::Ok).then_some(());
        Ok((reply, out))
    }
}

/// `getLock`.
pub(crate) struct GetLockCall {
    pub resource: String,
    pub durability: Durability,
}

impl Call for GetLockCall {
    type Output = LockInfo;
    fn name(&self) -> &'static str {
        "get_lock"
    }
    fn is_write(&self) -> bool {
        false
    }
    fn route(&self) -> Route<'_> {
        Route::Key(&self.resource)
    }
    async fn send(&self, node: &kahuna::Client, h: &Header) -> Result<(Reply, Option<LockInfo>), Failure> {
        let mut request = node.get_lock_request();
        {
            let mut r = request.get().init_req();
            write_header(r.reborrow().init_header(), h);
            r.set_resource(self.resource.as_str());
            r.set_durability(self.durability.wire());
        }
        let response = request.send().promise.await.map_err(Failure::from_call)?;
        let resp = response.get()?.get_resp()?;
        let reply = read_header(resp.get_header()?)?;
        let out = if reply.status == Code::Ok {
            Some(LockInfo {
                owner: resp.get_owner()?.to_vec(),
                expires_at: resp.get_expires_at(),
                fencing_token: resp.get_fencing_token(),
            })
        } else {
            None
        };
        Ok((reply, out))
    }
}
