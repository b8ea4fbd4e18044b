//! The node's TOML configuration: which genesis node it is, where its files
//! live, the addresses it binds, local batching overrides and logging.
//!
//! Relative paths are resolved against the directory of the configuration
//! file, so a node directory can be moved as a whole. Chain-wide parameters
//! (Raft timings, caps on peer input) live in the genesis, not here: a node
//! whose caps differ from its peers' would refuse what they accept.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Why a configuration could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read node configuration {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The file is not valid TOML for a node configuration.
    #[error("node configuration {path} is invalid: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What the parser found, with the line and field.
        message: String,
    },
    /// A value is out of range.
    #[error("node configuration field `{field}` {problem}")]
    Invalid {
        /// The field's path, e.g. `batching.max_txs`.
        field: &'static str,
        /// What is wrong with it.
        problem: String,
    },
    /// The file could not be written.
    #[error("cannot write node configuration {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
}

/// Log output format.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// Logging settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// Line format.
    #[serde(default)]
    pub format: LogFormat,
    /// A `tracing` filter such as `info` or `info,gemtrail_node=debug`; the
    /// `RUST_LOG` environment variable overrides it.
    #[serde(default = "default_log_level")]
    pub level: String,
}

fn default_log_level() -> String {
    "info,openraft=warn".to_owned()
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            format: LogFormat::default(),
            level: default_log_level(),
        }
    }
}

/// Local overrides of the genesis batching parameters. A node only uses them
/// while it leads; every node applies whatever blocks the leader proposes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchingConfig {
    /// Propose a block once this many transactions wait (default: genesis
    /// `consensus.batch_max_txs`).
    pub max_txs: Option<u64>,
    /// ... or once the oldest has waited this long (default: genesis
    /// `consensus.batch_timeout_ms`).
    pub timeout_ms: Option<u64>,
    /// Most block proposals in flight through Raft at once (default 4).
    pub pipeline_max: Option<u64>,
}

/// Local resource caps (the chain-wide caps are in the genesis).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocalLimits {
    /// Most HTTP requests handled at once; more wait in the accept queue.
    #[serde(default = "default_api_concurrency_max")]
    pub api_concurrency_max: u64,
    /// Most API connections open at once; more wait in the accept queue.
    #[serde(default = "default_api_connections_max")]
    pub api_connections_max: u64,
    /// How long an API client has to send a request's headers (and an idle
    /// kept-alive connection, its next request) before it is closed.
    #[serde(default = "default_api_header_read_timeout_ms")]
    pub api_header_read_timeout_ms: u64,
    /// Most peer connections (pending and established, in and out).
    #[serde(default = "default_peer_connections_max")]
    pub peer_connections_max: u64,
    /// How long a graceful shutdown waits for proposals in flight to commit.
    #[serde(default = "default_shutdown_grace_ms")]
    pub shutdown_grace_ms: u64,
}

fn default_api_concurrency_max() -> u64 {
    1024
}

fn default_api_connections_max() -> u64 {
    512
}

fn default_api_header_read_timeout_ms() -> u64 {
    5_000
}

fn default_peer_connections_max() -> u64 {
    128
}

fn default_shutdown_grace_ms() -> u64 {
    5_000
}

impl Default for LocalLimits {
    fn default() -> Self {
        Self {
            api_concurrency_max: default_api_concurrency_max(),
            api_connections_max: default_api_connections_max(),
            api_header_read_timeout_ms: default_api_header_read_timeout_ms(),
            peer_connections_max: default_peer_connections_max(),
            shutdown_grace_ms: default_shutdown_grace_ms(),
        }
    }
}

/// Who may use the API.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApiAccess {
    /// Anyone who can reach the port (keep the API on loopback).
    #[default]
    Open,
    /// Only requests signed by a member's key.
    Members,
}

/// The API's certificate and key, PEM files (`node init --tls` writes a
/// self-signed pair).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// The certificate chain, leaf first.
    pub cert_file: PathBuf,
    /// The private key.
    pub key_file: PathBuf,
}

