//! The committed `examples/sample-genesis.toml`: made by the generator, valid,
//! and pinned to a known genesis hash.

use gemtrail_genesis::{GenesisDocument, ValidGenesis};

use crate::example;

const EXAMPLE_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/sample-genesis.toml");

/// The genesis hash of the committed example. It changes only when the genesis
/// format or the sample changes; then regenerate the file (see below) and this.
const EXAMPLE_HASH: &str = "22ed0cfefefdd0641fc261ec98c3c4b1fad28f1029ae2d21d42694389dc486e5";

#[test]
fn the_committed_example_is_what_the_generator_makes() {
    let text = example().genesis_toml().unwrap();
    // `GEMTRAIL_BLESS=1 cargo test -p gemtrail-genesis` rewrites the file.
    if std::env::var_os("GEMTRAIL_BLESS").is_some() {
        std::fs::write(EXAMPLE_PATH, &text).unwrap();
    }
    let committed = std::fs::read_to_string(EXAMPLE_PATH).unwrap();
    assert_eq!(committed, text);
}

#[test]
fn the_committed_example_loads_validates_and_hashes_to_the_pinned_constant() {
    let genesis = ValidGenesis::load(EXAMPLE_PATH).unwrap();
    assert_eq!(genesis.hash().to_hex(), EXAMPLE_HASH);
    assert_eq!(genesis.chain_id().as_str(), "gemtrail-demo");
    assert_eq!(genesis.document().members.len(), 5);
    assert_eq!(genesis.document().nodes.len(), 3);
    assert_eq!(genesis, *example().genesis());
}

#[test]
fn writing_and_reading_back_gives_the_same_document() {
    let document = example().genesis().document().clone();
    let text = document.to_toml_string().unwrap();
    assert_eq!(GenesisDocument::parse(&text).unwrap(), document);
}

#[test]
fn the_generator_is_deterministic_only_for_a_fixed_seed() {
    let first = example();
    assert_eq!(example().genesis().hash(), first.genesis().hash());
    let random =
        gemtrail_genesis::sample::SampleConsortium::generate("gemtrail-demo", 7000).unwrap();
    assert_ne!(random.genesis().hash(), first.genesis().hash());
    assert_ne!(
        random.genesis().document().members[0].keys,
        first.genesis().document().members[0].keys
    );
}

#[test]
fn the_generator_refuses_ports_past_65535_and_port_zero() {
    use gemtrail_genesis::sample::SampleConsortium;
    use gemtrail_genesis::{GenesisError, Problem};
    let base_port_error = |value| GenesisError::Invalid {
        field: "base_port".to_owned(),
        problem: Problem::OutOfRange {
            value,
            min: 1,
            max: 65530,
        },
    };
    let error = SampleConsortium::generate_from_seed([1; 32], "c", 65531).unwrap_err();
    assert_eq!(error, base_port_error(65531));
    let error = SampleConsortium::generate_from_seed([1; 32], "c", 0).unwrap_err();
    assert_eq!(error, base_port_error(0));
    let highest = SampleConsortium::generate_from_seed([1; 32], "c", 65530).unwrap();
    assert_eq!(
        highest.genesis().document().nodes[2].api_addr,
        "127.0.0.1:65535"
    );
}

#[test]
fn the_generator_refuses_a_bad_chain_id() {
    let error =
        gemtrail_genesis::sample::SampleConsortium::generate_from_seed([1; 32], "no spaces", 7000)
            .unwrap_err();
    assert_eq!(
        error.to_string(),
        "chain_id: chain id \"no spaces\" contains a character that is not allowed"
    );
}
