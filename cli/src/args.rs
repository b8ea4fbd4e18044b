//! The command line, as clap parses it. Each subcommand's `--help` says what
//! it does and what every option means.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// gemtrail: mine-to-market tracing of diamonds on a permissioned ledger.
#[derive(Debug, Parser)]
#[command(name = "gemtrail", version, about, propagate_version = true)]
pub(crate) struct Cli {
    /// How to print results.
    #[arg(long, global = true, value_enum, default_value_t = OutputFormat::Text)]
    pub(crate) output: OutputFormat,
    /// For an `https://` node: trust certificates signed by the CAs in this
    /// PEM file (for a self-signed node, its own certificate).
    #[arg(
        long,
        global = true,
        value_name = "FILE",
        env = "GEMTRAIL_CA",
        conflicts_with = "pin"
    )]
    pub(crate) ca: Option<PathBuf>,
    /// For an `https://` node: trust exactly the certificate with this
    /// fingerprint (`sha256:...`, as `node init --tls` prints it).
    #[arg(long, global = true, value_name = "FINGERPRINT", env = "GEMTRAIL_PIN")]
    pub(crate) pin: Option<String>,
    /// What to do.
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// Output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum OutputFormat {
    /// For people.
    Text,
    /// One JSON document, for scripts.
    Json,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Create and inspect member signing keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Found a consortium: write, extend, check and hash a genesis file.
    #[command(subcommand)]
    Genesis(GenesisCommand),
    /// Set up and run a node.
    #[command(subcommand)]
    Node(NodeCommand),
    /// Register, transfer, cut, grade, sell and inspect stones.
    #[command(subcommand)]
    Stone(StoneCommand),
    /// Verify a stone's origin chain: from a node, or offline from a passport.
    Verify(VerifyArgs),
    /// Write the opening of one of your commitments (terms, sale data, a
    /// report, an evidence document) for someone, in clear or sealed to a
    /// member.
    Disclose(DiscloseArgs),
    /// Export a stone's passport: an offline-verifiable proof.
    #[command(subcommand)]
    Passport(PassportCommand),
    /// Work on a node's ledger files.
    #[command(subcommand)]
    Ledger(LedgerCommand),
    /// Change the consortium: draft a governance change into a file, collect
    /// the admins' approvals, inspect it, submit it.
    #[command(subcommand)]
    Governance(GovernanceCommand),
    /// List the members, their roles and keys, and the nodes, as of the tip.
    Members(NodeArg),
    /// What a node says about itself and the cluster.
    Status(NodeArg),
    /// Run the whole mine-to-market journey on a local three-node consortium.
    Demo(DemoArgs),
    /// Measure committed transactions per second and latency on a local
    /// three-node cluster.
    Bench(BenchArgs),
    /// Drive an etcd v3 cluster with bare puts, as a yardstick for `bench`.
    BenchEtcd(EtcdBenchArgs),
    /// Build a ledger of many stones, then time a proof at two sizes and the audit.
    BenchScale(ScaleBenchArgs),
    /// Print a shell completion script.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

/// The node to talk to.
#[derive(Debug, Args)]
pub(crate) struct NodeArg {
    /// The node's API address.
    #[arg(long, default_value = "127.0.0.1:7001", env = "GEMTRAIL_NODE")]
    pub(crate) node: String,
}

/// Key commands.
#[derive(Debug, Subcommand)]
pub(crate) enum KeysCommand {
    /// Make a new signing key; the file is readable by you only.
    New {
        /// Where to write the key.
        #[arg(long, short = 'o', value_name = "FILE")]
        out: PathBuf,
    },
    /// Show a key file's public key (and, if asked, its secret).
    Show {
        /// The key file.
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        /// Also print the secret key. Anyone who sees it can sign as you.
        #[arg(long)]
        reveal_secret: bool,
    },
    /// Print the public key, to hand to the consortium for the genesis.
    ExportPublic {
        /// The key file.
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
    },
}

