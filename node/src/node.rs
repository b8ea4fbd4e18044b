//! Starting and stopping a node.
//!
//! [`Node::start`] checks the configuration against the genesis and the data
//! directory, opens the ledger and the Raft log, starts the swarm, Raft, the
//! mempool pump, the ledger feed, the membership reconciler and the API, and
//! returns a [`Node`] to stop it. [`Node::stop`] is the graceful path: no new
//! submissions, the mempool drains into blocks (bounded by the grace period),
//! then every task stops and Raft shuts down. Acknowledged (committed)
//! transactions are safe at any moment: the Raft log is synced before an
//! entry counts as committed.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use gemtrail_consensus::network::TransportNetwork;
use gemtrail_consensus::types::{NodeInfo, RaftNodeId};
use gemtrail_consensus::{LedgerStateMachine, RocksLogStore};
use gemtrail_genesis::ValidGenesis;
use gemtrail_ledger::crypto::SecretKey;
use gemtrail_ledger::ids::NodeId;
use gemtrail_ledger::store::StoreOptions;
use gemtrail_ledger::StoreError;
use libp2p::{Multiaddr, PeerId};
use openraft::{Config, Raft, SnapshotPolicy};
use serde::{Deserialize, Serialize};
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;

use crate::admission::Door;
use crate::api::{self, ApiState};
use crate::certify::{Certifier, CertifierParts};
use crate::commits::CommitWatch;
use crate::config::NodeConfig;
use crate::directory::{node_info, Directory, NodeDirectory};
use crate::feed::Feed;
use crate::membership;
use crate::mempool::Mempool;
use crate::metrics::Metrics;
use crate::p2p::inbound::{inbound_queue, InboundCalls, PeerService};
use crate::p2p::swarm::{self, P2pHandle, SwarmSettings};
use crate::p2p::transport::P2pTransport;
use crate::p2p::wire::APPEND_ENTRIES_MAX;
use crate::pump::{Batching, Pump};
use crate::raft::RaftHandle;
use crate::shutdown::{self, Shutdown, Trigger};
use crate::signatures::SignatureVerifier;
use crate::{keys, snapshots};

/// Name of the file in the data directory that ties it to one chain and node.
pub const IDENTITY_FILE: &str = "node-identity.json";
/// Default number of proposals in flight.
pub const PIPELINE_DEFAULT: usize = 4;
/// Most proposals in flight a configuration may ask for.
pub const PIPELINE_MAX: usize = 1024;
/// Room kept in a peer message beyond a proposal's transactions.
const PROPOSAL_OVERHEAD_BYTES: u64 = 64 * 1024;

