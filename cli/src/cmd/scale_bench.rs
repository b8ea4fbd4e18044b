//! `gemtrail bench-scale`: how proofs and the audit behave on a big ledger.
//!
//! It builds a ledger of `--stones` registered stones in a RocksDB store,
//! block by block through the real state machine (`LedgerStore::apply`: every
//! rule, every signature checked), with no Raft or network in the way. One
//! tracked stone gets a life of ten events in the first blocks. The proof of
//! that stone is built and verified (from a cold verification memo, as an
//! auditor's machine would) when the ledger holds `--checkpoint` stones and
//! again at the end, so the two figures differ only in the ledger's size.
//! Each proof timing also renders the stone's passport page as the node's
//! `/passport` route does. Last, the whole ledger is audited as `gemtrail
//! ledger audit` does.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use gemtrail_genesis::sample::SampleConsortium;
use gemtrail_ledger::certificate::{Checkpoint, NodeSignature, QuorumCertificate};
use gemtrail_ledger::codec::{encode, BoundedVec};
use gemtrail_ledger::crypto::SecretKey;
use gemtrail_ledger::ids::{ChainId, NodeId, StoneId};
use gemtrail_ledger::model::{Action, BlockProposal, SignedTransaction, Transaction};
use gemtrail_ledger::proof::{build_proof, verify_proof, VerifiedJourney};
use gemtrail_ledger::state::GenesisState;
use gemtrail_ledger::store::{audit_path, LedgerStore, StoreOptions};
use gemtrail_ledger::verify_memo;
use gemtrail_web::{passport_page, qr_svg, LanguageSwitch, Locales, PassportPage};
use indicatif::ProgressBar;
use serde::Serialize;

use crate::actions::{org, propose, register_jwaneng_rough, stone};
use crate::args::ScaleBenchArgs;
use crate::cmd::bench::dir_bytes;
use crate::error::{CliError, CliResult};
use crate::local::fail;
use crate::output::Out;

/// The tracked stone.
const TRACKED: &str = "TRACKED-1";

/// Transfers of the tracked stone between miner and cutter, each proposed
/// and accepted: with its registration, 1 + 2 × 4 = 9 events, and one last
/// open proposal makes ten.
const TRACKED_TRANSFERS: usize = 4;

/// Proof figures at one ledger size.
#[derive(Debug, Serialize)]
struct ProofFigures {
    /// Stones in the ledger when measured.
    stones: u64,
    /// Blocks in the ledger when measured.
    blocks: u64,
    /// Events in the proof.
    events: usize,
    /// The proof's encoded size.
    bytes: usize,
    /// Median time to build the proof from the store, in microseconds.
    build_us: f64,
    /// Median time to verify it (signatures included), in microseconds.
    verify_us: f64,
    /// Median of build plus verify, in microseconds.
    total_us: f64,
    /// Median time to serve the stone's passport page as the node does:
    /// build, verify, then render the HTML with its QR code, in microseconds.
    page_us: f64,
}

/// Building the ledger.
#[derive(Debug, Serialize)]
struct BuildFigures {
    stones: u64,
    blocks: u64,
    transactions: u64,
    seconds: f64,
    transactions_per_second: f64,
    disk_bytes: u64,
}

/// Auditing it.
#[derive(Debug, Serialize)]
struct AuditFigures {
    clean: bool,
    blocks: u64,
    transactions: u64,
    seconds: f64,
    transactions_per_second: f64,
}

/// Everything `bench-scale` prints.
#[derive(Debug, Serialize)]
struct ScaleReport {
    build: BuildFigures,
    proof_small: ProofFigures,
    proof_large: ProofFigures,
    /// `proof_large.total_us / proof_small.total_us`.
    proof_ratio: f64,
    audit: AuditFigures,
}

/// The ledger being built, and who signs for it.
struct Builder {
    store: LedgerStore,
    chain_id: ChainId,
    miner: SecretKey,
    cutter: SecretKey,
    /// The sample's node keys, to certify proofs as its nodes would.
    node_keys: Vec<(NodeId, SecretKey)>,
    nonce: u64,
    timestamp_ms: u64,
    stones: u64,
    transactions: u64,
}

