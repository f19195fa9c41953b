//! Leader election on top of leased locks, and waiting for a lock.
//!
//! ```text
//!   Election::new(client, "services/scheduler", b"node-a", ttl)
//!     .campaign(wait) ──try_lock every ttl/4──> Leadership { fencing_token }
//!                                                  │  keep-alive thread: try_extend_lock every ttl/3
//!                                                  │  a refused or too-late extension → is_leader() = false
//!                                                  └─ resign() / drop → unlock
//!   Election::leader() → LeaderInfo { candidate, fencing_token, expires_at } of the current leader
//! ```
//!
//! A leader must stop acting as one when [`Leadership::is_leader`] turns false, and should pass
//! its fencing token to every resource it writes, so a resource can refuse a deposed leader
//! whose token is lower than one it has seen (see docs/locks.md).

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use kahuna_schema::Code;

use crate::error::{Error, Result};
use crate::{BlockingClient, Durability, LockResult};

impl BlockingClient {
    /// Like [`BlockingClient::try_lock`], but retries while the lock is busy until `wait` has
    /// passed, pausing 10 ms between tries and doubling up to 250 ms. Returns the last answer.
    pub fn lock_with_wait(
        &self,
        resource: &str,
        owner: &[u8],
        expires_ms: i64,
        wait: Duration,
        durability: Durability,
    ) -> Result<LockResult> {
        let deadline = Instant::now() + wait;
        let mut pause = Duration::from_millis(10);
        loop {
            let r = self.try_lock(resource, owner, expires_ms, durability)?;
            let now = Instant::now();
            if r.locked || now >= deadline {
                return Ok(r);
            }
            std::thread::sleep(pause.min(deadline - now));
            pause = (pause * 2).min(Duration::from_millis(250));
        }
    }
}

/// The current leader of an election.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaderInfo {
    /// The leader's candidate id.
    pub candidate: Vec<u8>,
    /// Its fencing token.
    pub fencing_token: i64,
    /// HLC time its lease ends, unless it is kept alive.
    pub expires_at: u64,
}

/// An election for one name among candidates, on a Persistent lock.
#[derive(Clone, Debug)]
pub struct Election {
    client: BlockingClient,
    name: String,
    candidate: Vec<u8>,
    ttl: Duration,
}

impl Election {
    /// An election for `name` (a resource routed like a key) in which this process stands as
    /// `candidate`; a leader's lease lasts `ttl` unless kept alive.
    pub fn new(client: BlockingClient, name: &str, candidate: &[u8], ttl: Duration) -> Election {
        Election { client, name: name.to_string(), candidate: candidate.to_vec(), ttl }
    }

    fn ttl_ms(&self) -> i64 {
        self.ttl.as_millis().clamp(1, i64::MAX as u128) as i64
    }

    /// Waits up to `wait` to become the leader; `Ok(None)` if someone else still leads then.
    /// On success a background thread keeps the lease alive until resign or drop.
    pub fn campaign(&self, wait: Duration) -> Result<Option<Leadership>> {
        let deadline = Instant::now() + wait;
        let poll = (self.ttl / 4).clamp(Duration::from_millis(10), Duration::from_secs(1));
        loop {
            let sent = Instant::now();
            let r = self.client.try_lock(&self.name, &self.candidate, self.ttl_ms(), Durability::Persistent)?;
            if r.locked {
                return Ok(Some(Leadership::start(self.clone(), r.fencing_token, sent + self.ttl)));
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(None);
            }
            std::thread::sleep(poll.min(deadline - now));
        }
    }

