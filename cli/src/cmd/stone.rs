//! `gemtrail stone`: every member's transactions, and stone lookups.
//!
//! Each transaction is built here, signed locally with the member's key, and
//! submitted to the node with `wait`, so the command prints the committed
//! receipt, or the exact reason the node or the ledger refused it (exit 3).

use std::path::{Path, PathBuf};

use gemtrail_ledger::codec::{BoundedString, BoundedVec};
use gemtrail_ledger::ids::{ChainId, Digest, OrgId, StoneId, TxId};
use gemtrail_ledger::model::{
    Action, Carats, CountryCode, Cutter, Date, FlagReason, FourCs, LabReport, Manufacture, Origin,
    Outcome, PolishedOutput, ProposeTransfer, RegisterStone, RoughInfo, SaleBranding, Transaction,
};
use gemtrail_ledger::proof::journey::utc_text;
use gemtrail_node::api::views::ReceiptView;
use gemtrail_node::client::NodeClient;

use crate::args::{
    FlagArgs, GradeArgs, ManufactureArgs, ProposalArgs, ProposeTransferArgs, RegisterArgs,
    SellArgs, Signer, StoneCommand,
};
use crate::error::{CliError, CliResult};
use crate::keyfile;
use crate::openings::{self, Committer};
use crate::output::Out;
use gemtrail_ledger::commitment::CommittedField;

/// Parses carats written as a decimal (`12.5`, `3.10`) into points.
pub(crate) fn parse_carats(text: &str) -> CliResult<Carats> {
    let bad = || CliError::new(format!("invalid carats {text:?}: write a weight like 3.10"));
    let (whole, fraction) = text.trim().split_once('.').unwrap_or((text.trim(), ""));
    if fraction.len() > 2 || whole.is_empty() {
        return Err(bad());
    }
    let whole: u64 = whole.parse().map_err(|_| bad())?;
    let fraction: u64 = if fraction.is_empty() {
        0
    } else {
        format!("{fraction:0<2}").parse().map_err(|_| bad())?
    };
    whole
        .checked_mul(100)
        .and_then(|points| points.checked_add(fraction))
        .map(Carats)
        .ok_or_else(bad)
}

fn text<const MAX: usize>(field: &str, value: &str) -> CliResult<BoundedString<MAX>> {
    BoundedString::new(value).map_err(|error| CliError::new(format!("--{field}: {error}")))
}

fn stone_id(value: &str) -> CliResult<StoneId> {
    StoneId::parse(value).map_err(|error| CliError::new(format!("invalid stone id: {error}")))
}

fn org_id(value: &str) -> CliResult<OrgId> {
    OrgId::parse(value).map_err(|error| CliError::new(format!("invalid member id: {error}")))
}

fn tx_id(value: &str) -> CliResult<TxId> {
    TxId::from_hex(value).map_err(|error| CliError::new(format!("invalid proposal id: {error}")))
}

fn read_file(path: &Path) -> CliResult<Vec<u8>> {
    std::fs::read(path)
        .map_err(|error| CliError::new(format!("cannot read {}: {error}", path.display())))
}

/// A fresh random nonce, so that identical actions get distinct ids.
pub(crate) fn fresh_nonce() -> CliResult<u64> {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes)
        .map_err(|error| CliError::new(format!("no randomness for a nonce: {error}")))?;
    Ok(u64::from_le_bytes(bytes))
}

/// Signs `action` as the signer and submits it; prints the outcome.
pub(crate) async fn submit(
    out: Out,
    signer: &Signer,
    action: Action,
    what: &str,
) -> CliResult<TxId> {
    submit_committed(out, signer, action, &Committer::default(), what).await
}

