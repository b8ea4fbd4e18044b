//! `gemtrail ledger audit`: re-verify a stopped node's whole ledger from the
//! genesis, with a progress bar, naming the first broken block if any.

use std::time::Instant;

use gemtrail_ledger::store::audit_path;
use serde_json::json;

use crate::args::LedgerCommand;
use crate::cmd::genesis::load_valid;
use crate::error::{CliError, CliResult};
use crate::output::Out;

/// Runs a ledger command.
pub(crate) fn run(out: Out, command: LedgerCommand) -> CliResult {
    let LedgerCommand::Audit { data_dir, genesis } = command;
    let genesis = load_valid(&genesis)?;
    let ledger_path = data_dir.join("ledger");
    let path = if ledger_path.exists() {
        ledger_path
    } else {
        data_dir.clone()
    };
    let bar = out.progress_bar(
        0,
        "{spinner} auditing block {pos}/{len} [{bar:40}] {per_sec} {eta}",
    );
    let started = Instant::now();
    let report = audit_path(&path, &genesis.ledger_genesis(), |height, tip| {
        bar.set_length(tip);
        bar.set_position(height);
    })
    .map_err(|error| {
        CliError::new(format!("cannot audit {}: {error}", path.display()))
            .hint("stop the node first: the audit opens its ledger read-only")
    })?;
    bar.finish_and_clear();
    let seconds = started.elapsed().as_secs_f64();
    let rate = report.transactions_checked as f64 / seconds.max(1e-9);
    let failure = report
        .first_failure
        .as_ref()
        .map(|failure| json!({ "height": failure.height, "problem": failure.problem.to_string() }));
    out.print(
        &json!({
            "clean": report.is_clean(),
            "blocks_checked": report.blocks_checked,
            "transactions_checked": report.transactions_checked,
            "tip_height": report.tip_height,
            "tip_hash": report.tip_hash.to_string(),
            "seconds": seconds,
            "transactions_per_second": rate,
            "first_failure": failure,
        }),
        || {
            format!(
                "checked {} blocks and {} transactions in {seconds:.2} s ({rate:.0} tx/s); tip {} at height {}",
                report.blocks_checked, report.transactions_checked, report.tip_hash, report.tip_height
            )
        },
    )?;
    match &report.first_failure {
        None => Ok(()),
        Some(failure) => Err(CliError::unverified(format!(
            "the ledger is broken at block {}: {}",
            failure.height, failure.problem
        ))),
    }
}
