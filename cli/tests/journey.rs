//! End to end through the real `gemtrail` binary: a consortium founded with
//! the CLI (keys, genesis ceremony, node init), three node processes on
//! loopback, the whole journey, refused actions with their reasons and exit
//! codes, online and offline verification, a tampered passport, and the demo.

// Test code: a failed unwrap is the test's failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]
// Tests are exempt from the 70-line rule: a journey reads best in one piece.
#![allow(clippy::too_many_lines)]

mod support;

use std::process::Command;
use std::time::Duration;

use support::*;

#[test]
fn a_consortium_founded_with_the_cli_runs_the_whole_journey_and_verifies_it() {
    let mut consortium = found();
    cut_and_grade_gt1(&consortium);
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
    // A page language the passport does not speak stops before the node is
    // asked or any file written.
    let output = gemtrail(
        dir.path(),
        &[
            "passport",
            "export",
            "GT-1",
            "-o",
            "x.passport",
            "--lang",
            "fr",
            "--node",
            "127.0.0.1:9",
        ],
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("no page language \"fr\"; known: en, zh"),
        "{stderr}"
    );
    assert!(!dir.path().join("x.passport").exists());
    // Jewellery without a shop to present it is a usage error.
    let output = gemtrail(
        dir.path(),
        &[
            "stone",
            "sell",
            "--key",
            "k",
            "--as",
            "retailer",
            "--stone",
            "X",
            "--jeweller",
            "J",
        ],
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--shop-name"));
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
