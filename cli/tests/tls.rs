//! The API over HTTPS: a one-node consortium whose node was made with
//! `node init --tls` and takes only signed requests. The CLI reaches it
//! trusting its certificate by CA file or by pinned fingerprint, signs its
//! reads (`GEMTRAIL_KEY`, `GEMTRAIL_ORG`) and a transaction through it, is
//! refused unsigned, and refuses a node whose certificate is not the one it
//! trusts, with its own code.

// Test code: a failed unwrap is the test's failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]
// The shared consortium set-up reads best in one piece (as in journey.rs).
#![allow(clippy::too_many_lines)]

mod support;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::*;

/// The node process, stopped when dropped.
struct Node(Child);

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Founds a one-member, one-node consortium in `root` with an HTTPS API;
/// returns its `https://` address and the certificate's fingerprint.
fn found_https(root: &Path) -> (String, String) {
    ok(root, &["genesis", "new", "--chain-id", "tls-test"]);
    ok(root, &["keys", "new", "--out", "miner.key"]);
    let public = ok(root, &["keys", "export-public", "--key", "miner.key"]);
    ok(
        root,
        &[
            "genesis",
            "add-member",
            "--id",
            "miner",
            "--name",
            "Kimberley Mining Co.",
            "--roles",
            "producer,admin",
            "--key",
            public.trim(),
        ],
    );
    let init = ok(
        root,
        &[
            "--output", "json", "node", "init", "--dir", "node1", "--tls",
        ],
    );
    let init: serde_json::Value = serde_json::from_str(&init).unwrap();
    let fingerprint = init["tls_fingerprint"].as_str().unwrap().to_owned();
    assert!(
        fingerprint.starts_with("sha256:") && fingerprint.len() == 71,
        "{fingerprint}"
    );
    let ports = free_ports(2);
    let api_addr = format!("127.0.0.1:{}", ports[1]);
    ok(
        root,
        &[
            "genesis",
            "add-node",
            "--id",
            "1",
            "--member",
            "miner",
            "--peer-id",
            init["peer_id"].as_str().unwrap(),
            "--listen-addr",
            &format!("/ip4/127.0.0.1/tcp/{}", ports[0]),
            "--api-addr",
            &api_addr,
        ],
    );
    std::fs::copy(root.join("genesis.toml"), root.join("node1/genesis.toml")).unwrap();
    // Members only: every request signed.
    let config = std::fs::read_to_string(root.join("node1/node.toml")).unwrap();
    std::fs::write(
        root.join("node1/node.toml"),
        config.replace("api_access = \"open\"", "api_access = \"members\""),
    )
    .unwrap();
    (format!("https://{api_addr}"), fingerprint)
}

fn start(root: &Path) -> Node {
    let log = std::fs::File::create(root.join("node1/node.log")).unwrap();
    Node(
        Command::new(gemtrail_path())
            .args(["node", "start", "--config"])
            .arg(root.join("node1/node.toml"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap(),
    )
}

/// `gemtrail ARGS` signing its requests as the miner (`GEMTRAIL_KEY`,
/// `GEMTRAIL_ORG`).
fn as_miner(root: &Path, args: &[&str]) -> std::process::Output {
    assert_cmd::Command::new(gemtrail_path())
        .current_dir(root)
        .env("GEMTRAIL_KEY", "miner.key")
        .env("GEMTRAIL_ORG", "miner")
        .args(args)
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap()
}

/// `gemtrail --output json ARGS`, its exit code and the error code it printed.
fn json_error(root: &Path, args: &[&str]) -> (Option<i32>, String) {
    let mut all = vec!["--output", "json"];
    all.extend_from_slice(args);
    let output = gemtrail(root, &all);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let code = serde_json::from_str::<serde_json::Value>(&stderr)
        .ok()
        .and_then(|error| error["error"]["code"].as_str().map(str::to_owned))
        .unwrap_or(stderr);
    (output.status.code(), code)
}

#[test]
fn the_cli_talks_https_to_a_node_it_trusts_and_refuses_one_it_does_not() {
    let _turn = turn();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let (node, fingerprint) = found_https(root);
    let _node = start(root);
    // Trusted by its own certificate as the CA, once the node is up.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let output = as_miner(root, &["status", "--node", &node, "--ca", "node1/tls.crt"]);
        if output.status.success() && String::from_utf8_lossy(&output.stdout).contains("leader") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // Trusted by fingerprint, and a signed transaction goes through.
    let mut args = vec![
        "--pin",
        &fingerprint,
        "stone",
        "register",
        "--node",
        &node,
        "--key",
        "miner.key",
        "--as",
        "miner",
        "--stone",
        "GT-TLS-1",
    ];
    args.extend_from_slice(&REGISTER);
    let registered = ok(root, &args);
    assert!(registered.contains("committed in block"), "{registered}");

    // Unsigned, the same read is refused by the node.
    let (exit, code) = json_error(root, &["status", "--node", &node, "--ca", "node1/tls.crt"]);
    assert_eq!((exit, code.as_str()), (Some(3), "unsigned_request"));

    // Another certificate, as CA or as pin, is refused with its code.
    ok(root, &["node", "init", "--dir", "other", "--tls"]);
    let (exit, code) = json_error(root, &["status", "--node", &node, "--ca", "other/tls.crt"]);
    assert_eq!(
        (exit, code.as_str()),
        (Some(1), "node_certificate_untrusted")
    );
    let wrong_pin = format!("sha256:{}", "0".repeat(64));
    let (exit, code) = json_error(root, &["status", "--node", &node, "--pin", &wrong_pin]);
    assert_eq!(
        (exit, code.as_str()),
        (Some(1), "node_certificate_untrusted")
    );
    // No trust at all, or a malformed pin: refused before anything is sent.
    let output = gemtrail(root, &["status", "--node", &node]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("needs a CA file or a pinned certificate")
    );
    let output = gemtrail(root, &["status", "--node", &node, "--pin", "sha256:abc"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--pin"));
    // Cleartext to the HTTPS port gets no answer.
    let plain = node.replace("https://", "http://");
    assert_eq!(
        gemtrail(root, &["status", "--node", &plain]).status.code(),
        Some(1)
    );
}
