//! model tests (to be written).
