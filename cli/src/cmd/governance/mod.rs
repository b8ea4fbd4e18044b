//! `gemtrail governance` and `gemtrail members`: the admins' ceremony for a
//! consortium change, and the membership as of the tip.
//!
//! The ceremony follows Fabric's sign-then-submit flow for configuration
//! updates: an admin drafts the change into a file (signing it first), each
//! other admin adds an approval with their own key, anyone inspects the file,
//! and anyone submits it. Approvals are checked against the node's current
//! membership when they are added, with the ledger's own codes, so a draft
//! that can never pass is caught before it travels further.

mod describe;
mod draft;

use std::path::Path;

use gemtrail_genesis::document::{MemberEntry, NodeEntry};
use gemtrail_genesis::validate::{
    check_display_name, check_member_entry, check_node_entry, check_role_names,
};
use gemtrail_genesis::GenesisError;
use gemtrail_ledger::crypto::PublicKey;
use gemtrail_ledger::ids::{NodeId, OrgId};
use gemtrail_ledger::model::{
    Action, Approval, Governance, Membership, RejectReason, Role, SignedTransaction, Transaction,
};
use gemtrail_ledger::rules::check_approver;
use gemtrail_node::client::NodeClient;
use serde::Serialize;

use crate::args::{
    ApproveArgs, ChangeCommand, DraftArgs, GovernanceCommand, ShowDraftArgs, SubmitDraftArgs,
};
use crate::cmd::stone::{chain_of, fresh_nonce, report};
use crate::error::{CliError, CliResult};
use crate::keyfile;
use crate::output::Out;
use describe::{change_text, members_text};
use draft::DraftFile;

/// Runs a governance command.
pub(crate) async fn run(out: Out, command: GovernanceCommand) -> CliResult {
    match command {
        GovernanceCommand::Draft(args) => draft(out, args).await,
        GovernanceCommand::Approve(args) => approve(out, args).await,
        GovernanceCommand::Show(args) => show(out, args).await,
        GovernanceCommand::Submit(args) => submit(out, args).await,
    }
}

/// `gemtrail members`: who is in the consortium as of the node's tip.
pub(crate) async fn members(out: Out, node: &str) -> CliResult {
    let view = crate::connect::node_client(node)?.members().await?;
    out.print(&view, || members_text(&view))
}

/// Builds the change, signs it as the drafting admin, and writes the file.
async fn draft(out: Out, args: DraftArgs) -> CliResult {
    if args.out.exists() {
        return Err(CliError::new(format!(
            "{} exists; drafts are never overwritten",
            args.out.display()
        ))
        .hint("choose another --out, or remove the old draft"));
    }
    let client = crate::connect::node_client(&args.approver.node)?;
    let membership = client.members().await?.membership();
    let change = build_change(args.change, &membership)?;
    let drafter = org_id(&args.approver.org)?;
    let key = keyfile::load(&args.approver.key)?;
    let tx = Transaction {
        chain_id: chain_of(&client).await?,
        signer: drafter.clone(),
        nonce: args.nonce.map_or_else(fresh_nonce, Ok)?,
        action: Action::Governance(change),
    };
    let approval = Approval::new(&tx, drafter, &key);
    check_approval(&membership, &[], &approval)?;
    let draft = DraftFile::new(tx.sign(&key));
    draft.save(&args.out)?;
    let summary = summarise(&draft, &membership)?;
    out.print(&summary, || {
        format!(
            "drafted {} into {}\n{}",
            summary.tx_id,
            args.out.display(),
            summary.text(&args.out)
        )
    })
}

/// Adds the admin's approval to the draft, after checking it would count
/// (unless `--offline`, which only signs).
async fn approve(out: Out, args: ApproveArgs) -> CliResult {
    let mut draft = DraftFile::load(&args.file)?;
    let approver = org_id(&args.approver.org)?;
    let key = keyfile::load(&args.approver.key)?;
    let approval = Approval::new(&draft.transaction.tx, approver, &key);
    if args.offline {
        return approve_offline(out, draft, approval, &args.file);
    }
    let client = crate::connect::node_client(&args.approver.node)?;
    let chain_id = chain_of(&client).await?;
    if draft.transaction.tx.chain_id != chain_id {
        return Err(CliError::refused(
            "wrong_chain",
            format!(
                "the draft is for chain {}, but the node runs {chain_id}",
                draft.transaction.tx.chain_id
            ),
        ));
    }
    let membership = client.members().await?.membership();
    check_approval(
        &membership,
        draft.transaction.approvals.as_slice(),
        &approval,
    )?;
    add_approval(&mut draft, approval, &args.file)?;
    let summary = summarise(&draft, &membership)?;
    out.print(&summary, || {
        format!(
            "approved {} as {}\n{}",
            summary.tx_id,
            args.approver.org,
            summary.text(&args.file)
        )
    })
}

