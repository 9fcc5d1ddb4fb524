//! Clients that hold connections without finishing a request (slowloris) are cut off, and a
//! flood of idle connections can neither exhaust file descriptors nor starve real invokes.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::fake_function;
use lamina_rie::{ConnectionLimits, Emulator, LogSink, ProcessSandbox};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_and_idle_clients_are_cut_off_and_never_starve_invokes() {
    let bound = Emulator::bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
        .with_connection_limits(ConnectionLimits {
            header_timeout: Some(Duration::from_millis(300)),
            max_connections: 16,
        });
    let addr = bound.local_addr();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(bound.serve(
        vec![fake_function("f")],
        Arc::new(ProcessSandbox::default()),
        LogSink::discard(),
        async move {
            let _ = stopped.await;
        },
    ));

    // Headers that never finish: the connection is closed once the header timeout passes.
    let mut slow = TcpStream::connect(addr).await.unwrap();
    slow.write_all(b"POST /2015-03-31/functions/f/invocations HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let t0 = Instant::now();
    let mut buf = [0u8; 512];
    let closed = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match slow.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "a slowloris connection was held for 5 s");
    assert!(t0.elapsed() < Duration::from_secs(3), "{:?}", t0.elapsed());

    // Four times the connection cap of idle sockets, then a real invoke: it is answered once
    // the idle ones time out, instead of hanging.
    let mut idle = Vec::new();
    for _ in 0..64 {
        idle.push(TcpStream::connect(addr).await.unwrap());
    }
    let mut client = TcpStream::connect(addr).await.unwrap();
    let answered = tokio::time::timeout(Duration::from_secs(10), async {
        client
            .write_all(b"POST /2015-03-31/functions/f/invocations HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}")
            .await
            .unwrap();
        let mut answer = Vec::new();
        let _ = client.read_to_end(&mut answer).await;
        answer
    })
    .await
    .expect("the invoke was starved by idle connections");
    let text = String::from_utf8_lossy(&answered);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    drop(idle);
    let _ = stop.send(());
    let _ = server.await;
}