/// Genesis commands.
#[derive(Debug, Subcommand)]
pub(crate) enum GenesisCommand {
    /// Start a genesis file with no members and default parameters.
    New {
        /// The chain id (lower case letters, digits and dashes).
        #[arg(long)]
        chain_id: String,
        /// Where to write it.
        #[arg(long, short = 'o', default_value = "genesis.toml")]
        out: PathBuf,
    },
    /// Add a member organisation with its public key.
    AddMember {
        /// The genesis file to change.
        #[arg(long, default_value = "genesis.toml")]
        genesis: PathBuf,
        /// The organisation id (lower case), e.g. `kimberley-mining`.
        #[arg(long)]
        id: String,
        /// Its display name.
        #[arg(long)]
        name: String,
        /// Its roles, comma-separated: producer, manufacturer, trader, lab,
        /// retailer, auditor, admin.
        #[arg(long, value_delimiter = ',', required = true)]
        roles: Vec<String>,
        /// Its public key (`ed25519:<hex>`, from `gemtrail keys export-public`).
        #[arg(long)]
        key: String,
    },
    /// Add a consensus node run by a member.
    AddNode {
        /// The genesis file to change.
        #[arg(long, default_value = "genesis.toml")]
        genesis: PathBuf,
        /// The node id (1, 2, ...).
        #[arg(long)]
        id: u64,
        /// The member that runs it.
        #[arg(long)]
        member: String,
        /// Its libp2p peer id (printed by `gemtrail node init`).
        #[arg(long)]
        peer_id: String,
        /// Its libp2p listen address, e.g. `/ip4/10.0.0.5/tcp/7000`.
        #[arg(long)]
        listen_addr: String,
        /// Its HTTP API address, e.g. `127.0.0.1:7001`.
        #[arg(long)]
        api_addr: String,
    },
    /// Check a genesis file; exits non-zero with the field at fault.
    Validate {
        /// The genesis file.
        #[arg(default_value = "genesis.toml")]
        genesis: PathBuf,
    },
    /// Print a genesis file's members, nodes and parameters.
    Show {
        /// The genesis file.
        #[arg(default_value = "genesis.toml")]
        genesis: PathBuf,
    },
    /// Print the genesis hash every member should compare.
    Hash {
        /// The genesis file.
        #[arg(default_value = "genesis.toml")]
        genesis: PathBuf,
    },
}

/// Node commands.
#[derive(Debug, Subcommand)]
pub(crate) enum NodeCommand {
    /// Make a node directory: a node key and a configuration file.
    Init(NodeInitArgs),
    /// Run a node until SIGTERM or Ctrl-C.
    Start {
        /// The node's configuration file.
        #[arg(long, default_value = "node.toml")]
        config: PathBuf,
    },
}

/// What `node init` makes.
#[derive(Debug, Args)]
pub(crate) struct NodeInitArgs {
    /// The directory to create.
    #[arg(long)]
    pub(crate) dir: PathBuf,
    /// The genesis file (copied into the directory if given and present).
    #[arg(long)]
    pub(crate) genesis: Option<PathBuf>,
    /// The HTTP API address, if not the genesis one.
    #[arg(long)]
    pub(crate) api_addr: Option<std::net::SocketAddr>,
    /// The libp2p listen address, if not the genesis one.
    #[arg(long)]
    pub(crate) listen_addr: Option<String>,
    /// The node id, for a node that joins by governance rather than
    /// through the genesis (then give both addresses too).
    #[arg(long, requires_all = ["api_addr", "listen_addr"])]
    pub(crate) node_id: Option<u64>,
    /// Serve the API over HTTPS with a new self-signed certificate (for
    /// localhost, 127.0.0.1, the API address and each --tls-name); clients
    /// trust it with `--ca DIR/tls.crt` or `--pin` and its fingerprint.
    #[arg(long)]
    pub(crate) tls: bool,
    /// Another host name or address the certificate is for (repeatable).
    #[arg(long, value_name = "NAME", requires = "tls")]
    pub(crate) tls_name: Vec<String>,
}

/// Who signs and where to submit.
#[derive(Debug, Args)]
pub(crate) struct Signer {
    /// The node to submit to.
    #[arg(long, default_value = "127.0.0.1:7001", env = "GEMTRAIL_NODE")]
    pub(crate) node: String,
    /// The signing key file.
    #[arg(long, value_name = "FILE", env = "GEMTRAIL_KEY")]
    pub(crate) key: PathBuf,
    /// The member organisation the key belongs to.
    #[arg(long = "as", value_name = "ORG", env = "GEMTRAIL_ORG")]
    pub(crate) org: String,
    /// Do not wait for the commit; print the transaction id and return.
    #[arg(long)]
    pub(crate) no_wait: bool,
    /// The transaction's nonce (default: random). The same signer, action and
    /// nonce make the same transaction id, so resubmitting is caught as a replay.
    #[arg(long)]
    pub(crate) nonce: Option<u64>,
}

