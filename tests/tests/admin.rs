//! The admin HTTP endpoint of real nodes: `/metrics`, `/health` and `/status` report what the
//! cluster did and how it stands, and `/health` turns 503 when partitions lose their quorum.

use std::time::Duration;

use kahuna_client::{Durability, SetOptions};
use kahuna_tests::{Cluster, ClusterOptions, http, wait_until};

const PARTITIONS: u32 = 8;

fn admin_cluster() -> Cluster {
    Cluster::start(ClusterOptions { admin: true, partitions: PARTITIONS, ..ClusterOptions::default() })
        .expect("the cluster starts")
}

fn admin(cluster: &Cluster, i: usize) -> String {
    cluster.admin_endpoint(i).expect("the cluster has admin endpoints")
}

/// The sum of every sample of metric `name` (as exposed, `_total` included) whose labels
/// include all of `labels`.
fn sum(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            let (metric, rest) = series.split_once('{').unwrap_or((series, ""));
            let wanted = metric == name && labels.iter().all(|(k, v)| rest.contains(&format!("{k}=\"{v}\"")));
            wanted.then(|| value.parse::<f64>().expect("a numeric sample"))
        })
        .sum()
}

fn metrics(cluster: &Cluster, i: usize) -> String {
    let r = http::get(&admin(cluster, i), "/metrics").expect("GET /metrics");
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.content_type.starts_with("application/openmetrics-text"), "{}", r.content_type);
    assert!(r.body.ends_with("# EOF\n"), "an OpenMetrics exposition ends with # EOF");
    r.body
}

#[test]
fn metrics_health_and_status_report_the_cluster() {
    let cluster = admin_cluster();
    let client = cluster.client();

    // Phase 1: known traffic: 30 Persistent sets, 12 Ephemeral sets, 5 reads of a missing lock.
    for i in 0..30 {
        client.try_set(&format!("admin/p{i}"), b"value", SetOptions::new()).expect("set");
    }
    let ephemeral = SetOptions::new().durability(Durability::Ephemeral);
    for i in 0..12 {
        client.try_set(&format!("admin/e{i}"), &[7u8; 1000], ephemeral).expect("ephemeral set");
    }
    for _ in 0..5 {
        let err = client.get_lock("admin/no-lock", Durability::Persistent).expect_err("no such lock");
        assert_eq!(err.code(), kahuna_schema::Code::LockDoesNotExist, "{err}");
    }

    // Phase 2: the metrics of the three nodes add up to exactly that traffic.
    let texts: Vec<String> = (0..cluster.len()).map(|i| metrics(&cluster, i)).collect();
    let total = |name: &str, labels: &[(&str, &str)]| texts.iter().map(|t| sum(t, name, labels)).sum::<f64>();
    let set = [("op", "set"), ("durability", "persistent"), ("code", "Ok")];
    assert_eq!(total("kahuna_requests_total", &set), 30.0);
    let eph = [("op", "set"), ("durability", "ephemeral"), ("code", "Ok")];
    assert_eq!(total("kahuna_requests_total", &eph), 12.0);
    let lock = [("op", "get_lock"), ("durability", "persistent"), ("code", "LockDoesNotExist")];
    assert_eq!(total("kahuna_requests_total", &lock), 5.0);
    let histogram = [("op", "set"), ("durability", "persistent")];
    assert_eq!(total("kahuna_request_duration_seconds_count", &histogram), 30.0);
    assert_eq!(
        total("kahuna_request_duration_seconds_bucket", &[("op", "set"), ("durability", "persistent"), ("le", "+Inf")]),
        30.0
    );
    assert!(total("kahuna_request_duration_seconds_sum", &histogram) > 0.0);

    // Each partition has one serving leader, and every node names the same one.
    for p in 0..PARTITIONS {
        let label = p.to_string();
        let part = [("partition", label.as_str())];
        assert_eq!(total("kahuna_raft_is_leader", &part), 1.0, "partition {p} has one leader");
        let leaders: Vec<f64> = texts.iter().map(|t| sum(t, "kahuna_raft_leader", &part)).collect();
        assert!(leaders.iter().all(|l| *l == leaders[0] && *l >= 1.0), "partition {p}: {leaders:?}");
    }
    // Every node applies the 30 writes (followers in the background, so wait), and fsynced.
    for (i, t) in texts.iter().enumerate() {
        wait_until("a node applies every write", Duration::from_secs(10), || {
            (sum(&metrics(&cluster, i), "kahuna_raft_applied_commands_total", &[]) >= 30.0).then_some(())
        })
        .unwrap_or_else(|e| panic!("node {i}: {e}"));
        let entries = sum(t, "kahuna_raft_applied_entries_total", &[]);
        assert!(entries >= 1.0 && sum(t, "kahuna_fsync_duration_seconds_count", &[]) >= 1.0, "node {i}:\n{t}");
        assert!(sum(t, "process_resident_memory_bytes", &[]) > 1e6, "node {i}:\n{t}");
        assert!(sum(t, "kahuna_data_bytes", &[]) > 0.0, "node {i}:\n{t}");
    }
    // The 12 Ephemeral values of 1,000 bytes live in the leaders' memory, under the default cap.
    let ephemeral_bytes = total("kahuna_ephemeral_bytes", &[]);
    assert!((12_000.0..1_000_000.0).contains(&ephemeral_bytes), "{ephemeral_bytes}");
    assert_eq!(sum(&texts[0], "kahuna_ephemeral_cap_bytes", &[]), 1024.0 * 1024.0 * 1024.0);

    // Phase 3: /health and /status of every node.
    for i in 0..cluster.len() {
        let health = http::get(&admin(&cluster, i), "/health").expect("GET /health");
        assert_eq!(health.status, 200, "node {i}: {}", health.body);
        let health: serde_json::Value = serde_json::from_str(&health.body).expect("JSON");
        assert_eq!(health["health"], "ok");
        assert_eq!(health["node_id"], i as u64 + 1);

        let status = http::get(&admin(&cluster, i), "/status").expect("GET /status");
        assert_eq!((status.status, status.content_type.as_str()), (200, "application/json"));
        let status: serde_json::Value = serde_json::from_str(&status.body).expect("JSON");
        assert_eq!(status["node_id"], i as u64 + 1);
        assert_eq!(status["members"].as_object().expect("members").len(), 3);
        let partitions = status["partitions"].as_array().expect("partitions");
        assert_eq!(partitions.len(), PARTITIONS as usize);
        for p in partitions {
            let role = p["role"].as_str().expect("role");
            assert!(role == "leader" || role == "follower", "{p}");
            // A leader knows what each of the three voters holds.
            assert_eq!(p["matched"].as_object().expect("matched").len(), if role == "leader" { 3 } else { 0 }, "{p}");
        }
        assert!(status["requests"].is_array());
    }

    // Phase 4: liveness, HEAD for load balancers; anything else is refused, naming the problem.
    let live = http::get(&admin(&cluster, 0), "/livez").expect("GET /livez");
    assert_eq!((live.status, live.body.as_str()), (200, "ok\n"));
    let head = http::request(&admin(&cluster, 0), "HEAD", "/health").expect("HEAD /health");
    assert_eq!((head.status, head.body.as_str()), (200, ""), "HEAD answers without a body");
    let post = http::request(&admin(&cluster, 0), "POST", "/metrics").expect("POST");
    assert_eq!(post.status, 405, "{}", post.body);
    assert!(post.body.contains("use GET"), "{}", post.body);
    let missing = http::get(&admin(&cluster, 0), "/nope").expect("GET /nope");
    assert_eq!(missing.status, 404);
    assert!(missing.body.contains("/nope") && missing.body.contains("/metrics"), "{}", missing.body);
}

