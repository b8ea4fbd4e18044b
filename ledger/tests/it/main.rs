//! Integration tests of the ledger crate, in one binary (faster to link than many).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    missing_docs,
    unreachable_pub
)]

mod encoding;
mod model;
mod proof;
mod rejections;
mod store;
