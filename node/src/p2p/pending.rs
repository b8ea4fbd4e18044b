//! A cap on the inbound connections one IP address may hold while they are
//! still being upgraded (before the noise handshake names the peer).
//!
//! The swarm caps pending inbound connections as a whole, and the allow-list
//! can only judge a connection once noise has said who it is, up to the
//! upgrade timeout later. Without a cap per address, one host opening a few
//! hundred silent TCP connections fills every pending slot, and no node, not
//! even a consortium node restarting, can connect in. With it, such a host
//! holds [`PENDING_INBOUND_PER_IP_MAX`] slots at most; its other connections
//! are refused at once, before any handshake work.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::IpAddr;
use std::task::{Context, Poll};

use libp2p::core::transport::PortUse;
use libp2p::core::Endpoint;
use libp2p::multiaddr::Protocol;
use libp2p::swarm::{
    dummy, ConnectionDenied, ConnectionId, FromSwarm, ListenFailure, NetworkBehaviour, THandler,
    THandlerInEvent, THandlerOutEvent, ToSwarm,
};
use libp2p::{Multiaddr, PeerId};

/// Most inbound connections one IP address may have in the handshake at
/// once. A consortium node needs one or two; a larger cap leaves room for
/// several nodes behind one address.
pub(crate) const PENDING_INBOUND_PER_IP_MAX: usize = 16;

/// The per-address cap, as a swarm behaviour.
#[derive(Debug, Default)]
pub(crate) struct Behaviour {
    /// Pending inbound connections by remote address.
    pending: HashMap<IpAddr, usize>,
    /// The address each counted connection came from.
    by_connection: HashMap<ConnectionId, IpAddr>,
}

/// The reason a connection was denied.
#[derive(Debug, thiserror::Error)]
#[error("{ip} already has {PENDING_INBOUND_PER_IP_MAX} connections in the handshake")]
struct TooManyPendingFrom {
    ip: IpAddr,
}

impl Behaviour {
    /// How many inbound connections from `ip` are in the handshake now.
    #[cfg(test)]
    fn pending_from(&self, ip: IpAddr) -> usize {
        self.pending.get(&ip).copied().unwrap_or(0)
    }

    fn release(&mut self, connection_id: ConnectionId) {
        let Some(ip) = self.by_connection.remove(&connection_id) else {
            return;
        };
        if let Some(count) = self.pending.get_mut(&ip) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                self.pending.remove(&ip);
            }
        }
    }
}

fn ip_of(address: &Multiaddr) -> Option<IpAddr> {
    address.iter().find_map(|protocol| match protocol {
        Protocol::Ip4(ip) => Some(IpAddr::V4(ip)),
        Protocol::Ip6(ip) => Some(IpAddr::V6(ip)),
        _ => None,
    })
}

impl NetworkBehaviour for Behaviour {
    type ConnectionHandler = dummy::ConnectionHandler;
    type ToSwarm = Infallible;

    fn handle_pending_inbound_connection(
        &mut self,
        connection_id: ConnectionId,
        _local_addr: &Multiaddr,
        remote_addr: &Multiaddr,
    ) -> Result<(), ConnectionDenied> {
        let Some(ip) = ip_of(remote_addr) else {
            return Ok(());
        };
        let count = self.pending.entry(ip).or_default();
        if *count >= PENDING_INBOUND_PER_IP_MAX {
            return Err(ConnectionDenied::new(TooManyPendingFrom { ip }));
        }
        *count += 1;
        self.by_connection.insert(connection_id, ip);
        Ok(())
    }

    fn handle_established_inbound_connection(
        &mut self,
        connection_id: ConnectionId,
        _peer: PeerId,
        _local_addr: &Multiaddr,
        _remote_addr: &Multiaddr,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        self.release(connection_id);
        Ok(dummy::ConnectionHandler)
    }

    fn handle_established_outbound_connection(
        &mut self,
        _connection_id: ConnectionId,
        _peer: PeerId,
        _addr: &Multiaddr,
        _role_override: Endpoint,
        _port_use: PortUse,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        Ok(dummy::ConnectionHandler)
    }

    fn on_swarm_event(&mut self, event: FromSwarm) {
        // A handshake that failed, timed out, or was denied by another
        // behaviour ends here; an established one ended above.
        if let FromSwarm::ListenFailure(ListenFailure { connection_id, .. }) = event {
            self.release(connection_id);
        }
    }

    fn on_connection_handler_event(
        &mut self,
        _peer: PeerId,
        _connection_id: ConnectionId,
        event: THandlerOutEvent<Self>,
    ) {
        match event {}
    }

    fn poll(&mut self, _: &mut Context<'_>) -> Poll<ToSwarm<Self::ToSwarm, THandlerInEvent<Self>>> {
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from(ip: &str) -> Multiaddr {
        format!("/ip4/{ip}/tcp/40000").parse().unwrap()
    }

    #[test]
    fn one_address_holds_at_most_its_share_and_others_still_get_in() {
        let mut behaviour = Behaviour::default();
        let local = from("127.0.0.1");
        let attacker = "127.0.0.2".parse().unwrap();
        for _ in 0..PENDING_INBOUND_PER_IP_MAX {
            let id = ConnectionId::new_unchecked(behaviour.by_connection.len() + 1);
            assert!(behaviour
                .handle_pending_inbound_connection(id, &local, &from("127.0.0.2"))
                .is_ok());
        }
        let next = ConnectionId::new_unchecked(1_000);
        assert!(behaviour
            .handle_pending_inbound_connection(next, &local, &from("127.0.0.2"))
            .is_err());
        assert_eq!(behaviour.pending_from(attacker), PENDING_INBOUND_PER_IP_MAX);
        // Another address is not affected.
        let honest = ConnectionId::new_unchecked(2_000);
        assert!(behaviour
            .handle_pending_inbound_connection(honest, &local, &from("127.0.0.1"))
            .is_ok());
        // A finished handshake frees its slot.
        let first = ConnectionId::new_unchecked(1);
        behaviour.release(first);
        assert_eq!(
            behaviour.pending_from(attacker),
            PENDING_INBOUND_PER_IP_MAX - 1
        );
        behaviour.release(first);
        assert_eq!(
            behaviour.pending_from(attacker),
            PENDING_INBOUND_PER_IP_MAX - 1
        );
    }
}
