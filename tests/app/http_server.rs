//! The HTTP server under the handler and the local front: a client that trickles its request head
//! is cut off, a normal one is served with its address known.

use std::{net::SocketAddr, time::Duration};

use axum::{Router, extract::ConnectInfo, routing::get};
use healthsync::host::http_server;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

async fn start(header_timeout: Duration) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = Router::new()
        .route("/", get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move { peer.ip().to_string() }));
    tokio::spawn(http_server::serve(listener, router, header_timeout, std::future::pending()));
    addr
}

#[tokio::test]
async fn a_request_head_sent_too_slowly_is_cut_off() {
    let addr = start(Duration::from_millis(300)).await;
    let mut slow = tokio::net::TcpStream::connect(addr).await.unwrap();
    slow.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").await.unwrap();
    let started = std::time::Instant::now();
    let mut rest = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), slow.read_to_end(&mut rest)).await;
    assert!(read.is_ok(), "the connection was still open after 5 s");
    assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
    assert!(!String::from_utf8_lossy(&rest).contains("200 OK"), "the unfinished request was not served");
}

#[tokio::test]
async fn a_complete_request_is_served_with_the_peer_address() {
    let addr = start(Duration::from_millis(300)).await;
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut answer)).await.unwrap().unwrap();
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(text.ends_with("127.0.0.1"), "{text}");
}

/// Sends one keep-alive `GET /` on `s` and reads its whole answer (the body is the peer's
/// address, so the answer ends with it).
async fn get_on(s: &mut tokio::net::TcpStream) -> String {
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 1024];
    while !String::from_utf8_lossy(&answer).ends_with("127.0.0.1") {
        let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
            .await
            .expect("an answer within 5 s")
            .unwrap();
        assert!(n > 0, "the server closed the connection: {}", String::from_utf8_lossy(&answer));
        answer.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&answer).into_owned()
}

/// A keep-alive connection served with the handler's own limits, idle for `idle` between two
/// requests: the second is answered on the same connection.
async fn idle_for(idle: Duration) {
    let addr = start(http_server::HEADER_READ_TIMEOUT).await;
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    assert!(get_on(&mut s).await.starts_with("HTTP/1.1 200"));
    tokio::time::sleep(idle).await;
    let second = get_on(&mut s).await;
    assert!(second.starts_with("HTTP/1.1 200"), "{second}");
}

#[tokio::test]
async fn a_request_on_a_keep_alive_connection_idle_for_11_s_is_answered() {
    idle_for(Duration::from_secs(11)).await;
}

#[tokio::test]
async fn a_request_on_a_keep_alive_connection_idle_for_70_s_is_answered() {
    // Longer than the Functions host's pool keeps an idle connection (about a minute), and than
    // the local front's client (LOCAL_CLIENT_IDLE): they give a connection up before we do.
    const { assert!(healthsync::host::local::handler::LOCAL_CLIENT_IDLE.as_secs() < 70) };
    const { assert!(http_server::IDLE_TIMEOUT.as_secs() > 120) };
    idle_for(Duration::from_secs(70)).await;
}

#[tokio::test]
async fn after_an_idle_wait_a_trickled_head_is_still_cut_at_10_s() {
    let addr = start(http_server::HEADER_READ_TIMEOUT).await;
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    assert!(get_on(&mut s).await.starts_with("HTTP/1.1 200"));
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (mut read, mut write) = s.into_split();
    let started = std::time::Instant::now();
    // One byte a second, never finishing the head.
    let trickle = tokio::spawn(async move {
        for b in b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".iter() {
            if write.write_all(&[*b]).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(20), read.read_to_end(&mut rest)).await;
    let cut = started.elapsed();
    trickle.abort();
    assert!(closed.is_ok(), "the connection was still open after 20 s");
    assert!(cut >= Duration::from_secs(9) && cut < Duration::from_secs(12), "cut after {cut:?}");
    assert!(!String::from_utf8_lossy(&rest).contains("200 OK"), "the unfinished request was not served");
}
