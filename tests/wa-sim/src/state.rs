//! Everything the simulated server remembers: the account and its linked
//! companions, the contacts, open connections, pending pairings and what the
//! client sent. One `Shared` per `Simulator`, behind a plain mutex that is
//! never held across an `.await`; Signal state lives in per-party async
//! mutexes next to it.

use crate::party::{Party, UploadedKeys};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, watch};
use whatsapp_rust::wacore_binary::Node;
use whatsapp_rust::waproto::whatsapp as wa;

/// Something the simulator wants a connection task to do.
pub(crate) enum Outbound {
    /// Encrypt and send this node.
    Node(Node),
    /// Close the socket.
    Close,
}

/// A live client connection.
pub(crate) struct Conn {
    /// Queue into the connection's task.
    pub(crate) tx: mpsc::UnboundedSender<Outbound>,
    /// The companion once the connection logged in.
    pub(crate) device: Option<DeviceId>,
    /// `<message>` stanzas sent on this socket that the client has not
    /// acknowledged yet (no `<receipt>` / `<ack class="message">` for their
    /// id). Requeued for the device's next login when the socket ends.
    pub(crate) unacked: Vec<Node>,
}

/// A companion device: its account's phone number and its device number.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct DeviceId {
    pub(crate) user: String,
    pub(crate) device: u16,
}

impl DeviceId {
    /// `user:device@s.whatsapp.net`.
    pub(crate) fn jid(&self) -> String {
        format!("{}:{}@s.whatsapp.net", self.user, self.device)
    }
}

/// LID user part of the first account.
const FIRST_LID: u64 = 100_000_000_000_001;

/// A simulated WhatsApp account: its primary phone and linked companions.
pub(crate) struct Account {
    /// Phone number (JID user part).
    pub(crate) user: String,
    /// LID user part.
    pub(crate) lid: String,
    /// The primary phone (device 0) as a Signal party; its identity key is
    /// also the ADV account key.
    pub(crate) phone: Arc<tokio::sync::Mutex<Party>>,
    /// The phone's identity public key (the ADV account signature key).
    pub(crate) identity: [u8; 32],
    /// Next companion device number to hand out.
    pub(crate) next_device: u16,
    /// Linked companions by device number.
    pub(crate) devices: HashMap<u16, Companion>,
}

/// A companion device linked to the account (the gateway's client).
pub(crate) struct Companion {
    /// Pre-keys the client uploaded at login; `None` until then.
    pub(crate) keys: Option<UploadedKeys>,
    /// Set by a server-side logout: the device may not log in again.
    pub(crate) logged_out: bool,
    /// Whether the phone already sent this device the app-state key share.
    pub(crate) key_shared: bool,
}

/// A message the client sent to a contact, after the contact decrypted it.
#[derive(Clone, PartialEq)]
pub struct ReceivedMessage {
    /// The stanza id the client chose.
    pub id: String,
    /// The sending device's JID as the server saw it (the client's own JID).
    pub from: String,
    /// The stanza's `type` attribute (`text`, `media`, `reaction`, …).
    pub kind: String,
    /// The text body (`conversation` or `extendedTextMessage.text`); empty
    /// for messages without text.
    pub body: String,
    /// The whole decrypted message, for reactions, edits, quotes, media.
    pub message: Arc<wa::Message>,
}

impl std::fmt::Debug for ReceivedMessage {
    // `wa::Message` has no `Debug`; the summary is what a failing test needs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReceivedMessage")
            .field("id", &self.id)
            .field("from", &self.from)
            .field("kind", &self.kind)
            .field("body", &self.body)
            .finish_non_exhaustive()
    }
}

/// A receipt the client sent to the server about messages it received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientReceipt {
    /// Who the receipt is addressed to (the original sender).
    pub to: String,
    /// Every message id the receipt covers.
    pub ids: Vec<String>,
    /// The `type` attribute; empty for a plain delivery receipt.
    pub kind: String,
}

