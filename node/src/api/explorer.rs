//! The explorer's handlers: they read the ledger and hand plain values to the
//! `gemtrail-web` pages. Same access as the JSON reads they mirror
//! (`/v1/blocks`, `/v1/stones`, `/v1/members`).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use gemtrail_ledger::certificate::QuorumCertificate;
use gemtrail_ledger::ids::{BlockHash, OrgId, StoneId, TxId};
use gemtrail_ledger::model::{Action, StoneKind};
use gemtrail_ledger::store::LedgerStore;
use gemtrail_web::explorer::{
    block_page, home_page, member_page, members_page, message_page, stone_page, BlockPage,
    BlockSummary, CertifiedTip, StonePage, EXPLORER,
};
use gemtrail_web::LineageTree;

use super::error::ApiError;
use super::handlers::Ctx;
use super::web::{error_page, html, member_names, verified_journey, PageRequest};
use crate::codes::ErrorCode;

/// How many blocks the front page lists.
const RECENT_BLOCKS: u64 = 20;

fn certified(certificate: Option<QuorumCertificate>) -> Option<CertifiedTip> {
    certificate.map(|certificate| CertifiedTip {
        height: certificate.checkpoint.height,
        nodes: certificate
            .signatures
            .iter()
            .map(|signature| signature.node)
            .collect(),
    })
}

fn recent_blocks(store: &LedgerStore) -> Result<Vec<BlockSummary>, ApiError> {
    let tip = store.tip().height;
    let mut recent = Vec::new();
    for height in (tip.saturating_sub(RECENT_BLOCKS - 1)..=tip).rev() {
        if let Some(header) = store.header(height).map_err(ApiError::internal)? {
            recent.push(BlockSummary {
                height,
                hash: header.hash(store.chain_id()),
                timestamp_ms: header.timestamp_ms,
                tx_count: header.tx_count,
            });
        }
    }
    Ok(recent)
}

/// `GET /explorer`: the tip, its certificate and recent blocks.
#[utoipa::path(get, path = "/explorer", tag = "pages",
    responses((status = 200, description = "the tip, its certificate, recent blocks", content_type = "text/html", body = String)))]
pub(super) async fn home(State(context): Ctx, page: PageRequest) -> Response {
    let locale = page.locale(&context);
    match context.read(recent_blocks) {
        Ok(recent) => {
            let certified = certified(context.certifier.latest());
            let page = home_page(&context.pages.locales, locale, &recent, certified.as_ref());
            html(StatusCode::OK, &page)
        }
        Err(error) => error_page(&context, locale, &error),
    }
}

/// `GET /explorer/blocks/{height}`: a block, its transactions and receipts.
#[utoipa::path(get, path = "/explorer/blocks/{height}", tag = "pages",
    params(("height" = u64, Path)),
    responses((status = 200, content_type = "text/html", body = String),
              (status = 404, description = "a not-found page", content_type = "text/html", body = String)))]
pub(super) async fn block(
    State(context): Ctx,
    Path(height): Path<String>,
    page: PageRequest,
) -> Response {
    let locale = page.locale(&context);
    let not_found = || {
        ApiError::not_found(
            ErrorCode::BlockNotFound,
            format!("{}: {height}", locale.text("not_found_page")),
        )
    };
    let read = height
        .parse::<u64>()
        .map_err(|_| not_found())
        .and_then(|at| {
            context.read(|store| {
                let block = store.block(at).map_err(ApiError::internal)?;
                let receipts = store.block_receipts(at).map_err(ApiError::internal)?;
                let has_next = store.tip().height > at;
                Ok((block.ok_or_else(not_found)?, receipts, has_next))
            })
        });
    let (block, receipts, has_next) = match read {
        Ok(read) => read,
        Err(error) => return error_page(&context, locale, &error),
    };
    let hash = block.header.hash(context.genesis.chain_id());
    let certified = certified(context.certifier.stored(block.header.height));
    let page = BlockPage {
        block: &block,
        hash: &hash,
        receipts: &receipts,
        has_next,
        certified: certified.as_ref(),
    };
    html(
        StatusCode::OK,
        &block_page(&context.pages.locales, locale, &page),
    )
}

/// The rough of `stone`'s lineage and the polished stones cut from it.
fn lineage_tree(store: &LedgerStore, stone: &StoneId) -> Result<LineageTree, ApiError> {
    let found = store.stone(stone).map_err(ApiError::internal)?;
    let rough = match found.as_ref().map(|stone| &stone.kind) {
        Some(StoneKind::Polished { parent, .. }) => parent.clone(),
        _ => stone.clone(),
    };
    let history = store.stone_history(&rough).map_err(ApiError::internal)?;
    let polished = history
        .iter()
        .find_map(|entry| match &entry.transaction.tx.action {
            Action::Manufacture(manufacture) => Some(
                manufacture
                    .outputs
                    .iter()
                    .map(|output| output.stone_id.clone())
                    .collect(),
            ),
            _ => None,
        })
        .unwrap_or_default();
    Ok(LineageTree { rough, polished })
}

