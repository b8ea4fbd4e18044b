//! `gemtrail demo`: a local consortium of three node processes (the miner's,
//! the cutter's and the retailer's; a lab and an auditor are members without
//! nodes) runs one stone from the mine to its sale through real Raft, shows a
//! refused action, verifies the sold stone's origin chain, exports its
//! passport and stops every node cleanly. Everything lives in a temporary
//! directory that is removed at the end (unless `--keep`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use gemtrail_ledger::codec::encode;
use gemtrail_ledger::ids::{OrgId, TxId};
use gemtrail_ledger::model::{Action, Outcome, SaleBranding, Transaction};
use gemtrail_ledger::proof::{verify_proof, Journey as VerifiedJourney};
use gemtrail_node::client::NodeClient;
use serde_json::json;

use crate::actions::{
    cut_by_sarah_levi, digest, grade_d_vvs1, polished_output, propose, register_jwaneng_rough,
    stone, text,
};
use crate::args::DemoArgs;
use crate::cmd::passport::{member_names, write_page_files, PageFiles};
use crate::cmd::verify::passport_markdown;
use crate::error::{CliError, CliResult};
use crate::local::{fail, found, start_nodes, wait_for_leader, Consortium, Nodes, LEADER_WAIT};
use crate::output::Out;

const ROUGH: &str = "GT-DEMO-ROUGH";
const POLISHED_A: &str = "GT-DEMO-A";
const POLISHED_B: &str = "GT-DEMO-B";

/// Signs and submits as `member` through its node; returns the receipt's
/// outcome and the transaction id.
struct Journey<'a> {
    out: Out,
    consortium: &'a Consortium,
    clients: BTreeMap<u64, NodeClient>,
    nonce: u64,
    steps: Vec<serde_json::Value>,
}

impl Journey<'_> {
    fn client(&self, node: u64) -> CliResult<&NodeClient> {
        self.clients
            .get(&node)
            .ok_or_else(|| CliError::new(format!("demo: no node {node}")))
    }

    async fn act(
        &mut self,
        member: &str,
        node: u64,
        action: Action,
        what: &str,
    ) -> CliResult<(TxId, Outcome)> {
        let org = OrgId::parse(member).map_err(|error| fail("member")(error.to_string()))?;
        let key = self
            .consortium
            .sample
            .member_key(&org)
            .ok_or_else(|| CliError::new(format!("demo: no key for {member}")))?;
        self.nonce += 1;
        let tx = Transaction {
            chain_id: self.consortium.genesis.chain_id().clone(),
            signer: org,
            nonce: self.nonce,
            action,
        }
        .sign(key);
        let answer = self.client(node)?.submit(&tx, true).await?;
        let receipt = answer
            .receipt
            .ok_or_else(|| CliError::new("demo: the node did not wait for the commit"))?;
        let outcome = receipt.outcome.clone();
        let line = match &outcome {
            Outcome::Applied => format!(
                "  ok      {member:<9} {what} (block {}, via node {node})",
                receipt.height
            ),
            Outcome::Rejected { reason } => format!(
                "  REFUSED {member:<9} {what}\n          reason: {} — {reason}",
                reason.code()
            ),
        };
        if self.out.is_text() {
            println!("{line}");
        }
        self.steps.push(json!({
            "member": member, "node": node, "action": what, "tx_id": tx.id(),
            "height": receipt.height, "outcome": outcome,
        }));
        Ok((tx.id(), outcome))
    }

    async fn must(
        &mut self,
        member: &str,
        node: u64,
        action: Action,
        what: &str,
    ) -> CliResult<TxId> {
        let (tx_id, outcome) = self.act(member, node, action, what).await?;
        match outcome {
            Outcome::Applied => Ok(tx_id),
            Outcome::Rejected { reason } => Err(CliError::new(format!(
                "demo: {what} was refused unexpectedly: {reason}"
            ))),
        }
    }
}

/// Prints a line for people; JSON gets everything at the end instead.
fn say(out: Out, line: &str) {
    if out.is_text() {
        println!("{line}");
    }
}

