//! Ed25519 keys and signatures, verified under ZIP-215's rules.
//!
//! Keys and signatures travel as raw bytes ([`PublicKey`], [`Signature`]) so that
//! any 32 or 64 bytes decode canonically; validity is checked where it matters:
//! [`PublicKey::check_registrable`] when a member's key is registered (refusing
//! malformed and weak keys), and [`PublicKey::verify`] for every signature.
//!
//! Verification follows ZIP-215 (through `ed25519-zebra`): `s` must be
//! canonical and the cofactored equation `[8][s]B = [8]R + [8][k]A` must hold.
//! Those rules were written for consensus: every valid signature under them
//! also verifies in a batch and every batch that verifies holds only valid
//! signatures, so nodes that batch differently ([`crate::signature_batch`])
//! still agree on every transaction. Every signature `verify_strict` accepts
//! is accepted here too. What ZIP-215 adds (torsion in `R`, non-canonical
//! point encodings) lets no one sign for a key they do not hold; a third party
//! could alter such bytes of a valid signature, but the transaction id, which
//! replay protection and receipts use, covers the unsigned transaction only.

use std::fmt;
use std::str::FromStr;

use borsh::{BorshDeserialize, BorshSerialize};
use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

use crate::error::{IdError, KeyError};

/// Text prefix of a public key, so that a key is recognisable in a genesis file.
pub const PUBLIC_KEY_PREFIX: &str = "ed25519:";

/// An ed25519 verifying key, as its 32-byte compressed encoding.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, BorshSerialize, BorshDeserialize)]
pub struct PublicKey(pub [u8; 32]);

impl PublicKey {
    /// Checks that this key may be registered for a member: a valid curve point that
    /// is not of small order (a weak key would let anyone forge its signatures).
    pub fn check_registrable(&self) -> Result<(), KeyError> {
        let key = VerifyingKey::from_bytes(&self.0).map_err(|_| KeyError::Malformed)?;
        if key.is_weak() {
            return Err(KeyError::Weak);
        }
        Ok(())
    }

    /// This key's X25519 form (the Montgomery point of the same key pair),
    /// for sealing a disclosure to its holder; `None` if the bytes are not
    /// a curve point.
    pub fn to_x25519(&self) -> Option<[u8; 32]> {
        VerifyingKey::from_bytes(&self.0)
            .ok()
            .map(|key| key.to_montgomery().to_bytes())
    }

    /// Verifies `signature` over `message` (ZIP-215 rules).
    ///
    /// Verification is a pure function, so its successes are remembered in a
    /// small bounded memo ([`crate::verify_memo`]): a node that checked a
    /// signature at its mempool's door does not pay for it again when the
    /// block is applied. Failures are never remembered.
    pub fn verify(&self, message: &[u8], signature: &Signature) -> bool {
        let fingerprint = crate::verify_memo::fingerprint(&self.0, &signature.0, message);
        if crate::verify_memo::contains(&fingerprint) {
            return true;
        }
        let valid = self.verify_uncached(message, signature);
        if valid {
            crate::verify_memo::remember(fingerprint);
        }
        valid
    }

    /// [`PublicKey::verify`] without the memo: always does the curve
    /// arithmetic (for benchmarks, and to check the memo against).
    pub fn verify_uncached(&self, message: &[u8], signature: &Signature) -> bool {
        let Ok(key) = ed25519_zebra::VerificationKey::try_from(self.0) else {
            return false;
        };
        let signature = ed25519_zebra::Signature::from_bytes(&signature.0);
        key.verify(&signature, message).is_ok()
    }

    /// `ed25519:` followed by 64 hex digits.
    pub fn to_text(&self) -> String {
        format!("{PUBLIC_KEY_PREFIX}{}", hex::encode(self.0))
    }

