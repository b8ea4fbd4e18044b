//! `gemtrail bench-etcd`: the yardstick. Drives an etcd v3 cluster with bare
//! 256-byte puts through its JSON gateway (`POST /v3/kv/put`), with the same
//! load generator ([`crate::load`]), concurrency, warm-up and percentile
//! arithmetic as `gemtrail bench`, so the two figures compare like for like.
//! `scripts/etcd-cluster.sh` starts a three-member cluster on loopback.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use bytes::Bytes;
use serde::Serialize;

use crate::args::EtcdBenchArgs;
use crate::cmd::bench::Latency;
use crate::error::{CliError, CliResult};
use crate::load::LoadConnection;
use crate::output::Out;

#[derive(Debug, Serialize)]
struct EtcdReport {
    endpoints: Vec<String>,
    clients: usize,
    value_bytes: usize,
    seconds: f64,
    committed: u64,
    committed_puts_per_s: f64,
    latency_ms: Latency,
    errors: u64,
}

#[derive(Default)]
struct Tally {
    measuring: AtomicBool,
    stop: AtomicBool,
    committed: AtomicU64,
    errors: AtomicU64,
    latencies_us: Mutex<Vec<u32>>,
}

async fn putter(endpoint: String, client: usize, value: String, tally: Arc<Tally>) {
    let mut connection = LoadConnection::new(&endpoint, "application/json");
    let mut latencies = Vec::new();
    let mut sequence = 0u64;
    while !tally.stop.load(Ordering::Relaxed) {
        sequence += 1;
        let key =
            base64::engine::general_purpose::STANDARD.encode(format!("bench/{client}/{sequence}"));
        let body = format!("{{\"key\":\"{key}\",\"value\":\"{value}\"}}");
        let measuring = tally.measuring.load(Ordering::Relaxed);
        let started = Instant::now();
        match connection.post("/v3/kv/put", Bytes::from(body)).await {
            Ok(_) => {
                if measuring && !tally.stop.load(Ordering::Relaxed) {
                    tally.committed.fetch_add(1, Ordering::Relaxed);
                    latencies
                        .push(u32::try_from(started.elapsed().as_micros()).unwrap_or(u32::MAX));
                }
            }
            Err(_) => {
                tally.errors.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
    if let Ok(mut all) = tally.latencies_us.lock() {
        all.extend(latencies);
    }
}

/// Runs the etcd benchmark.
pub(crate) async fn run(out: Out, args: EtcdBenchArgs) -> CliResult {
    if args.endpoints.is_empty() || args.clients == 0 || args.seconds == 0 {
        return Err(CliError::new(
            "give --endpoints, and at least one client and one second",
        ));
    }
    let value = base64::engine::general_purpose::STANDARD.encode(vec![b'v'; args.value_bytes]);
    let tally = Arc::new(Tally::default());
    let tasks: Vec<_> = (0..args.clients)
        .map(|client| {
            let endpoint = args.endpoints[client % args.endpoints.len()].clone();
            tokio::spawn(putter(endpoint, client, value.clone(), Arc::clone(&tally)))
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(args.warmup)).await;
    tally.measuring.store(true, Ordering::Relaxed);
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(args.seconds)).await;
    tally.stop.store(true, Ordering::Relaxed);
    let window = started.elapsed().as_secs_f64();
    for task in tasks {
        let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
    }
    let committed = tally.committed.load(Ordering::Relaxed);
    let report = EtcdReport {
        endpoints: args.endpoints.clone(),
        clients: args.clients,
        value_bytes: args.value_bytes,
        seconds: window,
        committed,
        committed_puts_per_s: committed as f64 / window.max(1e-9),
        latency_ms: Latency::of(&tally.latencies_us),
        errors: tally.errors.load(Ordering::Relaxed),
    };
    out.print(&report, || {
        format!(
            "etcd: {} clients, {:.1} s: {} puts of {} bytes, {:.0} puts/s; latency p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; errors {}",
            report.clients,
            report.seconds,
            report.committed,
            report.value_bytes,
            report.committed_puts_per_s,
            report.latency_ms.p50,
            report.latency_ms.p99,
            report.latency_ms.max,
            report.errors
        )
    })
}
