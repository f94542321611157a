//! A simulated WhatsApp server for tests (never part of the product).
//!
//! The real `whatsapp-rust` client connects to it over a real WebSocket on
//! loopback and speaks the real protocol: Noise XX/IK, QR pairing, login,
//! end-to-end encrypted messages and receipts. Only the server side and the
//! other people's phones are simulated.
//!
//! Layout, in the order a connection flows through it:
//! - [`server`]: accept loop on `127.0.0.1:0` (refuses sockets while offline)
//! - [`conn`]: one socket: handshake, frame loop, outbound queue
//! - [`noise`]: server side of the Noise handshake and the frame cipher
//! - [`login`]: `<success>` / `<failure>` / `pair-device` after the handshake
//! - [`stanza`]: routes each stanza to [`iq`], [`messages`] or receipts
//! - [`iq`]: answers to every request the client makes
//! - [`messages`], [`keyshare`]: Signal traffic between client and phones;
//!   [`media`]: `media_conn`, blob store and the client's `HttpClient`;
//!   [`media_http`]: the same media host over HTTP on loopback
//! - [`pairing`] ([`Phone`]), [`contact`] ([`Contact`]): test-facing handles;
//!   [`pair_code`]: the phone's side of linking with an 8-character code
//! - [`proxy`] ([`FaultProxy`]): a loopback TCP proxy in front of it that
//!   swallows the client's frames and cuts the link on command
//! - [`party`]: an in-memory Signal device; [`state`]: what the server knows
//!
//! The client must be built with whatsapp-rust's
//! `danger-skip-cert-chain-verify` feature (this crate's dev-dependencies
//! enable it for its own tests), because
//! the simulator's Noise certificate is not signed by WhatsApp.

pub mod calls;
mod conn;
pub mod contact;
mod expiry;
pub mod groups;
mod iq;
mod keyshare;
mod login;
pub mod media;
mod media_http;
mod messages;
mod nodes;
mod noise;
mod pair_code;
pub mod pairing;
mod party;
mod profile;
pub mod proxy;
mod server;
mod stanza;
mod state;

pub use calls::ClientCall;
pub use contact::{Contact, ReceiptKind};
pub use groups::SimGroup;
pub use media::SimHttpClient;
pub use noise::HandshakeKind;
pub use pairing::{PairedDevice, Phone};
pub use proxy::FaultProxy;
pub use state::{ClientChatState, ClientReceipt, ReceivedMessage};

use anyhow::{anyhow, bail};
use state::{ContactState, DeviceId, Outbound, Shared};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::net::TcpListener;
use whatsapp_rust::wacore_binary::builder::NodeBuilder;

/// Phone number of the simulated account owner.
pub const DEFAULT_ACCOUNT: &str = "15551230000";
/// LID user part of the simulated account owner.
pub const DEFAULT_ACCOUNT_LID: &str = "100000000000001";

/// A running simulated server. Dropping it stops the accept loop; open
/// connections end when their client goes away.
pub struct Simulator {
    shared: Arc<Shared>,
    addr: SocketAddr,
    accept: tokio::task::JoinHandle<()>,
    /// The media host over HTTP (for clients in another process).
    media_addr: SocketAddr,
    media_accept: tokio::task::JoinHandle<()>,
}

impl Drop for Simulator {
    fn drop(&mut self) {
        self.accept.abort();
        self.media_accept.abort();
        // Close every socket so the clients notice the server is gone.
        for conn in self.shared.lock().conns.values() {
            let _ = conn.tx.send(Outbound::Close);
        }
    }
}

