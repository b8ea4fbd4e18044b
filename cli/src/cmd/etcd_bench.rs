//! `gemtrail bench-etcd`: the yardstick. Drives an etcd v3 cluster with bare
//! 256-byte puts through its native gRPC API (`etcdserverpb.KV/Put`, the
//! clients multiplexed over a few HTTP/2 connections, as etcd's own clients
//! are), or through its JSON gateway (`POST /v3/kv/put`, `--driver json`),
//! with the same load generator ([`crate::load`]), concurrency, warm-up and
//! percentile arithmetic as `gemtrail bench`, so the two figures compare like
//! for like. `scripts/etcd-cluster.sh` starts a three-member cluster on
//! loopback.
//!
//! A put request is two length-delimited protobuf fields in a gRPC frame,
//! written here in a few lines (see decisions.md, "The etcd driver").

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use bytes::Bytes;
use serde::Serialize;

use crate::args::{EtcdBenchArgs, EtcdDriver};
use crate::cmd::bench::Latency;
use crate::error::{CliError, CliResult};
use crate::load::{LoadConnection, SharedHttp2, GRPC};
use crate::output::Out;

#[derive(Debug, Serialize)]
struct EtcdReport {
    endpoints: Vec<String>,
    driver: EtcdDriver,
    /// With gRPC, the connections the clients shared.
    connections: Option<usize>,
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

/// etcd's gRPC method for a put.
const GRPC_PUT: &str = "/etcdserverpb.KV/Put";

/// One put's request body for `driver`.
fn put_body(driver: EtcdDriver, key: &str, value: &[u8]) -> Bytes {
    match driver {
        EtcdDriver::Grpc => grpc_put(key.as_bytes(), value),
        EtcdDriver::Json => {
            let engine = &base64::engine::general_purpose::STANDARD;
            Bytes::from(format!(
                "{{\"key\":\"{}\",\"value\":\"{}\"}}",
                engine.encode(key),
                engine.encode(value)
            ))
        }
    }
}

/// etcd's `PutRequest { key = 1, value = 2 }` in protobuf, in a gRPC
/// message frame (no compression, big-endian length).
fn grpc_put(key: &[u8], value: &[u8]) -> Bytes {
    let mut message = Vec::with_capacity(key.len() + value.len() + 8);
    for (tag, field) in [(0x0a, key), (0x12, value)] {
        message.push(tag);
        push_varint(&mut message, field.len() as u64);
        message.extend_from_slice(field);
    }
    // Keys and values here are a few hundred bytes, far below u32::MAX.
    let length = u32::try_from(message.len()).unwrap_or(u32::MAX);
    let mut frame = Vec::with_capacity(5 + message.len());
    frame.push(0);
    frame.extend_from_slice(&length.to_be_bytes());
    frame.extend_from_slice(&message);
    Bytes::from(frame)
}

/// Protobuf's base-128 varint: seven bits a byte, low first.
fn push_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8 & 0x7f) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

async fn putter(
    mut connection: LoadConnection,
    driver: EtcdDriver,
    client: usize,
    value: Arc<Vec<u8>>,
    tally: Arc<Tally>,
) {
    let path = match driver {
        EtcdDriver::Grpc => GRPC_PUT,
        EtcdDriver::Json => "/v3/kv/put",
    };
    let mut latencies = Vec::new();
    let mut sequence = 0u64;
    while !tally.stop.load(Ordering::Relaxed) {
        sequence += 1;
        let body = put_body(driver, &format!("bench/{client}/{sequence}"), &value);
        let measuring = tally.measuring.load(Ordering::Relaxed);
        let started = Instant::now();
        match connection.post(path, body).await {
            Ok(_) => {
                if measuring && !tally.stop.load(Ordering::Relaxed) {
                    tally.committed.fetch_add(1, Ordering::Relaxed);
                    latencies
                        .push(u32::try_from(started.elapsed().as_micros()).unwrap_or(u32::MAX));
                }
            }
            Err(error) => {
                if tally.errors.fetch_add(1, Ordering::Relaxed) < 3 {
                    eprintln!("bench-etcd: {error}");
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
    if let Ok(mut all) = tally.latencies_us.lock() {
        all.extend(latencies);
    }
}

/// Client `client`'s way to etcd: a stream on one of the shared gRPC
/// connections (spread over the endpoints in turn), or a JSON connection
/// of its own.
fn connection_for(
    args: &EtcdBenchArgs,
    shared: &[Arc<SharedHttp2>],
    client: usize,
) -> LoadConnection {
    match args.driver {
        EtcdDriver::Grpc => {
            let index = client % shared.len();
            let endpoint = &args.endpoints[index % args.endpoints.len()];
            LoadConnection::shared(endpoint, GRPC, Arc::clone(&shared[index]))
        }
        EtcdDriver::Json => LoadConnection::new(
            &args.endpoints[client % args.endpoints.len()],
            "application/json",
        ),
    }
}

/// Runs the etcd benchmark.
pub(crate) async fn run(out: Out, args: EtcdBenchArgs) -> CliResult {
    if args.endpoints.is_empty() || args.clients == 0 || args.seconds == 0 {
        return Err(CliError::new(
            "give --endpoints, and at least one client and one second",
        ));
    }
    let value = Arc::new(vec![b'v'; args.value_bytes]);
    let tally = Arc::new(Tally::default());
    let shared: Vec<Arc<SharedHttp2>> = (0..args.connections.max(1))
        .map(|_| Arc::default())
        .collect();
    let tasks: Vec<_> = (0..args.clients)
        .map(|client| {
            let connection = connection_for(&args, &shared, client);
            let putter = putter(
                connection,
                args.driver,
                client,
                Arc::clone(&value),
                Arc::clone(&tally),
            );
            tokio::spawn(putter)
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
        driver: args.driver,
        connections: (args.driver == EtcdDriver::Grpc).then_some(args.connections.max(1)),
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
            "etcd ({}): {} clients, {:.1} s: {} puts of {} bytes, {:.0} puts/s; latency p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; errors {}",
            match report.driver {
                EtcdDriver::Grpc => "native gRPC",
                EtcdDriver::Json => "JSON gateway",
            },
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_grpc_put_is_a_framed_protobuf_message() {
        let body = grpc_put(b"k", b"v");
        assert_eq!(&body[..], &[0, 0, 0, 0, 6, 0x0a, 1, b'k', 0x12, 1, b'v']);
    }

    #[test]
    fn varints_carry_seven_bits_a_byte() {
        let mut out = Vec::new();
        push_varint(&mut out, 300);
        assert_eq!(out, [0xac, 0x02]);
        out.clear();
        push_varint(&mut out, 127);
        assert_eq!(out, [0x7f]);
    }

    #[test]
    fn a_json_put_carries_base64_key_and_value() {
        let body = put_body(EtcdDriver::Json, "a", b"b");
        assert_eq!(&body[..], br#"{"key":"YQ==","value":"Yg=="}"#);
    }
}
