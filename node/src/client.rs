//! A typed client of the node's HTTP API, for the CLI, the benchmark and the
//! tests. Errors keep the API's code, so callers can branch on it.

use std::time::Duration;

use gemtrail_ledger::certificate::QuorumCertificate;
use gemtrail_ledger::codec::{decode, encode};
use gemtrail_ledger::ids::{StoneId, TxId};
use gemtrail_ledger::model::{SignedTransaction, Stone};
use gemtrail_ledger::proof::ProvenanceProof;
use reqwest::StatusCode;
use serde::de::DeserializeOwned;

use crate::api::error::ErrorBody;
use crate::api::views::{
    BatchSubmitView, BlockView, HistoryItemView, MembersView, ReceiptView, StatusView, SubmitView,
};
use crate::request_auth::{sign, RequestParts};
use crate::tls::Trust;
use gemtrail_ledger::crypto::SecretKey;
use gemtrail_ledger::ids::OrgId;

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The node answered with an API error.
    #[error("{message} ({code}, HTTP {status})")]
    Api {
        /// HTTP status.
        status: u16,
        /// The API's error code.
        code: String,
        /// Its message.
        message: String,
    },
    /// The node could not be reached or the answer could not be read.
    #[error("cannot reach the node at {base}: {reason}")]
    Transport {
        /// The node's base URL.
        base: String,
        /// What failed.
        reason: String,
    },
}

impl ClientError {
    /// The API error code, if the node answered.
    pub fn code(&self) -> Option<&str> {
        match self {
            ClientError::Api { code, .. } => Some(code),
            ClientError::Transport { .. } => None,
        }
    }
}

/// An error with every cause under it ("error sending request: ...:
/// invalid peer certificate: UnknownIssuer"), which is where a refused
/// certificate says so.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// A client of one node.
#[derive(Clone, Debug)]
pub struct NodeClient {
    base: String,
    http: reqwest::Client,
    signer: Option<RequestSigner>,
}

/// Who signs this client's requests ([`crate::request_auth`]).
#[derive(Clone)]
struct RequestSigner {
    org: OrgId,
    key: SecretKey,
}

impl std::fmt::Debug for RequestSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestSigner")
            .field("org", &self.org)
            .finish_non_exhaustive()
    }
}

impl NodeClient {
    /// A client of the node whose API is at `addr` (`host:port` or a URL).
    /// An `https://` node must then be trusted some other way: see
    /// [`NodeClient::with_trust`].
    pub fn new(addr: &str) -> Result<Self, ClientError> {
        Self::with_trust(addr, None)
    }

    /// A client of `addr` that, over HTTPS, trusts only what `trust` says
    /// (a CA file or the node's pinned certificate). Without `trust`, an
    /// `https://` node is refused: there are no system roots to fall back on.
    pub fn with_trust(addr: &str, trust: Option<&Trust>) -> Result<Self, ClientError> {
        crate::tls::install_default_provider();
        let base = if addr.starts_with("http://") || addr.starts_with("https://") {
            addr.trim_end_matches('/').to_owned()
        } else {
            format!("http://{addr}")
        };
        let transport = |reason: String| ClientError::Transport {
            base: base.clone(),
            reason,
        };
        let mut builder = reqwest::Client::builder().timeout(Duration::from_secs(60));
        if base.starts_with("http://") {
            // Nodes speak cleartext HTTP/2 as well as HTTP/1.1: one
            // connection then carries every request a command makes at once.
            builder = builder.http2_prior_knowledge();
        } else {
            let trust = trust.ok_or_else(|| {
                transport("an https:// node needs a CA file or a pinned certificate fingerprint (--ca or --pin)".to_owned())
            })?;
            let config = trust
                .client_config()
                .map_err(|error| transport(error.to_string()))?;
            builder = builder.tls_backend_preconfigured(config);
        }
        let http = builder.build().map_err(|error| ClientError::Transport {
            base: base.clone(),
            reason: error.to_string(),
        })?;
        Ok(Self {
            base,
            http,
            signer: None,
        })
    }

    /// This client, signing every request as `org` with `key` (nodes that
    /// require signed requests refuse unsigned ones).
    #[must_use]
    pub fn signing_as(mut self, org: OrgId, key: SecretKey) -> Self {
        self.signer = Some(RequestSigner { org, key });
        self
    }

