//! Below capnp-rpc: raw bytes and hand-built RPC frames, for malformed-input tests.

use super::*;

/// What became of a connection that was sent [`raw_bytes`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawOutcome {
    /// Bytes the node sent back before closing (an `Abort` message, typically).
    pub reply: Vec<u8>,
    /// True when the node closed (or reset) the connection before the deadline.
    pub closed: bool,
}

/// Writes `bytes` to `address`, half-closes, and reads until the node closes the connection
/// (or 10 s pass). A node that hangs up mid-write is an outcome, not an error.
pub fn raw_bytes(address: &str, bytes: &[u8]) -> io::Result<RawOutcome> {
    let mut stream = TcpStream::connect(address)?;
    stream.set_write_timeout(Some(DEFAULT_TIMEOUT))?;
    let hung_up = |e: &io::Error| {
        matches!(
            e.kind(),
            io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted
        )
    };
    match stream.write_all(bytes).and_then(|()| stream.flush()) {
        Ok(()) => {}
        Err(e) if hung_up(&e) => {}
        Err(e) => return Err(e),
    }
    let _ = stream.shutdown(std::net::Shutdown::Write);
    let deadline = Instant::now() + DEFAULT_TIMEOUT;
    let mut reply = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(RawOutcome { reply, closed: false });
        }
        stream.set_read_timeout(Some(left))?;
        match stream.read(&mut buf) {
            Ok(0) => return Ok(RawOutcome { reply, closed: true }),
            Ok(n) => reply.extend_from_slice(&buf[..n]),
            Err(e) if hung_up(&e) => return Ok(RawOutcome { reply, closed: true }),
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                return Ok(RawOutcome { reply, closed: false });
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// A message frame whose segment table claims one segment of `claimed_bytes` (rounded up to
/// words), followed by `body` bytes: the reader must refuse it before allocating.
pub fn huge_segment_table(claimed_bytes: u64, body: &[u8]) -> Vec<u8> {
    let words = u32::try_from(claimed_bytes.div_ceil(8)).unwrap_or(u32::MAX);
    let mut out = Vec::with_capacity(8 + body.len());
    out.extend_from_slice(&0u32.to_le_bytes()); // segment count - 1
    out.extend_from_slice(&words.to_le_bytes());
    out.extend_from_slice(body);
    out
}

/// Hand-built Cap'n Proto RPC frames (serialized `rpc.capnp` `Message`s), for the tests of what
/// a node does with messages no well-behaved client sends.
pub mod frame {
    use super::*;

    fn serialize(message: &capnp::message::Builder<capnp::message::HeapAllocator>) -> Vec<u8> {
        capnp::serialize::write_message_to_words(message)
    }

    /// `Bootstrap { questionId = question }`.
    pub fn bootstrap(question: u32) -> Vec<u8> {
        let mut message = capnp::message::Builder::new_default();
        message.init_root::<rpc_capnp::message::Builder>().init_bootstrap().set_question_id(question);
        serialize(&message)
    }

    /// A `Call` of `interface_id`.`method` on the answer of `bootstrap`, with empty params.
    pub fn call(question: u32, bootstrap: u32, interface_id: u64, method: u16) -> Vec<u8> {
        let mut message = capnp::message::Builder::new_default();
        let mut call = message.init_root::<rpc_capnp::message::Builder>().init_call();
        call.set_question_id(question);
        call.set_interface_id(interface_id);
        call.set_method_id(method);
        call.reborrow().init_target().init_promised_answer().set_question_id(bootstrap);
        call.init_params();
        serialize(&message)
    }

    /// A `Call` of `Kahuna.trySet` on the answer of `bootstrap`, in one segment.
    pub fn set_call(question: u32, bootstrap: u32, r: &SetReq) -> Vec<u8> {
        let words = (r.key.len() + r.value.len() + r.compare_value.len()) / 8 + 1024;
        let allocator = capnp::message::HeapAllocator::new().first_segment_words(words as u32);
        let mut message = capnp::message::Builder::new(allocator);
        {
            let mut call = message.init_root::<rpc_capnp::message::Builder>().init_call();
            call.set_question_id(question);
            call.set_interface_id(<kahuna::Client as HasTypeId>::TYPE_ID);
            call.set_method_id(0);
            call.reborrow().init_target().init_promised_answer().set_question_id(bootstrap);
            let params = call.init_params().init_content().init_as::<kahuna::try_set_params::Builder>();
            fill_set(params.init_req(), r).expect("a set request builds");
        }
        assert_eq!(message.get_segments_for_output().len(), 1, "set_call frames are single-segment");
        serialize(&message)
    }

    const KEY_MARK: &[u8] = b"KEY-MARK-0123456";
    const CMP_MARK: &[u8] = b"CMP-MARK-0123456";

    /// A `trySet` call whose `key`, `value` and `compareValue` pointers all point at one blob of
    /// `blob_bytes` (ASCII ending in NUL, so it is valid Text too): the message is one blob
    /// long, but decoding the request reads it three times. With `blob_bytes` above a third of
    /// the node's traversal limit the read limit is exceeded.
    pub fn aliased_set_call(question: u32, bootstrap: u32, blob_bytes: usize) -> Vec<u8> {
        assert!(blob_bytes >= 2);
        let mut blob = vec![b'v'; blob_bytes - 1];
        blob.push(0);
        let mut r = SetReq::new(KEY_MARK, &blob);
        r.compare_value = CMP_MARK.to_vec();
        let mut bytes = set_call(question, bootstrap, &r);
        let seg = Segment::of(&bytes);
        let blob_at = seg.list_target(&bytes, blob_bytes as u64, |_| true).expect("the value pointer").1;
        let key_text = KEY_MARK.len() as u64 + 1;
        let (key_ptr, _) = seg.list_target(&bytes, key_text, |t| seg.starts_with(&bytes, t, KEY_MARK)).expect("key");
        let (cmp_ptr, _) =
            seg.list_target(&bytes, CMP_MARK.len() as u64, |t| seg.starts_with(&bytes, t, CMP_MARK)).expect("cmp");
        for ptr in [key_ptr, cmp_ptr] {
            seg.put(&mut bytes, ptr, list_pointer(ptr, blob_at, blob_bytes as u64));
        }
        bytes
    }

    /// A `trySet` call whose params' `req` pointer is replaced by `word(position of req)`.
    fn with_req_pointer(question: u32, bootstrap: u32, word: impl FnOnce(usize) -> u64) -> Vec<u8> {
        let r = SetReq::new(KEY_MARK, b"value");
        let mut bytes = set_call(question, bootstrap, &r);
        let seg = Segment::of(&bytes);
        let key_text = KEY_MARK.len() as u64 + 1;
        let (key_ptr, _) = seg.list_target(&bytes, key_text, |t| seg.starts_with(&bytes, t, KEY_MARK)).expect("key");
        // The key is pointer 1 of SetRequest: its pointer section starts one word earlier; the
        // struct's data section sits just before that.
        let req_ptr = (0..seg.words)
            .find(|&i| {
                let w = seg.word(&bytes, i);
                w & 3 == 0 && w != 0 && {
                    let data_words = ((w >> 32) & 0xffff) as usize;
                    struct_target(i, w) + data_words as i64 == key_ptr as i64 - 1
                }
            })
            .expect("the req pointer");
        seg.put(&mut bytes, req_ptr, word(req_ptr));
        bytes
    }

    /// A `trySet` call whose `req` struct pointer points at itself (a struct of no data and one
    /// pointer, that pointer): a cycle that only a recursive walk would follow forever.
    pub fn self_referencing_set_call(question: u32, bootstrap: u32) -> Vec<u8> {
        with_req_pointer(question, bootstrap, |_| struct_pointer(-1, 0, 1))
    }

    /// A `trySet` call whose `req` struct pointer points far outside the message.
    pub fn out_of_bounds_set_call(question: u32, bootstrap: u32) -> Vec<u8> {
        with_req_pointer(question, bootstrap, |_| struct_pointer(1 << 28, 4, 4))
    }

    /// A `trySet` call whose `req` is a far pointer into a segment the message does not have.
    pub fn missing_segment_set_call(question: u32, bootstrap: u32) -> Vec<u8> {
        with_req_pointer(question, bootstrap, |_| 2 | (5 << 3) | (7u64 << 32))
    }

    fn struct_pointer(offset: i32, data_words: u16, pointers: u16) -> u64 {
        u64::from((offset << 2) as u32) | (u64::from(data_words) << 32) | (u64::from(pointers) << 48)
    }

    fn struct_target(at: usize, w: u64) -> i64 {
        at as i64 + 1 + i64::from((w as u32 as i32) >> 2)
    }

    fn list_pointer(at: usize, target: usize, bytes: u64) -> u64 {
        let offset = (target as i64 - at as i64 - 1) as i32;
        1 | u64::from((offset << 2) as u32) | (2u64 << 32) | (bytes << 35)
    }

    /// The one segment of a serialized single-segment message.
    struct Segment {
        start: usize,
        words: usize,
    }

    impl Segment {
        fn of(bytes: &[u8]) -> Segment {
            let count = u32::from_le_bytes(bytes[0..4].try_into().expect("4 bytes")) + 1;
            assert_eq!(count, 1, "one segment");
            let words = u32::from_le_bytes(bytes[4..8].try_into().expect("4 bytes")) as usize;
            Segment { start: 8, words }
        }

        fn word(&self, bytes: &[u8], i: usize) -> u64 {
            let at = self.start + i * 8;
            u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"))
        }

        fn put(&self, bytes: &mut [u8], i: usize, w: u64) {
            let at = self.start + i * 8;
            bytes[at..at + 8].copy_from_slice(&w.to_le_bytes());
        }

        fn starts_with(&self, bytes: &[u8], i: usize, mark: &[u8]) -> bool {
            let at = self.start + i * 8;
            bytes.get(at..at + mark.len()) == Some(mark)
        }

        /// The first byte-list pointer of `len` elements whose target passes `accept`:
        /// (pointer position, target position), in words.
        fn list_target(&self, bytes: &[u8], len: u64, accept: impl Fn(usize) -> bool) -> Option<(usize, usize)> {
            (0..self.words).find_map(|i| {
                let w = self.word(bytes, i);
                if w & 3 != 1 || (w >> 32) & 7 != 2 || w >> 35 != len {
                    return None;
                }
                let target = usize::try_from(struct_target(i, w)).ok()?;
                (target < self.words && accept(target)).then_some((i, target))
            })
        }
    }
}

/// How the node answered one question on a [`FrameConn`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Returned {
    /// `Return.results` of a `trySet` call: its response header.
    Results(ResponseHeader),
    /// `Return.exception`: the reason.
    Exception(String),
    /// The node sent `Abort` (the reason) or closed the connection (empty reason).
    Aborted(String),
}

