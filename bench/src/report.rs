//! The report: one human line and one JSON line.

use crate::Args;
use crate::run::Outcome;

/// Prints the result of a run.
pub fn print(args: &Args, o: &Outcome) {
    let h = &o.histogram;
    let ms = |us: u64| us as f64 / 1000.0;
    let throughput = o.ops as f64 / o.elapsed.as_secs_f64();
    let mode = if args.rate > 0 { format!("open loop {} req/s", args.rate) } else { "closed loop".to_string() };
    let durability = if args.ephemeral { "ephemeral" } else { "persistent" };
    let history = if args.no_revision { " no-revision" } else { "" };
    println!(
        "{:?} {:?} {durability}{history} {} clients ({mode}) {} B values: {:.0} ops/s, p50 {:.2} ms, p90 {:.2} ms, \
         p99 {:.2} ms, p99.9 {:.2} ms, max {:.2} ms, errors {}",
        args.system,
        args.workload,
        args.clients,
        args.value_size,
        throughput,
        ms(h.value_at_quantile(0.5)),
        ms(h.value_at_quantile(0.9)),
        ms(h.value_at_quantile(0.99)),
        ms(h.value_at_quantile(0.999)),
        ms(h.max()),
        o.errors
    );
    if let Some(e) = &o.first_error {
        eprintln!("first error: {e}");
    }
    println!(
        "{}",
        serde_json::json!({
            "system": format!("{:?}", args.system).to_lowercase(),
            "workload": format!("{:?}", args.workload).to_lowercase(),
            "durability": durability,
            "no_revision": args.no_revision,
            "clients": args.clients,
            "connections": args.connections,
            "rate": args.rate,
            "keys": args.keys,
            "value_size": args.value_size,
            "ops": o.ops,
            "errors": o.errors,
            "seconds": o.elapsed.as_secs_f64(),
            "ops_per_sec": throughput,
            "p50_ms": ms(h.value_at_quantile(0.5)),
            "p90_ms": ms(h.value_at_quantile(0.9)),
            "p99_ms": ms(h.value_at_quantile(0.99)),
            "p999_ms": ms(h.value_at_quantile(0.999)),
            "max_ms": ms(h.max()),
        })
    );
}
