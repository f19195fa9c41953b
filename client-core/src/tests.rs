//! Client tests that need no server: argument checks and thread-safety of the public types.
//! Behaviour against a (fake) cluster is tested in `tests/fake_cluster.rs`.

use std::time::{Duration, Instant};

use super::*;

fn assert_send_sync<T: Send + Sync>() {}
fn assert_send<T: Send>(_: &T) {}

#[test]
fn clients_are_send_and_sync() {
    assert_send_sync::<Client>();
    assert_send_sync::<BlockingClient>();
    assert_send_sync::<Error>();
}

/// Compile-time check: the futures of the async API can move between threads.
#[allow(dead_code)]
fn futures_are_send(c: &Client) {
    assert_send(&c.try_set("k", b"v", SetOptions::new()));
    assert_send(&c.try_get("k", Durability::Persistent));
    assert_send(&c.scan_all_by_prefix("k", Durability::Persistent));
    assert_send(&c.topology());
    assert_send(&Client::connect(&["a:1"], ClientOptions::default()));
}

#[test]
fn endpoints_are_checked() {
    let empty: [&str; 0] = [];
    assert_eq!(check_endpoints(&empty).unwrap_err().message, "endpoints must not be empty");
    let e = check_endpoints(&["127.0.0.1:1", "nohost"]).unwrap_err();
    assert_eq!(e.code, Code::InvalidInput);
    assert_eq!(e.message, "endpoints[1] must be host:port, got 'nohost'");
    assert!(check_endpoints(&[":5"]).is_err());
    assert!(check_endpoints(&["h:70000"]).is_err());
    assert_eq!(check_endpoints(&[" a:1 ", "a:1", "[::1]:2"]).unwrap(), vec!["a:1", "[::1]:2"]);
}

#[test]
fn options_are_checked() {
    assert!(check_options(&ClientOptions::default()).is_ok());
    let zero = ClientOptions { connect_timeout: Duration::ZERO, ..ClientOptions::default() };
    assert_eq!(check_options(&zero).unwrap_err().message, "options.connect_timeout must be greater than 0");
}

#[test]
fn connecting_to_nothing_fails_within_the_timeout() {
    // A port bound but never listening: connections are refused, and no server of a test
    // running alongside can be given the port while the socket holds it.
    let reserved = tokio::net::TcpSocket::new_v4().unwrap();
    reserved.bind(([127, 0, 0, 1], 0).into()).unwrap();
    let port = reserved.local_addr().unwrap().port();
    let options = ClientOptions { timeout: Duration::from_millis(300), ..ClientOptions::default() };
    let started = Instant::now();
    let e = BlockingClient::connect(&[format!("127.0.0.1:{port}")], options).unwrap_err();
    assert_eq!(e.code, Code::Unavailable, "{e}");
    assert!(e.message.contains(&format!("127.0.0.1:{port}")), "{e}");
    assert!(started.elapsed() < Duration::from_secs(2));
    drop(reserved);
}
