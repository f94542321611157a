//! Several LAN peers on one machine: every 127.0.0.x is loopback on Linux,
//! so a client socket bound to 127.0.0.2 before it connects is "another
//! device" to the gateway. Nothing leaves loopback.
#![allow(dead_code)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;
use tokio::net::{TcpSocket, TcpStream};

/// 127.0.0.`last`.
pub fn peer(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, last))
}

/// A client whose connections come from `ip`, one fresh connection per request.
pub fn client_from(ip: IpAddr, timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .local_address(ip)
        .pool_max_idle_per_host(0)
        .timeout(timeout)
        .build()
        .expect("client")
}

/// A TCP connection from `ip` to `to` (2 s to connect).
pub async fn connect_from(ip: IpAddr, to: SocketAddr) -> std::io::Result<TcpStream> {
    let s = TcpSocket::new_v4()?;
    s.bind(SocketAddr::new(ip, 0))?;
    tokio::time::timeout(Duration::from_secs(2), s.connect(to))
        .await
        .map_err(|_| std::io::Error::other("connect timed out"))?
}
