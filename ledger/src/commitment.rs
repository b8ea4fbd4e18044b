//! Salted commitments: how a transaction carries transfer terms, sale data,
//! evidence documents and full grading reports without showing them.
//!
//! A commitment is blake3 keyed with a random 32-byte salt the signer
//! chooses, over a domain tag, the field's kind and the value:
//! `blake3_keyed(salt, "gemtrail 2026-12 commitment v1" ‖ kind ‖ value)`.
//! Without the salt, guessing short text such as "USD 180,000, net 30" is no
//! longer a matter of hashing candidates: every guess needs the salt too. An
//! [`Opening`] (the value and its salt) stays with the parties, who may
//! disclose it to whom they choose; anyone holding the transaction can then
//! check it with [`Opening::check`].
//!
//! The ledger itself never sees an opening: to the rules a commitment is 32
//! opaque bytes, and nothing here changes what is signed or stored.

use serde::{Deserialize, Serialize};

use crate::ids::Digest;
use crate::model::Action;

/// The domain tag every commitment hashes first.
const COMMITMENT_CONTEXT: &[u8] = b"gemtrail 2026-12 commitment v1";

/// Which committed field of a transaction an opening is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "field", rename_all = "snake_case")]
pub enum CommittedField {
    /// A transfer proposal's terms (`ProposeTransfer.terms_commitment`).
    Terms,
    /// A sale's passport and sale data (`Sell.passport_commitment`).
    Sale,
    /// One of a registration's evidence documents (`RegisterStone.evidence`).
    Evidence {
        /// Its position in the list.
        index: u16,
    },
    /// A grading's full report (`LabReport.report_hash`).
    Report,
}

impl CommittedField {
    /// The kind byte hashed into the commitment (evidence documents share
    /// one kind; their position is not part of the hash).
    fn kind(self) -> u8 {
        match self {
            CommittedField::Terms => 0,
            CommittedField::Sale => 1,
            CommittedField::Evidence { .. } => 2,
            CommittedField::Report => 3,
        }
    }

    /// The field's name, as the CLI spells it (`terms`, `sale`,
    /// `evidence:0`, `report`).
    pub fn name(self) -> String {
        match self {
            CommittedField::Terms => "terms".to_owned(),
            CommittedField::Sale => "sale".to_owned(),
            CommittedField::Evidence { index } => format!("evidence:{index}"),
            CommittedField::Report => "report".to_owned(),
        }
    }

    /// Parses [`CommittedField::name`]'s spelling.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "terms" => Some(CommittedField::Terms),
            "sale" => Some(CommittedField::Sale),
            "report" => Some(CommittedField::Report),
            other => other
                .strip_prefix("evidence:")
                .and_then(|index| index.parse().ok())
                .map(|index| CommittedField::Evidence { index }),
        }
    }

    /// The commitment `action` carries for this field, if it has the field.
    pub fn committed_in(self, action: &Action) -> Option<Digest> {
        match (self, action) {
            (CommittedField::Terms, Action::ProposeTransfer(propose)) => {
                Some(propose.terms_commitment)
            }
            (
                CommittedField::Sale,
                Action::Sell {
                    passport_commitment,
                    ..
                },
            ) => Some(*passport_commitment),
            (CommittedField::Evidence { index }, Action::RegisterStone(register)) => register
                .evidence
                .as_slice()
                .get(usize::from(index))
                .copied(),
            (CommittedField::Report, Action::Grade { report, .. }) => Some(report.report_hash),
            _ => None,
        }
    }
}

/// The commitment to `value` for `field` under `salt`.
pub fn commit(field: CommittedField, salt: &[u8; 32], value: &[u8]) -> Digest {
    let mut hasher = blake3::Hasher::new_keyed(salt);
    hasher.update(&(COMMITMENT_CONTEXT.len() as u64).to_le_bytes());
    hasher.update(COMMITMENT_CONTEXT);
    hasher.update(&[field.kind()]);
    hasher.update(value);
    Digest(hasher.finalize().into())
}

/// What opens one commitment: the field, its value and the salt.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Opening {
    /// Which field of the transaction.
    #[serde(flatten)]
    pub field: CommittedField,
    /// The committed value's bytes.
    #[serde(with = "hex_bytes")]
    pub value: Vec<u8>,
    /// The salt, 32 random bytes.
    #[serde(with = "hex_array")]
    pub salt: [u8; 32],
}

