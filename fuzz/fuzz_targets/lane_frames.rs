//! Fuzz target `lane_frames`: see `gemtrail_node::fuzzing::lane_frames`.
#![no_main]

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| {
    let _ = gemtrail_node::fuzzing::lane_frames(bytes);
});
