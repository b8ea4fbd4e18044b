//! Wall-clock time as the ledger counts it: milliseconds since the Unix
//! epoch. One definition for the leader's proposal times, the certifier's
//! clock check and the CLI's age checks.

use std::time::{SystemTime, UNIX_EPOCH};

/// The time now, ms since the Unix epoch (0 for a clock set before 1970).
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| {
            u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
        })
}
