//! The libp2p swarm task: TCP, noise and yamux, the genesis allow-list,
//! connection limits and one request-response protocol.
//!
//! One task owns the [`Swarm`]; everything else talks to it through the
//! bounded command channel of a [`P2pHandle`]. Most requests do not go
//! through that task at all: they travel on a [`lane`](super::lane), one
//! long-lived stream per peer that the caller writes directly. Snapshot
//! chunks, large and rare, take the request-response protocol (a stream per
//! request). Either way, inbound requests are handed, each on its own task,
//! to the node's [`InboundHandler`].
//!
//! **Admission:** the allow-list behaviour comes first, so a connection from a
//! peer id that is not a current consortium node is closed as soon as the noise
//! handshake has named the peer, before any stream (and so any Raft message)
//! is opened on it. The inbound handler checks the sender again anyway.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures::StreamExt;
use libp2p::swarm::{NetworkBehaviour, SwarmEvent};
use libp2p::{
    allow_block_list, connection_limits, noise, request_response, tcp, yamux, Multiaddr, PeerId,
    Swarm,
};
use tokio::sync::{mpsc, oneshot};

use super::codec::{WireCodec, PROTOCOL};
use super::lane::{self, Lanes, LANE_PROTOCOL};
use super::pending;
use super::wire::{PeerRequest, PeerResponse};
use crate::shutdown::Shutdown;

/// Capacity of the command channel into the swarm task.
pub(crate) const COMMAND_QUEUE_MAX: usize = 1024;
/// Most concurrent streams (inbound plus outbound) per connection.
pub(crate) const STREAMS_PER_CONNECTION_MAX: usize = 256;
/// How long an idle connection is kept. Raft heartbeats keep live ones busy;
/// this only closes connections to peers that went quiet.
pub(crate) const IDLE_CONNECTION_TIMEOUT: Duration = Duration::from_secs(60);

/// Settings of the swarm.
#[derive(Clone, Debug)]
pub(crate) struct SwarmSettings {
    /// The multiaddr to listen on.
    pub(crate) listen_addr: Multiaddr,
    /// Largest message in either direction.
    pub(crate) message_bytes_max: u64,
    /// How long a request may take, send to answer.
    pub(crate) request_timeout: Duration,
    /// Most connections, pending and established, in and out.
    pub(crate) connections_max: u32,
}

/// Why a request to a peer brought back no answer.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum OutboundError {
    /// The peer could not be dialled or the connection dropped.
    #[error("peer unreachable: {0}")]
    Unreachable(String),
    /// The peer did not answer within the request timeout.
    #[error("peer did not answer in time")]
    Timeout,
    /// The request is not allowed to go out (the peer is not a current node).
    #[error("peer {0} is not a consortium node")]
    NotAllowed(PeerId),
    /// The swarm task has stopped (the node is shutting down).
    #[error("the network task has stopped")]
    Stopped,
}

/// Handles requests from allowed peers. Implemented by the node.
pub(crate) trait InboundHandler: Clone + Send + Sync + 'static {
    /// Answers `request` from `peer`.
    fn handle(
        &self,
        peer: PeerId,
        request: PeerRequest,
    ) -> impl Future<Output = PeerResponse> + Send;
}

enum Command {
    Request {
        peer: PeerId,
        // Boxed: a request (e.g. a snapshot chunk) is much larger than the
        // other commands.
        request: Box<PeerRequest>,
        reply: oneshot::Sender<Result<PeerResponse, OutboundError>>,
    },
    Respond {
        channel: request_response::ResponseChannel<PeerResponse>,
        response: PeerResponse,
    },
    SetAllowed(BTreeMap<PeerId, Multiaddr>),
}

/// What the swarm task reports about its peers.
#[derive(Clone, Debug, Default)]
pub(crate) struct PeerView {
    /// Peers with at least one established connection.
    pub(crate) connected: BTreeSet<PeerId>,
    /// Connections refused because the peer is not a consortium node.
    pub(crate) refused_connections: u64,
    /// The addresses the swarm listens on.
    pub(crate) listening: Vec<Multiaddr>,
}

