//! API errors: JSON bodies with a stable machine-readable code and a human
//! message, `{"error": {"code": "replay", "message": "..."}}`. The codes are
//! listed in docs/api.md; clients branch on them, never on the message.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};

use crate::admission::SubmitError;
use crate::codes::ErrorCode;

/// The JSON error body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// The code and message of an error.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Stable machine-readable code; a client keeps it as text, so a code
    /// a newer node adds still reaches it.
    pub code: String,
    /// What went wrong and what to do, for a person.
    pub message: String,
}

/// An error the API returns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    status: StatusCode,
    code: ErrorCode,
    message: String,
}

impl ApiError {
    /// An error with an explicit status, code and message.
    pub(crate) fn new(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    /// 404 with `code`.
    pub(crate) fn not_found(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message)
    }

    /// 400 `invalid_parameter`.
    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidParameter,
            message,
        )
    }

    /// 500 `internal`; the details go to the log, not to the client.
    pub(crate) fn internal(error: impl std::fmt::Display) -> Self {
        tracing::error!(%error, "API request failed");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::Internal,
            "the node failed to answer; its log has the details",
        )
    }

    /// Its HTTP status.
    pub(crate) fn status(&self) -> StatusCode {
        self.status
    }

    /// Its message.
    pub(crate) fn message(&self) -> &str {
        &self.message
    }

    /// Its code.
    pub(crate) fn code(&self) -> ErrorCode {
        self.code
    }
}

impl From<SubmitError> for ApiError {
    fn from(error: SubmitError) -> Self {
        let status = match &error {
            SubmitError::Malformed { .. }
            | SubmitError::WrongChain { .. }
            | SubmitError::BadSignature { .. }
            | SubmitError::Unsigned => StatusCode::BAD_REQUEST,
            SubmitError::KeyNotOfMember { .. } | SubmitError::Unauthorized { .. } => {
                StatusCode::FORBIDDEN
            }
            SubmitError::Replay { .. } => StatusCode::CONFLICT,
            SubmitError::MempoolFull { .. }
            | SubmitError::SignerShareFull { .. }
            | SubmitError::ShuttingDown
            | SubmitError::NotOrdered { .. } => StatusCode::SERVICE_UNAVAILABLE,
            SubmitError::CommitTimeout { .. } => StatusCode::GATEWAY_TIMEOUT,
            SubmitError::Internal { .. } => return ApiError::internal(error),
        };
        Self::new(status, error.code(), error.to_string())
    }
}

impl ApiError {
    /// The code and message, as the body carries them.
    pub(crate) fn into_detail(self) -> ErrorDetail {
        ErrorDetail {
            code: self.code.as_str().to_owned(),
            message: self.message,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status;
        let body = ErrorBody {
            error: self.into_detail(),
        };
        (status, Json(body)).into_response()
    }
}

#[cfg(test)]
mod tests {
    use gemtrail_ledger::ids::TxId;

    use super::*;

    /// The status, code and message a client receives for `error`.
    fn answer(error: SubmitError) -> (StatusCode, &'static str, String) {
        let api = ApiError::from(error);
        (api.status, api.code.as_str(), api.message)
    }

    #[test]
    fn refusals_that_ask_to_retry_are_service_unavailable_with_their_code() {
        assert_eq!(
            answer(SubmitError::MempoolFull { capacity: 2 }),
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "mempool_full",
                "the node's mempool is full (2 transactions); retry shortly".to_owned()
            )
        );
        let (status, code, message) = answer(SubmitError::SignerShareFull {
            signer: gemtrail_ledger::ids::OrgId::parse("miner").unwrap(),
            share: 25_000,
        });
        assert_eq!(
            (status, code),
            (StatusCode::SERVICE_UNAVAILABLE, "signer_share_full")
        );
        assert!(
            message.starts_with("miner already has 25000 transactions waiting"),
            "{message}"
        );
        assert_eq!(
            answer(SubmitError::ShuttingDown),
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "shutting_down",
                "the node is shutting down; submit to another node".to_owned()
            )
        );
        let tx_id = TxId([7; 32]);
        let (status, code, message) = answer(SubmitError::NotOrdered {
            tx_id,
            reason: "no leader".to_owned(),
        });
        assert_eq!(
            (status, code),
            (StatusCode::SERVICE_UNAVAILABLE, "not_ordered")
        );
        assert_eq!(
            message,
            format!("transaction {tx_id} was not ordered: no leader; submitting it again is safe")
        );
    }

    #[test]
    fn a_commit_timeout_is_a_gateway_timeout_naming_the_transaction() {
        let tx_id = TxId([9; 32]);
        assert_eq!(
            answer(SubmitError::CommitTimeout {
                tx_id,
                waited_ms: 1500
            }),
            (
                StatusCode::GATEWAY_TIMEOUT,
                "commit_timeout",
                format!(
                    "transaction {tx_id} was not committed within 1500 ms; query its receipt later"
                )
            )
        );
    }
}