/// A chat state (`<chatstate>`) the client sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientChatState {
    /// The chat it is about.
    pub to: String,
    /// `composing`, `recording` or `paused`.
    pub state: String,
}

/// A simulated contact: another WhatsApp user with one phone.
pub(crate) struct ContactState {
    /// Phone number (JID user part).
    pub(crate) user: String,
    /// The contact's Signal device.
    pub(crate) party: tokio::sync::Mutex<Party>,
    /// Messages the client sent to this contact, decrypted.
    pub(crate) received: Mutex<Vec<ReceivedMessage>>,
    /// How many of `received` `wait_for_text` already returned.
    pub(crate) seen: Mutex<usize>,
    /// Answer every message from the client with a delivery receipt, as a
    /// phone that is online does.
    pub(crate) auto_delivery: AtomicBool,
}

impl ContactState {
    /// Creates a contact with a fresh Signal identity.
    pub(crate) fn new(user: &str) -> anyhow::Result<Self> {
        Ok(Self {
            user: user.to_string(),
            party: tokio::sync::Mutex::new(Party::generate()?),
            received: Mutex::new(Vec::new()),
            seen: Mutex::new(0),
            auto_delivery: AtomicBool::new(false),
        })
    }

    pub(crate) fn seen(&self) -> usize {
        self.seen.lock().map(|s| *s).unwrap_or(0)
    }

    pub(crate) fn mark_seen(&self, n: usize) {
        if let Ok(mut s) = self.seen.lock() {
            *s = (*s).max(n);
        }
    }
}

impl Inner {
    /// The account with phone number `user`, created on first use.
    pub(crate) fn ensure_account(&mut self, user: &str) -> anyhow::Result<&mut Account> {
        if !self.accounts.contains_key(user) {
            let phone = Party::generate()?;
            let account = Account {
                user: user.to_string(),
                lid: self.next_lid.to_string(),
                identity: phone.identity_public(),
                phone: Arc::new(tokio::sync::Mutex::new(phone)),
                next_device: 1,
                devices: HashMap::new(),
            };
            self.next_lid += 1;
            self.accounts.insert(user.to_string(), account);
        }
        self.accounts
            .get_mut(user)
            .ok_or_else(|| anyhow::anyhow!("account {user} vanished"))
    }

    /// The companion `id`, if it is linked.
    pub(crate) fn companion_mut(&mut self, id: &DeviceId) -> Option<&mut Companion> {
        self.accounts.get_mut(&id.user)?.devices.get_mut(&id.device)
    }

    /// Puts messages a connection of `device` sent but never got acked for
    /// back in the device's offline queue (behind what is already queued:
    /// a device only has a queue while none of its sockets is live).
    pub(crate) fn requeue(&mut self, device: &DeviceId, nodes: Vec<Node>) {
        if !nodes.is_empty() {
            self.offline
                .entry(device.clone())
                .or_default()
                .extend(nodes);
        }
    }

    /// The account whose phone number or LID user part is `user`.
    pub(crate) fn account_by_any(&self, user: &str) -> Option<&Account> {
        self.accounts
            .get(user)
            .or_else(|| self.accounts.values().find(|a| a.lid == user))
    }
}

