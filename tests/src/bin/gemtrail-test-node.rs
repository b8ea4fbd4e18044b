//! `gemtrail-test-node CONFIG`: the node, as a process the multi-node tests
//! can SIGKILL. Same code path as `gemtrail-node --config CONFIG`.

use std::path::PathBuf;
use std::process::ExitCode;

use gemtrail_node::{runner, NodeConfig};

fn main() -> ExitCode {
    let Some(path) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: gemtrail-test-node CONFIG");
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
