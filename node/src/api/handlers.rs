//! The API's handlers: submit a transaction, and read receipts, stones,
//! history, provenance proofs, blocks, the node's status and its metrics.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use gemtrail_ledger::certificate::QuorumCertificate;
use gemtrail_ledger::codec::encode;
use gemtrail_ledger::ids::{BlockHash, StoneId, TxId};
use gemtrail_ledger::model::SignedTransaction;
use gemtrail_ledger::proof::{build_proof, ProofBuildError, ProvenanceProof};
use serde::Deserialize;

use super::error::{ApiError, ErrorBody};
use super::state::ApiState;
use super::views::{
    BlockView, HistoryItemView, MembersView, PeerView, ReceiptView, StatusView, SubmitView,
};
use super::views::{RaftRole, SubmitStatus};
use crate::admission::{decode_body, SubmitError};
use crate::codes::ErrorCode;
use crate::commits::{Committed, WaitResult};
use crate::mempool::Inserted;

/// Where a waiting submission learns its outcome.
pub(super) type WaitReceiver = tokio::sync::oneshot::Receiver<WaitResult>;

/// The state every handler gets.
pub(super) type Ctx = State<Arc<ApiState>>;

/// Query of a submission.
#[derive(Debug, Default, Deserialize)]
pub(super) struct SubmitQuery {
    /// Wait for the commit and return the receipt.
    #[serde(default)]
    pub(super) wait: bool,
    /// How long to wait, in milliseconds (default and cap: the genesis
    /// request timeout).
    pub(super) timeout_ms: Option<u64>,
}

pub(super) fn receipt_view(committed: &Committed) -> ReceiptView {
    ReceiptView {
        tx_id: committed.receipt.tx_id,
        height: committed.location.height,
        tx_index: committed.location.tx_index,
        outcome: committed.receipt.outcome.clone(),
    }
}

/// Whether the request says its body is JSON (otherwise it is borsh).
pub(super) fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/json"))
}

fn parse_body(headers: &HeaderMap, body: &[u8]) -> Result<SignedTransaction, SubmitError> {
    if is_json(headers) {
        let tx: SignedTransaction =
            serde_json::from_slice(body).map_err(|error| SubmitError::Malformed {
                reason: error.to_string(),
            })?;
        // JSON must describe exactly what the canonical encoding would carry.
        decode_body(&encode(&tx))
    } else {
        decode_body(body)
    }
}

/// `POST /v1/transactions`: admits a signed transaction (borsh bytes, or JSON
/// with `Content-Type: application/json`); with `wait=true`, answers once it
/// is committed.
#[utoipa::path(post, path = "/v1/transactions", tag = "transactions",
    request_body(content = String, description = "a signed transaction: borsh bytes (application/octet-stream) or its JSON (application/json)"),
    params(("wait" = Option<bool>, Query, description = "answer once committed, with the receipt"),
           ("timeout_ms" = Option<u64>, Query, description = "how long to wait (capped by the request timeout)")),
    responses((status = 202, description = "admitted to the mempool", body = SubmitView),
              (status = 200, description = "committed (with wait=true)", body = SubmitView),
              (status = 400, description = "malformed_transaction, wrong_chain, invalid_parameter", body = ErrorBody),
              (status = 403, description = "unknown_signer, key_not_of_member, bad_signature, signer_did_not_sign, missing_role, not_enough_admin_approvals and the other authorisation codes", body = ErrorBody),
              (status = 409, description = "replay", body = ErrorBody),
              (status = 413, description = "body_too_large", body = ErrorBody),
              (status = 408, description = "body_timeout", body = ErrorBody),
              (status = 503, description = "mempool_full, signer_share_full, no_leader, shutting_down, commit_timeout", body = ErrorBody)))]
