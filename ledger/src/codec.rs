//! The one canonical binary encoding of gemtrail, and domain-separated hashing.
//!
//! Everything that is signed, hashed or stored is encoded with borsh. Borsh is
//! already close to canonical (fixed-width little-endian integers, length-prefixed
//! sequences, strict `bool` and `Option` tags); this module closes the remaining gaps:
//!
//! * [`decode`] refuses input larger than [`ENCODED_BYTES_MAX`], refuses trailing
//!   bytes, and refuses any input that does not re-encode to exactly the same bytes
//!   (unsorted maps, non-normalised identifiers, ...).
//! * [`BoundedVec`] and [`BoundedString`] check a declared length against a named
//!   maximum *before* anything is allocated.
//! * [`domain_hash`] hashes with a blake3 key derived from a fixed [`Domain`]
//!   context, and mixes in the chain id, so that a hash of one kind of value can
//!   never be mistaken for a hash of another kind, or of another chain.

use std::fmt;
use std::io::{self, Read, Write};
use std::sync::OnceLock;

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

use crate::error::DecodeError;

/// Upper bound on any single encoded value accepted by [`decode`] (a whole block
/// proposal is the largest such value).
pub const ENCODED_BYTES_MAX: usize = 64 * 1024 * 1024;

/// Most elements a [`BoundedVec`] reserves before reading them.
const PREALLOCATE_ITEMS_MAX: usize = 1024;

/// How many bytes [`encode`] would write for `value`, without writing them.
pub fn encoded_len<T: BorshSerialize + ?Sized>(value: &T) -> usize {
    // Counting into a sink cannot fail for in-memory values.
    borsh::object_length(value).unwrap_or(0)
}

/// Encodes a value canonically.
pub fn encode<T: BorshSerialize + ?Sized>(value: &T) -> Vec<u8> {
    // Sized first (a pass that only counts), so the bytes are written into
    // one allocation instead of a vector doubling its way up from empty: a
    // profile found those reallocations among malloc's busiest callers.
    let mut out = Vec::with_capacity(encoded_len(value));
    // Writing into a Vec cannot fail, and every sequence in our types is capped far
    // below borsh's u32 length limit, so serialization has no error path.
    if let Err(error) = value.serialize(&mut out) {
        unreachable!("encoding into memory failed: {error}");
    }
    out
}

/// Decodes a value, accepting only its canonical encoding.
pub fn decode<T: BorshSerialize + BorshDeserialize>(bytes: &[u8]) -> Result<T, DecodeError> {
    if bytes.len() > ENCODED_BYTES_MAX {
        return Err(DecodeError::TooLarge {
            len: bytes.len() as u64,
            max: ENCODED_BYTES_MAX as u64,
        });
    }
    let value = borsh::from_slice::<T>(bytes).map_err(|error| DecodeError::Malformed {
        reason: error.to_string(),
    })?;
    if !encodes_to(&value, bytes) {
        return Err(DecodeError::NonCanonical);
    }
    Ok(value)
}

/// Whether `value` encodes to exactly `bytes`, compared as it is written,
/// without building the encoding.
fn encodes_to<T: BorshSerialize>(value: &T, bytes: &[u8]) -> bool {
    /// A writer that checks what it is given against the expected bytes.
    struct Compare<'a> {
        rest: &'a [u8],
    }
    impl std::io::Write for Compare<'_> {
        fn write(&mut self, written: &[u8]) -> std::io::Result<usize> {
            match self.rest.strip_prefix(written) {
                Some(rest) => {
                    self.rest = rest;
                    Ok(written.len())
                }
                None => Err(std::io::ErrorKind::InvalidData.into()),
            }
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut compare = Compare { rest: bytes };
    value.serialize(&mut compare).is_ok() && compare.rest.is_empty()
}

