//! `gemtrail bench --batch N`: each client sends its transactions N at a time,
//! one request to the batch endpoint carrying the same step of N stones'
//! lives (N registrations, then N transfer proposals, and so on), as a bulk
//! client such as a miner registering a sorted parcel would.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use serde::Deserialize;

use super::{applied_outcome, log_failure, Answer, Tally, TXS_PER_STONE};
use crate::load::LoadConnection;

/// Where a batch waits for its receipts.
const BATCH_AND_WAIT: &str = "/v1/transactions/batch?wait=true";

/// The part of the node's answer to a waited batch that the bench reads.
#[derive(Deserialize)]
struct BatchAnswer {
    items: Vec<Answer>,
}

/// The borsh encoding of a vector of transactions, from their encodings.
fn batch_body<'a>(txs: impl ExactSizeIterator<Item = &'a Vec<u8>>) -> Bytes {
    // Batches are at most the bench's `--batch`, far below u32::MAX.
    let count = u32::try_from(txs.len()).unwrap_or(u32::MAX);
    let mut body = count.to_le_bytes().to_vec();
    for tx in txs {
        body.extend_from_slice(tx);
    }
    Bytes::from(body)
}

/// Whether each item of the node's answer was committed and applied.
fn applied_items(answer: &[u8], expected: usize) -> Result<Vec<bool>, String> {
    let answer: BatchAnswer =
        serde_json::from_slice(answer).map_err(|error| format!("unreadable answer: {error}"))?;
    if answer.items.len() != expected {
        return Err(format!(
            "{} items for {expected} transactions",
            answer.items.len()
        ));
    }
    Ok(answer.items.into_iter().map(applied_outcome).collect())
}

/// Submits one client's work in batches of up to `batch` stones, each
/// step of their lives once the previous step has its receipts. A stone
/// whose transaction fails drops out of its group.
pub(super) async fn batch_submitter(
    mut connection: LoadConnection,
    work: Vec<Vec<u8>>,
    batch: usize,
    tally: Arc<Tally>,
) {
    let stones = work.len() / TXS_PER_STONE;
    let mut latencies = Vec::new();
    'groups: for first in (0..stones).step_by(batch.max(1)) {
        let mut alive: Vec<usize> = (first..(first + batch).min(stones)).collect();
        for step in 0..TXS_PER_STONE {
            if tally.stop.load(Ordering::Relaxed) {
                break 'groups;
            }
            if alive.is_empty() {
                break;
            }
            let measuring = tally.measuring.load(Ordering::Relaxed);
            let body = batch_body(
                alive
                    .iter()
                    .map(|stone| &work[stone * TXS_PER_STONE + step]),
            );
            let started = Instant::now();
            let answer = connection.post(BATCH_AND_WAIT, body).await;
            let verdicts = answer
                .map_err(|error| error.to_string())
                .and_then(|answer| applied_items(&answer, alive.len()));
            let verdicts = match verdicts {
                Ok(verdicts) => verdicts,
                Err(error) => {
                    tally
                        .errors
                        .fetch_add(alive.len() as u64, Ordering::Relaxed);
                    log_failure(&error);
                    continue 'groups;
                }
            };
            let micros = u32::try_from(started.elapsed().as_micros()).unwrap_or(u32::MAX);
            let applied = verdicts.iter().filter(|applied| **applied).count() as u64;
            tally.committed_total.fetch_add(applied, Ordering::Relaxed);
            tally
                .rejected
                .fetch_add(verdicts.len() as u64 - applied, Ordering::Relaxed);
            if measuring && !tally.stop.load(Ordering::Relaxed) {
                tally.committed.fetch_add(applied, Ordering::Relaxed);
                latencies.extend((0..applied).map(|_| micros));
            }
            let mut verdict = verdicts.into_iter();
            alive.retain(|_| verdict.next().unwrap_or(false));
        }
    }
    if let Ok(mut all) = tally.latencies_us.lock() {
        all.extend(latencies);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_body_is_a_borsh_vector_of_the_encodings() {
        let txs = [vec![1u8, 2], vec![3u8]];
        let body = batch_body(txs.iter());
        assert_eq!(&body[..], &[2, 0, 0, 0, 1, 2, 3]);
    }

    #[test]
    fn each_item_is_read_and_a_short_answer_is_an_error() {
        use gemtrail_ledger::ids::TxId;
        use gemtrail_ledger::model::Outcome;
        use gemtrail_node::api::error::ErrorDetail;
        use gemtrail_node::api::views::{
            BatchItemView, BatchSubmitView, ReceiptView, SubmitStatus,
        };
        let committed = BatchItemView {
            tx_id: TxId([3; 32]),
            status: Some(SubmitStatus::Committed),
            duplicate: false,
            receipt: Some(ReceiptView {
                tx_id: TxId([3; 32]),
                height: 9,
                tx_index: 0,
                outcome: Outcome::Applied,
            }),
            error: None,
        };
        let refused = BatchItemView {
            tx_id: TxId([4; 32]),
            status: None,
            duplicate: false,
            receipt: None,
            error: Some(ErrorDetail {
                code: "replay".to_owned(),
                message: "seen".to_owned(),
            }),
        };
        let answer = serde_json::to_vec(&BatchSubmitView {
            items: vec![committed, refused],
        })
        .unwrap();
        assert_eq!(applied_items(&answer, 2), Ok(vec![true, false]));
        assert!(applied_items(&answer, 3).is_err());
    }
}
