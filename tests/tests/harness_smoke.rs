//! Proves the harness works end to end: three real servers become ready, serve a write and a
//! read through the client, survive losing a node, and shut down cleanly.

use std::time::Duration;

use kahuna_client::{Durability, SetOptions};
use kahuna_tests::{Cluster, ClusterOptions, wait_until};

#[test]
fn three_nodes_start_serve_lose_one_and_stop() {
    // Phase 1: start three nodes; `start` returns once every partition has a live leader.
    let mut cluster = Cluster::start(ClusterOptions::default()).expect("the cluster starts");
    assert_eq!(cluster.endpoints().len(), 3);

    // Phase 2: a write and a read through the client.
    let client = cluster.client();
    let set = client.try_set("smoke/key", b"hello", SetOptions::new()).expect("set");
    assert!(set.set);
    assert_eq!(set.revision, 0);
    let got = client.try_get("smoke/key", Durability::Persistent).expect("get");
    assert!(got.found);
    assert_eq!(got.value, b"hello");

    // Phase 3: kill the leader of the key's partition; the others elect a new one.
    let partition = kahuna_schema::routing::partition_for_key("smoke/key", 8);
    let victim = cluster.leader_of(partition).expect("the partition has a leader");
    cluster.kill(victim);
    assert!(!cluster.is_running(victim));
    cluster.wait_ready(Duration::from_secs(30)).expect("two nodes become ready");
    let new_leader =
        wait_until("a new leader", Duration::from_secs(10), || cluster.leader_of(partition).filter(|l| *l != victim))
            .expect("a new leader is known");
    assert_ne!(new_leader, victim);

    // The acknowledged write survived, and the cluster still takes writes.
    let client = cluster.client();
    let got = client.try_get("smoke/key", Durability::Persistent).expect("get after kill");
    assert_eq!(got.value, b"hello");
    let set = client.try_set("smoke/key", b"again", SetOptions::new()).expect("set after kill");
    assert_eq!(set.revision, 1);

    // Phase 4: the killed node comes back on its old data and port, then everything stops.
    cluster.restart(victim).expect("restart");
    cluster.wait_ready(Duration::from_secs(30)).expect("three nodes become ready again");
    assert_eq!(cluster.endpoints().len(), 3);
    cluster.stop_all();
    assert!(cluster.endpoints().is_empty());
}

/// Regression (CI, seed 13): a node's port was released before the node listened, a nemesis
/// proxy link was given the same port by `bind(0)`, and the node failed with "address in use".
#[test]
fn a_reserved_port_is_kept_from_other_sockets_but_a_server_can_listen_on_it() {
    let reservations = kahuna_tests::reserve_ports(3).expect("reserve");
    let ports: Vec<u16> = reservations.iter().map(|r| r.port()).collect();
    assert_eq!(ports.iter().collect::<std::collections::BTreeSet<_>>().len(), 3, "distinct ports: {ports:?}");
    let address = |port: u16| std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let plain_bind = |port: u16| tokio::net::TcpSocket::new_v4().expect("socket").bind(address(port));

    // A socket without SO_REUSEADDR (what bind(0) checks a candidate port against) is refused...
    for &port in &ports {
        let error = plain_bind(port).expect_err("the reserved port is taken");
        assert_eq!(error.kind(), std::io::ErrorKind::AddrInUse, "port {port}: {error}");
    }
    // ...while a server binding with SO_REUSEADDR, as kahuna-server does, listens and accepts.
    let listener = std::net::TcpListener::bind(address(ports[0])).expect("the server can listen on it");
    std::net::TcpStream::connect(address(ports[0])).expect("connect");
    listener.accept().expect("accept");
    drop(listener);

    // Dropping the reservation frees the port.
    drop(reservations);
    plain_bind(ports[1]).expect("the port is free once the reservation is dropped");
}

/// Regression: a node stopped while clients were connected left their connection tasks (and
/// the partitions they reference) alive until its runtime dropped, after it had tried to close
/// the database: it waited a second and logged "the database is still referenced at exit".
#[test]
fn nodes_stopped_under_open_client_connections_release_the_database() {
    let mut cluster = Cluster::start(ClusterOptions::default()).expect("the cluster starts");
    let client = cluster.client();
    for i in 0..20 {
        client.try_set(&format!("open/{i}"), b"v", SetOptions::new()).expect("set");
    }
    cluster.stop_all(); // the client and its connections to every node stay open
    for i in 0..cluster.len() {
        let log = std::fs::read_to_string(cluster.log_path(i)).expect("the node's log");
        assert!(log.contains("shutting down"), "node {i} logged its shutdown:\n{log}");
        assert!(!log.contains("still referenced"), "node {i} closed with the database referenced:\n{log}");
    }
    drop(client);
}