/// Signs without reaching a node, for an admin away from the network: only
/// a second approval by the same member is refused here; `show` and the
/// ledger judge the rest.
fn approve_offline(out: Out, mut draft: DraftFile, approval: Approval, file: &Path) -> CliResult {
    let org = approval.org.clone();
    if draft
        .transaction
        .approvals
        .iter()
        .any(|earlier| earlier.org == org)
    {
        return Err(refused(RejectReason::DuplicateApproval { org }));
    }
    add_approval(&mut draft, approval, file)?;
    let tx_id = draft.transaction.id();
    out.print(&serde_json::json!({ "tx_id": tx_id, "approved_by": org, "checked": false }), || {
        format!(
            "approved {tx_id} as {org}, offline: not checked against the membership; `gemtrail governance show --file {}` counts it",
            file.display()
        )
    })
}

fn add_approval(draft: &mut DraftFile, approval: Approval, file: &Path) -> CliResult {
    draft
        .transaction
        .approvals
        .push(approval)
        .map_err(|error| {
            CliError::new(format!("the draft cannot hold another approval: {error}"))
        })?;
    draft.save(file)
}

/// Prints the change, its approvals, and what it still needs.
async fn show(out: Out, args: ShowDraftArgs) -> CliResult {
    let draft = DraftFile::load(&args.file)?;
    let membership = crate::connect::node_client(&args.node)?
        .members()
        .await?
        .membership();
    let summary = summarise(&draft, &membership)?;
    out.print(&summary, || summary.text(&args.file))
}

/// Submits the draft and prints its receipt, or the exact refusal (with,
/// for too few approvals, how many more it needs).
async fn submit(out: Out, args: SubmitDraftArgs) -> CliResult {
    let draft = DraftFile::load(&args.file)?;
    let client = crate::connect::node_client(&args.node)?;
    let tx_id = draft.transaction.id();
    let answer = match client.submit(&draft.transaction, !args.no_wait).await {
        Ok(answer) => answer,
        Err(error) => return Err(with_missing(&client, &draft, &args.file, error.into()).await),
    };
    let Some(receipt) = answer.receipt else {
        return out.print(&answer, || {
            format!(
                "governance change submitted as transaction {tx_id} (not waiting for the commit)"
            )
        });
    };
    match report(out, &receipt, "the governance change") {
        Ok(()) => Ok(()),
        Err(error) => Err(with_missing(&client, &draft, &args.file, error).await),
    }
}

/// Adds, to a refusal for too few approvals, how many more the change needs
/// now and who may give them.
async fn with_missing(
    client: &NodeClient,
    draft: &DraftFile,
    file: &Path,
    error: CliError,
) -> CliError {
    if error.code.as_deref() != Some("not_enough_admin_approvals") {
        return error;
    }
    let Ok(view) = client.members().await else {
        return error;
    };
    let Ok(summary) = summarise(draft, &view.membership()) else {
        return error;
    };
    let waiting: Vec<&str> = summary
        .admins_not_yet
        .iter()
        .map(|org| org.as_str())
        .collect();
    error.hint(format!(
        "it needs {} more admin approval(s), from {}: `gemtrail governance approve --file {} --key KEY --as ADMIN`, then submit again",
        summary.missing,
        waiting.join(", "),
        file.display()
    ))
}

/// Refuses an approval the ledger would refuse, with the ledger's code
/// (its own per-approval check): a non-member, a second approval, a key not
/// of that member, a non-admin.
fn check_approval(membership: &Membership, so_far: &[Approval], approval: &Approval) -> CliResult {
    check_approver(membership, so_far, approval, true).map_err(|reason| {
        let hint = match &reason {
            RejectReason::KeyNotOfMember { .. } => Some(
                "check --as and --key: the key must be one of that member's keys (`gemtrail members`)",
            ),
            RejectReason::MissingRole { .. } => {
                Some("only admins approve governance changes; `gemtrail members` lists them")
            }
            _ => None,
        };
        let error = refused(reason);
        match hint {
            Some(hint) => error.hint(hint),
            None => error,
        }
    })
}

fn refused(reason: RejectReason) -> CliError {
    CliError::refused(reason.code(), format!("{reason} ({})", reason.code()))
}

fn org_id(text: &str) -> CliResult<OrgId> {
    OrgId::parse(text).map_err(|error| CliError::new(format!("invalid member id: {error}")))
}

fn public_key(flag: &str, text: &str) -> CliResult<PublicKey> {
    PublicKey::from_text(text).map_err(|error| {
        CliError::new(format!("--{flag}: {error}"))
            .hint("a public key reads `ed25519:<64 hex digits>`; `gemtrail keys export-public` prints one")
    })
}

fn field_error(error: GenesisError) -> CliError {
    CliError::new(format!("invalid change: {error}"))
}