/// Why an opening does not open a transaction's commitment.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum OpeningError {
    /// The transaction has no such field.
    #[error("the transaction has no {field} commitment")]
    NoSuchField {
        /// The field asked for.
        field: String,
    },
    /// The value and salt hash to something else.
    #[error("the opening does not match: the transaction commits to {committed}, the opening to {opened}")]
    Mismatch {
        /// What the transaction carries.
        committed: Digest,
        /// What the opening hashes to.
        opened: Digest,
    },
}

impl Opening {
    /// Commits to `value` for `field` under `salt`.
    pub fn new(field: CommittedField, value: Vec<u8>, salt: [u8; 32]) -> Self {
        Self { field, value, salt }
    }

    /// The commitment this opening opens.
    pub fn commitment(&self) -> Digest {
        commit(self.field, &self.salt, &self.value)
    }

    /// Checks that this opening opens `action`'s commitment for its field.
    pub fn check(&self, action: &Action) -> Result<(), OpeningError> {
        let committed =
            self.field
                .committed_in(action)
                .ok_or_else(|| OpeningError::NoSuchField {
                    field: self.field.name(),
                })?;
        let opened = self.commitment();
        if committed == opened {
            Ok(())
        } else {
            Err(OpeningError::Mismatch { committed, opened })
        }
    }
}

mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&hex::encode(bytes))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(deserializer)?;
        hex::decode(text).map_err(serde::de::Error::custom)
    }
}

mod hex_array {
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(
        bytes: &[u8; 32],
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&hex::encode(bytes))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<[u8; 32], D::Error> {
        let text = String::deserialize(deserializer)?;
        let bytes = hex::decode(text).map_err(serde::de::Error::custom)?;
        bytes
            .try_into()
            .map_err(|_| serde::de::Error::custom("a salt is 32 bytes"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::{propose, sell};

    fn terms_action(commitment: Digest) -> Action {
        let mut action = propose(&["ROUGH-1"], "cutter");
        if let Action::ProposeTransfer(propose) = &mut action {
            propose.terms_commitment = commitment;
        }
        action
    }

    #[test]
    fn an_opening_checks_against_its_own_commitment_only() {
        let opening = Opening::new(
            CommittedField::Terms,
            b"USD 180,000, net 30".to_vec(),
            [7; 32],
        );
        assert_eq!(opening.check(&terms_action(opening.commitment())), Ok(()));
        let mut tampered = opening.clone();
        tampered.value = b"USD 18,000, net 30".to_vec();
        assert!(matches!(
            tampered.check(&terms_action(opening.commitment())),
            Err(OpeningError::Mismatch { .. })
        ));
        let mut other_salt = opening.clone();
        other_salt.salt = [8; 32];
        assert!(other_salt
            .check(&terms_action(opening.commitment()))
            .is_err());
        assert_eq!(
            opening.check(&sell("POL-1")),
            Err(OpeningError::NoSuchField {
                field: "terms".into()
            })
        );
    }

    #[test]
    fn the_same_value_commits_differently_per_field_and_per_salt() {
        let value = b"IGL-118842";
        let terms = commit(CommittedField::Terms, &[1; 32], value);
        assert_ne!(terms, commit(CommittedField::Report, &[1; 32], value));
        assert_ne!(terms, commit(CommittedField::Terms, &[2; 32], value));
        assert_ne!(terms, Digest(blake3::hash(value).into()));
    }

    #[test]
    fn field_names_round_trip() {
        for field in [
            CommittedField::Terms,
            CommittedField::Sale,
            CommittedField::Evidence { index: 3 },
            CommittedField::Report,
        ] {
            assert_eq!(CommittedField::parse(&field.name()), Some(field));
        }
        assert_eq!(CommittedField::parse("evidence:x"), None);
        assert_eq!(CommittedField::parse("price"), None);
    }

    #[test]
    fn an_opening_round_trips_through_json() {
        let opening = Opening::new(CommittedField::Evidence { index: 1 }, vec![0, 255], [9; 32]);
        let text = serde_json::to_string(&opening).unwrap();
        assert!(text.contains("\"field\":\"evidence\""), "{text}");
        assert_eq!(serde_json::from_str::<Opening>(&text).unwrap(), opening);
    }
}
