//! Errors of the genesis crate.
//!
//! Every problem with a genesis document's content is a [`GenesisError::Invalid`]
//! naming the offending field as a path (`members[2].keys[0]`, `nodes[1].peer_id`,
//! `consensus.batch_max_txs`) and saying what is wrong with it as a [`Problem`], so
//! an operator editing the file by hand can go straight to the line to fix.

use std::fmt;
use std::path::PathBuf;

use gemtrail_ledger::model::Role;
use gemtrail_ledger::KeyError;

/// Why a genesis document could not be read, parsed or accepted.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum GenesisError {
    /// The genesis file could not be read.
    #[error("cannot read genesis file {}: {message}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What the operating system reported.
        kind: std::io::ErrorKind,
        /// Its message.
        message: String,
    },
    /// The genesis text is larger than [`crate::GENESIS_BYTES_MAX`].
    #[error("genesis document of {len} bytes exceeds the maximum of {max}")]
    TooLarge {
        /// Bytes found.
        len: u64,
        /// The cap.
        max: u64,
    },
    /// The text is not well-formed TOML.
    #[error("TOML syntax error at line {line}, column {column}: {message}")]
    Syntax {
        /// 1-based line of the error.
        line: u32,
        /// 1-based column (in characters) of the error.
        column: u32,
        /// What the TOML parser expected.
        message: String,
    },
    /// The document is well-formed TOML but one of its fields is wrong.
    #[error("{field}: {problem}")]
    Invalid {
        /// Path of the offending field, such as `members[1].roles[0]`.
        field: String,
        /// What is wrong with it.
        problem: Problem,
    },
    /// The document could not be written as TOML (cannot happen for a document
    /// that was parsed; kept so that writing never panics).
    #[error("cannot write the genesis document as TOML: {message}")]
    Write {
        /// What the TOML writer reported.
        message: String,
    },
    /// Keys for a sample consortium could not be made (no randomness).
    #[error("cannot generate keys: {message}")]
    KeyGeneration {
        /// What failed.
        message: String,
    },
}

impl GenesisError {
    /// An [`GenesisError::Invalid`] for `field`.
    pub(crate) fn invalid(field: impl Into<String>, problem: Problem) -> Self {
        Self::Invalid {
            field: field.into(),
            problem,
        }
    }
}

/// What is wrong with one field of a genesis document.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    /// A required field is absent.
    #[error("missing")]
    Missing,
    /// A field the format does not know (often a typo).
    #[error("unknown field (expected {expected})")]
    UnknownField {
        /// The fields allowed there, as the TOML reader lists them.
        expected: String,
    },
    /// A value of the wrong type, or another structural problem the TOML reader found.
    #[error("{message}")]
    Schema {
        /// The TOML reader's message.
        message: String,
    },
    /// An identifier (chain id, organisation id) that does not parse.
    #[error("{reason}")]
    InvalidId {
        /// The identifier parser's message.
        reason: String,
    },
    /// A text that must not be empty (or only whitespace) is.
    #[error("must not be empty")]
    Empty,
    /// A text longer than its maximum.
    #[error("is {len} bytes long, more than the maximum of {max}")]
    TooLong {
        /// Its length in bytes.
        len: u64,
        /// The maximum.
        max: u64,
    },
    /// A list with more entries than its maximum.
    #[error("has {count} entries, more than the maximum of {max}")]
    TooMany {
        /// Entries found.
        count: u64,
        /// The maximum.
        max: u64,
    },
    /// A list that must have at least one entry is empty.
    #[error("at least one {what} is required")]
    NoneGiven {
        /// What kind of entry is required.
        what: &'static str,
    },
    /// A role name that is not one of [`Role::ALL`].
    #[error("unknown role {role:?} (expected one of {})", RoleNames)]
    UnknownRole {
        /// The name given.
        role: String,
    },
    /// No member holds the Admin role, so membership could never be governed.
    #[error("no member has the admin role; at least one is required to govern the consortium")]
    NoAdmin,
    /// A key text that is not `ed25519:` followed by 64 hexadecimal digits.
    #[error("{reason}")]
    MalformedKey {
        /// The key parser's message.
        reason: String,
    },
    /// Well-formed key text whose bytes are not a usable ed25519 key.
    #[error("{0}")]
    UnusableKey(KeyError),
    /// A value that must be unique was already used by another entry.
    #[error("{value} is already used at {first}")]
    Duplicate {
        /// The repeated value, as text.
        value: String,
        /// Path of its first use.
        first: String,
    },
    /// A node's owner that is not a member of the document.
    #[error("{member:?} is not a member of this consortium")]
    UnknownMember {
        /// The owner given.
        member: String,
    },
    /// A libp2p peer id that does not parse.
    #[error("not a libp2p peer id: {reason}")]
    InvalidPeerId {
        /// The peer-id parser's message.
        reason: String,
    },
    /// A listen address that is not a supported libp2p TCP multiaddr.
    #[error("{value:?} is not a libp2p TCP address ({reason}); expected /ip4/<address>/tcp/<port>, /ip6/<address>/tcp/<port> or /dns/<host>/tcp/<port>")]
    InvalidMultiaddr {
        /// The text given.
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// An API address that is not `<ip>:<port>` with a non-zero port.
    #[error("{value:?} is not a socket address <ip>:<port> with a non-zero port")]
    InvalidSocketAddr {
        /// The text given.
        value: String,
    },
    /// A number outside its allowed range.
    #[error("{value} is out of range (expected {min} to {max})")]
    OutOfRange {
        /// The value given.
        value: u64,
        /// Smallest allowed.
        min: u64,
        /// Largest allowed.
        max: u64,
    },
    /// A number that must be smaller than another parameter is not.
    #[error("{value} must be less than {bound_field} ({bound})")]
    NotBelow {
        /// The value given.
        value: u64,
        /// Path of the parameter it must stay below.
        bound_field: &'static str,
        /// That parameter's value.
        bound: u64,
    },
}

/// Displays the valid role names, comma-separated, for [`Problem::UnknownRole`].
struct RoleNames;

impl fmt::Display for RoleNames {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, role) in Role::ALL.iter().enumerate() {
            if index > 0 {
                f.write_str(", ")?;
            }
            f.write_str(role.name())?;
        }
        Ok(())
    }
}

/// Result of genesis operations.
pub type Result<T> = std::result::Result<T, GenesisError>;
