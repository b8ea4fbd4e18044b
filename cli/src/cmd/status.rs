//! `gemtrail status`: what a node says about itself and the cluster.

use crate::error::CliResult;
use crate::output::Out;

/// Prints a node's status.
pub(crate) async fn run(out: Out, node: &str) -> CliResult {
    let status = crate::connect::node_client(node)?.status().await?;
    out.print(&status, || {
        let leader = status
            .leader
            .map_or_else(|| "none known".to_owned(), |id| format!("node {id}"));
        let mut text = format!(
            "node {} ({}) of chain {}\nraft: {}, term {}, leader {}, voters {:?}\nledger: height {}, tip {}\nmempool: {} transactions{}\npeers:\n",
            status.node_id,
            status.peer_id,
            status.chain_id,
            status.raft_state,
            status.term,
            leader,
            status.voters,
            status.height,
            status.tip_hash,
            status.mempool_txs,
            if status.accepting { "" } else { " (shutting down)" },
        );
        for peer in &status.peers {
            text.push_str(&format!(
                "  node {} {} api {} {}\n",
                peer.node_id,
                peer.listen_addr,
                peer.api_addr,
                if peer.connected { "connected" } else { "not connected" }
            ));
        }
        text
    })
}
