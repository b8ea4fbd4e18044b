//! encoding tests (to be written).