/// Why a node could not start. Each message says what to fix.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The API's TLS certificate or key cannot be used.
    #[error("API TLS: {0}")]
    Tls(#[from] crate::tls::TlsError),
    /// A page locale embedded at build time is unusable (a build defect).
    #[error("web pages: {0}")]
    Locales(#[from] gemtrail_web::LocaleError),
    /// The genesis file is missing or invalid.
    #[error("genesis file {path}: {source}")]
    Genesis {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        source: gemtrail_genesis::GenesisError,
    },
    /// The node key could not be read.
    #[error(transparent)]
    Key(#[from] keys::KeyError),
    /// The node key is not an ed25519 key, so it cannot sign checkpoints.
    #[error("the node key is not an ed25519 key; create one with `gemtrail node init`")]
    NotEd25519,
    /// The key's peer id is not a genesis node and no node id was configured.
    #[error("this node's peer id {peer_id} is not among the genesis nodes; add it to the genesis, or set `node_id`, `listen_addr` and `api_addr` to join by governance")]
    NotAGenesisNode {
        /// The key's peer id.
        peer_id: PeerId,
    },
    /// The configured node id disagrees with the key.
    #[error("node_id {configured} is configured, but genesis node {configured} has peer id {expected}, not this key's {actual}")]
    NodeIdMismatch {
        /// The configured id.
        configured: u64,
        /// The genesis peer id of that node.
        expected: String,
        /// This key's peer id.
        actual: PeerId,
    },
    /// A joining node lacks an address.
    #[error("a node that is not in the genesis must set `{field}` in its configuration")]
    MissingAddress {
        /// The field.
        field: &'static str,
    },
    /// An address does not parse.
    #[error("invalid {field} {value:?}: {reason}")]
    BadAddress {
        /// Which address.
        field: &'static str,
        /// Its text.
        value: String,
        /// Why.
        reason: String,
    },
    /// The data directory belongs to another chain or node.
    #[error("data directory {data_dir} belongs to {found}, not to {expected}; point `data_dir` at this node's own directory or an empty one")]
    DataDirMismatch {
        /// The directory.
        data_dir: PathBuf,
        /// What it belongs to.
        found: String,
        /// What this configuration is.
        expected: String,
    },
    /// The data directory could not be used.
    #[error("data directory {path}: {reason}")]
    DataDir {
        /// The path.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The ledger store could not be opened (or holds another chain).
    #[error("ledger in {path}: {reason}")]
    Ledger {
        /// The path.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The Raft log could not be opened.
    #[error("Raft log in {path}: {reason}")]
    RaftLog {
        /// The path.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The network could not start.
    #[error(transparent)]
    Network(#[from] crate::p2p::SwarmError),
    /// Raft could not start.
    #[error("Raft could not start: {0}")]
    Raft(String),
    /// The API address could not be bound.
    #[error("cannot listen for the API on {addr}: {source}")]
    Api {
        /// The address.
        addr: SocketAddr,
        /// What the OS said.
        source: std::io::Error,
    },
}

/// What a data directory belongs to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Identity {
    chain_id: String,
    genesis_hash: String,
    node_id: u64,
    peer_id: String,
}

impl std::fmt::Display for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "node {} ({}) of chain {} (genesis {})",
            self.node_id, self.peer_id, self.chain_id, self.genesis_hash
        )
    }
}

/// Creates the data directory or checks that it is this node's.
fn claim_data_dir(data_dir: &Path, identity: &Identity) -> Result<(), StartError> {
    let dir_error = |reason: String| StartError::DataDir {
        path: data_dir.to_owned(),
        reason,
    };
    std::fs::create_dir_all(data_dir).map_err(|error| dir_error(error.to_string()))?;
    let path = data_dir.join(IDENTITY_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let found: Identity = serde_json::from_str(&text)
                .map_err(|error| dir_error(format!("{IDENTITY_FILE} is unreadable: {error}")))?;
            if &found != identity {
                return Err(StartError::DataDirMismatch {
                    data_dir: data_dir.to_owned(),
                    found: found.to_string(),
                    expected: identity.to_string(),
                });
            }
            Ok(())
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            let has_data = ["ledger", "raft"]
                .iter()
                .any(|name| data_dir.join(name).exists());
            if has_data {
                return Err(dir_error(format!(
                    "it holds node data but no {IDENTITY_FILE}; refusing to guess whose it is"
                )));
            }
            let text = serde_json::to_string_pretty(identity)
                .map_err(|error| dir_error(error.to_string()))?;
            std::fs::write(&path, text).map_err(|error| dir_error(error.to_string()))
        }
        Err(error) => Err(dir_error(error.to_string())),
    }
}

/// Who this node is: its id and addresses, from the genesis or the config.
struct Whoami {
    id: RaftNodeId,
    listen_addr: Multiaddr,
    api_addr: SocketAddr,
    in_genesis: bool,
}

fn whoami(config: &NodeConfig, genesis: &ValidGenesis, peer: PeerId) -> Result<Whoami, StartError> {
    let in_genesis = genesis
        .peer_ids()
        .iter()
        .find(|(_, genesis_peer)| **genesis_peer == peer)
        .map(|(id, _)| id.0);
    let id = match (config.node_id, in_genesis) {
        (Some(configured), Some(found)) if configured != found => {
            return Err(StartError::NodeIdMismatch {
                configured,
                expected: genesis
                    .node(gemtrail_ledger::ids::NodeId(configured))
                    .map_or_else(|| "none".to_owned(), |node| node.peer_id.to_string()),
                actual: peer,
            })
        }
        (_, Some(found)) => found,
        (Some(configured), None) => {
            if let Some(node) = genesis.node(gemtrail_ledger::ids::NodeId(configured)) {
                return Err(StartError::NodeIdMismatch {
                    configured,
                    expected: node.peer_id.to_string(),
                    actual: peer,
                });
            }
            configured
        }
        (None, None) => return Err(StartError::NotAGenesisNode { peer_id: peer }),
    };
    let record = genesis.node(gemtrail_ledger::ids::NodeId(id));
    let listen_text = match (&config.listen_addr, record) {
        (Some(addr), _) => addr.clone(),
        (None, Some(record)) => record.listen_addr.to_string(),
        (None, None) => {
            return Err(StartError::MissingAddress {
                field: "listen_addr",
            })
        }
    };
    let api_addr = match (config.api_addr, record) {
        (Some(addr), _) => addr,
        (None, Some(record)) => {
            record
                .api_addr
                .as_str()
                .parse()
                .map_err(|error: std::net::AddrParseError| StartError::BadAddress {
                    field: "api_addr",
                    value: record.api_addr.to_string(),
                    reason: error.to_string(),
                })?
        }
        (None, None) => return Err(StartError::MissingAddress { field: "api_addr" }),
    };
    let listen_addr = listen_text
        .parse()
        .map_err(|error: libp2p::multiaddr::Error| StartError::BadAddress {
            field: "listen_addr",
            value: listen_text.clone(),
            reason: error.to_string(),
        })?;
    Ok(Whoami {
        id,
        listen_addr,
        api_addr,
        in_genesis: in_genesis.is_some(),
    })
}

/// The openraft configuration from the genesis consensus parameters.
pub fn raft_config(genesis: &ValidGenesis) -> Result<Config, StartError> {
    let consensus = genesis.consensus();
    let limits = genesis.limits();
    let interval = snapshots::interval(genesis);
    Config {
        cluster_name: genesis.chain_id().to_string(),
        heartbeat_interval: consensus.heartbeat_interval_ms,
        election_timeout_min: consensus.election_timeout_min_ms,
        election_timeout_max: consensus.election_timeout_max_ms,
        // Each node triggers its own snapshots, staggered (see `snapshots`).
        snapshot_policy: SnapshotPolicy::Never,
        // Keep one interval of log behind a snapshot: a follower that lags
        // less catches up from the log; one that lags more gets the snapshot.
        max_in_snapshot_log_to_keep: interval,
        max_payload_entries: APPEND_ENTRIES_MAX as u64,
        // Bounds a whole snapshot transfer, chunk by chunk.
        install_snapshot_timeout: limits.request_timeout_ms.saturating_mul(6),
        ..Config::default()
    }
    .validate()
    .map_err(|error| StartError::Raft(error.to_string()))
}

/// A running node.
#[derive(Debug)]
pub struct Node {
    id: RaftNodeId,
    raft: RaftHandle,
    door: Door,
    mempool: Arc<Mempool>,
    trigger: Trigger,
    tasks: Vec<JoinHandle<()>>,
    api_addr: SocketAddr,
    grace: Duration,
    failure: watch::Receiver<Option<String>>,
}

/// The stores a node opens in its data directory.
struct Stores {
    ledger: LedgerStateMachine,
    log_store: RocksLogStore,
}

/// The parts every task is built from.
struct Parts {
    genesis: ValidGenesis,
    raft: RaftHandle,
    ledger: LedgerStateMachine,
    door: Door,
    certifier: Certifier,
    shared: Shared,
    request_timeout: Duration,
    shutdown: Shutdown,
}

/// What the API, the pump and the feed all use: the mempool, the commit
/// waiters, the metrics, the swarm and the consortium's nodes. Each is a
/// handle, so a clone is cheap and sees the same thing.
#[derive(Clone, Debug)]
pub(crate) struct Shared {
    pub(crate) mempool: Arc<Mempool>,
    pub(crate) commits: Arc<CommitWatch>,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) p2p: P2pHandle,
    pub(crate) directory: Directory,
}

