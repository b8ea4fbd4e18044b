//! [`ApiState`]: what the API's handlers read and call. The API is the one
//! part of the node that reports on everything (status, metrics), so it holds
//! handles to most parts, but it changes nothing except through the door.

use std::time::Duration;

use gemtrail_consensus::LedgerStateMachine;
use gemtrail_genesis::ValidGenesis;
use gemtrail_ledger::state::GenesisState;
use gemtrail_web::Locales;

use crate::admission::Door;
use crate::certify::Certifier;
use crate::node::Shared;
use crate::raft::RaftHandle;

/// The handlers' shared state.
#[derive(Debug)]
pub(crate) struct ApiState {
    /// What the proof verifier checks passports against.
    pub(crate) ledger_genesis: GenesisState,
    /// The web pages' languages and public address.
    pub(crate) pages: Pages,
    /// Who may use the API.
    pub(crate) access: crate::config::ApiAccess,
    /// Nonces of signed requests seen within the replay window.
    pub(crate) nonces: super::auth::Nonces,
    /// The chain's genesis (its id, hash and limits).
    pub(crate) genesis: ValidGenesis,
    /// Raft, for the status.
    pub(crate) raft: RaftHandle,
    /// The ledger, for every read.
    pub(crate) ledger: LedgerStateMachine,
    /// The mempool's door, for submissions.
    pub(crate) door: Door,
    /// Certificates, for proofs and the certificate routes.
    pub(crate) certifier: Certifier,
    /// The mempool (for its size), the commit waiters of submissions with
    /// `wait`, the metrics, the swarm (who is connected) and the nodes.
    pub(crate) shared: Shared,
    /// How long a request may take.
    pub(crate) request_timeout: Duration,
    /// How long a request body may take beyond its length at the minimum
    /// rate (the header deadline).
    pub(crate) body_grace: Duration,
}

impl ApiState {
    /// Runs `read` on the ledger store.
    pub(crate) fn read<T>(
        &self,
        read: impl FnOnce(&gemtrail_ledger::store::LedgerStore) -> T,
    ) -> T {
        self.ledger.read(read)
    }
}

/// What the web pages need beyond the ledger: their languages, and the
/// address passports are opened at (their QR codes encode it).
#[derive(Debug)]
pub(crate) struct Pages {
    /// Every language the pages speak.
    pub(crate) locales: Locales,
    /// `http(s)://host[:port]`, without a trailing slash.
    pub(crate) public_url: String,
}

impl Pages {
    /// The configured public URL, or `http(s)://` and the API's address.
    pub(crate) fn new(
        public_url: Option<&str>,
        api_addr: std::net::SocketAddr,
        tls: bool,
    ) -> Result<Self, gemtrail_web::LocaleError> {
        let scheme = if tls { "https" } else { "http" };
        let public_url = public_url.map_or_else(
            || format!("{scheme}://{api_addr}"),
            |url| url.trim_end_matches('/').to_owned(),
        );
        Ok(Self {
            locales: Locales::embedded()?,
            public_url,
        })
    }

    /// A stone's passport address.
    pub(crate) fn passport_url(&self, stone: &gemtrail_ledger::ids::StoneId) -> String {
        format!("{}/passport/{stone}", self.public_url)
    }
}
