//! Many signature checks at once, with exactly the verdicts of one-by-one checks.
//!
//! Signatures are valid under ZIP-215's rules ([`crate::crypto`]), which were
//! written so that a batch verifies exactly when each of its signatures
//! verifies alone. That is what lets nodes batch however suits them (the
//! leader one block, a follower another, the mempool's door whatever arrived
//! together) and still agree on every transaction: batching is only a faster
//! way to reach the verdict [`PublicKey::verify`] gives.
//!
//! A batch shares one multi-scalar multiplication, and terms of the same key
//! are folded together. Our signatures come from a few member keys, so a block
//! of 1,000 costs about a sixth of checking them one by one
//! (`docs/benchmarks.md`). When a batch fails, its halves are checked as
//! batches in turn, down to single signatures, so one forgery in a batch of
//! 512 costs about twenty smaller batches, not 512 checks alone (a trickle of
//! forgeries cannot multiply everyone's cost). Successes are remembered in
//! [`crate::verify_memo`], so the rules find them there when the block is
//! applied.
//!
//! The batch's random coefficients come from the thread's CSPRNG: an attacker
//! who cannot predict them cannot make a bad signature pass in a batch (the
//! chance is 2^-128), and the verdict does not depend on them otherwise.

use crate::crypto::{PublicKey, Signature};
use crate::ids::TxId;
use crate::model::SignedTransaction;
use crate::verify_memo;

/// One signature to check: `key` signed the 32 bytes `message`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SignatureCheck {
    /// The key that claims to have signed.
    pub key: PublicKey,
    /// The signature.
    pub signature: Signature,
    /// The signed message: a transaction id (approvals sign nothing else),
    /// or a checkpoint's signing digest.
    pub message: [u8; 32],
}

impl SignatureCheck {
    /// One check per approval of `signed`.
    pub fn of_transaction(signed: &SignedTransaction) -> impl Iterator<Item = SignatureCheck> + '_ {
        Self::of_approvals(signed, signed.id())
    }

    /// One check per approval of `signed`, whose id the caller already has.
    pub fn of_approvals(
        signed: &SignedTransaction,
        tx_id: TxId,
    ) -> impl Iterator<Item = SignatureCheck> + '_ {
        signed.approvals.iter().map(move |approval| SignatureCheck {
            key: approval.key,
            signature: approval.signature,
            message: tx_id.0,
        })
    }

    fn fingerprint(&self) -> verify_memo::Fingerprint {
        verify_memo::fingerprint(&self.key.0, &self.signature.0, &self.message)
    }

    fn verify_alone(&self) -> bool {
        #[cfg(test)]
        tests::CHECKED_ALONE.with(|count| count.set(count.get() + 1));
        self.key.verify_uncached(&self.message, &self.signature)
    }
}

/// Checks every approval of every transaction in `transactions` as one batch,
/// so that applying them finds the verdicts in the memo. Returns how many
/// signatures did not verify (the rules will reject their transactions).
pub fn warm(transactions: &[SignedTransaction]) -> usize {
    let ids: Vec<TxId> = transactions.iter().map(SignedTransaction::id).collect();
    warm_identified(transactions, &ids)
}

/// [`warm`] for transactions whose ids the caller already computed (`ids[i]`
/// is the id of `transactions[i]`), so they are not hashed again.
pub fn warm_identified(transactions: &[SignedTransaction], ids: &[TxId]) -> usize {
    let checks: Vec<SignatureCheck> = transactions
        .iter()
        .zip(ids)
        .flat_map(|(signed, id)| SignatureCheck::of_approvals(signed, *id))
        .collect();
    verify_all(&checks).iter().filter(|valid| !**valid).count()
}

/// The verdict of [`PublicKey::verify`] for each check, in order, reached
/// with one batch for all the checks the memo does not already hold.
pub fn verify_all(checks: &[SignatureCheck]) -> Vec<bool> {
    let mut verdicts = vec![true; checks.len()];
    let mut pending: Vec<(usize, verify_memo::Fingerprint)> = Vec::new();
    for (index, check) in checks.iter().enumerate() {
        let fingerprint = check.fingerprint();
        if !verify_memo::contains(&fingerprint) {
            pending.push((index, fingerprint));
        }
    }
    match pending.len() {
        0 => {}
        1 => {
            let (index, fingerprint) = pending[0];
            verdicts[index] = checks[index].verify_alone();
            if verdicts[index] {
                verify_memo::remember(fingerprint);
            }
        }
        _ if batch_verifies(checks, &pending) => {
            verify_memo::remember_all(pending.iter().map(|(_, fingerprint)| *fingerprint));
        }
        _ => single_out(checks, &pending, &mut verdicts),
    }
    verdicts
}

/// Below this many checks, a failed batch's members are checked alone.
const CHECK_ALONE_BELOW: usize = 4;

