//! Identifiers: stones, organisations, chains, nodes, transactions and blocks.
//!
//! Text identifiers are normalised when parsed ([`StoneId::parse`] upper-cases,
//! [`OrgId::parse`] lower-cases) and decoding accepts only the normalised form, so
//! one stone has exactly one encoding. Hash identifiers are 32-byte blake3 digests
//! shown as lowercase hex.

use std::fmt;
use std::io::{self, Read, Write};
use std::str::FromStr;

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

use crate::error::IdError;

/// Longest stone id, in bytes.
pub const STONE_ID_BYTES_MAX: usize = 64;
/// Longest organisation id, in bytes.
pub const ORG_ID_BYTES_MAX: usize = 32;
/// Longest chain id, in bytes.
pub const CHAIN_ID_BYTES_MAX: usize = 64;

fn check_text(
    kind: &'static str,
    text: &str,
    max: usize,
    allowed: fn(char) -> bool,
) -> Result<(), IdError> {
    let invalid = |reason: &'static str| IdError {
        kind,
        value: text.chars().take(80).collect(),
        reason,
    };
    let first = text.chars().next().ok_or_else(|| invalid("is empty"))?;
    if text.len() > max {
        return Err(invalid("is too long"));
    }
    if !first.is_ascii_alphanumeric() {
        return Err(invalid("must start with a letter or digit"));
    }
    if !text.chars().all(allowed) {
        return Err(invalid("contains a character that is not allowed"));
    }
    Ok(())
}

macro_rules! text_id {
    (
        $(#[$doc:meta])*
        $name:ident, kind = $kind:literal, max = $max:expr,
        normalise = $normalise:expr, allowed = $allowed:expr
    ) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Normalises `text` and checks it.
            pub fn parse(text: &str) -> Result<Self, IdError> {
                let normalised: String = ($normalise)(text.trim());
                Self::check(&normalised)?;
                Ok(Self(normalised))
            }

            fn check(text: &str) -> Result<(), IdError> {
                check_text($kind, text, $max, $allowed)
            }

            /// The normalised text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.0)
            }
        }

        impl FromStr for $name {
            type Err = IdError;
            fn from_str(text: &str) -> Result<Self, IdError> {
                Self::parse(text)
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(text: String) -> Result<Self, IdError> {
                Self::parse(&text)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl BorshSerialize for $name {
            fn serialize<W: Write>(&self, writer: &mut W) -> io::Result<()> {
                BorshSerialize::serialize(&(self.0.len() as u8), writer)?;
                writer.write_all(self.0.as_bytes())
            }
        }

        impl BorshDeserialize for $name {
            fn deserialize_reader<R: Read>(reader: &mut R) -> io::Result<Self> {
                // A one-byte length: the cap is below 256 so nothing larger can be declared.
                let len = u8::deserialize_reader(reader)? as usize;
                let mut bytes = vec![0u8; len];
                reader.read_exact(&mut bytes)?;
                let text = String::from_utf8(bytes).map_err(|_| {
                    io::Error::new(io::ErrorKind::InvalidData, "identifier is not UTF-8")
                })?;
                // Only the normalised form decodes: there is one encoding per id.
                Self::check(&text)
                    .map_err(|error| io::Error::new(io::ErrorKind::InvalidData, error.to_string()))?;
                Ok(Self(text))
            }
        }
    };
}

text_id!(
    /// A stone's id, given by its producer at the mine and unique forever across the
    /// ledger (for example `ALR-2026-000123`). Upper-case ASCII letters, digits and
    /// `-` `_` `.` `/`, at most [`STONE_ID_BYTES_MAX`] bytes.
    StoneId, kind = "stone id", max = STONE_ID_BYTES_MAX,
    normalise = |text: &str| text.to_ascii_uppercase(),
    allowed = |c: char| c.is_ascii_uppercase() || c.is_ascii_digit() || "-_./".contains(c)
);

text_id!(
    /// A member organisation's id (for example `kimberley-mining`). Lower-case ASCII
    /// letters, digits and `-`, at most [`ORG_ID_BYTES_MAX`] bytes.
    OrgId, kind = "organisation id", max = ORG_ID_BYTES_MAX,
    normalise = |text: &str| text.to_ascii_lowercase(),
    allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'
);

text_id!(
    /// A chain's id, mixed into every signature and hash so that nothing signed for
    /// one consortium's chain is valid on another. Lower-case ASCII letters, digits,
    /// `-`, `_` and `.`, at most [`CHAIN_ID_BYTES_MAX`] bytes.
    ChainId, kind = "chain id", max = CHAIN_ID_BYTES_MAX,
    normalise = |text: &str| text.to_ascii_lowercase(),
    allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_.".contains(c)
);

/// A consensus node's id: its Raft node id.
#[derive(
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Debug,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
)]
#[serde(transparent)]
pub struct NodeId(pub u64);

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

