//! # gemtrail-tests
//!
//! A harness for cross-crate tests on real gemtrail clusters: real nodes,
//! real libp2p on 127.0.0.1, real Raft, RocksDB in temporary directories.
//!
//! [`Cluster`] founds the sample consortium (three nodes, five members) on
//! free loopback ports, writes each node's key, genesis and configuration,
//! and runs the nodes either in this process ([`Cluster::start_in_process`])
//! or as `gemtrail-test-node` child processes ([`Cluster::spawn_process`]),
//! which tests can kill with SIGKILL. Every wait is bounded.

// A dependency no code uses is caught here (the integration tests, which see
// every dependency, are left out).
#![cfg_attr(not(test), warn(unused_crate_dependencies))]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gemtrail_genesis::sample::SampleConsortium;
use gemtrail_genesis::{GenesisDocument, ValidGenesis};
use gemtrail_ledger::ids::{BlockHash, OrgId, TxId};
use gemtrail_ledger::model::{Action, Outcome, SignedTransaction, Transaction};
use gemtrail_node::api::views::SubmitStatus;
use gemtrail_node::client::NodeClient;
use gemtrail_node::{keys, Node, NodeConfig};
use tempfile::TempDir;

/// How long a test waits for a cluster to do something before failing.
pub const WAIT: Duration = Duration::from_secs(30);

/// Chain parameters a test may change.
#[derive(Clone, Copy, Debug)]
pub struct ClusterOptions {
    /// Blocks between snapshots.
    pub snapshot_interval_blocks: u64,
    /// Batch timeout.
    pub batch_timeout_ms: u64,
    /// Largest HTTP body.
    pub request_body_bytes_max: u64,
    /// Largest snapshot chunk.
    pub snapshot_chunk_bytes_max: u64,
    /// Each node's cap on open API connections.
    pub api_connections_max: u64,
    /// Each node's deadline for an API request's headers.
    pub api_header_read_timeout_ms: u64,
    /// Who may use each node's API.
    pub api_access: gemtrail_node::config::ApiAccess,
}

impl Default for ClusterOptions {
    fn default() -> Self {
        Self {
            snapshot_interval_blocks: 1000,
            batch_timeout_ms: 5,
            request_body_bytes_max: 64 * 1024,
            snapshot_chunk_bytes_max: 1024 * 1024,
            api_connections_max: 512,
            api_header_read_timeout_ms: 5_000,
            api_access: gemtrail_node::config::ApiAccess::Open,
        }
    }
}

/// How a node of the cluster runs.
#[derive(Debug)]
enum Running {
    InProcess(Node),
    Process(Child),
}

/// A node prepared to join by governance.
#[derive(Clone, Debug)]
pub struct JoiningNode {
    /// Its record, for the `AddNode` governance transaction.
    pub record: gemtrail_ledger::model::NodeRecord,
}

/// A three-node test cluster of the sample consortium.
#[derive(Debug)]
pub struct Cluster {
    /// Held while the cluster runs, so the tests of one binary run their
    /// clusters one at a time (each has three nodes with Raft timers; a
    /// two-core machine running several at once would see spurious elections).
    _turn: Option<tokio::sync::OwnedMutexGuard<()>>,
    dir: TempDir,
    sample: SampleConsortium,
    genesis: ValidGenesis,
    api_addrs: BTreeMap<u64, String>,
    running: BTreeMap<u64, Running>,
}

/// One cluster at a time per test binary (see [`Cluster`]).
static TURN: std::sync::OnceLock<std::sync::Arc<tokio::sync::Mutex<()>>> =
    std::sync::OnceLock::new();

/// Picks `count` distinct free loopback ports.
fn free_ports(count: usize) -> std::io::Result<Vec<u16>> {
    let listeners = (0..count)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0"))
        .collect::<std::io::Result<Vec<_>>>()?;
    listeners
        .iter()
        .map(|listener| listener.local_addr().map(|addr| addr.port()))
        .collect()
}

