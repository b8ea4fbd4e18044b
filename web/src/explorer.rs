//! The members' explorer: the tip and its certificate with recent blocks and
//! a search box, a block with its transactions and receipts, a stone with
//! its lineage tree and custody timeline, a member, and the not-found page.
//! Each page takes plain values the node has read; start at [`home_page`].

use std::collections::BTreeMap;

use gemtrail_ledger::ids::{BlockHash, NodeId, OrgId, StoneId};
use gemtrail_ledger::model::{
    Action, Block, Member, NodeRecord, Outcome, Receipt, SignedTransaction,
};
use gemtrail_ledger::proof::VerifiedJourney;
use maud::{html, Markup};

use crate::draw::{lineage_svg, timeline_svg, LineageTree};
use crate::layout::{document, LanguageSwitch};
use crate::locale::{Locale, Locales};
use crate::words::{certifiers, flag_key, step_words, time_text};

/// Where the explorer's pages live.
pub const EXPLORER: &str = "/explorer";

/// One line of the recent blocks.
#[derive(Clone, Debug)]
pub struct BlockSummary {
    /// Height.
    pub height: u64,
    /// Hash.
    pub hash: BlockHash,
    /// Block time, ms since the Unix epoch.
    pub timestamp_ms: u64,
    /// How many transactions it holds.
    pub tx_count: u32,
}

/// The highest certified block and who signed it.
#[derive(Clone, Debug)]
pub struct CertifiedTip {
    /// Its height.
    pub height: u64,
    /// The nodes whose signatures make the certificate.
    pub nodes: Vec<NodeId>,
}

/// The explorer's front page: the tip, its certificate and recent blocks.
pub fn home_page(
    locales: &Locales,
    locale: &Locale,
    recent: &[BlockSummary],
    certified: Option<&CertifiedTip>,
) -> Markup {
    let body = html! {
        h1 { (locale.text("explorer_title")) }
        (search_form(locale, ""))
        @if let Some(tip) = recent.first() {
            section.card {
                h2 { (locale.text("tip")) }
                dl {
                    dt { (locale.text("height")) } dd { a href={ (EXPLORER) "/blocks/" (tip.height) } { (tip.height) } }
                    dt { (locale.text("hash")) } dd.mono { (tip.hash) }
                    dt { (locale.text("time")) } dd { (time_text(tip.timestamp_ms)) }
                }
                p { (certificate_text(locale, certified)) }
            }
        }
        section.card {
            h2 { (locale.text("recent_blocks")) }
            table {
                thead { tr { th { (locale.text("height")) } th { (locale.text("time")) } th { (locale.text("transactions")) } } }
                tbody {
                    @for block in recent {
                        tr {
                            td { a href={ (EXPLORER) "/blocks/" (block.height) } { (block.height) } }
                            td { (time_text(block.timestamp_ms)) }
                            td { (block.tx_count) }
                        }
                    }
                }
            }
        }
        p { a href={ (EXPLORER) "/members" } { (locale.text("members")) } }
    };
    document(
        locales,
        locale,
        locale.text("explorer_title"),
        LanguageSwitch::Links { path: EXPLORER },
        &body,
    )
}

fn certificate_text(locale: &Locale, certified: Option<&CertifiedTip>) -> String {
    match certified {
        Some(tip) => format!(
            "{} ({} {})",
            locale.fill(
                "certified_by",
                &[("certifiers", &certifiers(locale, &tip.nodes))]
            ),
            locale.text("height"),
            tip.height
        ),
        None => locale.text("not_certified").to_owned(),
    }
}

/// The search box (a plain GET form).
pub fn search_form(locale: &Locale, query: &str) -> Markup {
    html! {
        form.search method="get" action={ (EXPLORER) "/search" } role="search" {
            label for="q" { (locale.text("search_label")) }
            input #q type="search" name="q" value=(query) required;
            button type="submit" { (locale.text("search")) }
        }
    }
}

