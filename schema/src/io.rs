//! Write coalescing for Cap'n Proto connections: one `send` per burst of messages, not one per
//! message.
//!
//! capnp-rpc's write queue writes a message and then flushes the stream before it takes the
//! next one, so behind a `BufWriter` every message still costs its own `send` system call, and
//! the peer wakes up for each. Under load a connection carries dozens of small messages per
//! scheduler turn (answers of many calls, Raft messages of many partitions), and those calls
//! were a large share of a node's kernel time.
//!
//! [`coalesce`] splits a writer in two. The [`Coalesced`] half goes to capnp-rpc: writes land
//! in a shared buffer and a flush returns at once, the bytes being handed over. The [`Flusher`]
//! half is a future, polled next to the RPC system (`futures::future::join`), that writes
//! whatever the buffer holds with one call once the RPC system has queued all it had. Nothing
//! waits on a timer: an idle connection's message is written on the same turn, so a single
//! call's latency does not change.
//!
//! ```text
//!   RpcSystem write queue ──write+flush──> Coalesced ─┐  buffer (≤ 1 MiB, then back-pressure)
//!                                                     └─> Flusher ──one write per turn──> socket
//! ```
//!
//! [`two_party`] builds the two-party network of a TCP connection this way; the server's
//! connections, its peer links and the Rust client all use it.
//!
//! Errors: a failed socket write is kept and returned by the next write, flush or close of
//! the [`Coalesced`] half. Closing waits until the buffer is written, then closes the socket.
//! Dropping the [`Coalesced`] half (the RPC system ended) lets the flusher write what the
//! socket takes at once and end: a peer that stopped reading cannot keep the task alive.

use std::cell::RefCell;
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use capnp_rpc::rpc_twoparty_capnp::Side;
use capnp_rpc::twoparty;
use futures::AsyncReadExt;
use futures::io::AsyncWrite;
use tokio_util::compat::{Compat, TokioAsyncReadCompatExt};

/// Buffered bytes above which writers wait for the flusher.
const MAX_BUFFERED: usize = 1 << 20;

struct Shared<W> {
    inner: W,
    buf: Vec<u8>,
    /// The first write error; every later operation returns a copy of it.
    error: Option<(io::ErrorKind, String)>,
    /// The writer half was closed or dropped: write what is left, then end.
    done: bool,
    /// The writer half was dropped: end as soon as the socket takes no more.
    dropped: bool,
    /// The buffer has been written out and `inner` closed.
    closed: bool,
    flusher: Option<Waker>,
    writer: Option<Waker>,
}

impl<W> Shared<W> {
    fn failure(&self) -> Option<io::Error> {
        self.error.as_ref().map(|(kind, msg)| io::Error::new(*kind, msg.clone()))
    }

    fn wake_flusher(&mut self) {
        if let Some(w) = self.flusher.take() {
            w.wake();
        }
    }
}

/// The write half of a TCP stream, as [`two_party`] hands it to its [`Flusher`].
pub type TcpWriteHalf = futures::io::WriteHalf<Compat<tokio::net::TcpStream>>;

/// The two-party Cap'n Proto network of `stream` as `side`, with coalesced writes: poll the
/// returned [`Flusher`] next to the `RpcSystem` built on the network
/// (`futures::future::join(rpc_system, flusher)`).
pub fn two_party(
    stream: tokio::net::TcpStream,
    side: Side,
    options: capnp::message::ReaderOptions,
) -> (Box<dyn capnp_rpc::VatNetwork<Side>>, Flusher<TcpWriteHalf>) {
    let (reader, writer) = stream.compat().split();
    let (writer, flusher) = coalesce(writer);
    let network = twoparty::VatNetwork::new(futures::io::BufReader::new(reader), writer, side, options);
    (Box::new(network), flusher)
}

/// The half of [`coalesce`] that capnp-rpc writes to.
pub struct Coalesced<W> {
    shared: Rc<RefCell<Shared<W>>>,
}

