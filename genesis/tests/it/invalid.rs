//! One test per validation rule, each asserting the exact field path and problem.

use gemtrail_genesis::{parse, GenesisDocument, GenesisError, Problem, GENESIS_BYTES_MAX};
use gemtrail_ledger::model::{BLOCK_TRANSACTIONS_MAX, KEYS_PER_MEMBER_MAX, MEMBERS_MAX, NODES_MAX};
use gemtrail_ledger::KeyError;

use crate::example;

fn invalid(field: &str, problem: Problem) -> GenesisError {
    GenesisError::Invalid {
        field: field.to_owned(),
        problem,
    }
}

/// The error of validating the example after `change`.
fn error_after(change: impl FnOnce(&mut GenesisDocument)) -> GenesisError {
    let mut document = example().genesis().document().clone();
    change(&mut document);
    document.validate().unwrap_err()
}

/// The error of parsing the example's text after `edit`.
fn parse_error_after(edit: impl FnOnce(String) -> String) -> GenesisError {
    let text = example().genesis().document().to_toml_string().unwrap();
    let edited = edit(text.clone());
    assert_ne!(edited, text, "the edit changed nothing");
    parse(&edited).unwrap_err()
}

fn out_of_range(value: u64, min: u64, max: u64) -> Problem {
    Problem::OutOfRange { value, min, max }
}

fn duplicate(value: &str, first: &str) -> Problem {
    Problem::Duplicate {
        value: value.to_owned(),
        first: first.to_owned(),
    }
}

mod text {
    use super::*;

    #[test]
    fn a_syntax_error_reports_line_and_column() {
        let error = parse("chain_id = \"gemtrail-demo\"\ngenesis_time_ms = = 1\n").unwrap_err();
        assert_eq!(
            error,
            GenesisError::Syntax {
                line: 2,
                column: 19,
                message: "extra `=`, expected nothing".to_owned()
            }
        );
        assert_eq!(
            error.to_string(),
            "TOML syntax error at line 2, column 19: extra `=`, expected nothing"
        );
    }

    #[test]
    fn a_repeated_key_is_a_syntax_error() {
        let error = parse("chain_id = \"a\"\nchain_id = \"b\"\n").unwrap_err();
        assert_eq!(
            error,
            GenesisError::Syntax {
                line: 2,
                column: 1,
                message: "duplicate key".to_owned()
            }
        );
    }

    #[test]
    fn an_unknown_node_field_is_named_with_its_index() {
        let error = parse_error_after(|text| text.replace("id = 3\n", "id = 3\nport = 1\n"));
        assert_eq!(
            error.to_string(),
            "nodes[2].port: unknown field (expected one of `id`, `member`, `peer_id`, \
             `listen_addr`, `api_addr`)"
        );
    }

    #[test]
    fn an_unknown_top_level_field_is_named() {
        let error = parse_error_after(|text| format!("colour = \"blue\"\n{text}"));
        assert_eq!(
            error,
            invalid(
                "colour",
                Problem::UnknownField {
                    expected: "one of `chain_id`, `genesis_time_ms`, `consensus`, `limits`, \
                               `members`, `nodes`"
                        .to_owned()
                }
            )
        );
    }

    #[test]
    fn an_unknown_consensus_field_is_named_with_the_valid_ones() {
        let error = parse_error_after(|text| {
            text.replace("[consensus]\n", "[consensus]\nbatch_max_tx = 5\n")
        });
        assert_eq!(
            error.to_string(),
            "consensus.batch_max_tx: unknown field (expected one of `batch_max_txs`, \
             `batch_timeout_ms`, `heartbeat_interval_ms`, `election_timeout_min_ms`, \
             `election_timeout_max_ms`, `snapshot_interval_blocks`, \
             `checkpoint_clock_skew_ms_max`)"
        );
    }

    #[test]
    fn an_unknown_member_field_is_named_with_its_index() {
        let error = parse_error_after(|text| {
            text.replacen(
                "name = \"Antwerp Cutting Works\"\n",
                "name = \"Antwerp Cutting Works\"\ncolour = 1\n",
                1,
            )
        });
        assert_eq!(
            error,
            invalid(
                "members[1].colour",
                Problem::UnknownField {
                    expected: "one of `id`, `name`, `roles`, `keys`".to_owned()
                }
            )
        );
    }

