//! A webhook receiver for tests: a hyper server on 127.0.0.1 that records
//! every request and answers with the status the test sets. It can be taken
//! down (port closed) and brought back on the same port.
#![allow(dead_code)]

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{HeaderMap, Request, Response};
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// One request as received.
#[derive(Clone, Debug)]
pub struct Hit {
    pub path: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Hit {
    pub fn header(&self, name: &str) -> String {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("JSON body")
    }
}

/// A running (or stopped) receiver.
pub struct Receiver {
    pub addr: SocketAddr,
    pub hits: Arc<Mutex<Vec<Hit>>>,
    pub status: Arc<AtomicU16>,
    stop: Option<CancellationToken>,
}

impl Receiver {
    /// Starts on a free loopback port, answering 200.
    pub async fn start() -> Receiver {
        let l = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind receiver");
        let addr = l.local_addr().expect("addr");
        let mut r = Receiver {
            addr,
            hits: Arc::default(),
            status: Arc::new(AtomicU16::new(200)),
            stop: None,
        };
        r.serve(l);
        r
    }

    fn serve(&mut self, l: TcpListener) {
        let stop = CancellationToken::new();
        self.stop = Some(stop.clone());
        let (hits, status) = (self.hits.clone(), self.status.clone());
        tokio::spawn(async move {
            loop {
                let (s, _) = tokio::select! {
                    r = l.accept() => match r { Ok(x) => x, Err(_) => continue },
                    _ = stop.cancelled() => return,
                };
                let (hits, status, stop) = (hits.clone(), status.clone(), stop.clone());
                tokio::spawn(async move {
                    let svc = service_fn(move |req: Request<hyper::body::Incoming>| {
                        let (hits, status) = (hits.clone(), status.clone());
                        async move {
                            let path = req.uri().path().to_string();
                            let headers = req.headers().clone();
                            let body = req
                                .into_body()
                                .collect()
                                .await
                                .map(|c| c.to_bytes())
                                .unwrap_or_default();
                            let code = status.load(Ordering::SeqCst);
                            if code == 200 {
                                hits.lock().expect("hits").push(Hit {
                                    path,
                                    headers,
                                    body,
                                });
                            }
                            let mut resp = Response::new(Full::new(Bytes::from_static(b"ok")));
                            *resp.status_mut() = hyper::StatusCode::from_u16(code).expect("status");
                            Ok::<_, std::convert::Infallible>(resp)
                        }
                    });
                    let conn = http1::Builder::new().serve_connection(TokioIo::new(s), svc);
                    tokio::pin!(conn);
                    tokio::select! {
                        _ = conn.as_mut() => {}
                        _ = stop.cancelled() => {}
                    }
                });
            }
        });
    }

    /// Closes the port and every open connection: the receiver is off.
    pub fn down(&mut self) {
        if let Some(s) = self.stop.take() {
            s.cancel();
        }
    }

    /// Listens again on the same port.
    pub async fn up(&mut self) {
        let mut tries = 0;
        let l = loop {
            match TcpListener::bind(self.addr).await {
                Ok(l) => break l,
                Err(e) if tries < 100 => {
                    tries += 1;
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => panic!("rebind {}: {e}", self.addr),
            }
        };
        self.serve(l);
    }

    /// `http://addr/path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// A copy of what arrived so far (only 2xx-answered requests are kept).
    pub fn hits(&self) -> Vec<Hit> {
        self.hits.lock().expect("hits").clone()
    }

    /// Waits until at least `n` requests arrived, up to `timeout`.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Hit> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let h = self.hits();
            if h.len() >= n || tokio::time::Instant::now() > deadline {
                return h;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.down();
    }
}
