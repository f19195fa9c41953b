//! The run loops: preload, then closed or open loop with a warm-up, into one histogram.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use rand::{Rng, SeedableRng};

use crate::target::{Handle, Target};
use crate::{Args, Workload};

/// What a measurement produced.
pub struct Outcome {
    /// Latencies in microseconds.
    pub histogram: Histogram<u64>,
    /// Successful operations while measuring.
    pub ops: u64,
    /// Failed operations while measuring.
    pub errors: u64,
    /// Measured wall time.
    pub elapsed: Duration,
    /// The first error seen, for the report.
    pub first_error: Option<String>,
}

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 120_000_000, 3).expect("valid histogram bounds")
}

/// Writes every key once so reads and compare-and-sets find them.
pub async fn preload(target: &Target, args: &Args) -> anyhow::Result<()> {
    let next = Arc::new(AtomicU64::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    let value = vec![b'x'; args.value_size];
    for n in 0..64 {
        let mut handle = target.handle(n);
        let (next, args, value) = (next.clone(), args.clone(), value.clone());
        tasks.spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed) as usize;
                if i >= args.keys {
                    return anyhow::Ok(());
                }
                handle.put(&args.key(i), &value).await?;
            }
        });
    }
    while let Some(r) = tasks.join_next().await {
        r??;
    }
    Ok(())
}

async fn one(handle: &mut Handle, args: &Args, rng: &mut impl Rng, value: &[u8], owner: &[u8]) -> anyhow::Result<()> {
    let i = rng.random_range(0..args.keys);
    let key = args.key(i);
    match args.workload {
        Workload::Put => handle.put(&key, value).await,
        Workload::Get => handle.get(&key).await,
        Workload::Mixed if rng.random_bool(args.read_ratio.clamp(0.0, 1.0)) => handle.get(&key).await,
        Workload::Mixed => handle.put(&key, value).await,
        Workload::Cas => handle.cas(&key, value).await,
        Workload::Lock => handle.lock_cycle(&format!("{}/locks/{i}", args.prefix), owner).await,
    }
}

struct Shared {
    measuring: AtomicBool,
    stop: AtomicBool,
    ops: AtomicU64,
    errors: AtomicU64,
    first_error: std::sync::Mutex<Option<String>>,
    histogram: std::sync::Mutex<Histogram<u64>>,
}

impl Shared {
    fn record(&self, local: &mut Histogram<u64>, latency: Duration, result: anyhow::Result<()>) {
        if !self.measuring.load(Ordering::Relaxed) {
            return;
        }
        match result {
            Ok(()) => {
                let _ = local.record(latency.as_micros().max(1) as u64);
                self.ops.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => {
                self.errors.fetch_add(1, Ordering::Relaxed);
                self.first_error.lock().expect("lock").get_or_insert_with(|| format!("{e:#}"));
            }
        }
    }
}

/// Runs the workload: warm-up, then the measured period.
pub async fn measure(target: &Target, args: &Args) -> anyhow::Result<Outcome> {
    let shared = Arc::new(Shared {
        measuring: AtomicBool::new(false),
        stop: AtomicBool::new(false),
        ops: AtomicU64::new(0),
        errors: AtomicU64::new(0),
        first_error: std::sync::Mutex::new(None),
        histogram: std::sync::Mutex::new(histogram()),
    });
    let started = Instant::now();
    // Open loop: request k is due at started + k / rate, whoever is free takes it.
    let ticket = Arc::new(AtomicU64::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..args.clients.max(1) {
        let mut handle = target.handle(n);
        let (shared, args, ticket) = (shared.clone(), args.clone(), ticket.clone());
        tasks.spawn(async move {
            let mut local = histogram();
            let mut rng = rand::rngs::StdRng::from_os_rng();
            let value = vec![b'x'; args.value_size];
            let owner = format!("bench-{n}").into_bytes();
            while !shared.stop.load(Ordering::Relaxed) {
                let begin = match 1_000_000_000u64.checked_div(args.rate) {
                    Some(interval_ns) => {
                        let k = ticket.fetch_add(1, Ordering::Relaxed);
                        let due = started + Duration::from_nanos(k.saturating_mul(interval_ns));
                        tokio::time::sleep_until(due.into()).await;
                        due
                    }
                    None => Instant::now(),
                };
                let result = one(&mut handle, &args, &mut rng, &value, &owner).await;
                shared.record(&mut local, begin.elapsed(), result);
            }
            shared.histogram.lock().expect("lock").add(&local).expect("same bounds");
        });
    }
    tokio::time::sleep(args.warmup).await;
    shared.measuring.store(true, Ordering::Relaxed);
    let measured_from = Instant::now();
    let bar = (!args.quiet).then(|| {
        let bar = indicatif::ProgressBar::new(args.duration.as_secs().max(1));
        bar.set_style(indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len}s {msg}").expect("template"));
        bar
    });
    while measured_from.elapsed() < args.duration {
        tokio::time::sleep(Duration::from_millis(250).min(args.duration)).await;
        if let Some(bar) = &bar {
            let ops = shared.ops.load(Ordering::Relaxed);
            bar.set_position(measured_from.elapsed().as_secs());
            bar.set_message(format!("{:.0} ops/s", ops as f64 / measured_from.elapsed().as_secs_f64()));
        }
    }
    shared.measuring.store(false, Ordering::Relaxed);
    let elapsed = measured_from.elapsed();
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    shared.stop.store(true, Ordering::Relaxed);
    while tasks.join_next().await.is_some() {}
    let histogram = std::mem::replace(&mut *shared.histogram.lock().expect("lock"), histogram());
    Ok(Outcome {
        histogram,
        ops: shared.ops.load(Ordering::Relaxed),
        errors: shared.errors.load(Ordering::Relaxed),
        elapsed,
        first_error: shared.first_error.lock().expect("lock").clone(),
    })
}