/// The mutable part of the simulator's state.
pub(crate) struct Inner {
    /// Simulated accounts (phone owners) by phone number.
    pub(crate) accounts: HashMap<String, Account>,
    /// LID user part handed to the next new account.
    pub(crate) next_lid: u64,
    /// Open connections by id.
    pub(crate) conns: HashMap<u64, Conn>,
    pub(crate) next_conn: u64,
    /// QR refs handed to unpaired connections → that connection.
    pub(crate) pairing_refs: HashMap<String, u64>,
    /// `pair-success` iq id → who waits for the client's `pair-device-sign`.
    pub(crate) pending_signs: HashMap<String, oneshot::Sender<Vec<u8>>>,
    /// Contacts by phone number.
    pub(crate) contacts: HashMap<String, Arc<ContactState>>,
    /// Receipts the client sent, oldest first.
    pub(crate) client_receipts: Vec<ClientReceipt>,
    /// Chat states the client sent, oldest first.
    pub(crate) client_chat_states: Vec<ClientChatState>,
    /// Stanzas for companions that were offline when they were sent, and
    /// messages a connection ended without acknowledging; all go out at the
    /// device's next login, marked `offline="1"`.
    pub(crate) offline: HashMap<DeviceId, Vec<Node>>,
    /// Pair-code requests (`companion_hello`), newest last.
    pub(crate) pair_codes: Vec<crate::pair_code::PendingCode>,
    /// Uploaded media blobs by direct path.
    pub(crate) blobs: HashMap<String, Vec<u8>>,
    /// Handshake of every successful companion login, oldest first.
    pub(crate) logins: Vec<crate::noise::HandshakeKind>,
    /// When set, every companion login is refused with `<failure reason>`.
    pub(crate) refuse_logins: Option<String>,
    /// `<call>` stanzas the client sent, oldest first.
    pub(crate) client_calls: Vec<crate::calls::ClientCall>,
    /// Groups by JID, and the number of groups made so far.
    pub(crate) groups: HashMap<String, crate::groups::SimGroup>,
    pub(crate) next_group: u32,
    /// JIDs whose presence the client subscribed to, oldest first.
    pub(crate) presence_subscriptions: Vec<String>,
    /// Contacts' about texts and pictures by number.
    pub(crate) profiles: HashMap<String, crate::profile::Profile>,
    /// When (Unix ms) the server first acked each client message id.
    pub(crate) message_acks: HashMap<String, i64>,
    /// Keep message acks back (`Simulator::hold_message_acks`).
    pub(crate) hold_acks: bool,
    /// Acks kept back: (connection queue, message id, ack), oldest first.
    pub(crate) held_acks: Vec<(mpsc::UnboundedSender<Outbound>, String, Node)>,
}

/// State shared by the accept loop, connection tasks and the test handles.
pub(crate) struct Shared {
    /// `false` while the simulated internet is down.
    pub(crate) online: AtomicBool,
    /// The Noise static key and certificate.
    pub(crate) identity: crate::noise::ServerIdentity,
    /// `host:port` named in `media_conn`; served only by `SimHttpClient`.
    pub(crate) media_host: String,
    inner: Mutex<Inner>,
    /// Bumped on every change a test may wait for.
    version: watch::Sender<u64>,
}

impl Shared {
    /// Creates an empty server (no accounts yet) whose media host is
    /// `media_host`.
    pub(crate) fn new(media_host: String) -> Self {
        Self {
            online: AtomicBool::new(true),
            identity: crate::noise::ServerIdentity::generate(),
            media_host,
            inner: Mutex::new(Inner {
                accounts: HashMap::new(),
                next_lid: FIRST_LID,
                conns: HashMap::new(),
                next_conn: 1,
                pairing_refs: HashMap::new(),
                pending_signs: HashMap::new(),
                contacts: HashMap::new(),
                client_receipts: Vec::new(),
                client_chat_states: Vec::new(),
                offline: HashMap::new(),
                logins: Vec::new(),
                refuse_logins: None,
                pair_codes: Vec::new(),
                blobs: HashMap::new(),
                client_calls: Vec::new(),
                groups: HashMap::new(),
                next_group: 0,
                presence_subscriptions: Vec::new(),
                profiles: HashMap::new(),
                message_acks: HashMap::new(),
                hold_acks: false,
                held_acks: Vec::new(),
            }),
            version: watch::channel(0).0,
        }
    }

    /// Locks the mutable state. A poisoned lock is recovered: the state is
    /// plain data and a panicking test thread must not wedge the server.
    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn is_online(&self) -> bool {
        self.online.load(Ordering::SeqCst)
    }

    /// Wakes everybody waiting in [`Shared::wait_until`].
    pub(crate) fn bump(&self) {
        self.version.send_modify(|v| *v = v.wrapping_add(1));
    }

