//! Reading a response: the whole body is consumed (so the connection can be reused) but only
//! its first bytes are kept — classification never needs more.

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
    /// The first [`BODY_PEEK`] bytes of the body.
    pub body: Vec<u8>,
}

/// Sends through the general client and reads the response.
pub async fn exchange(client: &HttpClient, req: hyper::Request<Full<Bytes>>) -> Result<Response, Failed> {
    let resp = client.request(req).await.map_err(|_| Failed)?;
    read(resp).await
}

/// Reads the whole response, keeping only its first bytes.
pub async fn read(resp: hyper::Response<hyper::body::Incoming>) -> Result<Response, Failed> {
    let (parts, mut body) = resp.into_parts();
    let mut kept = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| Failed)?;
        if let Some(data) = frame.data_ref()
            && kept.len() < BODY_PEEK
        {
            kept.extend_from_slice(&data[..data.len().min(BODY_PEEK - kept.len())]);
        }
    }
    Ok(Response { status: parts.status.as_u16(), headers: parts.headers, body: kept })
}
