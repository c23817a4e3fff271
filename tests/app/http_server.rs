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