/// Like [`submit`], for an action with salted commitments: their openings
/// are kept beside the key before the transaction leaves this machine.
pub(crate) async fn submit_committed(
    out: Out,
    signer: &Signer,
    action: Action,
    committed: &Committer,
    what: &str,
) -> CliResult<TxId> {
    let key = keyfile::load(&signer.key)?;
    let client = crate::connect::signed_client(&signer.node, &signer.org, &signer.key)?;
    let chain_id = chain_of(&client).await?;
    let tx = Transaction {
        chain_id,
        signer: org_id(&signer.org)?,
        nonce: match signer.nonce {
            Some(nonce) => nonce,
            None => fresh_nonce()?,
        },
        action,
    }
    .sign(&key);
    let tx_id = tx.id();
    openings::save(&signer.key, &tx_id, committed.openings())?;
    let answer = client.submit(&tx, !signer.no_wait).await?;
    let Some(receipt) = answer.receipt else {
        out.print(&answer, || {
            format!("{what}: submitted as transaction {tx_id} (not waiting for the commit)")
        })?;
        return Ok(tx_id);
    };
    report(out, &receipt, what)?;
    Ok(tx_id)
}

/// Prints a committed receipt; a rejection becomes exit code 3.
pub(crate) fn report(out: Out, receipt: &ReceiptView, what: &str) -> CliResult {
    match &receipt.outcome {
        Outcome::Applied => out.print(receipt, || {
            format!(
                "{what}: committed in block {} as transaction {}",
                receipt.height, receipt.tx_id
            )
        }),
        Outcome::Rejected { reason } => {
            if !out.is_text() {
                out.print(receipt, String::new)?;
            }
            Err(CliError::refused(
                reason.code(),
                format!(
                    "{what} was refused by the ledger ({}): {reason} (transaction {} in block {})",
                    reason.code(),
                    receipt.tx_id,
                    receipt.height
                ),
            ))
        }
    }
}

pub(crate) async fn chain_of(client: &NodeClient) -> CliResult<ChainId> {
    let status = client.status().await?;
    ChainId::parse(&status.chain_id)
        .map_err(|error| CliError::new(format!("the node reports a bad chain id: {error}")))
}

async fn on_proposal(
    out: Out,
    args: ProposalArgs,
    make: fn(TxId) -> Action,
    what: &str,
) -> CliResult {
    let proposal = tx_id(&args.proposal)?;
    submit(out, &args.signer, make(proposal), what)
        .await
        .map(drop)
}

fn polished_output(spec: &str) -> CliResult<PolishedOutput> {
    let parts: Vec<&str> = spec.split(':').collect();
    let [id, carats, shape, colour, clarity, cut] = parts.as_slice() else {
        return Err(CliError::new(format!(
            "invalid --polished {spec:?}: write ID:CARATS:SHAPE:COLOUR:CLARITY:CUT"
        )));
    };
    Ok(PolishedOutput {
        stone_id: stone_id(id)?,
        shape: text("polished", shape)?,
        four_cs: FourCs {
            carats: parse_carats(carats)?,
            colour: text("polished", colour)?,
            clarity: text("polished", clarity)?,
            cut: text("polished", cut)?,
        },
    })
}

fn flag_reason(reason: &str) -> CliResult<FlagReason> {
    match reason {
        "stolen" => Ok(FlagReason::Stolen),
        "lost" => Ok(FlagReason::Lost),
        "disputed" => Ok(FlagReason::Disputed),
        other => Err(CliError::new(format!(
            "invalid --reason {other:?}: use stolen, lost or disputed"
        ))),
    }
}

/// Salted commitments to the evidence documents, in order.
fn evidence(
    files: &[PathBuf],
    committer: &mut Committer,
) -> CliResult<BoundedVec<Digest, { gemtrail_ledger::model::EVIDENCE_MAX }>> {
    let mut digests = Vec::with_capacity(files.len());
    for (index, path) in files.iter().enumerate() {
        let index =
            u16::try_from(index).map_err(|_| CliError::new("--evidence: too many documents"))?;
        digests.push(committer.commit(CommittedField::Evidence { index }, read_file(path)?)?);
    }
    bounded("evidence", digests)
}

/// A repeatable flag's values, within the ledger's bound on their number.
fn bounded<T, const MAX: usize>(flag: &str, items: Vec<T>) -> CliResult<BoundedVec<T, MAX>> {
    BoundedVec::new(items).map_err(|error| CliError::new(format!("--{flag}: {error}")))
}

