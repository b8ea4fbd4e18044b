//! `gemtrail bench`: throughput and latency of a real three-node cluster.
//!
//! It starts three node processes on loopback (production settings: the Raft
//! log synced before acknowledgement, every node checking every signature),
//! pre-signs a workload before the clock starts, drives it with `--clients`
//! concurrent submitters for a warm-up and then `--seconds`, and prints one
//! JSON object (or a summary for people). Each client walks stones through
//! their whole life, one transaction after another, each waiting for its
//! receipt: register (miner), propose to the cutter and accept, cut, grade
//! (lab), propose to the retailer and accept, sell. Clients are spread over
//! the three nodes, so followers forward to the leader as in production.

use std::collections::BTreeMap;
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use gemtrail_ledger::codec::encode;
use gemtrail_ledger::crypto::SecretKey;
use gemtrail_ledger::ids::OrgId;
use gemtrail_ledger::model::{Action, Outcome, Transaction};
use gemtrail_node::client::NodeClient;
use serde::{Deserialize, Serialize};

use crate::actions::{
    cut_by_sarah_levi, digest, grade_d_vvs1, org, polished_output, propose, register_jwaneng_rough,
    stone,
};
use crate::args::{BenchArgs, HttpVersion};
use crate::error::{CliError, CliResult};
use crate::load::{LoadConnection, SharedHttp2};
use crate::local::{fail, found, start_nodes, wait_for_leader, Consortium, Nodes};
use crate::output::Out;
use gemtrail_node::api::SUBMIT_BATCH_TXS_MAX;

mod batch;

/// Transactions in one stone's life.
const TXS_PER_STONE: usize = 8;

/// Latency figures, in milliseconds.
#[derive(Debug, Serialize)]
pub(crate) struct Latency {
    /// Median.
    pub(crate) p50: f64,
    /// 99th percentile.
    pub(crate) p99: f64,
    /// Slowest.
    pub(crate) max: f64,
}

impl Latency {
    /// The figures of the microsecond latencies the submitters collected.
    pub(crate) fn of(collected: &Mutex<Vec<u32>>) -> Self {
        let mut sorted = collected.lock().map(|all| all.clone()).unwrap_or_default();
        sorted.sort_unstable();
        Self {
            p50: percentile(&sorted, 0.50),
            p99: percentile(&sorted, 0.99),
            max: percentile(&sorted, 1.0),
        }
    }
}

/// One node's resource use.
#[derive(Debug, Serialize)]
struct NodeUsage {
    node: u64,
    /// CPU seconds (user + system) during the measured window.
    cpu_seconds: f64,
    /// Peak resident memory over the whole run, in megabytes.
    peak_rss_mb: f64,
    /// Bytes in its data directory at the end.
    disk_bytes: u64,
}

/// The benchmark's result.
#[derive(Debug, Serialize)]
struct Report {
    clients: usize,
    /// How the clients reached the API.
    http: HttpVersion,
    /// With HTTP/2, the connections each node's clients shared.
    connections_per_node: Option<usize>,
    /// Transactions per request (1: the single-transaction endpoint).
    batch: usize,
    offered_tx_per_s: Option<u64>,
    /// The leader's batch timeout the cluster ran with.
    batch_timeout_ms: u64,
    seconds: f64,
    warmup_seconds: f64,
    committed: u64,
    committed_tx_per_s: f64,
    latency_ms: Latency,
    rejected: u64,
    errors: u64,
    nodes: Vec<NodeUsage>,
    disk_bytes_per_committed_tx: f64,
    presigned: usize,
    presign_seconds: f64,
    /// What the leader's metrics say about its batches, over the whole run.
    leader: Option<LeaderStats>,
}

/// The leader's batching, from its Prometheus metrics.
#[derive(Debug, Serialize)]
struct LeaderStats {
    node: u64,
    blocks_proposed: f64,
    mean_batch_txs: f64,
    mean_propose_to_commit_ms: f64,
}

/// The sum and count of a Prometheus histogram in `text`.
fn histogram(text: &str, name: &str) -> Option<(f64, f64)> {
    let value = |suffix: &str| {
        text.lines()
            .find_map(|line| line.strip_prefix(&format!("{name}_{suffix} ")))
            .and_then(|value| value.trim().parse::<f64>().ok())
    };
    Some((value("sum")?, value("count")?))
}

