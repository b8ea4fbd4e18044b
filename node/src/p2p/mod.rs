//! Everything that crosses the network between nodes: the wire messages
//! ([`wire`]), their capped codec ([`codec`]), the libp2p swarm task with its
//! allow-list ([`swarm`]) and its cap on handshakes per address
//! ([`pending`]), the long-lived request streams most messages take
//! ([`lane`]), the Raft transport over it ([`transport`]) and the
//! handler of requests from peers ([`inbound`]).

pub mod codec;
pub(crate) mod inbound;
pub(crate) mod lane;
pub(crate) mod pending;
pub(crate) mod swarm;
pub(crate) mod transport;
pub mod wire;

pub use swarm::SwarmError;