/// Runs the demo.
pub(crate) async fn run(out: Out, args: DemoArgs) -> CliResult {
    let started = Instant::now();
    let temp = tempfile::Builder::new()
        .prefix("gemtrail-demo-")
        .tempdir()
        .map_err(|error| fail("temporary directory")(error.to_string()))?;
    let dir = temp.path().to_owned();
    let consortium = found_demo(out, &dir)?;
    let (mut nodes, clients) = start_cluster(out, &dir, &consortium).await?;
    let mut journey = Journey {
        out,
        consortium: &consortium,
        clients,
        nonce: 0,
        steps: Vec::new(),
    };
    let outcome = tokio::select! {
        result = walk(&mut journey) => result,
        _ = tokio::signal::ctrl_c() => Err(CliError::new("demo: interrupted")),
    };
    let (sold, passport_path) = match outcome {
        Ok(done) => done,
        Err(error) => {
            nodes.stop();
            return Err(error);
        }
    };
    if !caught_up(&journey).await? {
        nodes.stop();
        return Err(CliError::new("demo: the cutter's node did not catch up"));
    }
    let passport = match export_passport(&journey, sold, &passport_path, &dir).await {
        Ok(passport) => passport,
        Err(error) => {
            nodes.stop();
            return Err(error);
        }
    };
    tell_passport(out, sold, &passport_path, &passport);
    let kept = finish(out, args.keep, nodes, temp, &passport).await;
    say(
        out,
        &format!("Done in {:.1} s.", started.elapsed().as_secs_f64()),
    );
    out.print(
        &json!({
            "chain_id": consortium.genesis.chain_id().to_string(),
            "genesis_hash": consortium.genesis.hash().to_string(),
            "steps": journey.steps,
            "verified": true,
            "journey": passport.journey,
            "passport_url": passport.url,
            "kept_dir": kept,
            "seconds": started.elapsed().as_secs_f64(),
        }),
        String::new,
    )
}

/// With `keep`, runs the nodes until Ctrl-C so that a person can open the
/// pages, then keeps the directory; without, stops and removes everything.
async fn finish(
    out: Out,
    keep: bool,
    mut nodes: Nodes,
    temp: tempfile::TempDir,
    passport: &Passport,
) -> Option<PathBuf> {
    if keep {
        say(out, &format!(
            "\nThe nodes keep running so that you can open the pages (Ctrl-C stops them):\n  buyer's passport:  {}\n  explorer:          {}/explorer",
            passport.url, passport.base_url
        ));
        // Ctrl-C ends the wait; a failure to listen for it ends it too.
        let _ = tokio::signal::ctrl_c().await;
    }
    nodes.stop();
    if keep {
        let kept = temp.keep();
        say(
            out,
            &format!(
                "Stopped all nodes; kept the demo directory {}",
                kept.display()
            ),
        );
        Some(kept)
    } else {
        say(out, "Stopped all nodes and removed the demo directory with its passport (--keep keeps both).");
        None
    }
}

/// What the auditor found, and where the passport went.
fn tell_passport(out: Out, sold: &str, passport_path: &Path, passport: &Passport) {
    say(
        out,
        &format!("\nThe auditor verified {sold}'s origin chain against the genesis:\n"),
    );
    say(out, &passport.journey.to_string());
    let journey = &passport.journey;
    say(out, &format!(
        "\nCertificate: block {} (hash {}) signed by {}, a majority of the 3 nodes; no single operator can sign a chain of its own.",
        journey.tip_height,
        journey.tip_hash,
        journey.certifiers_text()
    ));
    say(out, &format!(
        "\nPassport: {} ({} bytes, verified again offline, with no node), the buyer's page {} with its QR code, and a Markdown copy, {}",
        passport_path.display(),
        passport.bytes,
        passport.html.display(),
        passport.markdown.display()
    ));
    say(
        out,
        &format!(
            "Passport page: {} (while the nodes run; `gemtrail demo --keep` keeps them running)",
            passport.url
        ),
    );
}

