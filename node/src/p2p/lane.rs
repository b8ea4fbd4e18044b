//! Lanes: one long-lived stream per peer that carries many requests.
//!
//! **Why.** libp2p's request-response protocol opens a new yamux stream, and
//! negotiates its protocol, for every request, and routes every message
//! through the swarm task on both sides. Measured with one client, that made
//! a request's way out 190–290 µs against 40–120 µs for its answer on the
//! open stream, and a block's way to its receipt crosses three such requests
//! (forward, append, commit heartbeat). A lane opens its stream once; our
//! own tasks then write and read it directly, and only yamux's connection
//! task stands between them and the socket.
//!
//! **Frames.** Each message is a 4-byte big-endian length (of what follows),
//! an 8-byte request id chosen by the sender of the request, then the borsh
//! bytes of a [`PeerRequest`] or [`PeerResponse`]. The length is checked
//! against the genesis `peer_message_bytes_max` before anything is
//! allocated; a frame too large, or one that does not decode, closes the
//! lane (the sender then opens another).
//!
//! **Answers** come back on the same stream, tagged with the request's id,
//! in the order the handler finishes them, so a slow request does not hold
//! up a quick one. A peer may have at most [`LANE_REQUESTS_MAX`] requests
//! being handled at once per lane; beyond that the lane stops reading.
//!
//! Snapshot chunks do not use lanes: they are large and rare, and on a lane
//! they would hold up the heartbeats queued behind them.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures::io::{ReadHalf, WriteHalf};
use futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, StreamExt};
use gemtrail_ledger::codec::{decode, encode};
use libp2p::{PeerId, Stream, StreamProtocol};
use tokio::sync::{oneshot, Semaphore};

use super::swarm::{InboundHandler, OutboundError};
use super::wire::{PeerRequest, PeerResponse};
use crate::shutdown::Shutdown;

/// The protocol of a lane's stream; bump on incompatible change.
pub(crate) const LANE_PROTOCOL: StreamProtocol = StreamProtocol::new("/gemtrail/lane/2");
/// Most requests of one lane being handled at once.
pub(crate) const LANE_REQUESTS_MAX: usize = 256;
/// Bytes of a frame before its message: the length and the request id.
const FRAME_HEADER_BYTES: usize = 12;

/// Writes `message` as one frame tagged `id`, in a single write.
async fn write_frame<W, M>(io: &mut W, id: u64, message: &M, bytes_max: u64) -> std::io::Result<()>
where
    W: AsyncWrite + Unpin,
    M: borsh::BorshSerialize,
{
    let body = encode(message);
    let length = body.len() as u64;
    if length > bytes_max {
        return Err(too_large(length, bytes_max));
    }
    let prefix = u32::try_from(length + 8).map_err(std::io::Error::other)?;
    let mut frame = Vec::with_capacity(FRAME_HEADER_BYTES + body.len());
    frame.extend_from_slice(&prefix.to_be_bytes());
    frame.extend_from_slice(&id.to_be_bytes());
    frame.extend_from_slice(&body);
    io.write_all(&frame).await?;
    io.flush().await
}

/// Every request frame in `bytes`, as a lane reads them (for the fuzz
/// target `lane_frames`): stops at the end, or at the first bad frame.
pub(crate) fn read_request_frames(bytes: &[u8], bytes_max: u64) -> Vec<(u64, PeerRequest)> {
    let mut frames = Vec::new();
    let mut reader = bytes;
    let read = async {
        while let Ok(Some(frame)) = read_frame::<_, PeerRequest>(&mut reader, bytes_max).await {
            frames.push(frame);
        }
    };
    // A byte slice never waits, so the future completes on its first poll.
    futures::executor::block_on(read);
    frames
}

/// Reads one frame; `Ok(None)` when the stream ended cleanly between frames.
async fn read_frame<R, M>(io: &mut R, bytes_max: u64) -> std::io::Result<Option<(u64, M)>>
where
    R: AsyncRead + Unpin,
    M: borsh::BorshDeserialize + borsh::BorshSerialize,
{
    let mut prefix = [0u8; 4];
    match io.read_exact(&mut prefix).await {
        Ok(()) => {}
        Err(error) if error.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(error) => return Err(error),
    }
    let length = u64::from(u32::from_be_bytes(prefix));
    let Some(body_length) = length.checked_sub(8) else {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("lane frame of {length} bytes is shorter than its request id"),
        ));
    };
    if body_length > bytes_max {
        return Err(too_large(body_length, bytes_max));
    }
    let mut id = [0u8; 8];
    io.read_exact(&mut id).await?;
    let mut body = vec![0u8; usize::try_from(body_length).map_err(std::io::Error::other)?];
    io.read_exact(&mut body).await?;
    let message = decode(&body)
        .map_err(|error| std::io::Error::new(std::io::ErrorKind::InvalidData, error))?;
    Ok(Some((u64::from_be_bytes(id), message)))
}

