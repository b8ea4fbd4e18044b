//! `gemtrail`: the one command every consortium member uses. Miners,
//! traders, cutters, labs and retailers sign their transactions locally and
//! submit them to a node; auditors verify stones' origin chains, online or
//! offline; operators found the consortium and run nodes. `gemtrail demo` runs
//! the whole journey on a local three-node consortium.
//!
//! Exit codes: 0 success, 1 error, 2 usage, 3 refused by the node or the
//! ledger, 4 verification failed.

// A dependency no code uses is caught here (the integration tests, which see
// every dependency, are left out).
#![cfg_attr(not(test), warn(unused_crate_dependencies))]

/// The nodes allocate many small, short-lived buffers across threads.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod actions;
mod args;
mod cmd;
mod connect;
mod disclosure;
mod error;
mod keyfile;
mod load;
mod local;
mod openings;
mod output;

use std::process::ExitCode;

use clap::{CommandFactory, Parser};

use args::{Cli, Command};
use error::{CliError, CliResult};
use output::{print_error, Out};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let out = Out { format: cli.output };
    if let Err(error) = connect::set_trust(cli.ca.as_deref(), cli.pin.as_deref()) {
        print_error(out, &error);
        return ExitCode::from(error.exit);
    }
    match run(out, cli.command) {
        Ok(code) => code,
        Err(error) => {
            print_error(out, &error);
            ExitCode::from(error.exit)
        }
    }
}

fn runtime() -> CliResult<tokio::runtime::Runtime> {
    tokio::runtime::Runtime::new()
        .map_err(|error| CliError::new(format!("cannot start the async runtime: {error}")))
}

fn run(out: Out, command: Command) -> CliResult<ExitCode> {
    match command {
        Command::Keys(command) => cmd::keys::run(out, command)?,
        Command::Genesis(command) => cmd::genesis::run(out, command)?,
        // `node start` runs its own runtime until a signal.
        Command::Node(command) => return cmd::node::run(out, command),
        Command::Stone(command) => runtime()?.block_on(cmd::stone::run(out, command))?,
        Command::Verify(args) => runtime()?.block_on(cmd::verify::verify(out, args))?,
        Command::Disclose(args) => runtime()?.block_on(cmd::disclose::run(out, args))?,
        Command::Passport(command) => runtime()?.block_on(cmd::passport::run(out, command))?,
        Command::Ledger(command) => cmd::ledger::run(out, command)?,
        Command::Governance(command) => runtime()?.block_on(cmd::governance::run(out, command))?,
        Command::Members(node) => runtime()?.block_on(cmd::governance::members(out, &node.node))?,
        Command::Status(node) => runtime()?.block_on(cmd::status::run(out, &node.node))?,
        Command::Demo(args) => runtime()?.block_on(cmd::demo::run(out, args))?,
        Command::Bench(args) => runtime()?.block_on(cmd::bench::run(out, args))?,
        Command::BenchEtcd(args) => runtime()?.block_on(cmd::etcd_bench::run(out, args))?,
        Command::BenchScale(args) => cmd::scale_bench::run(out, args)?,
        Command::Completions { shell } => {
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "gemtrail",
                &mut std::io::stdout(),
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
