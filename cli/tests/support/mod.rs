//! What the CLI's end-to-end tests share: running the real `gemtrail`
//! binary, and a consortium founded through it with three node processes on
//! loopback.

// Each test binary uses its own part of this module.
#![allow(dead_code)]
// Test code: a failed unwrap is the test's failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

pub(crate) const MEMBERS: [(&str, &str, &str); 5] = [
    ("miner", "Kimberley Mining Co.", "producer,admin"),
    ("cutter", "Antwerp Cutting Works", "manufacturer,admin"),
    ("lab", "Independent Gem Laboratory", "lab"),
    ("retailer", "Bond Street Jewellers", "retailer"),
    ("auditor", "Consortium Audit Services", "auditor,admin"),
];
pub(crate) const NODES: [(u64, &str); 3] = [(1, "miner"), (2, "cutter"), (3, "retailer")];

/// One consortium at a time: each runs three node processes.
static TURN: Mutex<()> = Mutex::new(());

pub(crate) fn turn() -> MutexGuard<'static, ()> {
    TURN.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

pub(crate) fn gemtrail_path() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_gemtrail"))
}

/// Runs `gemtrail ARGS` in `dir` and returns its output.
pub(crate) fn gemtrail(dir: &Path, args: &[&str]) -> Output {
    assert_cmd::Command::new(gemtrail_path())
        .current_dir(dir)
        .args(args)
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap()
}

/// Runs `gemtrail ARGS` and asserts success; returns stdout.
pub(crate) fn ok(dir: &Path, args: &[&str]) -> String {
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

pub(crate) fn free_ports(count: usize) -> Vec<u16> {
    let listeners: Vec<_> = (0..count)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    listeners
        .iter()
        .map(|listener| listener.local_addr().unwrap().port())
        .collect()
}

/// A consortium founded through the CLI, its nodes running as processes.
pub(crate) struct Consortium {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) api: Vec<String>,
    pub(crate) nodes: Vec<Child>,
    pub(crate) _turn: MutexGuard<'static, ()>,
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
    pub(crate) fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The API address of the node run by `member`.
    pub(crate) fn node_of(&self, member: &str) -> &str {
        let index = NODES
            .iter()
            .position(|(_, owner)| *owner == member)
            .unwrap_or(0);
        &self.api[index]
    }

    /// `gemtrail stone SUBCOMMAND` as `member`, through its own node (or
    /// node 1 for members without one).
    pub(crate) fn stone(&self, member: &str, subcommand: &str, args: &[&str]) -> Output {
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

    pub(crate) fn stone_ok(&self, member: &str, subcommand: &str, args: &[&str]) -> String {
        let output = self.stone(member, subcommand, args);
        assert!(
            output.status.success(),
            "{member} {subcommand} {args:?} failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    }

    /// A refused action: exit code 3 and the ledger's or the API's code.
    pub(crate) fn refused(&self, member: &str, subcommand: &str, args: &[&str], code: &str) {
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
pub(crate) fn found() -> Consortium {
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

pub(crate) const REGISTER: [&str; 14] = [
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

pub(crate) fn register(consortium: &Consortium, stone: &str) {
    let mut args = vec!["--stone", stone];
    args.extend_from_slice(&REGISTER);
    let printed = consortium.stone_ok("miner", "register", &args);
    assert!(printed.contains("committed in block"), "{printed}");
}

/// Proposes `stone` from `from` to `to` and returns the proposal id.
pub(crate) fn propose(consortium: &Consortium, from: &str, stone: &str, to: &str) -> String {
    let printed = consortium.stone_ok(from, "propose-transfer", &["--stones", stone, "--to", to]);
    printed
        .lines()
        .find_map(|line| line.strip_prefix("proposal id: "))
        .unwrap_or_else(|| panic!("no proposal id in: {printed}"))
        .trim()
        .to_owned()
}

/// Registers GT-1, hands it to the cutter, who cuts it into GT-1-A (3.10 ct)
/// and GT-1-B (2.05 ct); the lab grades GT-1-A (report IGL-118842).
pub(crate) fn cut_and_grade_gt1(consortium: &Consortium) {
    register(consortium, "GT-1");
    let to_cutter = propose(consortium, "miner", "GT-1", "cutter");
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
}