/// Reads the leader's batching figures before the nodes stop.
async fn leader_stats(clients: &BTreeMap<u64, NodeClient>) -> Option<LeaderStats> {
    let first = clients.values().next()?;
    let leader = first.status().await.ok()?.leader?;
    let text = clients.get(&leader)?.metrics().await.ok()?;
    let (batch_sum, batches) = histogram(&text, "gemtrail_batch_size")?;
    let (commit_sum, commits) = histogram(&text, "gemtrail_propose_to_commit_seconds")?;
    Some(LeaderStats {
        node: leader,
        blocks_proposed: batches,
        mean_batch_txs: batch_sum / batches.max(1.0),
        mean_propose_to_commit_ms: 1000.0 * commit_sum / commits.max(1.0),
    })
}

/// Builds the signed life of one stone, encoded for submission.
fn stone_life(consortium: &Consortium, client: usize, index: usize) -> CliResult<Vec<Vec<u8>>> {
    let rough = format!("B{client}-{index}");
    let polished = format!("{rough}-A");
    let chain_id = consortium.genesis.chain_id().clone();
    // Sixteen nonces per stone and 2^28 stones per client keep every id distinct.
    let mut nonce = (client as u64) << 32 | (index as u64) << 4;
    let mut sign = |member: &str, action: Action| -> CliResult<Transaction> {
        nonce += 1;
        Ok(Transaction {
            chain_id: chain_id.clone(),
            signer: org(member)?,
            nonce,
            action,
        })
    };
    let accept = |proposal| Action::AcceptTransfer { proposal };
    let register = register_jwaneng_rough(&rough, "octahedral", Vec::new())?;
    let to_cutter = sign("miner", propose(&[&rough], "cutter", "terms")?)?;
    let to_cutter_id = to_cutter.id();
    let outputs = vec![polished_output(
        &polished,
        "round brilliant",
        310,
        "D",
        "VVS1",
    )?];
    let manufacture = cut_by_sarah_levi(&rough, outputs, "")?;
    let grade = grade_d_vvs1(&polished, "IGL-1", b"report")?;
    let to_retailer = sign("cutter", propose(&[&polished], "retailer", "terms")?)?;
    let to_retailer_id = to_retailer.id();
    let register = sign("miner", register)?;
    let accept_rough = sign("cutter", accept(to_cutter_id))?;
    let manufacture = sign("cutter", manufacture)?;
    let grade = sign("lab", grade)?;
    let accept_polished = sign("retailer", accept(to_retailer_id))?;
    let sell = Action::Sell {
        stone: stone(&polished)?,
        passport_commitment: digest(b"sale"),
        branding: None,
    };
    let sell = sign("retailer", sell)?;
    let steps = [
        ("miner", register),
        ("miner", to_cutter),
        ("cutter", accept_rough),
        ("cutter", manufacture),
        ("lab", grade),
        ("cutter", to_retailer),
        ("retailer", accept_polished),
        ("retailer", sell),
    ];
    steps
        .into_iter()
        .map(|(member, tx)| Ok(encode(&tx.sign(&member_key(consortium, member)?))))
        .collect()
}

fn member_key(consortium: &Consortium, member: &str) -> CliResult<SecretKey> {
    let id = OrgId::parse(member).map_err(|error| CliError::new(error.to_string()))?;
    consortium
        .sample
        .member_key(&id)
        .cloned()
        .ok_or_else(|| CliError::new(format!("no key for {member}")))
}

/// One client's pre-signed transactions, encoded, in submission order.
type ClientWork = Vec<Vec<u8>>;