    #[test]
    fn a_value_of_the_wrong_type_is_named() {
        let error = parse_error_after(|text| {
            text.replace("batch_max_txs = 1000", "batch_max_txs = \"many\"")
        });
        assert_eq!(
            error,
            invalid(
                "consensus.batch_max_txs",
                Problem::Schema {
                    message: "invalid type: string \"many\", expected u64".to_owned()
                }
            )
        );
    }

    #[test]
    fn a_negative_time_is_named() {
        let error = parse_error_after(|text| {
            text.replace("genesis_time_ms = 1790000000000", "genesis_time_ms = -1")
        });
        assert_eq!(
            error,
            invalid(
                "genesis_time_ms",
                Problem::Schema {
                    message: "invalid value: integer `-1`, expected u64".to_owned()
                }
            )
        );
    }

    #[test]
    fn a_key_of_the_wrong_type_is_named_with_its_index() {
        let error = parse_error_after(|text| text.replacen("keys = [", "keys = [3, ", 1));
        assert_eq!(
            error,
            invalid(
                "members[0].keys[0]",
                Problem::Schema {
                    message: "invalid type: integer `3`, expected a string".to_owned()
                }
            )
        );
    }

    #[test]
    fn a_missing_member_field_is_named() {
        let error =
            parse_error_after(|text| text.replace("name = \"Antwerp Cutting Works\"\n", ""));
        assert_eq!(error, invalid("members[1].name", Problem::Missing));
        assert_eq!(error.to_string(), "members[1].name: missing");
    }

    #[test]
    fn a_missing_table_is_named() {
        let error = parse_error_after(|text| {
            let start = text.find("[limits]").unwrap();
            let end = text.find("[[members]]").unwrap();
            format!("{}{}", &text[..start], &text[end..])
        });
        assert_eq!(error, invalid("limits", Problem::Missing));
    }

    #[test]
    fn a_huge_text_is_refused_before_parsing() {
        let text = " ".repeat(GENESIS_BYTES_MAX as usize + 1);
        assert_eq!(
            parse(&text).unwrap_err(),
            GenesisError::TooLarge {
                len: GENESIS_BYTES_MAX + 1,
                max: GENESIS_BYTES_MAX
            }
        );
    }

    #[test]
    fn a_missing_file_is_reported_with_its_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("genesis.toml");
        let error = gemtrail_genesis::load(&path).unwrap_err();
        assert!(matches!(
            error,
            GenesisError::Io { path: ref reported, kind: std::io::ErrorKind::NotFound, .. }
                if *reported == path
        ));
    }
}

mod chain {
    use super::*;

    #[test]
    fn a_bad_chain_id_is_refused() {
        let error = error_after(|d| d.chain_id = "gemtrail demo".to_owned());
        assert_eq!(
            error.to_string(),
            "chain_id: chain id \"gemtrail demo\" contains a character that is not allowed"
        );
    }

    #[test]
    fn batch_size_must_be_positive_and_fit_a_block() {
        let max = BLOCK_TRANSACTIONS_MAX as u64;
        let error = error_after(|d| d.consensus.batch_max_txs = 0);
        assert_eq!(
            error,
            invalid("consensus.batch_max_txs", out_of_range(0, 1, max))
        );
        let error = error_after(|d| d.consensus.batch_max_txs = max + 1);
        assert_eq!(
            error.to_string(),
            "consensus.batch_max_txs: 2049 is out of range (expected 1 to 2048)"
        );
    }

    #[test]
    fn timeouts_must_be_positive() {
        let error = error_after(|d| d.consensus.batch_timeout_ms = 0);
        assert_eq!(
            error,
            invalid("consensus.batch_timeout_ms", out_of_range(0, 1, 10_000))
        );
        let error = error_after(|d| d.consensus.heartbeat_interval_ms = 0);
        assert_eq!(
            error,
            invalid(
                "consensus.heartbeat_interval_ms",
                out_of_range(0, 1, 60_000)
            )
        );
        let error = error_after(|d| d.consensus.election_timeout_min_ms = 0);
        assert_eq!(
            error,
            invalid(
                "consensus.election_timeout_min_ms",
                out_of_range(0, 1, 60_000)
            )
        );
        let error = error_after(|d| d.consensus.election_timeout_max_ms = 60_001);
        assert_eq!(
            error,
            invalid(
                "consensus.election_timeout_max_ms",
                out_of_range(60_001, 1, 60_000)
            )
        );
        let error = error_after(|d| d.consensus.snapshot_interval_blocks = 0);
        assert_eq!(
            error,
            invalid(
                "consensus.snapshot_interval_blocks",
                out_of_range(0, 1, 100_000_000)
            )
        );
    }

