//! `gemtrail genesis`: the founding ceremony. One member starts the file,
//! each member adds its public key and its nodes, everyone validates it and
//! compares the hash. No secret ever goes into the file.

use std::path::Path;

use gemtrail_genesis::sample::{SAMPLE_CONSENSUS, SAMPLE_LIMITS};
use gemtrail_genesis::{GenesisDocument, MemberEntry, NodeEntry, ValidGenesis};
use serde_json::json;

use crate::args::GenesisCommand;
use crate::error::{CliError, CliResult};
use crate::output::Out;

fn read(path: &Path) -> CliResult<GenesisDocument> {
    gemtrail_genesis::load(path)
        .map_err(|error| CliError::new(format!("genesis {}: {error}", path.display())))
}

fn write(path: &Path, document: &GenesisDocument) -> CliResult {
    let text = document
        .to_toml_string()
        .map_err(|error| CliError::new(format!("cannot write the genesis: {error}")))?;
    let text = format!("# gemtrail genesis. Change it with `gemtrail genesis`; check it with `gemtrail genesis validate`.\n\n{text}");
    std::fs::write(path, text)
        .map_err(|error| CliError::new(format!("cannot write {}: {error}", path.display())))
}

/// Loads and validates a genesis file, with the field at fault on error.
pub(crate) fn load_valid(path: &Path) -> CliResult<ValidGenesis> {
    ValidGenesis::load(path).map_err(|error| {
        CliError::new(format!("genesis {} is invalid: {error}", path.display()))
            .hint("`gemtrail genesis validate FILE` checks it")
    })
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| u64::try_from(elapsed.as_millis()).unwrap_or(0))
}

/// Runs a genesis command.
pub(crate) fn run(out: Out, command: GenesisCommand) -> CliResult {
    match command {
        GenesisCommand::New {
            chain_id,
            out: path,
        } => {
            if path.exists() {
                return Err(CliError::new(format!("{} already exists", path.display())));
            }
            let document = GenesisDocument {
                chain_id,
                genesis_time_ms: now_ms(),
                consensus: SAMPLE_CONSENSUS,
                limits: SAMPLE_LIMITS,
                members: Vec::new(),
                nodes: Vec::new(),
            };
            write(&path, &document)?;
            out.print(&json!({ "genesis": path }), || {
                format!(
                    "Wrote {}. Next: each member runs `gemtrail genesis add-member`, each node operator `gemtrail genesis add-node`.",
                    path.display()
                )
            })
        }
        GenesisCommand::AddMember {
            genesis,
            id,
            name,
            roles,
            key,
        } => {
            let mut document = read(&genesis)?;
            if document.members.iter().any(|member| member.id == id) {
                return Err(CliError::new(format!(
                    "member {id} is already in the genesis"
                )));
            }
            document.members.push(MemberEntry {
                id: id.clone(),
                name,
                roles,
                keys: vec![key],
            });
            write(&genesis, &document)?;
            out.print(&json!({ "added_member": id }), || {
                format!("Added member {id} to {}.", genesis.display())
            })
        }
        GenesisCommand::AddNode {
            genesis,
            id,
            member,
            peer_id,
            listen_addr,
            api_addr,
        } => {
            let mut document = read(&genesis)?;
            if document.nodes.iter().any(|node| node.id == id) {
                return Err(CliError::new(format!(
                    "node {id} is already in the genesis"
                )));
            }
            document.nodes.push(NodeEntry {
                id,
                member,
                peer_id,
                listen_addr,
                api_addr,
            });
            write(&genesis, &document)?;
            out.print(&json!({ "added_node": id }), || {
                format!("Added node {id} to {}.", genesis.display())
            })
        }
        GenesisCommand::Validate { genesis } => {
            let valid = load_valid(&genesis)?;
            out.print(
                &json!({ "valid": true, "chain_id": valid.chain_id().to_string(), "hash": valid.hash().to_string() }),
                || format!("{} is valid. Genesis hash: {}", genesis.display(), valid.hash()),
            )
        }
        GenesisCommand::Show { genesis } => {
            let valid = load_valid(&genesis)?;
            let document = valid.document();
            out.print(document, || {
                let mut text = format!(
                    "chain {} (genesis hash {})\nmembers:\n",
                    document.chain_id,
                    valid.hash()
                );
                for member in &document.members {
                    text.push_str(&format!(
                        "  {:<12} {:<32} roles: {}\n",
                        member.id,
                        member.name,
                        member.roles.join(", ")
                    ));
                }
                text.push_str("nodes:\n");
                for node in &document.nodes {
                    text.push_str(&format!(
                        "  node {} run by {}: peers {} api {}\n",
                        node.id, node.member, node.listen_addr, node.api_addr
                    ));
                }
                let consensus = &document.consensus;
                text.push_str(&format!(
                    "batching: {} transactions or {} ms; snapshot every {} blocks",
                    consensus.batch_max_txs,
                    consensus.batch_timeout_ms,
                    consensus.snapshot_interval_blocks
                ));
                text
            })
        }
        GenesisCommand::Hash { genesis } => {
            let valid = load_valid(&genesis)?;
            let hash = valid.hash().to_string();
            out.print(&json!({ "hash": hash }), || hash.clone())
        }
    }
}
