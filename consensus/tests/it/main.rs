//! Integration tests of the consensus crate, in one binary (faster to link than many).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    missing_docs,
    unreachable_pub
)]

mod cluster;
mod corruption;
mod durability;
mod records;
mod state_machine;
mod suite;
mod support;