/// Signs and submits `action`; the caller needs no transaction id.
async fn send(out: Out, signer: &Signer, action: Action, what: &str) -> CliResult {
    submit(out, signer, action, what).await.map(drop)
}

/// Runs a stone command.
pub(crate) async fn run(out: Out, command: StoneCommand) -> CliResult {
    match command {
        StoneCommand::Register(args) => register(out, args).await,
        StoneCommand::ProposeTransfer(args) => propose_transfer(out, args).await,
        StoneCommand::Accept(args) => {
            on_proposal(
                out,
                args,
                |proposal| Action::AcceptTransfer { proposal },
                "accept the transfer",
            )
            .await
        }
        StoneCommand::Reject(args) => {
            on_proposal(
                out,
                args,
                |proposal| Action::RejectTransfer { proposal },
                "reject the transfer",
            )
            .await
        }
        StoneCommand::Cancel(args) => {
            on_proposal(
                out,
                args,
                |proposal| Action::CancelTransfer { proposal },
                "cancel the transfer",
            )
            .await
        }
        StoneCommand::Manufacture(args) => manufacture(out, args).await,
        StoneCommand::Grade(args) => grade(out, args).await,
        StoneCommand::Sell(args) => sell(out, args).await,
        StoneCommand::Flag(args) => flag(out, args).await,
        StoneCommand::ClearFlag { signer, stone } => clear_flag(out, &signer, &stone).await,
        StoneCommand::Show { stone, node } => show(out, &stone, &node.node).await,
        StoneCommand::History { stone, node } => history(out, &stone, &node.node).await,
    }
}

async fn register(out: Out, args: RegisterArgs) -> CliResult {
    let mut committer = Committer::default();
    let action = Action::RegisterStone(RegisterStone {
        stone_id: stone_id(&args.stone)?,
        origin: Origin {
            mine: text("mine", &args.mine)?,
            country: CountryCode::parse(&args.country)
                .map_err(|error| CliError::new(format!("--country: {error}")))?,
            region: text("region", &args.region)?,
            extracted_on: Date::parse(&args.extracted)
                .map_err(|error| CliError::new(format!("--extracted: {error}")))?,
        },
        rough: RoughInfo {
            carats: parse_carats(&args.carats)?,
            description: text("description", &args.description)?,
        },
        kp_certificate: text("kp-certificate", &args.kp_certificate)?,
        evidence: evidence(&args.evidence, &mut committer)?,
    });
    let what = format!("register {}", args.stone);
    submit_committed(out, &args.signer, action, &committer, &what)
        .await
        .map(drop)
}

/// Also prints the proposal id, which the receiver needs to accept.
async fn propose_transfer(out: Out, args: ProposeTransferArgs) -> CliResult {
    let ids = args.stones.iter().map(|id| stone_id(id));
    let mut committer = Committer::default();
    let action = Action::ProposeTransfer(ProposeTransfer {
        stones: bounded("stones", ids.collect::<CliResult<_>>()?)?,
        to: org_id(&args.to)?,
        terms_commitment: committer.commit(CommittedField::Terms, args.terms.into_bytes())?,
    });
    let what = format!("propose {} to {}", args.stones.join(", "), args.to);
    let proposal = submit_committed(out, &args.signer, action, &committer, &what).await?;
    if out.is_text() {
        println!("proposal id: {proposal}\n(the receiver accepts with `gemtrail stone accept --proposal {proposal}`)");
    }
    Ok(())
}

async fn manufacture(out: Out, args: ManufactureArgs) -> CliResult {
    let polished = args.outputs.iter().map(|spec| polished_output(spec));
    let polished = polished.collect::<CliResult<_>>()?;
    let action = Action::Manufacture(Manufacture {
        rough: stone_id(&args.rough)?,
        outputs: bounded("polished", polished)?,
        cutter: Cutter {
            name: text("cutter", &args.cutter)?,
            experience_years: args.experience_years,
        },
    });
    send(out, &args.signer, action, &format!("cut {}", args.rough)).await
}