fn too_large(length: u64, bytes_max: u64) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        format!("peer message of {length} bytes is larger than the {bytes_max} allowed"),
    )
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

type Waiters = Mutex<HashMap<u64, oneshot::Sender<PeerResponse>>>;
/// A peer's lane, if one is open; locked while one is being opened.
type LaneSlot = Arc<tokio::sync::Mutex<Option<Arc<Lane>>>>;

/// One open outbound lane to a peer.
struct Lane {
    writer: tokio::sync::Mutex<WriteHalf<Stream>>,
    waiting: Arc<Waiters>,
    closed: Arc<AtomicBool>,
}

/// This node's outbound lanes, opened on first use and again after a
/// failure.
pub(crate) struct Lanes {
    control: libp2p_stream::Control,
    /// One slot per peer; the slot's lock is held while its lane is opened,
    /// so a peer gets one lane, and a peer slow to dial holds up only its own
    /// requests.
    slots: Mutex<HashMap<PeerId, LaneSlot>>,
    allowed: Mutex<BTreeSet<PeerId>>,
    next_id: AtomicU64,
    bytes_max: u64,
    timeout: Duration,
}

impl std::fmt::Debug for Lanes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lanes")
            .field("allowed", &lock(&self.allowed).len())
            .finish_non_exhaustive()
    }
}

impl Lanes {
    /// Lanes opened through `control`, to `allowed` peers, with messages of at
    /// most `bytes_max` and answers awaited for at most `timeout`.
    pub(crate) fn new(
        control: libp2p_stream::Control,
        allowed: BTreeSet<PeerId>,
        bytes_max: u64,
        timeout: Duration,
    ) -> Self {
        Self {
            control,
            slots: Mutex::new(HashMap::new()),
            allowed: Mutex::new(allowed),
            next_id: AtomicU64::new(1),
            bytes_max,
            timeout,
        }
    }

    /// Replaces the peers lanes may go to, and closes lanes to the others.
    pub(crate) fn set_allowed(&self, allowed: BTreeSet<PeerId>) {
        lock(&self.slots).retain(|peer, _| allowed.contains(peer));
        *lock(&self.allowed) = allowed;
    }

    /// Sends `request` to `peer` on its lane and waits for the answer.
    pub(crate) async fn request(
        &self,
        peer: PeerId,
        request: &PeerRequest,
    ) -> Result<PeerResponse, OutboundError> {
        if !lock(&self.allowed).contains(&peer) {
            return Err(OutboundError::NotAllowed(peer));
        }
        match tokio::time::timeout(self.timeout, self.exchange(peer, request)).await {
            Ok(answer) => answer,
            Err(_) => Err(OutboundError::Timeout),
        }
    }

    async fn exchange(
        &self,
        peer: PeerId,
        request: &PeerRequest,
    ) -> Result<PeerResponse, OutboundError> {
        let lane = self.lane(peer).await?;
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (sender, answer) = oneshot::channel();
        lock(&lane.waiting).insert(id, sender);
        // Forget the waiter however this ends (answered, failed, timed out).
        let _forget = ForgetOnDrop {
            waiting: &lane.waiting,
            id,
        };
        let written = {
            let mut writer = lane.writer.lock().await;
            write_or_close(&mut *writer, &lane.closed, id, request, self.bytes_max).await
        };
        if let Err(error) = written {
            return Err(OutboundError::Unreachable(format!("{peer}: {error}")));
        }
        answer
            .await
            .map_err(|_| OutboundError::Unreachable(format!("{peer}: the lane closed")))
    }

    /// The open lane to `peer`, opening one if there is none.
    async fn lane(&self, peer: PeerId) -> Result<Arc<Lane>, OutboundError> {
        let slot = Arc::clone(lock(&self.slots).entry(peer).or_default());
        let mut slot = slot.lock().await;
        if let Some(lane) = slot
            .as_ref()
            .filter(|lane| !lane.closed.load(Ordering::Relaxed))
        {
            return Ok(Arc::clone(lane));
        }
        let stream = self
            .control
            .clone()
            .open_stream(peer, LANE_PROTOCOL)
            .await
            .map_err(|error| OutboundError::Unreachable(format!("{peer}: {error}")))?;
        let (reader, writer) = stream.split();
        let lane = Arc::new(Lane {
            writer: tokio::sync::Mutex::new(writer),
            waiting: Arc::new(Mutex::new(HashMap::new())),
            closed: Arc::new(AtomicBool::new(false)),
        });
        tokio::spawn(read_answers(
            reader,
            Arc::clone(&lane.waiting),
            Arc::clone(&lane.closed),
            self.bytes_max,
            peer,
        ));
        *slot = Some(Arc::clone(&lane));
        Ok(lane)
    }
}