/// A handle on the swarm task. Cloning is cheap.
#[derive(Clone, Debug)]
pub(crate) struct P2pHandle {
    commands: mpsc::Sender<Command>,
    lanes: Arc<Lanes>,
    view: Arc<Mutex<PeerView>>,
    local_peer: PeerId,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Command::Request { peer, .. } => write!(f, "Request to {peer}"),
            Command::Respond { .. } => write!(f, "Respond"),
            Command::SetAllowed(peers) => write!(f, "SetAllowed({} peers)", peers.len()),
        }
    }
}

impl P2pHandle {
    /// Sends `request` to `peer` and waits for the answer (bounded by the
    /// request timeout of the swarm).
    pub(crate) async fn request(
        &self,
        peer: PeerId,
        request: PeerRequest,
    ) -> Result<PeerResponse, OutboundError> {
        if !matches!(request, PeerRequest::SnapshotChunk(_)) {
            return self.lanes.request(peer, &request).await;
        }
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(Command::Request {
                peer,
                request: Box::new(request),
                reply,
            })
            .await
            .map_err(|_| OutboundError::Stopped)?;
        answer.await.map_err(|_| OutboundError::Stopped)?
    }

    /// Replaces the allow-list (and the address book) with `peers`: the
    /// consortium's nodes after a membership change. Connections to peers no
    /// longer listed are closed.
    pub(crate) async fn set_allowed(&self, peers: BTreeMap<PeerId, Multiaddr>) {
        self.lanes.set_allowed(peers.keys().copied().collect());
        let _stopped = self.commands.send(Command::SetAllowed(peers)).await;
    }

