//! The ledger's data model: members and roles, stones, transactions, blocks and
//! receipts. Plain values with canonical borsh encodings and serde at the edges;
//! the rules that change them live in [`crate::rules`].
//!
//! Every sequence and string here has a named maximum (the `*_MAX` constants
//! below), enforced by [`crate::codec::BoundedVec`] and
//! [`crate::codec::BoundedString`] before anything is allocated.

mod block;
mod member;
mod proposal;
mod receipt;
mod stone;
mod tx;

pub use block::*;
pub use member::*;
pub use proposal::*;
pub use receipt::*;
pub use stone::*;
pub use tx::*;

use crate::codec::BoundedString;

/// Longest organisation, mine, region or cutter name, in bytes.
pub const NAME_BYTES_MAX: usize = 128;
/// Longest free-text description, in bytes.
pub const DESCRIPTION_BYTES_MAX: usize = 512;
/// Longest short code (colour, clarity, cut, shape, certificate and report numbers), in bytes.
pub const CODE_BYTES_MAX: usize = 32;
/// Most signing keys one member may hold.
pub const KEYS_PER_MEMBER_MAX: usize = 8;
/// Most evidence hashes attached to a registration.
pub const EVIDENCE_MAX: usize = 16;
/// Most stones in one transfer parcel.
pub const PARCEL_STONES_MAX: usize = 256;
/// Most polished stones cut from one rough.
pub const MANUFACTURE_OUTPUTS_MAX: usize = 64;
/// Most signatures on one transaction (governance needs a majority of admins).
pub const APPROVALS_MAX: usize = 32;
/// Most transactions in one block.
///
/// Chosen so that every block proposal that can be built also decodes: the
/// largest transaction (a 256-stone parcel) encodes to about 17 KB, so 2,048 of
/// them stay near 35 MB, well under [`crate::codec::ENCODED_BYTES_MAX`]. A larger
/// cap would let a leader replicate an entry that no node can read back.
pub const BLOCK_TRANSACTIONS_MAX: usize = 2_048;
/// Most members in a consortium.
pub const MEMBERS_MAX: usize = 1_024;
/// Most consensus nodes in a consortium.
pub const NODES_MAX: usize = 64;
/// Longest libp2p peer id text, in bytes.
pub const PEER_ID_BYTES_MAX: usize = 128;
/// Longest network address text, in bytes.
pub const ADDRESS_BYTES_MAX: usize = 256;
/// Heaviest single stone, in hundredths of a carat (the Cullinan was 3,106 ct).
pub const CARATS_MAX: Carats = Carats(10_000_000);

/// A name: an organisation, a mine, a region or a cutter.
pub type Name = BoundedString<NAME_BYTES_MAX>;
/// A free-text description.
pub type Description = BoundedString<DESCRIPTION_BYTES_MAX>;
/// A short code: a colour or clarity grade, a shape, a certificate number.
pub type Code = BoundedString<CODE_BYTES_MAX>;
