//! The API's web pages: the buyer's passport at `/passport/{stone}` (with
//! its file and QR code), and the members' explorer under `/explorer`.
//!
//! A passport page is rendered only from a proof this node built, certified
//! and then verified against the genesis, exactly as `gemtrail verify` would:
//! the page cannot say more than the proof. The markup comes from the
//! `gemtrail-web` crate; this module reads the ledger and picks the language
//! (`?lang=`, then `Accept-Language`). Failures are pages too (404, 503),
//! never a JSON dump in a buyer's browser.

use std::collections::BTreeMap;

use axum::extract::rejection::QueryRejection;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::{Html, IntoResponse, Redirect, Response};
use gemtrail_ledger::codec::encode;
use gemtrail_ledger::ids::{OrgId, StoneId};
use gemtrail_ledger::proof::{verify_proof, VerifiedJourney};
use gemtrail_web::explorer::message_page;
use gemtrail_web::Markup;
use gemtrail_web::{passport_page, qr_svg, LanguageSwitch, Locale, PassportPage};
use serde::Deserialize;

use super::error::ApiError;
use super::handlers::{certified_proof, Ctx};
use super::state::ApiState;
use crate::codes::ErrorCode;

/// A page's query: the language switch, and the explorer's search text.
#[derive(Debug, Default, Deserialize)]
struct PageQuery {
    /// A language code chosen on the page.
    lang: Option<String>,
    /// What to search for.
    q: Option<String>,
}

/// What a page request says about itself: the language it asks for (the
/// page's switch, then `Accept-Language`) and, for a search, its text.
#[derive(Debug, Default)]
pub(super) struct PageRequest {
    query: PageQuery,
    accept_language: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for PageRequest {
    type Rejection = QueryRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let Query(query) = Query::<PageQuery>::try_from_uri(&parts.uri)?;
        Ok(Self {
            query,
            accept_language: accept_language(&parts.headers),
        })
    }
}

impl PageRequest {
    /// The language for this request.
    pub(super) fn locale<'a>(&self, context: &'a ApiState) -> &'a Locale {
        context
            .pages
            .locales
            .negotiate(self.query.lang.as_deref(), self.accept_language.as_deref())
    }

    /// The search text, if any.
    pub(super) fn search_text(&self) -> &str {
        self.query.q.as_deref().unwrap_or("")
    }
}

fn accept_language(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned)
}

/// A rendered page with its status.
pub(super) fn html(status: StatusCode, markup: &Markup) -> Response {
    (status, Html(markup.clone().into_string())).into_response()
}

/// An error as a page: 404 "not found", or "not available yet" with the
/// reason for the rest.
pub(super) fn error_page(context: &ApiState, locale: &Locale, error: &ApiError) -> Response {
    let locales = &context.pages.locales;
    let (title, message) = if error.status() == StatusCode::NOT_FOUND {
        (locale.text("not_found_title"), error.message().to_owned())
    } else {
        (
            locale.text("unavailable_title"),
            locale.fill("unavailable_text", &[("reason", error.message())]),
        )
    };
    html(
        error.status(),
        &message_page(locales, locale, title, &message),
    )
}

/// A stone id from a path, or the page's own 404.
pub(super) fn stone_of(locale: &Locale, text: &str) -> Result<StoneId, ApiError> {
    text.parse().map_err(|_| {
        ApiError::not_found(
            ErrorCode::StoneNotFound,
            locale.fill("not_found_stone", &[("id", text)]),
        )
    })
}

/// The journey of the stone a path names, from a proof built and certified
/// here and then verified against the genesis; a not-found error in the
/// page's language for an id that does not parse or a stone not there.
pub(super) async fn verified_journey(
    context: &ApiState,
    locale: &Locale,
    stone: &str,
) -> Result<VerifiedJourney, ApiError> {
    let stone = stone_of(locale, stone)?;
    let text = stone.to_string();
    let proof = certified_proof(context, stone)
        .await
        .map_err(|error| match error.code() {
            ErrorCode::StoneNotFound => ApiError::not_found(
                ErrorCode::StoneNotFound,
                locale.fill("not_found_stone", &[("id", &text)]),
            ),
            _ => error,
        })?;
    verify_proof(&context.ledger_genesis, &proof).map_err(ApiError::internal)
}

/// Display names of every member as of the tip.
pub(super) fn member_names(context: &ApiState) -> BTreeMap<OrgId, String> {
    context.read(|store| {
        store
            .membership()
            .members
            .values()
            .map(|member| (member.org.clone(), member.name.to_string()))
            .collect()
    })
}