/// Stone commands.
#[derive(Debug, Subcommand)]
pub(crate) enum StoneCommand {
    /// Register a newly extracted rough stone (a producer).
    Register(RegisterArgs),
    /// Offer stones to another member (their custodian).
    ProposeTransfer(ProposeTransferArgs),
    /// Accept a transfer proposed to you.
    Accept(ProposalArgs),
    /// Refuse a transfer proposed to you.
    Reject(ProposalArgs),
    /// Withdraw a transfer you proposed.
    Cancel(ProposalArgs),
    /// Cut a rough you hold into polished stones (a manufacturer).
    Manufacture(ManufactureArgs),
    /// Attach a grading report (a lab).
    Grade(GradeArgs),
    /// Record the sale to a consumer (a retailer holding the stone).
    Sell(SellArgs),
    /// Flag a stone stolen, lost or disputed.
    Flag(FlagArgs),
    /// Lift a flag.
    ClearFlag {
        #[command(flatten)]
        signer: Signer,
        /// The stone.
        #[arg(long)]
        stone: String,
    },
    /// A stone's current state.
    Show {
        /// The stone.
        stone: String,
        #[command(flatten)]
        node: NodeArg,
    },
    /// Every transaction that touched a stone.
    History {
        /// The stone.
        stone: String,
        #[command(flatten)]
        node: NodeArg,
    },
}

/// What `stone register` records.
#[derive(Debug, Args)]
pub(crate) struct RegisterArgs {
    #[command(flatten)]
    pub(crate) signer: Signer,
    /// The new stone's id.
    #[arg(long)]
    pub(crate) stone: String,
    /// The mine.
    #[arg(long)]
    pub(crate) mine: String,
    /// The country of extraction (ISO 3166 two letters).
    #[arg(long)]
    pub(crate) country: String,
    /// The region or province.
    #[arg(long)]
    pub(crate) region: String,
    /// The extraction date, YYYY-MM-DD.
    #[arg(long)]
    pub(crate) extracted: String,
    /// Weight in carats, e.g. 12.50.
    #[arg(long)]
    pub(crate) carats: String,
    /// What the rough looks like.
    #[arg(long, default_value = "rough")]
    pub(crate) description: String,
    /// The Kimberley Process certificate number.
    #[arg(long)]
    pub(crate) kp_certificate: String,
    /// Supporting documents (their blake3 hashes go on the ledger).
    #[arg(long, value_name = "FILE")]
    pub(crate) evidence: Vec<PathBuf>,
}

/// What `stone propose-transfer` offers.
#[derive(Debug, Args)]
pub(crate) struct ProposeTransferArgs {
    #[command(flatten)]
    pub(crate) signer: Signer,
    /// The stones, comma-separated: all move or none does.
    #[arg(long, value_delimiter = ',', required = true)]
    pub(crate) stones: Vec<String>,
    /// The receiving member.
    #[arg(long)]
    pub(crate) to: String,
    /// The confidential terms (only their blake3 hash goes on the ledger).
    #[arg(long, default_value = "")]
    pub(crate) terms: String,
}

/// What `stone manufacture` records.
#[derive(Debug, Args)]
pub(crate) struct ManufactureArgs {
    #[command(flatten)]
    pub(crate) signer: Signer,
    /// The rough.
    #[arg(long)]
    pub(crate) rough: String,
    /// A polished output: `ID:CARATS:SHAPE:COLOUR:CLARITY:CUT`, e.g.
    /// `GT-1-A:3.10:round brilliant:D:VVS1:Excellent`. Repeat per stone.
    #[arg(long = "polished", required = true)]
    pub(crate) outputs: Vec<String>,
    /// The cutter's name.
    #[arg(long)]
    pub(crate) cutter: String,
    /// The cutter's years of experience.
    #[arg(long)]
    pub(crate) experience_years: u16,
}