impl Builder {
    /// A fresh store at `path`, signed for by the sample's miner and cutter.
    fn open(path: &Path, sample: &SampleConsortium, genesis: &GenesisState) -> CliResult<Self> {
        let key = |name: &str| -> CliResult<SecretKey> {
            sample
                .member_key(&org(name)?)
                .cloned()
                .ok_or_else(|| CliError::new(format!("the sample consortium has no {name}")))
        };
        let store = LedgerStore::open_with(path, genesis, StoreOptions::default())
            .map_err(|error| fail("opening the store")(error.to_string()))?;
        let node_keys = sample
            .node_keypairs()
            .iter()
            .map(|(node, keypair)| {
                let key = gemtrail_node::keys::signing_key(keypair).ok_or_else(|| {
                    CliError::new(format!("sample node {node} has no ed25519 key"))
                })?;
                Ok((*node, key))
            })
            .collect::<CliResult<_>>()?;
        Ok(Self {
            node_keys,
            store,
            chain_id: genesis.chain_id.clone(),
            miner: key("miner")?,
            cutter: key("cutter")?,
            nonce: 0,
            timestamp_ms: genesis.timestamp_ms,
            stones: 0,
            transactions: 0,
        })
    }

    fn unsigned(&mut self, signer: &str, action: Action) -> CliResult<Transaction> {
        self.nonce += 1;
        Ok(Transaction {
            chain_id: self.chain_id.clone(),
            signer: org(signer)?,
            nonce: self.nonce,
            action,
        })
    }

    fn apply(&mut self, transactions: Vec<SignedTransaction>) -> CliResult<()> {
        self.timestamp_ms += 1_000;
        let count = transactions.len() as u64;
        let proposal = BlockProposal {
            timestamp_ms: self.timestamp_ms,
            transactions: transactions
                .try_into()
                .map_err(|_| CliError::new("more transactions than a block holds"))?,
        };
        let applied = self
            .store
            .apply(proposal)
            .map_err(|error| fail("applying a block")(error.to_string()))?;
        if let Some(rejected) = applied.receipts.iter().find(|r| !r.outcome.is_applied()) {
            return Err(CliError::new(format!(
                "the workload was refused: {:?}",
                rejected.outcome
            )));
        }
        self.transactions += count;
        Ok(())
    }

    /// The tracked stone's ten events, one block each.
    fn track(&mut self) -> CliResult<()> {
        let register = register_jwaneng_rough(TRACKED, "tracked", Vec::new())?;
        let tx = self.unsigned("miner", register)?.sign(&self.miner);
        self.apply(vec![tx])?;
        self.stones += 1;
        let (mut holder, mut other) = (
            (self.miner.clone(), "miner"),
            (self.cutter.clone(), "cutter"),
        );
        for transfer in 0..=TRACKED_TRANSFERS {
            let offer = self
                .unsigned(holder.1, propose(&[TRACKED], other.1, "terms")?)?
                .sign(&holder.0);
            let proposal = offer.id();
            self.apply(vec![offer])?;
            if transfer == TRACKED_TRANSFERS {
                break; // the tenth event: an open proposal
            }
            let accept = self
                .unsigned(other.1, Action::AcceptTransfer { proposal })?
                .sign(&other.0);
            self.apply(vec![accept])?;
            std::mem::swap(&mut holder, &mut other);
        }
        Ok(())
    }

    /// One block of `count` registrations by the miner, signed on all cores.
    fn register_block(&mut self, count: usize) -> CliResult<()> {
        let mut unsigned = Vec::with_capacity(count);
        for _ in 0..count {
            let id = format!("S-{}", self.stones);
            self.stones += 1;
            let action = register_jwaneng_rough(&id, "octahedral", Vec::new())?;
            unsigned.push(self.unsigned("miner", action)?);
        }
        let signed = sign_all(unsigned, &self.miner)?;
        self.apply(signed)
    }

    /// `checkpoint` signed by every node of the sample, as its nodes would.
    fn certify(&self, checkpoint: Checkpoint) -> QuorumCertificate {
        let signatures: Vec<NodeSignature> = self
            .node_keys
            .iter()
            .map(|(node, key)| checkpoint.sign(&self.chain_id, *node, key))
            .collect();
        QuorumCertificate {
            checkpoint,
            signatures: BoundedVec::new(signatures).unwrap_or_default(),
        }
    }

    fn blocks(&self) -> u64 {
        self.store.tip().height
    }
}

fn sign_all(unsigned: Vec<Transaction>, key: &SecretKey) -> CliResult<Vec<SignedTransaction>> {
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let chunk = unsigned.len().div_ceil(threads).max(1);
    let mut chunks: Vec<Vec<Transaction>> = Vec::new();
    let mut rest = unsigned;
    while rest.len() > chunk {
        let tail = rest.split_off(chunk);
        chunks.push(rest);
        rest = tail;
    }
    chunks.push(rest);
    std::thread::scope(|scope| {
        let handles: Vec<_> = chunks
            .into_iter()
            .map(|chunk| {
                scope.spawn(move || chunk.into_iter().map(|tx| tx.sign(key)).collect::<Vec<_>>())
            })
            .collect();
        let mut signed = Vec::new();
        for handle in handles {
            let chunk = handle
                .join()
                .map_err(|_| CliError::new("a signing thread panicked"))?;
            signed.extend(chunk);
        }
        Ok(signed)
    })
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(0.0)
}