/// Finds the bad checks among `failed`, a batch known to hold at least one,
/// by halves: a half that verifies as a batch is settled; one that does not
/// is split again. When the first half verifies, the bad one is in the
/// second, which is split without being checked whole.
fn single_out(
    checks: &[SignatureCheck],
    failed: &[(usize, verify_memo::Fingerprint)],
    verdicts: &mut [bool],
) {
    if failed.len() < CHECK_ALONE_BELOW {
        for (index, fingerprint) in failed {
            verdicts[*index] = checks[*index].verify_alone();
            if verdicts[*index] {
                verify_memo::remember(*fingerprint);
            }
        }
        return;
    }
    let (first, second) = failed.split_at(failed.len() / 2);
    if batch_verifies(checks, first) {
        verify_memo::remember_all(first.iter().map(|(_, fingerprint)| *fingerprint));
    } else {
        single_out(checks, first, verdicts);
        if batch_verifies(checks, second) {
            verify_memo::remember_all(second.iter().map(|(_, fingerprint)| *fingerprint));
            return;
        }
    }
    single_out(checks, second, verdicts);
}

/// True when every pending check verifies, as one batch.
fn batch_verifies(
    checks: &[SignatureCheck],
    pending: &[(usize, verify_memo::Fingerprint)],
) -> bool {
    let mut batch = ed25519_zebra::batch::Verifier::new();
    for (index, _) in pending {
        let check = &checks[*index];
        batch.queue((
            ed25519_zebra::VerificationKeyBytes::from(check.key.0),
            ed25519_zebra::Signature::from_bytes(&check.signature.0),
            &check.message,
        ));
    }
    batch.verify(rand::rng()).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::SecretKey;

    thread_local! {
        /// Signatures this thread checked alone, outside any batch.
        pub(super) static CHECKED_ALONE: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    }

    fn checked_alone() -> usize {
        CHECKED_ALONE.with(std::cell::Cell::get)
    }

    #[test]
    fn one_forgery_in_a_shared_batch_is_found_without_checking_every_signature_alone() {
        let mut checks = checks(64, 3);
        checks[41].signature.0[40] ^= 0x10;
        let before = checked_alone();
        let verdicts = verify_all(&checks);
        let alone = checked_alone() - before;
        for (index, verdict) in verdicts.iter().enumerate() {
            assert_eq!(*verdict, index != 41, "check {index}");
        }
        // One by one, this took 64 checks alone.
        assert!(alone < CHECK_ALONE_BELOW, "{alone} checked alone");
    }

    #[test]
    fn a_batch_of_forgeries_is_singled_out_whole() {
        let mut checks = checks(20, 2);
        for check in &mut checks {
            check.message[0] ^= 1;
        }
        assert_eq!(verify_all(&checks), vec![false; 20]);
        for check in &checks {
            assert!(!verify_memo::contains(&check.fingerprint()));
        }
    }

    fn checks(count: u8, keys: u8) -> Vec<SignatureCheck> {
        let keys: Vec<SecretKey> = (0..keys)
            .map(|n| SecretKey::from_seed(&[n.wrapping_add(101); 32]))
            .collect();
        (0..count)
            .map(|n| {
                let key = &keys[usize::from(n) % keys.len()];
                // Distinct from every other test's messages, so that the
                // process-wide memo cannot answer for these.
                let tx_id = TxId(*blake3::hash(&[0x5b, n]).as_bytes());
                SignatureCheck {
                    key: key.public_key(),
                    signature: key.sign(tx_id.as_bytes()),
                    message: tx_id.0,
                }
            })
            .collect()
    }

    #[test]
    fn a_batch_of_good_signatures_verifies_and_is_remembered() {
        let checks = checks(40, 3);
        assert_eq!(verify_all(&checks), vec![true; 40]);
        for check in &checks {
            assert!(verify_memo::contains(&check.fingerprint()));
        }
    }

    #[test]
    fn bad_signatures_are_singled_out_and_not_remembered() {
        let mut checks = checks(30, 2);
        // Rebind a signature to another message, and corrupt another's s.
        checks[7].message = [0x77; 32];
        checks[19].signature.0[40] ^= 0x10;
        let verdicts = verify_all(&checks);
        for (index, verdict) in verdicts.iter().enumerate() {
            assert_eq!(*verdict, index != 7 && index != 19, "check {index}");
            assert_eq!(
                verify_memo::contains(&checks[index].fingerprint()),
                *verdict,
                "memo for check {index}"
            );
        }
    }

    #[test]
    fn verdicts_match_single_verification_for_every_kind_of_damage() {
        let good = checks(12, 4);
        let mut damaged = good.clone();
        damaged[0].key = good[1].key; // wrong key
        damaged[1].signature.0[0] ^= 1; // R altered
        damaged[2].signature.0[63] |= 0xf0; // s not canonical
        damaged[3].key.0 = [0xff; 32]; // not a curve point
        damaged[4].signature = good[5].signature; // someone else's signature
        let verdicts = verify_all(&damaged);
        for (check, verdict) in damaged.iter().zip(&verdicts) {
            assert_eq!(
                check.key.verify_uncached(&check.message, &check.signature),
                *verdict
            );
        }
        assert_eq!(verdicts.iter().filter(|valid| !**valid).count(), 5);
    }

    #[test]
    fn an_empty_or_single_batch_works() {
        assert!(verify_all(&[]).is_empty());
        let mut one = checks(1, 1);
        one[0].message = [0x66; 32];
        assert_eq!(verify_all(&one), vec![false]);
    }
}
