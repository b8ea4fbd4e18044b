//! `gemtrail verify`: check a stone's origin chain against the genesis, from a
//! node's proof or from an exported passport, and print its journey. Any
//! failure exits with code 4 and the reason. Also the passport's Markdown
//! copy, which `gemtrail passport export` and the demo write.

use std::path::Path;
use std::time::Duration;

use gemtrail_ledger::codec::decode;
use gemtrail_ledger::ids::StoneId;
use gemtrail_ledger::proof::journey::{step_text, utc_text};
use gemtrail_ledger::proof::{verify_proof, Journey, ProvenanceProof, VerifiedJourney};
use gemtrail_node::api::views::HistoryItemView;
use serde_json::json;

use crate::args::VerifyArgs;
use crate::cmd::genesis::load_valid;
use crate::error::{CliError, CliResult};
use crate::output::Out;

fn verify_against(genesis: &Path, proof: &ProvenanceProof) -> CliResult<Journey> {
    verified_against(genesis, proof).map(VerifiedJourney::into_journey)
}

/// The proof's journey, verified against the genesis file (exit 4 if not).
pub(crate) fn verified_against(
    genesis: &Path,
    proof: &ProvenanceProof,
) -> CliResult<VerifiedJourney> {
    let genesis = load_valid(genesis)?;
    verify_proof(&genesis.ledger_genesis(), proof)
        .map_err(|error| CliError::unverified(format!("the proof does not verify: {error}")))
}

/// The stone's proof from `node`.
pub(crate) async fn fetch(node: &str, stone: &str) -> CliResult<ProvenanceProof> {
    let stone = StoneId::parse(stone)
        .map_err(|error| CliError::new(format!("invalid stone id: {error}")))?;
    let bytes = crate::connect::node_client(node)?
        .proof_bytes(&stone)
        .await?;
    decode(&bytes)
        .map_err(|error| CliError::unverified(format!("the node's proof does not decode: {error}")))
}

fn print_journey(out: Out, journey: &Journey) -> CliResult {
    out.print(&json!({ "verified": true, "journey": journey }), || {
        journey.to_string()
    })
}

/// Runs `gemtrail verify`.
pub(crate) async fn verify(out: Out, args: VerifyArgs) -> CliResult {
    if let Some(path) = &args.disclosure {
        return crate::cmd::disclose::verify(out, &args, path).await;
    }
    let proof = match (&args.proof, &args.stone) {
        (Some(path), _) => {
            let bytes = std::fs::read(path).map_err(|error| {
                CliError::new(format!("cannot read passport {}: {error}", path.display()))
            })?;
            decode::<ProvenanceProof>(&bytes).map_err(|error| {
                CliError::unverified(format!(
                    "passport {} is not a valid proof: {error}",
                    path.display()
                ))
            })?
        }
        (None, Some(stone)) => fetch(args.node.as_deref().unwrap_or(DEFAULT_NODE), stone).await?,
        (None, None) => {
            return Err(CliError::new("name a stone, or give --proof FILE")
                .hint("`gemtrail verify GT-0001 --genesis genesis.toml`"))
        }
    };
    if let (Some(stone), Some(_)) = (&args.stone, &args.proof) {
        let asked = StoneId::parse(stone)
            .map_err(|error| CliError::new(format!("invalid stone id: {error}")))?;
        if asked != proof.stone {
            return Err(CliError::unverified(format!(
                "the passport is for stone {}, not {asked}",
                proof.stone
            )));
        }
    }
    let journey = verify_against(&args.genesis, &proof)?;
    if let Some(max_age) = args.max_age {
        check_age(&proof, max_age)?;
    }
    match (&args.proof, &args.node) {
        (Some(_), Some(node)) => {
            let later = events_after(node, &journey).await?;
            print_with_later_events(out, &journey, node, &later)
        }
        _ => print_journey(out, &journey),
    }
}