/// `GET /explorer/stones/{stone}`: lineage tree, custody timeline, events.
#[utoipa::path(get, path = "/explorer/stones/{stone_id}", tag = "pages",
    params(("stone_id" = String, Path)),
    responses((status = 200, description = "lineage tree, custody timeline, events", content_type = "text/html", body = String),
              (status = 404, description = "a not-found page", content_type = "text/html", body = String)))]
pub(super) async fn stone(
    State(context): Ctx,
    Path(stone): Path<String>,
    page: PageRequest,
) -> Response {
    let locale = page.locale(&context);
    let journey = verified_journey(&context, locale, &stone).await;
    let tree = journey
        .as_ref()
        .map_err(Clone::clone)
        .and_then(|journey| context.read(|store| lineage_tree(store, &journey.journey().stone)));
    let (journey, tree) = match (journey, tree) {
        (Ok(journey), Ok(tree)) => (journey, tree),
        (Err(error), _) | (_, Err(error)) => return error_page(&context, locale, &error),
    };
    let page = StonePage {
        journey: &journey,
        names: &member_names(&context),
        tree: &tree,
    };
    html(
        StatusCode::OK,
        &stone_page(&context.pages.locales, locale, &page),
    )
}

/// `GET /explorer/members`: every member.
#[utoipa::path(get, path = "/explorer/members", tag = "pages",
    responses((status = 200, content_type = "text/html", body = String)))]
pub(super) async fn members(State(context): Ctx, page: PageRequest) -> Response {
    let locale = page.locale(&context);
    let page = context.read(|store| {
        let members: Vec<_> = store.membership().members.values().collect();
        members_page(&context.pages.locales, locale, &members)
    });
    html(StatusCode::OK, &page)
}

/// `GET /explorer/members/{org}`: one member.
#[utoipa::path(get, path = "/explorer/members/{org}", tag = "pages",
    params(("org" = String, Path)),
    responses((status = 200, content_type = "text/html", body = String),
              (status = 404, description = "a not-found page", content_type = "text/html", body = String)))]
pub(super) async fn member(
    State(context): Ctx,
    Path(org): Path<String>,
    page: PageRequest,
) -> Response {
    let locale = page.locale(&context);
    let page = context.read(|store| {
        let membership = store.membership();
        let member = org
            .parse::<OrgId>()
            .ok()
            .and_then(|org| membership.member(&org))?;
        let nodes: Vec<_> = membership
            .nodes
            .values()
            .filter(|node| node.owner == member.org)
            .collect();
        Some(member_page(&context.pages.locales, locale, member, &nodes))
    });
    match page {
        Some(page) => html(StatusCode::OK, &page),
        None => {
            let message = locale.fill("no_such_member", &[("id", &org)]);
            let page = message_page(
                &context.pages.locales,
                locale,
                locale.text("not_found_title"),
                &message,
            );
            html(StatusCode::NOT_FOUND, &page)
        }
    }
}

/// `GET /explorer/search?q=`: a stone id, a block height, a transaction id
/// or a block hash, answered with a redirect to its page.
#[utoipa::path(get, path = "/explorer/search", tag = "pages",
    params(("q" = String, Query, description = "a stone id, block height, transaction id or block hash")),
    responses((status = 303, description = "to the page found"),
              (status = 404, description = "a nothing-matches page", content_type = "text/html", body = String)))]
pub(super) async fn search(State(context): Ctx, page: PageRequest) -> Response {
    let locale = page.locale(&context);
    let text = page.search_text().trim().to_owned();
    match context.read(|store| search_target(store, &text)) {
        Ok(Some(target)) => Redirect::to(&target).into_response(),
        Ok(None) => {
            let message = locale.fill("search_nothing", &[("query", &text)]);
            let page = message_page(
                &context.pages.locales,
                locale,
                locale.text("not_found_title"),
                &message,
            );
            html(StatusCode::NOT_FOUND, &page)
        }
        Err(error) => error_page(&context, locale, &error),
    }
}

/// Where a search lands: a stone first (its ids are the common search), then
/// a block height, then a transaction id or a block hash.
fn search_target(store: &LedgerStore, text: &str) -> Result<Option<String>, ApiError> {
    if let Ok(stone) = text.parse::<StoneId>() {
        if store.stone(&stone).map_err(ApiError::internal)?.is_some() {
            return Ok(Some(format!("{EXPLORER}/stones/{stone}")));
        }
    }
    if let Ok(height) = text.parse::<u64>() {
        if height <= store.tip().height {
            return Ok(Some(format!("{EXPLORER}/blocks/{height}")));
        }
    }
    if let Ok(tx_id) = text.parse::<TxId>() {
        if let Some((location, _)) = store.receipt(&tx_id).map_err(ApiError::internal)? {
            return Ok(Some(format!(
                "{EXPLORER}/blocks/{}#{tx_id}",
                location.height
            )));
        }
    }
    if let Ok(hash) = text.parse::<BlockHash>() {
        if let Some(block) = store.block_by_hash(&hash).map_err(ApiError::internal)? {
            return Ok(Some(format!("{EXPLORER}/blocks/{}", block.header.height)));
        }
    }
    Ok(None)
}