pub(super) async fn submit(
    State(context): Ctx,
    query: Result<Query<SubmitQuery>, QueryRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(|rejection| ApiError::invalid(rejection.body_text()))?;
    let started = Instant::now();
    let result = submit_inner(&context, &query, &headers, body).await;
    match &result {
        Ok(_) => context.shared.metrics.submission("accepted"),
        Err(error) => context.shared.metrics.submission(error.code().as_str()),
    }
    if query.wait && result.is_ok() {
        context
            .shared
            .metrics
            .submit_to_receipt_seconds
            .observe(started.elapsed().as_secs_f64());
    }
    result
}

async fn submit_inner(
    context: &ApiState,
    query: &SubmitQuery,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = body.map_err(|rejection| body_error(context, &rejection))?;
    let tx = parse_body(headers, &body)?;
    let tx_id = tx.id();
    // Register before admitting, so a fast commit cannot be missed.
    let waiter = query.wait.then(|| context.shared.commits.register(tx_id));
    let inserted = match context.door.admit(tx, tx_id).await {
        Ok((_, inserted)) => inserted,
        Err(error) => {
            if waiter.is_some() {
                drop(waiter);
                context.shared.commits.forget_closed(&tx_id);
            }
            return Err(error.into());
        }
    };
    let duplicate = inserted == Inserted::Duplicate;
    let Some(waiter) = waiter else {
        let view = SubmitView {
            tx_id,
            status: SubmitStatus::Accepted,
            duplicate,
            receipt: None,
        };
        return Ok((StatusCode::ACCEPTED, Json(view)).into_response());
    };
    let committed = wait_for_commit(context, wait_limit(context, query), tx_id, waiter).await?;
    let view = SubmitView {
        tx_id,
        status: SubmitStatus::Committed,
        duplicate,
        receipt: Some(receipt_view(&committed)),
    };
    Ok((StatusCode::OK, Json(view)).into_response())
}

/// The error for a body that could not be read.
pub(super) fn body_error(context: &ApiState, rejection: &BytesRejection) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::BodyTooLarge,
            format!(
                "the request body is larger than the {} bytes this chain accepts",
                context.genesis.limits().request_body_bytes_max
            ),
        )
    } else {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::MalformedTransaction,
            rejection.body_text(),
        )
    }
}

/// How long a submission may wait for its commit: as long as the query
/// asks, within the request timeout (ending just before it, so the client
/// gets a JSON error).
pub(super) fn wait_limit(context: &ApiState, query: &SubmitQuery) -> Duration {
    let limit = context
        .request_timeout
        .saturating_sub(Duration::from_millis(100));
    query
        .timeout_ms
        .map_or(limit, Duration::from_millis)
        .min(limit)
}

/// Waits up to `wait` for `tx_id`'s commit.
pub(super) async fn wait_for_commit(
    context: &ApiState,
    wait: Duration,
    tx_id: TxId,
    waiter: WaitReceiver,
) -> Result<Committed, ApiError> {
    match tokio::time::timeout(wait, waiter).await {
        Ok(Ok(Ok(committed))) => Ok(committed),
        Ok(Ok(Err(error))) => Err(error.into()),
        Ok(Err(_)) | Err(_) => {
            context.shared.commits.forget_closed(&tx_id);
            Err(SubmitError::CommitTimeout {
                tx_id,
                waited_ms: u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
            }
            .into())
        }
    }
}

fn parse<T: std::str::FromStr>(what: &str, text: &str) -> Result<T, ApiError>
where
    T::Err: std::fmt::Display,
{
    text.parse()
        .map_err(|error| ApiError::invalid(format!("invalid {what} {text:?}: {error}")))
}

/// `GET /v1/transactions/{tx_id}`: the receipt and where it is.
#[utoipa::path(get, path = "/v1/transactions/{tx_id}", tag = "reads",
    params(("tx_id" = String, Path, description = "64 hex digits")),
    responses((status = 200, body = ReceiptView), (status = 400, description = "invalid_parameter", body = ErrorBody),
              (status = 404, description = "transaction_not_found", body = ErrorBody)))]