/// A node's configuration file, as written.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeConfig {
    /// The genesis file of the chain.
    pub genesis: PathBuf,
    /// Where the ledger and the Raft log are stored.
    pub data_dir: PathBuf,
    /// The node's libp2p key file (see [`crate::keys`]).
    pub node_key: PathBuf,
    /// Which genesis node this is. Optional: by default the node whose peer id
    /// matches the key; when given, it must match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_id: Option<u64>,
    /// The libp2p listen multiaddr (default: this node's genesis `listen_addr`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listen_addr: Option<String>,
    /// The HTTP API address (default: this node's genesis `api_addr`). Keep it
    /// on 127.0.0.1 unless a proxy in front handles TLS and access control.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_addr: Option<SocketAddr>,
    /// The address buyers open passports at, which passport QR codes encode:
    /// `http://` or `https://` and a host, e.g. `https://passports.example.com`
    /// behind a proxy (default: `http://` and the API address).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_url: Option<String>,
    /// HTTPS for the API: without it the API speaks cleartext HTTP, which
    /// is for loopback only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsConfig>,
    /// Who may use the API: `open` (anyone who reaches it) or `members`
    /// (every request signed by a member, docs/api.md; the passport pages,
    /// `/metrics` and `/v1/openapi.json` stay open).
    #[serde(default)]
    pub api_access: ApiAccess,
    /// Local batching overrides.
    #[serde(default)]
    pub batching: BatchingConfig,
    /// Local resource caps.
    #[serde(default)]
    pub limits: LocalLimits,
    /// Logging.
    #[serde(default)]
    pub log: LogConfig,
}

impl NodeConfig {
    /// A configuration with defaults for everything but the three paths.
    pub fn new(genesis: PathBuf, data_dir: PathBuf, node_key: PathBuf) -> Self {
        Self {
            genesis,
            data_dir,
            node_key,
            node_id: None,
            listen_addr: None,
            api_addr: None,
            public_url: None,
            tls: None,
            api_access: ApiAccess::default(),
            batching: BatchingConfig::default(),
            limits: LocalLimits::default(),
            log: LogConfig::default(),
        }
    }

    /// Parses TOML text; relative paths stay relative (see [`NodeConfig::load`]).
    pub fn parse(text: &str, origin: &Path) -> Result<Self, ConfigError> {
        let config: NodeConfig = toml::from_str(text).map_err(|error| ConfigError::Parse {
            path: origin.to_owned(),
            message: error.to_string(),
        })?;
        config.check()?;
        Ok(config)
    }

    /// Reads and checks a configuration file, resolving relative paths
    /// against the file's directory.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let mut config = Self::parse(&text, path)?;
        let base = path.parent().unwrap_or_else(|| Path::new("."));
        config.resolve_paths(base);
        Ok(config)
    }

    /// Writes the configuration as TOML.
    pub fn save(&self, path: &Path) -> Result<(), ConfigError> {
        let text = toml::to_string_pretty(self).map_err(|error| ConfigError::Invalid {
            field: "(whole file)",
            problem: error.to_string(),
        })?;
        let text = format!("# gemtrail node configuration; see docs/operations.md.\n\n{text}");
        std::fs::write(path, text).map_err(|source| ConfigError::Write {
            path: path.to_owned(),
            source,
        })
    }

    /// Makes relative paths relative to `base`.
    pub fn resolve_paths(&mut self, base: &Path) {
        let tls = self
            .tls
            .iter_mut()
            .flat_map(|tls| [&mut tls.cert_file, &mut tls.key_file]);
        for path in [&mut self.genesis, &mut self.data_dir, &mut self.node_key]
            .into_iter()
            .chain(tls)
        {
            if path.is_relative() {
                *path = base.join(&*path);
            }
        }
    }

    fn check(&self) -> Result<(), ConfigError> {
        let positive = |field: &'static str, value: Option<u64>| match value {
            Some(0) => Err(ConfigError::Invalid {
                field,
                problem: "must be at least 1".to_owned(),
            }),
            _ => Ok(()),
        };
        positive("batching.max_txs", self.batching.max_txs)?;
        positive("batching.timeout_ms", self.batching.timeout_ms)?;
        positive("batching.pipeline_max", self.batching.pipeline_max)?;
        positive(
            "limits.api_concurrency_max",
            Some(self.limits.api_concurrency_max),
        )?;
        positive(
            "limits.api_connections_max",
            Some(self.limits.api_connections_max),
        )?;
        positive(
            "limits.api_header_read_timeout_ms",
            Some(self.limits.api_header_read_timeout_ms),
        )?;
        positive(
            "limits.peer_connections_max",
            Some(self.limits.peer_connections_max),
        )?;
        if let Some(url) = &self.public_url {
            check_public_url(url)?;
        }
        if let Some(max_txs) = self.batching.max_txs {
            let block_max = gemtrail_ledger::model::BLOCK_TRANSACTIONS_MAX as u64;
            if max_txs > block_max {
                return Err(ConfigError::Invalid {
                    field: "batching.max_txs",
                    problem: format!("is {max_txs}, more than a block holds ({block_max})"),
                });
            }
        }
        Ok(())
    }
}

