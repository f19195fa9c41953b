//! A partitionable TCP proxy between the nodes: real network partitions without root or iptables.
//!
//! Every ordered pair of nodes (a, b) gets its own listening port on 127.0.0.1, and node a's
//! `--peers` list names that port as b's address (the harness's `peer_addresses` option; the
//! cluster id depends only on node ids, so every node may see different addresses). All of
//! a's connections to b therefore pass through link (a, b): bytes from a to b go *up* the link,
//! bytes from b to a come *down* it. Clients learn the same addresses from a node's topology,
//! so a client that learned the cluster from node a reaches b through link (a, b) too, like a
//! client that sits next to a.
//!
//! ```text
//!   node 1 ──▶ 127.0.0.1:P(1,2) ══ link (1,2) ══▶ node 2     up:   direction 1→2
//!          ◀──                   ◀═════════════            down: direction 2→1
//!   node 2 ──▶ 127.0.0.1:P(2,1) ══ link (2,1) ══▶ node 1     up:   direction 2→1
//! ```
//!
//! A *cut* blocks one direction (a→b): the up stream of link (a, b) and the down stream of
//! link (b, a). A symmetric partition cuts both directions of every pair across it. Two modes:
//!
//! - [`Mode::Drop`], a black hole (iptables `DROP`): the proxy stops reading the blocked
//!   stream, so the sender's socket buffers fill and it stalls; new connections are accepted
//!   but not carried further. When the cut heals, whatever was held is delivered, as TCP
//!   retransmission would. Cutting only one direction gives an asymmetric partition that TCP
//!   over a real network can only approximate: a hears b, b does not hear a.
//! - [`Mode::Reset`] (iptables `REJECT --reject-with tcp-reset`): open connections of both
//!   links of the pair are reset (RST, `SO_LINGER` 0) and new ones are reset as soon as they
//!   are accepted.
//!
//! The proxy runs on its own small tokio runtime inside the test process, so it needs no
//! privileges and no setup, and it disappears with the process.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// How a cut direction behaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Black hole: bytes are held, connections hang.
    Drop,
    /// Connections are reset.
    Reset,
}

/// Counters of what the proxy did.
#[derive(Debug, Default)]
pub struct Stats {
    /// Connections accepted.
    pub accepted: AtomicU64,
    /// Connections reset on arrival (a reset cut was active).
    pub refused: AtomicU64,
    /// Open connections reset by a cut.
    pub reset: AtomicU64,
    /// Bytes carried.
    pub bytes: AtomicU64,
}

struct Net {
    /// Blocked directions (from, to).
    cuts: Mutex<BTreeMap<(usize, usize), Mode>>,
    /// Bumped on every change of `cuts`.
    changed: watch::Sender<u64>,
    /// Per link (from, to): bumped to reset the link's open connections.
    resets: Mutex<HashMap<(usize, usize), watch::Sender<u64>>>,
    stats: Stats,
}

impl Net {
    fn mode(&self, from: usize, to: usize) -> Option<Mode> {
        self.cuts.lock().unwrap_or_else(PoisonError::into_inner).get(&(from, to)).copied()
    }

    fn reset_signal(&self, link: (usize, usize)) -> watch::Receiver<u64> {
        let mut resets = self.resets.lock().unwrap_or_else(PoisonError::into_inner);
        resets.entry(link).or_insert_with(|| watch::channel(0).0).subscribe()
    }

    fn reset_link(&self, link: (usize, usize)) {
        let resets = self.resets.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(tx) = resets.get(&link) {
            tx.send_modify(|g| *g += 1);
        }
    }

