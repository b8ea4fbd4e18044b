//! The pages' words, one TOML file per language under `web/locales/`.
//!
//! `build.rs` embeds every file it finds there, so a third language is a new
//! file and no code changes. English (`en.toml`) is the reference: every
//! other locale must have exactly its keys (checked when the set is loaded),
//! so a page can never show a missing string.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::error::LocaleError;

include!(concat!(env!("OUT_DIR"), "/locale_files.rs"));

/// The language every other locale is checked against, and the default.
pub const REFERENCE_LANGUAGE: &str = "en";

#[derive(Deserialize)]
struct LocaleFile {
    meta: Meta,
    text: BTreeMap<String, String>,
    #[serde(default)]
    countries: BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct Meta {
    name: String,
}

/// One language's strings.
#[derive(Clone, Debug)]
pub struct Locale {
    code: String,
    name: String,
    text: BTreeMap<String, String>,
    countries: BTreeMap<String, String>,
}

impl Locale {
    fn parse(code: &str, source: &str) -> Result<Self, LocaleError> {
        let file: LocaleFile = toml::from_str(source).map_err(|error| LocaleError::Unreadable {
            code: code.to_owned(),
            reason: error.to_string(),
        })?;
        Ok(Self {
            code: code.to_owned(),
            name: file.meta.name,
            text: file.text,
            countries: file.countries,
        })
    }

    /// The language code, e.g. `zh`.
    pub fn code(&self) -> &str {
        &self.code
    }

    /// The language's own name for itself, e.g. `中文`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The string for `key` (the key itself if it were missing, which
    /// loading rules out for the embedded files).
    pub fn text<'a>(&'a self, key: &'a str) -> &'a str {
        self.text.get(key).map_or(key, String::as_str)
    }

    /// The string for `key` with each `{name}` replaced by its value.
    pub fn fill(&self, key: &str, values: &[(&str, &str)]) -> String {
        let mut text = self.text(key).to_owned();
        for (name, value) in values {
            text = text.replace(&format!("{{{name}}}"), value);
        }
        text
    }

    /// The country's name for an ISO 3166-1 alpha-2 code (the code if
    /// this locale does not name it).
    pub fn country<'a>(&'a self, code: &'a str) -> &'a str {
        self.countries.get(code).map_or(code, String::as_str)
    }
}

/// Every language the pages speak.
#[derive(Clone, Debug)]
pub struct Locales {
    /// The reference first, then the others by code.
    all: Vec<Locale>,
}

impl Locales {
    /// Parses the embedded locale files and checks each against the
    /// reference.
    pub fn embedded() -> Result<Self, LocaleError> {
        Self::from_sources(LOCALE_FILES)
    }

    fn from_sources(sources: &[(&str, &str)]) -> Result<Self, LocaleError> {
        let mut all = sources
            .iter()
            .map(|(code, source)| Locale::parse(code, source))
            .collect::<Result<Vec<_>, _>>()?;
        let reference_at = all
            .iter()
            .position(|locale| locale.code == REFERENCE_LANGUAGE)
            .ok_or(LocaleError::NoReference)?;
        let reference = all.remove(reference_at);
        for locale in &all {
            check_keys(&reference, locale)?;
        }
        all.insert(0, reference);
        Ok(Self { all })
    }

    /// Every locale, the reference first.
    pub fn all(&self) -> &[Locale] {
        &self.all
    }

    /// The reference locale (English).
    pub fn reference(&self) -> &Locale {
        // `from_sources` puts the reference first and refuses a set without it.
        &self.all[0]
    }

    /// The locale with this exact code, if there is one.
    pub fn get(&self, code: &str) -> Option<&Locale> {
        self.all.iter().find(|locale| locale.code == code)
    }

    /// The locale a request asks for: an explicit choice (the page's
    /// language switch) first, then the best of `Accept-Language`, then
    /// the reference.
    pub fn negotiate(&self, explicit: Option<&str>, accept_language: Option<&str>) -> &Locale {
        explicit
            .and_then(|code| self.get(code))
            .or_else(|| accept_language.and_then(|header| self.best_accepted(header)))
            .unwrap_or_else(|| self.reference())
    }

