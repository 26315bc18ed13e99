//! How requests are sent: the general hyper client for https and HTTP/2 ([`client`]), the
//! single-host keep-alive pool for plain http ([`pool`], speaking HTTP/1.1 itself: [`wire`]),
//! the response both return ([`response`]) and the count of connections both opened
//! ([`connects`]). Nothing here knows about scenarios or classes.

pub mod client;
pub mod connects;
pub mod pool;
pub mod response;
#[cfg(test)]
mod test_server;
pub mod wire;

pub use client::{Connector, HttpClient};
pub use connects::Connects;
pub use pool::Pool;
pub use response::Response;

/// A request that failed before a whole response arrived (connect, reset, TLS, a broken body).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the request failed before a whole response arrived")]
pub struct Failed {
    /// This process ran out of file descriptors (EMFILE, or the system of them: ENFILE) and
    /// could not open the connection: the generator's failure, never the target's.
    pub out_of_files: bool,
}

impl Failed {
    /// A failure on the wire: the target's or the network's.
    pub const TRANSPORT: Failed = Failed { out_of_files: false };

    /// The failure `e` (or one of its causes) describes.
    pub fn of(e: &(dyn std::error::Error + 'static)) -> Failed {
        let mut cause = Some(e);
        while let Some(c) = cause {
            if let Some(io) = c.downcast_ref::<std::io::Error>()
                && out_of_files(io)
            {
                return Failed { out_of_files: true };
            }
            cause = c.source();
        }
        Failed::TRANSPORT
    }
}

/// Whether `e` is EMFILE (this process's descriptors) or ENFILE (the system's).
pub fn out_of_files(e: &std::io::Error) -> bool {
    matches!(e.raw_os_error(), Some(24 | 23))
}
