//! Request bodies read against a deadline, before any handler runs.
//!
//! A client that sends its body a byte a second would otherwise hold one of
//! the API's concurrency slots for the whole request timeout; a few hundred
//! such clients would starve honest ones. Every body is therefore read in
//! full first, within the header deadline (`limits.api_header_read_timeout_ms`)
//! plus the time its declared length takes at [`BODY_MIN_BYTES_PER_SEC`]. A
//! body that misses it is answered `408 body_timeout` and its connection
//! closed. Bodies declared larger than the chain's cap go straight on, to be
//! refused by the handler before a byte is read.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body_util::LengthLimitError;

use super::error::ApiError;
use super::state::ApiState;
use crate::codes::ErrorCode;

/// The slowest body an honest client sends: 64 KiB a second.
pub(crate) const BODY_MIN_BYTES_PER_SEC: u64 = 64 * 1024;

/// How long a body of `declared` bytes (or, undeclared, up to `body_max`)
/// may take to arrive.
pub(crate) fn body_deadline(grace: Duration, declared: Option<u64>, body_max: u64) -> Duration {
    let length = declared.unwrap_or(body_max).min(body_max);
    grace + Duration::from_millis(length.saturating_mul(1000) / BODY_MIN_BYTES_PER_SEC)
}

/// Middleware: reads the whole body within its deadline, then hands the
/// request on with the body in memory.
pub(super) async fn read_within_deadline(
    State(context): State<Arc<ApiState>>,
    request: Request,
    next: Next,
) -> Response {
    let body_max = context.genesis.limits().request_body_bytes_max;
    let declared = declared_length(request.headers());
    if declared.is_some_and(|length| length > body_max) {
        return next.run(request).await;
    }
    let deadline = body_deadline(context.body_grace, declared, body_max);
    let (parts, body) = request.into_parts();
    let limit = usize::try_from(body_max).unwrap_or(usize::MAX);
    match tokio::time::timeout(deadline, axum::body::to_bytes(body, limit)).await {
        Ok(Ok(bytes)) => {
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
        Ok(Err(error)) if is_length_limit(&error) => too_large(body_max),
        Ok(Err(error)) => ApiError::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::MalformedTransaction,
            format!("the request body could not be read: {error}"),
        )
        .into_response(),
        Err(_) => timed_out(deadline),
    }
}

fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

fn is_length_limit(error: &axum::Error) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(current) = cause {
        if current.is::<LengthLimitError>() {
            return true;
        }
        cause = current.source();
    }
    false
}

fn too_large(body_max: u64) -> Response {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        ErrorCode::BodyTooLarge,
        format!("the request body is larger than the {body_max} bytes this chain accepts"),
    )
    .into_response()
}

/// The 408 for a body that came too slowly; the connection is closed, since
/// the rest of that body may still be on its way.
fn timed_out(deadline: Duration) -> Response {
    let mut response = ApiError::new(
        StatusCode::REQUEST_TIMEOUT,
        ErrorCode::BodyTimeout,
        format!(
            "the request body did not arrive within {} ms; send it together with the headers",
            deadline.as_millis()
        ),
    )
    .into_response();
    response.headers_mut().insert(
        header::CONNECTION,
        header::HeaderValue::from_static("close"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_deadline_is_the_grace_plus_the_declared_length_at_the_minimum_rate() {
        let grace = Duration::from_secs(5);
        assert_eq!(body_deadline(grace, Some(0), 1 << 20), grace);
        let one_mib = body_deadline(grace, Some(1 << 20), 1 << 20);
        assert_eq!(one_mib, grace + Duration::from_secs(16));
        // Undeclared, or declared beyond the cap, counts as the cap.
        assert_eq!(body_deadline(grace, None, 1 << 20), one_mib);
        assert_eq!(body_deadline(grace, Some(u64::MAX), 1 << 20), one_mib);
    }
}
