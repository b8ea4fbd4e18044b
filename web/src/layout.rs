//! The page shell every page shares: the document head with its small inline
//! stylesheet (so a saved page and the offline passport need no other file),
//! the top bar with the language switch, and the footer.

use maud::{html, Markup, PreEscaped, DOCTYPE};

use crate::locale::{Locale, Locales};

const STYLE: &str = include_str!("style.css");

/// How the page offers its other languages.
#[derive(Clone, Copy, Debug)]
pub enum LanguageSwitch<'a> {
    /// Links to this same path with `?lang=CODE`.
    Links {
        /// The page's path, without a query.
        path: &'a str,
    },
    /// None: a page that cannot reload itself in another language, such as
    /// a standalone file (its top bar then links nowhere).
    None,
}

/// A whole HTML document around `body`.
pub fn document(
    locales: &Locales,
    locale: &Locale,
    title: &str,
    switch: LanguageSwitch<'_>,
    body: &Markup,
) -> Markup {
    html! {
        (DOCTYPE)
        html lang=(locale.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) }
                style { (PreEscaped(STYLE)) }
            }
            body {
                header.bar {
                    @if let LanguageSwitch::Links { .. } = switch {
                        a.brand href="/explorer" { "gemtrail" }
                    } @else {
                        span.brand { "gemtrail" }
                    }
                    (language_switch(locales, locale, switch))
                }
                main { (body) }
                footer { "gemtrail" }
            }
        }
    }
}

fn language_switch(locales: &Locales, current: &Locale, switch: LanguageSwitch<'_>) -> Markup {
    let LanguageSwitch::Links { path } = switch else {
        return html! {};
    };
    html! {
        nav.lang aria-label=(current.text("language")) {
            @for locale in locales.all() {
                @if locale.code() == current.code() {
                    span lang=(locale.code()) aria-current="true" { (locale.name()) }
                } @else {
                    a href={ (path) "?lang=" (locale.code()) } lang=(locale.code()) hreflang=(locale.code()) { (locale.name()) }
                }
            }
        }
    }
}