/// Writes one request frame on a lane, and marks the lane closed if the
/// write fails or is abandoned half-way (the caller's timeout dropped it):
/// the stream then holds part of a frame, and anything written after it
/// would be read as garbage. A message too large to send leaves the lane
/// as it was, since nothing was written.
async fn write_or_close<W: AsyncWrite + Unpin>(
    writer: &mut W,
    closed: &AtomicBool,
    id: u64,
    request: &PeerRequest,
    bytes_max: u64,
) -> std::io::Result<()> {
    let mut unfinished = CloseUnlessFinished {
        closed,
        finished: false,
    };
    let written = write_frame(writer, id, request, bytes_max).await;
    unfinished.finished = match &written {
        Ok(()) => true,
        Err(error) => error.kind() == std::io::ErrorKind::InvalidData,
    };
    written
}

/// Marks a lane closed when dropped before its write finished.
struct CloseUnlessFinished<'a> {
    closed: &'a AtomicBool,
    finished: bool,
}

impl Drop for CloseUnlessFinished<'_> {
    fn drop(&mut self) {
        if !self.finished {
            self.closed.store(true, Ordering::Relaxed);
        }
    }
}

struct ForgetOnDrop<'a> {
    waiting: &'a Waiters,
    id: u64,
}

impl Drop for ForgetOnDrop<'_> {
    fn drop(&mut self) {
        lock(self.waiting).remove(&self.id);
    }
}

/// Hands each answer on a lane to its waiter, until the stream ends; then
/// marks the lane closed and fails whoever still waits.
async fn read_answers(
    mut reader: ReadHalf<Stream>,
    waiting: Arc<Waiters>,
    closed: Arc<AtomicBool>,
    bytes_max: u64,
    peer: PeerId,
) {
    loop {
        match read_frame::<_, PeerResponse>(&mut reader, bytes_max).await {
            Ok(Some((id, response))) => {
                if let Some(waiter) = lock(&waiting).remove(&id) {
                    let _gone = waiter.send(response);
                }
            }
            Ok(None) => break,
            Err(error) => {
                tracing::debug!(%peer, %error, "lane to peer failed");
                break;
            }
        }
    }
    closed.store(true, Ordering::Relaxed);
    // Dropping the senders tells each waiter the lane closed.
    lock(&waiting).clear();
}

/// Accepts lanes from peers and serves their requests with `handler`, until
/// `shutdown` fires.
pub(crate) async fn serve<H: InboundHandler>(
    mut incoming: libp2p_stream::IncomingStreams,
    handler: H,
    bytes_max: u64,
    shutdown: Shutdown,
) {
    loop {
        tokio::select! {
            next = incoming.next() => match next {
                Some((peer, stream)) => {
                    tokio::spawn(serve_lane(peer, stream, handler.clone(), bytes_max));
                }
                None => break,
            },
            () = shutdown.wait() => break,
        }
    }
}

