//! The genesis crate's integration tests: the committed sample file, the
//! genesis hash, the ledger genesis it founds, and one test per validation rule.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod hashing;
mod invalid;
mod ledger;
mod sample_file;

use gemtrail_genesis::sample::SampleConsortium;

/// The seed, chain id and base port the committed example file is made from.
pub(crate) const EXAMPLE_SEED: [u8; 32] = [7; 32];
pub(crate) const EXAMPLE_CHAIN: &str = "gemtrail-demo";
pub(crate) const EXAMPLE_BASE_PORT: u16 = 7000;

/// The consortium of the committed example file.
pub(crate) fn example() -> SampleConsortium {
    SampleConsortium::generate_from_seed(EXAMPLE_SEED, EXAMPLE_CHAIN, EXAMPLE_BASE_PORT).unwrap()
}