impl Node {
    /// Starts a node from its configuration (see the module docs): who it
    /// is, its stores, the swarm, Raft, then the tasks and the API.
    pub async fn start(config: NodeConfig) -> Result<Node, StartError> {
        let genesis =
            ValidGenesis::load(&config.genesis).map_err(|source| StartError::Genesis {
                path: config.genesis.clone(),
                source,
            })?;
        let keypair = keys::load(&config.node_key)?;
        let signing_key = keys::signing_key(&keypair).ok_or(StartError::NotEd25519)?;
        let peer = keypair.public().to_peer_id();
        let me = whoami(&config, &genesis, peer)?;
        claim_data_dir(&config.data_dir, &Identity::of(&genesis, me.id, peer))?;
        let Stores { ledger, log_store } = open_stores(&config.data_dir, &genesis)?;

        let limits = *genesis.limits();
        let request_timeout = Duration::from_millis(limits.request_timeout_ms);
        let directory =
            Directory::new(ledger.read(|store| NodeDirectory::new(&store.membership().nodes)));
        let (trigger, shutdown) = shutdown::channel();
        let (inbound, inbound_calls) = inbound_queue();
        let settings = SwarmSettings {
            listen_addr: me.listen_addr.clone(),
            message_bytes_max: limits.peer_message_bytes_max,
            request_timeout,
            connections_max: u32::try_from(config.limits.peer_connections_max).unwrap_or(u32::MAX),
        };
        let allow_list = directory.read(NodeDirectory::allow_list);
        let (p2p, swarm_task) =
            swarm::spawn(keypair, settings, allow_list, inbound, shutdown.clone()).await?;
        let transport = P2pTransport::new(p2p.clone(), directory.clone(), &limits, request_timeout);
        let raft = start_raft(me.id, &genesis, transport, log_store, &ledger).await?;
        let parts = Parts::new(genesis, raft, ledger, p2p, directory, signing_key, shutdown);
        initialize_if_new(&parts, me.in_genesis).await?;

        let listener = api::bind(me.api_addr)
            .await
            .map_err(|source| StartError::Api {
                addr: me.api_addr,
                source,
            })?;
        let api_addr = api::local_addr(&listener).unwrap_or(me.api_addr);
        let tls = api_tls(&config, api_addr)?;
        let pages = api::Pages::new(config.public_url.as_deref(), api_addr, tls.is_some())?;
        let mut tasks = vec![swarm_task];
        tasks.extend(parts.spawn_tasks(&config, inbound_calls, listener, pages, tls));
        let failure = parts.certifier.failure();
        tracing::info!(
            node = me.id,
            %peer,
            listen = %me.listen_addr,
            api = %api_addr,
            chain = %parts.genesis.chain_id(),
            height = parts.ledger.read(|store| store.tip().height),
            "node started"
        );
        Ok(Node {
            id: me.id,
            raft: parts.raft,
            door: parts.door,
            mempool: parts.shared.mempool,
            trigger,
            tasks,
            api_addr,
            grace: Duration::from_millis(config.limits.shutdown_grace_ms),
            failure,
        })
    }

