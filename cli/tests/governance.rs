//! The admins' governance ceremony through the real `gemtrail` binary, on a
//! consortium of three node processes founded with the CLI: drafting,
//! approving, inspecting and submitting a change; the refusals at each step
//! with their codes and exit codes; a key rotation; and a fourth node that
//! joins by CLI commands alone, catches up, votes, and outlives the original
//! leader.

// Test code: a failed unwrap is the test's failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]
// Tests are exempt from the 70-line rule: a ceremony reads best in one piece.
#![allow(clippy::too_many_lines)]

mod support;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use support::*;

/// `gemtrail --output json ARGS`, parsed; asserts success.
fn json(dir: &Path, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["--output", "json"];
    all.extend_from_slice(args);
    serde_json::from_str(&ok(dir, &all)).unwrap()
}

/// Asserts `output` failed with `exit` and that its stderr names `code`.
fn failed_with(output: &Output, exit: i32, code: &str) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(exit), "{stderr}");
    assert!(stderr.contains(code), "expected {code} in: {stderr}");
    stderr
}

/// `governance draft` by `admin` into `file`, then `change` and its flags.
fn draft(consortium: &Consortium, admin: &str, file: &str, change: &[&str]) -> Output {
    let key = format!("{admin}.key");
    let mut args = vec![
        "governance",
        "draft",
        "--node",
        &consortium.api[0],
        "--key",
        &key,
        "--as",
        admin,
        "--out",
        file,
    ];
    args.extend_from_slice(change);
    gemtrail(consortium.path(), &args)
}

/// `governance approve` of `file` by `member`.
fn approve(consortium: &Consortium, member: &str, file: &str) -> Output {
    let key = format!("{member}.key");
    gemtrail(
        consortium.path(),
        &[
            "governance",
            "approve",
            "--node",
            &consortium.api[0],
            "--key",
            &key,
            "--as",
            member,
            "--file",
            file,
        ],
    )
}

fn submit(consortium: &Consortium, via: &str, file: &str) -> Output {
    gemtrail(
        consortium.path(),
        &["governance", "submit", "--node", via, "--file", file],
    )
}