/// Reads requests from one peer's lane, handles each on its own task, and
/// writes each answer back as soon as it is ready.
async fn serve_lane<H: InboundHandler>(peer: PeerId, stream: Stream, handler: H, bytes_max: u64) {
    let (mut reader, writer) = stream.split();
    let writer = Arc::new(tokio::sync::Mutex::new(writer));
    let in_hand = Arc::new(Semaphore::new(LANE_REQUESTS_MAX));
    loop {
        let request = match read_frame::<_, PeerRequest>(&mut reader, bytes_max).await {
            Ok(Some(request)) => request,
            Ok(None) => break,
            Err(error) => {
                tracing::debug!(%peer, %error, "closed a lane from a peer");
                break;
            }
        };
        let Ok(permit) = Arc::clone(&in_hand).acquire_owned().await else {
            break;
        };
        let (id, request) = request;
        let handler = handler.clone();
        let writer = Arc::clone(&writer);
        tokio::spawn(async move {
            let response = handler.handle(peer, request).await;
            let mut writer = writer.lock().await;
            if let Err(error) = write_frame(&mut *writer, id, &response, bytes_max).await {
                tracing::debug!(%peer, %error, "could not answer on a lane");
            }
            drop(permit);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codes::ErrorCode;
    use crate::p2p::wire::Refusal;
    use futures::io::Cursor;

    fn framed(id: u64, response: &PeerResponse, bytes_max: u64) -> std::io::Result<Vec<u8>> {
        let mut out = Cursor::new(Vec::new());
        futures::executor::block_on(write_frame(&mut out, id, response, bytes_max))?;
        Ok(out.into_inner())
    }

    fn read(bytes: Vec<u8>, bytes_max: u64) -> std::io::Result<Option<(u64, PeerResponse)>> {
        futures::executor::block_on(read_frame(&mut Cursor::new(bytes), bytes_max))
    }

    #[test]
    fn a_frame_carries_its_id_and_message() {
        let response = PeerResponse::Refused(Refusal::new(ErrorCode::NotLeader, "ask node 2"));
        let bytes = framed(7, &response, 1024).unwrap();
        let length = u32::from_be_bytes(bytes[..4].try_into().unwrap()) as usize;
        assert_eq!(length, bytes.len() - 4);
        assert_eq!(read(bytes, 1024).unwrap(), Some((7, response)));
    }

    #[test]
    fn a_clean_end_between_frames_is_not_an_error() {
        assert_eq!(read(Vec::new(), 1024).unwrap(), None);
    }

    #[test]
    fn an_oversized_frame_is_refused_before_its_body_is_read() {
        let response = PeerResponse::Refused(Refusal::new(ErrorCode::Internal, "y".repeat(100)));
        let bytes = framed(1, &response, 1024).unwrap();
        let error = read(bytes, 16).unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::InvalidData);
        assert!(
            error.to_string().contains("is larger than the 16 allowed"),
            "{error}"
        );
        let error = framed(1, &response, 16).unwrap_err();
        assert!(
            error.to_string().contains("is larger than the 16 allowed"),
            "{error}"
        );
    }

    #[test]
    fn a_frame_shorter_than_its_id_or_undecodable_is_refused() {
        let error = read(vec![0, 0, 0, 3, 1, 2, 3], 1024).unwrap_err();
        assert_eq!(
            error.to_string(),
            "lane frame of 3 bytes is shorter than its request id"
        );
        let mut bytes = vec![0, 0, 0, 10];
        bytes.extend_from_slice(&5u64.to_be_bytes());
        bytes.extend_from_slice(&[250, 250]);
        let error = read(bytes, 1024).unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::InvalidData);
    }

    #[tokio::test]
    async fn a_peer_that_is_not_allowed_gets_no_lane() {
        let control = libp2p_stream::Behaviour::new().new_control();
        let stranger = PeerId::random();
        let lanes = Lanes::new(control, BTreeSet::new(), 1024, Duration::from_secs(1));
        let request = PeerRequest::Forward(gemtrail_ledger::codec::BoundedVec::default());
        let refused = lanes.request(stranger, &request).await;
        assert_eq!(refused, Err(OutboundError::NotAllowed(stranger)));
        // Allowing the peer and then removing it again closes the door.
        lanes.set_allowed(BTreeSet::from([stranger]));
        lanes.set_allowed(BTreeSet::new());
        let refused = lanes.request(stranger, &request).await;
        assert_eq!(refused, Err(OutboundError::NotAllowed(stranger)));
    }

    /// A writer that takes `room` bytes, then never takes more.
    struct Stalls {
        room: usize,
        taken: usize,
    }

    impl AsyncWrite for Stalls {
        fn poll_write(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
            bytes: &[u8],
        ) -> std::task::Poll<std::io::Result<usize>> {
            let free = self.room - self.taken;
            if free == 0 {
                return std::task::Poll::Pending;
            }
            let taken = free.min(bytes.len());
            self.taken += taken;
            std::task::Poll::Ready(Ok(taken))
        }

        fn poll_flush(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            std::task::Poll::Ready(Ok(()))
        }

        fn poll_close(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            std::task::Poll::Ready(Ok(()))
        }
    }

    #[tokio::test]
    async fn a_write_abandoned_half_way_by_a_timeout_marks_the_lane_closed() {
        let request = PeerRequest::Forward(gemtrail_ledger::codec::BoundedVec::EMPTY);
        let closed = AtomicBool::new(false);
        let mut writer = Stalls { room: 5, taken: 0 };
        let write = write_or_close(&mut writer, &closed, 1, &request, 1 << 20);
        let outcome = tokio::time::timeout(Duration::from_millis(20), write).await;
        assert!(outcome.is_err(), "the stalled write finished");
        assert_eq!(writer.taken, 5, "half a frame went out");
        assert!(closed.load(Ordering::Relaxed), "the lane stayed open");

        // A whole write leaves it open.
        let closed = AtomicBool::new(false);
        let mut writer = Stalls {
            room: 1 << 16,
            taken: 0,
        };
        write_or_close(&mut writer, &closed, 2, &request, 1 << 20)
            .await
            .unwrap();
        assert!(!closed.load(Ordering::Relaxed));
    }

    #[test]
    fn a_frame_cut_short_is_an_error() {
        let response = PeerResponse::Refused(Refusal::new(ErrorCode::Internal, "y"));
        let mut bytes = framed(1, &response, 1024).unwrap();
        bytes.truncate(bytes.len() - 1);
        let error = read(bytes, 1024).unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::UnexpectedEof);
    }
}
