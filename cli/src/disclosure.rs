//! Disclosure files: one commitment's opening, in clear or sealed to a
//! member's keys, for `gemtrail disclose` to write and `gemtrail verify
//! --disclosure` to check.
//!
//! Sealing is HPKE (RFC 9180) in base mode with DHKEM(X25519, HKDF-SHA256),
//! HKDF-SHA256 and ChaCha20-Poly1305, to the X25519 form of each of the
//! recipient's ed25519 keys, so members need no second key pair
//! (docs/decisions.md). The HPKE `info` binds the ciphertext to its
//! transaction and field: a sealed opening moved into another disclosure
//! does not open.

use gemtrail_ledger::commitment::{CommittedField, Opening};
use gemtrail_ledger::crypto::{PublicKey, SecretKey};
use gemtrail_ledger::ids::{OrgId, TxId};
use hpke::aead::ChaCha20Poly1305;
use hpke::kdf::HkdfSha256;
use hpke::kem::X25519HkdfSha256;
use hpke::{Deserializable, Kem, OpModeR, OpModeS, Serializable};
use serde::{Deserialize, Serialize};

use crate::error::{CliError, CliResult};

/// The format line of a disclosure file.
pub(crate) const DISCLOSURE_FORMAT: &str = "gemtrail disclosure v1";

/// What a disclosure file holds.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Disclosure {
    /// [`DISCLOSURE_FORMAT`].
    pub(crate) format: String,
    /// The transaction whose commitment it opens.
    pub(crate) tx_id: TxId,
    /// Which field (`terms`, `sale`, `report`, `evidence:N`).
    pub(crate) field: String,
    /// The opening, for anyone who holds the file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) opening: Option<Opening>,
    /// Or the opening sealed to one member's keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) sealed: Option<Sealed>,
}

/// An opening only one member can read.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Sealed {
    /// The member it is sealed to.
    pub(crate) to: OrgId,
    /// One copy per key of that member.
    pub(crate) recipients: Vec<Recipient>,
}

/// The opening sealed to one key.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Recipient {
    /// The recipient's ed25519 key.
    pub(crate) key: PublicKey,
    /// HPKE's encapsulated key, hex.
    pub(crate) enc: String,
    /// The sealed opening (its JSON), hex.
    pub(crate) ciphertext: String,
}

/// The HPKE `info`: the format, the transaction and the field.
fn info(tx_id: &TxId, field: CommittedField) -> Vec<u8> {
    format!("{DISCLOSURE_FORMAT}\n{tx_id}\n{}", field.name()).into_bytes()
}

fn hpke_error(what: &str) -> impl Fn(hpke::HpkeError) -> CliError + '_ {
    move |error| CliError::new(format!("{what}: {error}"))
}

/// Seals `opening` of `tx_id` to every key of `to`.
pub(crate) fn seal(
    tx_id: &TxId,
    opening: &Opening,
    to: &OrgId,
    keys: &[PublicKey],
) -> CliResult<Sealed> {
    let plaintext = serde_json::to_vec(opening)
        .map_err(|error| CliError::new(format!("cannot encode the opening: {error}")))?;
    let info = info(tx_id, opening.field);
    let mut recipients = Vec::with_capacity(keys.len());
    for key in keys {
        let x25519 = key
            .to_x25519()
            .ok_or_else(|| CliError::new(format!("{to}'s key {key} is not a curve point")))?;
        let public = <X25519HkdfSha256 as Kem>::PublicKey::from_bytes(&x25519)
            .map_err(hpke_error("a recipient key"))?;
        let (enc, ciphertext) = hpke::single_shot_seal::<
            ChaCha20Poly1305,
            HkdfSha256,
            X25519HkdfSha256,
        >(&OpModeS::Base, &public, &info, &plaintext, &[])
        .map_err(hpke_error("sealing the opening"))?;
        recipients.push(Recipient {
            key: *key,
            enc: hex::encode(enc.to_bytes()),
            ciphertext: hex::encode(ciphertext),
        });
    }
    Ok(Sealed {
        to: to.clone(),
        recipients,
    })
}

/// Opens a sealed opening with `secret`; exit 4 if it is not sealed to
/// this key or was altered.
pub(crate) fn open(
    tx_id: &TxId,
    field: CommittedField,
    sealed: &Sealed,
    secret: &SecretKey,
) -> CliResult<Opening> {
    let mine = secret.public_key();
    let recipient = sealed
        .recipients
        .iter()
        .find(|recipient| recipient.key == mine)
        .ok_or_else(|| {
            CliError::unverified(format!(
                "this disclosure is sealed to {}; your key {mine} is not one of its recipients, so it cannot be read",
                sealed.to
            ))
        })?;
    let altered = || {
        CliError::unverified("the sealed opening does not open: it was altered, or sealed for another transaction or field")
    };
    let enc = hex::decode(&recipient.enc).map_err(|_| altered())?;
    let ciphertext = hex::decode(&recipient.ciphertext).map_err(|_| altered())?;
    let enc = <X25519HkdfSha256 as Kem>::EncappedKey::from_bytes(&enc).map_err(|_| altered())?;
    let private = <X25519HkdfSha256 as Kem>::PrivateKey::from_bytes(&secret.to_x25519())
        .map_err(hpke_error("your key"))?;
    let plaintext = hpke::single_shot_open::<ChaCha20Poly1305, HkdfSha256, X25519HkdfSha256>(
        &OpModeR::Base,
        &private,
        &enc,
        &info(tx_id, field),
        &ciphertext,
        &[],
    )
    .map_err(|_| altered())?;
    serde_json::from_slice(&plaintext).map_err(|_| altered())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tx() -> TxId {
        TxId::from_hex(&"ab".repeat(32)).unwrap()
    }

    #[test]
    fn only_the_recipient_opens_a_sealed_opening() {
        let auditor = SecretKey::from_seed(&[1; 32]);
        let retailer = SecretKey::from_seed(&[2; 32]);
        let opening = Opening::new(
            CommittedField::Terms,
            b"USD 180,000, net 30".to_vec(),
            [5; 32],
        );
        let to = OrgId::parse("auditor").unwrap();
        let sealed = seal(&tx(), &opening, &to, &[auditor.public_key()]).unwrap();
        assert_eq!(
            open(&tx(), CommittedField::Terms, &sealed, &auditor).unwrap(),
            opening
        );
        let refused = open(&tx(), CommittedField::Terms, &sealed, &retailer).unwrap_err();
        assert_eq!(refused.exit, crate::error::EXIT_UNVERIFIED);
        // Bound to its transaction and field.
        let other_tx = TxId::from_hex(&"cd".repeat(32)).unwrap();
        assert!(open(&other_tx, CommittedField::Terms, &sealed, &auditor).is_err());
        assert!(open(&tx(), CommittedField::Sale, &sealed, &auditor).is_err());
    }
}