    /// Waits until `check` returns `Some`, re-checking after every change.
    pub(crate) async fn wait_until<T>(
        &self,
        timeout: Duration,
        mut check: impl FnMut(&Shared) -> Option<T>,
    ) -> Option<T> {
        let mut rx = self.version.subscribe();
        let wait = async {
            loop {
                rx.borrow_and_update();
                if let Some(v) = check(self) {
                    return Some(v);
                }
                if rx.changed().await.is_err() {
                    return None;
                }
            }
        };
        tokio::time::timeout(timeout, wait).await.ok().flatten()
    }

    /// Records that `node` (a `<message>`) is about to go out on connection
    /// `conn_id`, which logged in as `device`: it stays unacknowledged until
    /// the client acks its id. Returns `false` when that connection no
    /// longer speaks for the device (a newer login replaced it); the caller
    /// must then hand the message to [`Shared::deliver`] instead of sending.
    pub(crate) fn track_delivery(&self, conn_id: u64, device: &DeviceId, node: &Node) -> bool {
        let mut inner = self.lock();
        match inner.conns.get_mut(&conn_id) {
            Some(conn) if conn.device.as_ref() == Some(device) => {
                conn.unacked.push(node.clone());
                true
            }
            _ => false,
        }
    }

    /// The client on a connection of `device` acknowledged the messages
    /// `ids` (a `<receipt>` of any type, or `<ack class="message">`): the
    /// server forgets them, wherever it still holds them for that device.
    pub(crate) fn acknowledge(&self, device: &DeviceId, ids: &[String]) {
        if ids.is_empty() {
            return;
        }
        let covered = |node: &Node| {
            node.tag == "message"
                && node
                    .attrs
                    .get("id")
                    .is_some_and(|v| ids.iter().any(|id| *v == id.as_str()))
        };
        let mut inner = self.lock();
        let mut changed = false;
        for conn in inner.conns.values_mut() {
            if conn.device.as_ref() == Some(device) {
                let before = conn.unacked.len();
                conn.unacked.retain(|n| !covered(n));
                changed |= conn.unacked.len() != before;
            }
        }
        if let Some(queue) = inner.offline.get_mut(device) {
            let before = queue.len();
            queue.retain(|n| !covered(n));
            changed |= queue.len() != before;
        }
        drop(inner);
        if changed {
            self.bump();
        }
    }

    /// Ids of the `<message>` stanzas the server still holds for `device`:
    /// sent and not acknowledged, or queued for its next login.
    pub(crate) fn pending_ids(&self, device: &DeviceId) -> Vec<String> {
        let inner = self.lock();
        let live = inner
            .conns
            .values()
            .filter(|c| c.device.as_ref() == Some(device))
            .flat_map(|c| c.unacked.iter());
        let queued = inner.offline.get(device).into_iter().flatten();
        live.chain(queued)
            .filter(|n| n.tag == "message")
            .filter_map(|n| n.attrs.get("id").map(|v| v.as_str().into_owned()))
            .collect()
    }

    /// Every linked companion of every account (not logged out).
    pub(crate) fn all_companions(&self) -> Vec<DeviceId> {
        let inner = self.lock();
        inner
            .accounts
            .values()
            .flat_map(|a| {
                a.devices
                    .iter()
                    .filter(|(_, c)| !c.logged_out)
                    .map(|(d, _)| DeviceId {
                        user: a.user.clone(),
                        device: *d,
                    })
            })
            .collect()
    }

    /// Queues `node` for every connection logged in as `device`, or keeps it
    /// for the next login when none is. Returns whether it went out live.
    pub(crate) fn deliver(&self, device: &DeviceId, node: Node) -> bool {
        let mut inner = self.lock();
        let live: Vec<_> = inner
            .conns
            .values()
            .filter(|c| c.device.as_ref() == Some(device))
            .map(|c| c.tx.clone())
            .collect();
        let mut sent = false;
        for tx in live {
            sent |= tx.send(Outbound::Node(node.clone())).is_ok();
        }
        if !sent {
            inner.offline.entry(device.clone()).or_default().push(node);
        }
        sent
    }
}
