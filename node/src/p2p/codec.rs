//! The request-response codec: a 4-byte big-endian length, then the borsh
//! bytes of a [`PeerRequest`] or [`PeerResponse`].
//!
//! The length is checked against the genesis `peer_message_bytes_max` before
//! a single byte of the body is read or allocated, so a peer cannot make a
//! node buffer more than one capped message per stream. Decoding is the
//! ledger's strict canonical decode (no trailing bytes, bounded collections).

use std::io;

use futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use gemtrail_ledger::codec::{decode, encode};
use libp2p::request_response::Codec;
use libp2p::StreamProtocol;

use super::wire::{PeerRequest, PeerResponse};

/// The protocol name negotiated on each stream; bump on incompatible change.
pub const PROTOCOL: StreamProtocol = StreamProtocol::new("/gemtrail/peer/2");

/// Length-prefixed borsh, capped at `bytes_max` per message.
#[derive(Clone, Copy, Debug)]
pub struct WireCodec {
    bytes_max: u64,
}

impl WireCodec {
    /// A codec refusing messages over `bytes_max` bytes.
    pub fn new(bytes_max: u64) -> Self {
        Self { bytes_max }
    }

    async fn read_message<T, M>(&self, io: &mut T) -> io::Result<M>
    where
        T: AsyncRead + Unpin + Send,
        M: borsh::BorshSerialize + borsh::BorshDeserialize,
    {
        let mut length = [0u8; 4];
        io.read_exact(&mut length).await?;
        let length = u64::from(u32::from_be_bytes(length));
        if length > self.bytes_max {
            return Err(too_large(length, self.bytes_max));
        }
        let mut body = vec![0u8; usize::try_from(length).map_err(io::Error::other)?];
        io.read_exact(&mut body).await?;
        decode(&body).map_err(|error| io::Error::new(io::ErrorKind::InvalidData, error))
    }

    async fn write_message<T, M>(&self, io: &mut T, message: &M) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
        M: borsh::BorshSerialize,
    {
        let body = encode(message);
        let length = u64::try_from(body.len()).map_err(io::Error::other)?;
        if length > self.bytes_max {
            return Err(too_large(length, self.bytes_max));
        }
        let prefix = u32::try_from(length).map_err(io::Error::other)?;
        io.write_all(&prefix.to_be_bytes()).await?;
        io.write_all(&body).await?;
        io.close().await
    }
}

fn too_large(length: u64, bytes_max: u64) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("peer message of {length} bytes is larger than the {bytes_max} allowed"),
    )
}

impl Codec for WireCodec {
    type Protocol = StreamProtocol;
    type Request = PeerRequest;
    type Response = PeerResponse;

    async fn read_request<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<PeerRequest>
    where
        T: AsyncRead + Unpin + Send,
    {
        self.read_message(io).await
    }

    async fn read_response<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<PeerResponse>
    where
        T: AsyncRead + Unpin + Send,
    {
        self.read_message(io).await
    }

    async fn write_request<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        request: PeerRequest,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        self.write_message(io, &request).await
    }

    async fn write_response<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        response: PeerResponse,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        self.write_message(io, &response).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codes::ErrorCode;
    use crate::p2p::wire::Refusal;
    use futures::io::Cursor;

    fn written(codec: &WireCodec, response: &PeerResponse) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        futures::executor::block_on(codec.write_message(&mut out, response)).unwrap();
        out.into_inner()
    }

    #[test]
    fn a_message_round_trips_with_its_length_prefix() {
        let codec = WireCodec::new(1024);
        let response = PeerResponse::Refused(Refusal::new(ErrorCode::UnknownPeer, "who are you?"));
        let bytes = written(&codec, &response);
        assert_eq!(&bytes[..4], &(bytes.len() as u32 - 4).to_be_bytes());
        let read: PeerResponse =
            futures::executor::block_on(codec.read_message(&mut Cursor::new(bytes))).unwrap();
        assert_eq!(read, response);
    }

    #[test]
    fn an_oversized_length_is_refused_before_the_body_is_read() {
        let codec = WireCodec::new(16);
        let mut bytes = 1_000_000u32.to_be_bytes().to_vec();
        bytes.extend_from_slice(&[0; 8]);
        let error = futures::executor::block_on(
            codec.read_message::<_, PeerResponse>(&mut Cursor::new(bytes)),
        )
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "peer message of 1000000 bytes is larger than the 16 allowed"
        );
    }

    #[test]
    fn trailing_bytes_and_garbage_are_refused() {
        let codec = WireCodec::new(1024);
        let response = PeerResponse::SnapshotChunkStored { received: 7 };
        let mut body = encode(&response);
        body.push(0);
        let mut bytes = (body.len() as u32).to_be_bytes().to_vec();
        bytes.extend_from_slice(&body);
        let error = futures::executor::block_on(
            codec.read_message::<_, PeerResponse>(&mut Cursor::new(bytes)),
        )
        .unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidData);
        let garbage = [0, 0, 0, 3, 0xff, 0xff, 0xff];
        assert!(futures::executor::block_on(
            codec.read_message::<_, PeerResponse>(&mut Cursor::new(garbage.to_vec()))
        )
        .is_err());
    }
}