    /// What the swarm knows of its peers now.
    pub(crate) fn view(&self) -> PeerView {
        self.view
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// This node's peer id.
    pub(crate) fn local_peer(&self) -> PeerId {
        self.local_peer
    }
}

#[derive(NetworkBehaviour)]
struct Behaviour {
    // First, so one address's flood of silent connections is turned away
    // before it takes any of the swarm's pending slots.
    pending: pending::Behaviour,
    // Then, so a peer that is not allowed is turned away before the others
    // see its connection.
    allowed: allow_block_list::Behaviour<allow_block_list::AllowedPeers>,
    limits: connection_limits::Behaviour,
    rpc: request_response::Behaviour<WireCodec>,
    lanes: libp2p_stream::Behaviour,
}

/// Why the swarm could not start.
#[derive(Debug, thiserror::Error)]
pub enum SwarmError {
    /// The transport could not be built.
    #[error("cannot build the libp2p transport: {0}")]
    Transport(String),
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {reason}")]
    Listen {
        /// The address.
        addr: Multiaddr,
        /// Why.
        reason: String,
    },
}

/// Builds the swarm, starts listening, and spawns its task. The task stops
/// when every handle is dropped and `shutdown` fires.
pub(crate) async fn spawn<H: InboundHandler>(
    keypair: libp2p::identity::Keypair,
    settings: SwarmSettings,
    allowed: BTreeMap<PeerId, Multiaddr>,
    handler: H,
    shutdown: Shutdown,
) -> Result<(P2pHandle, tokio::task::JoinHandle<()>), SwarmError> {
    let local_peer = keypair.public().to_peer_id();
    let mut swarm = build(keypair, &settings)?;
    swarm
        .listen_on(settings.listen_addr.clone())
        .map_err(|error| SwarmError::Listen {
            addr: settings.listen_addr.clone(),
            reason: error.to_string(),
        })?;
    // Wait for the listener to be bound, so a bad address fails the start.
    let listening = loop {
        match swarm.select_next_some().await {
            SwarmEvent::NewListenAddr { address, .. } => break address,
            SwarmEvent::ListenerError { error, .. }
            | SwarmEvent::ListenerClosed {
                reason: Err(error), ..
            } => {
                return Err(SwarmError::Listen {
                    addr: settings.listen_addr.clone(),
                    reason: error.to_string(),
                })
            }
            _ => {}
        }
    };
    let view = Arc::new(Mutex::new(PeerView {
        listening: vec![listening],
        ..PeerView::default()
    }));
    let mut control = swarm.behaviour().lanes.new_control();
    let incoming = control
        .accept(LANE_PROTOCOL)
        .map_err(|error| SwarmError::Transport(error.to_string()))?;
    tokio::spawn(lane::serve(
        incoming,
        handler.clone(),
        settings.message_bytes_max,
        shutdown.clone(),
    ));
    let lanes = Lanes::new(
        control,
        allowed.keys().copied().collect(),
        settings.message_bytes_max,
        settings.request_timeout,
    );
    let (commands, receiver) = mpsc::channel(COMMAND_QUEUE_MAX);
    let handle = P2pHandle {
        commands: commands.clone(),
        lanes: Arc::new(lanes),
        view: Arc::clone(&view),
        local_peer,
    };
    let mut task = SwarmTask {
        swarm,
        addresses: BTreeMap::new(),
        pending: HashMap::new(),
        view,
        commands: commands.downgrade(),
        handler,
    };
    task.set_allowed(allowed);
    let join = tokio::spawn(task.run(receiver, shutdown));
    Ok((handle, join))
}

fn build(
    keypair: libp2p::identity::Keypair,
    settings: &SwarmSettings,
) -> Result<Swarm<Behaviour>, SwarmError> {
    let transport_error = |error: &dyn std::fmt::Display| SwarmError::Transport(error.to_string());
    let limits = connection_limits::ConnectionLimits::default()
        .with_max_pending_incoming(Some(settings.connections_max))
        .with_max_pending_outgoing(Some(settings.connections_max))
        .with_max_established(Some(settings.connections_max))
        .with_max_established_per_peer(Some(2));
    let rpc_config = request_response::Config::default()
        .with_request_timeout(settings.request_timeout)
        .with_max_concurrent_streams(STREAMS_PER_CONNECTION_MAX);
    let codec = WireCodec::new(settings.message_bytes_max);
    let swarm = libp2p::SwarmBuilder::with_existing_identity(keypair)
        .with_tokio()
        .with_tcp(
            tcp::Config::default().nodelay(true),
            noise::Config::new,
            yamux::Config::default,
        )
        .map_err(|error| transport_error(&error))?
        .with_behaviour(|_key| Behaviour {
            pending: pending::Behaviour::default(),
            allowed: allow_block_list::Behaviour::default(),
            limits: connection_limits::Behaviour::new(limits),
            rpc: request_response::Behaviour::with_codec(
                codec,
                [(PROTOCOL, request_response::ProtocolSupport::Full)],
                rpc_config,
            ),
            lanes: libp2p_stream::Behaviour::new(),
        })
        .map_err(|error| transport_error(&error))?
        .with_swarm_config(|config| config.with_idle_connection_timeout(IDLE_CONNECTION_TIMEOUT))
        .build();
    Ok(swarm)
}

struct SwarmTask<H> {
    swarm: Swarm<Behaviour>,
    addresses: BTreeMap<PeerId, Multiaddr>,
    pending: HashMap<
        request_response::OutboundRequestId,
        oneshot::Sender<Result<PeerResponse, OutboundError>>,
    >,
    view: Arc<Mutex<PeerView>>,
    /// For inbound handler tasks to send their answers back; weak so that the
    /// task ends once the node drops its handles.
    commands: mpsc::WeakSender<Command>,
    handler: H,
}

impl<H: InboundHandler> SwarmTask<H> {
    async fn run(mut self, mut receiver: mpsc::Receiver<Command>, shutdown: Shutdown) {
        loop {
            tokio::select! {
                event = self.swarm.select_next_some() => self.on_event(event),
                command = receiver.recv() => match command {
                    Some(command) => self.on_command(command),
                    None => break,
                },
                () = shutdown.wait() => break,
            }
        }
        for (_, reply) in self.pending.drain() {
            let _gone = reply.send(Err(OutboundError::Stopped));
        }
        tracing::debug!("network task stopped");
    }

    fn update_view(&self, update: impl FnOnce(&mut PeerView)) {
        update(&mut self.view.lock().unwrap_or_else(PoisonError::into_inner));
    }

    fn set_allowed(&mut self, peers: BTreeMap<PeerId, Multiaddr>) {
        let local = *self.swarm.local_peer_id();
        let removed: Vec<PeerId> = self
            .addresses
            .keys()
            .filter(|peer| !peers.contains_key(peer))
            .copied()
            .collect();
        for peer in removed {
            self.swarm.behaviour_mut().allowed.disallow_peer(peer);
            let _was_connected = self.swarm.disconnect_peer_id(peer);
        }
        for (peer, address) in peers.iter().filter(|(peer, _)| **peer != local) {
            self.swarm.behaviour_mut().allowed.allow_peer(*peer);
            // So that a lane can dial the peer by its id.
            self.swarm.add_peer_address(*peer, address.clone());
        }
        self.addresses = peers;
        self.addresses.remove(&local);
    }

