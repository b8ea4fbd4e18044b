//! Running a node as a process: logging, the tokio runtime, and a graceful
//! stop on SIGTERM or Ctrl-C. Shared by the `gemtrail-node` binary and the
//! CLI's `node start`.

use std::process::ExitCode;

use crate::{logging, Node, NodeConfig};

/// Runs the node of `config` until SIGTERM or Ctrl-C. Exit code 0 after a
/// graceful stop; 1 if the node could not start, or had to stop because a
/// majority of the nodes certified another block than one it applied.
pub fn run_until_signal(config: NodeConfig) -> ExitCode {
    logging::init(&config.log);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let mut node = match Node::start(config).await {
            Ok(node) => node,
            Err(error) => {
                tracing::error!(%error, "node failed to start");
                eprintln!("error: {error}");
                return ExitCode::FAILURE;
            }
        };
        tokio::select! {
            () = wait_for_signal() => {}
            reason = node.failed() => {
                tracing::error!(%reason, "the node cannot go on; exiting");
                eprintln!("error: {reason}");
                // No draining: this node's ledger is not the consortium's,
                // or its storage cannot take writes.
                node.halt().await;
                return ExitCode::FAILURE;
            }
        }
        tracing::info!("stopping: finishing transactions in flight");
        node.stop().await;
        ExitCode::SUCCESS
    })
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut terminate) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = terminate.recv() => {}
            }
            return;
        }
    }
    let _no_signal_support = tokio::signal::ctrl_c().await;
}
