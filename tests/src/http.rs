//! A minimal blocking HTTP/1.0 client for loopback servers (the emulator's
//! control endpoint, and the harness tests of the Runtime API). HTTP/1.0 with
//! `Connection: close` means the answer is whatever the server sends until it
//! closes: no chunking, no keep-alive, a few lines instead of a client crate.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use crate::error::{Error, Result};

/// An HTTP answer: the status, the headers (names in lowercase) and the body.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

/// Sends one request to `address` (`127.0.0.1:PORT`) and reads the answer.
pub fn request(
    address: &str,
    method: &str,
    path: &str,
    body: Option<&str>,
    timeout: Duration,
) -> Result<Answer> {
    let context = format!("{method} http://{address}{path}");
    let mut stream = TcpStream::connect(address).map_err(Error::io(context.clone()))?;
    stream
        .set_read_timeout(Some(timeout))
        .map_err(Error::io(context.clone()))?;
    let body = body.unwrap_or_default();
    let head = format!(
        "{method} {path} HTTP/1.0\r\nHost: {address}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream
        .write_all(head.as_bytes())
        .and_then(|()| stream.write_all(body.as_bytes()))
        .map_err(Error::io(context.clone()))?;
    let mut raw = Vec::new();
    stream
        .read_to_end(&mut raw)
        .map_err(Error::io(context.clone()))?;
    parse_answer(&String::from_utf8_lossy(&raw))
        .ok_or_else(|| Error::Emulator(format!("{context}: not an HTTP answer")))
}

fn parse_answer(raw: &str) -> Option<Answer> {
    let (head, body) = raw.split_once("\r\n\r\n")?;
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split_whitespace().nth(1)?.parse().ok()?;
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(key, value)| (key.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    Some(Answer {
        status,
        headers,
        body: body.to_owned(),
    })
}