/// Pre-signs every client's work on all cores.
fn presign(
    consortium: &Consortium,
    clients: usize,
    stones_per_client: usize,
) -> CliResult<Vec<ClientWork>> {
    let threads = std::thread::available_parallelism().map_or(2, usize::from);
    let chunks: Vec<Vec<usize>> = (0..threads)
        .map(|thread| {
            (0..clients)
                .filter(|client| client % threads == thread)
                .collect()
        })
        .collect();
    let results: Vec<CliResult<Vec<(usize, ClientWork)>>> = std::thread::scope(|scope| {
        let handles: Vec<_> = chunks
            .iter()
            .map(|mine| {
                scope.spawn(move || {
                    mine.iter()
                        .map(|&client| {
                            let mut work = Vec::with_capacity(stones_per_client * TXS_PER_STONE);
                            for index in 0..stones_per_client {
                                work.extend(stone_life(consortium, client, index)?);
                            }
                            Ok((client, work))
                        })
                        .collect()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|handle| {
                handle
                    .join()
                    .unwrap_or_else(|_| Err(CliError::new("a signing thread panicked")))
            })
            .collect()
    });
    let mut work = vec![Vec::new(); clients];
    for result in results {
        for (client, txs) in result? {
            work[client] = txs;
        }
    }
    Ok(work)
}

/// What the submitters share.
#[derive(Default)]
struct Tally {
    measuring: AtomicBool,
    stop: AtomicBool,
    committed: AtomicU64,
    committed_total: AtomicU64,
    rejected: AtomicU64,
    errors: AtomicU64,
    latencies_us: Mutex<Vec<u32>>,
}

/// A client's fixed schedule under an offered load: a slot every `interval`,
/// the first `phase` after `start`, which all clients share.
#[derive(Clone, Copy, Debug)]
struct Schedule {
    start: Instant,
    interval: Duration,
    phase: Duration,
}

impl Schedule {
    /// The schedule of client `index` of `clients` sharing `rate`
    /// transactions per second. Each client's slots are shifted by its share
    /// of the interval, so the clients together submit at an even pace;
    /// unshifted, they would all fire at once, one burst per interval.
    fn of(start: Instant, index: usize, clients: usize, rate: u64) -> Self {
        let interval = Duration::from_secs_f64(clients as f64 / rate as f64);
        Self {
            start,
            interval,
            phase: interval.mul_f64(index as f64 / clients as f64),
        }
    }

    /// When transaction `index` of this client is due.
    fn slot(&self, index: usize) -> Instant {
        self.start + self.phase + self.interval.mul_f64(index as f64)
    }
}

/// The part of the node's answer to a waited submission that the bench reads.
#[derive(Deserialize)]
struct Answer {
    receipt: Option<AnswerReceipt>,
}

#[derive(Deserialize)]
struct AnswerReceipt {
    outcome: Outcome,
}

/// Where a submission waits for its receipt.
const SUBMIT_AND_WAIT: &str = "/v1/transactions?wait=true";

/// Whether the node's answer says the transaction was committed and applied.
fn applied(answer: &[u8]) -> Result<bool, String> {
    let answer: Answer =
        serde_json::from_slice(answer).map_err(|error| format!("unreadable answer: {error}"))?;
    Ok(applied_outcome(answer))
}

/// Whether one answer carries an applied receipt.
fn applied_outcome(answer: Answer) -> bool {
    matches!(
        answer.receipt.map(|receipt| receipt.outcome),
        Some(Outcome::Applied)
    )
}

/// Submits one client's work in order, each transaction once the previous
/// one has its receipt; with a schedule, also no sooner than its slot (the
/// offered load), so waiting time counts in the latency.
async fn submitter(
    mut connection: LoadConnection,
    work: Vec<Vec<u8>>,
    tally: Arc<Tally>,
    schedule: Option<Schedule>,
) {
    let mut latencies = Vec::with_capacity(work.len());
    let mut skip_until = 0;
    for (index, body) in work.into_iter().enumerate() {
        if tally.stop.load(Ordering::Relaxed) {
            break;
        }
        if index < skip_until {
            continue;
        }
        // With an offered rate, latency runs from the transaction's slot.
        let slot = schedule.map(|schedule| schedule.slot(index));
        if let Some(slot) = slot {
            tokio::time::sleep_until(slot.into()).await;
        }
        let measuring = tally.measuring.load(Ordering::Relaxed);
        let started = slot.unwrap_or_else(Instant::now);
        let answer = connection.post(SUBMIT_AND_WAIT, Bytes::from(body)).await;
        match answer
            .map_err(|error| error.to_string())
            .and_then(|answer| applied(&answer))
        {
            Ok(true) => {
                tally.committed_total.fetch_add(1, Ordering::Relaxed);
                if measuring && !tally.stop.load(Ordering::Relaxed) {
                    tally.committed.fetch_add(1, Ordering::Relaxed);
                    let micros = started.elapsed().as_micros();
                    latencies.push(u32::try_from(micros).unwrap_or(u32::MAX));
                }
            }
            Ok(false) => {
                tally.rejected.fetch_add(1, Ordering::Relaxed);
                skip_until = (index / TXS_PER_STONE + 1) * TXS_PER_STONE;
            }
            Err(error) => {
                tally.errors.fetch_add(1, Ordering::Relaxed);
                log_failure(&error);
                // The rest of this stone's life depends on it: go to the next stone.
                skip_until = (index / TXS_PER_STONE + 1) * TXS_PER_STONE;
            }
        }
    }
    if let Ok(mut all) = tally.latencies_us.lock() {
        all.extend(latencies);
    }
}

async fn futures_join(tasks: Vec<tokio::task::JoinHandle<()>>) {
    for task in tasks {
        let _ = task.await;
    }
}

/// The bench prints nothing per error (there may be thousands); the first
/// few go to stderr to explain a non-zero `errors`.
fn log_failure(message: &str) {
    static SHOWN: AtomicU64 = AtomicU64::new(0);
    if SHOWN.fetch_add(1, Ordering::Relaxed) < 3 {
        eprintln!("bench: a submission failed: {message}");
    }
}

/// The `fraction` percentile of sorted microsecond figures, in milliseconds.
fn percentile(sorted: &[u32], fraction: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((sorted.len() as f64 - 1.0) * fraction).round() as usize;
    f64::from(sorted[rank.min(sorted.len() - 1)]) / 1000.0
}

/// CPU seconds (user + system) a process has used, from /proc.
fn cpu_seconds(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    // Fields after the command name (which may hold spaces) start after ')'.
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return 0.0;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |index: usize| {
        fields
            .get(index)
            .and_then(|field| field.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of the whole line: 11 and 12 here.
    // Linux reports them in USER_HZ, which is 100 on every common platform.
    (ticks(11) + ticks(12)) / 100.0
}

/// Peak resident memory of a process in megabytes, from /proc.
fn peak_rss_mb(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("VmHWM:"))
                .and_then(|value| {
                    value
                        .trim()
                        .trim_end_matches("kB")
                        .trim()
                        .parse::<f64>()
                        .ok()
                })
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Bytes in the files under `path`.
pub(crate) fn dir_bytes(path: &Path) -> u64 {
    tree_bytes(path, &mut std::collections::HashSet::new())
}

/// [`dir_bytes`] of one directory, counting each file once however many
/// names it has: a snapshot checkpoint hard-links the ledger's table files.
fn tree_bytes(path: &Path, seen: &mut std::collections::HashSet<(u64, u64)>) -> u64 {
    let Ok(entries) = std::fs::read_dir(path) else {
        return 0;
    };
    let mut bytes = 0;
    for entry in entries.flatten() {
        match entry.metadata() {
            Ok(meta) if meta.is_dir() => bytes += tree_bytes(&entry.path(), seen),
            Ok(meta) if first_sighting(&meta, seen) => bytes += meta.len(),
            _ => {}
        }
    }
    bytes
}

/// Whether this file was not counted yet under another name.
#[cfg(unix)]
fn first_sighting(
    meta: &std::fs::Metadata,
    seen: &mut std::collections::HashSet<(u64, u64)>,
) -> bool {
    use std::os::unix::fs::MetadataExt;
    seen.insert((meta.dev(), meta.ino()))
}

#[cfg(not(unix))]
fn first_sighting(
    _meta: &std::fs::Metadata,
    _seen: &mut std::collections::HashSet<(u64, u64)>,
) -> bool {
    true
}

/// Runs the benchmark.
/// Refuses flag values the run cannot honour, before anything starts.
fn check_args(args: &BenchArgs) -> CliResult {
    if args.clients == 0 || args.seconds == 0 {
        return Err(CliError::new("--clients and --seconds must be at least 1"));
    }
    if args.batch > SUBMIT_BATCH_TXS_MAX {
        return Err(CliError::new(format!(
            "--batch is at most {SUBMIT_BATCH_TXS_MAX}, the most a batch request carries"
        )));
    }
    if args.batch > 1 && args.rate.is_some() {
        return Err(CliError::new(
            "--rate offers single transactions; it does not go with --batch",
        ));
    }
    Ok(())
}

pub(crate) async fn run(out: Out, args: BenchArgs) -> CliResult {
    check_args(&args)?;
    let temp = tempfile::Builder::new()
        .prefix("gemtrail-bench-")
        .tempdir()
        .map_err(|error| fail("temporary directory")(error.to_string()))?;
    let dir = temp.path().to_owned();
    let (consortium, batch_timeout_ms) = found_for_load(&dir, &args)?;
    let (work, presigning) = presign_workload(out, &consortium, &args)?;
    let mut nodes = start_nodes(&dir, consortium.api.keys().copied())?;
    let clients = consortium.clients()?;
    // One listener for the whole run, so a Ctrl-C between phases is not lost.
    let interrupted = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    tokio::pin!(interrupted);
    tokio::select! {
        leader = wait_for_leader(&clients) => { leader?; }
        () = &mut interrupted => {
            nodes.stop();
            return Err(CliError::new("bench: interrupted"));
        }
    }
    let tally = Arc::new(Tally::default());
    let tasks = spawn_submitters(&consortium, &clients, work, &tally, &args)?;
    let pids: Vec<(u64, u32)> = nodes
        .children
        .iter()
        .map(|(id, child)| (*id, child.id()))
        .collect();
    let window = measure(out, &args, &tally, &pids, &mut nodes, interrupted.as_mut()).await?;
    let cpu_at_end: Vec<f64> = pids.iter().map(|(_, pid)| cpu_seconds(*pid)).collect();
    let leader = leader_stats(&clients).await;
    let rss: Vec<f64> = pids.iter().map(|(_, pid)| peak_rss_mb(*pid)).collect();
    // Let each submitter finish the request it has in flight and hand over
    // its latencies; give up on any that hangs.
    let finishing = futures_join(tasks);
    let _ = tokio::time::timeout(Duration::from_secs(15), finishing).await;
    nodes.stop();
    let committed = Committed::read(&tally);
    let usage = node_usage(&dir, &pids, &window.cpu_at_start, &cpu_at_end, &rss);
    let finished = Run {
        batch_timeout_ms,
        committed,
        window: window.seconds,
        usage,
        presigning,
        leader,
    };
    let report = finished.report(&args, &tally);
    out.print(&report, || summary(&report, args.warmup))?;
    if report.rejected > 0 || report.errors > 0 {
        return Err(CliError::new(format!(
            "bench: {} rejected and {} failed submissions in a workload that should have none",
            report.rejected, report.errors
        )));
    }
    Ok(())
}

/// Founds the local consortium with the load's genesis parameters; returns
/// it and the leader's batch timeout it runs with.
fn found_for_load(dir: &Path, args: &BenchArgs) -> CliResult<(Consortium, u64)> {
    let mut batch_timeout_ms = 0;
    let consortium = found(dir, "gemtrail-bench", |document| {
        document.consensus.batch_max_txs = 2048;
        if let Some(timeout_ms) = args.batch_timeout_ms {
            document.consensus.batch_timeout_ms = timeout_ms;
        }
        batch_timeout_ms = document.consensus.batch_timeout_ms;
        document.consensus.snapshot_interval_blocks = args.snapshot_interval_blocks;
        document.limits.mempool_txs_max = 200_000;
    })?;
    Ok((consortium, batch_timeout_ms))
}

/// How much was pre-signed, and how long it took.
struct Presigning {
    transactions: usize,
    seconds: f64,
}

/// Pre-signs enough stone lives for every client to submit at the feed rate
/// for the whole run, so signing never slows the submitters.
fn presign_workload(
    out: Out,
    consortium: &Consortium,
    args: &BenchArgs,
) -> CliResult<(Vec<ClientWork>, Presigning)> {
    let total_seconds = (args.seconds + args.warmup) as f64;
    let feed_rate = args.rate.unwrap_or(args.max_rate).min(args.max_rate);
    let stones_per_client = ((feed_rate as f64 * total_seconds)
        / (args.clients * TXS_PER_STONE) as f64)
        .ceil()
        .max(1.0) as usize;
    let presign_started = Instant::now();
    let work = presign(consortium, args.clients, stones_per_client)?;
    let presigned: usize = work.iter().map(Vec::len).sum();
    let presign_seconds = presign_started.elapsed().as_secs_f64();
    if out.is_text() {
        eprintln!(
            "bench: pre-signed {presigned} transactions ({stones_per_client} stone lives per client) in {presign_seconds:.1} s"
        );
    }
    let presigning = Presigning {
        transactions: presigned,
        seconds: presign_seconds,
    };
    Ok((work, presigning))
}

/// Starts one submitter per client's work, spread over the nodes in turn, so
/// followers forward to the leader as in production; with HTTP/2, the
/// clients of a node share its `--connections` in turn.
fn spawn_submitters(
    consortium: &Consortium,
    clients: &BTreeMap<u64, NodeClient>,
    work: Vec<ClientWork>,
    tally: &Arc<Tally>,
    args: &BenchArgs,
) -> CliResult<Vec<tokio::task::JoinHandle<()>>> {
    let node_ids: Vec<u64> = clients.keys().copied().collect();
    let shared: Vec<Vec<Arc<SharedHttp2>>> = node_ids
        .iter()
        .map(|_| {
            (0..args.connections.max(1))
                .map(|_| Arc::default())
                .collect()
        })
        .collect();
    let mut tasks = Vec::new();
    let schedule_start = Instant::now();
    for (index, txs) in work.into_iter().enumerate() {
        let node_index = index % node_ids.len();
        let server = consortium
            .api
            .get(&node_ids[node_index])
            .cloned()
            .ok_or_else(|| CliError::new("bench: no API address"))?;
        let content_type = "application/octet-stream";
        let connection = match args.http {
            HttpVersion::Http1 => LoadConnection::new(&server, content_type),
            HttpVersion::Http2 => {
                let node_connections = &shared[node_index];
                let share = &node_connections[(index / node_ids.len()) % node_connections.len()];
                LoadConnection::shared(&server, content_type, Arc::clone(share))
            }
        };
        let schedule = args
            .rate
            .filter(|rate| *rate > 0)
            .map(|rate| Schedule::of(schedule_start, index, args.clients, rate));
        let tally = Arc::clone(tally);
        tasks.push(if args.batch > 1 {
            tokio::spawn(batch::batch_submitter(connection, txs, args.batch, tally))
        } else {
            tokio::spawn(submitter(connection, txs, tally, schedule))
        });
    }
    Ok(tasks)
}

/// The measured window: each node's CPU seconds when it opened, and how long
/// it lasted.
struct Window {
    cpu_at_start: Vec<f64>,
    seconds: f64,
}

/// Runs the warm-up and then the measured seconds, one second at a time
/// with a progress bar, and stops the submitters; stops the nodes if
/// interrupted.
async fn measure(
    out: Out,
    args: &BenchArgs,
    tally: &Tally,
    pids: &[(u64, u32)],
    nodes: &mut Nodes,
    mut interrupted: Pin<&mut impl Future<Output = ()>>,
) -> CliResult<Window> {
    let bar = out.progress_bar(
        args.warmup + args.seconds,
        "{spinner} {msg} [{bar:30}] {pos}/{len} s",
    );
    let mut cpu_at_start = Vec::new();
    let mut window_started = Instant::now();
    for second in 0..(args.warmup + args.seconds) {
        if second == args.warmup {
            cpu_at_start = pids.iter().map(|(_, pid)| cpu_seconds(*pid)).collect();
            window_started = Instant::now();
            tally.measuring.store(true, Ordering::Relaxed);
        }
        let phase = if second < args.warmup {
            "warming up"
        } else {
            "measuring"
        };
        bar.set_message(format!(
            "{phase}: {} committed",
            tally.committed_total.load(Ordering::Relaxed)
        ));
        tokio::select! {
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
            () = interrupted.as_mut() => {
                tally.stop.store(true, Ordering::Relaxed);
                nodes.stop();
                return Err(CliError::new("bench: interrupted"));
            }
        }
        bar.inc(1);
    }
    tally.stop.store(true, Ordering::Relaxed);
    let seconds = window_started.elapsed().as_secs_f64();
    bar.finish_and_clear();
    Ok(Window {
        cpu_at_start,
        seconds,
    })
}

/// Each node's CPU over the window, peak memory, and disk at the end.
fn node_usage(
    dir: &Path,
    pids: &[(u64, u32)],
    cpu_at_start: &[f64],
    cpu_at_end: &[f64],
    rss: &[f64],
) -> Vec<NodeUsage> {
    pids.iter()
        .enumerate()
        .map(|(index, (node, _))| NodeUsage {
            node: *node,
            cpu_seconds: cpu_at_end[index] - cpu_at_start.get(index).copied().unwrap_or(0.0),
            peak_rss_mb: rss[index],
            disk_bytes: dir_bytes(&dir.join(format!("node{node}")).join("data")),
        })
        .collect()
}

/// The commits counted when the nodes stopped.
struct Committed {
    /// In the measured window.
    window: u64,
    /// In the whole run, at least 1 (it divides).
    total: u64,
}

impl Committed {
    fn read(tally: &Tally) -> Self {
        Self {
            window: tally.committed.load(Ordering::Relaxed),
            total: tally.committed_total.load(Ordering::Relaxed).max(1),
        }
    }
}

/// What a finished run measured, beside the submitters' tally.
struct Run {
    batch_timeout_ms: u64,
    committed: Committed,
    window: f64,
    usage: Vec<NodeUsage>,
    presigning: Presigning,
    leader: Option<LeaderStats>,
}

impl Run {
    fn report(self, args: &BenchArgs, tally: &Tally) -> Report {
        let committed = self.committed.window;
        let disk_mean = self
            .usage
            .iter()
            .map(|node| node.disk_bytes as f64)
            .sum::<f64>()
            / self.usage.len().max(1) as f64;
        Report {
            clients: args.clients,
            http: args.http,
            connections_per_node: (args.http == HttpVersion::Http2).then_some(args.connections),
            batch: args.batch.max(1),
            offered_tx_per_s: args.rate,
            batch_timeout_ms: self.batch_timeout_ms,
            seconds: self.window,
            warmup_seconds: args.warmup as f64,
            committed,
            committed_tx_per_s: committed as f64 / self.window.max(1e-9),
            latency_ms: Latency::of(&tally.latencies_us),
            rejected: tally.rejected.load(Ordering::Relaxed),
            errors: tally.errors.load(Ordering::Relaxed),
            disk_bytes_per_committed_tx: disk_mean / self.committed.total as f64,
            nodes: self.usage,
            presigned: self.presigning.transactions,
            presign_seconds: self.presigning.seconds,
            leader: self.leader,
        }
    }
}

/// The report for people.
fn summary(report: &Report, warmup: u64) -> String {
    let path = match report.connections_per_node {
        Some(connections) => format!("HTTP/2, {connections} shared connections per node"),
        None => "HTTP/1.1, a connection per client".to_owned(),
    };
    let path = if report.batch > 1 {
        format!("{path}, {} transactions per request", report.batch)
    } else {
        path
    };
    let mut text = format!(
        "{} clients ({path}), batch timeout {} ms, {:.1} s measured after {} s of warm-up\ncommitted: {} transactions, {:.0} tx/s\nlatency (submission to receipt): p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms\nrejected: {}, errors: {}\ndisk: {:.0} bytes per committed transaction per node\n",
        report.clients,
        report.batch_timeout_ms,
        report.seconds,
        warmup,
        report.committed,
        report.committed_tx_per_s,
        report.latency_ms.p50,
        report.latency_ms.p99,
        report.latency_ms.max,
        report.rejected,
        report.errors,
        report.disk_bytes_per_committed_tx
    );
    if let Some(leader) = &report.leader {
        text.push_str(&format!(
            "leader (node {}): {:.0} blocks, {:.1} transactions per block, {:.2} ms from proposal to commit on average\n",
            leader.node, leader.blocks_proposed, leader.mean_batch_txs, leader.mean_propose_to_commit_ms
        ));
    }
    for node in &report.nodes {
        text.push_str(&format!(
            "node {}: {:.1} CPU s, peak RSS {:.0} MB\n",
            node.node, node.cpu_seconds, node.peak_rss_mb
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offered_load_is_spread_evenly_over_the_clients() {
        let start = Instant::now();
        // 4 clients sharing 400 tx/s: each every 10 ms, shifted 2.5 ms apart.
        let schedules: Vec<Schedule> = (0..4)
            .map(|index| Schedule::of(start, index, 4, 400))
            .collect();
        let mut slots: Vec<Duration> = schedules
            .iter()
            .flat_map(|schedule| (0..3).map(move |k| schedule.slot(k) - start))
            .collect();
        slots.sort();
        let gaps: Vec<Duration> = slots.windows(2).map(|pair| pair[1] - pair[0]).collect();
        for gap in gaps {
            let micros = gap.as_micros();
            assert!((2_499..=2_501).contains(&micros), "gap of {micros} us");
        }
        assert_eq!(slots[0], Duration::ZERO);
        assert_eq!(slots.len(), 12);
    }

    /// The bench reads the outcome from the node's own answer type.
    #[test]
    fn the_outcome_is_read_from_the_nodes_answer() {
        use gemtrail_ledger::ids::TxId;
        use gemtrail_ledger::model::RejectReason;
        use gemtrail_node::api::views::{ReceiptView, SubmitStatus, SubmitView};
        let answer = |receipt: Option<Outcome>| {
            serde_json::to_vec(&SubmitView {
                tx_id: TxId([3; 32]),
                status: SubmitStatus::Committed,
                duplicate: false,
                receipt: receipt.map(|outcome| ReceiptView {
                    tx_id: TxId([3; 32]),
                    height: 9,
                    tx_index: 0,
                    outcome,
                }),
            })
            .unwrap()
        };
        assert_eq!(applied(&answer(Some(Outcome::Applied))), Ok(true));
        let replay = Outcome::Rejected {
            reason: RejectReason::Replay {
                tx_id: TxId([3; 32]),
            },
        };
        assert_eq!(applied(&answer(Some(replay))), Ok(false));
        assert_eq!(applied(&answer(None)), Ok(false));
        assert!(applied(b"<html>")
            .unwrap_err()
            .starts_with("unreadable answer"));
    }

    #[test]
    fn flags_the_run_cannot_honour_are_refused_with_a_reason() {
        use clap::Parser;
        let check = |flags: &[&str]| {
            let cli =
                crate::args::Cli::try_parse_from(["gemtrail", "bench"].iter().chain(flags.iter()))
                    .unwrap();
            let crate::args::Command::Bench(args) = cli.command else {
                panic!("not the bench command");
            };
            check_args(&args).err().map(|error| error.message)
        };
        assert_eq!(check(&[]), None);
        assert_eq!(check(&["--batch", "1024"]), None);
        assert_eq!(
            check(&["--clients", "0"]).as_deref(),
            Some("--clients and --seconds must be at least 1")
        );
        assert_eq!(
            check(&["--batch", "1025"]).as_deref(),
            Some("--batch is at most 1024, the most a batch request carries")
        );
        assert_eq!(
            check(&["--batch", "8", "--rate", "100"]).as_deref(),
            Some("--rate offers single transactions; it does not go with --batch")
        );
    }

    #[test]
    fn disk_bytes_count_a_hard_linked_file_once() {
        let dir = tempfile::TempDir::new().unwrap();
        std::fs::write(dir.path().join("table.sst"), [0u8; 100]).unwrap();
        std::fs::create_dir(dir.path().join("checkpoint")).unwrap();
        std::fs::hard_link(
            dir.path().join("table.sst"),
            dir.path().join("checkpoint").join("table.sst"),
        )
        .unwrap();
        std::fs::write(dir.path().join("checkpoint").join("MANIFEST"), [0u8; 50]).unwrap();
        assert_eq!(dir_bytes(dir.path()), 150);
        assert_eq!(dir_bytes(&dir.path().join("missing")), 0);
    }
}