#[test]
fn health_is_503_while_partitions_have_no_quorum_and_200_again_after() {
    let mut cluster = admin_cluster();
    let survivor = 0;
    let status = http::get(&admin(&cluster, survivor), "/status").expect("GET /status");
    let status: serde_json::Value = serde_json::from_str(&status.body).expect("JSON");
    let led: Vec<u64> = (status["partitions"].as_array().expect("partitions").iter())
        .filter(|p| p["role"] == "leader")
        .map(|p| p["partition"].as_u64().expect("partition id"))
        .collect();
    assert!(!led.is_empty(), "leaders are spread, so the survivor leads some partitions: {status}");

    // Phase 1: with two of three nodes gone, no partition has a quorum on the survivor: the
    // partitions it leads fail the quorum check, the others lose their leader.
    cluster.kill(1);
    cluster.kill(2);
    let leads = |p: &u64| format!("partition {p}: this node leads it, but ");
    let unhealthy = wait_until("/health is 503 for every partition", Duration::from_secs(30), || {
        let r = http::get(&admin(&cluster, survivor), "/health").ok()?;
        let complete = (0..PARTITIONS as u64).all(|p| r.body.contains(&format!("partition {p}")));
        (r.status == 503 && complete && led.iter().all(|p| r.body.contains(&leads(p)))).then_some(r.body)
    })
    .expect("the survivor reports itself unhealthy");
    let body: serde_json::Value = serde_json::from_str(&unhealthy).expect("JSON");
    assert_eq!(body["health"], "unhealthy");
    let problems = body["problems"].as_array().expect("problems");
    assert_eq!(problems.len(), PARTITIONS as usize, "{body}");
    // /metrics and /status still answer: they are what an operator reads now.
    assert!(metrics(&cluster, survivor).contains("kahuna_raft_term"));
    assert_eq!(http::get(&admin(&cluster, survivor), "/status").expect("GET /status").status, 200);

    // Phase 2: the nodes come back, and so does health.
    cluster.start_all().expect("the cluster is ready again");
    wait_until("/health turns 200", Duration::from_secs(30), || {
        (0..cluster.len())
            .all(|i| http::get(&admin(&cluster, i), "/health").is_ok_and(|r| r.status == 200))
            .then_some(())
    })
    .expect("every node reports itself healthy");
}

#[test]
fn an_admin_port_in_use_stops_the_server_before_it_touches_its_data() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let taken = taken.local_addr().expect("address").to_string();
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let ports = kahuna_tests::reserve_ports(1).expect("a port");
    let listen = format!("127.0.0.1:{}", ports[0].port());
    let mut child = std::process::Command::new(kahuna_tests::server_binary())
        .args(["--listen", &listen, "--admin-listen", &taken, "--data-dir"])
        .arg(&data)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start the server");
    let exited = wait_until("the server exits", Duration::from_secs(10), || child.try_wait().ok().flatten());
    if exited.is_err() {
        let _ = child.kill();
        let _ = child.wait();
    }
    let status = exited.expect("the server exits by itself");
    let mut stderr = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().expect("piped"), &mut stderr).expect("stderr");
    assert!(!status.success(), "{stderr}");
    assert!(stderr.contains(&format!("cannot listen on {taken} (--admin-listen)")), "{stderr}");
    assert!(!data.exists(), "the data directory was not created");
}