/// What a hash is a hash of. Each domain has its own blake3 key-derivation context.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Domain {
    /// The transaction id: the hash of an unsigned transaction, which is also what
    /// its signers sign.
    Transaction,
    /// A leaf of a block's transaction merkle tree (a signed transaction).
    TransactionLeaf,
    /// A leaf of a block's receipt merkle tree.
    ReceiptLeaf,
    /// An inner node of any merkle tree.
    MerkleNode,
    /// The merkle root of an empty tree.
    MerkleEmpty,
    /// A block header.
    BlockHeader,
    /// The membership (members and nodes) in force after a block.
    Membership,
    /// The genesis document.
    Genesis,
    /// A key of the state tree: a stone id ([`crate::state_tree`]).
    StateKey,
    /// A node or value of the state tree (its hasher, `StateHasher`).
    StateTree,
    /// A checkpoint a node signs ([`crate::certificate`]).
    Checkpoint,
}

impl Domain {
    /// The blake3 `derive_key` context string for this domain.
    pub const fn context(self) -> &'static str {
        match self {
            Domain::Transaction => "gemtrail 2026-11 transaction v1",
            Domain::TransactionLeaf => "gemtrail 2026-11 transaction leaf v1",
            Domain::ReceiptLeaf => "gemtrail 2026-11 receipt leaf v1",
            Domain::MerkleNode => "gemtrail 2026-11 merkle node v1",
            Domain::MerkleEmpty => "gemtrail 2026-11 merkle empty v1",
            Domain::BlockHeader => "gemtrail 2026-11 block header v1",
            Domain::Membership => "gemtrail 2026-11 membership v1",
            Domain::Genesis => "gemtrail 2026-11 genesis v1",
            Domain::StateKey => "gemtrail 2026-12 state key v1",
            Domain::StateTree => "gemtrail 2026-12 state tree v1",
            Domain::Checkpoint => "gemtrail 2026-12 checkpoint v1",
        }
    }

    /// The 32-byte blake3 key of this domain, derived once from its context.
    fn key(self) -> &'static [u8; 32] {
        static KEYS: OnceLock<[[u8; 32]; Domain::COUNT]> = OnceLock::new();
        let keys = KEYS.get_or_init(|| {
            Domain::ALL.map(|domain| blake3::derive_key(domain.context(), b"gemtrail"))
        });
        &keys[self as usize]
    }

    const COUNT: usize = 11;
    const ALL: [Domain; Domain::COUNT] = [
        Domain::Transaction,
        Domain::TransactionLeaf,
        Domain::ReceiptLeaf,
        Domain::MerkleNode,
        Domain::MerkleEmpty,
        Domain::BlockHeader,
        Domain::Membership,
        Domain::Genesis,
        Domain::StateKey,
        Domain::StateTree,
        Domain::Checkpoint,
    ];
}

/// A blake3 hasher keyed for the state tree's nodes and values: jmt hashes
/// with it, so no state-tree hash can pass for any other gemtrail hash.
pub(crate) fn state_tree_hasher() -> blake3::Hasher {
    blake3::Hasher::new_keyed(Domain::StateTree.key())
}

/// Hashes `bytes` in `domain` for the chain `chain_id`: blake3 keyed with the
/// domain's derived key, over the length-prefixed chain id and then `bytes`.
///
/// The chain id is length-prefixed so that `(chain, bytes)` pairs cannot collide.
pub fn domain_hash(domain: Domain, chain_id: &str, bytes: &[u8]) -> [u8; 32] {
    let mut hasher = blake3::Hasher::new_keyed(domain.key());
    hasher.update(&(chain_id.len() as u32).to_le_bytes());
    hasher.update(chain_id.as_bytes());
    hasher.update(bytes);
    *hasher.finalize().as_bytes()
}

/// Hashes two merkle children. Leaves are already bound to their chain, so inner
/// nodes need only their own domain key.
pub fn merkle_node_hash(left: &[u8; 32], right: &[u8; 32]) -> [u8; 32] {
    let mut hasher = blake3::Hasher::new_keyed(Domain::MerkleNode.key());
    hasher.update(left);
    hasher.update(right);
    *hasher.finalize().as_bytes()
}