    #[test]
    fn election_timeout_min_must_be_below_max() {
        let error = error_after(|d| d.consensus.election_timeout_min_ms = 600);
        assert_eq!(
            error,
            invalid(
                "consensus.election_timeout_min_ms",
                Problem::NotBelow {
                    value: 600,
                    bound_field: "consensus.election_timeout_max_ms",
                    bound: 600
                }
            )
        );
    }

    #[test]
    fn heartbeat_must_be_below_election_timeout_min() {
        let error = error_after(|d| d.consensus.heartbeat_interval_ms = 300);
        assert_eq!(
            error.to_string(),
            "consensus.heartbeat_interval_ms: 300 must be less than \
             consensus.election_timeout_min_ms (300)"
        );
    }

    #[test]
    fn limits_must_be_in_range() {
        let error = error_after(|d| d.limits.request_body_bytes_max = 1023);
        assert_eq!(
            error,
            invalid(
                "limits.request_body_bytes_max",
                out_of_range(1023, 1024, 64 * 1024 * 1024)
            )
        );
        let error = error_after(|d| d.limits.request_timeout_ms = 0);
        assert_eq!(
            error,
            invalid("limits.request_timeout_ms", out_of_range(0, 1, 600_000))
        );
        let error = error_after(|d| d.limits.mempool_txs_max = 999);
        assert_eq!(
            error,
            invalid(
                "limits.mempool_txs_max",
                out_of_range(999, 1000, 10_000_000)
            )
        );
        let error = error_after(|d| d.limits.peer_message_bytes_max = 1024);
        assert_eq!(
            error,
            invalid(
                "limits.peer_message_bytes_max",
                out_of_range(1024, 64 * 1024, 64 * 1024 * 1024)
            )
        );
        let error = error_after(|d| {
            d.limits.peer_message_bytes_max = 64 * 1024;
            d.limits.snapshot_chunk_bytes_max = 64 * 1024 + 1;
        });
        assert_eq!(
            error,
            invalid(
                "limits.snapshot_chunk_bytes_max",
                out_of_range(64 * 1024 + 1, 1024, 64 * 1024)
            )
        );
    }
}

mod members {
    use super::*;

    #[test]
    fn duplicate_member_ids_are_refused_even_in_another_case() {
        let error = error_after(|d| d.members[3].id = "MINER".to_owned());
        assert_eq!(
            error,
            invalid("members[3].id", duplicate("\"miner\"", "members[0].id"))
        );
        assert_eq!(
            error.to_string(),
            "members[3].id: \"miner\" is already used at members[0].id"
        );
    }

    #[test]
    fn a_bad_org_id_is_refused() {
        let error = error_after(|d| d.members[1].id = "cutter & co".to_owned());
        assert_eq!(
            error,
            invalid(
                "members[1].id",
                Problem::InvalidId {
                    reason: "organisation id \"cutter & co\" contains a character that is not \
                             allowed"
                        .to_owned()
                }
            )
        );
    }

    #[test]
    fn an_empty_name_is_refused() {
        let error = error_after(|d| d.members[2].name = "  ".to_owned());
        assert_eq!(error, invalid("members[2].name", Problem::Empty));
    }

    #[test]
    fn a_too_long_name_is_refused() {
        let error = error_after(|d| d.members[2].name = "x".repeat(129));
        assert_eq!(
            error,
            invalid("members[2].name", Problem::TooLong { len: 129, max: 128 })
        );
    }

    #[test]
    fn an_unknown_role_lists_the_valid_ones() {
        let error = error_after(|d| d.members[1].roles[0] = "miner".to_owned());
        assert_eq!(
            error,
            invalid(
                "members[1].roles[0]",
                Problem::UnknownRole {
                    role: "miner".to_owned()
                }
            )
        );
        assert_eq!(
            error.to_string(),
            "members[1].roles[0]: unknown role \"miner\" (expected one of producer, \
             manufacturer, lab, trader, retailer, auditor, admin)"
        );
    }

