//! The web crate's errors: a locale file that cannot be used.

/// A locale file that cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LocaleError {
    /// The file is not valid TOML of the expected shape.
    #[error("locale {code}: {reason}")]
    Unreadable {
        /// The language code (the file's stem).
        code: String,
        /// What the parser said.
        reason: String,
    },
    /// The file lacks keys the reference has, or has keys it lacks.
    #[error("locale {code}: keys differ from en.toml (missing {missing:?}, unknown {unknown:?})")]
    KeysDiffer {
        /// The language code.
        code: String,
        /// Keys of the reference this locale lacks.
        missing: Vec<String>,
        /// Keys this locale has that the reference lacks.
        unknown: Vec<String>,
    },
    /// There is no `en.toml`.
    #[error("there is no reference locale en.toml")]
    NoReference,
}
