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
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use gemtrail_consensus::network::TransportNetwork;
use gemtrail_consensus::types::{NodeInfo, RaftNodeId};
use gemtrail_consensus::{LedgerStateMachine, RocksLogStore};
use gemtrail_genesis::ValidGenesis;
use gemtrail_ledger::store::StoreOptions;
use gemtrail_ledger::StoreError;
use libp2p::{Multiaddr, PeerId};
use openraft::{Config, Raft, SnapshotPolicy};
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use crate::commits::CommitWatch;
use crate::config::NodeConfig;
use crate::context::{node_info, Batching, NodeContext, NodeDirectory};
use crate::mempool::Mempool;
use crate::metrics::Metrics;
use crate::p2p::inbound::PeerService;
use crate::p2p::swarm::{self, SwarmSettings};
use crate::p2p::transport::P2pTransport;
use crate::p2p::wire::APPEND_ENTRIES_MAX;
use crate::shutdown::{self, Trigger};
use crate::signatures::SignatureVerifier;
use crate::{api, feed, keys, pump, snapshots};

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
    Network(#[from] swarm::SwarmError),
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
    context: Arc<NodeContext>,
    trigger: Trigger,
    tasks: Vec<JoinHandle<()>>,
    api_addr: SocketAddr,
    grace: Duration,
}

