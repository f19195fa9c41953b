//! `kahuna-bench`: drives a Kahuna cluster with a closed-loop workload and prints throughput
//! and latency percentiles (HDR histogram), plus one JSON line for machines.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Parser, ValueEnum};
use hdrhistogram::Histogram;
use kahuna_client::{Client, ClientOptions, Durability, SetOptions};
use rand::{Rng, SeedableRng};

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq)]
enum Workload {
    /// Unconditional sets.
    Put,
    /// Linearizable gets of existing keys.
    Get,
    /// Gets and puts mixed by --read-ratio.
    Mixed,
    /// Read a key, then compare-revision-and-set it.
    Cas,
}

/// Benchmarks a Kahuna cluster.
#[derive(Parser, Debug)]
#[command(name = "kahuna-bench", version, about)]
struct Args {
    /// Workload to run.
    #[arg(long, value_enum, default_value = "put")]
    workload: Workload,
    /// Cluster endpoints, comma separated.
    #[arg(long, env = "KAHUNA_ENDPOINTS", value_delimiter = ',', default_value = "127.0.0.1:7071")]
    endpoints: Vec<String>,
    /// Concurrent clients (closed loop: each waits for its answer before the next request).
    #[arg(long, default_value_t = 64)]
    clients: usize,
    /// Client connections (each with its own I/O thread) the clients share.
    #[arg(long, default_value_t = 4)]
    connections: usize,
    /// Distinct keys.
    #[arg(long, default_value_t = 10_000)]
    keys: usize,
    /// Value size in bytes.
    #[arg(long, default_value_t = 256)]
    value_size: usize,
    /// Measured duration, e.g. 30s.
    #[arg(long, default_value = "20s", value_parser = humantime::parse_duration)]
    duration: Duration,
    /// Warm-up before measuring, e.g. 5s.
    #[arg(long, default_value = "3s", value_parser = humantime::parse_duration)]
    warmup: Duration,
    /// Share of reads in the mixed workload.
    #[arg(long, default_value_t = 0.5)]
    read_ratio: f64,
    /// Use the Ephemeral keyspace.
    #[arg(long)]
    ephemeral: bool,
    /// Key prefix.
    #[arg(long, default_value = "bench")]
    prefix: String,
}

struct Shared {
    histogram: std::sync::Mutex<Histogram<u64>>,
    ops: AtomicU64,
    errors: AtomicU64,
    measuring: std::sync::atomic::AtomicBool,
}

fn key(prefix: &str, i: usize) -> String {
    format!("{prefix}/{}/{i}", i % 64)
}

