//! `POST /v1/transactions/batch`: many signed transactions in one request,
//! one answer each.
//!
//! A bulk client, such as a miner registering a sorted parcel, pays one
//! request, one pass of the door (its signatures verified in one batch) and
//! one wait, instead of one of each per stone. Each transaction meets the
//! same door checks as a single submission, in the order sent, and its item
//! carries the code a single submission would have got; a refusal of one
//! does not refuse the others.

use std::time::Instant;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use gemtrail_ledger::codec::{decode, encode, BoundedVec};
use gemtrail_ledger::ids::TxId;
use gemtrail_ledger::model::SignedTransaction;

use super::error::{ApiError, ErrorBody};
use super::handlers::{body_error, is_json, receipt_view, wait_for_commit, wait_limit};
use super::handlers::{Ctx, SubmitQuery, WaitReceiver};
use super::state::ApiState;
use super::views::{BatchItemView, BatchSubmitView, SubmitStatus};
use crate::admission::{decode_body, Admission};
use crate::codes::ErrorCode;
use crate::mempool::Inserted;

/// The most transactions one batch request may carry.
pub const SUBMIT_BATCH_TXS_MAX: usize = 1024;

/// The borsh form of a batch body.
type BatchBody = BoundedVec<SignedTransaction, SUBMIT_BATCH_TXS_MAX>;

/// `POST /v1/transactions/batch`: admits each transaction (a JSON array, or
/// the borsh encoding of a vector); with `wait=true`, answers once each
/// admitted one is committed or the wait is over.
#[utoipa::path(post, path = "/v1/transactions/batch", tag = "transactions",
    request_body(content = String, description = "up to 1,024 signed transactions, borsh or JSON"),
    responses((status = 200, description = "one item per transaction: admitted, committed, or its error", body = BatchSubmitView),
              (status = 400, description = "malformed_transaction, batch_too_large", body = ErrorBody),
              (status = 413, description = "body_too_large", body = ErrorBody)))]
pub(super) async fn submit_batch(
    State(context): Ctx,
    query: Result<Query<SubmitQuery>, QueryRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<BatchSubmitView>, ApiError> {
    let Query(query) = query.map_err(|rejection| ApiError::invalid(rejection.body_text()))?;
    let body = body.map_err(|rejection| body_error(&context, &rejection))?;
    let txs = parse_batch(&headers, &body)?;
    let identified: Vec<(SignedTransaction, TxId)> = txs
        .into_iter()
        .map(|tx| {
            let tx_id = tx.id();
            (tx, tx_id)
        })
        .collect();
    let ids: Vec<TxId> = identified.iter().map(|(_, tx_id)| *tx_id).collect();
    // Register before admitting, so a fast commit cannot be missed.
    let waiters: Vec<Option<WaitReceiver>> = ids
        .iter()
        .map(|tx_id| query.wait.then(|| context.shared.commits.register(*tx_id)))
        .collect();
    let admissions = context.door.admit_identified(identified).await;
    let deadline = Instant::now() + wait_limit(&context, &query);
    let mut items = Vec::with_capacity(ids.len());
    for ((tx_id, admission), waiter) in ids.into_iter().zip(admissions).zip(waiters) {
        items.push(settle(&context, tx_id, admission, waiter, deadline).await);
    }
    Ok(Json(BatchSubmitView { items }))
}

/// One transaction's item: refused, accepted, or (when waiting) committed.
async fn settle(
    context: &ApiState,
    tx_id: TxId,
    admission: Admission,
    waiter: Option<WaitReceiver>,
    deadline: Instant,
) -> BatchItemView {
    let mut item = BatchItemView {
        tx_id,
        status: None,
        duplicate: false,
        receipt: None,
        error: None,
    };
    let inserted = match admission {
        Ok((_, inserted)) => inserted,
        Err(error) => {
            context.shared.metrics.submission(error.code().as_str());
            if waiter.is_some() {
                drop(waiter);
                context.shared.commits.forget_closed(&tx_id);
            }
            item.error = Some(ApiError::from(error).into_detail());
            return item;
        }
    };
    context.shared.metrics.submission("accepted");
    item.status = Some(SubmitStatus::Accepted);
    item.duplicate = inserted == Inserted::Duplicate;
    let Some(waiter) = waiter else {
        return item;
    };
    let remaining = deadline.saturating_duration_since(Instant::now());
    match wait_for_commit(context, remaining, tx_id, waiter).await {
        Ok(committed) => {
            item.status = Some(SubmitStatus::Committed);
            item.receipt = Some(receipt_view(&committed));
        }
        Err(error) => item.error = Some(error.into_detail()),
    }
    item
}

/// The batch's transactions, each in its canonical form, in order.
fn parse_batch(headers: &HeaderMap, body: &[u8]) -> Result<Vec<SignedTransaction>, ApiError> {
    let txs = if is_json(headers) {
        let txs: Vec<SignedTransaction> = serde_json::from_slice(body).map_err(|error| {
            malformed(format!(
                "the batch is not a JSON array of transactions: {error}"
            ))
        })?;
        check_count(txs.len())?;
        // JSON must describe exactly what the canonical encoding would carry.
        txs.iter()
            .enumerate()
            .map(|(index, tx)| {
                decode_body(&encode(tx))
                    .map_err(|error| malformed(format!("transaction {index}: {error}")))
            })
            .collect::<Result<Vec<_>, _>>()?
    } else {
        let announced = announced_count(body)
            .ok_or_else(|| malformed("the batch is shorter than a vector's length".to_owned()))?;
        check_count(announced)?;
        decode::<BatchBody>(body)
            .map_err(|error| malformed(format!("the batch does not decode: {error}")))?
            .into_inner()
    };
    Ok(txs)
}

/// The element count a borsh vector's first four bytes announce.
fn announced_count(body: &[u8]) -> Option<usize> {
    let prefix = <[u8; 4]>::try_from(body.get(..4)?).ok()?;
    usize::try_from(u32::from_le_bytes(prefix)).ok()
}

fn check_count(count: usize) -> Result<(), ApiError> {
    if count == 0 || count > SUBMIT_BATCH_TXS_MAX {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidBatch,
            format!(
                "a batch carries 1 to {SUBMIT_BATCH_TXS_MAX} transactions; this one announces {count}"
            ),
        ));
    }
    Ok(())
}

fn malformed(message: String) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        ErrorCode::MalformedTransaction,
        message,
    )
}