    fn on_command(&mut self, command: Command) {
        match command {
            Command::Request {
                peer,
                request,
                reply,
            } => {
                let Some(address) = self.addresses.get(&peer) else {
                    let _gone = reply.send(Err(OutboundError::NotAllowed(peer)));
                    return;
                };
                let id = self.swarm.behaviour_mut().rpc.send_request_with_addresses(
                    &peer,
                    *request,
                    vec![address.clone()],
                );
                self.pending.insert(id, reply);
            }
            Command::Respond { channel, response } => {
                // The peer may have gone or timed out; nothing to do then.
                let _not_sent = self
                    .swarm
                    .behaviour_mut()
                    .rpc
                    .send_response(channel, response);
            }
            Command::SetAllowed(peers) => self.set_allowed(peers),
        }
    }

    fn on_event(&mut self, event: SwarmEvent<BehaviourEvent>) {
        match event {
            SwarmEvent::Behaviour(BehaviourEvent::Rpc(event)) => self.on_rpc(event),
            SwarmEvent::ConnectionEstablished { peer_id, .. } => {
                tracing::debug!(%peer_id, "peer connected");
                self.update_view(|view| {
                    view.connected.insert(peer_id);
                });
            }
            SwarmEvent::ConnectionClosed {
                peer_id,
                num_established: 0,
                ..
            } => {
                tracing::debug!(%peer_id, "peer disconnected");
                self.update_view(|view| {
                    view.connected.remove(&peer_id);
                });
            }
            SwarmEvent::OutgoingConnectionError {
                peer_id: Some(peer),
                error,
                ..
            } => {
                tracing::debug!(%peer, %error, "could not connect to peer");
                // A failed dial drops the address from the swarm's book, and
                // lanes dial by peer id alone: put it back for the next try.
                if let Some(address) = self.addresses.get(&peer) {
                    self.swarm.add_peer_address(peer, address.clone());
                }
            }
            SwarmEvent::IncomingConnectionError {
                send_back_addr,
                error,
                ..
            } => {
                if is_not_allowed(&error) {
                    tracing::warn!(%send_back_addr, %error, "refused a connection from a peer that is not a consortium node");
                    self.update_view(|view| view.refused_connections += 1);
                } else {
                    tracing::debug!(%send_back_addr, %error, "incoming connection failed");
                }
            }
            SwarmEvent::NewListenAddr { address, .. } => {
                tracing::info!(%address, "listening for peers");
                self.update_view(|view| {
                    if !view.listening.contains(&address) {
                        view.listening.push(address);
                    }
                });
            }
            _ => {}
        }
    }