impl Cluster {
    /// Founds the consortium and writes every node's files; starts nothing.
    pub fn found(options: ClusterOptions) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let sample = SampleConsortium::generate("gemtrail-test", 20_000)?;
        let mut document: GenesisDocument = sample.genesis().document().clone();
        document.consensus.batch_timeout_ms = options.batch_timeout_ms;
        document.consensus.heartbeat_interval_ms = 100;
        document.consensus.election_timeout_min_ms = 800;
        document.consensus.election_timeout_max_ms = 1600;
        document.consensus.snapshot_interval_blocks = options.snapshot_interval_blocks;
        document.limits.request_body_bytes_max = options.request_body_bytes_max;
        document.limits.request_timeout_ms = 10_000;
        document.limits.snapshot_chunk_bytes_max = options.snapshot_chunk_bytes_max;
        let ports = free_ports(document.nodes.len() * 2)?;
        let mut api_addrs = BTreeMap::new();
        for (index, node) in document.nodes.iter_mut().enumerate() {
            node.listen_addr = format!("/ip4/127.0.0.1/tcp/{}", ports[index * 2]);
            node.api_addr = format!("127.0.0.1:{}", ports[index * 2 + 1]);
            api_addrs.insert(node.id, node.api_addr.clone());
        }
        let genesis = document.clone().validate()?;
        let genesis_path = dir.path().join("genesis.toml");
        std::fs::write(&genesis_path, document.to_toml_string()?)?;
        for (id, keypair) in sample.node_keypairs() {
            let node_dir = dir.path().join(format!("node{}", id.0));
            std::fs::create_dir_all(&node_dir)?;
            keys::save(&node_dir.join("node.key"), keypair)?;
            let mut config = NodeConfig::new(
                PathBuf::from("../genesis.toml"),
                PathBuf::from("data"),
                PathBuf::from("node.key"),
            );
            config.log.level = "warn".to_owned();
            config.limits.shutdown_grace_ms = 3_000;
            config.limits.api_connections_max = options.api_connections_max;
            config.limits.api_header_read_timeout_ms = options.api_header_read_timeout_ms;
            config.api_access = options.api_access;
            config.save(&node_dir.join("node.toml"))?;
        }
        Ok(Self {
            _turn: None,
            dir,
            sample,
            genesis,
            api_addrs,
            running: BTreeMap::new(),
        })
    }

    /// Like [`Cluster::found`], and waits for this test binary's other
    /// clusters to finish first.
    pub async fn found_exclusive(options: ClusterOptions) -> anyhow::Result<Self> {
        let turn = TURN
            .get_or_init(Default::default)
            .clone()
            .lock_owned()
            .await;
        let mut cluster = Self::found(options)?;
        cluster._turn = Some(turn);
        Ok(cluster)
    }

    /// Founds the consortium and starts all three nodes in this process, once
    /// this test binary's other clusters have finished.
    pub async fn start(options: ClusterOptions) -> anyhow::Result<Self> {
        let mut cluster = Self::found_exclusive(options).await?;
        for id in cluster.node_ids() {
            cluster.start_in_process(id).await?;
        }
        Ok(cluster)
    }

    /// The node ids.
    pub fn node_ids(&self) -> Vec<u64> {
        self.api_addrs.keys().copied().collect()
    }

    /// The genesis in force.
    pub fn genesis(&self) -> &ValidGenesis {
        &self.genesis
    }

    /// Node `id`'s directory (its key, configuration and data).
    pub fn node_dir(&self, id: u64) -> PathBuf {
        self.dir.path().join(format!("node{id}"))
    }

    /// Node `id`'s configuration file.
    pub fn config_path(&self, id: u64) -> PathBuf {
        self.node_dir(id).join("node.toml")
    }

    /// The cluster's root directory.
    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// Starts node `id` in this process, retrying while a just-stopped node
    /// still holds its database locks.
    pub async fn start_in_process(&mut self, id: u64) -> anyhow::Result<()> {
        let config = NodeConfig::load(&self.config_path(id))?;
        let deadline = Instant::now() + Duration::from_secs(10);
        let node = loop {
            match Node::start(config.clone()).await {
                Ok(node) => break node,
                Err(error) if Instant::now() < deadline && error.to_string().contains("LOCK") => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(error) => return Err(error.into()),
            }
        };
        self.running.insert(id, Running::InProcess(node));
        Ok(())
    }

    /// Starts node `id` as a child process of the `gemtrail-test-node` binary.
    pub fn spawn_process(&mut self, id: u64, binary: &Path) -> anyhow::Result<()> {
        let mut command = Command::new(binary);
        command.arg(self.config_path(id));
        self.spawn_command(id, command)
    }

    /// Runs node `id` as a process of `binary` that may write no file past
    /// `kib` KiB (bash's `ulimit -f`, with SIGXFSZ ignored): a disk that
    /// refuses the node's writes, with nothing outside the process touched.
    pub fn spawn_process_with_file_limit(
        &mut self,
        id: u64,
        binary: &Path,
        kib: u64,
    ) -> anyhow::Result<()> {
        let mut command = Command::new("bash");
        command
            .arg("-c")
            .arg("trap '' XFSZ; ulimit -f \"$1\"; exec \"$0\" \"$2\"")
            .arg(binary)
            .arg(kib.to_string())
            .arg(self.config_path(id));
        self.spawn_command(id, command)
    }

    /// Whether node `id`'s process has exited, and how.
    pub fn exit_status(&mut self, id: u64) -> Option<std::process::ExitStatus> {
        match self.running.get_mut(&id) {
            Some(Running::Process(child)) => child.try_wait().ok().flatten(),
            _ => None,
        }
    }

    fn spawn_command(&mut self, id: u64, mut command: Command) -> anyhow::Result<()> {
        let log = std::fs::File::create(self.node_dir(id).join("node.log"))?;
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()?;
        self.running.insert(id, Running::Process(child));
        Ok(())
    }

    /// Writes the key and configuration of a node `id` that is not in the
    /// genesis (to be added by governance), on fresh loopback ports. Returns
    /// the node record to put in the `AddNode` transaction.
    pub fn prepare_joining_node(&mut self, id: u64) -> anyhow::Result<JoiningNode> {
        let node_dir = self.node_dir(id);
        std::fs::create_dir_all(&node_dir)?;
        let peer_id = keys::generate(&node_dir.join("node.key"))?;
        let ports = free_ports(2)?;
        let listen_addr = format!("/ip4/127.0.0.1/tcp/{}", ports[0]);
        let api_addr = format!("127.0.0.1:{}", ports[1]);
        let mut config = NodeConfig::new(
            PathBuf::from("../genesis.toml"),
            PathBuf::from("data"),
            PathBuf::from("node.key"),
        );
        config.node_id = Some(id);
        config.listen_addr = Some(listen_addr.clone());
        config.api_addr = Some(api_addr.parse()?);
        config.log.level = "warn".to_owned();
        config.save(&node_dir.join("node.toml"))?;
        self.api_addrs.insert(id, api_addr.clone());
        Ok(JoiningNode {
            record: gemtrail_ledger::model::NodeRecord {
                id: gemtrail_ledger::ids::NodeId(id),
                owner: OrgId::parse("retailer")?,
                peer_id: bounded(&peer_id.to_string())?,
                listen_addr: bounded(&listen_addr)?,
                api_addr: bounded(&api_addr)?,
            },
        })
    }

    /// Stops node `id` gracefully.
    pub async fn stop(&mut self, id: u64) {
        match self.running.remove(&id) {
            Some(Running::InProcess(node)) => node.stop().await,
            Some(Running::Process(mut child)) => {
                let _ = Command::new("kill")
                    .arg("-TERM")
                    .arg(child.id().to_string())
                    .status();
                let _ = wait_child(&mut child, Duration::from_secs(15));
            }
            None => {}
        }
    }

    /// Stops node `id` at once: in process, without draining; a process is
    /// killed with SIGKILL.
    pub async fn crash(&mut self, id: u64) {
        match self.running.remove(&id) {
            Some(Running::InProcess(node)) => node.halt().await,
            Some(Running::Process(mut child)) => {
                let _ = child.kill();
                let _ = child.wait();
            }
            None => {}
        }
    }

    /// Sends `signal` (`STOP`, `CONT`, ...) to node `id`'s process; false if
    /// it runs in this process or not at all.
    pub fn signal(&self, id: u64, signal: &str) -> bool {
        match self.running.get(&id) {
            Some(Running::Process(child)) => Command::new("kill")
                .arg(format!("-{signal}"))
                .arg(child.id().to_string())
                .status()
                .is_ok_and(|status| status.success()),
            _ => false,
        }
    }

    /// A client of node `id`, signing its requests as the auditor (which
    /// nodes with `api_access = "members"` require, and others ignore).
    pub fn client(&self, id: u64) -> NodeClient {
        let client = self.unsigned_client(id);
        let auditor = OrgId::parse("auditor").unwrap_or_else(|_| panic!("the auditor's id"));
        match self.sample.member_key(&auditor) {
            Some(key) => client.signing_as(auditor, key.clone()),
            None => client,
        }
    }

    /// A client of node `id` that signs nothing.
    pub fn unsigned_client(&self, id: u64) -> NodeClient {
        let addr = self.api_addrs.get(&id).cloned().unwrap_or_default();
        NodeClient::new(&addr).unwrap_or_else(|_| panic!("client of node {id}"))
    }

    /// The ids of the nodes running now.
    pub fn running_ids(&self) -> Vec<u64> {
        self.running.keys().copied().collect()
    }

    /// Waits until the running nodes agree on a leader among themselves.
    pub async fn wait_for_leader(&self) -> anyhow::Result<u64> {
        let deadline = Instant::now() + WAIT;
        loop {
            let mut leaders = Vec::new();
            for id in self.running_ids() {
                if let Ok(status) = self.client(id).status().await {
                    leaders.push(status.leader);
                }
            }
            if let Some(Some(leader)) = leaders.first() {
                let agreed = leaders.len() == self.running.len()
                    && leaders.iter().all(|seen| *seen == Some(*leader))
                    && self.running.contains_key(leader);
                if agreed {
                    return Ok(*leader);
                }
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "no leader within {WAIT:?}: {leaders:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until every running node has the same tip, at least `min_height`.
    pub async fn wait_converged(&self, min_height: u64) -> anyhow::Result<(u64, BlockHash)> {
        let deadline = Instant::now() + WAIT;
        loop {
            let mut tips = Vec::new();
            for id in self.running_ids() {
                match self.client(id).status().await {
                    Ok(status) => tips.push((status.height, status.tip_hash)),
                    Err(_) => tips.clear(),
                }
            }
            if tips.len() == self.running.len()
                && tips.iter().all(|tip| *tip == tips[0])
                && tips[0].0 >= min_height
            {
                return Ok(tips[0]);
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "nodes did not converge within {WAIT:?}: {tips:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A transaction by `member`, signed with its sample key.
    pub fn tx(&self, member: &str, nonce: u64, action: Action) -> SignedTransaction {
        let org = OrgId::parse(member).unwrap_or_else(|_| panic!("member id {member}"));
        let key = self
            .sample
            .member_key(&org)
            .unwrap_or_else(|| panic!("no sample member {member}"));
        Transaction {
            chain_id: self.genesis.chain_id().clone(),
            signer: org,
            nonce,
            action,
        }
        .sign(key)
    }

    /// The sample consortium (for keys).
    pub fn sample(&self) -> &SampleConsortium {
        &self.sample
    }

    /// Node `id` running in process, if it is.
    pub fn node(&self, id: u64) -> Option<&Node> {
        match self.running.get(&id) {
            Some(Running::InProcess(node)) => Some(node),
            _ => None,
        }
    }

    /// Starts `workers` clients, spread over the nodes `targets`, each
    /// submitting up to `per_worker` registrations (stone ids `PREFIX-w-n`)
    /// one after another, each waiting for its receipt, until stopped.
    pub fn start_load(&self, targets: &[u64], workers: u64, per_worker: u64, prefix: &str) -> Load {
        let mut load = Load {
            stop: Arc::new(AtomicBool::new(false)),
            acknowledged: Arc::new(Mutex::new(Vec::new())),
            workers: Vec::new(),
        };
        for worker in 0..workers {
            let target = targets[(worker as usize) % targets.len().max(1)];
            let client = self.client(target);
            let txs: Vec<SignedTransaction> = (0..per_worker)
                .map(|n| {
                    self.tx(
                        "miner",
                        worker * 10_000 + n,
                        register(&format!("{prefix}-{worker}-{n}")),
                    )
                })
                .collect();
            let stop = Arc::clone(&load.stop);
            let acknowledged = Arc::clone(&load.acknowledged);
            load.workers.push(tokio::spawn(async move {
                for tx in txs {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    match client.submit(&tx, true).await {
                        Ok(answer) if answer.status == SubmitStatus::Committed => {
                            let outcome = answer.receipt.map(|receipt| receipt.outcome);
                            if outcome != Some(Outcome::Applied) {
                                return Err(format!("{} committed as {outcome:?}", tx.id()));
                            }
                            lock(&acknowledged).push(tx.id());
                        }
                        // Not acknowledged (say, in flight when a node died):
                        // tests hold the cluster only to what it acknowledged.
                        Ok(_) | Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
                    }
                }
                Ok(())
            }));
        }
        load
    }

    /// Stops every node gracefully.
    pub async fn shutdown(mut self) {
        for id in self.running_ids() {
            self.stop(id).await;
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for running in self.running.values_mut() {
            if let Running::Process(child) = running {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

/// Clients submitting under load (see [`Cluster::start_load`]).
#[derive(Debug)]
pub struct Load {
    stop: Arc<AtomicBool>,
    acknowledged: Arc<Mutex<Vec<TxId>>>,
    workers: Vec<tokio::task::JoinHandle<Result<(), String>>>,
}

fn lock<T>(shared: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    shared
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Load {
    /// How many transactions have been acknowledged as committed so far.
    pub fn acknowledged_count(&self) -> usize {
        lock(&self.acknowledged).len()
    }

    /// Stops the clients, waits for them, and returns every transaction
    /// acknowledged as committed (and applied).
    pub async fn stop(self) -> anyhow::Result<Vec<TxId>> {
        self.stop.store(true, Ordering::Relaxed);
        for worker in self.workers {
            worker.await?.map_err(anyhow::Error::msg)?;
        }
        Ok(lock(&self.acknowledged).clone())
    }
}

fn bounded<const MAX: usize>(
    value: &str,
) -> anyhow::Result<gemtrail_ledger::codec::BoundedString<MAX>> {
    gemtrail_ledger::codec::BoundedString::new(value)
        .map_err(|error| anyhow::anyhow!("{value}: {error}"))
}

fn wait_child(child: &mut Child, limit: Duration) -> std::io::Result<()> {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if child.try_wait()?.is_some() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill()?;
    child.wait().map(|_| ())
}

/// A register-stone action for a fresh stone `id`, from the ledger testkit.
pub fn register(id: &str) -> Action {
    gemtrail_ledger::testkit::register(id, 150)
}

/// Installs a test log subscriber once (warnings only, unless `RUST_LOG`).
pub fn init_logs() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_test_writer()
        .try_init();
}
