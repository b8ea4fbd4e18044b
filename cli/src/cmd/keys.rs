//! `gemtrail keys`: member signing keys, kept by their owner.

use gemtrail_ledger::crypto::SecretKey;
use serde_json::json;

use crate::args::KeysCommand;
use crate::error::{CliError, CliResult};
use crate::keyfile;
use crate::output::Out;

/// Runs a keys command.
pub(crate) fn run(out: Out, command: KeysCommand) -> CliResult {
    match command {
        KeysCommand::New { out: path } => {
            let key = SecretKey::generate()
                .map_err(|error| CliError::new(format!("cannot make a key: {error}")))?;
            keyfile::save(&path, &key)?;
            let public = key.public_key().to_text();
            out.print(&json!({ "key_file": path, "public_key": public }), || {
                format!(
                    "Wrote a new signing key to {} (readable by you only).\nPublic key: {public}\nGive the public key to the consortium; never share the file.",
                    path.display()
                )
            })
        }
        KeysCommand::Show { key, reveal_secret } => {
            let secret = keyfile::load(&key)?;
            let public = secret.public_key().to_text();
            let revealed = reveal_secret.then(|| hex::encode(secret.to_seed()));
            out.print(
                &json!({ "key_file": key, "public_key": public, "secret_key": revealed }),
                || match &revealed {
                    Some(hex_secret) => format!("public key: {public}\nsecret key: {hex_secret}"),
                    None => format!("public key: {public}"),
                },
            )
        }
        KeysCommand::ExportPublic { key } => {
            let public = keyfile::load(&key)?.public_key().to_text();
            out.print(&json!({ "public_key": public }), || public.clone())
        }
    }
}
