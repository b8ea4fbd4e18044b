//! `gemtrail-node`: runs one gemtrail node from its TOML configuration until
//! SIGTERM or Ctrl-C, then stops gracefully; or makes a new node key. (The
//! `gemtrail` CLI wraps the same library as `gemtrail node init` and
//! `gemtrail node start`.)

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use gemtrail_node::{keys, runner, NodeConfig};

/// Runs a gemtrail node.
#[derive(Debug, Parser)]
#[command(version, about, arg_required_else_help = true)]
struct Args {
    /// Run the node of this configuration file (see docs/operations.md).
    #[arg(long, short, value_name = "FILE", conflicts_with = "new_key")]
    config: Option<PathBuf>,
    /// Write a new node key to FILE (mode 0600) and print its peer id, for
    /// the genesis `[[nodes]]` entry.
    #[arg(long, value_name = "FILE")]
    new_key: Option<PathBuf>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if let Some(path) = args.new_key {
        return match keys::generate(&path) {
            Ok(peer_id) => {
                println!("{peer_id}");
                ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("error: {error}");
                ExitCode::FAILURE
            }
        };
    }
    let Some(path) = args.config else {
        eprintln!("error: give --config FILE to run a node, or --new-key FILE");
        return ExitCode::from(2);
    };
    match NodeConfig::load(&path) {
        Ok(config) => runner::run_until_signal(config),
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::from(2)
        }
    }
}