fn invalid_data(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

fn read_len<R: Read>(reader: &mut R, max: usize) -> io::Result<usize> {
    let len = u32::deserialize_reader(reader)? as usize;
    if len > max {
        return Err(invalid_data(format!(
            "length {len} exceeds the maximum of {max}"
        )));
    }
    Ok(len)
}

/// A `Vec` with at most `MAX` elements, enforced when decoding and constructing.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "Vec<T>", into = "Vec<T>")]
#[serde(bound(
    serialize = "T: Serialize + Clone",
    deserialize = "T: Deserialize<'de>"
))]
pub struct BoundedVec<T, const MAX: usize>(Vec<T>);

impl<T, const MAX: usize> BoundedVec<T, MAX> {
    /// The largest number of elements this vector may hold.
    pub const MAX: usize = MAX;

    /// No elements (usable in constants).
    pub const EMPTY: Self = Self(Vec::new());

    /// Wraps `items`, or reports how many there were when above `MAX`.
    pub fn new(items: Vec<T>) -> Result<Self, LengthError> {
        if items.len() > MAX {
            return Err(LengthError {
                len: items.len(),
                max: MAX,
            });
        }
        Ok(Self(items))
    }

    /// An empty vector.
    pub fn empty() -> Self {
        Self(Vec::new())
    }

    /// The elements.
    pub fn as_slice(&self) -> &[T] {
        &self.0
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when there are no elements.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Iterates over the elements.
    pub fn iter(&self) -> std::slice::Iter<'_, T> {
        self.0.iter()
    }

    /// Appends an element, refusing to grow past `MAX`.
    pub fn push(&mut self, item: T) -> Result<(), LengthError> {
        if self.0.len() >= MAX {
            return Err(LengthError {
                len: self.0.len() + 1,
                max: MAX,
            });
        }
        self.0.push(item);
        Ok(())
    }

    /// Unwraps into the inner `Vec`.
    pub fn into_inner(self) -> Vec<T> {
        self.0
    }
}

impl<T, const MAX: usize> Default for BoundedVec<T, MAX> {
    fn default() -> Self {
        Self::empty()
    }
}

impl<T: fmt::Debug, const MAX: usize> fmt::Debug for BoundedVec<T, MAX> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl<T, const MAX: usize> TryFrom<Vec<T>> for BoundedVec<T, MAX> {
    type Error = LengthError;
    fn try_from(items: Vec<T>) -> Result<Self, LengthError> {
        Self::new(items)
    }
}

impl<T, const MAX: usize> From<BoundedVec<T, MAX>> for Vec<T> {
    fn from(value: BoundedVec<T, MAX>) -> Self {
        value.0
    }
}

impl<'a, T, const MAX: usize> IntoIterator for &'a BoundedVec<T, MAX> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl<T: BorshSerialize, const MAX: usize> BorshSerialize for BoundedVec<T, MAX> {
    fn serialize<W: Write>(&self, writer: &mut W) -> io::Result<()> {
        BorshSerialize::serialize(&(self.0.len() as u32), writer)?;
        for item in &self.0 {
            item.serialize(writer)?;
        }
        Ok(())
    }
}

impl<T: BorshDeserialize, const MAX: usize> BorshDeserialize for BoundedVec<T, MAX> {
    fn deserialize_reader<R: Read>(reader: &mut R) -> io::Result<Self> {
        let len = read_len(reader, MAX)?;
        // Some maxima are large (a proof's headers): reserve only a bounded amount
        // up front, and let the input itself prove that more elements exist.
        let mut items = Vec::with_capacity(len.min(PREALLOCATE_ITEMS_MAX));
        for _ in 0..len {
            items.push(T::deserialize_reader(reader)?);
        }
        Ok(Self(items))
    }
}

/// A UTF-8 string of at most `MAX` bytes, enforced when decoding and constructing.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct BoundedString<const MAX: usize>(String);

impl<const MAX: usize> BoundedString<MAX> {
    /// The largest length in bytes.
    pub const MAX: usize = MAX;