/// Refuses a proof whose certified block is older than `max_age`.
fn check_age(proof: &ProvenanceProof, max_age: Duration) -> CliResult {
    let now_ms = gemtrail_node::clock::now_ms();
    let max_age_ms = u64::try_from(max_age.as_millis()).unwrap_or(u64::MAX);
    proof
        .certificate
        .check_age(now_ms, max_age_ms)
        .map_err(|_| {
            let certified_ms = proof.certificate.checkpoint.timestamp_ms;
            let age = Duration::from_millis(now_ms.saturating_sub(certified_ms) / 1000 * 1000);
            CliError::unverified(format!(
                "the proof is certified as of {} ({} ago), older than the --max-age of {}",
                utc_text(certified_ms),
                humantime::format_duration(age),
                humantime::format_duration(max_age)
            ))
            .hint("ask a node for a fresh proof: `gemtrail verify STONE --node ADDR`")
        })
}

/// Where `verify` fetches a proof when no node is named.
const DEFAULT_NODE: &str = "127.0.0.1:7001";

/// What `node` reports of the stone after the block a passport is complete to.
async fn events_after(node: &str, journey: &Journey) -> CliResult<Vec<HistoryItemView>> {
    let history = crate::connect::node_client(node)?
        .history(&journey.stone)
        .await?;
    Ok(history
        .into_iter()
        .filter(|item| item.height > journey.tip_height)
        .collect())
}

/// The verified journey, then what a node reports since (not verified: the
/// node is trusted for it, which the text says).
fn print_with_later_events(
    out: Out,
    journey: &Journey,
    node: &str,
    later: &[HistoryItemView],
) -> CliResult {
    let since = later
        .iter()
        .map(|item| {
            json!({ "height": item.height, "timestamp_ms": item.timestamp_ms,
                    "action": item.action, "signer": item.transaction.tx.signer,
                    "tx_id": item.tx_id })
        })
        .collect::<Vec<_>>();
    out.print(
        &json!({ "verified": true, "journey": journey,
                 "since_passport": { "node": node, "events": since } }),
        || {
            let mut text = format!(
                "{journey}\n\nSince the passport's block {}, node {node} reports (not part of the verified passport):",
                journey.tip_height
            );
            if later.is_empty() {
                text.push_str(&format!("\n  nothing new for {}", journey.stone));
            }
            for item in later {
                text.push_str(&format!(
                    "\n  #{} {} {} by {}",
                    item.height,
                    utc_text(item.timestamp_ms),
                    item.action,
                    item.transaction.tx.signer
                ));
            }
            text
        },
    )
}

/// A passport a retailer can hand to a buyer.
pub(crate) fn passport_markdown(journey: &Journey) -> String {
    let origin = &journey.origin;
    let mut text = format!(
        "# Diamond passport: {}\n\n\
         This stone's history is recorded on the gemtrail ledger and was verified against the consortium's genesis.\n\n\
         | | |\n|---|---|\n\
         | Origin | {} mine, {}, {} |\n\
         | Extracted | {} |\n\
         | Producer | {} |\n\
         | Kimberley Process certificate | {} |\n\
         | Rough weight | {} |\n\
         | Lineage | {} |\n\
         | Complete as of | {} (ledger block {}) |\n\
         | Certified by | {}, a majority of the consortium's nodes |\n\
         | Ledger tip | hash `{}` |\n\n## Journey\n\n",
        journey.stone,
        origin.mine,
        origin.region,
        origin.country,
        origin.extracted_on,
        journey.producer,
        journey.kp_certificate,
        journey.rough_carats,
        journey
            .lineage
            .iter()
            .map(|id| id.as_str())
            .collect::<Vec<_>>()
            .join(" → "),
        utc_text(journey.as_of_ms),
        journey.tip_height,
        journey.certifiers_text(),
        journey.tip_hash,
    );
    for step in &journey.steps {
        text.push_str(&format!(
            "- {} — {}: {}\n",
            utc_text(step.timestamp_ms),
            step.stone,
            step_text(step)
        ));
    }
    text.push_str("\n## Custody\n\n");
    for period in &journey.custody {
        let until = period.until_ms.map_or_else(
            || format!(", still as of {}", utc_text(journey.as_of_ms)),
            |until_ms| format!(" to {}", utc_text(until_ms)),
        );
        text.push_str(&format!(
            "- {} ({}): {}{}\n",
            period.name,
            period.org,
            utc_text(period.from_ms),
            until
        ));
    }
    text.push_str("\nVerify it yourself: `gemtrail verify --proof PASSPORT --genesis GENESIS`.\n");
    text
}
