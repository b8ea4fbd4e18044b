//! `gemtrail node`: make a node directory, and run a node.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use gemtrail_node::config::TlsConfig;
use gemtrail_node::{keys, runner, tls, NodeConfig};
use serde_json::json;

use crate::args::{NodeCommand, NodeInitArgs};
use crate::error::{CliError, CliResult};
use crate::output::Out;

/// Runs a node command. `start` runs until a signal and returns its exit code.
pub(crate) fn run(out: Out, command: NodeCommand) -> CliResult<ExitCode> {
    match command {
        NodeCommand::Init(args) => {
            init(out, &args)?;
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
fn init(out: Out, args: &NodeInitArgs) -> CliResult {
    let dir = args.dir.as_path();
    let (genesis, api_addr, node_id) = (args.genesis.as_deref(), args.api_addr, args.node_id);
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
    config.listen_addr.clone_from(&args.listen_addr);
    config.node_id = node_id;
    let fingerprint = if args.tls {
        config.tls = Some(TlsConfig {
            cert_file: PathBuf::from("tls.crt"),
            key_file: PathBuf::from("tls.key"),
        });
        Some(write_tls_pair(dir, api_addr, &args.tls_name)?)
    } else {
        None
    };
    let config_path = dir.join("node.toml");
    config
        .save(&config_path)
        .map_err(|error| CliError::new(error.to_string()))?;
    let next = match node_id {
        None => format!("Add it to the genesis with `gemtrail genesis add-node --peer-id {peer_id} ...`"),
        Some(id) => format!("Have the admins admit it with `gemtrail governance draft ... add-node --id {id} --peer-id {peer_id} ...`"),
    };
    let tls_line = fingerprint.as_ref().map_or_else(String::new, |fingerprint| {
        format!(
            "\nThe API speaks HTTPS with the self-signed certificate {}; clients trust it with `--ca {}` or `--pin {fingerprint}`.",
            dir.join("tls.crt").display(),
            dir.join("tls.crt").display()
        )
    });
    out.print(
        &json!({ "dir": dir, "peer_id": peer_id.to_string(), "config": config_path,
                 "tls_fingerprint": fingerprint }),
        || {
            format!(
                "Node directory {} is ready.\npeer id: {peer_id}\n{next}, put the genesis at {}, then run `gemtrail node start --config {}`.{tls_line}",
                dir.display(),
                dir.join("genesis.toml").display(),
                config_path.display()
            )
        },
    )?;
    Ok(())
}

/// Writes a self-signed certificate and its key (0600) into `dir`; returns
/// the certificate's fingerprint.
fn write_tls_pair(
    dir: &Path,
    api_addr: Option<std::net::SocketAddr>,
    extra: &[String],
) -> CliResult<String> {
    let mut names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
    names.extend(api_addr.map(|addr| addr.ip().to_string()));
    names.extend(extra.iter().cloned());
    names.dedup();
    let (cert, key) = tls::self_signed(&names).map_err(|error| CliError::new(error.to_string()))?;
    let cert_path = dir.join("tls.crt");
    std::fs::write(&cert_path, &cert)
        .map_err(|error| CliError::new(format!("cannot write {}: {error}", cert_path.display())))?;
    crate::keyfile::write_private(&dir.join("tls.key"), key.as_bytes())?;
    let der = tls::read_certificates(&cert_path)
        .map_err(|error| CliError::new(error.to_string()))?
        .remove(0);
    Ok(tls::fingerprint(der.as_ref()))
}