/// The ledger's change for the command line's `change`.
fn build_change(change: ChangeCommand, membership: &Membership) -> CliResult<Governance> {
    Ok(match change {
        ChangeCommand::AddMember {
            org,
            name,
            roles,
            keys,
        } => {
            let entry = MemberEntry {
                id: org,
                name,
                roles,
                keys,
            };
            Governance::AddMember(check_member_entry(&entry).map_err(field_error)?)
        }
        ChangeCommand::UpdateMember { org, name, roles } => Governance::UpdateMember {
            org: org_id(&org)?,
            name: check_display_name(&name).map_err(field_error)?,
            roles: check_role_names(&roles).map_err(field_error)?,
        },
        ChangeCommand::RemoveMember { org } => Governance::RemoveMember { org: org_id(&org)? },
        ChangeCommand::RotateKey { org, old, new } => rotation(membership, &org, old, &new)?,
        ChangeCommand::AddNode {
            id,
            member,
            peer_id,
            listen_addr,
            api_addr,
        } => {
            let entry = NodeEntry {
                id,
                member,
                peer_id,
                listen_addr,
                api_addr,
            };
            Governance::AddNode(check_node_entry(&entry).map_err(field_error)?)
        }
        ChangeCommand::RemoveNode { id } => Governance::RemoveNode { node: NodeId(id) },
    })
}

/// A key rotation; `--old` may be left out when the member has one key.
fn rotation(
    membership: &Membership,
    org: &str,
    old: Option<String>,
    new: &str,
) -> CliResult<Governance> {
    let org = org_id(org)?;
    let old = match old {
        Some(text) => public_key("old", &text)?,
        None => {
            let member = membership
                .member(&org)
                .ok_or_else(|| refused(RejectReason::UnknownMember { org: org.clone() }))?;
            match member.keys.as_slice() {
                [only] => *only,
                _ => {
                    return Err(CliError::new(format!(
                        "{org} holds {} keys: name the one to retire with --old",
                        member.keys.len()
                    )))
                }
            }
        }
    };
    Ok(Governance::RotateKey {
        org,
        old,
        new: public_key("new", new)?,
    })
}

/// What a draft holds and what it still needs, as printed.
#[derive(Debug, Serialize)]
struct DraftSummary {
    tx_id: gemtrail_ledger::ids::TxId,
    chain_id: String,
    change: Governance,
    approvals: Vec<ApprovalSummary>,
    required: u32,
    counted: u32,
    missing: u32,
    admins_not_yet: Vec<OrgId>,
}

/// One approval, and whether the ledger would count it now.
#[derive(Debug, Serialize)]
struct ApprovalSummary {
    org: OrgId,
    key: PublicKey,
    counts: bool,
}

fn summarise(draft: &DraftFile, membership: &Membership) -> CliResult<DraftSummary> {
    let signed: &SignedTransaction = &draft.transaction;
    let mut counted = 0u32;
    let mut approvals = Vec::new();
    for (index, approval) in signed.approvals.iter().enumerate() {
        let earlier = &signed.approvals.as_slice()[..index];
        let counts = check_approval(membership, earlier, approval).is_ok();
        counted += u32::from(counts);
        approvals.push(ApprovalSummary {
            org: approval.org.clone(),
            key: approval.key,
            counts,
        });
    }
    let required = membership.admin_majority() as u32;
    let admins_not_yet = membership
        .members
        .values()
        .filter(|member| member.roles.contains(Role::Admin))
        .filter(|member| !approvals.iter().any(|done| done.org == member.org))
        .map(|member| member.org.clone())
        .collect();
    Ok(DraftSummary {
        tx_id: signed.id(),
        chain_id: signed.tx.chain_id.to_string(),
        change: draft.change()?.clone(),
        approvals,
        required,
        counted,
        missing: required.saturating_sub(counted),
        admins_not_yet,
    })
}

impl DraftSummary {
    fn text(&self, file: &std::path::Path) -> String {
        let mut text = format!(
            "change {} on chain {}\n  {}\napprovals ({} of {} needed):\n",
            self.tx_id,
            self.chain_id,
            change_text(&self.change),
            self.counted,
            self.required
        );
        for approval in &self.approvals {
            let note = if approval.counts {
                ""
            } else {
                "  (does not count now)"
            };
            text.push_str(&format!(
                "  {:<14} {}{note}\n",
                approval.org.as_str(),
                approval.key
            ));
        }
        if self.missing == 0 {
            text.push_str(&format!(
                "ready: anyone can submit it with `gemtrail governance submit --file {}`\n",
                file.display()
            ));
        } else {
            let waiting: Vec<&str> = self.admins_not_yet.iter().map(|org| org.as_str()).collect();
            text.push_str(&format!(
                "needs {} more admin approval(s), from: {}\n",
                self.missing,
                waiting.join(", ")
            ));
        }
        text
    }
}
