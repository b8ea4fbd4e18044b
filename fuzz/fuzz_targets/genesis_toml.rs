//! Fuzz target `genesis_toml`: see `gemtrail_node::fuzzing::genesis_toml`.
#![no_main]

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| {
    let _ = gemtrail_node::fuzzing::genesis_toml(bytes);
});