pub(super) async fn receipt(
    State(context): Ctx,
    Path(tx_id): Path<String>,
) -> Result<Json<ReceiptView>, ApiError> {
    let tx_id: TxId = parse("transaction id", &tx_id)?;
    let found = context
        .read(|store| store.receipt(&tx_id))
        .map_err(ApiError::internal)?;
    let Some((location, receipt)) = found else {
        return Err(ApiError::not_found(
            ErrorCode::TransactionNotFound,
            format!("no transaction {tx_id} in the ledger (it may still be waiting to be ordered)"),
        ));
    };
    Ok(Json(receipt_view(&Committed { location, receipt })))
}

/// `GET /v1/stones/{stone_id}`: the stone's current state.
#[utoipa::path(get, path = "/v1/stones/{stone_id}", tag = "reads",
    params(("stone_id" = String, Path)),
    responses((status = 200, description = "the stone's current state", body = Object),
              (status = 400, description = "invalid_parameter", body = ErrorBody),
              (status = 404, description = "stone_not_found", body = ErrorBody)))]
pub(super) async fn stone(
    State(context): Ctx,
    Path(stone_id): Path<String>,
) -> Result<Response, ApiError> {
    let stone_id: StoneId = parse("stone id", &stone_id)?;
    let stone = context
        .read(|store| store.stone(&stone_id))
        .map_err(ApiError::internal)?
        .ok_or_else(|| unknown_stone(&stone_id))?;
    Ok(Json(stone).into_response())
}

fn unknown_stone(stone_id: &StoneId) -> ApiError {
    ApiError::not_found(
        ErrorCode::StoneNotFound,
        format!("no stone {stone_id} in the ledger"),
    )
}

/// `GET /v1/stones/{stone_id}/history`: every transaction that touched it.
#[utoipa::path(get, path = "/v1/stones/{stone_id}/history", tag = "reads",
    params(("stone_id" = String, Path)),
    responses((status = 200, body = Vec<HistoryItemView>), (status = 400, description = "invalid_parameter", body = ErrorBody),
              (status = 404, description = "stone_not_found", body = ErrorBody)))]
pub(super) async fn history(
    State(context): Ctx,
    Path(stone_id): Path<String>,
) -> Result<Json<Vec<HistoryItemView>>, ApiError> {
    let stone_id: StoneId = parse("stone id", &stone_id)?;
    let (exists, history) = context.ledger.read(|store| {
        Ok::<_, ApiError>((
            store
                .stone(&stone_id)
                .map_err(ApiError::internal)?
                .is_some(),
            store.stone_history(&stone_id).map_err(ApiError::internal)?,
        ))
    })?;
    if !exists {
        return Err(unknown_stone(&stone_id));
    }
    let items = history
        .into_iter()
        .map(|entry| HistoryItemView {
            height: entry.location.height,
            tx_index: entry.location.tx_index,
            timestamp_ms: entry.timestamp_ms,
            tx_id: entry.transaction.id(),
            action: entry.transaction.tx.action.name().to_owned(),
            transaction: entry.transaction,
        })
        .collect();
    Ok(Json(items))
}

/// `GET /v1/stones/{stone_id}/proof`: the stone's provenance proof, as borsh
/// bytes (`application/octet-stream`), to verify offline against the genesis.
#[utoipa::path(get, path = "/v1/stones/{stone_id}/proof", tag = "reads",
    params(("stone_id" = String, Path)),
    responses((status = 200, description = "the certified provenance proof, borsh", content_type = "application/octet-stream", body = Vec<u8>),
              (status = 404, description = "stone_not_found", body = ErrorBody),
              (status = 503, description = "not_certified", body = ErrorBody)))]
pub(super) async fn proof(
    State(context): Ctx,
    Path(stone_id): Path<String>,
) -> Result<Response, ApiError> {
    let stone_id: StoneId = parse("stone id", &stone_id)?;
    let proof = certified_proof(&context, stone_id).await?;
    Ok((
        [(header::CONTENT_TYPE, "application/octet-stream")],
        encode(&proof),
    )
        .into_response())
}

