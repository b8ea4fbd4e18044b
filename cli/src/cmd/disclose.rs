//! `gemtrail disclose` writes one commitment's opening into a file, in clear
//! or sealed to a member; `gemtrail verify --disclosure` checks such a file
//! against the transaction on the ledger or inside a passport, and prints the
//! value. A disclosure that does not match its commitment, or that the
//! reader's key cannot open, exits 4.

use std::path::Path;

use gemtrail_ledger::codec::decode;
use gemtrail_ledger::commitment::{CommittedField, Opening};
use gemtrail_ledger::ids::{OrgId, TxId};
use gemtrail_ledger::model::SignedTransaction;
use gemtrail_ledger::proof::ProvenanceProof;
use serde_json::json;

use crate::args::{DiscloseArgs, VerifyArgs};
use crate::cmd::verify::verified_against;
use crate::disclosure::{open, seal, Disclosure, DISCLOSURE_FORMAT};
use crate::error::{CliError, CliResult};
use crate::output::Out;
use crate::{keyfile, openings};

fn parse_tx(text: &str) -> CliResult<TxId> {
    TxId::from_hex(text).map_err(|error| CliError::new(format!("invalid transaction id: {error}")))
}

/// Runs `gemtrail disclose`.
pub(crate) async fn run(out: Out, args: DiscloseArgs) -> CliResult {
    let tx_id = parse_tx(&args.tx)?;
    let kept = openings::load(&args.key, &tx_id)?;
    let opening = kept
        .openings
        .into_iter()
        .find(|opening| opening.field == args.field)
        .ok_or_else(|| {
            CliError::new(format!(
                "transaction {tx_id} has no {} commitment among your openings",
                args.field.name()
            ))
        })?;
    let mut disclosure = Disclosure {
        format: DISCLOSURE_FORMAT.to_owned(),
        tx_id,
        field: args.field.name(),
        opening: None,
        sealed: None,
    };
    match &args.to {
        Some(to) => {
            let to = OrgId::parse(to)
                .map_err(|error| CliError::new(format!("invalid member id: {error}")))?;
            let members = crate::connect::node_client(&args.node)?.members().await?;
            let member = members
                .members
                .iter()
                .find(|member| member.org == to)
                .ok_or_else(|| {
                    CliError::new(format!("{to} is not a member as of the node's tip"))
                })?;
            let keys: Vec<_> = member.keys.iter().copied().collect();
            disclosure.sealed = Some(seal(&tx_id, &opening, &to, &keys)?);
        }
        None => disclosure.opening = Some(opening),
    }
    let text = serde_json::to_string_pretty(&disclosure)
        .map_err(|error| CliError::new(format!("cannot encode the disclosure: {error}")))?;
    std::fs::write(&args.out, text)
        .map_err(|error| CliError::new(format!("cannot write {}: {error}", args.out.display())))?;
    let reader = args
        .to
        .as_deref()
        .map_or("anyone who holds the file", |to| to);
    out.print(
        &json!({ "disclosure": args.out, "tx_id": tx_id, "field": disclosure.field, "readable_by": reader }),
        || {
            format!(
                "Wrote {}: the {} of transaction {tx_id}, readable by {reader}.\nIt checks with `gemtrail verify --disclosure {}`.",
                args.out.display(),
                disclosure.field,
                args.out.display()
            )
        },
    )
}