/// A plain TCP connection carrying hand-built frames ([`frame`]) and reading decoded replies.
pub struct FrameConn {
    stream: TcpStream,
}

impl FrameConn {
    /// Connects to `address`; reads time out after 10 s.
    pub fn connect(address: &str) -> io::Result<FrameConn> {
        let stream = TcpStream::connect(address)?;
        stream.set_read_timeout(Some(DEFAULT_TIMEOUT))?;
        stream.set_write_timeout(Some(DEFAULT_TIMEOUT))?;
        stream.set_nodelay(true)?;
        Ok(FrameConn { stream })
    }

    /// Sends bytes as they are.
    pub fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes)
    }

    /// Reads messages until the `Return` of `question` (skipping others), an `Abort`, or EOF.
    pub fn await_return(&mut self, question: u32) -> anyhow::Result<Returned> {
        let mut options = capnp::message::ReaderOptions::new();
        options.traversal_limit_in_words(None);
        loop {
            let message = match capnp::serialize::read_message(&mut self.stream, options) {
                Ok(m) => m,
                Err(e) if e.kind == capnp::ErrorKind::PrematureEndOfFile => {
                    return Ok(Returned::Aborted(String::new()));
                }
                Err(e) => return Err(anyhow::anyhow!("reading a reply: {e}")),
            };
            let root = message.get_root::<rpc_capnp::message::Reader>()?;
            match root.which()? {
                rpc_capnp::message::Abort(e) => return Ok(Returned::Aborted(text(e?.get_reason()?))),
                rpc_capnp::message::Return(r) => {
                    let r = r?;
                    if r.get_answer_id() != question {
                        continue;
                    }
                    return Ok(match r.which()? {
                        rpc_capnp::return_::Results(p) => {
                            let results = p?.get_content().get_as::<kahuna::try_set_results::Reader>()?;
                            Returned::Results(response_header(results.get_resp()?.get_header()?)?)
                        }
                        rpc_capnp::return_::Exception(e) => Returned::Exception(text(e?.get_reason()?)),
                        _ => anyhow::bail!("an unexpected kind of Return for question {question}"),
                    });
                }
                _ => continue,
            }
        }
    }
}
