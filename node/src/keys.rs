//! The node's libp2p identity key: an ed25519 secret kept in a file that only
//! its owner may read. The peer id derived from it is what the genesis lists.
//!
//! File format, one line: `ed25519-secret:<64 hex digits>`. A member's signing
//! keys are a different thing and never live on the node.

use std::io::Write;
use std::path::{Path, PathBuf};

use gemtrail_ledger::crypto::SecretKey;
use libp2p_identity::{Keypair, PeerId};

const PREFIX: &str = "ed25519-secret:";

/// Why a node key could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The file could not be read or written.
    #[error("node key file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The file does not hold a key in the expected format.
    #[error("node key file {path} is malformed: {problem}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        problem: &'static str,
    },
    /// Group or others may read the file, so the key may be known to others.
    #[error(
        "node key file {path} can be read by group or others (mode {mode:04o}); \
         restrict it with `chmod 600 {path}`, and replace the key if others may have read it"
    )]
    Exposed {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// Refusing to overwrite an existing key.
    #[error("node key file {path} already exists; refusing to overwrite it")]
    Exists {
        /// The file.
        path: PathBuf,
    },
}

/// Reads a node key file, refusing one that group or others can read.
pub fn load(path: &Path) -> Result<Keypair, KeyError> {
    if let Some(mode) = readable_by_others(path).map_err(|source| KeyError::Io {
        path: path.to_owned(),
        source,
    })? {
        return Err(KeyError::Exposed {
            path: path.to_owned(),
            mode,
        });
    }
    let text = std::fs::read_to_string(path).map_err(|source| KeyError::Io {
        path: path.to_owned(),
        source,
    })?;
    parse(text.trim()).map_err(|problem| KeyError::Malformed {
        path: path.to_owned(),
        problem,
    })
}

/// The file's permission bits when group or others may read or write it
/// (as ssh refuses such a private key), `None` when only its owner may.
/// Secret key files, the node's and the members', are checked with it.
pub fn readable_by_others(path: &Path) -> std::io::Result<Option<u32>> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)?.permissions().mode() & 0o777;
        Ok((mode & 0o077 != 0).then_some(mode))
    }
    #[cfg(not(unix))]
    {
        std::fs::metadata(path).map(|_| None)
    }
}

fn parse(text: &str) -> Result<Keypair, &'static str> {
    let hex_secret = text
        .strip_prefix(PREFIX)
        .ok_or("it does not start with `ed25519-secret:`")?;
    let mut secret = hex::decode(hex_secret).map_err(|_| "the secret is not hexadecimal")?;
    if secret.len() != 32 {
        return Err("the secret is not 32 bytes");
    }
    Keypair::ed25519_from_bytes(&mut secret).map_err(|_| "the secret is not an ed25519 key")
}

/// The node key as a ledger signing key, for checkpoints: the same ed25519
/// secret, so the peer id the genesis records holds its public half. `None`
/// if the key is not ed25519.
pub fn signing_key(keypair: &Keypair) -> Option<SecretKey> {
    let ed25519 = keypair.clone().try_into_ed25519().ok()?;
    let seed: [u8; 32] = ed25519.secret().as_ref().try_into().ok()?;
    Some(SecretKey::from_seed(&seed))
}

/// The text of a key file for `keypair`, or `None` if it is not ed25519.
pub fn to_text(keypair: &Keypair) -> Option<String> {
    let ed25519 = keypair.clone().try_into_ed25519().ok()?;
    Some(format!(
        "{PREFIX}{}\n",
        hex::encode(ed25519.secret().as_ref())
    ))
}

/// Writes `keypair` to a new file readable only by its owner.
pub fn save(path: &Path, keypair: &Keypair) -> Result<(), KeyError> {
    let io_error = |source| KeyError::Io {
        path: path.to_owned(),
        source,
    };
    let text = to_text(keypair).ok_or(KeyError::Malformed {
        path: path.to_owned(),
        problem: "only ed25519 node keys are supported",
    })?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(|source| {
        if source.kind() == std::io::ErrorKind::AlreadyExists {
            KeyError::Exists {
                path: path.to_owned(),
            }
        } else {
            io_error(source)
        }
    })?;
    file.write_all(text.as_bytes()).map_err(io_error)?;
    file.sync_all().map_err(io_error)
}

/// Generates a fresh key and writes it to `path` (which must not exist).
pub fn generate(path: &Path) -> Result<PeerId, KeyError> {
    let keypair = Keypair::generate_ed25519();
    save(path, &keypair)?;
    Ok(keypair.public().to_peer_id())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_saved_key_loads_back_with_owner_only_permissions() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.key");
        let peer = generate(&path).unwrap();
        assert_eq!(load(&path).unwrap().public().to_peer_id(), peer);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(matches!(generate(&path), Err(KeyError::Exists { .. })));
    }

    #[cfg(unix)]
    #[test]
    fn a_key_file_that_others_can_read_is_refused_as_exposed() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.key");
        generate(&path).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        match load(&path) {
            Err(KeyError::Exposed { mode, .. }) => assert_eq!(mode, 0o644),
            other => panic!("expected Exposed, got {other:?}"),
        }
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        assert!(matches!(
            load(&path),
            Err(KeyError::Exposed { mode: 0o640, .. })
        ));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o400)).unwrap();
        assert!(load(&path).is_ok());
    }

    #[test]
    fn the_signing_key_is_the_one_inside_the_peer_id() {
        let keypair = Keypair::generate_ed25519();
        let signing = signing_key(&keypair).unwrap();
        let peer = keypair.public().to_peer_id().to_string();
        assert_eq!(
            gemtrail_ledger::certificate::node_key(&peer),
            Some(signing.public_key())
        );
        assert_eq!(
            gemtrail_ledger::certificate::peer_id_of(&signing.public_key()),
            peer
        );
    }

    #[test]
    fn malformed_files_say_what_is_wrong() {
        assert_eq!(
            parse("rsa:00").err(),
            Some("it does not start with `ed25519-secret:`")
        );
        assert_eq!(
            parse("ed25519-secret:zz").err(),
            Some("the secret is not hexadecimal")
        );
        assert_eq!(
            parse("ed25519-secret:0011").err(),
            Some("the secret is not 32 bytes")
        );
    }
}