    /// Waits until direction (from, to) is not cut.
    async fn pass(&self, from: usize, to: usize) {
        let mut changes = self.changed.subscribe();
        while self.mode(from, to).is_some() {
            if changes.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }
}

/// The proxy: one listening port per ordered pair of nodes.
pub struct Proxy {
    runtime: Option<tokio::runtime::Runtime>,
    net: Arc<Net>,
    links: Mutex<HashMap<(usize, usize), String>>,
}

impl Proxy {
    /// A proxy with no links and no cuts.
    pub fn new() -> std::io::Result<Proxy> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("nemesis-proxy")
            .enable_all()
            .build()?;
        let net = Arc::new(Net {
            cuts: Mutex::new(BTreeMap::new()),
            changed: watch::channel(0).0,
            resets: Mutex::new(HashMap::new()),
            stats: Stats::default(),
        });
        Ok(Proxy { runtime: Some(runtime), net, links: Mutex::new(HashMap::new()) })
    }

    /// The address node `from` should use for node `to`, whose real address is `target`;
    /// opens the link on first use. Panics if no port can be bound.
    pub fn route(&self, from: usize, to: usize, target: &str) -> String {
        let mut links = self.links.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(address) = links.get(&(from, to)) {
            return address.clone();
        }
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port for the proxy");
        listener.set_nonblocking(true).expect("non-blocking listener");
        let address = listener.local_addr().expect("bound").to_string();
        let (net, target) = (self.net.clone(), target.to_string());
        self.runtime().spawn(async move {
            let listener = TcpListener::from_std(listener).expect("tokio listener");
            accept_loop(listener, net, (from, to), target).await;
        });
        links.insert((from, to), address.clone());
        address
    }

    fn runtime(&self) -> &tokio::runtime::Runtime {
        self.runtime.as_ref().expect("the runtime lives until drop")
    }

    /// Blocks direction `from` → `to`.
    pub fn cut(&self, from: usize, to: usize, mode: Mode) {
        self.net.cuts.lock().unwrap_or_else(PoisonError::into_inner).insert((from, to), mode);
        self.net.changed.send_modify(|v| *v += 1);
        if mode == Mode::Reset {
            self.net.reset_link((from, to));
            self.net.reset_link((to, from));
        }
    }

    /// Cuts both directions between every node of `a` and every node of `b`.
    pub fn partition(&self, a: &[usize], b: &[usize], mode: Mode) {
        for &x in a {
            for &y in b {
                if x != y {
                    self.cut(x, y, mode);
                    self.cut(y, x, mode);
                }
            }
        }
    }

    /// Removes every cut.
    pub fn heal(&self) {
        self.net.cuts.lock().unwrap_or_else(PoisonError::into_inner).clear();
        self.net.changed.send_modify(|v| *v += 1);
    }

    /// The blocked directions.
    pub fn cuts(&self) -> Vec<(usize, usize, Mode)> {
        let cuts = self.net.cuts.lock().unwrap_or_else(PoisonError::into_inner);
        cuts.iter().map(|(&(a, b), &m)| (a, b, m)).collect()
    }

