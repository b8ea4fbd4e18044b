//! The benchmarks' load generator: each simulated client posts requests built
//! in advance, either on a kept-alive HTTP/1.1 connection of its own or as
//! streams on an HTTP/2 connection it shares with other clients.
//!
//! The benchmarks run the client on the same two cores as the cluster, so
//! whatever the client spends is taken from the nodes. Through the general
//! client (`reqwest`, with its shared connection pool, per-request URL parsing
//! and header maps) the `gemtrail bench` client took about 13% of the machine
//! at 256 clients. A connection owned by its submitter needs no pool, and a
//! request is a method, a path and a body. `gemtrail bench` and
//! `gemtrail bench-etcd` both drive their clusters through it, so the two
//! figures still compare like for like.
//!
//! HTTP/2 (cleartext, with prior knowledge, as gRPC clients speak it) lets a
//! few connections carry many clients' requests: the server answers a burst
//! of streams with one write instead of one write per request.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::{http1, http2};
use hyper::header::{HeaderMap, CONTENT_TYPE, HOST, TE};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
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
    /// A gRPC server answered with a `grpc-status` other than 0 (OK).
    Grpc {
        /// The gRPC status code.
        code: String,
        /// Its `grpc-message`.
        message: String,
    },
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Transport(reason) => write!(f, "transport: {reason}"),
            Self::Status { status, body } => write!(f, "HTTP {status}: {body}"),
            Self::Grpc { code, message } => write!(f, "gRPC status {code}: {message}"),
        }
    }
}

/// One client's way to one server (`host:port`, or a URL whose scheme is
/// `http`): its own HTTP/1.1 connection, or a share of an HTTP/2 one.
/// Either is opened on first use and again after a transport failure.
pub(crate) struct LoadConnection {
    authority: String,
    content_type: &'static str,
    link: Link,
}

enum Link {
    /// A connection this client alone uses, one request at a time.
    Http1(Option<http1::SendRequest<Full<Bytes>>>),
    /// A connection whose streams many clients share.
    Http2(Arc<SharedHttp2>),
}

/// An HTTP/2 connection that several [`LoadConnection`]s send on at once.
#[derive(Default)]
pub(crate) struct SharedHttp2 {
    sender: tokio::sync::Mutex<Option<http2::SendRequest<Full<Bytes>>>>,
}

impl LoadConnection {
    /// An HTTP/1.1 connection of its own to `server`, posting bodies of
    /// `content_type`.
    pub(crate) fn new(server: &str, content_type: &'static str) -> Self {
        Self {
            authority: authority_of(server),
            content_type,
            link: Link::Http1(None),
        }
    }

    /// Streams on `shared`, an HTTP/2 connection to `server` that other
    /// clients use too.
    pub(crate) fn shared(
        server: &str,
        content_type: &'static str,
        shared: Arc<SharedHttp2>,
    ) -> Self {
        Self {
            authority: authority_of(server),
            content_type,
            link: Link::Http2(shared),
        }
    }

    /// Posts `body` to `path` (with its query) and returns the answer's body.
    pub(crate) async fn post(&mut self, path: &str, body: Bytes) -> Result<Bytes, LoadError> {
        match tokio::time::timeout(REQUEST_TIMEOUT, self.exchange(path, body)).await {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(error)) => {
                if matches!(error, LoadError::Transport(_)) {
                    self.forget_connection().await;
                }
                Err(error)
            }
            Err(_) => {
                self.forget_connection().await;
                Err(LoadError::Transport(format!(
                    "no answer from {} within {} s",
                    self.authority,
                    REQUEST_TIMEOUT.as_secs()
                )))
            }
        }
    }

    /// Drops a connection that failed, so the next request opens another;
    /// a shared one only once it is closed, as its other streams may live.
    async fn forget_connection(&mut self) {
        match &mut self.link {
            Link::Http1(sender) => *sender = None,
            Link::Http2(shared) => {
                let mut sender = shared.sender.lock().await;
                if sender.as_ref().is_some_and(http2::SendRequest::is_closed) {
                    *sender = None;
                }
            }
        }
    }

    async fn exchange(&mut self, path: &str, body: Bytes) -> Result<Bytes, LoadError> {
        let transport = |error: hyper::Error| LoadError::Transport(error.to_string());
        let response = match &mut self.link {
            Link::Http1(sender) => {
                let request =
                    build_request(&self.authority, self.content_type, path.to_owned(), body)?;
                let sender = ready_http1(sender, &self.authority).await?;
                sender.send_request(request).await.map_err(transport)?
            }
            Link::Http2(shared) => {
                // HTTP/2 carries the scheme and authority in the request.
                let uri = format!("http://{}{path}", self.authority);
                let request = build_request(&self.authority, self.content_type, uri, body)?;
                let mut sender = ready_http2(shared, &self.authority).await?;
                sender.send_request(request).await.map_err(transport)?
            }
        };
        let status = response.status();
        let grpc_in_headers = grpc_status(response.headers());
        let collected = response.into_body().collect().await.map_err(transport)?;
        let grpc = grpc_in_headers.or_else(|| collected.trailers().and_then(grpc_status));
        let answer = collected.to_bytes();
        if !status.is_success() {
            return Err(status_error(status, &answer));
        }
        match grpc {
            Some((code, message)) if code != "0" => Err(LoadError::Grpc { code, message }),
            _ => Ok(answer),
        }
    }
}

