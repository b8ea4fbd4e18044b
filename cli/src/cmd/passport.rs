//! `gemtrail passport export`: fetch a stone's proof, verify it against the
//! genesis, and write what a retailer hands to a buyer: the passport file
//! (the proof), the buyer's page as one self-contained HTML file, the QR code
//! of the passport's web address, and optionally a Markdown copy.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use gemtrail_ledger::codec::encode;
use gemtrail_ledger::ids::OrgId;
use gemtrail_ledger::proof::VerifiedJourney;
use gemtrail_node::client::NodeClient;
use gemtrail_web::{passport_page, qr_svg, LanguageSwitch, Locales, PassportPage};
use serde_json::json;

use crate::args::PassportCommand;
use crate::cmd::verify::{fetch, passport_markdown, verified_against};
use crate::error::{CliError, CliResult};
use crate::output::Out;

/// The buyer's page and QR code for a verified journey.
pub(crate) struct PageFiles<'a> {
    /// The passport file the page links to (only its name is used).
    pub(crate) passport: &'a Path,
    /// Where the HTML page goes.
    pub(crate) html: &'a Path,
    /// Where the QR code goes.
    pub(crate) qr: &'a Path,
    /// The passport's web address, which the QR code encodes.
    pub(crate) url: &'a str,
    /// The page's language.
    pub(crate) lang: &'a str,
}

/// Writes the HTML page and the QR code.
pub(crate) fn write_page_files(
    journey: &VerifiedJourney,
    names: &BTreeMap<OrgId, String>,
    files: &PageFiles<'_>,
) -> CliResult {
    let locales =
        Locales::embedded().map_err(|error| CliError::new(format!("page languages: {error}")))?;
    let locale = locales.get(files.lang).ok_or_else(|| {
        let known: Vec<&str> = locales.all().iter().map(|locale| locale.code()).collect();
        CliError::new(format!(
            "unknown page language {:?}; known: {}",
            files.lang,
            known.join(", ")
        ))
    })?;
    let qr = qr_svg(files.url)
        .ok_or_else(|| CliError::new(format!("{} is too long for a QR code", files.url)))?;
    let file_name = files
        .passport
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let page = PassportPage {
        journey,
        names,
        url: files.url,
        qr_svg: &qr,
        download_href: &file_name,
        file_name: &file_name,
        switch: LanguageSwitch::None,
    };
    let html = passport_page(&locales, locale, &page).into_string();
    write(files.html, html.as_bytes())?;
    write(files.qr, qr.as_bytes())
}

fn write(path: &Path, bytes: &[u8]) -> CliResult {
    std::fs::write(path, bytes)
        .map_err(|error| CliError::new(format!("cannot write {}: {error}", path.display())))
}

/// `path` with its extension replaced by `extension`.
fn beside(path: &Path, extension: &str) -> PathBuf {
    path.with_extension(extension)
}

/// Display names of the members, as the node reports them.
pub(crate) async fn member_names(client: &NodeClient) -> CliResult<BTreeMap<OrgId, String>> {
    Ok(client
        .members()
        .await?
        .members
        .into_iter()
        .map(|member| (member.org, member.name.to_string()))
        .collect())
}

/// Runs `gemtrail passport export`.
pub(crate) async fn run(out: Out, command: PassportCommand) -> CliResult {
    let PassportCommand::Export {
        stone,
        out: path,
        markdown,
        html,
        qr,
        lang,
        genesis,
        node,
    } = command;
    let proof = fetch(&node, &stone).await?;
    let journey = verified_against(&genesis, &proof)?;
    let client = crate::connect::node_client(&node)?;
    let url = format!(
        "{}/passport/{}",
        client.status().await?.public_url,
        journey.journey().stone
    );
    let bytes = encode(&proof);
    write(&path, &bytes)?;
    let html = html.unwrap_or_else(|| beside(&path, "html"));
    let qr = qr.unwrap_or_else(|| beside(&path, "qr.svg"));
    let files = PageFiles {
        passport: &path,
        html: &html,
        qr: &qr,
        url: &url,
        lang: &lang,
    };
    write_page_files(&journey, &member_names(&client).await?, &files)?;
    if let Some(markdown_path) = &markdown {
        write(
            markdown_path,
            passport_markdown(journey.journey()).as_bytes(),
        )?;
    }
    let journey = journey.journey();
    out.print(
        &json!({ "passport": path, "bytes": bytes.len(), "html": html, "qr": qr, "url": url,
                 "markdown": markdown, "journey": journey }),
        || {
            format!(
                "{journey}\n\nWrote passport {} ({} bytes), the buyer's page {} and its QR code {} (for {url});\nanyone with the genesis can check the passport offline:\n  gemtrail verify --proof {} --genesis GENESIS",
                path.display(),
                bytes.len(),
                html.display(),
                qr.display(),
                path.display()
            )
        },
    )
}