    /// What the proxy did so far.
    pub fn stats(&self) -> &Stats {
        &self.net.stats
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

async fn accept_loop(listener: TcpListener, net: Arc<Net>, link: (usize, usize), target: String) {
    loop {
        let Ok((client, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        net.stats.accepted.fetch_add(1, Ordering::Relaxed);
        tokio::spawn(carry(client, net.clone(), link, target.clone()));
    }
}

/// Carries one connection of `link` to `target`, obeying the cuts.
async fn carry(mut client: TcpStream, net: Arc<Net>, (from, to): (usize, usize), target: String) {
    let mut resets = net.reset_signal((from, to));
    let reset_now = |net: &Net| net.mode(from, to) == Some(Mode::Reset) || net.mode(to, from) == Some(Mode::Reset);
    if reset_now(&net) {
        net.stats.refused.fetch_add(1, Ordering::Relaxed);
        abort(&client);
        return;
    }
    // Like a SYN that is not answered, the connection goes no further while `from` → `to` is cut.
    tokio::select! {
        _ = net.pass(from, to) => {}
        _ = resets.changed() => {
            abort(&client);
            return;
        }
    }
    let Ok(mut upstream) = TcpStream::connect(&target).await else {
        abort(&client);
        return;
    };
    let _ = (client.set_nodelay(true), upstream.set_nodelay(true));
    let reset = {
        let (mut cr, mut cw) = client.split();
        let (mut ur, mut uw) = upstream.split();
        let up = pump(&net, (from, to), &mut cr, &mut uw);
        let down = pump(&net, (to, from), &mut ur, &mut cw);
        tokio::select! {
            _ = async { tokio::try_join!(up, down) } => false,
            _ = resets.changed() => true,
        }
    };
    if reset {
        net.stats.reset.fetch_add(1, Ordering::Relaxed);
        abort(&client);
        abort(&upstream);
    }
}

/// Makes the coming close of `stream` a reset (RST) rather than a FIN. A zero linger never
/// blocks on drop, which is what tokio's deprecation of `set_linger` warns about.
#[allow(deprecated)]
fn abort(stream: &TcpStream) {
    let _ = stream.set_linger(Some(Duration::ZERO));
}

/// Copies `src` to `dst` while direction `dir` is open; holds the bytes while it is cut.
async fn pump<R, W>(net: &Net, (from, to): (usize, usize), src: &mut R, dst: &mut W) -> std::io::Result<()>
where
    R: AsyncReadExt + Unpin,
    W: AsyncWriteExt + Unpin,
{
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        net.pass(from, to).await;
        let n = src.read(&mut buf).await?;
        if n == 0 {
            dst.shutdown().await?;
            return Ok(());
        }
        net.pass(from, to).await;
        dst.write_all(&buf[..n]).await?;
        net.stats.bytes.fetch_add(n as u64, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::TcpStream as StdStream;

    use super::*;

    /// An echo server on a std thread; returns its address.
    fn echo_server() -> String {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap().to_string();
        std::thread::spawn(move || {
            for mut s in listener.incoming().flatten() {
                std::thread::spawn(move || {
                    let mut buf = [0u8; 1024];
                    while let Ok(n) = s.read(&mut buf) {
                        if n == 0 || s.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                });
            }
        });
        address
    }

    fn roundtrip(s: &mut StdStream, text: &[u8]) -> std::io::Result<Vec<u8>> {
        s.write_all(text)?;
        let mut got = vec![0u8; text.len()];
        s.read_exact(&mut got)?;
        Ok(got)
    }

    #[test]
    fn carries_holds_and_resets() {
        let proxy = Proxy::new().unwrap();
        let address = proxy.route(0, 1, &echo_server());
        assert_eq!(proxy.route(0, 1, "ignored"), address, "one port per link");
        let mut s = StdStream::connect(&address).unwrap();
        s.set_read_timeout(Some(Duration::from_millis(300))).unwrap();
        assert_eq!(roundtrip(&mut s, b"hello").unwrap(), b"hello");

        // Drop: the echo does not come back while 1 -> 0 is cut, and arrives after the heal.
        proxy.cut(1, 0, Mode::Drop);
        assert!(roundtrip(&mut s, b"held").is_err());
        proxy.heal();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut got = [0u8; 4];
        s.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"held");

        // Reset: the open connection is reset, and new ones too until the heal.
        proxy.cut(0, 1, Mode::Reset);
        let mut buf = [0u8; 8];
        assert!(matches!(s.read(&mut buf), Ok(0) | Err(_)));
        let mut fresh = StdStream::connect(&address).unwrap();
        fresh.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        assert!(roundtrip(&mut fresh, b"x").is_err());
        proxy.heal();
        let mut healed = StdStream::connect(&address).unwrap();
        healed.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        assert_eq!(roundtrip(&mut healed, b"back").unwrap(), b"back");
        assert!(proxy.stats().refused.load(Ordering::Relaxed) >= 1);
        assert_eq!(proxy.cuts(), vec![]);
    }
}