    /// The locale `Accept-Language` prefers most (RFC 9110 §12.5.4): the
    /// highest `q`, ties to the earlier entry; `zh-CN` matches `zh`.
    fn best_accepted(&self, header: &str) -> Option<&Locale> {
        let mut best: Option<(u16, &Locale)> = None;
        for entry in header.split(',') {
            let mut parts = entry.split(';');
            let tag = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let weight = parts
                .find_map(|param| param.trim().strip_prefix("q="))
                .map_or(1000, quality_per_mille);
            let primary = tag.split('-').next().unwrap_or("");
            let Some(locale) = self.get(primary) else {
                continue;
            };
            if weight > 0 && best.is_none_or(|(held, _)| weight > held) {
                best = Some((weight, locale));
            }
        }
        best.map(|(_, locale)| locale)
    }
}

/// A `q` value in thousandths (0 for one that does not parse).
fn quality_per_mille(text: &str) -> u16 {
    text.trim()
        .parse::<f32>()
        .ok()
        .filter(|q| (0.0..=1.0).contains(q))
        .map_or(0, |q| (q * 1000.0).round() as u16)
}

fn check_keys(reference: &Locale, locale: &Locale) -> Result<(), LocaleError> {
    let missing: Vec<String> = reference
        .text
        .keys()
        .filter(|key| !locale.text.contains_key(*key))
        .cloned()
        .collect();
    let unknown: Vec<String> = locale
        .text
        .keys()
        .filter(|key| !reference.text.contains_key(*key))
        .cloned()
        .collect();
    if missing.is_empty() && unknown.is_empty() {
        Ok(())
    } else {
        Err(LocaleError::KeysDiffer {
            code: locale.code.clone(),
            missing,
            unknown,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_locales_load_with_english_first_and_chinese_present() {
        let locales = Locales::embedded().unwrap();
        assert_eq!(locales.reference().code(), "en");
        assert_eq!(
            locales.get("zh").unwrap().text("passport_title"),
            "钻石护照"
        );
        assert_eq!(locales.reference().country("BW"), "Botswana");
        assert_eq!(locales.reference().country("XX"), "XX");
    }

    #[test]
    fn accept_language_picks_the_highest_quality_known_language() {
        let locales = Locales::embedded().unwrap();
        let pick = |header: &str| locales.negotiate(None, Some(header)).code().to_owned();
        assert_eq!(pick("zh"), "zh");
        assert_eq!(pick("zh-CN,zh;q=0.9,en;q=0.8"), "zh");
        assert_eq!(pick("en-GB;q=0.5, zh-TW;q=0.7"), "zh");
        assert_eq!(pick("fr, de;q=0.9"), "en");
        assert_eq!(pick("zh;q=0, en;q=0.1"), "en");
        assert_eq!(locales.negotiate(Some("en"), Some("zh")).code(), "en");
        assert_eq!(locales.negotiate(Some("xx"), Some("zh")).code(), "zh");
    }

    #[test]
    fn a_locale_missing_a_key_is_refused_with_the_key_named() {
        let english = "[meta]\nname = \"English\"\n[text]\na = \"A\"\nb = \"B\"\n";
        let partial = "[meta]\nname = \"Partial\"\n[text]\na = \"A\"\nc = \"C\"\n";
        let error = Locales::from_sources(&[("en", english), ("pt", partial)]).unwrap_err();
        assert_eq!(
            error,
            LocaleError::KeysDiffer {
                code: "pt".into(),
                missing: vec!["b".into()],
                unknown: vec!["c".into()],
            }
        );
        let error = Locales::from_sources(&[("pt", partial)]).unwrap_err();
        assert_eq!(error, LocaleError::NoReference);
    }

    #[test]
    fn fill_replaces_every_placeholder() {
        let locales = Locales::embedded().unwrap();
        let text = locales.reference().fill(
            "custody_range",
            &[("from", "2026-01-02"), ("until", "2026-03-04")],
        );
        assert_eq!(text, "2026-01-02 to 2026-03-04");
    }
}