macro_rules! hash_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(
            Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default,
            BorshSerialize, BorshDeserialize, Serialize, Deserialize,
        )]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(pub [u8; 32]);

        impl $name {
            /// The raw digest.
            pub fn as_bytes(&self) -> &[u8; 32] {
                &self.0
            }

            /// Parses 64 hex digits.
            pub fn from_hex(text: &str) -> Result<Self, IdError> {
                let mut bytes = [0u8; 32];
                hex::decode_to_slice(text.trim(), &mut bytes).map_err(|_| IdError {
                    kind: stringify!($name),
                    value: text.chars().take(80).collect(),
                    reason: "is not 64 hexadecimal digits",
                })?;
                Ok(Self(bytes))
            }

            /// Lowercase hex.
            pub fn to_hex(&self) -> String {
                hex::encode(self.0)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.to_hex())
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), &self.to_hex()[..16])
            }
        }

        impl FromStr for $name {
            type Err = IdError;
            fn from_str(text: &str) -> Result<Self, IdError> {
                Self::from_hex(text)
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(text: String) -> Result<Self, IdError> {
                Self::from_hex(&text)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.to_hex()
            }
        }
    };
}

hash_id!(
    /// A transaction's id: the domain-separated blake3 hash of the unsigned
    /// transaction's canonical bytes. It is also the message every signer signs, and
    /// the key of replay protection.
    TxId
);

hash_id!(
    /// A block's hash: the domain-separated blake3 hash of its canonical header.
    /// The genesis hash plays the role of block 0's hash.
    BlockHash
);

hash_id!(
    /// A 32-byte digest: a merkle root, a document hash, a commitment.
    Digest
);

/// A transfer proposal is named by the id of the transaction that opened it.
pub type ProposalId = TxId;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{decode, encode};
    use crate::error::DecodeError;

    #[test]
    fn stone_ids_are_normalised_to_upper_case() {
        let id = StoneId::parse("  alr-2026-000123 ").unwrap();
        assert_eq!(id.as_str(), "ALR-2026-000123");
    }

    #[test]
    fn non_normalised_stone_id_bytes_do_not_decode() {
        let mut bytes = vec![3u8];
        bytes.extend_from_slice(b"abc");
        assert_eq!(
            decode::<StoneId>(&bytes).unwrap_err(),
            DecodeError::Malformed {
                reason: "stone id \"abc\" contains a character that is not allowed".to_owned()
            }
        );
    }

    #[test]
    fn org_id_rejects_spaces_with_its_kind_named() {
        let error = OrgId::parse("acme mining").unwrap_err();
        assert_eq!(
            error.to_string(),
            "organisation id \"acme mining\" contains a character that is not allowed"
        );
    }

    #[test]
    fn too_long_ids_are_refused() {
        let long = "A".repeat(STONE_ID_BYTES_MAX + 1);
        assert_eq!(StoneId::parse(&long).unwrap_err().reason, "is too long");
        let encoded = {
            let mut bytes = vec![long.len() as u8];
            bytes.extend_from_slice(long.as_bytes());
            bytes
        };
        assert!(decode::<StoneId>(&encoded).is_err());
        let ok = StoneId::parse("A1").unwrap();
        assert_eq!(decode::<StoneId>(&encode(&ok)).unwrap(), ok);
    }
}