    /// Resolves, with the reason, once this node must stop: a majority of
    /// the nodes certified another block than one it applied, or Raft
    /// stopped on a fatal error (a storage failure: a full disk, a
    /// corrupted store). A node in either state would go on answering with
    /// stale state, so its process should exit and its supervisor restart
    /// it. Never resolves on a healthy node.
    pub async fn failed(&mut self) -> String {
        let mut raft = self.raft.raft.metrics();
        let mut certifier_gone = false;
        loop {
            if let Some(reason) = self.failure.borrow_and_update().clone() {
                return reason;
            }
            if let Err(fatal) = &raft.borrow_and_update().running_state {
                return format!("Raft stopped: {fatal}");
            }
            tokio::select! {
                changed = self.failure.changed(), if !certifier_gone => {
                    // The certifier is gone (the node is stopping): no
                    // fork will be reported.
                    certifier_gone = changed.is_err();
                }
                changed = raft.changed() => {
                    if changed.is_err() {
                        return "Raft stopped".to_owned();
                    }
                }
            }
        }
    }

    /// The address the API listens on.
    pub fn api_addr(&self) -> SocketAddr {
        self.api_addr
    }

    /// Graceful stop: refuse new submissions, let the mempool drain into
    /// blocks for up to the grace period, then stop every task and Raft.
    pub async fn stop(self) {
        self.door.stop_accepting();
        let deadline = Instant::now() + self.grace;
        while !self.mempool.is_empty() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let left = self.mempool.len();
        if left > 0 {
            tracing::warn!(left, "stopping with transactions not yet ordered");
        }
        self.halt().await;
    }

    /// Immediate stop: no draining (the in-process stand-in for a crash in
    /// tests, except that files are closed cleanly).
    pub async fn halt(self) {
        self.trigger.fire();
        if let Err(error) = self.raft.raft.shutdown().await {
            tracing::warn!(%error, "Raft did not shut down cleanly");
        }
        for task in self.tasks {
            let _ended = tokio::time::timeout(Duration::from_secs(5), task).await;
        }
        tracing::info!(node = self.id, "node stopped");
    }
}