    /// The current leader, if any.
    pub fn leader(&self) -> Result<Option<LeaderInfo>> {
        match self.client.get_lock(&self.name, Durability::Persistent) {
            Ok(info) => Ok(Some(LeaderInfo {
                candidate: info.owner,
                fencing_token: info.fencing_token,
                expires_at: info.expires_at,
            })),
            Err(e) if e.code == Code::LockDoesNotExist => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// Leadership won by [`Election::campaign`]; resigns when dropped.
#[derive(Debug)]
pub struct Leadership {
    election: Election,
    fencing_token: i64,
    state: Arc<LeaseState>,
    keeper: Option<JoinHandle<()>>,
}

/// What the keep-alive thread shares with its [`Leadership`].
#[derive(Debug)]
struct LeaseState {
    /// False once the lease is known lost (refused extension, lease ran out, resigned).
    leading: AtomicBool,
    stop: AtomicBool,
    /// The latest local instant the lease surely lasts to: the send time of the last granted
    /// acquire/extend plus the TTL (the server's lease starts after that send).
    lease_end: Mutex<Instant>,
}

impl LeaseState {
    fn live(&self) -> bool {
        self.leading.load(Ordering::Acquire)
            && Instant::now() < *self.lease_end.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Leadership {
    fn start(election: Election, fencing_token: i64, lease_end: Instant) -> Leadership {
        let state = Arc::new(LeaseState {
            leading: AtomicBool::new(true),
            stop: AtomicBool::new(false),
            lease_end: Mutex::new(lease_end),
        });
        let keeper = {
            let (election, state) = (election.clone(), state.clone());
            std::thread::Builder::new()
                .name("kahuna-election".into())
                .spawn(move || keep_alive(&election, &state))
                .expect("spawning the keep-alive thread")
        };
        Leadership { election, fencing_token, state, keeper: Some(keeper) }
    }

    /// The fencing token of this leadership: pass it to every resource the leader writes.
    pub fn fencing_token(&self) -> i64 {
        self.fencing_token
    }

    /// False once the lease could not be kept alive: an extension was refused, or the local
    /// clock passed the end of the last granted lease (even while an extension is still in
    /// flight). Stop acting as the leader then.
    pub fn is_leader(&self) -> bool {
        self.state.live()
    }

    /// Stops the keep-alive and releases the lock (if still held).
    pub fn resign(mut self) -> Result<()> {
        self.finish()
    }

    fn finish(&mut self) -> Result<()> {
        self.state.stop.store(true, Ordering::Release);
        if let Some(keeper) = self.keeper.take() {
            keeper.thread().unpark();
            let _ = keeper.join();
        }
        if !self.state.leading.swap(false, Ordering::AcqRel) {
            return Ok(());
        }
        let e = &self.election;
        match e.client.unlock(&e.name, &e.candidate, Durability::Persistent) {
            Ok(()) => Ok(()),
            Err(err) if matches!(err.code, Code::LockDoesNotExist | Code::InvalidOwner) => Ok(()),
            Err(err) => Err(err),
        }
    }
}

impl Drop for Leadership {
    fn drop(&mut self) {
        let _ = self.finish();
    }
}

fn keep_alive(e: &Election, state: &LeaseState) {
    let period = (e.ttl / 3).max(Duration::from_millis(5));
    let set_lease_end = |end: Instant| *state.lease_end.lock().unwrap_or_else(|p| p.into_inner()) = end;
    while !state.stop.load(Ordering::Acquire) {
        std::thread::park_timeout(period);
        if state.stop.load(Ordering::Acquire) {
            return;
        }
        let sent = Instant::now();
        match e.client.try_extend_lock(&e.name, &e.candidate, e.ttl_ms(), Durability::Persistent) {
            // A grant that arrives after the lease already ran out locally does not revive the
            // leadership: someone may have acted on our absence meanwhile.
            Ok(_) if state.live() => set_lease_end(sent + e.ttl),
            Ok(_) => {
                state.leading.store(false, Ordering::Release);
                let _ = e.client.unlock(&e.name, &e.candidate, Durability::Persistent);
                return;
            }
            Err(err) if matches!(err.code, Code::LockDoesNotExist | Code::InvalidOwner) => {
                state.leading.store(false, Ordering::Release);
                return;
            }
            Err(_) if !state.live() => {
                state.leading.store(false, Ordering::Release);
                return;
            }
            Err(_) => {}
        }
    }
}

impl Error {
    /// True for the lock errors that mean "you do not hold it".
    pub fn is_lock_lost(&self) -> bool {
        matches!(self.code, Code::LockDoesNotExist | Code::InvalidOwner)
    }
}
