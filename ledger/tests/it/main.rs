//! Integration tests of the ledger crate, in one binary (faster to link than many).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    missing_docs,
    unreachable_pub,
    // Test scenarios and tables read best whole; the 70-line rule is for
    // non-test code.
    clippy::too_many_lines
)]

mod certified;
mod encoding;
mod model;
mod proof;
mod rejections;
mod store;
mod strategies;