impl Identity {
    fn of(genesis: &ValidGenesis, node_id: RaftNodeId, peer: PeerId) -> Self {
        Identity {
            chain_id: genesis.chain_id().to_string(),
            genesis_hash: genesis.hash().to_string(),
            node_id,
            peer_id: peer.to_string(),
        }
    }
}

/// Opens the ledger and the Raft log in `data_dir`.
fn open_stores(data_dir: &Path, genesis: &ValidGenesis) -> Result<Stores, StartError> {
    let ledger_path = data_dir.join("ledger");
    // Ledger writes need not be synced: after a crash Raft re-applies every
    // entry after the applied marker from its own synced log.
    let ledger = LedgerStateMachine::open(
        &ledger_path,
        &data_dir.join("snapshots"),
        &genesis.ledger_genesis(),
        StoreOptions { sync_writes: false },
    )
    .map_err(|error| StartError::Ledger {
        path: ledger_path.clone(),
        reason: match error {
            gemtrail_consensus::StateMachineError::Store {
                source: source @ StoreError::WrongGenesis { .. },
                ..
            } => format!("{source}; this data directory belongs to another chain"),
            other => other.to_string(),
        },
    })?;
    let raft_path = data_dir.join("raft");
    let log_store = RocksLogStore::open(&raft_path).map_err(|error| StartError::RaftLog {
        path: raft_path.clone(),
        reason: error.to_string(),
    })?;
    Ok(Stores { ledger, log_store })
}

async fn start_raft(
    id: RaftNodeId,
    genesis: &ValidGenesis,
    transport: P2pTransport,
    log_store: RocksLogStore,
    ledger: &LedgerStateMachine,
) -> Result<RaftHandle, StartError> {
    let raft = Raft::new(
        id,
        Arc::new(raft_config(genesis)?),
        TransportNetwork::new(id, transport),
        log_store,
        ledger.clone(),
    )
    .await
    .map_err(|error| StartError::Raft(error.to_string()))?;
    Ok(RaftHandle { id, raft })
}

/// On first start, a genesis node proposes the genesis membership. Every
/// genesis node proposes the same one; openraft lets the first that wins an
/// election go on and the others join it.
async fn initialize_if_new(parts: &Parts, in_genesis: bool) -> Result<(), StartError> {
    let initialized = parts
        .raft
        .raft
        .is_initialized()
        .await
        .map_err(|error| StartError::Raft(error.to_string()))?;
    if initialized || !in_genesis {
        return Ok(());
    }
    let genesis_nodes: BTreeMap<RaftNodeId, NodeInfo> = parts
        .genesis
        .membership()
        .nodes
        .iter()
        .filter_map(|(id, record)| Some((id.0, node_info(record)?)))
        .collect();
    if let Err(error) = parts.raft.raft.initialize(genesis_nodes).await {
        tracing::debug!(%error, "Raft already initialised elsewhere");
    }
    Ok(())
}

/// The batching in force: the genesis values, with the configuration's
/// local overrides.
/// The API server's bounds from the node's local limits.
fn api_serve_limits(
    config: &NodeConfig,
    metrics: &Metrics,
    tls: Option<tokio_rustls::TlsAcceptor>,
) -> api::ServeLimits {
    api::ServeLimits {
        open: metrics.api_connections_open.clone(),
        connections_max: usize::try_from(config.limits.api_connections_max).unwrap_or(usize::MAX),
        header_read_timeout: Duration::from_millis(config.limits.api_header_read_timeout_ms),
        tls,
    }
}

/// The API's TLS acceptor when `[tls]` is configured; without it, a warning
/// if the API is reachable from beyond this machine.
fn api_tls(
    config: &NodeConfig,
    api_addr: std::net::SocketAddr,
) -> Result<Option<tokio_rustls::TlsAcceptor>, StartError> {
    if !api_addr.ip().is_loopback() && config.api_access == crate::config::ApiAccess::Open {
        tracing::warn!(
            %api_addr,
            "the API listens beyond this machine with api_access = \"open\": anyone who reaches it reads every stone; set api_access = \"members\""
        );
    }
    let Some(tls) = &config.tls else {
        if !api_addr.ip().is_loopback() {
            tracing::warn!(
                %api_addr,
                "the API listens beyond this machine without TLS: requests, answers and signatures cross the network in clear; set [tls] in node.toml (`gemtrail node init --tls` makes a pair)"
            );
        }
        return Ok(None);
    };
    let server = crate::tls::server_config(&tls.cert_file, &tls.key_file)?;
    Ok(Some(tokio_rustls::TlsAcceptor::from(server)))
}