/// What `stone grade` attaches.
#[derive(Debug, Args)]
pub(crate) struct GradeArgs {
    #[command(flatten)]
    pub(crate) signer: Signer,
    /// The stone.
    #[arg(long)]
    pub(crate) stone: String,
    /// The report number.
    #[arg(long)]
    pub(crate) report: String,
    /// Graded weight in carats.
    #[arg(long)]
    pub(crate) carats: String,
    /// Colour grade.
    #[arg(long)]
    pub(crate) colour: String,
    /// Clarity grade.
    #[arg(long)]
    pub(crate) clarity: String,
    /// Cut grade.
    #[arg(long)]
    pub(crate) cut: String,
    /// The lab could not match the stone to its registered origin.
    #[arg(long)]
    pub(crate) origin_not_matched: bool,
    /// The full report document (its blake3 hash goes on the ledger).
    #[arg(long, value_name = "FILE")]
    pub(crate) report_file: Option<PathBuf>,
}

/// What `stone sell` records.
#[derive(Debug, Args)]
pub(crate) struct SellArgs {
    #[command(flatten)]
    pub(crate) signer: Signer,
    /// The stone.
    #[arg(long)]
    pub(crate) stone: String,
    /// The buyer's passport and sale terms (only a hash goes on the ledger).
    #[arg(long, default_value = "")]
    pub(crate) terms: String,
    /// The shop's name to print on the buyer's passport (signed with the sale).
    #[arg(long)]
    pub(crate) shop_name: Option<String>,
    /// The jewellery maker to name on the passport (needs --shop-name).
    #[arg(long, requires = "shop_name")]
    pub(crate) jeweller: Option<String>,
}

/// What `stone flag` records.
#[derive(Debug, Args)]
pub(crate) struct FlagArgs {
    #[command(flatten)]
    pub(crate) signer: Signer,
    /// The stone.
    #[arg(long)]
    pub(crate) stone: String,
    /// stolen, lost or disputed.
    #[arg(long)]
    pub(crate) reason: String,
}

/// A proposal to act on.
#[derive(Debug, Args)]
pub(crate) struct ProposalArgs {
    #[command(flatten)]
    pub(crate) signer: Signer,
    /// The proposal id (the transaction id printed by `propose-transfer`).
    #[arg(long)]
    pub(crate) proposal: String,
}

/// Verify arguments.
#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    /// The stone (fetches its proof from `--node`); omit with `--proof`.
    pub(crate) stone: Option<String>,
    /// Verify this exported passport instead of asking a node.
    #[arg(long, value_name = "FILE")]
    pub(crate) proof: Option<PathBuf>,
    /// The genesis file to verify against.
    #[arg(long, default_value = "genesis.toml")]
    pub(crate) genesis: PathBuf,
    /// The node to fetch the proof from (default 127.0.0.1:7001). With
    /// `--proof`, the node is asked what happened to the stone after the
    /// passport's block.
    #[arg(long, env = "GEMTRAIL_NODE")]
    pub(crate) node: Option<String>,
    /// Fail (exit 4) when the certified block is older than this, e.g.
    /// `10m`, `24h`, `7days`: a passport shows the history up to its
    /// certificate, and nothing after.
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub(crate) max_age: Option<std::time::Duration>,
    /// Check this disclosure against its transaction (on `--node`'s ledger,
    /// or inside the `--proof` passport) and print the disclosed value.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["stone", "max_age"])]
    pub(crate) disclosure: Option<PathBuf>,
    /// Your key, to open a disclosure sealed to you.
    #[arg(long, value_name = "FILE", requires = "disclosure")]
    pub(crate) key: Option<PathBuf>,
}

/// What `disclose` opens, and for whom.
#[derive(Debug, Args)]
pub(crate) struct DiscloseArgs {
    /// Your signing key: the openings kept beside it are read.
    #[arg(long, value_name = "FILE", env = "GEMTRAIL_KEY")]
    pub(crate) key: PathBuf,
    /// The transaction whose commitment to open.
    #[arg(long, value_name = "TX_ID")]
    pub(crate) tx: String,
    /// Which commitment: `terms`, `sale`, `report`, or `evidence:N`.
    #[arg(long, value_parser = committed_field)]
    pub(crate) field: gemtrail_ledger::commitment::CommittedField,
    /// Seal it to this member, so that only its keys can read it.
    #[arg(long, value_name = "ORG")]
    pub(crate) to: Option<String>,
    /// The node to read the member's keys from (with `--to`).
    #[arg(long, default_value = "127.0.0.1:7001", env = "GEMTRAIL_NODE")]
    pub(crate) node: String,
    /// Where to write the disclosure.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub(crate) out: PathBuf,
}

