//! Fuzz target `decode_wire`: see `gemtrail_node::fuzzing::decode_wire`.
#![no_main]

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| {
    let _ = gemtrail_node::fuzzing::decode_wire(bytes);
});