/// A block and what happened to each of its transactions.
#[derive(Clone, Copy, Debug)]
pub struct BlockPage<'a> {
    /// The block.
    pub block: &'a Block,
    /// Its hash.
    pub hash: &'a BlockHash,
    /// Its receipts, in transaction order.
    pub receipts: &'a [Receipt],
    /// Whether a later block exists.
    pub has_next: bool,
    /// Its certificate's signers, if it is certified.
    pub certified: Option<&'a CertifiedTip>,
}

/// A block's page.
pub fn block_page(locales: &Locales, locale: &Locale, page: &BlockPage<'_>) -> Markup {
    let header = &page.block.header;
    let title = locale.fill("block_title", &[("height", &header.height.to_string())]);
    let path = format!("{EXPLORER}/blocks/{}", header.height);
    let body = html! {
        h1 { (title) }
        (search_form(locale, ""))
        section.card {
            dl {
                dt { (locale.text("hash")) } dd.mono { (page.hash) }
                dt { (locale.text("time")) } dd { (time_text(header.timestamp_ms)) }
                dt { (locale.text("transactions")) } dd { (header.tx_count) }
            }
            p { (certificate_text(locale, page.certified)) }
            p {
                @if header.height > 0 {
                    a href={ (EXPLORER) "/blocks/" (header.height - 1) } rel="prev" { "← " (locale.text("previous_block")) }
                    " "
                }
                @if page.has_next {
                    a href={ (EXPLORER) "/blocks/" (header.height + 1) } rel="next" { (locale.text("next_block")) " →" }
                }
            }
        }
        section.card {
            h2 { (locale.text("transactions")) }
            table {
                thead { tr { th { "#" } th { (locale.text("action")) } th { (locale.text("signer")) } th { (locale.text("outcome")) } } }
                tbody {
                    @for (index, signed) in page.block.transactions.iter().enumerate() {
                        (transaction_row(locale, index, signed, page.receipts.get(index)))
                    }
                }
            }
        }
    };
    document(
        locales,
        locale,
        &title,
        LanguageSwitch::Links { path: &path },
        &body,
    )
}

fn transaction_row(
    locale: &Locale,
    index: usize,
    signed: &SignedTransaction,
    receipt: Option<&Receipt>,
) -> Markup {
    let tx_id = signed.id();
    let outcome = match receipt.map(|receipt| &receipt.outcome) {
        Some(Outcome::Applied) => locale.text("applied").to_owned(),
        Some(Outcome::Rejected { reason }) => locale.fill("refused", &[("code", reason.code())]),
        None => String::new(),
    };
    html! {
        tr id=(tx_id) {
            td { (index) }
            td {
                (signed.tx.action.name())
                @for stone in action_stones(&signed.tx.action) {
                    " " a.mono href={ (EXPLORER) "/stones/" (stone) } { (stone) }
                }
                br; span.mono.sub { (tx_id) }
            }
            td { a href={ (EXPLORER) "/members/" (signed.tx.signer) } { (signed.tx.signer) } }
            td { (outcome) }
        }
    }
}

/// The stones a transaction names.
fn action_stones(action: &Action) -> Vec<&StoneId> {
    match action {
        Action::RegisterStone(register) => vec![&register.stone_id],
        Action::ProposeTransfer(propose) => propose.stones.iter().collect(),
        Action::Manufacture(manufacture) => std::iter::once(&manufacture.rough)
            .chain(manufacture.outputs.iter().map(|output| &output.stone_id))
            .collect(),
        Action::Grade { stone, .. }
        | Action::Sell { stone, .. }
        | Action::Flag { stone, .. }
        | Action::ClearFlag { stone } => vec![stone],
        Action::AcceptTransfer { .. }
        | Action::RejectTransfer { .. }
        | Action::CancelTransfer { .. }
        | Action::Governance(_) => Vec::new(),
    }
}

/// A stone's page: state, lineage tree, custody timeline and every event.
#[derive(Clone, Copy, Debug)]
pub struct StonePage<'a> {
    /// The stone's verified journey.
    pub journey: &'a VerifiedJourney,
    /// Display names of members, by id.
    pub names: &'a BTreeMap<OrgId, String>,
    /// Its rough and the rough's polished stones.
    pub tree: &'a LineageTree,
}