    /// A request to `path_and_query`, signed when this client has a signer.
    fn request(
        &self,
        method: reqwest::Method,
        path_and_query: &str,
        body: Vec<u8>,
    ) -> reqwest::RequestBuilder {
        let mut builder = self
            .http
            .request(method.clone(), format!("{}{path_and_query}", self.base));
        if let Some(signer) = &self.signer {
            let (path, query) = match path_and_query.split_once('?') {
                Some((path, query)) => (path, Some(query)),
                None => (path_and_query, None),
            };
            let parts = RequestParts {
                method: method.as_str(),
                path,
                query,
                body: &body,
            };
            let created = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |elapsed| elapsed.as_secs());
            let mut nonce = [0u8; 16];
            // A nonce the node has not seen; zeros only if the OS has no
            // randomness, which the node then refuses as a replay.
            let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut nonce);
            for (name, value) in sign(
                &parts,
                &signer.org,
                &signer.key,
                created,
                &hex::encode(nonce),
            ) {
                builder = builder.header(name, value);
            }
        }
        if body.is_empty() {
            builder
        } else {
            builder.body(body)
        }
    }

    /// The base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    fn transport(&self, error: impl std::fmt::Display) -> ClientError {
        ClientError::Transport {
            base: self.base.clone(),
            reason: error.to_string(),
        }
    }

    async fn check(&self, response: reqwest::Response) -> Result<reqwest::Response, ClientError> {
        if response.status().is_success() {
            return Ok(response);
        }
        let status = response.status();
        let body = response
            .bytes()
            .await
            .map_err(|error| self.transport(chain(&error)))?;
        Err(match serde_json::from_slice::<ErrorBody>(&body) {
            Ok(body) => ClientError::Api {
                status: status.as_u16(),
                code: body.error.code,
                message: body.error.message,
            },
            Err(_) => ClientError::Api {
                status: status.as_u16(),
                code: status_code_name(status),
                message: String::from_utf8_lossy(&body).into_owned(),
            },
        })
    }

    async fn get_json<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        let response = self
            .request(reqwest::Method::GET, path, Vec::new())
            .send()
            .await
            .map_err(|error| self.transport(chain(&error)))?;
        let response = self.check(response).await?;
        response
            .json()
            .await
            .map_err(|error| self.transport(chain(&error)))
    }

    async fn post_bytes<T: DeserializeOwned>(
        &self,
        path: &str,
        body: Vec<u8>,
    ) -> Result<T, ClientError> {
        let response = self
            .request(reqwest::Method::POST, path, body)
            .header("content-type", "application/octet-stream")
            .send()
            .await
            .map_err(|error| self.transport(chain(&error)))?;
        let response = self.check(response).await?;
        response
            .json()
            .await
            .map_err(|error| self.transport(chain(&error)))
    }

    /// Submits raw body bytes (for tests of malformed input).
    pub async fn submit_raw(&self, body: Vec<u8>, wait: bool) -> Result<SubmitView, ClientError> {
        self.post_bytes(&format!("/v1/transactions?wait={wait}"), body)
            .await
    }

    /// Submits a batch body as raw bytes (for tests of malformed input).
    pub async fn submit_batch_raw(
        &self,
        body: Vec<u8>,
        wait: bool,
    ) -> Result<BatchSubmitView, ClientError> {
        self.post_bytes(&format!("/v1/transactions/batch?wait={wait}"), body)
            .await
    }

    /// Submits signed transactions in one request (at most
    /// [`crate::api::SUBMIT_BATCH_TXS_MAX`]); one item per transaction, in
    /// order, each answered or refused on its own. With `wait`, returns once
    /// each admitted one is committed or the node's wait is over.
    pub async fn submit_batch(
        &self,
        txs: &[SignedTransaction],
        wait: bool,
    ) -> Result<BatchSubmitView, ClientError> {
        self.submit_batch_raw(encode(txs), wait).await
    }

    /// Submits a signed transaction; with `wait`, returns once it is committed.
    pub async fn submit(
        &self,
        tx: &SignedTransaction,
        wait: bool,
    ) -> Result<SubmitView, ClientError> {
        self.submit_raw(encode(tx), wait).await
    }

    /// A transaction's receipt.
    pub async fn receipt(&self, tx_id: &TxId) -> Result<ReceiptView, ClientError> {
        self.get_json(&format!("/v1/transactions/{tx_id}")).await
    }

    /// A stone's current state.
    pub async fn stone(&self, stone: &StoneId) -> Result<Stone, ClientError> {
        self.get_json(&format!("/v1/stones/{stone}")).await
    }

    /// A stone's history.
    pub async fn history(&self, stone: &StoneId) -> Result<Vec<HistoryItemView>, ClientError> {
        self.get_json(&format!("/v1/stones/{stone}/history")).await
    }

    /// A stone's provenance proof (decoded, not yet verified).
    pub async fn proof(&self, stone: &StoneId) -> Result<ProvenanceProof, ClientError> {
        let bytes = self.proof_bytes(stone).await?;
        decode(&bytes).map_err(|error| self.transport(format!("proof does not decode: {error}")))
    }

    /// A stone's provenance proof as the node sent it.
    pub async fn proof_bytes(&self, stone: &StoneId) -> Result<Vec<u8>, ClientError> {
        let response = self
            .request(
                reqwest::Method::GET,
                &format!("/v1/stones/{stone}/proof"),
                Vec::new(),
            )
            .send()
            .await
            .map_err(|error| self.transport(chain(&error)))?;
        let response = self.check(response).await?;
        let bytes = response
            .bytes()
            .await
            .map_err(|error| self.transport(chain(&error)))?;
        Ok(bytes.to_vec())
    }

    /// A block by height.
    pub async fn block(&self, height: u64) -> Result<BlockView, ClientError> {
        self.get_json(&format!("/v1/blocks/{height}")).await
    }

    /// The quorum certificate the node holds for `height`.
    pub async fn certificate(&self, height: u64) -> Result<QuorumCertificate, ClientError> {
        self.get_json(&format!("/v1/certificates/{height}")).await
    }

    /// The node's certificate of the highest height it holds one for.
    pub async fn latest_certificate(&self) -> Result<QuorumCertificate, ClientError> {
        self.get_json("/v1/certificates/latest").await
    }

    /// The node's status.
    pub async fn status(&self) -> Result<StatusView, ClientError> {
        self.get_json("/v1/status").await
    }

    /// The members, nodes and retired member ids as of the node's tip.
    pub async fn members(&self) -> Result<MembersView, ClientError> {
        self.get_json("/v1/members").await
    }

    /// The node's Prometheus metrics text.
    pub async fn metrics(&self) -> Result<String, ClientError> {
        let response = self
            .request(reqwest::Method::GET, "/metrics", Vec::new())
            .send()
            .await
            .map_err(|error| self.transport(chain(&error)))?;
        let response = self.check(response).await?;
        response
            .text()
            .await
            .map_err(|error| self.transport(chain(&error)))
    }
}

fn status_code_name(status: StatusCode) -> String {
    format!("http_{}", status.as_u16())
}
