//! Member signing key files: one line, `ed25519-secret:<64 hex digits>`,
//! written with mode 0600. The CLI signs locally; the node never sees them.

use std::io::Write;
use std::path::Path;

use gemtrail_ledger::crypto::SecretKey;

use crate::error::{CliError, CliResult};

const PREFIX: &str = "ed25519-secret:";

/// The error code of a key file that others can read.
pub(crate) const KEY_FILE_EXPOSED: &str = "key_file_exposed";

/// Reads a key file, refusing one that group or others can read.
pub(crate) fn load(path: &Path) -> CliResult<SecretKey> {
    if let Ok(Some(mode)) = gemtrail_node::keys::readable_by_others(path) {
        let mut error = CliError::new(format!(
            "key file {} can be read by group or others (mode {mode:04o}); a signing key must be readable by its owner only",
            path.display()
        ))
        .hint(format!(
            "run `chmod 600 {}`, and rotate the key if others may have read it",
            path.display()
        ));
        error.code = Some(KEY_FILE_EXPOSED.to_owned());
        return Err(error);
    }
    let text = std::fs::read_to_string(path).map_err(|error| {
        CliError::new(format!("cannot read key file {}: {error}", path.display()))
            .hint("make one with `gemtrail keys new --out FILE`")
    })?;
    let hex_secret = text.trim().strip_prefix(PREFIX).ok_or_else(|| {
        CliError::new(format!(
            "key file {} is not a gemtrail key (it should start with `{PREFIX}`)",
            path.display()
        ))
    })?;
    let mut seed = [0u8; 32];
    hex::decode_to_slice(hex_secret, &mut seed).map_err(|_| {
        CliError::new(format!(
            "key file {} is malformed: the secret is not 64 hexadecimal digits",
            path.display()
        ))
    })?;
    Ok(SecretKey::from_seed(&seed))
}

/// Writes `key` to a new file readable only by its owner.
pub(crate) fn save(path: &Path, key: &SecretKey) -> CliResult {
    let text = format!("{PREFIX}{}\n", hex::encode(key.to_seed()));
    write_private(path, text.as_bytes())
}

/// Writes `bytes` to a new file readable only by its owner (mode 0600),
/// synced; an existing file is never overwritten.
pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> CliResult {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(|error| {
        if error.kind() == std::io::ErrorKind::AlreadyExists {
            CliError::new(format!(
                "{} already exists; refusing to overwrite a key",
                path.display()
            ))
        } else {
            CliError::new(format!("cannot write key file {}: {error}", path.display()))
        }
    })?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(|error| {
            CliError::new(format!("cannot write key file {}: {error}", path.display()))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn a_signing_key_file_that_others_can_read_is_refused_with_key_file_exposed() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("miner.key");
        let key = SecretKey::from_seed(&[7; 32]);
        save(&path, &key).unwrap();
        assert_eq!(load(&path).unwrap().to_seed(), key.to_seed());
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let error = load(&path).unwrap_err();
        assert_eq!(error.code.as_deref(), Some(KEY_FILE_EXPOSED));
        assert_eq!(error.exit, 1);
        assert!(error.message.contains("0644"), "{}", error.message);
    }
}
