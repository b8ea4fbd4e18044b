//! store tests (to be written).
