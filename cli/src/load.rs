//! The benchmarks' load generator: one kept-alive HTTP/1.1 connection per
//! simulated client, each request posted as bytes built in advance.
//!
//! The benchmarks run the client on the same two cores as the cluster, so
//! whatever the client spends is taken from the nodes. Through the general
//! client (`reqwest`, with its shared connection pool, per-request URL parsing
//! and header maps) the `gemtrail bench` client took about 13% of the machine
//! at 256 clients. A connection owned by its submitter needs no pool, and a
//! request is a method, a path and a body. `gemtrail bench` and
//! `gemtrail bench-etcd` both drive their clusters through it, so the two
//! figures still compare like for like.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{CONTENT_TYPE, HOST};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// How long one request may take before the connection is given up.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// A request that did not get an answer, or an answer that is not a success.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum LoadError {
    /// Connecting, sending or reading failed; the connection is closed.
    Transport(String),
    /// The server answered with a status other than 2xx.
    Status {
        /// The HTTP status.
        status: u16,
        /// The answer's body, as text.
        body: String,
    },
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Transport(reason) => write!(f, "transport: {reason}"),
            Self::Status { status, body } => write!(f, "HTTP {status}: {body}"),
        }
    }
}

/// One client's connection to one server (`host:port`, or a URL whose scheme
/// is `http`), opened on first use and again after a transport failure.
pub(crate) struct LoadConnection {
    authority: String,
    content_type: &'static str,
    sender: Option<SendRequest<Full<Bytes>>>,
}

impl LoadConnection {
    /// A connection to `server` that will post bodies of `content_type`.
    pub(crate) fn new(server: &str, content_type: &'static str) -> Self {
        let authority = server
            .strip_prefix("http://")
            .unwrap_or(server)
            .trim_end_matches('/')
            .to_owned();
        Self {
            authority,
            content_type,
            sender: None,
        }
    }

    /// Posts `body` to `path` (with its query) and returns the answer's body.
    pub(crate) async fn post(&mut self, path: &str, body: Bytes) -> Result<Bytes, LoadError> {
        match tokio::time::timeout(REQUEST_TIMEOUT, self.exchange(path, body)).await {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(error)) => {
                if matches!(error, LoadError::Transport(_)) {
                    self.sender = None;
                }
                Err(error)
            }
            Err(_) => {
                self.sender = None;
                Err(LoadError::Transport(format!(
                    "no answer from {} within {} s",
                    self.authority,
                    REQUEST_TIMEOUT.as_secs()
                )))
            }
        }
    }

    async fn exchange(&mut self, path: &str, body: Bytes) -> Result<Bytes, LoadError> {
        let request = Request::builder()
            .method(Method::POST)
            .uri(path)
            .header(HOST, self.authority.as_str())
            .header(CONTENT_TYPE, self.content_type)
            .body(Full::new(body))
            .map_err(|error| LoadError::Transport(error.to_string()))?;
        let sender = self.ready_sender().await?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|error| LoadError::Transport(error.to_string()))?;
        let status = response.status();
        let answer = response
            .into_body()
            .collect()
            .await
            .map_err(|error| LoadError::Transport(error.to_string()))?
            .to_bytes();
        if status.is_success() {
            Ok(answer)
        } else {
            Err(status_error(status, &answer))
        }
    }

    /// The open connection, ready for a request; opens one if there is none
    /// or the last one closed.
    async fn ready_sender(&mut self) -> Result<&mut SendRequest<Full<Bytes>>, LoadError> {
        let reusable = match self.sender.take() {
            Some(mut sender) => sender.ready().await.is_ok().then_some(sender),
            None => None,
        };
        let sender = match reusable {
            Some(sender) => sender,
            None => self.open().await?,
        };
        Ok(self.sender.insert(sender))
    }

    async fn open(&self) -> Result<SendRequest<Full<Bytes>>, LoadError> {
        let transport = |error: &dyn std::fmt::Display| {
            LoadError::Transport(format!("{}: {error}", self.authority))
        };
        let stream = TcpStream::connect(&self.authority)
            .await
            .map_err(|error| transport(&error))?;
        stream
            .set_nodelay(true)
            .map_err(|error| transport(&error))?;
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|error| transport(&error))?;
        // The connection's I/O runs in its own task and ends with the sender.
        tokio::spawn(connection);
        Ok(sender)
    }
}

fn status_error(status: StatusCode, body: &[u8]) -> LoadError {
    LoadError::Status {
        status: status.as_u16(),
        body: String::from_utf8_lossy(body).into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// A server that answers each request read on each connection with
    /// `answer`, and reports how many connections it accepted.
    async fn server(answer: &'static str) -> (String, tokio::sync::mpsc::UnboundedReceiver<usize>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let (accepted, count) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut connections = 0;
            while let Ok((mut stream, _)) = listener.accept().await {
                connections += 1;
                let _ = accepted.send(connections);
                tokio::spawn(async move {
                    let mut buffer = vec![0u8; 4096];
                    // Each test request fits one read.
                    while let Ok(read) = stream.read(&mut buffer).await {
                        if read == 0 {
                            break;
                        }
                        if stream.write_all(answer.as_bytes()).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        (addr, count)
    }

    #[tokio::test]
    async fn requests_share_one_kept_alive_connection() {
        let (addr, mut accepted) =
            server("HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello").await;
        let mut connection = LoadConnection::new(&format!("http://{addr}/"), "text/plain");
        for _ in 0..3 {
            let answer = connection.post("/x", Bytes::from_static(b"hi")).await;
            assert_eq!(answer, Ok(Bytes::from_static(b"hello")));
        }
        assert_eq!(accepted.recv().await, Some(1));
        assert!(accepted.try_recv().is_err(), "opened a second connection");
    }

    #[tokio::test]
    async fn an_error_status_carries_its_body() {
        let (addr, _accepted) =
            server("HTTP/1.1 429 Too Many Requests\r\ncontent-length: 4\r\n\r\nfull").await;
        let mut connection = LoadConnection::new(&addr, "text/plain");
        let answer = connection.post("/x", Bytes::new()).await;
        assert_eq!(
            answer,
            Err(LoadError::Status {
                status: 429,
                body: "full".to_owned()
            })
        );
    }

    #[tokio::test]
    async fn a_refused_connection_is_a_transport_error() {
        // Bind and drop to find a port nobody listens on.
        let addr = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap()
            .local_addr()
            .unwrap()
            .to_string();
        let mut connection = LoadConnection::new(&addr, "text/plain");
        match connection.post("/x", Bytes::new()).await {
            Err(LoadError::Transport(reason)) => assert!(reason.starts_with(&addr), "{reason}"),
            other => panic!("expected a transport error, got {other:?}"),
        }
    }
}
