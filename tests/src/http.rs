//! A minimal HTTP/1.1 client for the admin endpoint: one request per connection, the whole
//! answer read until the server closes.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use anyhow::Context;

/// An HTTP answer.
#[derive(Clone, Debug)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The `content-type` header ("" when absent).
    pub content_type: String,
    /// The body as text.
    pub body: String,
}

/// `GET path` from `address` (`host:port`).
pub fn get(address: &str, path: &str) -> anyhow::Result<Response> {
    request(address, "GET", path)
}

/// `method path` from `address`, with an empty body.
pub fn request(address: &str, method: &str, path: &str) -> anyhow::Result<Response> {
    let mut stream = TcpStream::connect(address).with_context(|| format!("connecting to {address}"))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(stream, "{method} {path} HTTP/1.1\r\nHost: {address}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).with_context(|| format!("reading the answer to {method} {path}"))?;
    let text = String::from_utf8(raw).context("the answer is not UTF-8")?;
    let (head, body) = text.split_once("\r\n\r\n").context("the answer has no end of headers")?;
    let mut lines = head.lines();
    let status_line = lines.next().unwrap_or_default();
    let status = (status_line.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("bad status line '{status_line}'"))?;
    let content_type = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(name, _)| name.eq_ignore_ascii_case("content-type"))
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or_default();
    Ok(Response { status, content_type, body: body.to_string() })
}
