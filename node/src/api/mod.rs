//! The HTTP API for clients (axum): submit signed transactions, read the
//! ledger, fetch provenance proofs, see the node's status and metrics; and
//! the web pages for people: the buyer's passport and the members' explorer
//! ([`web`], [`explorer`]).
//!
//! Every route and error code is documented in docs/api.md. Bodies are capped
//! at the genesis `request_body_bytes_max` and must arrive within a deadline
//! (see [`body`]), requests at its `request_timeout_ms`, and concurrent
//! requests at the node's `limits.api_concurrency_max`. The API binds the node's genesis `api_addr`
//! (or the configuration's `api_addr`); the sample consortium and `node init`
//! put it on 127.0.0.1.

mod auth;
mod batch;
mod body;
pub mod error;
mod explorer;
mod handlers;
mod openapi;
mod server;
mod state;
pub mod views;
mod web;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;
use tower::limit::GlobalConcurrencyLimitLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

pub(crate) use auth::Nonces;
pub use batch::SUBMIT_BATCH_TXS_MAX;
pub(crate) use state::{ApiState, Pages};

/// The API's routes over `state`.
pub(crate) fn router(state: Arc<ApiState>, concurrency_max: usize) -> Router {
    let limits = state.genesis.limits();
    let body_max = usize::try_from(limits.request_body_bytes_max).unwrap_or(usize::MAX);
    // Submissions that wait end themselves just before this, with a JSON error.
    let timeout = Duration::from_millis(limits.request_timeout_ms);
    Router::new()
        .route("/v1/transactions", post(handlers::submit))
        .route("/v1/transactions/batch", post(batch::submit_batch))
        .route("/v1/transactions/{tx_id}", get(handlers::receipt))
        .route("/v1/stones/{stone_id}", get(handlers::stone))
        .route("/v1/stones/{stone_id}/history", get(handlers::history))
        .route("/v1/stones/{stone_id}/proof", get(handlers::proof))
        .route("/v1/blocks/{block}", get(handlers::block))
        .route("/v1/certificates/latest", get(handlers::latest_certificate))
        .route("/v1/certificates/{height}", get(handlers::certificate))
        .route("/v1/members", get(handlers::members))
        .route("/v1/status", get(handlers::status))
        .route("/v1/openapi.json", get(openapi::openapi_json))
        .route("/metrics", get(handlers::metrics))
        .route("/", get(web::root))
        .route("/passport/{stone_id}", get(web::passport))
        .route("/passport/{stone_id}/file", get(web::passport_file))
        .route("/passport/{stone_id}/qr.svg", get(web::passport_qr))
        .route("/explorer", get(explorer::home))
        .route("/explorer/search", get(explorer::search))
        .route("/explorer/blocks/{height}", get(explorer::block))
        .route("/explorer/stones/{stone_id}", get(explorer::stone))
        .route("/explorer/members", get(explorer::members))
        .route("/explorer/members/{org}", get(explorer::member))
        .fallback(handlers::not_found)
        .method_not_allowed_fallback(handlers::method_not_allowed)
        // Innermost: members' signatures, checked over the body read whole.
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&state),
            auth::require_member_signature,
        ))
        // A slow body holds its concurrency slot only until its deadline.
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&state),
            body::read_within_deadline,
        ))
        .layer(DefaultBodyLimit::max(body_max))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            timeout,
        ))
        // One semaphore for the whole API (a per-route limit would multiply it).
        .layer(GlobalConcurrencyLimitLayer::new(concurrency_max.max(1)))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// Binds the API's listener (so a busy port fails the node's start).
pub(crate) async fn bind(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr).await
}

pub(crate) use server::{serve, ServeLimits};

/// The address the API actually listens on.
pub(crate) fn local_addr(listener: &tokio::net::TcpListener) -> Option<SocketAddr> {
    listener.local_addr().ok()
}