/// A stone's explorer page.
pub fn stone_page(locales: &Locales, locale: &Locale, page: &StonePage<'_>) -> Markup {
    let journey = page.journey.journey();
    let id = journey.stone.to_string();
    let title = locale.fill("stone_title", &[("id", &id)]);
    let path = format!("{EXPLORER}/stones/{id}");
    let body = html! {
        h1 { (title) }
        (search_form(locale, ""))
        @if let Some(reason) = journey.flag {
            div.alert role="alert" { strong { (locale.text(flag_key(reason))) } }
        }
        p { a.button href={ "/passport/" (id) } { (locale.text("passport_link")) } }
        section.card {
            h2 { (locale.text("lineage")) }
            (lineage_svg(page.tree, &journey.stone, &format!("{EXPLORER}/stones/"), &locale.fill("lineage_alt", &[("id", &id)])))
            ul.plain {
                li { a.mono href={ (EXPLORER) "/stones/" (page.tree.rough) } { (page.tree.rough) } }
                @for stone in &page.tree.polished {
                    li { "→ " a.mono href={ (EXPLORER) "/stones/" (stone) } { (stone) } }
                }
            }
        }
        section.card {
            h2 { (locale.text("timeline")) }
            (timeline_svg(&journey.custody, journey.as_of_ms, &locale.fill("timeline_alt", &[("id", &id)])))
        }
        section.card {
            h2 { (locale.text("section_journey")) }
            ol.steps {
                @for step in &journey.steps {
                    li {
                        a href={ (EXPLORER) "/blocks/" (step.height) "#" (step.tx_id) } { (time_text(step.timestamp_ms)) }
                        " " span.mono { (step.stone) } ": " (step_words(locale, step, page.names))
                    }
                }
            }
        }
    };
    document(
        locales,
        locale,
        &title,
        LanguageSwitch::Links { path: &path },
        &body,
    )
}

/// A member's page: name, roles, keys and the nodes it runs.
pub fn member_page(
    locales: &Locales,
    locale: &Locale,
    member: &Member,
    nodes: &[&NodeRecord],
) -> Markup {
    let title = locale.fill("member_title", &[("id", member.org.as_str())]);
    let path = format!("{EXPLORER}/members/{}", member.org);
    let body = html! {
        h1 { (title) }
        section.card {
            dl {
                dt { (locale.text("display_name")) } dd { (member.name) }
                dt { (locale.text("roles")) }
                dd { (member.roles.iter().map(|role| role.to_string()).collect::<Vec<_>>().join(", ")) }
                dt { (locale.text("keys")) }
                dd { @for key in member.keys.iter() { span.mono { (key) } br; } }
                dt { (locale.text("operated_nodes")) }
                dd { @for node in nodes { (node.id) " " span.mono.sub { (node.api_addr) } br; } }
            }
        }
    };
    document(
        locales,
        locale,
        &title,
        LanguageSwitch::Links { path: &path },
        &body,
    )
}

/// Every member, with links to their pages.
pub fn members_page(locales: &Locales, locale: &Locale, members: &[&Member]) -> Markup {
    let path = format!("{EXPLORER}/members");
    let body = html! {
        h1 { (locale.text("members")) }
        section.card {
            ul.plain {
                @for member in members {
                    li { a href={ (EXPLORER) "/members/" (member.org) } { (member.name) } " " span.mono.sub { (member.org) } }
                }
            }
        }
    };
    document(
        locales,
        locale,
        locale.text("members"),
        LanguageSwitch::Links { path: &path },
        &body,
    )
}

/// A page for what is not there (served with status 404), or not yet
/// there (503): a title, a sentence, and the way back.
pub fn message_page(locales: &Locales, locale: &Locale, title: &str, message: &str) -> Markup {
    let body = html! {
        h1 { (title) }
        section.card {
            p { (message) }
            p { a href=(EXPLORER) { (locale.text("explorer_title")) } }
        }
        (search_form(locale, ""))
    };
    document(locales, locale, title, LanguageSwitch::None, &body)
}