/// Founds the demo's consortium in `dir` and says so.
fn found_demo(out: Out, dir: &Path) -> CliResult<Consortium> {
    let consortium = found(dir, "gemtrail-demo", |document| {
        // Quick blocks for a demo; the rest as in the sample.
        document.consensus.batch_timeout_ms = 2;
    })?;
    say(
        out,
        &format!(
            "Founded consortium {} (genesis {}) in {}",
            consortium.genesis.chain_id(),
            consortium.genesis.hash(),
            dir.display()
        ),
    );
    say(
        out,
        "  members: miner (producer), cutter (manufacturer), lab, retailer, auditor",
    );
    Ok(consortium)
}

/// Starts the three nodes and waits until they agree on a leader.
async fn start_cluster(
    out: Out,
    dir: &Path,
    consortium: &Consortium,
) -> CliResult<(Nodes, BTreeMap<u64, NodeClient>)> {
    let nodes = start_nodes(dir, consortium.api.keys().copied())?;
    let clients = consortium.clients()?;
    let leader = tokio::select! {
        leader = wait_for_leader(&clients) => leader?,
        _ = tokio::signal::ctrl_c() => return Err(CliError::new("demo: interrupted")),
    };
    say(out, &format!(
        "Started 3 nodes (miner: node 1, cutter: node 2, retailer: node 3); node {leader} leads\n\nThe journey:"
    ));
    Ok((nodes, clients))
}