fn batching(config: &NodeConfig, genesis: &ValidGenesis) -> Batching {
    let consensus = genesis.consensus();
    let max_txs = config
        .batching
        .max_txs
        .unwrap_or(consensus.batch_max_txs)
        .clamp(1, gemtrail_ledger::model::BLOCK_TRANSACTIONS_MAX as u64);
    let timeout_ms = config
        .batching
        .timeout_ms
        .unwrap_or(consensus.batch_timeout_ms);
    Batching {
        max_txs: usize::try_from(max_txs).unwrap_or(1),
        timeout: Duration::from_millis(timeout_ms),
        max_bytes: (genesis.limits().peer_message_bytes_max / 2)
            .saturating_sub(PROPOSAL_OVERHEAD_BYTES)
            .max(1),
        pipeline_max: config
            .batching
            .pipeline_max
            .map_or(PIPELINE_DEFAULT, |max| {
                usize::try_from(max).unwrap_or(PIPELINE_DEFAULT)
            }),
    }
}

impl Parts {
    fn new(
        genesis: ValidGenesis,
        raft: RaftHandle,
        ledger: LedgerStateMachine,
        p2p: P2pHandle,
        directory: Directory,
        node_key: SecretKey,
        shutdown: Shutdown,
    ) -> Self {
        let limits = *genesis.limits();
        let request_timeout = Duration::from_millis(limits.request_timeout_ms);
        let metrics = Arc::new(Metrics::new());
        let certifier = Certifier::new(CertifierParts {
            chain_id: genesis.chain_id().clone(),
            me: NodeId(raft.id),
            key: node_key,
            clock_skew_ms_max: genesis.consensus().checkpoint_clock_skew_ms_max,
            ledger: ledger.clone(),
            p2p: p2p.clone(),
            directory: directory.clone(),
            metrics: Arc::clone(&metrics),
            request_timeout,
        });
        let mempool = Arc::new(Mempool::new(
            usize::try_from(limits.mempool_txs_max).unwrap_or(usize::MAX),
        ));
        let door = Door::new(
            genesis.chain_id().clone(),
            ledger.clone(),
            Arc::clone(&mempool),
            SignatureVerifier::start(),
        );
        Self {
            genesis,
            raft,
            ledger,
            door,
            certifier,
            shared: Shared {
                mempool,
                commits: Arc::default(),
                metrics,
                p2p,
                directory,
            },
            request_timeout,
            shutdown,
        }
    }

    /// Starts the API, the peer service, the pump, the feed, the membership
    /// reconciler and the snapshot trigger, each with only what it uses.
    fn spawn_tasks(
        &self,
        config: &NodeConfig,
        inbound_calls: InboundCalls,
        listener: tokio::net::TcpListener,
        pages: api::Pages,
        tls: Option<tokio_rustls::TlsAcceptor>,
    ) -> Vec<JoinHandle<()>> {
        let membership_changed = Arc::new(Notify::new());
        let router = api::router(
            Arc::new(self.api_state(config, pages)),
            usize::try_from(config.limits.api_concurrency_max).unwrap_or(usize::MAX),
        );
        let peers = PeerService::new(
            self.raft.clone(),
            self.ledger.clone(),
            self.shared.directory.clone(),
            self.door.clone(),
            self.certifier.clone(),
            Arc::clone(&self.shared.metrics),
        );
        vec![
            tokio::spawn(api::serve(
                listener,
                router,
                api_serve_limits(config, &self.shared.metrics, tls),
                self.shutdown.clone(),
            )),
            tokio::spawn(peers.serve(inbound_calls, self.shutdown.clone())),
            tokio::spawn(Arc::new(self.pump(config)).run()),
            tokio::spawn(self.feed().run(Arc::clone(&membership_changed))),
            tokio::spawn(self.certifier.clone().run(self.shutdown.clone())),
            tokio::spawn(membership::reconcile(
                self.raft.clone(),
                self.shared.directory.clone(),
                membership_changed,
                self.shutdown.clone(),
            )),
            tokio::spawn(snapshots::run(
                self.raft.clone(),
                snapshots::interval(&self.genesis),
                self.shutdown.clone(),
            )),
        ]
    }