/// The stone's proof at the tip, certified (waiting up to half the request
/// timeout for the tip's certificate).
pub(super) async fn certified_proof(
    context: &ApiState,
    stone_id: StoneId,
) -> Result<ProvenanceProof, ApiError> {
    let ledger = context.ledger.clone();
    let built =
        tokio::task::spawn_blocking(move || ledger.read(|store| build_proof(store, &stone_id)))
            .await
            .map_err(ApiError::internal)?;
    let mut proof = match built {
        Ok(proof) => proof,
        Err(ProofBuildError::UnknownStone { stone }) => return Err(unknown_stone(&stone)),
        Err(error) => return Err(ApiError::internal(error)),
    };
    // The tip was just applied here; its certificate follows within a round
    // trip to the other nodes, unless fewer than a majority are up.
    let height = proof.tip.height;
    let certificate = context
        .certifier
        .wait_for(height, context.request_timeout / 2)
        .await
        .ok_or_else(|| not_certified(height))?;
    proof.certify(certificate).map_err(|_| {
        ApiError::internal(format!(
            "the certificate stored for height {height} is of another block"
        ))
    })?;
    Ok(proof)
}

fn not_certified(height: u64) -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::NotCertified,
        format!(
            "block {height} has no quorum certificate yet: fewer than a majority of the nodes signed it; check that a majority of the nodes are up and their clocks agree"
        ),
    )
}

/// `GET /v1/certificates/latest`: the certificate of the highest certified
/// height.
#[utoipa::path(get, path = "/v1/certificates/latest", tag = "reads",
    responses((status = 200, description = "a quorum certificate", body = Object),
              (status = 404, description = "certificate_not_found", body = ErrorBody)))]
pub(super) async fn latest_certificate(
    State(context): Ctx,
) -> Result<Json<QuorumCertificate>, ApiError> {
    context.certifier.latest().map(Json).ok_or_else(|| {
        ApiError::not_found(
            ErrorCode::CertificateNotFound,
            "no block has been certified yet",
        )
    })
}

/// `GET /v1/certificates/{height}`: the certificate of one height.
#[utoipa::path(get, path = "/v1/certificates/{height}", tag = "reads",
    params(("height" = u64, Path)),
    responses((status = 200, description = "a quorum certificate", body = Object),
              (status = 400, description = "invalid_parameter", body = ErrorBody),
              (status = 404, description = "certificate_not_found", body = ErrorBody)))]
pub(super) async fn certificate(
    State(context): Ctx,
    Path(height): Path<String>,
) -> Result<Json<QuorumCertificate>, ApiError> {
    let height: u64 = parse("height", &height)?;
    context.certifier.stored(height).map(Json).ok_or_else(|| {
        ApiError::not_found(
            ErrorCode::CertificateNotFound,
            format!("no certificate for height {height}"),
        )
    })
}

/// `GET /v1/blocks/{height or hash}`: a block.
#[utoipa::path(get, path = "/v1/blocks/{block}", tag = "reads",
    params(("block" = String, Path, description = "a height, or a block hash in 64 hex digits")),
    responses((status = 200, body = BlockView), (status = 400, description = "invalid_parameter", body = ErrorBody),
              (status = 404, description = "block_not_found", body = ErrorBody)))]
pub(super) async fn block(
    State(context): Ctx,
    Path(which): Path<String>,
) -> Result<Json<BlockView>, ApiError> {
    let block = if which.len() == 64 {
        let hash: BlockHash = parse("block hash", &which)?;
        context.ledger.read(|store| store.block_by_hash(&hash))
    } else {
        let height: u64 = parse("block height", &which)?;
        context.ledger.read(|store| store.block(height))
    }
    .map_err(ApiError::internal)?
    .ok_or_else(|| ApiError::not_found(ErrorCode::BlockNotFound, format!("no block {which}")))?;
    let hash = block.header.hash(context.genesis.chain_id());
    let receipts = context
        .read(|store| store.block_receipts(block.header.height))
        .map_err(ApiError::internal)?;
    Ok(Json(BlockView {
        hash,
        block,
        receipts,
    }))
}