fn committed_field(text: &str) -> Result<gemtrail_ledger::commitment::CommittedField, String> {
    gemtrail_ledger::commitment::CommittedField::parse(text).ok_or_else(|| {
        format!("no committed field {text:?}: use terms, sale, report or evidence:N")
    })
}

/// A language the pages speak (checked before anything is fetched or written).
fn page_language(code: &str) -> Result<String, String> {
    let locales = gemtrail_web::Locales::embedded().map_err(|error| error.to_string())?;
    if locales.get(code).is_some() {
        return Ok(code.to_owned());
    }
    let known: Vec<&str> = locales.all().iter().map(|locale| locale.code()).collect();
    Err(format!(
        "no page language {code:?}; known: {}",
        known.join(", ")
    ))
}

/// Passport commands.
#[derive(Debug, Subcommand)]
pub(crate) enum PassportCommand {
    /// Fetch, verify and save a stone's passport.
    Export {
        /// The stone.
        stone: String,
        /// Where to write the proof (binary; verify with `gemtrail verify --proof`).
        #[arg(long, short = 'o')]
        out: PathBuf,
        /// Also write a human-readable passport (Markdown) here.
        #[arg(long, value_name = "FILE")]
        markdown: Option<PathBuf>,
        /// The buyer's page, one self-contained HTML file that works offline
        /// (default: the passport's path with `.html`).
        #[arg(long, value_name = "FILE")]
        html: Option<PathBuf>,
        /// The QR code of the passport's web address, as SVG (default: the
        /// passport's path with `.qr.svg`).
        #[arg(long, value_name = "FILE")]
        qr: Option<PathBuf>,
        /// The language of the HTML page (`en`, `zh`).
        #[arg(long, default_value = "en", value_parser = page_language)]
        lang: String,
        /// The genesis file to verify against before saving.
        #[arg(long, default_value = "genesis.toml")]
        genesis: PathBuf,
        /// The node.
        #[arg(long, default_value = "127.0.0.1:7001", env = "GEMTRAIL_NODE")]
        node: String,
    },
}

/// Ledger commands.
#[derive(Debug, Subcommand)]
pub(crate) enum LedgerCommand {
    /// Re-verify a stopped node's whole ledger from genesis.
    Audit {
        /// The node's data directory (the one holding `ledger/`).
        #[arg(long)]
        data_dir: PathBuf,
        /// The genesis file.
        #[arg(long, default_value = "genesis.toml")]
        genesis: PathBuf,
    },
}

/// Benchmark arguments.
#[derive(Debug, Args)]
pub(crate) struct BenchArgs {
    /// Concurrent submitters.
    #[arg(long, default_value_t = 64)]
    pub(crate) clients: usize,
    /// Seconds measured, after the warm-up.
    #[arg(long, default_value_t = 10)]
    pub(crate) seconds: u64,
    /// Seconds of warm-up, not measured.
    #[arg(long, default_value_t = 2)]
    pub(crate) warmup: u64,
    /// The most transactions per second the pre-signed workload can feed.
    #[arg(long, default_value_t = 15_000)]
    pub(crate) max_rate: u64,
    /// Offer this many transactions per second in all (spread over the
    /// clients), instead of as many as the cluster takes. Latency then runs
    /// from each transaction's scheduled time.
    #[arg(long)]
    pub(crate) rate: Option<u64>,
    /// The leader's batch timeout in milliseconds; without it, the genesis
    /// default that production runs with (20 ms).
    #[arg(long)]
    pub(crate) batch_timeout_ms: Option<u64>,
    /// Blocks between Raft snapshots (the genesis `snapshot_interval_blocks`).
    #[arg(long, default_value_t = 1000)]
    pub(crate) snapshot_interval_blocks: u64,
    /// How the clients reach the API: streams on a few shared HTTP/2
    /// connections, or one HTTP/1.1 connection per client.
    #[arg(long, value_enum, default_value_t = HttpVersion::Http2)]
    pub(crate) http: HttpVersion,
    /// With `--http http2`, the connections to each node the clients share.
    #[arg(long, default_value_t = 4)]
    pub(crate) connections: usize,
    /// Send transactions this many at a time through the batch endpoint
    /// (each client's stones a step at a time); 1 sends them one by one.
    #[arg(long, default_value_t = 1)]
    pub(crate) batch: usize,
}