async fn one(client: &Client, args: &Args, durability: Durability, value: &[u8], i: usize, read: bool) -> bool {
    let k = key(&args.prefix, i);
    match (args.workload, read) {
        (Workload::Get, _) | (Workload::Mixed, true) => client.try_get(&k, durability).await.is_ok(),
        (Workload::Put, _) | (Workload::Mixed, false) => {
            client.try_set(&k, value, SetOptions::new().durability(durability)).await.is_ok()
        }
        (Workload::Cas, _) => match client.try_get(&k, durability).await {
            Ok(g) => client.try_compare_revision_and_set(&k, value, g.revision, 0, durability).await.is_ok(),
            Err(_) => false,
        },
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Arc::new(Args::parse());
    let durability = if args.ephemeral { Durability::Ephemeral } else { Durability::Persistent };
    let mut connections = Vec::new();
    for _ in 0..args.connections.max(1) {
        connections.push(
            Client::connect(&args.endpoints, ClientOptions::default())
                .await
                .with_context(|| format!("connecting to {:?}", args.endpoints))?,
        );
    }
    let value = vec![b'x'; args.value_size];
    if matches!(args.workload, Workload::Get | Workload::Mixed | Workload::Cas) {
        eprintln!("loading {} keys...", args.keys);
        let c = connections[0].clone();
        let mut tasks = tokio::task::JoinSet::new();
        let next = Arc::new(AtomicU64::new(0));
        for _ in 0..64 {
            let (c, next, args, value) = (c.clone(), next.clone(), args.clone(), value.clone());
            tasks.spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed) as usize;
                    if i >= args.keys {
                        break;
                    }
                    c.try_set(&key(&args.prefix, i), &value, SetOptions::new().durability(durability)).await?;
                }
                anyhow::Ok(())
            });
        }
        while let Some(r) = tasks.join_next().await {
            r??;
        }
    }
    let shared = Arc::new(Shared {
        histogram: std::sync::Mutex::new(Histogram::new_with_bounds(1, 60_000_000, 3)?),
        ops: AtomicU64::new(0),
        errors: AtomicU64::new(0),
        measuring: std::sync::atomic::AtomicBool::new(false),
    });
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..args.clients {
        let client = connections[n % connections.len()].clone();
        let (args, shared, stop, value) = (args.clone(), shared.clone(), stop.clone(), value.clone());
        tasks.spawn(async move {
            let mut local = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("histogram");
            let mut rng = rand::rngs::StdRng::from_os_rng();
            while !stop.load(Ordering::Relaxed) {
                let i = rng.random_range(0..args.keys);
                let read = rng.random_bool(args.read_ratio.clamp(0.0, 1.0));
                let started = Instant::now();
                let ok = one(&client, &args, durability, &value, i, read).await;
                if shared.measuring.load(Ordering::Relaxed) {
                    if ok {
                        let _ = local.record(started.elapsed().as_micros() as u64);
                        shared.ops.fetch_add(1, Ordering::Relaxed);
                    } else {
                        shared.errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            shared.histogram.lock().expect("histogram lock").add(&local).expect("same bounds");
        });
    }
    tokio::time::sleep(args.warmup).await;
    shared.measuring.store(true, Ordering::Relaxed);
    let bar = indicatif::ProgressBar::new(args.duration.as_secs().max(1));
    bar.set_style(indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len}s {msg}")?);
    let started = Instant::now();
    while started.elapsed() < args.duration {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let ops = shared.ops.load(Ordering::Relaxed);
        bar.set_position(started.elapsed().as_secs());
        bar.set_message(format!("{:.0} ops/s", ops as f64 / started.elapsed().as_secs_f64()));
    }
    shared.measuring.store(false, Ordering::Relaxed);
    let elapsed = started.elapsed();
    bar.finish_and_clear();
    stop.store(true, Ordering::Relaxed);
    while tasks.join_next().await.is_some() {}
    let h = shared.histogram.lock().expect("histogram lock");
    let ops = shared.ops.load(Ordering::Relaxed);
    let errors = shared.errors.load(Ordering::Relaxed);
    let throughput = ops as f64 / elapsed.as_secs_f64();
    let ms = |us: u64| us as f64 / 1000.0;
    println!(
        "{:?} {} clients {} B values: {:.0} ops/s, p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms, max {:.2} ms, errors {}",
        args.workload,
        args.clients,
        args.value_size,
        throughput,
        ms(h.value_at_quantile(0.5)),
        ms(h.value_at_quantile(0.9)),
        ms(h.value_at_quantile(0.99)),
        ms(h.value_at_quantile(0.999)),
        ms(h.max()),
        errors
    );
    println!(
        "{}",
        serde_json::json!({
            "workload": format!("{:?}", args.workload).to_lowercase(),
            "durability": if args.ephemeral { "ephemeral" } else { "persistent" },
            "clients": args.clients,
            "value_size": args.value_size,
            "ops": ops,
            "errors": errors,
            "seconds": elapsed.as_secs_f64(),
            "ops_per_sec": throughput,
            "p50_ms": ms(h.value_at_quantile(0.5)),
            "p90_ms": ms(h.value_at_quantile(0.9)),
            "p99_ms": ms(h.value_at_quantile(0.99)),
            "p999_ms": ms(h.value_at_quantile(0.999)),
            "max_ms": ms(h.max()),
        })
    );
    Ok(())
}
