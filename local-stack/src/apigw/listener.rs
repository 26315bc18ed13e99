//! The gateway's HTTP/1 server: hyper's, with the header read timeout `axum::serve` does not
//! set, so a client that sends its request line and headers a byte at a time (slowloris) cannot
//! hold a connection for ever. The body's own timeout is the gateway's ([`super::BODY_READ_TIMEOUT`]).

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower_service::Service as _;

/// How long a client may take to send its request line and headers before the connection is
/// closed. AWS does not publish API Gateway's; 10 s is far beyond any honest client on loopback
/// and bounds what a slow one holds (nginx's default is 60 s, hyper's own 30 s).
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves `app` on `listener` until `stop` turns true; then every open connection finishes
/// the request it is on and closes.
pub fn serve(listener: TcpListener, app: Router, stop: watch::Receiver<bool>) {
    tokio::spawn(async move {
        let mut stopped = stop.clone();
        loop {
            let accepted = tokio::select! {
                a = listener.accept() => a,
                _ = stopped.wait_for(|s| *s) => break,
            };
            let Ok((stream, source)) = accepted else {
                // Out of descriptors, or a connection reset before it was accepted: the next
                // accept may succeed once some are closed.
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            };
            tokio::spawn(connection(stream, source, app.clone(), stop.clone()));
        }
    });
}

/// One client's connection, its requests handed to `app` with the client's address.
async fn connection(stream: tokio::net::TcpStream, source: SocketAddr, app: Router, mut stop: watch::Receiver<bool>) {
    let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        req.extensions_mut().insert(ConnectInfo(source));
        let mut app = app.clone();
        async move { app.call(req.map(Body::new)).await }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    let stopping = tokio::select! {
        _ = conn.as_mut() => false,
        s = stop.wait_for(|s| *s) => s.is_ok(),
    };
    if stopping {
        conn.as_mut().graceful_shutdown();
        let _ = conn.await;
    }
}
