//! End to end through the real `gemtrail` binary: a consortium founded with
//! the CLI (keys, genesis ceremony, node init), three node processes on
//! loopback, the whole journey, refused actions with their reasons and exit
//! codes, online and offline verification, a tampered passport, and the demo.

// Test code: a failed unwrap is the test's failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]
// Tests are exempt from the 70-line rule: a journey reads best in one piece.
#![allow(clippy::too_many_lines)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

const MEMBERS: [(&str, &str, &str); 5] = [
    ("miner", "Kimberley Mining Co.", "producer,admin"),
    ("cutter", "Antwerp Cutting Works", "manufacturer,admin"),
    ("lab", "Independent Gem Laboratory", "lab"),
    ("retailer", "Bond Street Jewellers", "retailer"),
    ("auditor", "Consortium Audit Services", "auditor,admin"),
];
const NODES: [(u64, &str); 3] = [(1, "miner"), (2, "cutter"), (3, "retailer")];

/// One consortium at a time: each runs three node processes.
static TURN: Mutex<()> = Mutex::new(());

fn turn() -> MutexGuard<'static, ()> {
    TURN.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn gemtrail_path() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_gemtrail"))
}

/// Runs `gemtrail ARGS` in `dir` and returns its output.
fn gemtrail(dir: &Path, args: &[&str]) -> Output {
    assert_cmd::Command::new(gemtrail_path())
        .current_dir(dir)
        .args(args)
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap()
}

