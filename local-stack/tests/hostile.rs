//! The gateway against clients that break HTTP on purpose, over raw TCP: a request line and
//! headers sent a byte at a time, a body that never comes, a malformed chunk size, a declared
//! body far over the limit, `Expect: 100-continue` for a body it will refuse.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::*;
use local_stack::Stack;
use local_stack::config::ClientTimeouts;

/// Shorter than the defaults (75 s, 30 s), so the tests wait seconds, not minutes.
const TIMEOUTS: ClientTimeouts = ClientTimeouts { header: Duration::from_secs(3), body: Duration::from_secs(4) };
const HEADER_READ_TIMEOUT: Duration = TIMEOUTS.header;
const BODY_READ_TIMEOUT: Duration = TIMEOUTS.body;

fn echo_config() -> local_stack::StackConfig {
    let mut c = config(misbehave());
    c.api.routes = vec!["POST /echo".into(), "GET /echo".into()];
    c.client_timeouts = TIMEOUTS;
    c
}

/// The gateway's `host:port` and the path prefix its stage adds.
fn address(stack: &Stack) -> (String, String) {
    let url = stack.endpoints().api_url.clone();
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_once('/').map_or((rest, ""), |(h, p)| (h, p));
    (host.to_owned(), if path.is_empty() { String::new() } else { format!("/{path}") })
}

/// Writes `request` and reads until the server closes or `wait` passes: what came back and when
/// the read ended.
fn exchange(host: &str, request: &[u8], wait: Duration) -> (String, Duration) {
    let started = Instant::now();
    let mut s = TcpStream::connect(host).unwrap();
    s.set_read_timeout(Some(wait)).unwrap();
    s.write_all(request).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    (String::from_utf8_lossy(&got).into_owned(), started.elapsed())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_slow_with_its_headers_is_cut_off() {
    let stack = Stack::start(echo_config()).await.unwrap();
    let (host, prefix) = address(&stack);
    let request = format!("GET {prefix}/echo HTTP/1.1\r\nHost: {host}\r\nX-Slow: ");
    let wait = HEADER_READ_TIMEOUT + Duration::from_secs(10);
    let (got, took) = tokio::task::spawn_blocking(move || exchange(&host, request.as_bytes(), wait)).await.unwrap();
    assert!(took < wait, "the connection is closed at the header timeout, not held: {took:?}");
    assert!(took >= HEADER_READ_TIMEOUT - Duration::from_millis(500), "{took:?}");
    assert!(!got.contains("200"), "{got}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_silent_kept_alive_connection_is_closed_at_the_header_timeout_not_before() {
    let stack = Stack::start(echo_config()).await.unwrap();
    let (host, prefix) = address(&stack);
    let request = format!("GET {prefix}/echo HTTP/1.1\r\nHost: {host}\r\n\r\n");
    let wait = HEADER_READ_TIMEOUT + Duration::from_secs(5);
    let (got, took) = tokio::task::spawn_blocking(move || exchange(&host, request.as_bytes(), wait)).await.unwrap();
    // Answered, then kept alive (and silent) until the header timeout closed it.
    assert!(got.starts_with("HTTP/1.1 200"), "{got}");
    assert!(took >= HEADER_READ_TIMEOUT - Duration::from_millis(500) && took < wait, "{took:?}");
    assert!(ClientTimeouts::default().header > Duration::from_secs(60), "longer than loadgen keeps an idle connection");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_body_that_never_comes_is_a_408() {
    let stack = Stack::start(echo_config()).await.unwrap();
    let (host, prefix) = address(&stack);
    let request = format!("POST {prefix}/echo HTTP/1.1\r\nHost: {host}\r\nContent-Length: 100\r\n\r\nonly ten b");
    let wait = BODY_READ_TIMEOUT + Duration::from_secs(10);
    let (got, took) = tokio::task::spawn_blocking(move || exchange(&host, request.as_bytes(), wait)).await.unwrap();
    assert!(got.starts_with("HTTP/1.1 408"), "{got}");
    assert!(took >= BODY_READ_TIMEOUT - Duration::from_millis(500) && took < wait, "{took:?}");
    assert_eq!(stack.lambda().environments(), 0, "nothing was invoked");
}

#[tokio::test(flavor = "multi_thread")]
async fn broken_framing_and_oversized_bodies_are_refused_as_aws_does() {
    let stack = Stack::start(echo_config()).await.unwrap();
    let (host, prefix) = address(&stack);
    let wait = Duration::from_secs(5);
    let h = host.clone();
    let p = prefix.clone();
    let (chunked, declared, expect) = tokio::task::spawn_blocking(move || {
        // A chunk size that is not hexadecimal: the client framed its body wrongly (400), it is
        // not too large (413).
        let chunked = exchange(
            &h,
            format!(
                "POST {p}/echo HTTP/1.1\r\nHost: {h}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\nzz\r\nhello\r\n0\r\n\r\n"
            )
            .as_bytes(),
            wait,
        );
        // 20 MB declared and none sent: refused at once, not waited for.
        let declared = exchange(
            &h,
            format!("POST {p}/echo HTTP/1.1\r\nHost: {h}\r\nContent-Length: 20971520\r\n\r\n").as_bytes(),
            wait,
        );
        // A client that asks before sending 50 MB is told no, never "100 Continue".
        let expect = exchange(
            &h,
            format!("POST {p}/echo HTTP/1.1\r\nHost: {h}\r\nContent-Length: 52428800\r\nExpect: 100-continue\r\n\r\n")
                .as_bytes(),
            wait,
        );
        (chunked, declared, expect)
    })
    .await
    .unwrap();
    assert!(chunked.0.starts_with("HTTP/1.1 400"), "{}", chunked.0);
    assert!(chunked.0.contains("malformed-body"), "{}", chunked.0);
    assert!(declared.0.starts_with("HTTP/1.1 413"), "{}", declared.0);
    assert!(declared.1 < wait, "answered, not left waiting for the body: {:?}", declared.1);
    assert!(expect.0.starts_with("HTTP/1.1 413") && !expect.0.contains("100 Continue"), "{}", expect.0);
    assert_eq!(stack.lambda().environments(), 0, "nothing was invoked");
    // And the gateway still serves an honest client.
    let r = send(&client(), "POST", &format!("{}/echo", stack.endpoints().api_url), &[], "hi").await;
    assert_eq!(r.status, 200);
}
