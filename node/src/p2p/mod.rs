//! Everything that crosses the network between nodes: the wire messages
//! ([`wire`]), their capped codec ([`codec`]), the libp2p swarm task with its
//! allow-list ([`swarm`]), the long-lived request streams most messages take
//! ([`lane`]), the Raft transport over it ([`transport`]) and the
//! handler of requests from peers ([`inbound`]).

pub mod codec;
pub mod inbound;
pub mod lane;
pub mod swarm;
pub mod transport;
pub mod wire;
