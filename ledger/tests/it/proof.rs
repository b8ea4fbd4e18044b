//! proof tests (to be written).