    #[test]
    fn a_repeated_role_is_refused() {
        let error = error_after(|d| d.members[2].roles.push("lab".to_owned()));
        assert_eq!(
            error,
            invalid(
                "members[2].roles[1]",
                duplicate("\"lab\"", "members[2].roles[0]")
            )
        );
    }

    #[test]
    fn a_member_needs_a_role() {
        let error = error_after(|d| d.members[2].roles.clear());
        assert_eq!(
            error,
            invalid("members[2].roles", Problem::NoneGiven { what: "role" })
        );
        assert_eq!(
            error.to_string(),
            "members[2].roles: at least one role is required"
        );
    }

    #[test]
    fn a_member_needs_a_key() {
        let error = error_after(|d| d.members[2].keys.clear());
        assert_eq!(
            error,
            invalid("members[2].keys", Problem::NoneGiven { what: "key" })
        );
    }

    #[test]
    fn a_member_holds_at_most_keys_per_member_max_keys() {
        let error = error_after(|d| {
            let key = d.members[2].keys[0].clone();
            d.members[2].keys = vec![key; KEYS_PER_MEMBER_MAX + 1];
        });
        assert_eq!(
            error,
            invalid("members[2].keys", Problem::TooMany { count: 9, max: 8 })
        );
    }

    #[test]
    fn malformed_key_text_is_refused() {
        let error = error_after(|d| d.members[2].keys[0] = "ed25519:zz".to_owned());
        assert_eq!(
            error.to_string(),
            "members[2].keys[0]: public key \"ed25519:zz\" is not ed25519: followed by 64 \
             hexadecimal digits"
        );
    }

    #[test]
    fn a_key_that_is_not_a_curve_point_is_refused() {
        // y = 2 has no matching x on the curve.
        let key = format!("ed25519:02{}", "00".repeat(31));
        let error = error_after(|d| d.members[3].keys[0] = key);
        assert_eq!(
            error,
            invalid(
                "members[3].keys[0]",
                Problem::UnusableKey(KeyError::Malformed)
            )
        );
    }

    #[test]
    fn a_weak_key_is_refused() {
        // The identity point (y = 1) has small order.
        let key = format!("ed25519:01{}", "00".repeat(31));
        let error = error_after(|d| d.members[3].keys[0] = key);
        assert_eq!(
            error,
            invalid("members[3].keys[0]", Problem::UnusableKey(KeyError::Weak))
        );
        assert_eq!(
            error.to_string(),
            "members[3].keys[0]: weak (small-order) ed25519 public key"
        );
    }

    #[test]
    fn a_key_held_by_two_members_is_refused() {
        let mut shared = String::new();
        let error = error_after(|d| {
            shared = d.members[0].keys[0].clone();
            d.members[2].keys.push(shared.clone());
        });
        assert_eq!(
            error,
            invalid(
                "members[2].keys[1]",
                duplicate(&shared, "members[0].keys[0]")
            )
        );
    }

    #[test]
    fn a_consortium_needs_an_admin() {
        let error = error_after(|d| {
            for member in &mut d.members {
                member.roles.retain(|role| role != "admin");
            }
        });
        assert_eq!(error, invalid("members", Problem::NoAdmin));
    }

    #[test]
    fn a_consortium_needs_a_member() {
        let error = error_after(|d| d.members.clear());
        assert_eq!(
            error,
            invalid("members", Problem::NoneGiven { what: "member" })
        );
    }

    #[test]
    fn a_consortium_has_at_most_members_max_members() {
        let error = error_after(|d| d.members = vec![d.members[0].clone(); MEMBERS_MAX + 1]);
        assert_eq!(
            error,
            invalid(
                "members",
                Problem::TooMany {
                    count: 1025,
                    max: 1024
                }
            )
        );
    }
}

mod nodes {
    use super::*;

    #[test]
    fn duplicate_node_ids_are_refused() {
        let error = error_after(|d| d.nodes[2].id = 1);
        assert_eq!(error, invalid("nodes[2].id", duplicate("1", "nodes[0].id")));
    }