    /// Parses `ed25519:<64 hex digits>` (the prefix is optional).
    pub fn from_text(text: &str) -> Result<Self, IdError> {
        let text = text.trim();
        let digits = text.strip_prefix(PUBLIC_KEY_PREFIX).unwrap_or(text);
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(digits, &mut bytes).map_err(|_| IdError {
            kind: "public key",
            value: text.chars().take(80).collect(),
            reason: "is not ed25519: followed by 64 hexadecimal digits",
        })?;
        Ok(Self(bytes))
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_text())
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", &hex::encode(self.0)[..16])
    }
}

impl FromStr for PublicKey {
    type Err = IdError;
    fn from_str(text: &str) -> Result<Self, IdError> {
        Self::from_text(text)
    }
}

impl Serialize for PublicKey {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_text())
    }
}

impl<'de> Deserialize<'de> for PublicKey {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <String as Deserialize>::deserialize(deserializer)?;
        Self::from_text(&text).map_err(serde::de::Error::custom)
    }
}

/// An ed25519 signature, as its 64 bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, BorshSerialize, BorshDeserialize)]
pub struct Signature(pub [u8; 64]);

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({}…)", &hex::encode(self.0)[..16])
    }
}

impl Serialize for Signature {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&hex::encode(self.0))
    }
}

impl<'de> Deserialize<'de> for Signature {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <String as Deserialize>::deserialize(deserializer)?;
        let mut bytes = [0u8; 64];
        hex::decode_to_slice(&text, &mut bytes)
            .map_err(|_| serde::de::Error::custom("a signature is 128 hexadecimal digits"))?;
        Ok(Self(bytes))
    }
}

/// A member's private signing key. It never leaves the member's machine: nodes
/// only ever see public keys and signatures.
#[derive(Clone)]
pub struct SecretKey(SigningKey);

impl SecretKey {
    /// A fresh key from the operating system's random source.
    pub fn generate() -> Result<Self, KeyError> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|_| KeyError::NoRandomness)?;
        Ok(Self::from_seed(&seed))
    }

    /// The key derived from a 32-byte seed (deterministic; for tests and key files).
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        Self(SigningKey::from_bytes(seed))
    }

    /// The 32-byte seed, for writing to a key file.
    pub fn to_seed(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    /// The matching public key.
    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.0.verifying_key().to_bytes())
    }

    /// Signs `message`.
    pub fn sign(&self, message: &[u8]) -> Signature {
        Signature(self.0.sign(message).to_bytes())
    }

    /// The X25519 secret of the same key pair (the clamped scalar), for
    /// opening what was sealed to [`PublicKey::to_x25519`]: members have
    /// one key for signing and for receiving disclosures (docs/decisions.md).
    pub fn to_x25519(&self) -> [u8; 32] {
        self.0.to_scalar_bytes()
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretKey(public {})", self.public_key())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_verify_only_for_their_message_and_key() {
        let key = SecretKey::from_seed(&[7; 32]);
        let other = SecretKey::from_seed(&[8; 32]);
        let signature = key.sign(b"hello");
        assert!(key.public_key().verify(b"hello", &signature));
        assert!(!key.public_key().verify(b"hellp", &signature));
        assert!(!other.public_key().verify(b"hello", &signature));
    }

    #[test]
    fn the_identity_point_is_refused_as_weak() {
        // The compressed identity point (y = 1) has small order.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert_eq!(PublicKey(identity).check_registrable(), Err(KeyError::Weak));
    }

    #[test]
    fn a_non_point_is_refused_as_malformed() {
        // y = 2 has no matching x on the curve.
        let mut bytes = [0u8; 32];
        bytes[0] = 2;
        assert_eq!(
            PublicKey(bytes).check_registrable(),
            Err(KeyError::Malformed)
        );
    }

    #[test]
    fn key_text_round_trips() {
        let key = SecretKey::from_seed(&[1; 32]).public_key();
        assert_eq!(PublicKey::from_text(&key.to_text()).unwrap(), key);
    }
}
