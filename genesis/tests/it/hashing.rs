//! The genesis hash depends on the document's meaning, never on its layout.

use gemtrail_genesis::{GenesisDocument, ValidGenesis};

use crate::example;

/// The example as TOML text.
fn example_text() -> String {
    example().genesis().document().to_toml_string().unwrap()
}

fn hash_of_text(text: &str) -> String {
    ValidGenesis::from_toml(text).unwrap().hash().to_hex()
}

fn hash_of(document: GenesisDocument) -> String {
    document.validate().unwrap().hash().to_hex()
}

/// The text with its tables in reverse order: `[[nodes]]` first (themselves
/// reversed), then the members reversed, then `[limits]` before `[consensus]`.
fn with_tables_reversed(text: &str) -> String {
    let mut sections: Vec<&str> = Vec::new();
    let mut rest = text;
    while let Some(start) = rest[1..].find("\n[").map(|index| index + 2) {
        sections.push(&rest[..start]);
        rest = &rest[start..];
    }
    sections.push(rest);
    let preamble = sections.remove(0);
    sections.reverse();
    let mut out = preamble.to_owned();
    for section in sections {
        out.push_str(section.trim_end());
        out.push('\n');
    }
    out
}

/// The text with a comment after every line, blank lines, and wider spacing.
fn with_comments_and_spacing(text: &str) -> String {
    let mut out = String::from("# a genesis file, lovingly hand-edited\n\n");
    for line in text.lines() {
        out.push_str("   ");
        out.push_str(&line.replace(" = ", "   =\t"));
        out.push_str("   # note\n\n");
    }
    out
}

#[test]
fn layout_does_not_change_the_hash() {
    let text = example_text();
    let expected = example().genesis().hash().to_hex();
    assert_eq!(hash_of_text(&text), expected);

    let reversed = with_tables_reversed(&text);
    assert_ne!(reversed, text);
    assert!(reversed.find("[[nodes]]").unwrap() < reversed.find("[[members]]").unwrap());
    assert!(reversed.find("[limits]").unwrap() < reversed.find("[consensus]").unwrap());
    assert_eq!(hash_of_text(&reversed), expected);

    let commented = with_comments_and_spacing(&text);
    assert!(commented.contains("# note"));
    assert_eq!(hash_of_text(&commented), expected);
}

#[test]
fn role_order_key_order_and_id_case_do_not_change_the_hash() {
    let document = example().genesis().document().clone();
    let expected = hash_of(document.clone());

    let mut reordered = document.clone();
    reordered.members[0].roles.reverse();
    assert_eq!(hash_of(reordered), expected);

    let mut upper_case = document.clone();
    upper_case.chain_id = "GEMTRAIL-DEMO".to_owned();
    upper_case.members[0].id = "Miner".to_owned();
    upper_case.nodes[0].member = "MINER".to_owned();
    assert_eq!(hash_of(upper_case), expected);

    // A member's keys are a set: their order does not matter, their content does.
    let rfc8032_key = "ed25519:d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
    let mut two_keys = document.clone();
    two_keys.members[0].keys.push(rfc8032_key.to_owned());
    let mut swapped = two_keys.clone();
    swapped.members[0].keys.reverse();
    assert_eq!(hash_of(two_keys.clone()), hash_of(swapped));
    assert_ne!(hash_of(two_keys), expected);
}

/// An edit of a document.
type Change = fn(&mut GenesisDocument);

#[test]
fn every_change_of_meaning_changes_the_hash() {
    let document = example().genesis().document().clone();
    let expected = hash_of(document.clone());
    let changes: Vec<(&str, Change)> = vec![
        ("member name", |d| {
            d.members[1].name = "Antwerp Cutting Works NV".to_owned()
        }),
        ("chain id", |d| d.chain_id = "gemtrail-demo-2".to_owned()),
        ("genesis time", |d| d.genesis_time_ms += 1),
        ("a role", |d| d.members[2].roles.push("trader".to_owned())),
        ("batch size", |d| d.consensus.batch_max_txs += 1),
        ("snapshot interval", |d| {
            d.consensus.snapshot_interval_blocks += 1
        }),
        ("clock skew bound", |d| {
            d.consensus.checkpoint_clock_skew_ms_max += 1
        }),
        ("request cap", |d| d.limits.request_body_bytes_max += 1),
        ("chunk cap", |d| d.limits.snapshot_chunk_bytes_max -= 1),
        ("api address", |d| {
            d.nodes[2].api_addr = "127.0.0.1:9999".to_owned()
        }),
        ("node owner", |d| d.nodes[2].member = "lab".to_owned()),
        ("node id", |d| d.nodes[2].id = 4),
    ];
    for (what, change) in changes {
        let mut changed = document.clone();
        change(&mut changed);
        assert_ne!(
            hash_of(changed),
            expected,
            "changing the {what} kept the hash"
        );
    }
}
