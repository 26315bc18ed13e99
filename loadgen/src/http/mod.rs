//! How requests are sent: the general hyper client for https and HTTP/2 ([`client`]), the
//! single-host keep-alive pool for plain http ([`pool`]) and the response reader both share
//! ([`response`]). Nothing here knows about scenarios or classes.

pub mod client;
pub mod pool;
pub mod response;

pub use client::HttpClient;
pub use pool::Pool;
pub use response::Response;

/// A request that failed before a whole response arrived (connect, reset, TLS, a broken body).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the request failed before a whole response arrived")]
pub struct Failed;