async fn grade(out: Out, args: GradeArgs) -> CliResult {
    // A lab without the document on hand still commits to the report number.
    let report = match &args.report_file {
        Some(path) => read_file(path)?,
        None => args.report.clone().into_bytes(),
    };
    let mut committer = Committer::default();
    let report_hash = committer.commit(CommittedField::Report, report)?;
    let action = Action::Grade {
        stone: stone_id(&args.stone)?,
        report: LabReport {
            report_number: text("report", &args.report)?,
            four_cs: FourCs {
                carats: parse_carats(&args.carats)?,
                colour: text("colour", &args.colour)?,
                clarity: text("clarity", &args.clarity)?,
                cut: text("cut", &args.cut)?,
            },
            origin_matched: !args.origin_not_matched,
            report_hash,
        },
    };
    let what = format!("grade {}", args.stone);
    submit_committed(out, &args.signer, action, &committer, &what)
        .await
        .map(drop)
}

async fn sell(out: Out, args: SellArgs) -> CliResult {
    let mut committer = Committer::default();
    let action = Action::Sell {
        stone: stone_id(&args.stone)?,
        passport_commitment: committer.commit(CommittedField::Sale, args.terms.into_bytes())?,
        branding: match &args.shop_name {
            Some(shop_name) => Some(SaleBranding {
                shop_name: text("shop name", shop_name)?,
                jeweller: args
                    .jeweller
                    .as_deref()
                    .map(|jeweller| text("jeweller", jeweller))
                    .transpose()?,
            }),
            None => None,
        },
    };
    let what = format!("sell {}", args.stone);
    submit_committed(out, &args.signer, action, &committer, &what)
        .await
        .map(drop)
}

async fn flag(out: Out, args: FlagArgs) -> CliResult {
    let action = Action::Flag {
        stone: stone_id(&args.stone)?,
        reason: flag_reason(&args.reason)?,
    };
    let what = format!("flag {} {}", args.stone, args.reason);
    send(out, &args.signer, action, &what).await
}

async fn clear_flag(out: Out, signer: &Signer, stone: &str) -> CliResult {
    let action = Action::ClearFlag {
        stone: stone_id(stone)?,
    };
    send(out, signer, action, &format!("clear the flag on {stone}")).await
}

async fn show(out: Out, stone: &str, node: &str) -> CliResult {
    let state = crate::connect::node_client(node)?
        .stone(&stone_id(stone)?)
        .await?;
    out.print(&state, || {
        let flag = state
            .flag
            .map_or_else(|| "none".to_owned(), |reason| reason.to_string());
        format!(
            "{}: held by {}, status {:?}, flag {flag}\n{}",
            state.id,
            state.custodian,
            state.status,
            serde_json::to_string_pretty(&state).unwrap_or_default()
        )
    })
}

async fn history(out: Out, stone: &str, node: &str) -> CliResult {
    let history = crate::connect::node_client(node)?
        .history(&stone_id(stone)?)
        .await?;
    out.print(&history, || {
        history
            .iter()
            .map(|item| {
                format!(
                    "block {:>6}  {}  {:<18} by {:<12} tx {}",
                    item.height,
                    utc_text(item.timestamp_ms),
                    item.action,
                    item.transaction.tx.signer.to_string(),
                    item.tx_id
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn carats_parse_as_points() {
        assert_eq!(parse_carats("12.5").unwrap(), Carats(1250));
        assert_eq!(parse_carats("3.10").unwrap(), Carats(310));
        assert_eq!(parse_carats("7").unwrap(), Carats(700));
        for bad in ["", "1.234", "-1", "x", ".5"] {
            assert!(parse_carats(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn polished_outputs_need_six_fields() {
        let output = polished_output("GT-1-A:3.10:round brilliant:D:VVS1:Excellent").unwrap();
        assert_eq!(output.four_cs.carats, Carats(310));
        let error = polished_output("GT-1-A:3.10").unwrap_err();
        assert!(error.message.contains("ID:CARATS:SHAPE:COLOUR:CLARITY:CUT"));
    }
}