    fn on_rpc(&mut self, event: request_response::Event<PeerRequest, PeerResponse>) {
        match event {
            request_response::Event::Message { peer, message, .. } => match message {
                request_response::Message::Request {
                    request, channel, ..
                } => {
                    let handler = self.handler.clone();
                    let commands = self.commands.clone();
                    tokio::spawn(async move {
                        let response = handler.handle(peer, request).await;
                        if let Some(commands) = commands.upgrade() {
                            let _stopped =
                                commands.send(Command::Respond { channel, response }).await;
                        }
                    });
                }
                request_response::Message::Response {
                    request_id,
                    response,
                } => {
                    if let Some(reply) = self.pending.remove(&request_id) {
                        let _gone = reply.send(Ok(response));
                    }
                }
            },
            request_response::Event::OutboundFailure {
                peer,
                request_id,
                error,
                ..
            } => {
                if let Some(reply) = self.pending.remove(&request_id) {
                    let error = match error {
                        request_response::OutboundFailure::Timeout => OutboundError::Timeout,
                        other => OutboundError::Unreachable(format!("{peer}: {other}")),
                    };
                    let _gone = reply.send(Err(error));
                }
            }
            request_response::Event::InboundFailure { peer, error, .. } => {
                tracing::debug!(%peer, %error, "inbound request failed");
            }
            request_response::Event::ResponseSent { .. } => {}
        }
    }
}

/// True when the allow-list (not, say, a connection limit) denied the peer.
fn is_not_allowed(error: &libp2p::swarm::ListenError) -> bool {
    match error {
        libp2p::swarm::ListenError::Denied { cause } => cause
            .downcast_ref::<allow_block_list::NotAllowed>()
            .is_some(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codes::ErrorCode;
    use crate::p2p::wire::Refusal;
    use gemtrail_ledger::codec::BoundedVec;
    use gemtrail_ledger::testkit::{register, Consortium};

    /// Answers a forward with the nonce of its first transaction, slowly for
    /// nonce 0, so answers on one lane come back out of order.
    #[derive(Clone, Default)]
    struct Echo;

    impl InboundHandler for Echo {
        async fn handle(&self, _peer: PeerId, request: PeerRequest) -> PeerResponse {
            let nonce = match &request {
                PeerRequest::Forward(txs) => txs.as_slice().first().map(|tx| tx.tx.nonce),
                _ => None,
            };
            if nonce == Some(0) {
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
            PeerResponse::Refused(Refusal::new(
                ErrorCode::InvalidRequest,
                format!("{nonce:?}"),
            ))
        }
    }

    fn settings() -> SwarmSettings {
        SwarmSettings {
            listen_addr: "/ip4/127.0.0.1/tcp/0".parse().unwrap(),
            message_bytes_max: 1 << 20,
            request_timeout: Duration::from_secs(5),
            connections_max: 8,
        }
    }

    /// A swarm on a free loopback port that allows `allowed`.
    async fn peer(
        key: libp2p::identity::Keypair,
        allowed: (PeerId, Multiaddr),
        shutdown: &Shutdown,
    ) -> P2pHandle {
        let (handle, _task) = spawn(
            key,
            settings(),
            BTreeMap::from([allowed]),
            Echo,
            shutdown.clone(),
        )
        .await
        .unwrap();
        handle
    }

    fn forward(consortium: &Consortium, nonce: u64) -> PeerRequest {
        let tx = consortium.tx("mine", nonce, register(&format!("LANE-{nonce}"), 1));
        PeerRequest::Forward(BoundedVec::new(vec![tx]).unwrap())
    }

    #[tokio::test]
    async fn answers_on_a_lane_reach_their_own_requests_in_any_order() {
        let (_trigger, shutdown) = crate::shutdown::channel();
        let sender_key = libp2p::identity::Keypair::generate_ed25519();
        let receiver_key = libp2p::identity::Keypair::generate_ed25519();
        let sender_peer = sender_key.public().to_peer_id();
        let receiver_peer = receiver_key.public().to_peer_id();
        let unused: Multiaddr = "/ip4/127.0.0.1/tcp/9".parse().unwrap();
        let receiver = peer(receiver_key, (sender_peer, unused), &shutdown).await;
        let address = receiver.view().listening[0].clone();
        let sender = peer(sender_key, (receiver_peer, address), &shutdown).await;
        let consortium = Consortium::sample();
        // Opens the lane, so both requests below share it.
        let first = sender
            .request(receiver_peer, forward(&consortium, 5))
            .await
            .unwrap();
        assert_eq!(
            first,
            PeerResponse::Refused(Refusal::new(ErrorCode::InvalidRequest, "Some(5)"))
        );

        let slow = sender.request(receiver_peer, forward(&consortium, 0));
        let quick = async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            let answer = sender.request(receiver_peer, forward(&consortium, 1)).await;
            (answer, std::time::Instant::now())
        };
        let (slow, (quick, quick_at)) = tokio::join!(slow, quick);
        let slow_at = std::time::Instant::now();
        assert_eq!(
            slow.unwrap(),
            PeerResponse::Refused(Refusal::new(ErrorCode::InvalidRequest, "Some(0)"))
        );
        assert_eq!(
            quick.unwrap(),
            PeerResponse::Refused(Refusal::new(ErrorCode::InvalidRequest, "Some(1)"))
        );
        assert!(
            quick_at + Duration::from_millis(100) < slow_at,
            "the quick answer waited for the slow one"
        );

        // A peer outside the allow-list gets no request.
        let stranger = PeerId::random();
        let refused = sender.request(stranger, forward(&consortium, 2)).await;
        assert_eq!(refused, Err(OutboundError::NotAllowed(stranger)));
    }
}
