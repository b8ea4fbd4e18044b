//! `gemtrail-node`: runs one gemtrail node from its TOML configuration until
//! SIGTERM or Ctrl-C, then stops gracefully. (The `gemtrail` CLI wraps the same
//! library as `gemtrail node start`.)

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use gemtrail_node::{runner, NodeConfig};

/// Runs a gemtrail node.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// The node's configuration file (see docs/operations.md).
    #[arg(long, short, value_name = "FILE")]
    config: PathBuf,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match NodeConfig::load(&args.config) {
        Ok(config) => runner::run_until_signal(config),
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::from(2)
        }
    }
}