/// `GET /v1/members`: the members, nodes and retired ids as of the tip.
#[utoipa::path(get, path = "/v1/members", tag = "reads",
    responses((status = 200, body = MembersView)))]
pub(super) async fn members(State(context): Ctx) -> Json<MembersView> {
    Json(context.read(|store| MembersView::new(store.tip().height, store.membership())))
}

/// `GET /v1/status`: the node and the cluster as this node sees them.
#[utoipa::path(get, path = "/v1/status", tag = "operations",
    responses((status = 200, body = StatusView)))]
pub(super) async fn status(State(context): Ctx) -> Json<StatusView> {
    Json(status_view(&context))
}

/// Builds the status (also used to refresh the metrics).
fn status_view(context: &ApiState) -> StatusView {
    let (state, leader, term, last_applied, voters) = {
        let metrics = context.raft.raft.metrics();
        let metrics = metrics.borrow();
        (
            metrics.state,
            metrics.current_leader,
            metrics.current_term,
            metrics.last_applied.map(|log_id| log_id.index),
            metrics.membership_config.membership().voter_ids().collect(),
        )
    };
    let tip = context.ledger.read(|store| store.tip());
    let view = context.shared.p2p.view();
    let local_peer = context.shared.p2p.local_peer();
    let peers = context.shared.directory.read(|directory| {
        directory
            .entries()
            .map(|entry| PeerView {
                node_id: entry.id,
                peer_id: entry.info.peer_id.to_string(),
                listen_addr: entry.info.listen_addr.to_string(),
                api_addr: entry.info.api_addr.to_string(),
                connected: entry
                    .peer
                    .is_some_and(|peer| peer == local_peer || view.connected.contains(&peer)),
            })
            .collect()
    });
    StatusView {
        node_id: context.raft.id,
        peer_id: local_peer.to_string(),
        chain_id: context.genesis.chain_id().to_string(),
        genesis_hash: context.genesis.hash(),
        raft_state: RaftRole::from(state),
        leader,
        term,
        voters,
        last_applied_index: last_applied,
        height: tip.height,
        tip_hash: tip.hash,
        tip_timestamp_ms: tip.timestamp_ms,
        certified_height: context.certifier.certified_height(),
        mempool_txs: context.shared.mempool.len() as u64,
        peers,
        refused_connections: view.refused_connections,
        accepting: context.door.is_accepting(),
        public_url: context.pages.public_url.clone(),
    }
}

/// `GET /metrics`: Prometheus text exposition.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Prometheus metrics, OpenMetrics text", content_type = "application/openmetrics-text", body = String)))]
pub(super) async fn metrics(State(context): Ctx) -> Response {
    let status = status_view(&context);
    let metrics = &context.shared.metrics;
    let gauge = crate::metrics::gauge_value;
    metrics.raft_term.set(gauge(status.term));
    metrics.raft_leader.set(gauge(status.leader.unwrap_or(0)));
    metrics
        .raft_is_leader
        .set(i64::from(status.raft_state == RaftRole::Leader));
    metrics.peers_connected.set(gauge(
        (status.peers.iter().filter(|peer| peer.connected).count() as u64).saturating_sub(1),
    ));
    metrics.peers_refused.set(gauge(status.refused_connections));
    metrics.mempool_txs.set(gauge(status.mempool_txs));
    metrics.ledger_height.set(gauge(status.height));
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        metrics.render(),
    )
        .into_response()
}

/// A known path with the wrong method.
pub(super) async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        ErrorCode::MethodNotAllowed,
        "this endpoint does not take that method; see docs/api.md",
    )
}

/// Any other path: a page for a person under `/passport` and `/explorer`,
/// a JSON error elsewhere.
pub(super) async fn not_found(State(context): Ctx, uri: Uri, headers: HeaderMap) -> Response {
    let path = uri.path();
    if path.starts_with("/passport/") || path.starts_with("/explorer/") {
        return super::web::page_not_found(&context, &uri, &headers);
    }
    ApiError::not_found(
        ErrorCode::NoSuchEndpoint,
        "no such endpoint; see docs/api.md",
    )
    .into_response()
}
