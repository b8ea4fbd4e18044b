//! Salted commitments and selective disclosure, end to end through the real
//! binary on three node processes: the terms a cutter signs cannot be found
//! by hashing guesses; the cutter discloses them to the auditor alone; the
//! auditor reads and checks them against the ledger and against a passport;
//! the retailer cannot open them; a tampered opening fails with exit 4.

// Test code: a failed unwrap is the test's failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]
// The shared consortium set-up reads best in one piece (as in journey.rs).
#![allow(clippy::too_many_lines)]

mod support;

use std::path::Path;

use gemtrail_ledger::commitment::{commit, CommittedField};
use gemtrail_ledger::ids::Digest;
use support::*;

const TERMS: &str = "USD 180,000, net 30";

/// The first string under `key` anywhere in `value`.
fn find_key<'a>(value: &'a serde_json::Value, key: &str) -> Option<&'a str> {
    match value {
        serde_json::Value::Object(map) => map
            .get(key)
            .and_then(serde_json::Value::as_str)
            .or_else(|| map.values().find_map(|inner| find_key(inner, key))),
        serde_json::Value::Array(items) => items.iter().find_map(|inner| find_key(inner, key)),
        _ => None,
    }
}

/// Every price and payment term a guesser would try first, the guide's own
/// example among them.
fn candidates() -> Vec<String> {
    let mut all = vec![TERMS.to_owned(), String::new()];
    for currency in ["USD", "EUR", "US$", "$"] {
        for thousands in 1..=1_000 {
            for terms in ["net 30", "net 60", "net 90", "cash", "net 0"] {
                all.push(format!("{currency} {thousands},000, {terms}"));
            }
        }
    }
    all
}

/// A try without the salt: the old unsalted hash, and the salted scheme
/// under salts a careless client might use.
fn guessed(commitment: &Digest, candidate: &str) -> bool {
    let bytes = candidate.as_bytes();
    Digest(blake3::hash(bytes).into()) == *commitment
        || [[0u8; 32], [0xff; 32]]
            .iter()
            .any(|salt| commit(CommittedField::Terms, salt, bytes) == *commitment)
}

fn on_ledger_terms(consortium: &Consortium, proposal: &str) -> Digest {
    let node = consortium.node_of("cutter");
    let history = ok(
        consortium.path(),
        &[
            "--output", "json", "stone", "history", "GT-1", "--node", node,
        ],
    );
    let history: serde_json::Value = serde_json::from_str(&history).unwrap();
    let item = history
        .as_array()
        .unwrap()
        .iter()
        .find(|item| item["tx_id"] == proposal)
        .unwrap();
    Digest::from_hex(find_key(item, "terms_commitment").unwrap()).unwrap()
}

fn verify_disclosure(
    dir: &Path,
    file: &str,
    key: Option<&str>,
    node: &str,
) -> std::process::Output {
    let mut args = vec!["verify", "--disclosure", file, "--node", node];
    if let Some(key) = key {
        args.extend(["--key", key]);
    }
    gemtrail(dir, &args)
}