/// Builds and verifies the tracked stone's proof `runs` times.
fn measure_proof(
    builder: &Builder,
    genesis: &GenesisState,
    runs: usize,
) -> CliResult<ProofFigures> {
    let id: StoneId = stone(TRACKED)?;
    let (mut builds, mut verifies, mut totals) = (Vec::new(), Vec::new(), Vec::new());
    let mut pages = Vec::new();
    let locales = Locales::embedded().map_err(|error| fail("page languages")(error.to_string()))?;
    let mut events = 0;
    let mut bytes = 0;
    for _ in 0..runs.max(1) {
        // An auditor's machine has checked none of these signatures before.
        verify_memo::clear();
        let started = Instant::now();
        let mut proof = build_proof(&builder.store, &id)
            .map_err(|error| fail("building the proof")(error.to_string()))?;
        let built = started.elapsed();
        // The nodes' part, done once per block and not per proof: outside
        // the timings.
        proof.certificate = builder.certify(proof.checkpoint());
        let started = Instant::now() - built;
        let journey = verify_proof(genesis, &proof)
            .map_err(|error| fail("verifying the proof")(error.to_string()))?;
        let total = started.elapsed();
        render_passport(&locales, genesis, &journey)?;
        pages.push(started.elapsed().as_secs_f64() * 1e6);
        events = journey.journey().steps.len();
        bytes = encode(&proof).len();
        builds.push(built.as_secs_f64() * 1e6);
        verifies.push((total - built).as_secs_f64() * 1e6);
        totals.push(total.as_secs_f64() * 1e6);
    }
    Ok(ProofFigures {
        stones: builder.stones,
        blocks: builder.blocks(),
        events,
        bytes,
        build_us: median(builds),
        verify_us: median(verifies),
        total_us: median(totals),
        page_us: median(pages),
    })
}

/// Renders the passport page of `journey` as the node's `/passport` route
/// does (member names, QR code, HTML); returns its size.
fn render_passport(
    locales: &Locales,
    genesis: &GenesisState,
    journey: &VerifiedJourney,
) -> CliResult<usize> {
    let names = genesis
        .membership
        .members
        .values()
        .map(|member| (member.org.clone(), member.name.to_string()))
        .collect();
    let url = format!("http://127.0.0.1:7001/passport/{}", journey.journey().stone);
    let qr = qr_svg(&url).ok_or_else(|| CliError::new("the passport URL is too long"))?;
    let page = PassportPage {
        journey,
        names: &names,
        url: &url,
        qr_svg: &qr,
        download_href: "file",
        file_name: "stone.passport",
        switch: LanguageSwitch::Links { path: "/passport" },
    };
    Ok(passport_page(locales, locales.reference(), &page)
        .into_string()
        .len())
}

/// Runs the scale benchmark.
pub(crate) fn run(out: Out, args: ScaleBenchArgs) -> CliResult {
    if args.block_txs == 0 || args.block_txs > 2048 {
        return Err(CliError::new("--block-txs must be between 1 and 2048"));
    }
    if args.checkpoint == 0 || args.checkpoint >= args.stones {
        return Err(CliError::new(
            "--checkpoint must be at least 1 and below --stones",
        ));
    }
    let temp = tempfile::Builder::new()
        .prefix("gemtrail-scale-")
        .tempdir_in(args.dir.as_deref().unwrap_or(&std::env::temp_dir()))
        .map_err(|error| fail("temporary directory")(error.to_string()))?;
    let path: PathBuf = temp.path().join("ledger");
    let sample = SampleConsortium::generate("gemtrail-scale", 7000)
        .map_err(|error| fail("founding the consortium")(error.to_string()))?;
    let genesis = sample.genesis().ledger_genesis();
    let mut builder = Builder::open(&path, &sample, &genesis)?;
    let (proof_small, build_seconds) = build(out, &mut builder, &genesis, &args)?;
    let proof_large = measure_proof(&builder, &genesis, args.proof_runs)?;
    let proof_small =
        proof_small.ok_or_else(|| CliError::new("the checkpoint was never reached"))?;
    let build = BuildFigures {
        stones: builder.stones,
        blocks: builder.blocks(),
        transactions: builder.transactions,
        seconds: build_seconds,
        transactions_per_second: builder.transactions as f64 / build_seconds.max(1e-9),
        disk_bytes: dir_bytes(&path),
    };
    drop(builder);
    let audit = audit(&path, &genesis)?;
    let report = ScaleReport {
        proof_ratio: proof_large.total_us / proof_small.total_us.max(1e-9),
        build,
        proof_small,
        proof_large,
        audit,
    };
    keep_or_remove(temp, args.keep)?;
    out.print(&report, || text_summary(&report))?;
    if report.audit.clean {
        Ok(())
    } else {
        Err(CliError::unverified("the audit of the built ledger failed"))
    }
}