/// `GET /passport/{stone}`: the buyer's passport.
#[utoipa::path(get, path = "/passport/{stone_id}", tag = "pages",
    params(("stone_id" = String, Path), ("lang" = Option<String>, Query, description = "a page language, over Accept-Language")),
    responses((status = 200, description = "the buyer's passport", content_type = "text/html", body = String),
              (status = 404, description = "a not-found page", content_type = "text/html", body = String),
              (status = 503, description = "a not-available-yet page (tip not certified)", content_type = "text/html", body = String)))]
pub(super) async fn passport(
    State(context): Ctx,
    Path(stone): Path<String>,
    page: PageRequest,
) -> Response {
    let locale = page.locale(&context);
    let journey = match verified_journey(&context, locale, &stone).await {
        Ok(journey) => journey,
        Err(error) => return error_page(&context, locale, &error),
    };
    let id = &journey.journey().stone;
    let url = context.pages.passport_url(id);
    let qr = qr_svg(&url).unwrap_or_default();
    let path = format!("/passport/{id}");
    let page = PassportPage {
        journey: &journey,
        names: &member_names(&context),
        url: &url,
        qr_svg: &qr,
        download_href: &format!("{path}/file"),
        file_name: &passport_file_name(id),
        switch: LanguageSwitch::Links { path: &path },
    };
    html(
        StatusCode::OK,
        &passport_page(&context.pages.locales, locale, &page),
    )
}

/// The name a downloaded passport file gets.
pub(crate) fn passport_file_name(stone: &StoneId) -> String {
    format!("{stone}.passport")
}

/// `GET /passport/{stone}/file`: the passport file (the certified proof),
/// as a download.
#[utoipa::path(get, path = "/passport/{stone_id}/file", tag = "pages",
    params(("stone_id" = String, Path)),
    responses((status = 200, description = "the passport file, as an attachment", content_type = "application/octet-stream", body = Vec<u8>),
              (status = 404, description = "a not-found page", content_type = "text/html", body = String)))]
pub(super) async fn passport_file(
    State(context): Ctx,
    Path(stone): Path<String>,
    page: PageRequest,
) -> Response {
    let locale = page.locale(&context);
    let proof = match stone_of(locale, &stone) {
        Ok(id) => certified_proof(&context, id).await,
        Err(error) => Err(error),
    };
    match proof {
        Ok(proof) => {
            let disposition = format!(
                "attachment; filename=\"{}\"",
                passport_file_name(&proof.stone)
            );
            (
                [
                    (header::CONTENT_TYPE, "application/octet-stream".to_owned()),
                    (header::CONTENT_DISPOSITION, disposition),
                ],
                encode(&proof),
            )
                .into_response()
        }
        Err(error) => error_page(&context, locale, &error),
    }
}

/// `GET /passport/{stone}/qr.svg`: the QR code of the passport's address,
/// for a card or a label.
#[utoipa::path(get, path = "/passport/{stone_id}/qr.svg", tag = "pages",
    params(("stone_id" = String, Path)),
    responses((status = 200, description = "the QR code of the passport's address", content_type = "image/svg+xml", body = String),
              (status = 404, description = "a not-found page", content_type = "text/html", body = String)))]
pub(super) async fn passport_qr(
    State(context): Ctx,
    Path(stone): Path<String>,
    page: PageRequest,
) -> Response {
    let locale = page.locale(&context);
    let known = stone_of(locale, &stone).and_then(|id| {
        context
            .read(|store| store.stone(&id))
            .map_err(ApiError::internal)?
            .map(|_| id)
            .ok_or_else(|| {
                ApiError::not_found(
                    ErrorCode::StoneNotFound,
                    locale.fill("not_found_stone", &[("id", &stone)]),
                )
            })
    });
    match known.map(|id| qr_svg(&context.pages.passport_url(&id))) {
        Ok(Some(svg)) => ([(header::CONTENT_TYPE, "image/svg+xml")], svg).into_response(),
        Ok(None) => error_page(
            &context,
            locale,
            &ApiError::internal("URL too long for a QR code"),
        ),
        Err(error) => error_page(&context, locale, &error),
    }
}

/// Any unknown path under `/passport` or `/explorer`: a 404 page.
pub(super) fn page_not_found(context: &ApiState, uri: &Uri, headers: &HeaderMap) -> Response {
    let page = PageRequest {
        query: PageQuery::default(),
        accept_language: accept_language(headers),
    };
    let locale = page.locale(context);
    let error = ApiError::not_found(ErrorCode::NoSuchEndpoint, locale.text("not_found_page"));
    tracing::debug!(path = %uri.path(), "no such page");
    error_page(context, locale, &error)
}

/// `/` sends a person to the explorer.
#[utoipa::path(get, path = "/", tag = "pages",
    responses((status = 303, description = "to /explorer")))]
pub(super) async fn root() -> Redirect {
    Redirect::to(gemtrail_web::explorer::EXPLORER)
}
