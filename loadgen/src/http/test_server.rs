//! A loopback HTTP/1.1 responder for this module's tests, counting the connections it accepts.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// How many connections the responder has accepted.
pub struct Accepted(Arc<AtomicUsize>);

impl Accepted {
    /// The count so far.
    pub fn get(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

/// Answers `200 ok` to every request; with `keep_alive` false it answers one per connection
/// and closes it 20 ms later (a short keep-alive timeout, met while the connection is idle).
pub async fn responder(keep_alive: bool) -> (SocketAddr, Accepted) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buf = [0u8; 1024];
                while s.read(&mut buf).await.is_ok_and(|n| n > 0) {
                    let _ = s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok").await;
                    if !keep_alive {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        return;
                    }
                }
            });
        }
    });
    (addr, Accepted(accepted))
}

/// Answers the requests it reads, on whatever connection, with `answers` in order (each read
/// is taken as one request); an answer marked `true` closes its connection after it.
pub async fn scripted(answers: Vec<(Vec<u8>, bool)>) -> (SocketAddr, Accepted) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    let answers = Arc::new(std::sync::Mutex::new(std::collections::VecDeque::from(answers)));
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            let answers = answers.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                while s.read(&mut buf).await.is_ok_and(|n| n > 0) {
                    let Some((answer, close)) = answers.lock().unwrap().pop_front() else { return };
                    let _ = s.write_all(&answer).await;
                    if close {
                        return;
                    }
                }
            });
        }
    });
    (addr, Accepted(accepted))
}