impl Simulator {
    /// Binds `127.0.0.1:0` and starts serving.
    pub async fn start() -> anyhow::Result<Simulator> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        // The media host is the simulator's own address: a client that is
        // not given `http_client()` fails against it, on loopback.
        let shared = Arc::new(Shared::new(addr.to_string()));
        shared.lock().ensure_account(DEFAULT_ACCOUNT)?;
        let accept = tokio::spawn(server::run(listener, shared.clone()));
        let media_listener = TcpListener::bind("127.0.0.1:0").await?;
        let media_addr = media_listener.local_addr()?;
        let media_accept = tokio::spawn(media_http::run(media_listener, shared.clone()));
        Ok(Simulator {
            shared,
            addr,
            accept,
            media_addr,
            media_accept,
        })
    }

    /// The `HttpClient` to give the client: serves the simulator's media
    /// uploads and downloads from memory and refuses every other URL (so
    /// the client never reaches the network).
    pub fn http_client(&self) -> SimHttpClient {
        SimHttpClient {
            shared: self.shared.clone(),
        }
    }

    /// The media host over plain HTTP, `http://127.0.0.1:PORT`: a client in
    /// another process sends every media request (upload and download, for
    /// whatever host `media_conn` names) here instead of `https://host`.
    /// Serves the same blobs as [`Simulator::http_client`].
    pub fn media_url(&self) -> String {
        format!("http://{}", self.media_addr)
    }

    /// Chat states (typing, recording, paused) the client sent, oldest first.
    pub fn client_chat_states(&self) -> Vec<ClientChatState> {
        self.shared.lock().client_chat_states.clone()
    }

    /// Waits until the client sent chat state `state` to a JID starting
    /// with `to_user` (a phone number or a full JID).
    pub async fn wait_for_client_chat_state(
        &self,
        to_user: &str,
        state: &str,
        timeout: Duration,
    ) -> anyhow::Result<ClientChatState> {
        self.shared
            .wait_until(timeout, |s| {
                s.lock()
                    .client_chat_states
                    .iter()
                    .find(|c| c.to.starts_with(to_user) && c.state == state)
                    .cloned()
            })
            .await
            .ok_or_else(|| anyhow!("no `{state}` chat state to {to_user} within {timeout:?}"))
    }

    /// The chat server's socket address (for a [`FaultProxy`] in front).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The first time (Unix ms) the server acknowledged the client's
    /// message `id` (`<ack class="message">`); `None` while it has not.
    pub fn message_acked_at(&self, id: &str) -> Option<i64> {
        self.shared.lock().message_acks.get(id).copied()
    }

    /// While `true`, the server takes the client's messages (the contacts
    /// decrypt them) but keeps its `<ack>` back; `false` sends the held acks
    /// on their connections (an ack whose connection is gone is lost).
    pub fn hold_message_acks(&self, hold: bool) {
        let held = {
            let mut inner = self.shared.lock();
            inner.hold_acks = hold;
            if hold {
                Vec::new()
            } else {
                std::mem::take(&mut inner.held_acks)
            }
        };
        for (tx, id, ack) in held {
            messages::send_ack(&self.shared, &tx, &id, ack);
        }
    }

    /// The URL to give `TokioWebSocketTransportFactory::with_url`.
    pub fn ws_url(&self) -> String {
        format!("ws://{}/ws/chat", self.addr)
    }

    /// The primary phone of the default account ([`DEFAULT_ACCOUNT`]).
    pub fn phone(&self) -> Phone {
        Phone {
            shared: self.shared.clone(),
            user: DEFAULT_ACCOUNT.to_string(),
        }
    }

    /// The primary phone of another account owner, for gateways that link
    /// several WhatsApp accounts. The account is created on first use and
    /// gets the next free LID; a `+` and a JID suffix are accepted.
    pub fn account(&self, phone_number: &str) -> anyhow::Result<Phone> {
        let user = normalize_number(phone_number);
        if user.is_empty() || !user.bytes().all(|b| b.is_ascii_digit()) {
            bail!("{phone_number} is not a phone number");
        }
        self.shared.lock().ensure_account(&user)?;
        Ok(Phone {
            shared: self.shared.clone(),
            user,
        })
    }

    /// Another WhatsApp user with this phone number (created on first use).
    /// A leading `+` and a `@s.whatsapp.net` suffix are accepted.
    ///
    /// # Panics
    /// Only if generating the contact's Signal keys fails (a broken RNG).
    pub fn contact(&self, phone_number: &str) -> Contact {
        let user = normalize_number(phone_number);
        let state = {
            let mut inner = self.shared.lock();
            match inner.contacts.get(&user) {
                Some(existing) => existing.clone(),
                None => {
                    // Key generation cannot fail short of a broken RNG.
                    let created = Arc::new(
                        ContactState::new(&user).unwrap_or_else(|e| panic!("contact keys: {e}")),
                    );
                    inner.contacts.insert(user, created.clone());
                    created
                }
            }
        };
        Contact {
            shared: self.shared.clone(),
            state,
        }
    }

    /// Closes every client socket, as a server restart or a network blip
    /// would. Clients are free to reconnect.
    pub async fn drop_connections(&self) {
        let txs: Vec<_> = self
            .shared
            .lock()
            .conns
            .values()
            .map(|c| c.tx.clone())
            .collect();
        for tx in txs {
            let _ = tx.send(Outbound::Close);
        }
        // Give the connection tasks a moment to unregister.
        let _ = self
            .shared
            .wait_until(Duration::from_secs(2), |s| {
                s.lock().conns.is_empty().then_some(())
            })
            .await;
    }

    /// Server-side logout of a companion (as if removed from the phone's
    /// "Linked devices"): a connected client gets a `device_removed` stream
    /// error, and the device can never log in again.
    pub async fn logout(&self, device_jid: &str) -> anyhow::Result<()> {
        let id = device_id(device_jid)?;
        let txs: Vec<_> = {
            let mut inner = self.shared.lock();
            let Some(companion) = inner.companion_mut(&id) else {
                bail!("{device_jid} is not a linked companion");
            };
            companion.logged_out = true;
            inner
                .conns
                .values()
                .filter(|c| c.device.as_ref() == Some(&id))
                .map(|c| c.tx.clone())
                .collect()
        };
        for tx in txs {
            let _ = tx.send(Outbound::Node(
                NodeBuilder::new("stream:error")
                    .children([NodeBuilder::new("conflict")
                        .attr("type", "device_removed")
                        .build()])
                    .build(),
            ));
            let _ = tx.send(Outbound::Close);
        }
        self.shared.bump();
        Ok(())
    }

    /// `false` simulates the internet going down: open sockets are closed
    /// and new ones are refused until it is set back to `true`.
    pub fn set_online(&self, online: bool) {
        self.shared.online.store(online, Ordering::SeqCst);
        if !online {
            for conn in self.shared.lock().conns.values() {
                let _ = conn.tx.send(Outbound::Close);
            }
        }
        self.shared.bump();
    }

    /// Number of open client connections (any state).
    pub fn connection_count(&self) -> usize {
        self.shared.lock().conns.len()
    }

    /// Number of connections logged in as a companion.
    pub fn logged_in_count(&self) -> usize {
        self.shared
            .lock()
            .conns
            .values()
            .filter(|c| c.device.is_some())
            .count()
    }

    /// Waits until at least `n` connections are logged in.
    pub async fn wait_logged_in(&self, n: usize, timeout: Duration) -> anyhow::Result<()> {
        self.shared
            .wait_until(timeout, |s| {
                (s.lock()
                    .conns
                    .values()
                    .filter(|c| c.device.is_some())
                    .count()
                    >= n)
                    .then_some(())
            })
            .await
            .ok_or_else(|| anyhow!("fewer than {n} logged-in connections after {timeout:?}"))
    }

    /// Waits until no connection is logged in as a companion: the server
    /// has seen every client socket end, so what is sent now waits in the
    /// offline queue for the next login.
    pub async fn wait_logged_out(&self, timeout: Duration) -> anyhow::Result<()> {
        self.shared
            .wait_until(timeout, |s| {
                (!s.lock().conns.values().any(|c| c.device.is_some())).then_some(())
            })
            .await
            .ok_or_else(|| anyhow!("a connection is still logged in after {timeout:?}"))
    }

    /// The handshake of every successful login, oldest first (pairing's
    /// own connection is not a login).
    pub fn logins(&self) -> Vec<HandshakeKind> {
        self.shared.lock().logins.clone()
    }

    /// Waits until a client sent a receipt of type `kind` (`""` for a plain
    /// delivery receipt, `"read"`, `"inactive"`, …) covering `msg_id`.
    pub async fn wait_for_client_receipt_kind(
        &self,
        msg_id: &str,
        kind: &str,
        timeout: Duration,
    ) -> anyhow::Result<ClientReceipt> {
        self.shared
            .wait_until(timeout, |s| {
                s.lock()
                    .client_receipts
                    .iter()
                    .find(|r| r.kind == kind && r.ids.iter().any(|i| i == msg_id))
                    .cloned()
            })
            .await
            .ok_or_else(|| anyhow!("no {kind:?} receipt for {msg_id} within {timeout:?}"))
    }

    /// Every receipt the client sent, oldest first.
    pub fn client_receipts(&self) -> Vec<ClientReceipt> {
        self.shared.lock().client_receipts.clone()
    }

    /// Ids of the messages the server still holds for the companion
    /// `device_jid` (as in [`PairedDevice::jid`]): delivered but not yet
    /// acknowledged by the client, or queued for its next login. Oldest
    /// first; an id appears once per copy held.
    pub fn unacked_messages(&self, device_jid: &str) -> anyhow::Result<Vec<String>> {
        Ok(self.shared.pending_ids(&device_id(device_jid)?))
    }

    /// Waits until the server no longer holds message `msg_id` for the
    /// companion `device_jid`: the client acknowledged it (or it was never
    /// sent there).
    pub async fn wait_message_acked(
        &self,
        device_jid: &str,
        msg_id: &str,
        timeout: Duration,
    ) -> anyhow::Result<()> {
        let id = device_id(device_jid)?;
        self.shared
            .wait_until(timeout, |s| {
                (!s.pending_ids(&id).iter().any(|i| i == msg_id)).then_some(())
            })
            .await
            .ok_or_else(|| anyhow!("{msg_id} still unacknowledged after {timeout:?}"))
    }
}

/// `15551230000:1@s.whatsapp.net` → the companion it names.
fn device_id(device_jid: &str) -> anyhow::Result<DeviceId> {
    let jid: whatsapp_rust::Jid = device_jid
        .parse()
        .map_err(|e| anyhow!("bad device JID {device_jid}: {e:?}"))?;
    Ok(DeviceId {
        user: jid.user.to_string(),
        device: jid.device,
    })
}

/// `+15551230000`, `15551230000@s.whatsapp.net` → `15551230000`.
fn normalize_number(input: &str) -> String {
    input
        .trim_start_matches('+')
        .split(['@', ':'])
        .next()
        .unwrap_or_default()
        .to_string()
}
