//! CLI errors: what went wrong, what to do about it, and the exit code.
//!
//! Exit codes: 0 success; 1 an error (bad input, file, network); 2 a usage
//! error (from clap); 3 the node or the ledger refused the transaction;
//! 4 verification failed.

use gemtrail_node::client::ClientError;

/// Exit code of a refused transaction.
pub(crate) const EXIT_REFUSED: u8 = 3;
/// Exit code of a failed verification.
pub(crate) const EXIT_UNVERIFIED: u8 = 4;

/// The error code of an `https://` node whose certificate is not the one
/// `--ca` or `--pin` trusts.
pub(crate) const NODE_CERTIFICATE_UNTRUSTED: &str = "node_certificate_untrusted";

/// A failure the CLI reports.
#[derive(Debug)]
pub(crate) struct CliError {
    /// The process exit code.
    pub(crate) exit: u8,
    /// What went wrong.
    pub(crate) message: String,
    /// What to do about it.
    pub(crate) hint: Option<String>,
    /// A machine-readable code (the API's or the ledger's), for `--output json`.
    pub(crate) code: Option<String>,
}

impl CliError {
    /// A plain error (exit 1).
    pub(crate) fn new(message: impl Into<String>) -> Self {
        Self {
            exit: 1,
            message: message.into(),
            hint: None,
            code: None,
        }
    }

    /// Adds a hint.
    pub(crate) fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// A refused transaction (exit 3) with its code.
    pub(crate) fn refused(code: &str, message: impl Into<String>) -> Self {
        Self {
            exit: EXIT_REFUSED,
            message: message.into(),
            hint: None,
            code: Some(code.to_owned()),
        }
    }

    /// A failed verification (exit 4).
    pub(crate) fn unverified(message: impl Into<String>) -> Self {
        Self {
            exit: EXIT_UNVERIFIED,
            message: message.into(),
            hint: None,
            code: Some("verification_failed".to_owned()),
        }
    }
}

impl From<anyhow::Error> for CliError {
    fn from(error: anyhow::Error) -> Self {
        CliError::new(format!("{error:#}"))
    }
}

impl From<ClientError> for CliError {
    fn from(error: ClientError) -> Self {
        match &error {
            ClientError::Api { code, message, .. } => {
                let refused = CliError::refused(code, message.clone());
                match code.as_str() {
                    "replay" => refused.hint("it is already in the ledger: `gemtrail stone history` shows it"),
                    "key_not_of_member" | "bad_signature" => refused.hint(
                        "check --as and --key: the key must be one of that member's keys in the genesis or a later governance change",
                    ),
                    "stone_not_found" | "transaction_not_found" | "block_not_found" => CliError {
                        exit: 1,
                        ..refused
                    },
                    _ => refused,
                }
            }
            ClientError::Transport { reason, .. }
                if reason.contains("invalid peer certificate") =>
            {
                let mut untrusted = CliError::new(format!("the node's certificate is not trusted: {error}"))
                    .hint("the node did not show the certificate --ca or --pin trusts: check the address, and get its certificate or fingerprint from its operator");
                untrusted.code = Some(NODE_CERTIFICATE_UNTRUSTED.to_owned());
                untrusted
            }
            ClientError::Transport { reason, .. } if reason.contains("needs a CA file") => {
                CliError::new(error.to_string()).hint(
                    "pass --ca with the node's CA or certificate file, or --pin with its fingerprint (GEMTRAIL_CA, GEMTRAIL_PIN)",
                )
            }
            ClientError::Transport { .. } => CliError::new(error.to_string())
                .hint("is the node running? pass its API address with --node HOST:PORT"),
        }
    }
}

/// A CLI result.
pub(crate) type CliResult<T = ()> = Result<T, CliError>;
