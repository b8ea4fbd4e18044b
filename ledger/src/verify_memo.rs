//! A bounded memo of signature verifications that succeeded.
//!
//! ed25519 verification dominates a node's CPU time, and the node that takes
//! a client's transaction verifies its signatures twice: at the mempool's door
//! and again when the block is applied. Verification is a pure function of
//! (key, signature, message), so remembering its successes changes no
//! outcome: a fingerprint is recorded only after verification accepted
//! exactly those bytes, and failures are never recorded. The memo holds at
//! most [`VERIFY_MEMO_MAX`] fingerprints and forgets the oldest first.
//!
//! The fingerprint is a keyed blake3 hash of the three inputs (domain
//! separated, with lengths), so a collision would need a blake3 collision.

use std::collections::{HashSet, VecDeque};
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};

/// Most remembered verifications (about 3 MiB).
pub const VERIFY_MEMO_MAX: usize = 65_536;

/// A verification's fingerprint.
pub type Fingerprint = [u8; 32];

#[derive(Default)]
struct Memo {
    set: HashSet<Fingerprint>,
    order: VecDeque<Fingerprint>,
}

fn memo() -> MutexGuard<'static, Memo> {
    static MEMO: OnceLock<Mutex<Memo>> = OnceLock::new();
    // A panic while holding the lock leaves at worst a fingerprint in one of
    // the two collections; both only ever hold verified fingerprints.
    MEMO.get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
}

/// The fingerprint of verifying `signature` by `key` over `message`.
pub fn fingerprint(key: &[u8; 32], signature: &[u8; 64], message: &[u8]) -> Fingerprint {
    // The domain's key is derived once: deriving it per call cost one more
    // compression than the three the inputs take, and a check computes its
    // fingerprint up to three times (door, block warm-up, rules).
    static DOMAIN_KEY: OnceLock<[u8; 32]> = OnceLock::new();
    let domain_key = DOMAIN_KEY
        .get_or_init(|| blake3::derive_key("gemtrail 2026-11 verified signature v1", b""));
    let mut hasher = blake3::Hasher::new_keyed(domain_key);
    hasher.update(key);
    hasher.update(signature);
    hasher.update(&(message.len() as u64).to_le_bytes());
    hasher.update(message);
    hasher.finalize().into()
}

/// True if this exact verification succeeded before (and is still remembered).
pub fn contains(fingerprint: &Fingerprint) -> bool {
    memo().set.contains(fingerprint)
}

/// Records a verification that succeeded.
pub fn remember(fingerprint: Fingerprint) {
    let mut memo = memo();
    if !memo.set.insert(fingerprint) {
        return;
    }
    memo.order.push_back(fingerprint);
    while memo.order.len() > VERIFY_MEMO_MAX {
        if let Some(oldest) = memo.order.pop_front() {
            memo.set.remove(&oldest);
        }
    }
}

/// Records many verifications that succeeded (one lock for a whole batch).
pub fn remember_all(fingerprints: impl IntoIterator<Item = Fingerprint>) {
    let mut memo = memo();
    for fingerprint in fingerprints {
        if memo.set.insert(fingerprint) {
            memo.order.push_back(fingerprint);
        }
    }
    while memo.order.len() > VERIFY_MEMO_MAX {
        if let Some(oldest) = memo.order.pop_front() {
            memo.set.remove(&oldest);
        }
    }
}

/// Forgets everything (for benchmarks that must pay for verification).
pub fn clear() {
    let mut memo = memo();
    memo.set.clear();
    memo.order.clear();
}

/// How many verifications are remembered.
pub fn len() -> usize {
    memo().order.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::SecretKey;

    /// The memo is process-wide: these tests take turns so one's flood
    /// cannot evict what the other just checked.
    static TURN: Mutex<()> = Mutex::new(());

    #[test]
    fn successes_are_remembered_and_failures_are_not() {
        let _turn = TURN.lock().unwrap_or_else(PoisonError::into_inner);
        let key = SecretKey::from_seed(&[7; 32]);
        let public = key.public_key();
        let message = b"memo test message";
        let signature = key.sign(message);
        let print = fingerprint(&public.0, &signature.0, message);
        assert!(!contains(&print));
        assert!(public.verify(message, &signature));
        assert!(contains(&print));
        // The same signature over another message is a different question.
        assert!(!public.verify(b"another message", &signature));
        assert!(!contains(&fingerprint(
            &public.0,
            &signature.0,
            b"another message"
        )));
        // A tampered signature is still refused after the genuine one was remembered.
        let mut forged = signature;
        forged.0[0] ^= 1;
        assert!(!public.verify(message, &forged));
    }

    #[test]
    fn the_memo_is_bounded() {
        let _turn = TURN.lock().unwrap_or_else(PoisonError::into_inner);
        for n in 0..(VERIFY_MEMO_MAX as u64 + 10) {
            let mut print = [0u8; 32];
            print[..8].copy_from_slice(&n.to_le_bytes());
            print[31] = 0xee;
            remember(print);
        }
        assert!(len() <= VERIFY_MEMO_MAX);
        let mut first = [0u8; 32];
        first[31] = 0xee;
        assert!(!contains(&first), "the oldest was forgotten");
    }
}
