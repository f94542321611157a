//! A file server for media-URL tests: a raw HTTP/1.1 server on 127.0.0.1
//! that serves fixed files by path, one request per connection. `/slow`
//! never answers; any other unknown path is a 404.
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A running file server; stops when dropped.
pub struct Files {
    pub base: String,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Files {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Files {
    /// Serves `files`: path → (content type, bytes).
    pub async fn start(files: HashMap<String, (String, Vec<u8>)>) -> Files {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let files = Arc::new(files);
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut tcp, _)) = listener.accept().await else {
                    return;
                };
                let files = files.clone();
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 1024];
                    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                        match tcp.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let head = String::from_utf8_lossy(&buf).to_string();
                    let path = head.split(' ').nth(1).unwrap_or("/").to_string();
                    if path == "/slow" {
                        tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
                        return;
                    }
                    let (status, ct, body) = match files.get(&path) {
                        Some((ct, b)) => ("200 OK", ct.clone(), b.clone()),
                        None => ("404 Not Found", "text/plain".into(), b"no".to_vec()),
                    };
                    let head = format!(
                        "HTTP/1.1 {status}\r\nContent-Type: {ct}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    );
                    let _ = tcp.write_all(head.as_bytes()).await;
                    let _ = tcp.write_all(&body).await;
                    let _ = tcp.shutdown().await;
                });
            }
        });
        Files { base, task }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }
}