/// A public URL must be absolute HTTP(S) with a host, and no query: pages
/// append paths to it.
fn check_public_url(url: &str) -> Result<(), ConfigError> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    let problem = match rest {
        None => Some("must start with http:// or https://"),
        Some(rest) if rest.trim_end_matches('/').is_empty() => Some("has no host"),
        Some(rest) if rest.contains(['?', '#', ' ']) => {
            Some("must not hold a query, fragment or space")
        }
        Some(_) => None,
    };
    match problem {
        Some(problem) => Err(ConfigError::Invalid {
            field: "public_url",
            problem: format!("{url:?} {problem}"),
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<NodeConfig, ConfigError> {
        NodeConfig::parse(text, Path::new("node.toml"))
    }

    const MINIMAL: &str = "genesis = \"g.toml\"\ndata_dir = \"data\"\nnode_key = \"n.key\"\n";

    #[test]
    fn a_minimal_file_gets_defaults_and_round_trips() {
        let config = parse(MINIMAL).unwrap();
        assert_eq!(config.limits, LocalLimits::default());
        assert_eq!(config.log.level, "info,openraft=warn");
        assert_eq!(config.node_id, None);
        let text = toml::to_string_pretty(&config).unwrap();
        assert_eq!(parse(&text).unwrap(), config);
    }

    #[test]
    fn a_public_url_without_scheme_or_host_is_refused_by_field() {
        for bad in [
            "passports.example.com",
            "https://",
            "http://x.example/?a=1",
            "ftp://x",
        ] {
            let text = format!("{MINIMAL}public_url = {bad:?}\n");
            let error = parse(&text).unwrap_err();
            assert!(
                matches!(
                    error,
                    ConfigError::Invalid {
                        field: "public_url",
                        ..
                    }
                ),
                "{bad}: {error}"
            );
        }
        let text = format!("{MINIMAL}public_url = \"https://passports.example.com\"\n");
        assert_eq!(
            parse(&text).unwrap().public_url.as_deref(),
            Some("https://passports.example.com")
        );
    }

    #[test]
    fn relative_paths_resolve_against_the_file_directory() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.toml");
        let text = format!("{MINIMAL}[tls]\ncert_file = \"tls.crt\"\nkey_file = \"/etc/k.pem\"\n");
        std::fs::write(&path, text).unwrap();
        let config = NodeConfig::load(&path).unwrap();
        assert_eq!(config.genesis, dir.path().join("g.toml"));
        assert_eq!(config.data_dir, dir.path().join("data"));
        let tls = config.tls.unwrap();
        assert_eq!(tls.cert_file, dir.path().join("tls.crt"));
        assert_eq!(tls.key_file, PathBuf::from("/etc/k.pem"));
    }

    #[test]
    fn bad_values_name_their_field() {
        let unknown = parse(&format!("{MINIMAL}colour = \"blue\"\n")).unwrap_err();
        assert!(
            unknown.to_string().contains("unknown field `colour`"),
            "{unknown}"
        );
        let zero = parse(&format!("{MINIMAL}[batching]\nmax_txs = 0\n")).unwrap_err();
        assert_eq!(
            zero.to_string(),
            "node configuration field `batching.max_txs` must be at least 1"
        );
        let huge = parse(&format!("{MINIMAL}[batching]\nmax_txs = 5000\n")).unwrap_err();
        assert_eq!(
            huge.to_string(),
            "node configuration field `batching.max_txs` is 5000, more than a block holds (2048)"
        );
        let address = parse(&format!("{MINIMAL}api_addr = \"localhost\"\n")).unwrap_err();
        assert!(matches!(address, ConfigError::Parse { .. }), "{address}");
    }
}