/// Runs `gemtrail ARGS` and asserts success; returns stdout.
fn ok(dir: &Path, args: &[&str]) -> String {
    let output = gemtrail(dir, args);
    assert!(
        output.status.success(),
        "gemtrail {args:?} failed ({:?}):\n{}{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

fn free_ports(count: usize) -> Vec<u16> {
    let listeners: Vec<_> = (0..count)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    listeners
        .iter()
        .map(|listener| listener.local_addr().unwrap().port())
        .collect()
}

/// A consortium founded through the CLI, its nodes running as processes.
struct Consortium {
    dir: tempfile::TempDir,
    api: Vec<String>,
    nodes: Vec<Child>,
    _turn: MutexGuard<'static, ()>,
}

impl Drop for Consortium {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(node.id().to_string())
                .status();
        }
        for node in &mut self.nodes {
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline && matches!(node.try_wait(), Ok(None)) {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = node.kill();
            let _ = node.wait();
        }
    }
}

impl Consortium {
    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The API address of the node run by `member`.
    fn node_of(&self, member: &str) -> &str {
        let index = NODES
            .iter()
            .position(|(_, owner)| *owner == member)
            .unwrap_or(0);
        &self.api[index]
    }

    /// `gemtrail stone SUBCOMMAND` as `member`, through its own node (or
    /// node 1 for members without one).
    fn stone(&self, member: &str, subcommand: &str, args: &[&str]) -> Output {
        let key = format!("{member}.key");
        let mut all = vec![
            "stone",
            subcommand,
            "--node",
            self.node_of(member),
            "--key",
            &key,
            "--as",
            member,
        ];
        all.extend_from_slice(args);
        gemtrail(self.path(), &all)
    }

    fn stone_ok(&self, member: &str, subcommand: &str, args: &[&str]) -> String {
        let output = self.stone(member, subcommand, args);
        assert!(
            output.status.success(),
            "{member} {subcommand} {args:?} failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    }

    /// A refused action: exit code 3 and the ledger's or the API's code.
    fn refused(&self, member: &str, subcommand: &str, args: &[&str], code: &str) {
        let output = self.stone(member, subcommand, args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(
            output.status.code(),
            Some(3),
            "{subcommand} {args:?}: {stderr}"
        );
        assert!(stderr.contains(code), "expected {code}, got: {stderr}");
    }
}

/// Founds the consortium the way its members would, then starts the nodes.
fn found() -> Consortium {
    let turn = turn();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    ok(root, &["genesis", "new", "--chain-id", "cli-test"]);
    for (id, name, roles) in MEMBERS {
        let key_file = format!("{id}.key");
        ok(root, &["keys", "new", "--out", &key_file]);
        let public = ok(root, &["keys", "export-public", "--key", &key_file]);
        ok(
            root,
            &[
                "genesis",
                "add-member",
                "--id",
                id,
                "--name",
                name,
                "--roles",
                roles,
                "--key",
                public.trim(),
            ],
        );
    }
    let ports = free_ports(NODES.len() * 2);
    let mut api = Vec::new();
    for (index, (id, member)) in NODES.iter().enumerate() {
        let node_dir = format!("node{id}");
        let init = ok(
            root,
            &["--output", "json", "node", "init", "--dir", &node_dir],
        );
        let init: serde_json::Value = serde_json::from_str(&init).unwrap();
        let peer_id = init["peer_id"].as_str().unwrap().to_owned();
        let listen = format!("/ip4/127.0.0.1/tcp/{}", ports[index * 2]);
        let api_addr = format!("127.0.0.1:{}", ports[index * 2 + 1]);
        ok(
            root,
            &[
                "genesis",
                "add-node",
                "--id",
                &id.to_string(),
                "--member",
                member,
                "--peer-id",
                &peer_id,
                "--listen-addr",
                &listen,
                "--api-addr",
                &api_addr,
            ],
        );
        api.push(api_addr);
    }
    let validated = ok(root, &["genesis", "validate"]);
    assert!(validated.contains("is valid"), "{validated}");
    let hash = ok(root, &["genesis", "hash"]);
    assert_eq!(hash.trim().len(), 64);
    let mut nodes = Vec::new();
    for (id, _) in NODES {
        let node_dir = root.join(format!("node{id}"));
        std::fs::copy(root.join("genesis.toml"), node_dir.join("genesis.toml")).unwrap();
        let log = std::fs::File::create(node_dir.join("node.log")).unwrap();
        nodes.push(
            Command::new(gemtrail_path())
                .args(["node", "start", "--config"])
                .arg(node_dir.join("node.toml"))
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .unwrap(),
        );
    }
    let consortium = Consortium {
        dir,
        api,
        nodes,
        _turn: turn,
    };
    // Wait until every node knows the same leader.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let leaders: Vec<Option<u64>> = consortium
            .api
            .iter()
            .map(|api| {
                let output = gemtrail(
                    consortium.path(),
                    &["--output", "json", "status", "--node", api],
                );
                serde_json::from_slice::<serde_json::Value>(&output.stdout)
                    .ok()
                    .and_then(|status| status["leader"].as_u64())
            })
            .collect();
        if leaders
            .iter()
            .all(|leader| leader.is_some() && *leader == leaders[0])
        {
            break;
        }
        assert!(Instant::now() < deadline, "no leader: {leaders:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
    consortium
}

const REGISTER: [&str; 14] = [
    "--mine",
    "Jwaneng",
    "--country",
    "BW",
    "--region",
    "Southern District",
    "--extracted",
    "2026-03-14",
    "--carats",
    "12.50",
    "--kp-certificate",
    "BW-KP-2026-0042",
    "--description",
    "octahedral",
];

fn register(consortium: &Consortium, stone: &str) {
    let mut args = vec!["--stone", stone];
    args.extend_from_slice(&REGISTER);
    let printed = consortium.stone_ok("miner", "register", &args);
    assert!(printed.contains("committed in block"), "{printed}");
}

/// Proposes `stone` from `from` to `to` and returns the proposal id.
fn propose(consortium: &Consortium, from: &str, stone: &str, to: &str) -> String {
    let printed = consortium.stone_ok(from, "propose-transfer", &["--stones", stone, "--to", to]);
    printed
        .lines()
        .find_map(|line| line.strip_prefix("proposal id: "))
        .unwrap_or_else(|| panic!("no proposal id in: {printed}"))
        .trim()
        .to_owned()
}

#[test]
fn a_consortium_founded_with_the_cli_runs_the_whole_journey_and_verifies_it() {
    let mut consortium = found();
    register(&consortium, "GT-1");
    let to_cutter = propose(&consortium, "miner", "GT-1", "cutter");
    consortium.stone_ok("cutter", "accept", &["--proposal", &to_cutter]);
    consortium.stone_ok(
        "cutter",
        "manufacture",
        &[
            "--rough",
            "GT-1",
            "--polished",
            "GT-1-A:3.10:round brilliant:D:VVS1:Excellent",
            "--polished",
            "GT-1-B:2.05:oval:E:VS1:Very Good",
            "--cutter",
            "Sarah Levi",
            "--experience-years",
            "22",
        ],
    );
    consortium.stone_ok(
        "lab",
        "grade",
        &[
            "--stone",
            "GT-1-A",
            "--report",
            "IGL-118842",
            "--carats",
            "3.10",
            "--colour",
            "D",
            "--clarity",
            "VVS1",
            "--cut",
            "Excellent",
        ],
    );
    let to_retailer = propose(&consortium, "cutter", "GT-1-A", "retailer");
    consortium.stone_ok("retailer", "accept", &["--proposal", &to_retailer]);
    let root = consortium.path().to_owned();
    let node = consortium.node_of("retailer").to_owned();
    // A passport taken before the sale, checked again after it below.
    ok(
        &root,
        &[
            "passport",
            "export",
            "GT-1-A",
            "-o",
            "before-sale.passport",
            "--node",
            &node,
        ],
    );
    consortium.stone_ok("retailer", "sell", &["--stone", "GT-1-A"]);

    let root = root.as_path();
    let node = node.as_str();
    let shown = ok(
        root,
        &[
            "--output", "json", "stone", "show", "GT-1-A", "--node", node,
        ],
    );
    let shown: serde_json::Value = serde_json::from_str(&shown).unwrap();
    assert_eq!(shown["custodian"], "retailer");
    assert_eq!(shown["status"], "sold");
    let history = ok(root, &["stone", "history", "GT-1-A", "--node", node]);
    assert!(history.contains("sell"), "{history}");

    // Online verification prints the journey from the mine.
    let verified = ok(
        root,
        &[
            "verify",
            "GT-1-A",
            "--node",
            node,
            "--genesis",
            "genesis.toml",
        ],
    );
    for expected in [
        "Provenance of GT-1-A (verified)",
        "Jwaneng mine",
        "BW-KP-2026-0042",
        "Sarah Levi (22 years)",
        "IGL-118842",
        "sold",
    ] {
        assert!(
            verified.contains(expected),
            "missing {expected:?} in:\n{verified}"
        );
    }
    // A passport verifies offline, with no node at all.
    ok(
        root,
        &[
            "passport",
            "export",
            "GT-1-A",
            "-o",
            "GT-1-A.passport",
            "--markdown",
            "GT-1-A.md",
            "--node",
            node,
        ],
    );
    let markdown = std::fs::read_to_string(root.join("GT-1-A.md")).unwrap();
    assert!(
        markdown.contains("# Diamond passport: GT-1-A"),
        "{markdown}"
    );
    let offline = ok(
        root,
        &[
            "verify",
            "--proof",
            "GT-1-A.passport",
            "--genesis",
            "genesis.toml",
        ],
    );
    assert!(offline.contains("Jwaneng mine"), "{offline}");
    assert!(!offline.contains("Since the passport"), "{offline}");

    // The older passport is complete as of its block, and a node tells what
    // happened since: the sale.
    let verify_before_sale = |extra: &[&str]| {
        let mut args = vec![
            "verify",
            "--proof",
            "before-sale.passport",
            "--genesis",
            "genesis.toml",
        ];
        args.extend_from_slice(extra);
        ok(root, &args)
    };
    let before_sale = verify_before_sale(&[]);
    assert!(
        before_sale.contains("active held by retailer"),
        "{before_sale}"
    );
    // Its certificate names who signed its block; `--max-age` refuses it
    // once that block is older than the auditor accepts.
    assert!(
        before_sale.contains("), certified by nodes "),
        "{before_sale}"
    );
    verify_before_sale(&["--max-age", "1h"]);
    std::thread::sleep(Duration::from_millis(50));
    let output = gemtrail(
        root,
        &[
            "verify",
            "--proof",
            "before-sale.passport",
            "--genesis",
            "genesis.toml",
            "--max-age",
            "10ms",
        ],
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(4), "{stderr}");
    assert!(
        stderr.contains("older than the --max-age of 10ms"),
        "{stderr}"
    );
    let output = gemtrail(
        root,
        &[
            "verify",
            "--proof",
            "before-sale.passport",
            "--max-age",
            "soon",
        ],
    );
    assert_eq!(
        output.status.code(),
        Some(2),
        "a duration that does not parse is a usage error"
    );
    let since = verify_before_sale(&["--node", node]);
    let tail = since
        .split("Since the passport's block")
        .nth(1)
        .unwrap_or("");
    assert!(
        tail.contains("reports (not part of the verified passport)")
            && tail.contains("sell by retailer"),
        "{since}"
    );

    // The same passport with one field altered (the mine's name) fails.
    let bytes = std::fs::read(root.join("GT-1-A.passport")).unwrap();
    let at = bytes
        .windows(7)
        .position(|window| window == b"Jwaneng")
        .unwrap();
    let mut altered = bytes.clone();
    altered[at..at + 7].copy_from_slice(b"Jwanenx");
    std::fs::write(root.join("altered.passport"), altered).unwrap();
    let output = gemtrail(
        root,
        &[
            "verify",
            "--proof",
            "altered.passport",
            "--genesis",
            "genesis.toml",
        ],
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(4), "{stderr}");
    assert!(stderr.contains("the proof does not verify"), "{stderr}");

    // `ledger audit` re-verifies a stopped node's ledger from the genesis.
    let status = ok(root, &["--output", "json", "status", "--node", node]);
    let height = serde_json::from_str::<serde_json::Value>(&status).unwrap()["height"]
        .as_u64()
        .unwrap();
    let root = root.to_owned();
    let root = root.as_path();
    let mut retailer_node = consortium.nodes.remove(2);
    Command::new("kill")
        .arg("-TERM")
        .arg(retailer_node.id().to_string())
        .status()
        .unwrap();
    assert!(
        retailer_node.wait().unwrap().success(),
        "the node did not stop cleanly on SIGTERM"
    );
    let audit = ok(
        root,
        &[
            "--output",
            "json",
            "ledger",
            "audit",
            "--data-dir",
            "node3/data",
        ],
    );
    let audit: serde_json::Value = serde_json::from_str(&audit).unwrap();
    assert_eq!(audit["clean"], true, "{audit}");
    assert_eq!(audit["tip_height"].as_u64(), Some(height), "{audit}");
}

#[test]
fn refused_actions_give_their_reason_and_exit_code_3() {
    let consortium = found();
    register(&consortium, "GT-2");
    register(&consortium, "GT-3");
    // A transfer signed by a member that is not the custodian.
    consortium.refused(
        "cutter",
        "propose-transfer",
        &["--stones", "GT-2", "--to", "retailer"],
        "not_custodian",
    );
    // Accepting a proposal made to someone else.
    let to_cutter = propose(&consortium, "miner", "GT-2", "cutter");
    consortium.refused(
        "retailer",
        "accept",
        &["--proposal", &to_cutter],
        "not_receiver",
    );
    consortium.stone_ok("cutter", "accept", &["--proposal", &to_cutter]);
    // Manufacturing more carats than the rough weighs (12.50 ct).
    consortium.refused(
        "cutter",
        "manufacture",
        &[
            "--rough",
            "GT-2",
            "--polished",
            "GT-2-A:13.00:round:D:IF:Excellent",
            "--cutter",
            "A. Cutter",
            "--experience-years",
            "3",
        ],
        "carats_exceeded",
    );
    // Transferring a flagged stone.
    consortium.stone_ok(
        "miner",
        "flag",
        &["--stone", "GT-3", "--reason", "disputed"],
    );
    consortium.refused(
        "miner",
        "propose-transfer",
        &["--stones", "GT-3", "--to", "cutter"],
        "stone_flagged",
    );
    // Selling as a member without the retailer role.
    consortium.refused("cutter", "sell", &["--stone", "GT-2"], "missing_role");
    // A replayed transaction: the same signer, action and nonce.
    consortium.stone_ok("miner", "clear-flag", &["--stone", "GT-3", "--nonce", "77"]);
    consortium.refused(
        "miner",
        "clear-flag",
        &["--stone", "GT-3", "--nonce", "77"],
        "replay",
    );
    // A key that is not a member's.
    ok(consortium.path(), &["keys", "new", "--out", "stranger.key"]);
    let output = gemtrail(
        consortium.path(),
        &[
            "stone",
            "flag",
            "--node",
            consortium.node_of("miner"),
            "--key",
            "stranger.key",
            "--as",
            "miner",
            "--stone",
            "GT-3",
            "--reason",
            "lost",
        ],
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("key_not_of_member") || stderr.contains("not one of miner's keys"),
        "{stderr}"
    );
    assert!(stderr.contains("hint:"), "{stderr}");
}

#[test]
fn the_demo_runs_to_completion() {
    let _turn = turn();
    let dir = tempfile::tempdir().unwrap();
    let output = gemtrail(dir.path(), &["demo"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for expected in [
        "REFUSED miner",
        "not_custodian",
        "Provenance of GT-DEMO-A (verified)",
        "sold by retailer",
        "Stopped all nodes",
    ] {
        assert!(
            stdout.contains(expected),
            "missing {expected:?} in:\n{stdout}"
        );
    }
}

#[test]
fn usage_errors_and_missing_files_say_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let output = gemtrail(
        dir.path(),
        &[
            "verify",
            "--proof",
            "missing.passport",
            "--genesis",
            "missing.toml",
        ],
    );
    assert_eq!(output.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("cannot read passport missing.passport")
    );
    let output = gemtrail(
        dir.path(),
        &["stone", "show", "GT-1", "--node", "127.0.0.1:9"],
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("hint: is the node running?"), "{stderr}");
    let output = gemtrail(dir.path(), &["stone", "register"]);
    assert_eq!(output.status.code(), Some(2));
    let output = gemtrail(dir.path(), &["genesis", "validate", "nothing.toml"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("nothing.toml"));
}

#[test]
fn a_short_bench_commits_a_valid_workload_with_nothing_rejected() {
    let _turn = turn();
    let dir = tempfile::tempdir().unwrap();
    let stdout = ok(
        dir.path(),
        &[
            "--output",
            "json",
            "bench",
            "--clients",
            "4",
            "--seconds",
            "2",
            "--warmup",
            "1",
            "--max-rate",
            "2000",
        ],
    );
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["rejected"], 0, "{report}");
    assert_eq!(report["errors"], 0, "{report}");
    // Without --batch-timeout-ms the cluster batches as production does.
    assert_eq!(report["batch_timeout_ms"], 20, "{report}");
    assert!(report["committed"].as_u64().unwrap() > 0, "{report}");
    assert!(
        report["committed_tx_per_s"].as_f64().unwrap() > 0.0,
        "{report}"
    );
    let latency = &report["latency_ms"];
    assert!(latency["p50"].as_f64().unwrap() > 0.0, "{report}");
    assert!(
        latency["p50"].as_f64().unwrap() <= latency["p99"].as_f64().unwrap(),
        "{report}"
    );
    assert_eq!(report["nodes"].as_array().unwrap().len(), 3, "{report}");
    assert!(
        report["nodes"][0]["peak_rss_mb"].as_f64().unwrap() > 0.0,
        "{report}"
    );
}

#[test]
fn a_small_scale_bench_builds_audits_and_proves_a_ten_event_stone() {
    let dir = tempfile::tempdir().unwrap();
    let dir_arg = dir.path().to_str().unwrap().to_owned();
    let stdout = ok(
        dir.path(),
        &[
            "--output",
            "json",
            "bench-scale",
            "--stones",
            "3000",
            "--checkpoint",
            "1000",
            "--block-txs",
            "500",
            "--proof-runs",
            "3",
            "--dir",
            &dir_arg,
        ],
    );
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["build"]["stones"], 3000, "{report}");
    // The tracked stone's ten events plus 2,999 registrations.
    assert_eq!(report["build"]["transactions"], 3009, "{report}");
    assert_eq!(report["proof_small"]["stones"], 1000, "{report}");
    assert_eq!(report["proof_small"]["events"], 10, "{report}");
    assert_eq!(report["proof_large"]["events"], 10, "{report}");
    assert!(report["proof_ratio"].as_f64().unwrap() > 0.0, "{report}");
    assert_eq!(report["audit"]["clean"], true, "{report}");
    assert_eq!(report["audit"]["transactions"], 3009, "{report}");
    // The ledger was removed: only the directory it was built in is left.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn bench_refuses_bad_arguments_before_starting_nodes() {
    let dir = tempfile::tempdir().unwrap();
    let output = gemtrail(dir.path(), &["bench", "--clients", "0"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr)
        .contains("--clients and --seconds must be at least 1"));
    // The batch timeout goes through the genesis rules, with their range.
    let output = gemtrail(dir.path(), &["bench", "--batch-timeout-ms", "0"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr)
        .contains("consensus.batch_timeout_ms: 0 is out of range (expected 1 to 10000)"));
}

#[test]
fn bench_scale_refuses_a_checkpoint_at_or_above_the_size() {
    let dir = tempfile::tempdir().unwrap();
    let output = gemtrail(
        dir.path(),
        &["bench-scale", "--stones", "100", "--checkpoint", "100"],
    );
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--checkpoint must be"));
}