#[test]
fn a_cutter_discloses_terms_to_the_auditor_alone_and_no_guess_finds_them() {
    let consortium = found();
    let dir = consortium.path();
    let node = consortium.node_of("cutter").to_owned();
    register(&consortium, "GT-1");
    let to_cutter = propose(&consortium, "miner", "GT-1", "cutter");
    consortium.stone_ok("cutter", "accept", &["--proposal", &to_cutter]);
    let printed = consortium.stone_ok(
        "cutter",
        "propose-transfer",
        &["--stones", "GT-1", "--to", "retailer", "--terms", TERMS],
    );
    let proposal = printed
        .lines()
        .find_map(|line| line.strip_prefix("proposal id: "))
        .unwrap()
        .trim()
        .to_owned();

    // Brute force: no candidate, the real terms included, gives the
    // on-ledger commitment without the salt; with the kept salt it does.
    let commitment = on_ledger_terms(&consortium, &proposal);
    let tried = candidates();
    assert!(tried.len() > 20_000);
    let found: Vec<&String> = tried
        .iter()
        .filter(|candidate| guessed(&commitment, candidate))
        .collect();
    assert!(found.is_empty(), "guessed without the salt: {found:?}");
    let kept =
        std::fs::read_to_string(dir.join(format!("cutter.openings/{proposal}.json"))).unwrap();
    let kept: serde_json::Value = serde_json::from_str(&kept).unwrap();
    let salt: [u8; 32] = hex::decode(find_key(&kept, "salt").unwrap())
        .unwrap()
        .try_into()
        .unwrap();
    assert_eq!(
        commit(CommittedField::Terms, &salt, TERMS.as_bytes()),
        commitment
    );

    // Sealed to the auditor: the auditor reads it, the retailer cannot.
    ok(
        dir,
        &[
            "disclose",
            "--key",
            "cutter.key",
            "--tx",
            &proposal,
            "--field",
            "terms",
            "--to",
            "auditor",
            "--node",
            &node,
            "-o",
            "sealed.json",
        ],
    );
    let read = verify_disclosure(dir, "sealed.json", Some("auditor.key"), &node);
    let stdout = String::from_utf8_lossy(&read.stdout);
    assert!(
        read.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&read.stderr)
    );
    assert!(
        stdout.contains(TERMS) && stdout.contains("committed by cutter"),
        "{stdout}"
    );
    let refused = verify_disclosure(dir, "sealed.json", Some("retailer.key"), &node);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(4), "{stderr}");
    assert!(stderr.contains("sealed to auditor"), "{stderr}");
    assert!(!String::from_utf8_lossy(&refused.stdout).contains(TERMS));

    // A ciphertext altered in one digit does not open.
    let sealed = std::fs::read_to_string(dir.join("sealed.json")).unwrap();
    let mut sealed: serde_json::Value = serde_json::from_str(&sealed).unwrap();
    let ciphertext = sealed["sealed"]["recipients"][0]["ciphertext"]
        .as_str()
        .unwrap()
        .to_owned();
    let flipped = if ciphertext.starts_with('0') {
        "1"
    } else {
        "0"
    };
    sealed["sealed"]["recipients"][0]["ciphertext"] =
        format!("{flipped}{}", &ciphertext[1..]).into();
    std::fs::write(dir.join("altered.json"), sealed.to_string()).unwrap();
    let altered = verify_disclosure(dir, "altered.json", Some("auditor.key"), &node);
    assert_eq!(altered.status.code(), Some(4));

    // In clear, against a passport checked offline; then a tampered value.
    ok(
        dir,
        &[
            "disclose",
            "--key",
            "cutter.key",
            "--tx",
            &proposal,
            "--field",
            "terms",
            "-o",
            "plain.json",
        ],
    );
    ok(
        dir,
        &[
            "passport",
            "export",
            "GT-1",
            "-o",
            "gt1.passport",
            "--node",
            &node,
        ],
    );
    let offline = ok(
        dir,
        &[
            "verify",
            "--disclosure",
            "plain.json",
            "--proof",
            "gt1.passport",
            "--genesis",
            "genesis.toml",
        ],
    );
    assert!(
        offline.contains(TERMS) && offline.contains("verified against the genesis"),
        "{offline}"
    );
    let plain = std::fs::read_to_string(dir.join("plain.json")).unwrap();
    let mut plain: serde_json::Value = serde_json::from_str(&plain).unwrap();
    plain["opening"]["value"] = hex::encode("USD 18,000, net 30").into();
    std::fs::write(dir.join("tampered.json"), plain.to_string()).unwrap();
    let tampered = verify_disclosure(dir, "tampered.json", None, &node);
    let stderr = String::from_utf8_lossy(&tampered.stderr);
    assert_eq!(tampered.status.code(), Some(4), "{stderr}");
    assert!(stderr.contains("does not open the commitment"), "{stderr}");

    // What cannot be disclosed says why.
    let unknown = gemtrail(
        dir,
        &[
            "disclose",
            "--key",
            "cutter.key",
            "--tx",
            &to_cutter,
            "--field",
            "terms",
            "-o",
            "x.json",
        ],
    );
    assert_eq!(unknown.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no openings of transaction"));
    let bad_field = gemtrail(
        dir,
        &[
            "disclose",
            "--key",
            "cutter.key",
            "--tx",
            &proposal,
            "--field",
            "price",
            "-o",
            "x.json",
        ],
    );
    assert_eq!(bad_field.status.code(), Some(2));
    assert!(!dir.join("x.json").exists());
}
