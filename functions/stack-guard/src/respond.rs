//! Sending the answer: a port, so that handler tests capture the response
//! without HTTP, and its adapter, one `PUT` to the pre-signed URL.

use std::future::Future;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::response::Response;

/// The answer could not be delivered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the response could not be sent to `{url}`: {message}")]
pub struct SendError {
    /// The URL without its query (the query is a signature).
    pub url: String,
    pub message: String,
}

impl SendError {
    fn new(url: &str, message: impl Into<String>) -> Self {
        Self {
            url: url.split('?').next().unwrap_or_default().to_owned(),
            message: message.into(),
        }
    }
}

/// Delivers a custom-resource response.
pub trait ResponseSend: Send + Sync {
    fn send(
        &self,
        url: &str,
        response: &Response,
    ) -> impl Future<Output = Result<(), SendError>> + Send;
}

/// How long one attempt may take, and how many there are.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
const ATTEMPTS: u32 = 3;

/// The HTTP(S) sender: `PUT` with an empty `Content-Type` (what the URL was
/// signed for), over HTTP/1.1, TLS with the system's roots; a plain
/// `http://` URL works too (the end-to-end tests' local server). Three
/// attempts of at most 10 s each, 1 s and 2 s apart.
#[derive(Debug, Clone)]
pub struct HttpResponder {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
}

impl HttpResponder {
    /// Fails when the system's root certificates cannot be read.
    pub fn new() -> std::io::Result<Self> {
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_native_roots(rustls::crypto::aws_lc_rs::default_provider())?
            .https_or_http()
            .enable_http1()
            .build();
        Ok(Self {
            client: Client::builder(TokioExecutor::new()).build(connector),
        })
    }

    async fn put_once(&self, url: &str, body: &str) -> Result<(), SendError> {
        let request = http::Request::put(url)
            .header(http::header::CONTENT_TYPE, "")
            .body(Full::new(Bytes::from(body.to_owned())))
            .map_err(|e| SendError::new(url, e.to_string()))?;
        let answer = tokio::time::timeout(ATTEMPT_TIMEOUT, self.client.request(request))
            .await
            .map_err(|_| SendError::new(url, "no answer within 10 s"))?
            .map_err(|e| SendError::new(url, e.to_string()))?;
        let status = answer.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(SendError::new(url, format!("HTTP {status}")))
        }
    }
}

impl ResponseSend for HttpResponder {
    async fn send(&self, url: &str, response: &Response) -> Result<(), SendError> {
        let body = response.body();
        let mut attempt = 1;
        loop {
            match self.put_once(url, &body).await {
                Ok(()) => return Ok(()),
                Err(err) if attempt >= ATTEMPTS => return Err(err),
                Err(err) => {
                    tracing::warn!(%err, attempt, "response not delivered, retrying");
                    tokio::time::sleep(Duration::from_secs(u64::from(attempt))).await;
                    attempt += 1;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::response::Status;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// A local server that answers one request with `status` and hands back
    /// what it received.
    async fn serve_once(status: &'static str) -> (String, tokio::task::JoinHandle<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!(
            "http://{}/response/stack%7CGuard?X-Amz-Signature=abc",
            listener.local_addr().unwrap()
        );
        let server = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut received = Vec::new();
            let mut buffer = [0u8; 4096];
            loop {
                let n = socket.read(&mut buffer).await.unwrap();
                received.extend_from_slice(&buffer[..n]);
                let text = String::from_utf8_lossy(&received).to_string();
                if let Some((head, body)) = text.split_once("\r\n\r\n") {
                    let length: usize = head
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length: ")
                                .map(|v| v.trim().parse().unwrap())
                        })
                        .unwrap_or_default();
                    if body.len() >= length {
                        break;
                    }
                }
            }
            let answer =
                format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
            socket.write_all(answer.as_bytes()).await.unwrap();
            String::from_utf8(received).unwrap()
        });
        (url, server)
    }

    fn response() -> Response {
        Response {
            status: Status::Success,
            reason: "policy valid".to_owned(),
            physical_resource_id: "scaling-guard-prod".to_owned(),
            stack_id: "stack".to_owned(),
            request_id: "request".to_owned(),
            logical_resource_id: "Guard".to_owned(),
            data: Default::default(),
        }
    }

    #[tokio::test]
    async fn the_response_is_put_with_an_empty_content_type_also_over_plain_http() {
        let (url, server) = serve_once("200 OK").await;

        HttpResponder::new()
            .unwrap()
            .send(&url, &response())
            .await
            .unwrap();

        let received = server.await.unwrap();
        let (head, body) = received.split_once("\r\n\r\n").unwrap();
        assert!(
            head.starts_with("PUT /response/stack%7CGuard?X-Amz-Signature=abc HTTP/1.1\r\n"),
            "{head}"
        );
        assert!(
            head.to_ascii_lowercase().contains("\r\ncontent-type: \r\n"),
            "{head}"
        );
        assert_eq!(body, response().body());
    }

    #[tokio::test]
    async fn a_refused_response_is_an_error_without_the_signature() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let url = format!("http://{addr}/response?X-Amz-Signature=secret");
        let responder = HttpResponder::new().unwrap();

        tokio::time::pause();
        let err = responder.send(&url, &response()).await.unwrap_err();

        assert_eq!(err.url, format!("http://{addr}/response"));
        assert!(!err.to_string().contains("secret"), "{err}");
    }
}
