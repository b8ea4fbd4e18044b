//! Fuzz target `proof_verify`: see `gemtrail_ledger::testkit::fuzz_proof`.
#![no_main]

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| {
    gemtrail_ledger::testkit::fuzz_proof(bytes);
});
