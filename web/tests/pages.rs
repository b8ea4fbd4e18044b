//! The pages as a buyer and a member would read them, rendered from a real
//! verified journey of the ledger's test chain.
#![allow(clippy::unwrap_used, missing_docs)]

use std::collections::BTreeMap;

use gemtrail_ledger::ids::OrgId;
use gemtrail_ledger::model::{Action, FlagReason, SaleBranding};
use gemtrail_ledger::proof::{verify_proof, VerifiedJourney};
use gemtrail_ledger::testkit::{certified_proof, flag, org, stone, text, TestChain};
use gemtrail_web::explorer::{stone_page, StonePage};
use gemtrail_web::{passport_page, LanguageSwitch, LineageTree, Locales, PassportPage};

fn verified(chain: &TestChain, id: &str) -> VerifiedJourney {
    let proof = certified_proof(chain, &stone(id)).unwrap();
    verify_proof(&chain.consortium.genesis, &proof).unwrap()
}

fn names() -> BTreeMap<OrgId, String> {
    BTreeMap::from([(org("lab"), "Gemological Lab of Antwerp".to_owned())])
}

fn render(journey: &VerifiedJourney, language: &str) -> String {
    let locales = Locales::embedded().unwrap();
    let locale = locales.get(language).unwrap();
    let names = names();
    let page = PassportPage {
        journey,
        names: &names,
        url: "http://127.0.0.1:7001/passport/POL-1",
        qr_svg: "<svg id=\"qr\"></svg>",
        download_href: "/passport/POL-1/file",
        file_name: "POL-1.passport",
        switch: LanguageSwitch::Links {
            path: "/passport/POL-1",
        },
    };
    passport_page(&locales, locale, &page).into_string()
}

fn sold_with(branding: Option<SaleBranding>) -> TestChain {
    let mut sell = gemtrail_ledger::testkit::sell("POL-1");
    if let Action::Sell { branding: slot, .. } = &mut sell {
        *slot = branding;
    }
    TestChain::journey_ending_with(sell)
}

#[test]
fn the_passport_shows_origin_cutter_lab_report_and_how_to_check_it() {
    let page = render(&verified(&sold_with(None), "POL-1"), "en");
    for expected in [
        "Jwaneng",
        "Southern District",
        "Botswana",
        "BW-KP-2026-0042",
        "10.00 ct",
        "4.00 ct",
        "Ada Facet",
        "17 years of experience",
        "Gemological Lab of Antwerp (lab)",
        "GIA-7391",
        "Matched to its rough and origin",
        "certified by nodes 1, 2, 3",
        "gemtrail verify --proof POL-1.passport --genesis genesis.toml",
        "href=\"/passport/POL-1/file\"",
        "<svg id=\"qr\"></svg>",
        "Sold by retailer",
    ] {
        assert!(page.contains(expected), "missing {expected:?} in\n{page}");
    }
    assert!(!page.contains("role=\"alert\""), "{page}");
    assert!(
        page.starts_with("<!DOCTYPE html><html lang=\"en\">"),
        "{page}"
    );
}

#[test]
fn a_stone_flagged_stolen_carries_the_warning_in_both_languages() {
    let mut chain = TestChain::journey();
    chain.must("auditor", flag("POL-1", FlagReason::Stolen));
    let journey = verified(&chain, "POL-1");
    let english = render(&journey, "en");
    assert!(english.contains("role=\"alert\""), "{english}");
    assert!(
        english.contains("this stone has been reported stolen"),
        "{english}"
    );
    let chinese = render(&journey, "zh");
    assert!(chinese.contains("警告：此钻石已被报告失窃。"), "{chinese}");
}

#[test]
fn the_chinese_passport_has_chinese_labels_and_country_name() {
    let page = render(&verified(&sold_with(None), "POL-1"), "zh");
    for expected in [
        "lang=\"zh\"",
        "钻石护照",
        "产地",
        "博茨瓦纳",
        "切割师",
        "鉴定报告",
    ] {
        assert!(page.contains(expected), "missing {expected:?} in\n{page}");
    }
    assert!(!page.contains("Laboratory report"), "{page}");
}

#[test]
fn the_retailer_branding_is_shown_escaped_as_signed() {
    let branding = SaleBranding {
        shop_name: text("Maison <script>alert(1)</script>"),
        jeweller: Some(text("Atelier Brandt")),
    };
    let page = render(&verified(&sold_with(Some(branding)), "POL-1"), "en");
    assert!(
        page.contains("Presented by Maison &lt;script&gt;alert(1)&lt;/script&gt;"),
        "{page}"
    );
    assert!(page.contains("Jewellery by Atelier Brandt"), "{page}");
    assert!(!page.contains("<script>"), "{page}");
}

#[test]
fn the_stone_page_draws_the_lineage_and_links_each_event_to_its_block() {
    let chain = sold_with(None);
    let journey = verified(&chain, "POL-2");
    let locales = Locales::embedded().unwrap();
    let names = names();
    let tree = LineageTree {
        rough: stone("ROUGH-1"),
        polished: vec![stone("POL-1"), stone("POL-2")],
    };
    let page = StonePage {
        journey: &journey,
        names: &names,
        tree: &tree,
    };
    let html = stone_page(&locales, locales.reference(), &page).into_string();
    for expected in [
        "href=\"/explorer/stones/ROUGH-1\"",
        "href=\"/explorer/stones/POL-1\"",
        "href=\"/passport/POL-2\"",
        "Timeline of who held POL-2",
        "href=\"/explorer/blocks/1#",
    ] {
        assert!(html.contains(expected), "missing {expected:?} in\n{html}");
    }
}
