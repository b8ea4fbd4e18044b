//! How the CLI reaches a node: over `http://` (loopback), or over
//! `https://` trusting only the CA file (`--ca`) or the pinned certificate
//! fingerprint (`--pin`) given once for the whole command; and signing each
//! request with the member's key: the command's own `--key` and `--as`
//! when it has them, otherwise `GEMTRAIL_KEY` and `GEMTRAIL_ORG`.

use std::path::Path;
use std::sync::OnceLock;

use gemtrail_ledger::ids::OrgId;
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

/// A client of the node at `addr`, with this command's trust, signing its
/// requests as `GEMTRAIL_ORG` with the key in `GEMTRAIL_KEY` when both are
/// set (nodes with `api_access = "members"` refuse unsigned requests).
pub(crate) fn node_client(addr: &str) -> CliResult<NodeClient> {
    let client = NodeClient::with_trust(addr, TRUST.get().and_then(Option::as_ref))?;
    match (
        std::env::var_os("GEMTRAIL_KEY"),
        std::env::var("GEMTRAIL_ORG"),
    ) {
        (Some(key), Ok(org)) => signing(client, &org, Path::new(&key)),
        _ => Ok(client),
    }
}

/// A client of `addr` that signs its requests as `org` with the key file.
pub(crate) fn signed_client(addr: &str, org: &str, key: &Path) -> CliResult<NodeClient> {
    let client = NodeClient::with_trust(addr, TRUST.get().and_then(Option::as_ref))?;
    signing(client, org, key)
}

fn signing(client: NodeClient, org: &str, key: &Path) -> CliResult<NodeClient> {
    let org =
        OrgId::parse(org).map_err(|error| CliError::new(format!("invalid member id: {error}")))?;
    Ok(client.signing_as(org, crate::keyfile::load(key)?))
}
