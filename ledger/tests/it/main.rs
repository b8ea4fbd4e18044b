//! Integration tests of the ledger crate, in one binary (faster to link than many).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    missing_docs,
    unreachable_pub
)]
// Tests are exempt from the 70-line rule: a scenario reads best in one piece.
#![allow(clippy::too_many_lines)]

mod encoding;
mod model;
mod proof;
mod rejections;
mod store;
mod strategies;