/// The content type of gRPC requests: a body of gRPC is answered with a
/// `grpc-status`, in the trailers or (with no message) in the headers.
pub(crate) const GRPC: &str = "application/grpc";

fn build_request(
    authority: &str,
    content_type: &str,
    uri: String,
    body: Bytes,
) -> Result<Request<Full<Bytes>>, LoadError> {
    let mut request = Request::builder()
        .method(Method::POST)
        .uri(uri)
        .header(HOST, authority)
        .header(CONTENT_TYPE, content_type);
    if content_type == GRPC {
        request = request.header(TE, "trailers");
    }
    request
        .body(Full::new(body))
        .map_err(|error| LoadError::Transport(error.to_string()))
}

/// The `grpc-status` and `grpc-message` in `headers`, if there is a status.
fn grpc_status(headers: &HeaderMap) -> Option<(String, String)> {
    let text = |name: &str| {
        headers
            .get(name)
            .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
    };
    Some((
        text("grpc-status")?,
        text("grpc-message").unwrap_or_default(),
    ))
}

fn authority_of(server: &str) -> String {
    server
        .strip_prefix("http://")
        .unwrap_or(server)
        .trim_end_matches('/')
        .to_owned()
}

/// The client's own connection, ready for a request; opens one if there is
/// none or the last one closed.
async fn ready_http1<'a>(
    slot: &'a mut Option<http1::SendRequest<Full<Bytes>>>,
    authority: &str,
) -> Result<&'a mut http1::SendRequest<Full<Bytes>>, LoadError> {
    let reusable = match slot.take() {
        Some(mut sender) => sender.ready().await.is_ok().then_some(sender),
        None => None,
    };
    let sender = match reusable {
        Some(sender) => sender,
        None => {
            let stream = connect(authority).await?;
            let (sender, connection) = http1::handshake(TokioIo::new(stream))
                .await
                .map_err(|error| transport_error(authority, &error))?;
            // The connection's I/O runs in its own task and ends with the sender.
            tokio::spawn(connection);
            sender
        }
    };
    Ok(slot.insert(sender))
}

/// A handle on the shared connection, ready for a stream; the first client
/// to find it missing or closed opens it, the others wait for that.
async fn ready_http2(
    shared: &SharedHttp2,
    authority: &str,
) -> Result<http2::SendRequest<Full<Bytes>>, LoadError> {
    let mut handle = {
        let mut slot = shared.sender.lock().await;
        match slot.as_ref().filter(|sender| !sender.is_closed()) {
            Some(sender) => sender.clone(),
            None => {
                let stream = connect(authority).await?;
                let (sender, connection) =
                    http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
                        .await
                        .map_err(|error| transport_error(authority, &error))?;
                tokio::spawn(connection);
                slot.insert(sender).clone()
            }
        }
    };
    handle
        .ready()
        .await
        .map_err(|error| transport_error(authority, &error))?;
    Ok(handle)
}

async fn connect(authority: &str) -> Result<TcpStream, LoadError> {
    let stream = TcpStream::connect(authority)
        .await
        .map_err(|error| transport_error(authority, &error))?;
    stream
        .set_nodelay(true)
        .map_err(|error| transport_error(authority, &error))?;
    Ok(stream)
}

fn transport_error(authority: &str, error: &dyn std::fmt::Display) -> LoadError {
    LoadError::Transport(format!("{authority}: {error}"))
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

    #[test]
    fn a_grpc_status_is_read_with_its_message() {
        let mut headers = HeaderMap::new();
        assert_eq!(grpc_status(&headers), None);
        headers.insert("grpc-status", "12".parse().unwrap());
        headers.insert("grpc-message", "unknown method".parse().unwrap());
        assert_eq!(
            grpc_status(&headers),
            Some(("12".to_owned(), "unknown method".to_owned()))
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
