//! What came back, from either path: the whole body is consumed (so the connection can be
//! reused) but only its first bytes are kept — classification never needs more; a request
//! with a check on its body keeps more. The general client's response is read here
//! ([`read_up_to`]); the pool reads its own ([`super::pool`]).

use bytes::Bytes;
use http_body_util::{BodyExt, Full};

use super::{Failed, HttpClient};

/// Largest response body kept for classification; the rest is drained and dropped.
pub const BODY_PEEK: usize = 512;

/// What came back.
#[derive(Debug)]
pub struct Response {
    /// HTTP status.
    pub status: u16,
    /// Response headers.
    pub headers: hyper::HeaderMap,
    /// The first bytes of the body ([`BODY_PEEK`] unless more were asked for).
    pub body: Vec<u8>,
    /// Whether the body was longer than what was kept.
    pub truncated: bool,
}

/// Sends through the general client and reads the response, keeping `keep` bytes of its body.
pub async fn exchange(client: &HttpClient, req: hyper::Request<Full<Bytes>>, keep: usize) -> Result<Response, Failed> {
    let resp = client.request(req).await.map_err(|e| Failed::of(&e))?;
    read_up_to(resp, keep).await
}

/// The first bytes of a body as it streams past, and whether there were more.
pub struct Kept {
    limit: usize,
    bytes: Vec<u8>,
    truncated: bool,
}

impl Kept {
    /// Keeps at most `limit` bytes.
    pub fn new(limit: usize) -> Kept {
        Kept { limit, bytes: Vec::new(), truncated: false }
    }

    /// The next piece of the body.
    pub fn push(&mut self, data: &[u8]) {
        let room = self.limit.saturating_sub(self.bytes.len());
        self.bytes.extend_from_slice(&data[..data.len().min(room)]);
        self.truncated |= data.len() > room;
    }

    /// The response with these bytes as its body.
    pub fn into_response(self, status: u16, headers: hyper::HeaderMap) -> Response {
        Response { status, headers, body: self.bytes, truncated: self.truncated }
    }
}

/// Reads the whole response, keeping its first `keep` bytes.
pub async fn read_up_to(resp: hyper::Response<hyper::body::Incoming>, keep: usize) -> Result<Response, Failed> {
    let (parts, mut body) = resp.into_parts();
    let mut kept = Kept::new(keep);
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| Failed::TRANSPORT)?;
        if let Some(data) = frame.data_ref() {
            kept.push(data);
        }
    }
    Ok(kept.into_response(parts.status.as_u16(), parts.headers))
}