    fn api_state(&self, config: &NodeConfig, pages: api::Pages) -> ApiState {
        ApiState {
            ledger_genesis: self.genesis.ledger_genesis(),
            pages,
            access: config.api_access,
            nonces: api::Nonces::default(),
            genesis: self.genesis.clone(),
            raft: self.raft.clone(),
            ledger: self.ledger.clone(),
            door: self.door.clone(),
            certifier: self.certifier.clone(),
            shared: self.shared.clone(),
            request_timeout: self.request_timeout,
            body_grace: Duration::from_millis(config.limits.api_header_read_timeout_ms),
        }
    }

    fn pump(&self, config: &NodeConfig) -> Pump {
        Pump {
            raft: self.raft.clone(),
            batching: batching(config, &self.genesis),
            shared: self.shared.clone(),
            shutdown: self.shutdown.clone(),
            request_timeout: self.request_timeout,
        }
    }

    fn feed(&self) -> Feed {
        Feed {
            ledger: self.ledger.clone(),
            raft: self.raft.clone(),
            shared: self.shared.clone(),
            shutdown: self.shutdown.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gemtrail_genesis::sample::SampleConsortium;

    fn config() -> NodeConfig {
        NodeConfig::new("g.toml".into(), "data".into(), "n.key".into())
    }

    #[test]
    fn a_key_outside_the_genesis_needs_a_node_id_and_addresses() {
        let sample = SampleConsortium::generate_from_seed([3; 32], "start-test", 7000).unwrap();
        let stranger = libp2p::identity::Keypair::generate_ed25519()
            .public()
            .to_peer_id();
        let error = whoami(&config(), sample.genesis(), stranger).err().unwrap();
        assert!(
            error.to_string().starts_with(&format!(
                "this node's peer id {stranger} is not among the genesis nodes"
            )),
            "{error}"
        );
        let mut joining = config();
        joining.node_id = Some(9);
        let error = whoami(&joining, sample.genesis(), stranger).err().unwrap();
        assert_eq!(
            error.to_string(),
            "a node that is not in the genesis must set `listen_addr` in its configuration"
        );
    }

    #[test]
    fn a_data_dir_of_the_previous_store_format_is_refused_with_what_to_do() {
        use gemtrail_ledger::store::schema;
        let sample = SampleConsortium::generate_from_seed([3; 32], "format-test", 7000).unwrap();
        let dir = tempfile::tempdir().unwrap();
        drop(open_stores(dir.path(), sample.genesis()).ok().unwrap());
        // A format-1 store is one without the format key.
        let ledger = dir.path().join("ledger");
        let db =
            rocksdb::DB::open_cf(&rocksdb::Options::default(), &ledger, schema::COLUMNS).unwrap();
        db.delete_cf(db.cf_handle(schema::META).unwrap(), schema::META_FORMAT)
            .unwrap();
        drop(db);
        let error = open_stores(dir.path(), sample.genesis()).err().unwrap();
        let text = error.to_string();
        assert!(
            text.contains("ledger of store format 1")
                && text.contains("start on an empty data dir and the node catches up"),
            "{text}"
        );
    }

    #[test]
    fn a_node_id_that_belongs_to_another_key_is_refused() {
        let sample = SampleConsortium::generate_from_seed([3; 32], "start-test", 7000).unwrap();
        let node_two = sample.genesis().peer_ids()[&gemtrail_ledger::ids::NodeId(2)];
        let mut claims_one = config();
        claims_one.node_id = Some(1);
        let error = whoami(&claims_one, sample.genesis(), node_two)
            .err()
            .unwrap();
        assert!(
            error
                .to_string()
                .starts_with("node_id 1 is configured, but genesis node 1 has peer id"),
            "{error}"
        );
        let me = whoami(&config(), sample.genesis(), node_two).ok().unwrap();
        assert_eq!(me.id, 2);
        assert!(me.in_genesis);
    }
}
