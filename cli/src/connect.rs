//! How the CLI reaches a node: over `http://` (loopback), or over
//! `https://` trusting only the CA file (`--ca`) or the pinned certificate
//! fingerprint (`--pin`) given once for the whole command.

use std::path::Path;
use std::sync::OnceLock;

use gemtrail_node::client::NodeClient;
use gemtrail_node::tls::Trust;

use crate::error::{CliError, CliResult};

/// The trust of this process's `https://` connections, set from the command
/// line before any command runs.
static TRUST: OnceLock<Option<Trust>> = OnceLock::new();

/// Reads `--ca` or `--pin` (a missing or malformed one is an error before
/// anything is sent).
pub(crate) fn set_trust(ca: Option<&Path>, pin: Option<&str>) -> CliResult {
    let trust = match (ca, pin) {
        (Some(path), _) => Some(Trust::ca_file(path).map_err(|error| {
            CliError::new(format!("--ca: {error}"))
                .hint("give the node's CA or its own certificate, a PEM file")
        })?),
        (None, Some(pin)) => {
            Some(Trust::pin(pin).map_err(|error| CliError::new(format!("--pin: {error}")))?)
        }
        (None, None) => None,
    };
    // Set once, from `main`; a second call changes nothing.
    let _ = TRUST.set(trust);
    Ok(())
}

/// A client of the node at `addr`, with this command's trust.
pub(crate) fn node_client(addr: &str) -> CliResult<NodeClient> {
    Ok(NodeClient::with_trust(
        addr,
        TRUST.get().and_then(Option::as_ref),
    )?)
}