/// Waits until the cutter's node, where the auditor asks, has applied the
/// sale (the journey waited only for the retailer's node); false if it does
/// not within [`LEADER_WAIT`].
async fn caught_up(journey: &Journey<'_>) -> CliResult<bool> {
    let sale_height = journey
        .steps
        .last()
        .and_then(|step| step["height"].as_u64())
        .unwrap_or(0);
    let deadline = Instant::now() + LEADER_WAIT;
    while journey.client(2)?.status().await?.height < sale_height {
        if Instant::now() > deadline {
            return Ok(false);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(true)
}

/// The sold stone's verified passport, as the demo wrote it.
struct Passport {
    journey: VerifiedJourney,
    /// The encoded proof's size.
    bytes: usize,
    /// Where the Markdown copy for the buyer went.
    markdown: PathBuf,
    /// Where the buyer's offline page went.
    html: PathBuf,
    /// The passport's web address on the retailer's node.
    url: String,
    /// The retailer's node's web address.
    base_url: String,
}

/// The auditor verifies the sold stone's proof from the cutter's node,
/// writes the passport and its Markdown copy, and verifies the passport
/// again offline, as a buyer with only the genesis would.
async fn export_passport(
    journey: &Journey<'_>,
    sold: &str,
    passport_path: &Path,
    dir: &Path,
) -> CliResult<Passport> {
    let proof = journey.client(2)?.proof(&stone(sold)?).await?;
    let genesis = journey.consortium.genesis.ledger_genesis();
    let verified = verify_proof(&genesis, &proof)
        .map_err(|error| CliError::unverified(format!("demo: the proof does not verify: {error}")))?
        .into_journey();
    std::fs::write(passport_path, encode(&proof))
        .map_err(|error| fail("writing the passport")(error.to_string()))?;
    let markdown = dir.join(format!("{sold}.md"));
    std::fs::write(&markdown, passport_markdown(&verified))
        .map_err(|error| fail("writing the passport")(error.to_string()))?;
    let offline = std::fs::read(passport_path)
        .map_err(|error| fail("reading the passport")(error.to_string()))?;
    let offline: gemtrail_ledger::proof::ProvenanceProof = gemtrail_ledger::codec::decode(&offline)
        .map_err(|error| {
            CliError::unverified(format!("demo: the passport does not decode: {error}"))
        })?;
    let offline = verify_proof(&genesis, &offline).map_err(|error| {
        CliError::unverified(format!(
            "demo: the passport does not verify offline: {error}"
        ))
    })?;
    let retailer = journey.client(3)?;
    let base_url = retailer.status().await?.public_url;
    let url = format!("{base_url}/passport/{sold}");
    let html = dir.join(format!("{sold}.html"));
    let files = PageFiles {
        passport: passport_path,
        html: &html,
        qr: &dir.join(format!("{sold}.qr.svg")),
        url: &url,
        lang: "en",
    };
    write_page_files(&offline, &member_names(retailer).await?, &files)?;
    Ok(Passport {
        journey: verified,
        bytes: encode(&proof).len(),
        markdown,
        html,
        url,
        base_url,
    })
}

/// The journey itself. Returns the sold stone and where its passport goes.
async fn walk(journey: &mut Journey<'_>) -> CliResult<(&'static str, PathBuf)> {
    hand_rough_to_cutter(journey).await?;
    cut_and_grade(journey).await?;
    sell_to_customer(journey).await?;
    let dir = journey
        .consortium
        .genesis_path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    Ok((POLISHED_A, dir.join(format!("{POLISHED_A}.passport"))))
}

/// The miner registers the rough and hands it to the cutter; then the miner
/// tries to pass it on again and is refused.
async fn hand_rough_to_cutter(journey: &mut Journey<'_>) -> CliResult {
    let register = register_jwaneng_rough(
        ROUGH,
        "octahedral, light yellow",
        vec![digest(b"mine intake scan")],
    )?;
    journey
        .must(
            "miner",
            1,
            register,
            &format!("registers rough {ROUGH} (12.50 ct, Jwaneng, Botswana; KP BW-KP-2026-0042)"),
        )
        .await?;
    let proposal = journey
        .must(
            "miner",
            1,
            propose(&[ROUGH], "cutter", "price 180000 USD")?,
            &format!("offers {ROUGH} to the cutter"),
        )
        .await?;
    journey
        .must(
            "cutter",
            2,
            Action::AcceptTransfer { proposal },
            "accepts: custody moves to the cutter",
        )
        .await?;
    // The refused action: the miner no longer holds the rough.
    let (_, outcome) = journey
        .act(
            "miner",
            1,
            propose(&[ROUGH], "retailer", "")?,
            &format!("tries to sell {ROUGH} on to the retailer, but the cutter holds it now"),
        )
        .await?;
    if outcome.is_applied() {
        return Err(CliError::new(
            "demo: a non-custodian's transfer was not refused",
        ));
    }
    Ok(())
}

/// The cutter cuts the rough into two stones and the lab grades one.
async fn cut_and_grade(journey: &mut Journey<'_>) -> CliResult {
    let outputs = vec![
        polished_output(POLISHED_A, "round brilliant", 310, "D", "VVS1")?,
        polished_output(POLISHED_B, "oval", 205, "E", "VS1")?,
    ];
    let manufacture = cut_by_sarah_levi(ROUGH, outputs, "demo: ")?;
    journey
        .must("cutter", 2, manufacture, &format!("cuts it into {POLISHED_A} (3.10 ct) and {POLISHED_B} (2.05 ct); cutter Sarah Levi, 22 years"))
        .await?;
    let grade = grade_d_vvs1(POLISHED_A, "IGL-2026-118842", b"IGL report 2026-118842")?;
    journey
        .must(
            "lab",
            1,
            grade,
            &format!("grades {POLISHED_A}: 3.10 ct D VVS1 Excellent, origin matched"),
        )
        .await?;
    Ok(())
}

/// The cutter hands the graded stone to the retailer, who sells it.
async fn sell_to_customer(journey: &mut Journey<'_>) -> CliResult {
    let offer = journey
        .must(
            "cutter",
            2,
            propose(&[POLISHED_A], "retailer", "price 41000 USD")?,
            &format!("offers {POLISHED_A} to the retailer"),
        )
        .await?;
    journey
        .must(
            "retailer",
            3,
            Action::AcceptTransfer { proposal: offer },
            "accepts: custody moves to the retailer",
        )
        .await?;
    let sell = Action::Sell {
        stone: stone(POLISHED_A)?,
        passport_commitment: digest(b"buyer passport and sale terms"),
        branding: Some(SaleBranding {
            shop_name: text("Maison Aurelia, Antwerp")?,
            jeweller: Some(text("Atelier Brandt")?),
        }),
    };
    journey
        .must(
            "retailer",
            3,
            sell,
            &format!("sells {POLISHED_A} to a customer"),
        )
        .await?;
    Ok(())
}
