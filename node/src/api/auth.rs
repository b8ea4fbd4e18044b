//! The API's door for people and programs, before any handler: with
//! `api_access = "members"`, every request must be signed by a member
//! ([`crate::request_auth`]), and each refusal is 401 with its code
//! (`unsigned_request`, `bad_request_signature`, `unknown_request_signer`,
//! `request_expired`, `replayed_request`). The consumer's passport pages,
//! `/metrics` and `/v1/openapi.json` stay open.
//!
//! The body was already read whole by [`super::body`], so checking its
//! digest costs no extra wait. The signature is checked before the nonce is
//! remembered, so strangers cannot fill the nonce memory.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use super::state::ApiState;
use crate::codes::ErrorCode;
use crate::config::ApiAccess;
use crate::request_auth::{read_claim, Claim, ClaimError, RequestParts, WINDOW_SECS};

/// Most nonces remembered at once; past it, new requests wait for old
/// nonces to leave the window (`too_many`, 503).
const NONCES_MAX: usize = 200_000;

/// Nonces seen within the window, by member, with when each expires.
#[derive(Debug, Default)]
pub(crate) struct Nonces {
    seen: Mutex<HashMap<String, u64>>,
}

impl Nonces {
    /// Remembers `claim`'s nonce; `Ok(false)` if it was seen before.
    fn remember(&self, claim: &Claim, now: u64) -> Result<bool, ApiError> {
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        if seen.len() >= NONCES_MAX {
            seen.retain(|_, expires| *expires > now);
        }
        if seen.len() >= NONCES_MAX {
            return Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::TooMany,
                "too many signed requests within the replay window; try again shortly",
            ));
        }
        let key = format!("{}/{}", claim.keyid, claim.nonce);
        let expires = claim.created.saturating_add(WINDOW_SECS);
        Ok(seen.insert(key, expires).is_none())
    }
}

fn open_path(path: &str) -> bool {
    path == "/"
        || path.starts_with("/passport/")
        || path == "/metrics"
        || path == "/v1/openapi.json"
}

fn unauthorized(code: ErrorCode, message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, code, message)
}

/// The middleware.
pub(super) async fn require_member_signature(
    State(context): State<Arc<ApiState>>,
    request: Request,
    next: Next,
) -> Response {
    if context.access == ApiAccess::Open || open_path(request.uri().path()) {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    // Already read whole and capped by the body layer.
    let Ok(bytes) = to_bytes(body, usize::MAX).await else {
        return unauthorized(ErrorCode::BadRequestSignature, "the body could not be read")
            .into_response();
    };
    match check(&context, &parts, &bytes) {
        Ok(()) => {
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
        Err(error) => error.into_response(),
    }
}

fn check(context: &ApiState, parts: &Parts, body: &[u8]) -> Result<(), ApiError> {
    let header = |name: &str| {
        parts
            .headers
            .get(name)
            .and_then(|value| value.to_str().ok())
    };
    let claim = read_claim(
        header("signature-input"),
        header("signature"),
        header("content-digest"),
    )
    .map_err(|error| match error {
        ClaimError::Unsigned => unauthorized(ErrorCode::UnsignedRequest, error.to_string()),
        ClaimError::Malformed(_) => unauthorized(ErrorCode::BadRequestSignature, error.to_string()),
    })?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs());
    if !claim.is_fresh(now) {
        return Err(unauthorized(
            ErrorCode::RequestExpired,
            format!("the request was made at {} (Unix seconds), more than {WINDOW_SECS} s from this node's clock ({now}); check the clocks", claim.created),
        ));
    }
    let keys = context
        .read(|store| {
            store
                .membership()
                .member(&claim.keyid)
                .map(|member| member.keys.iter().copied().collect::<Vec<_>>())
        })
        .ok_or_else(|| {
            unauthorized(
                ErrorCode::UnknownRequestSigner,
                format!("{} is not a member of this consortium", claim.keyid),
            )
        })?;
    let request = RequestParts {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        query: parts.uri.query(),
        body,
    };
    if !claim.verifies(&request, &keys) {
        return Err(unauthorized(
            ErrorCode::BadRequestSignature,
            format!(
                "the request's signature or body digest does not check against {}'s keys",
                claim.keyid
            ),
        ));
    }
    if !context.nonces.remember(&claim, now)? {
        return Err(unauthorized(
            ErrorCode::ReplayedRequest,
            "this request (its nonce) was already received; sign each request anew",
        ));
    }
    Ok(())
}
