//! Everything that crosses the network between nodes: the wire messages
//! ([`wire`]), their capped codec ([`codec`]), the libp2p swarm task with its
//! allow-list ([`swarm`]), the Raft transport over it ([`transport`]) and the
//! handler of requests from peers ([`inbound`]).

pub mod codec;
pub mod inbound;
pub mod swarm;
pub mod transport;
pub mod wire;