/// The half of [`coalesce`] that writes to the socket: poll it for as long as the connection
/// lives (it ends once the [`Coalesced`] half is closed or dropped and the buffer is written).
pub struct Flusher<W> {
    shared: Rc<RefCell<Shared<W>>>,
}

/// Splits `inner` into a coalescing writer and the future that writes for it.
pub fn coalesce<W: AsyncWrite + Unpin>(inner: W) -> (Coalesced<W>, Flusher<W>) {
    let shared = Rc::new(RefCell::new(Shared {
        inner,
        buf: Vec::with_capacity(64 << 10),
        error: None,
        done: false,
        dropped: false,
        closed: false,
        flusher: None,
        writer: None,
    }));
    (Coalesced { shared: shared.clone() }, Flusher { shared })
}

impl<W: AsyncWrite + Unpin> AsyncWrite for Coalesced<W> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        let mut s = self.shared.borrow_mut();
        if let Some(e) = s.failure() {
            return Poll::Ready(Err(e));
        }
        if s.done {
            return Poll::Ready(Err(io::Error::new(io::ErrorKind::BrokenPipe, "the writer was closed")));
        }
        if s.buf.len() >= MAX_BUFFERED {
            s.writer = Some(cx.waker().clone());
            s.wake_flusher();
            return Poll::Pending;
        }
        s.buf.extend_from_slice(data);
        s.wake_flusher();
        Poll::Ready(Ok(data.len()))
    }

    /// Returns at once: the bytes are the flusher's to write.
    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.shared.borrow().failure() {
            Some(e) => Poll::Ready(Err(e)),
            None => Poll::Ready(Ok(())),
        }
    }

    /// Waits until the flusher wrote everything and closed the socket.
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut s = self.shared.borrow_mut();
        if let Some(e) = s.failure() {
            return Poll::Ready(Err(e));
        }
        if s.closed {
            return Poll::Ready(Ok(()));
        }
        s.done = true;
        s.writer = Some(cx.waker().clone());
        s.wake_flusher();
        Poll::Pending
    }
}

impl<W> Drop for Coalesced<W> {
    fn drop(&mut self) {
        let mut s = self.shared.borrow_mut();
        s.done = true;
        s.dropped = true;
        s.wake_flusher();
    }
}