    #[test]
    fn a_node_run_by_an_unknown_member_is_refused() {
        let error = error_after(|d| d.nodes[1].member = "trader".to_owned());
        assert_eq!(
            error.to_string(),
            "nodes[1].member: \"trader\" is not a member of this consortium"
        );
    }

    #[test]
    fn a_peer_id_that_does_not_parse_is_refused() {
        let error = error_after(|d| d.nodes[1].peer_id = "12D3KooWnot-a-peer".to_owned());
        assert_eq!(
            error,
            invalid(
                "nodes[1].peer_id",
                Problem::InvalidPeerId {
                    reason:
                        "base-58 decode error: provided string contained invalid character '-' \
                             at byte 11"
                            .to_owned()
                }
            )
        );
    }

    #[test]
    fn duplicate_peer_ids_are_refused() {
        let mut first = String::new();
        let error = error_after(|d| {
            first = d.nodes[0].peer_id.clone();
            d.nodes[2].peer_id = first.clone();
        });
        assert_eq!(
            error,
            invalid(
                "nodes[2].peer_id",
                duplicate(&format!("{first:?}"), "nodes[0].peer_id")
            )
        );
    }

    #[test]
    fn a_listen_addr_that_is_not_a_multiaddr_is_refused() {
        let error = error_after(|d| d.nodes[0].listen_addr = "127.0.0.1:7000".to_owned());
        assert_eq!(
            error.to_string(),
            "nodes[0].listen_addr: \"127.0.0.1:7000\" is not a libp2p TCP address (it must \
             start with /); expected /ip4/<address>/tcp/<port>, /ip6/<address>/tcp/<port> or \
             /dns/<host>/tcp/<port>"
        );
        let error = error_after(|d| d.nodes[0].listen_addr = "/ip4/127.0.0.1/udp/7000".to_owned());
        assert_eq!(
            error,
            invalid(
                "nodes[0].listen_addr",
                Problem::InvalidMultiaddr {
                    value: "/ip4/127.0.0.1/udp/7000".to_owned(),
                    reason: "the transport must be tcp"
                }
            )
        );
    }

    #[test]
    fn an_api_addr_that_is_not_a_socket_address_is_refused() {
        let error = error_after(|d| d.nodes[1].api_addr = "localhost:8081".to_owned());
        assert_eq!(
            error,
            invalid(
                "nodes[1].api_addr",
                Problem::InvalidSocketAddr {
                    value: "localhost:8081".to_owned()
                }
            )
        );
    }

    #[test]
    fn two_nodes_cannot_listen_on_one_address() {
        let error = error_after(|d| d.nodes[1].listen_addr = "/ip4/127.0.0.1/tcp/7000".to_owned());
        assert_eq!(
            error,
            invalid(
                "nodes[1].listen_addr",
                duplicate("\"127.0.0.1:7000\"", "nodes[0].listen_addr")
            )
        );
    }

    #[test]
    fn two_nodes_cannot_serve_their_api_on_one_address() {
        let error = error_after(|d| d.nodes[2].api_addr = "127.0.0.1:7003".to_owned());
        assert_eq!(
            error,
            invalid(
                "nodes[2].api_addr",
                duplicate("\"127.0.0.1:7003\"", "nodes[1].api_addr")
            )
        );
    }

    #[test]
    fn an_api_addr_cannot_take_a_listen_port() {
        let error = error_after(|d| d.nodes[0].api_addr = "127.0.0.1:7000".to_owned());
        assert_eq!(
            error,
            invalid(
                "nodes[0].api_addr",
                duplicate("\"127.0.0.1:7000\"", "nodes[0].listen_addr")
            )
        );
    }

    #[test]
    fn a_consortium_needs_a_node() {
        let error = error_after(|d| d.nodes.clear());
        assert_eq!(error, invalid("nodes", Problem::NoneGiven { what: "node" }));
    }

    #[test]
    fn a_consortium_has_at_most_nodes_max_nodes() {
        let error = error_after(|d| d.nodes = vec![d.nodes[0].clone(); NODES_MAX + 1]);
        assert_eq!(
            error,
            invalid("nodes", Problem::TooMany { count: 65, max: 64 })
        );
    }
}