/// Reads a disclosure file and its opening (unsealed with `--key` if it is
/// sealed).
fn read_opening(path: &Path, key: Option<&Path>) -> CliResult<(Disclosure, Opening)> {
    let text = std::fs::read_to_string(path)
        .map_err(|error| CliError::new(format!("cannot read {}: {error}", path.display())))?;
    let disclosure: Disclosure = serde_json::from_str(&text).map_err(|error| {
        CliError::unverified(format!("{} is not a disclosure: {error}", path.display()))
    })?;
    if disclosure.format != DISCLOSURE_FORMAT {
        return Err(CliError::unverified(format!(
            "{} is not a {DISCLOSURE_FORMAT} file",
            path.display()
        )));
    }
    let field = CommittedField::parse(&disclosure.field).ok_or_else(|| {
        CliError::unverified(format!("unknown committed field {:?}", disclosure.field))
    })?;
    let opening = match (&disclosure.opening, &disclosure.sealed) {
        (Some(opening), None) => opening.clone(),
        (None, Some(sealed)) => {
            let key = key.ok_or_else(|| {
                CliError::new(format!(
                    "this disclosure is sealed to {}: give its key with --key",
                    sealed.to
                ))
            })?;
            open(&disclosure.tx_id, field, sealed, &keyfile::load(key)?)?
        }
        _ => {
            return Err(CliError::unverified(
                "a disclosure holds either an opening or a sealed one",
            ))
        }
    };
    if opening.field != field {
        return Err(CliError::unverified(format!(
            "the opening is for {}, the disclosure says {}",
            opening.field.name(),
            disclosure.field
        )));
    }
    Ok((disclosure, opening))
}

/// The transaction, from a passport verified against the genesis or from
/// a node; and where it came from, in words.
async fn find_transaction(
    args: &VerifyArgs,
    tx_id: &TxId,
) -> CliResult<(SignedTransaction, String)> {
    if let Some(path) = &args.proof {
        let bytes = std::fs::read(path).map_err(|error| {
            CliError::new(format!("cannot read passport {}: {error}", path.display()))
        })?;
        let proof: ProvenanceProof = decode(&bytes).map_err(|error| {
            CliError::unverified(format!(
                "passport {} is not a valid proof: {error}",
                path.display()
            ))
        })?;
        verified_against(&args.genesis, &proof)?;
        let found = proof
            .events
            .iter()
            .chain(proof.governance.iter())
            .find(|event| event.transaction.id() == *tx_id);
        return found
            .map(|event| {
                (
                    event.transaction.clone(),
                    format!("passport {} (verified against the genesis)", path.display()),
                )
            })
            .ok_or_else(|| {
                CliError::unverified(format!(
                    "transaction {tx_id} is not in passport {}",
                    path.display()
                ))
            });
    }
    let node = args.node.as_deref().unwrap_or("127.0.0.1:7001");
    let client = crate::connect::node_client(node)?;
    let receipt = client.receipt(tx_id).await?;
    let block = client.block(receipt.height).await?;
    let signed = block
        .block
        .transactions
        .as_slice()
        .get(receipt.tx_index as usize)
        .filter(|signed| signed.id() == *tx_id)
        .cloned()
        .ok_or_else(|| {
            CliError::unverified(format!("node {node} answered with another transaction"))
        })?;
    Ok((signed, format!("node {node}'s ledger")))
}

/// Runs `gemtrail verify --disclosure FILE`.
pub(crate) async fn verify(out: Out, args: &VerifyArgs, path: &Path) -> CliResult {
    let (disclosure, opening) = read_opening(path, args.key.as_deref())?;
    let (signed, source) = find_transaction(args, &disclosure.tx_id).await?;
    opening.check(&signed.tx.action).map_err(|error| {
        CliError::unverified(format!(
            "the disclosure does not open the commitment: {error}"
        ))
    })?;
    let text = String::from_utf8(opening.value.clone()).ok();
    let shown = text.clone().unwrap_or_else(|| {
        format!(
            "{} bytes, blake3 {}",
            opening.value.len(),
            blake3::hash(&opening.value)
        )
    });
    out.print(
        &json!({ "verified": true, "tx_id": disclosure.tx_id, "field": disclosure.field,
                 "signer": signed.tx.signer, "value": text, "value_hex": hex::encode(&opening.value),
                 "source": source }),
        || {
            format!(
                "Disclosure verified: the {} committed by {} in transaction {} ({source}) is:\n  {shown}",
                disclosure.field, signed.tx.signer, disclosure.tx_id
            )
        },
    )
}
