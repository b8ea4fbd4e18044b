//! `gemtrail node`: make a node directory, and run a node.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use gemtrail_node::{keys, runner, NodeConfig};
use serde_json::json;

use crate::args::NodeCommand;
use crate::error::{CliError, CliResult};
use crate::output::Out;

/// Runs a node command. `start` runs until a signal and returns its exit code.
pub(crate) fn run(out: Out, command: NodeCommand) -> CliResult<ExitCode> {
    match command {
        NodeCommand::Init {
            dir,
            genesis,
            api_addr,
            listen_addr,
            node_id,
        } => {
            init(
                out,
                &dir,
                genesis.as_deref(),
                api_addr,
                listen_addr,
                node_id,
            )?;
            Ok(ExitCode::SUCCESS)
        }
        NodeCommand::Start { config } => {
            let config = NodeConfig::load(&config).map_err(|error| {
                CliError::new(error.to_string())
                    .hint("`gemtrail node init --dir DIR` makes a configuration")
            })?;
            Ok(runner::run_until_signal(config))
        }
    }
}

/// Makes a node directory: a fresh node key and a configuration.
fn init(
    out: Out,
    dir: &Path,
    genesis: Option<&Path>,
    api_addr: Option<std::net::SocketAddr>,
    listen_addr: Option<String>,
    node_id: Option<u64>,
) -> CliResult {
    std::fs::create_dir_all(dir)
        .map_err(|error| CliError::new(format!("cannot create {}: {error}", dir.display())))?;
    let key_path = dir.join("node.key");
    let peer_id = keys::generate(&key_path).map_err(|error| CliError::new(error.to_string()))?;
    if let Some(genesis) = genesis {
        if genesis.exists() {
            std::fs::copy(genesis, dir.join("genesis.toml")).map_err(|error| {
                CliError::new(format!("cannot copy {}: {error}", genesis.display()))
            })?;
        }
    }
    let mut config = NodeConfig::new(
        PathBuf::from("genesis.toml"),
        PathBuf::from("data"),
        PathBuf::from("node.key"),
    );
    config.api_addr = api_addr;
    config.listen_addr = listen_addr;
    config.node_id = node_id;
    let config_path = dir.join("node.toml");
    config
        .save(&config_path)
        .map_err(|error| CliError::new(error.to_string()))?;
    let next = match node_id {
        None => format!("Add it to the genesis with `gemtrail genesis add-node --peer-id {peer_id} ...`"),
        Some(id) => format!("Have the admins admit it with `gemtrail governance draft ... add-node --id {id} --peer-id {peer_id} ...`"),
    };
    out.print(
        &json!({ "dir": dir, "peer_id": peer_id.to_string(), "config": config_path }),
        || {
            format!(
                "Node directory {} is ready.\npeer id: {peer_id}\n{next}, put the genesis at {}, then run `gemtrail node start --config {}`.",
                dir.display(),
                dir.join("genesis.toml").display(),
                config_path.display()
            )
        },
    )?;
    Ok(())
}