fn succeeded(output: &Output) -> String {
    assert!(
        output.status.success(),
        "failed ({:?}):\n{}{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).unwrap()
}

/// Drafts `change` as `miner`, approves it as `cutter`, submits it via `via`.
fn enact(consortium: &Consortium, file: &str, via: &str, change: &[&str]) -> String {
    succeeded(&draft(consortium, "miner", file, change));
    succeeded(&approve(consortium, "cutter", file));
    succeeded(&submit(consortium, via, file))
}

#[test]
fn three_admins_draft_approve_show_and_submit_a_new_member_and_each_wrong_step_is_refused() {
    let consortium = found();
    let root = consortium.path();
    ok(root, &["keys", "new", "--out", "trader.key"]);
    let trader_key = ok(root, &["keys", "export-public", "--key", "trader.key"]);
    let add_trader = [
        "add-member",
        "--org",
        "trader",
        "--name",
        "Ramat Gan Traders",
        "--roles",
        "trader",
        "--public-key",
        trader_key.trim(),
    ];

    // Submitted with the drafter's approval alone: refused, and told how many more.
    succeeded(&draft(&consortium, "miner", "alone.json", &add_trader));
    let stderr = failed_with(
        &submit(&consortium, &consortium.api[1], "alone.json"),
        3,
        "not_enough_admin_approvals",
    );
    assert!(stderr.contains("1 more admin approval"), "{stderr}");

    // The ceremony: draft, two approvals, show, submit.
    let drafted = succeeded(&draft(&consortium, "miner", "trader.json", &add_trader));
    assert!(
        drafted.contains("needs 1 more admin approval(s), from: auditor, cutter"),
        "{drafted}"
    );
    // A non-admin's approval is refused when it is added, with the ledger's code.
    failed_with(
        &approve(&consortium, "lab", "trader.json"),
        3,
        "missing_role",
    );
    succeeded(&approve(&consortium, "cutter", "trader.json"));
    failed_with(
        &approve(&consortium, "cutter", "trader.json"),
        3,
        "duplicate_approval",
    );
    succeeded(&approve(&consortium, "auditor", "trader.json"));
    let shown = json(
        root,
        &[
            "governance",
            "show",
            "--node",
            &consortium.api[2],
            "--file",
            "trader.json",
        ],
    );
    assert_eq!(shown["approvals"].as_array().unwrap().len(), 3);
    assert_eq!(shown["required"], 2);
    assert_eq!(shown["missing"], 0);
    assert_eq!(shown["change"]["add_member"]["org"], "trader");
    let shown_text = ok(
        root,
        &[
            "governance",
            "show",
            "--node",
            &consortium.api[0],
            "--file",
            "trader.json",
        ],
    );
    assert!(
        shown_text.contains("add member trader (\"Ramat Gan Traders\"), roles: trader"),
        "{shown_text}"
    );
    assert!(shown_text.contains("ready"), "{shown_text}");

    // A copy altered after the approvals is refused by approve, show and submit.
    let text = std::fs::read_to_string(root.join("trader.json")).unwrap();
    std::fs::write(
        root.join("forged.json"),
        text.replace("Ramat Gan Traders", "Forged Traders"),
    )
    .unwrap();
    failed_with(
        &approve(&consortium, "auditor", "forged.json"),
        4,
        "draft_altered",
    );
    failed_with(
        &submit(&consortium, &consortium.api[0], "forged.json"),
        4,
        "draft_altered",
    );

    let receipt = succeeded(&submit(&consortium, &consortium.api[1], "trader.json"));
    assert!(receipt.contains("committed in block"), "{receipt}");
    let members = json(root, &["members", "--node", &consortium.api[2]]);
    let trader = members["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|member| member["org"] == "trader")
        .expect("trader is a member");
    assert_eq!(trader["roles"], serde_json::json!(["trader"]));
    assert_eq!(trader["keys"][0], trader_key.trim());
    let listed = ok(root, &["members", "--node", &consortium.api[0]]);
    assert!(
        listed.contains("a governance change needs 2 of 3 admins"),
        "{listed}"
    );
}

#[test]
fn after_a_key_rotation_the_old_key_is_refused_the_new_one_works_and_old_passports_verify() {
    let consortium = found();
    let root = consortium.path();
    register(&consortium, "GT-OLD");
    ok(root, &["keys", "new", "--out", "miner-2026.key"]);
    let new_key = ok(root, &["keys", "export-public", "--key", "miner-2026.key"]);
    // The member hands its new public key to the admins; --old defaults to its only key.
    let receipt = enact(
        &consortium,
        "rotate.json",
        &consortium.api[0],
        &["rotate-key", "--org", "miner", "--new", new_key.trim()],
    );
    assert!(receipt.contains("committed in block"), "{receipt}");

    consortium.refused(
        "miner",
        "register",
        &register_args("GT-STALE"),
        "key_not_of_member",
    );
    register_via(root, &consortium.api[0], "miner-2026.key", "GT-NEW");

    // The stone registered under the retired key still verifies, online and offline.
    ok(
        root,
        &[
            "verify",
            "GT-OLD",
            "--node",
            &consortium.api[1],
            "--genesis",
            "genesis.toml",
        ],
    );
    ok(
        root,
        &[
            "passport",
            "export",
            "GT-OLD",
            "-o",
            "old.passport",
            "--node",
            &consortium.api[2],
        ],
    );
    let verified = ok(
        root,
        &[
            "verify",
            "--proof",
            "old.passport",
            "--genesis",
            "genesis.toml",
        ],
    );
    assert!(verified.contains("GT-OLD"), "{verified}");
}

fn register_args(stone: &str) -> Vec<&str> {
    let mut args = vec!["--stone", stone];
    args.extend_from_slice(&REGISTER);
    args
}

/// The miner registers `stone` through the node at `api`, signing with `key`.
fn register_via(root: &Path, api: &str, key: &str, stone: &str) {
    let mut args = vec![
        "stone", "register", "--node", api, "--key", key, "--as", "miner",
    ];
    args.extend(register_args(stone));
    let printed = ok(root, &args);
    assert!(printed.contains("committed in block"), "{printed}");
}

/// The voters node `api` reports.
fn voters(root: &Path, api: &str) -> Vec<u64> {
    let status = json(root, &["status", "--node", api]);
    status["voters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|id| id.as_u64().unwrap())
        .collect()
}

fn wait_for_voters(root: &Path, api: &str, wanted: &[u64]) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let now = voters(root, api);
        if now == wanted {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "voters still {now:?}, want {wanted:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn a_fourth_node_joins_by_cli_alone_votes_and_outlives_the_removed_original_leader() {
    let mut consortium = found();
    let root = consortium.path().to_owned();
    register(&consortium, "GT-J1");

    // The newcomer's operator makes the node directory and hands over its peer id.
    let ports = free_ports(2);
    let listen = format!("/ip4/127.0.0.1/tcp/{}", ports[0]);
    let api = format!("127.0.0.1:{}", ports[1]);
    let init = json(
        &root,
        &[
            "node",
            "init",
            "--dir",
            "node4",
            "--genesis",
            "genesis.toml",
            "--node-id",
            "4",
            "--listen-addr",
            &listen,
            "--api-addr",
            &api,
        ],
    );
    let peer_id = init["peer_id"].as_str().unwrap().to_owned();
    let receipt = enact(
        &consortium,
        "node4.json",
        &consortium.api[1],
        &[
            "add-node",
            "--id",
            "4",
            "--member",
            "lab",
            "--peer-id",
            &peer_id,
            "--listen-addr",
            &listen,
            "--api-addr",
            &api,
        ],
    );
    assert!(receipt.contains("committed in block"), "{receipt}");
    let log = std::fs::File::create(root.join("node4/node.log")).unwrap();
    consortium.nodes.push(
        Command::new(gemtrail_path())
            .args(["node", "start", "--config"])
            .arg(root.join("node4/node.toml"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap(),
    );
    consortium.api.push(api.clone());
    wait_for_voters(&root, &consortium.api[0], &[1, 2, 3, 4]);
    let members = json(&root, &["members", "--node", &api]);
    assert_eq!(members["nodes"].as_array().unwrap().len(), 4);

    // It commits through the new node, then the original leader is removed.
    register_via(&root, &api, "miner.key", "GT-J2");
    let leader = json(&root, &["status", "--node", &api])["leader"]
        .as_u64()
        .unwrap();
    let leader_text = leader.to_string();
    enact(
        &consortium,
        "remove-leader.json",
        &api,
        &["remove-node", "--id", &leader_text],
    );
    let staying: Vec<u64> = [1, 2, 3, 4]
        .into_iter()
        .filter(|id| *id != leader)
        .collect();
    wait_for_voters(&root, &api, &staying);

    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let status = json(&root, &["status", "--node", &api]);
        if status["leader"].as_u64().is_some_and(|now| now != leader) {
            break;
        }
        assert!(Instant::now() < deadline, "no new leader: {status}");
        std::thread::sleep(Duration::from_millis(200));
    }
    register_via(&root, &api, "miner.key", "GT-J3");
}