    /// Wraps `text`, or reports its length when above `MAX` bytes.
    pub fn new(text: impl Into<String>) -> Result<Self, LengthError> {
        let text = text.into();
        if text.len() > MAX {
            return Err(LengthError {
                len: text.len(),
                max: MAX,
            });
        }
        Ok(Self(text))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<const MAX: usize> fmt::Debug for BoundedString<MAX> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl<const MAX: usize> fmt::Display for BoundedString<MAX> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<const MAX: usize> TryFrom<String> for BoundedString<MAX> {
    type Error = LengthError;
    fn try_from(text: String) -> Result<Self, LengthError> {
        Self::new(text)
    }
}

impl<const MAX: usize> TryFrom<&str> for BoundedString<MAX> {
    type Error = LengthError;
    fn try_from(text: &str) -> Result<Self, LengthError> {
        Self::new(text)
    }
}

impl<const MAX: usize> From<BoundedString<MAX>> for String {
    fn from(value: BoundedString<MAX>) -> Self {
        value.0
    }
}

impl<const MAX: usize> BorshSerialize for BoundedString<MAX> {
    fn serialize<W: Write>(&self, writer: &mut W) -> io::Result<()> {
        BorshSerialize::serialize(&(self.0.len() as u32), writer)?;
        writer.write_all(self.0.as_bytes())
    }
}

impl<const MAX: usize> BorshDeserialize for BoundedString<MAX> {
    fn deserialize_reader<R: Read>(reader: &mut R) -> io::Result<Self> {
        let len = read_len(reader, MAX)?;
        let mut bytes = vec![0u8; len];
        reader.read_exact(&mut bytes)?;
        String::from_utf8(bytes)
            .map(Self)
            .map_err(|_| invalid_data("string is not valid UTF-8".to_owned()))
    }
}

/// A sequence or string was longer than its named maximum.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("length {len} exceeds the maximum of {max}")]
pub struct LengthError {
    /// The length found.
    pub len: usize,
    /// The maximum allowed.
    pub max: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_canonical_check_compares_every_byte_and_the_length() {
        let value: (u32, String, Vec<u16>) = (7, "stone".to_owned(), vec![1, 2, 3]);
        let bytes = encode(&value);
        assert_eq!(bytes.len(), encoded_len(&value));
        assert_eq!(bytes.capacity(), bytes.len(), "sized before writing");
        assert!(encodes_to(&value, &bytes));
        // One byte more, one byte less, one byte changed: all refused.
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(!encodes_to(&value, &longer));
        assert!(!encodes_to(&value, &bytes[..bytes.len() - 1]));
        for index in 0..bytes.len() {
            let mut changed = bytes.clone();
            changed[index] ^= 1;
            assert!(!encodes_to(&value, &changed), "byte {index} changed");
        }
    }

    #[test]
    fn bounded_vec_refuses_declared_length_above_max_before_reading() {
        // Declares 1,000 elements but holds none: the cap must trip first.
        let bytes = encode(&1000u32);
        let error = decode::<BoundedVec<u8, 16>>(&bytes).unwrap_err();
        assert_eq!(
            error,
            DecodeError::Malformed {
                reason: "length 1000 exceeds the maximum of 16".to_owned()
            }
        );
    }

    #[test]
    fn trailing_bytes_are_refused() {
        let mut bytes = encode(&7u32);
        bytes.push(0);
        assert!(matches!(
            decode::<u32>(&bytes),
            Err(DecodeError::Malformed { .. })
        ));
    }

    #[test]
    fn domains_separate_hashes() {
        let a = domain_hash(Domain::Transaction, "c", b"x");
        let b = domain_hash(Domain::BlockHeader, "c", b"x");
        let c = domain_hash(Domain::Transaction, "d", b"x");
        assert_ne!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn bounded_string_refuses_invalid_utf8() {
        let mut bytes = encode(&2u32);
        bytes.extend_from_slice(&[0xff, 0xfe]);
        assert_eq!(
            decode::<BoundedString<8>>(&bytes).unwrap_err(),
            DecodeError::Malformed {
                reason: "string is not valid UTF-8".to_owned()
            }
        );
    }
}
