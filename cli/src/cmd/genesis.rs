//! `gemtrail genesis`: the founding ceremony. One member starts the file,
//! each member adds its public key and its nodes, everyone validates it and
//! compares the hash. No secret ever goes into the file.

use std::path::Path;

use gemtrail_genesis::sample::{SAMPLE_CONSENSUS, SAMPLE_LIMITS};
use gemtrail_genesis::{GenesisDocument, MemberEntry, NodeEntry, ValidGenesis};
use gemtrail_node::clock::now_ms;
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

/// Runs a genesis command.
pub(crate) fn run(out: Out, command: GenesisCommand) -> CliResult {
    match command {
        GenesisCommand::New {
            chain_id,
            out: path,
        } => start(out, chain_id, &path),
        GenesisCommand::AddMember {
            genesis,
            id,
            name,
            roles,
            key,
        } => {
            let member = MemberEntry {
                id,
                name,
                roles,
                keys: vec![key],
            };
            add(out, &genesis, member)
        }
        GenesisCommand::AddNode {
            genesis,
            id,
            member,
            peer_id,
            listen_addr,
            api_addr,
        } => {
            let node = NodeEntry {
                id,
                member,
                peer_id,
                listen_addr,
                api_addr,
            };
            add(out, &genesis, node)
        }
        GenesisCommand::Validate { genesis } => validate(out, &genesis),
        GenesisCommand::Show { genesis } => show(out, &genesis),
        GenesisCommand::Hash { genesis } => hash(out, &genesis),
    }
}

/// `genesis new`: refuses to overwrite, since a founded chain's genesis must
/// never change under it.
fn start(out: Out, chain_id: String, path: &Path) -> CliResult {
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
    write(path, &document)?;
    out.print(&json!({ "genesis": path }), || {
        format!(
            "Wrote {}. Next: each member runs `gemtrail genesis add-member`, each node operator `gemtrail genesis add-node`.",
            path.display()
        )
    })
}

/// A member or a node: `add-member` and `add-node` differ only in which list
/// they extend, and each list's ids must stay unique.
trait Entry: Sized {
    /// The word the messages and the JSON key use.
    const KIND: &'static str;
    /// The id that must be unique within the list.
    type Id: PartialEq + std::fmt::Display + serde::Serialize;
    fn id(&self) -> &Self::Id;
    fn list(document: &mut GenesisDocument) -> &mut Vec<Self>;
}

impl Entry for MemberEntry {
    const KIND: &'static str = "member";
    type Id = String;
    fn id(&self) -> &String {
        &self.id
    }
    fn list(document: &mut GenesisDocument) -> &mut Vec<Self> {
        &mut document.members
    }
}

impl Entry for NodeEntry {
    const KIND: &'static str = "node";
    type Id = u64;
    fn id(&self) -> &u64 {
        &self.id
    }
    fn list(document: &mut GenesisDocument) -> &mut Vec<Self> {
        &mut document.nodes
    }
}

/// `genesis add-member` and `genesis add-node`.
fn add<E: Entry>(out: Out, genesis: &Path, entry: E) -> CliResult {
    let mut document = read(genesis)?;
    let kind = E::KIND;
    let id = entry.id();
    if E::list(&mut document).iter().any(|known| known.id() == id) {
        return Err(CliError::new(format!(
            "{kind} {id} is already in the genesis"
        )));
    }
    let added = json!({ format!("added_{kind}"): id });
    let text = format!("Added {kind} {id} to {}.", genesis.display());
    E::list(&mut document).push(entry);
    write(genesis, &document)?;
    out.print(&added, || text)
}

fn validate(out: Out, genesis: &Path) -> CliResult {
    let valid = load_valid(genesis)?;
    out.print(
        &json!({ "valid": true, "chain_id": valid.chain_id().to_string(), "hash": valid.hash().to_string() }),
        || format!("{} is valid. Genesis hash: {}", genesis.display(), valid.hash()),
    )
}

fn show(out: Out, genesis: &Path) -> CliResult {
    let valid = load_valid(genesis)?;
    out.print(valid.document(), || describe(&valid))
}

/// `genesis show` for people: members, nodes, then the batching parameters.
fn describe(valid: &ValidGenesis) -> String {
    let document = valid.document();
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
        "batching: {} transactions or {} ms; snapshot every {} blocks; \
         checkpoints signed up to {} ms ahead of a node's clock",
        consensus.batch_max_txs,
        consensus.batch_timeout_ms,
        consensus.snapshot_interval_blocks,
        consensus.checkpoint_clock_skew_ms_max
    ));
    text
}

fn hash(out: Out, genesis: &Path) -> CliResult {
    let valid = load_valid(genesis)?;
    let hash = valid.hash().to_string();
    out.print(&json!({ "hash": hash }), || hash.clone())
}