impl Node {
    /// Starts a node from its configuration (see the module docs).
    pub async fn start(config: NodeConfig) -> Result<Node, StartError> {
        let genesis =
            ValidGenesis::load(&config.genesis).map_err(|source| StartError::Genesis {
                path: config.genesis.clone(),
                source,
            })?;
        let keypair = keys::load(&config.node_key)?;
        let peer = keypair.public().to_peer_id();
        let me = whoami(&config, &genesis, peer)?;
        let identity = Identity {
            chain_id: genesis.chain_id().to_string(),
            genesis_hash: genesis.hash().to_string(),
            node_id: me.id,
            peer_id: peer.to_string(),
        };
        claim_data_dir(&config.data_dir, &identity)?;

        let ledger_path = config.data_dir.join("ledger");
        // Ledger writes need not be synced: after a crash Raft re-applies every
        // entry after the applied marker from its own synced log.
        let ledger = LedgerStateMachine::open(
            &ledger_path,
            &config.data_dir.join("snapshots"),
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
        let raft_path = config.data_dir.join("raft");
        let log_store = RocksLogStore::open(&raft_path).map_err(|error| StartError::RaftLog {
            path: raft_path.clone(),
            reason: error.to_string(),
        })?;

        let limits = *genesis.limits();
        let request_timeout = Duration::from_millis(limits.request_timeout_ms);
        let directory = ledger.read(|store| NodeDirectory::new(&store.membership().nodes));
        let (trigger, shutdown) = shutdown::channel();
        let service = PeerService::default();
        let (p2p, swarm_task) = swarm::spawn(
            keypair,
            SwarmSettings {
                listen_addr: me.listen_addr.clone(),
                message_bytes_max: limits.peer_message_bytes_max,
                request_timeout,
                connections_max: u32::try_from(config.limits.peer_connections_max)
                    .unwrap_or(u32::MAX),
            },
            directory.allow_list(),
            service.clone(),
            shutdown.clone(),
        )
        .await?;

        let transport = P2pTransport::new(
            p2p.clone(),
            limits.peer_message_bytes_max,
            limits.snapshot_chunk_bytes_max,
            request_timeout,
        );
        let raft = Raft::new(
            me.id,
            Arc::new(raft_config(&genesis)?),
            TransportNetwork::new(me.id, transport),
            log_store,
            ledger.clone(),
        )
        .await
        .map_err(|error| StartError::Raft(error.to_string()))?;

        let consensus = genesis.consensus();
        let max_txs = config
            .batching
            .max_txs
            .unwrap_or(consensus.batch_max_txs)
            .clamp(1, gemtrail_ledger::model::BLOCK_TRANSACTIONS_MAX as u64);
        let batching = Batching {
            max_txs: usize::try_from(max_txs).unwrap_or(1),
            timeout: Duration::from_millis(
                config
                    .batching
                    .timeout_ms
                    .unwrap_or(consensus.batch_timeout_ms),
            ),
            max_bytes: (limits.peer_message_bytes_max / 2)
                .saturating_sub(PROPOSAL_OVERHEAD_BYTES)
                .max(1),
            pipeline_max: config
                .batching
                .pipeline_max
                .map_or(PIPELINE_DEFAULT, |max| {
                    usize::try_from(max).unwrap_or(PIPELINE_DEFAULT)
                }),
        };
        let genesis_nodes: BTreeMap<RaftNodeId, NodeInfo> = genesis
            .membership()
            .nodes
            .iter()
            .filter_map(|(id, record)| Some((id.0, node_info(record)?)))
            .collect();
        let context = Arc::new(NodeContext {
            id: me.id,
            mempool: Mempool::new(usize::try_from(limits.mempool_txs_max).unwrap_or(usize::MAX)),
            commits: CommitWatch::default(),
            signatures: SignatureVerifier::start(),
            metrics: Metrics::new(),
            directory: RwLock::new(directory),
            batching,
            request_timeout,
            accepting: AtomicBool::new(true),
            shutdown: shutdown.clone(),
            genesis,
            raft,
            ledger,
            p2p,
        });
        service.set_context(Arc::clone(&context));

        let initialized = context
            .raft
            .is_initialized()
            .await
            .map_err(|error| StartError::Raft(error.to_string()))?;
        if !initialized && me.in_genesis {
            // Every genesis node proposes the same membership; openraft lets
            // the first that wins an election go on and the others join it.
            if let Err(error) = context.raft.initialize(genesis_nodes).await {
                tracing::debug!(%error, "Raft already initialised elsewhere");
            }
        }

        let listener = api::bind(me.api_addr)
            .await
            .map_err(|source| StartError::Api {
                addr: me.api_addr,
                source,
            })?;
        let api_addr = api::local_addr(&listener).unwrap_or(me.api_addr);
        let router = api::router(
            Arc::clone(&context),
            usize::try_from(config.limits.api_concurrency_max).unwrap_or(usize::MAX),
        );
        let membership_changed = Arc::new(Notify::new());
        let tasks = vec![
            swarm_task,
            tokio::spawn(api::serve(listener, router, shutdown.clone())),
            tokio::spawn(pump::run(Arc::clone(&context))),
            tokio::spawn(feed::run(
                Arc::clone(&context),
                Arc::clone(&membership_changed),
            )),
            tokio::spawn(feed::reconcile_membership(
                Arc::clone(&context),
                membership_changed,
            )),
            tokio::spawn(snapshots::run(Arc::clone(&context))),
        ];
        tracing::info!(
            node = me.id,
            %peer,
            listen = %me.listen_addr,
            api = %api_addr,
            chain = %context.genesis.chain_id(),
            height = context.read(|store| store.tip().height),
            "node started"
        );
        Ok(Node {
            context,
            trigger,
            tasks,
            api_addr,
            grace: Duration::from_millis(config.limits.shutdown_grace_ms),
        })
    }

    /// The shared context (for tests and embedding).
    pub fn context(&self) -> &Arc<NodeContext> {
        &self.context
    }

    /// The address the API listens on.
    pub fn api_addr(&self) -> SocketAddr {
        self.api_addr
    }

    /// Graceful stop: refuse new submissions, let the mempool drain into
    /// blocks for up to the grace period, then stop every task and Raft.
    pub async fn stop(self) {
        self.context.accepting.store(false, Ordering::Release);
        let deadline = Instant::now() + self.grace;
        while !self.context.mempool.is_empty() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let left = self.context.mempool.len();
        if left > 0 {
            tracing::warn!(left, "stopping with transactions not yet ordered");
        }
        self.halt().await;
    }

    /// Immediate stop: no draining (the in-process stand-in for a crash in
    /// tests, except that files are closed cleanly).
    pub async fn halt(self) {
        self.trigger.fire();
        if let Err(error) = self.context.raft.shutdown().await {
            tracing::warn!(%error, "Raft did not shut down cleanly");
        }
        for task in self.tasks {
            let _ended = tokio::time::timeout(Duration::from_secs(5), task).await;
        }
        tracing::info!(node = self.context.id, "node stopped");
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