/// The HTTP a load generator speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum HttpVersion {
    /// One kept-alive connection per client, one request at a time.
    Http1,
    /// Cleartext HTTP/2 with prior knowledge; clients share connections.
    Http2,
}

/// etcd benchmark arguments.
#[derive(Debug, Args)]
pub(crate) struct EtcdBenchArgs {
    /// The members' client URLs, comma-separated (clients are spread over them).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "http://127.0.0.1:2379,http://127.0.0.1:22379,http://127.0.0.1:32379"
    )]
    pub(crate) endpoints: Vec<String>,
    /// Concurrent clients.
    #[arg(long, default_value_t = 256)]
    pub(crate) clients: usize,
    /// Seconds measured, after the warm-up.
    #[arg(long, default_value_t = 20)]
    pub(crate) seconds: u64,
    /// Seconds of warm-up, not measured.
    #[arg(long, default_value_t = 2)]
    pub(crate) warmup: u64,
    /// Bytes per value.
    #[arg(long, default_value_t = 256)]
    pub(crate) value_bytes: usize,
    /// etcd's own gRPC API (as its clients and benchmark tool use it), or its
    /// JSON gateway over HTTP/1.1, which costs etcd far more per put.
    #[arg(long, value_enum, default_value_t = EtcdDriver::Grpc)]
    pub(crate) driver: EtcdDriver,
    /// With `--driver grpc`, the HTTP/2 connections the clients share, spread
    /// over the endpoints (etcd's benchmark tool defaults to a few; 12 here).
    #[arg(long, default_value_t = 12)]
    pub(crate) connections: usize,
}

/// How `bench-etcd` talks to etcd.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum EtcdDriver {
    /// `etcdserverpb.KV/Put` over gRPC, clients multiplexed on shared connections.
    Grpc,
    /// `POST /v3/kv/put` with JSON, one HTTP/1.1 connection per client.
    Json,
}

/// Scale benchmark arguments.
#[derive(Debug, Args)]
pub(crate) struct ScaleBenchArgs {
    /// Stones in the ledger at the end.
    #[arg(long, default_value_t = 1_000_000)]
    pub(crate) stones: u64,
    /// Stones in the ledger when the proof is first timed.
    #[arg(long, default_value_t = 10_000)]
    pub(crate) checkpoint: u64,
    /// Registrations per block.
    #[arg(long, default_value_t = 1_000)]
    pub(crate) block_txs: usize,
    /// Proof builds and verifications timed at each size (the median is kept).
    #[arg(long, default_value_t = 200)]
    pub(crate) proof_runs: usize,
    /// Where to build the ledger (a temporary directory inside it).
    #[arg(long)]
    pub(crate) dir: Option<PathBuf>,
    /// Keep the ledger afterwards (to audit it again with `ledger audit`).
    #[arg(long)]
    pub(crate) keep: bool,
}

/// Demo arguments.
#[derive(Debug, Args)]
pub(crate) struct DemoArgs {
    /// Keep the nodes running until Ctrl-C, so that you can open the
    /// passport and the explorer in a browser; then keep the demo's
    /// directory (keys, genesis, data, passport files) instead of deleting it.
    #[arg(long)]
    pub(crate) keep: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }
}

/// Governance commands: the admins' ceremony for a consortium change.
#[derive(Debug, Subcommand)]
pub(crate) enum GovernanceCommand {
    /// Draft a change into a file, approved by you (an admin) first.
    Draft(DraftArgs),
    /// Add your approval (as an admin) to a draft file, in place.
    Approve(ApproveArgs),
    /// Show a draft: the change, its approvals, and how many more it needs.
    Show(ShowDraftArgs),
    /// Submit a draft; prints the receipt, or the exact refusal (exit 3).
    Submit(SubmitDraftArgs),
}

/// An admin who signs a draft, and the node whose membership it checks against.
#[derive(Debug, Args)]
pub(crate) struct Approver {
    /// The node to read the chain id and the membership from.
    #[arg(long, default_value = "127.0.0.1:7001", env = "GEMTRAIL_NODE")]
    pub(crate) node: String,
    /// The admin's signing key file.
    #[arg(long, value_name = "FILE", env = "GEMTRAIL_KEY")]
    pub(crate) key: PathBuf,
    /// The admin member the key belongs to.
    #[arg(long = "as", value_name = "ORG", env = "GEMTRAIL_ORG")]
    pub(crate) org: String,
}