impl<W: AsyncWrite + Unpin> Future for Flusher<W> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut guard = self.shared.borrow_mut();
        let s = &mut *guard;
        loop {
            if s.error.is_some() || s.closed {
                return Poll::Ready(());
            }
            if s.buf.is_empty() {
                if !s.done {
                    s.flusher = Some(cx.waker().clone());
                    return Poll::Pending;
                }
                return match Pin::new(&mut s.inner).poll_close(cx) {
                    Poll::Pending => Poll::Pending,
                    Poll::Ready(result) => {
                        match result {
                            Ok(()) => s.closed = true,
                            Err(e) => s.error = Some((e.kind(), e.to_string())),
                        }
                        if let Some(w) = s.writer.take() {
                            w.wake();
                        }
                        Poll::Ready(())
                    }
                };
            }
            match Pin::new(&mut s.inner).poll_write(cx, &s.buf) {
                Poll::Pending if s.dropped => return Poll::Ready(()),
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Ok(0)) => {
                    s.error = Some((io::ErrorKind::WriteZero, "the connection accepted no bytes".into()));
                }
                Poll::Ready(Ok(n)) => {
                    s.buf.drain(..n);
                }
                Poll::Ready(Err(e)) => s.error = Some((e.kind(), e.to_string())),
            }
            if (s.error.is_some() || s.buf.len() < MAX_BUFFERED)
                && let Some(w) = s.writer.take()
            {
                w.wake();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::AsyncWriteExt;
    use futures::executor::block_on;
    use futures::future::join;

    /// Gives the other futures of a `join` one turn.
    async fn yield_once() {
        let mut yielded = false;
        futures::future::poll_fn(|cx| {
            if yielded {
                return Poll::Ready(());
            }
            yielded = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        })
        .await
    }

    /// A socket stand-in that records every write call.
    #[derive(Default)]
    struct Recorder {
        writes: Vec<Vec<u8>>,
        closed: bool,
        fail: bool,
        /// Accepts nothing, ever (a peer that stopped reading).
        stuck: bool,
    }

    impl AsyncWrite for Recorder {
        fn poll_write(mut self: Pin<&mut Self>, _cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
            if self.stuck {
                return Poll::Pending;
            }
            if self.fail {
                return Poll::Ready(Err(io::Error::new(io::ErrorKind::ConnectionReset, "reset by peer")));
            }
            self.writes.push(data.to_vec());
            Poll::Ready(Ok(data.len()))
        }

        fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }

        fn poll_close(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            self.closed = true;
            Poll::Ready(Ok(()))
        }
    }

    #[test]
    fn messages_written_in_one_turn_go_out_in_one_write_and_close_writes_the_rest() {
        let (mut writer, flusher) = coalesce(Recorder::default());
        let shared = flusher.shared.clone();
        let producer = async move {
            for message in [&b"one"[..], b"two", b"three"] {
                writer.write_all(message).await.unwrap();
                writer.flush().await.unwrap();
            }
            // Let the flusher run, then write a second burst and close.
            yield_once().await;
            writer.write_all(b"four").await.unwrap();
            writer.close().await.unwrap();
        };
        block_on(join(producer, flusher));
        let s = shared.borrow();
        assert_eq!(s.inner.writes, vec![b"onetwothree".to_vec(), b"four".to_vec()]);
        assert!(s.inner.closed, "closing the writer closes the socket after the last bytes");
    }

    #[test]
    fn a_failed_socket_write_is_returned_to_the_writer() {
        let (mut writer, flusher) = coalesce(Recorder { fail: true, ..Recorder::default() });
        let producer = async move {
            writer.write_all(b"lost").await.unwrap();
            yield_once().await;
            let err = writer.write_all(b"next").await.unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::ConnectionReset);
            assert_eq!(writer.flush().await.unwrap_err().kind(), io::ErrorKind::ConnectionReset);
        };
        block_on(join(producer, flusher));
    }

    #[test]
    fn a_dropped_writer_lets_the_flusher_write_what_is_left_and_end() {
        let (mut writer, flusher) = coalesce(Recorder::default());
        let shared = flusher.shared.clone();
        block_on(async move {
            writer.write_all(b"last words").await.unwrap();
            drop(writer);
            flusher.await;
        });
        assert_eq!(shared.borrow().inner.writes, vec![b"last words".to_vec()]);
    }

    #[test]
    fn a_dropped_writer_does_not_wait_for_a_peer_that_stopped_reading() {
        let (mut writer, mut flusher) = coalesce(Recorder { stuck: true, ..Recorder::default() });
        block_on(writer.write_all(b"never read")).unwrap();
        drop(writer);
        let mut cx = Context::from_waker(futures::task::noop_waker_ref());
        let polled = Pin::new(&mut flusher).poll(&mut cx);
        assert_eq!(polled, Poll::Ready(()), "the flusher ends although the socket accepts no byte");
    }

    #[test]
    fn writers_wait_while_a_megabyte_is_buffered() {
        let (mut writer, flusher) = coalesce(Recorder::default());
        let shared = flusher.shared.clone();
        let chunk = vec![7u8; 256 << 10];
        let producer = async move {
            for _ in 0..8 {
                writer.write_all(&chunk).await.unwrap();
            }
            writer.close().await.unwrap();
        };
        block_on(join(producer, flusher));
        let s = shared.borrow();
        assert_eq!(s.inner.writes.iter().map(Vec::len).sum::<usize>(), 8 * (256 << 10));
        assert!(s.inner.writes.iter().all(|w| w.len() <= MAX_BUFFERED + (256 << 10)), "bounded bursts");
        assert!(s.inner.writes.len() >= 2, "the producer waited for the flusher at least once");
    }
}