/// Registers stones up to `--stones`, the tracked one first, and times the
/// proof once on the way, at `--checkpoint`. Returns those figures and the
/// seconds spent building, the proof timing left out.
fn build(
    out: Out,
    builder: &mut Builder,
    genesis: &GenesisState,
    args: &ScaleBenchArgs,
) -> CliResult<(Option<ProofFigures>, f64)> {
    let bar = progress(out, args.stones);
    let started = Instant::now();
    let mut measuring = Duration::ZERO;
    builder.track()?;
    let mut proof_small = None;
    while builder.stones < args.stones {
        let target = if proof_small.is_none() {
            args.checkpoint
        } else {
            args.stones
        };
        let count = (target - builder.stones).min(args.block_txs as u64) as usize;
        builder.register_block(count)?;
        bar.set_position(builder.stones);
        if proof_small.is_none() && builder.stones >= args.checkpoint {
            let paused = Instant::now();
            proof_small = Some(measure_proof(builder, genesis, args.proof_runs)?);
            measuring += paused.elapsed();
        }
    }
    bar.finish_and_clear();
    let build_seconds = started.elapsed().saturating_sub(measuring).as_secs_f64();
    Ok((proof_small, build_seconds))
}

/// Audits the built ledger as `gemtrail ledger audit` does, from a cold
/// verification memo.
fn audit(path: &Path, genesis: &GenesisState) -> CliResult<AuditFigures> {
    verify_memo::clear();
    let audit_started = Instant::now();
    let report = audit_path(path, genesis, |_, _| {})
        .map_err(|error| fail("auditing")(error.to_string()))?;
    let audit_seconds = audit_started.elapsed().as_secs_f64();
    Ok(AuditFigures {
        clean: report.is_clean(),
        blocks: report.blocks_checked,
        transactions: report.transactions_checked,
        seconds: audit_seconds,
        transactions_per_second: report.transactions_checked as f64 / audit_seconds.max(1e-9),
    })
}

fn progress(out: Out, stones: u64) -> ProgressBar {
    out.progress_bar(
        stones,
        "{spinner} registering stones {pos}/{len} [{bar:40}] {per_sec} {eta}",
    )
}

/// Keeps the ledger for inspection (`--keep`), or removes it.
fn keep_or_remove(temp: tempfile::TempDir, keep: bool) -> CliResult<()> {
    if keep {
        let kept: PathBuf = temp.keep();
        eprintln!(
            "bench-scale: the ledger is kept in {}",
            kept.join("ledger").display()
        );
        return Ok(());
    }
    temp.close()
        .map_err(|error| fail("removing the ledger")(error.to_string()))
}

fn text_summary(report: &ScaleReport) -> String {
    let proof = |figures: &ProofFigures| {
        format!(
            "{} stones ({} blocks): build {:.0} µs + verify {:.0} µs = {:.0} µs, {} events, {} bytes; passport page {:.0} µs",
            figures.stones,
            figures.blocks,
            figures.build_us,
            figures.verify_us,
            figures.total_us,
            figures.events,
            figures.bytes,
            figures.page_us
        )
    };
    format!(
        "built {} stones in {} blocks ({} transactions) in {:.1} s: {:.0} tx/s, {} MB on disk\n\
         proof at {}\n\
         proof at {}\n\
         ratio large/small: {:.2}\n\
         audit: {} transactions in {:.1} s: {:.0} tx/s, {}",
        report.build.stones,
        report.build.blocks,
        report.build.transactions,
        report.build.seconds,
        report.build.transactions_per_second,
        report.build.disk_bytes / 1_000_000,
        proof(&report.proof_small),
        proof(&report.proof_large),
        report.proof_ratio,
        report.audit.transactions,
        report.audit.seconds,
        report.audit.transactions_per_second,
        if report.audit.clean {
            "clean"
        } else {
            "BROKEN"
        }
    )
}
