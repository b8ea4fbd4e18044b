//! gemtrail's web pages, rendered on the server as plain HTML (maud) with no
//! JavaScript: the buyer's passport with its QR code ([`passport`]) and the
//! members' explorer ([`explorer`]), in every language under `web/locales/`
//! ([`locale`]).
//!
//! The crate is pure: it turns values (a verified journey, blocks, members)
//! into markup and knows nothing of HTTP, RocksDB or Raft. The node serves
//! these pages (`node/src/api/web.rs`); `gemtrail passport export` writes the
//! passport as one self-contained file.
//!
//! **Invariant:** a passport is built only from a
//! [`gemtrail_ledger::proof::VerifiedJourney`], so a page can only show what
//! the proof verifier checked against the genesis.

pub mod draw;
pub mod error;
pub mod explorer;
pub mod layout;
pub mod locale;
pub mod passport;
pub mod qr;
mod words;

pub use draw::LineageTree;
pub use error::LocaleError;
pub use layout::LanguageSwitch;
pub use locale::{Locale, Locales};
pub use maud::Markup;
pub use passport::{passport_page, PassportPage};
pub use qr::qr_svg;