/// `governance draft`.
#[derive(Debug, Args)]
pub(crate) struct DraftArgs {
    /// Who drafts, and against which node.
    #[command(flatten)]
    pub(crate) approver: Approver,
    /// Where to write the draft (refuses to overwrite a file).
    #[arg(long, short = 'o', value_name = "FILE")]
    pub(crate) out: PathBuf,
    /// The transaction's nonce (default: random).
    #[arg(long)]
    pub(crate) nonce: Option<u64>,
    /// The change.
    #[command(subcommand)]
    pub(crate) change: ChangeCommand,
}

/// The governance changes.
#[derive(Debug, Subcommand)]
pub(crate) enum ChangeCommand {
    /// Admit a new member organisation.
    AddMember {
        /// Its organisation id (lower case); a removed member's id is refused.
        #[arg(long)]
        org: String,
        /// Its display name.
        #[arg(long)]
        name: String,
        /// Its roles, comma-separated: producer, manufacturer, trader, lab,
        /// retailer, auditor, admin.
        #[arg(long, value_delimiter = ',', required = true)]
        roles: Vec<String>,
        /// Its public key (`ed25519:<hex>`, from `gemtrail keys export-public`);
        /// repeat for more keys.
        #[arg(long = "public-key", required = true)]
        keys: Vec<String>,
    },
    /// Rename a member and replace its roles.
    UpdateMember {
        /// The member.
        #[arg(long)]
        org: String,
        /// Its display name.
        #[arg(long)]
        name: String,
        /// Its roles, comma-separated (they replace the current ones).
        #[arg(long, value_delimiter = ',', required = true)]
        roles: Vec<String>,
    },
    /// Remove a member that runs no node; its id is retired for good.
    RemoveMember {
        /// The member.
        #[arg(long)]
        org: String,
    },
    /// Replace one of a member's keys: the member makes a new key and hands
    /// its public key to an admin, who drafts this.
    RotateKey {
        /// The member.
        #[arg(long)]
        org: String,
        /// The key to retire (default: the member's only key).
        #[arg(long)]
        old: Option<String>,
        /// The new public key (`ed25519:<hex>`).
        #[arg(long)]
        new: String,
    },
    /// Admit a consensus node (`gemtrail node init` on its machine prints its
    /// peer id).
    AddNode {
        /// The node id (unused so far).
        #[arg(long)]
        id: u64,
        /// The member that runs it.
        #[arg(long)]
        member: String,
        /// Its libp2p peer id.
        #[arg(long)]
        peer_id: String,
        /// Its libp2p listen address, e.g. `/ip4/10.0.0.5/tcp/7000`.
        #[arg(long)]
        listen_addr: String,
        /// Its HTTP API address, e.g. `10.0.0.5:7001`.
        #[arg(long)]
        api_addr: String,
    },
    /// Remove a consensus node.
    RemoveNode {
        /// The node id.
        #[arg(long)]
        id: u64,
    },
}

/// `governance approve`.
#[derive(Debug, Args)]
pub(crate) struct ApproveArgs {
    /// Who approves, and against which node.
    #[command(flatten)]
    pub(crate) approver: Approver,
    /// The draft file; the approval is added to it in place.
    #[arg(long, value_name = "FILE")]
    pub(crate) file: PathBuf,
    /// Sign without reaching a node (away from the network): the approval is
    /// not checked against the membership now; `show` and the ledger judge it.
    #[arg(long)]
    pub(crate) offline: bool,
}

/// `governance show`.
#[derive(Debug, Args)]
pub(crate) struct ShowDraftArgs {
    /// The node to count the needed approvals against.
    #[arg(long, default_value = "127.0.0.1:7001", env = "GEMTRAIL_NODE")]
    pub(crate) node: String,
    /// The draft file.
    #[arg(long, value_name = "FILE")]
    pub(crate) file: PathBuf,
}

/// `governance submit`.
#[derive(Debug, Args)]
pub(crate) struct SubmitDraftArgs {
    /// The node to submit to.
    #[arg(long, default_value = "127.0.0.1:7001", env = "GEMTRAIL_NODE")]
    pub(crate) node: String,
    /// The draft file.
    #[arg(long, value_name = "FILE")]
    pub(crate) file: PathBuf,
    /// Do not wait for the commit; print the transaction id and return.
    #[arg(long)]
    pub(crate) no_wait: bool,
}
