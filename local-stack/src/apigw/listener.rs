//! The gateway's HTTP/1 server: hyper's, with the header read timeout `axum::serve` does not
//! set, so a client that sends its request line and headers a byte at a time (slowloris), or
//! holds a connection open and silent, cannot keep it for ever
//! ([`crate::config::ClientTimeouts`]; the body's is the gateway's own).

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

/// Serves `app` on `listener` until `stop` turns true; then every open connection finishes
/// the request it is on and closes. A connection whose next request line and headers have not
/// all come `header_timeout` after it began waiting for them is closed.
pub fn serve(listener: TcpListener, app: Router, header_timeout: Duration, stop: watch::Receiver<bool>) {
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
            tokio::spawn(connection(stream, source, app.clone(), header_timeout, stop.clone()));
        }
    });
}

/// One client's connection, its requests handed to `app` with the client's address.
async fn connection(
    stream: tokio::net::TcpStream,
    source: SocketAddr,
    app: Router,
    header_timeout: Duration,
    mut stop: watch::Receiver<bool>,
) {
    let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        req.extensions_mut().insert(ConnectInfo(source));
        let mut app = app.clone();
        async move { app.call(req.map(Body::new)).await }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
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
