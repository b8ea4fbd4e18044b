//! Fuzz target `json_body`: see `gemtrail_node::fuzzing::json_body`.
#![no_main]

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| {
    let _ = gemtrail_node::fuzzing::json_body(bytes);
});
