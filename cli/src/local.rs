//! A local consortium of node processes on loopback, for `gemtrail demo` and
//! `gemtrail bench`: the sample members and nodes on free ports, each node a
//! `gemtrail node start` process of this same binary, stopped with SIGTERM
//! (and killed if the caller goes away first).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use gemtrail_genesis::sample::SampleConsortium;
use gemtrail_genesis::{GenesisDocument, ValidGenesis};
use gemtrail_node::client::NodeClient;
use gemtrail_node::{keys, NodeConfig};

use crate::error::{CliError, CliResult};

/// How long to wait for the cluster to elect a leader.
pub(crate) const LEADER_WAIT: Duration = Duration::from_secs(30);

pub(crate) fn fail(context: &str) -> impl FnOnce(String) -> CliError + '_ {
    move |reason| CliError::new(format!("{context}: {reason}"))
}

/// The node processes; killed if the caller stops early.
pub(crate) struct Nodes {
    pub(crate) children: BTreeMap<u64, Child>,
}

impl Nodes {
    /// SIGTERM to each node, then wait for it to finish (SIGKILL after 10 s).
    pub(crate) fn stop(&mut self) {
        for child in self.children.values() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(child.id().to_string())
                .status();
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        for child in self.children.values_mut() {
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        self.children.clear();
    }
}

impl Drop for Nodes {
    fn drop(&mut self) {
        for child in self.children.values_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Picks distinct free loopback ports.
pub(crate) fn free_ports(count: usize) -> CliResult<Vec<u16>> {
    let listeners = (0..count)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0"))
        .collect::<std::io::Result<Vec<_>>>()
        .map_err(|error| CliError::new(format!("no free loopback port: {error}")))?;
    listeners
        .iter()
        .map(|listener| {
            listener
                .local_addr()
                .map(|addr| addr.port())
                .map_err(|error| CliError::new(error.to_string()))
        })
        .collect()
}

/// A local consortium's files: the sample members' keys, the genesis, and
/// each node's API address.
pub(crate) struct Consortium {
    pub(crate) sample: SampleConsortium,
    pub(crate) genesis: ValidGenesis,
    pub(crate) genesis_path: PathBuf,
    pub(crate) api: BTreeMap<u64, String>,
}

impl Consortium {
    /// A client of each node's API, by node id.
    pub(crate) fn clients(&self) -> CliResult<BTreeMap<u64, NodeClient>> {
        self.api
            .iter()
            .map(|(id, addr)| Ok((*id, crate::connect::node_client(addr)?)))
            .collect()
    }
}

/// Founds the sample consortium (three nodes, five members) in `dir` on free
/// loopback ports; `tune` adjusts the genesis parameters first.
pub(crate) fn found(
    dir: &Path,
    chain_id: &str,
    tune: impl FnOnce(&mut GenesisDocument),
) -> CliResult<Consortium> {
    let sample = SampleConsortium::generate(chain_id, 7000)
        .map_err(|error| fail("founding the consortium")(error.to_string()))?;
    let mut document: GenesisDocument = sample.genesis().document().clone();
    tune(&mut document);
    let ports = free_ports(document.nodes.len() * 2)?;
    let mut api = BTreeMap::new();
    for (index, node) in document.nodes.iter_mut().enumerate() {
        node.listen_addr = format!("/ip4/127.0.0.1/tcp/{}", ports[index * 2]);
        node.api_addr = format!("127.0.0.1:{}", ports[index * 2 + 1]);
        api.insert(node.id, node.api_addr.clone());
    }
    let genesis = document
        .clone()
        .validate()
        .map_err(|error| fail("the genesis")(error.to_string()))?;
    let genesis_path = dir.join("genesis.toml");
    let text = document
        .to_toml_string()
        .map_err(|error| fail("the genesis")(error.to_string()))?;
    std::fs::write(&genesis_path, text)
        .map_err(|error| fail("writing the genesis")(error.to_string()))?;
    for (id, keypair) in sample.node_keypairs() {
        let node_dir = dir.join(format!("node{}", id.0));
        std::fs::create_dir_all(&node_dir)
            .map_err(|error| fail("node directory")(error.to_string()))?;
        keys::save(&node_dir.join("node.key"), keypair)
            .map_err(|error| fail("node key")(error.to_string()))?;
        let mut config = NodeConfig::new(
            PathBuf::from("../genesis.toml"),
            PathBuf::from("data"),
            PathBuf::from("node.key"),
        );
        config.log.level = "warn".to_owned();
        config
            .save(&node_dir.join("node.toml"))
            .map_err(|error| fail("node configuration")(error.to_string()))?;
    }
    Ok(Consortium {
        sample,
        genesis,
        genesis_path,
        api,
    })
}

/// Starts one `gemtrail node start` process per node id.
pub(crate) fn start_nodes(dir: &Path, ids: impl Iterator<Item = u64>) -> CliResult<Nodes> {
    let exe =
        std::env::current_exe().map_err(|error| fail("finding gemtrail")(error.to_string()))?;
    let mut nodes = Nodes {
        children: BTreeMap::new(),
    };
    for id in ids {
        let node_dir = dir.join(format!("node{id}"));
        let log = std::fs::File::create(node_dir.join("node.log"))
            .map_err(|error| fail("node log")(error.to_string()))?;
        let child = Command::new(&exe)
            .args(["node", "start", "--config"])
            .arg(node_dir.join("node.toml"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|error| fail("starting a node")(error.to_string()))?;
        nodes.children.insert(id, child);
    }
    Ok(nodes)
}

/// Waits until every node names the same leader.
pub(crate) async fn wait_for_leader(clients: &BTreeMap<u64, NodeClient>) -> CliResult<u64> {
    let deadline = Instant::now() + LEADER_WAIT;
    loop {
        let mut leaders = Vec::new();
        for client in clients.values() {
            if let Ok(status) = client.status().await {
                leaders.push(status.leader);
            }
        }
        if leaders.len() == clients.len() {
            if let Some(Some(leader)) = leaders.first() {
                if leaders.iter().all(|seen| *seen == Some(*leader)) {
                    return Ok(*leader);
                }
            }
        }
        if Instant::now() > deadline {
            return Err(CliError::new("the nodes elected no leader within 30 s")
                .hint("see node*/node.log in the consortium directory (run with --keep)"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
