//! The WhatsApp engine: the only module that imports `whatsapp_rust`.
//!
//! One client per session, each owned by a supervisor task ([`session`])
//! that reconnects, tells a logout from a takeover or a ban, and gives up
//! with an explicit `failed` state instead of looping forever. Library events
//! become status changes, stored messages and receipts ([`events`]); inbound
//! messages are committed in the library's durability hook ([`hook`]) before
//! WhatsApp is acked; accepted sends go through a durable queue ([`sender`]).
//! The key store the library needs lives in the gateway's redb file
//! ([`backend`]).

mod actions;
pub mod backend;
pub mod contacts;
pub mod diagnosis;
mod events;
pub mod groups;
mod hook;
pub mod http;
pub mod inbound;
pub mod jid;
pub mod media;
pub mod notices;
mod outbound;
mod outgoing;
/// Pairing QR rendering, where the pairing routes have always found it.
pub use crate::qr;
mod reporter;
mod sender;
mod session;
mod settle;
pub mod status;
mod transport;

pub use actions::ChatPresence;
pub use diagnosis::{Diagnosis, FailureCode};
pub use outgoing::Outgoing;
pub use status::{Code, SessionStatus, State};

use crate::event::{Event, Me, now_ms};
use crate::store::{Guarded, MessageRecord, MessageState, Store, StoreError};
use backend::RedbBackend;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::{Notify, mpsc, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use whatsapp_rust::Client;
use whatsapp_rust::wacore::store::traits::DeviceStore;

/// How the engine reaches WhatsApp and how patient it is.
#[derive(Debug, Clone, Default)]
pub struct EngineConfig {
    /// Chat server WebSocket URL; `None` for WhatsApp's own.
    pub server_url: Option<String>,
    /// Pinned WhatsApp Web version; `None` to fetch the current one.
    pub version: Option<(u32, u32, u32)>,
    /// Refused logins in a row before `failed`.
    pub max_connect_failures: u32,
    /// Send attempts per message while connected.
    pub send_attempts: u32,
    /// Registers each session loop's heartbeat with the supervisor.
    pub checkin: crate::supervisor::Checkin,
    /// Reject incoming calls at once.
    pub reject_calls: bool,
    /// Text sent to a rejected caller; empty sends none.
    pub reject_call_message: String,
    /// A queued send older than this fails (`message.failed`); zero means never.
    pub send_max_age: std::time::Duration,
    /// Largest media file a send accepts.
    pub media_max_bytes: u64,
    /// Time a media URL fetch may take.
    pub media_fetch_timeout: std::time::Duration,
    /// Where and how long received media is kept; `None` keeps none.
    pub received_media: Option<media::ReceivedMedia>,
    /// Whether `session.qr_updated` events carry the QR payload; off when
    /// `display.qr_on_lan = false` keeps pairing to people at the box.
    pub qr_in_events: bool,
    /// The responsible-messaging guard every send passes, and the opt-out
    /// keywords inbound messages are checked for.
    pub guard: crate::guard::Guard,
}

/// What the engine can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// The recipient address is not one WhatsApp knows.
    #[error("{0}")]
    BadAddress(#[from] jid::BadAddress),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The key store failed.
    #[error("key store: {0}")]
    Backend(String),
    /// The session is not connected for an operation that needs it now.
    #[error("the session is not connected")]
    NotConnected,
    /// WhatsApp does not know the group, or this account is not in it.
    #[error("{0}")]
    UnknownGroup(String),
    /// No received message with media has this id.
    #[error("{0}")]
    UnknownMedia(String),
    /// WhatsApp no longer has the file (its copy expired).
    #[error("{0}")]
    MediaExpired(String),
    /// The file is larger than the whole received-media quota.
    #[error("{0}")]
    MediaOverQuota(String),
    /// WhatsApp refused or failed an immediate operation.
    #[error("WhatsApp: {0}")]
    WhatsApp(String),
    /// The guard refused the send; nothing was stored.
    #[error("refused: {}", .0.code())]
    Refused(crate::guard::Refusal),
}

/// Commands a session's supervisor obeys.
#[derive(Debug)]
enum Command {
    /// Close the connection, keep the keys.
    Disconnect,
    /// Log out on WhatsApp and wipe the keys.
    Logout,
}

/// The engine's handle on one session.
pub(crate) struct SessionCtl {
    id: String,
    status: watch::Sender<SessionStatus>,
    commands: mpsc::UnboundedSender<Command>,
    /// Wakes the send queue worker.
    wake: Notify,
    /// Stops this session's tasks.
    cancel: CancellationToken,
    /// The running client, while there is one.
    client: Mutex<Option<Arc<Client>>>,
    /// The send worker's waiters for WhatsApp's server acks.
    acks: settle::AckWaiters,
}

impl SessionCtl {
    fn update(&self, f: impl FnOnce(&mut SessionStatus)) {
        self.status.send_modify(f);
    }

    fn set_client(&self, client: Option<Arc<Client>>) {
        if let Ok(mut c) = self.client.lock() {
            *c = client;
        }
    }
}

/// The engine: a cheap, clonable handle.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

struct Inner {
    /// The database; its domain methods wake delivery after each commit.
    store: Store,
    cfg: EngineConfig,
    shutdown: CancellationToken,
    tasks: TaskTracker,
    sessions: Mutex<HashMap<String, Arc<SessionCtl>>>,
    /// Wakes the expiry sweeper (a send was accepted).
    expiry_wake: Notify,
    /// Failed connection attempts by session and code (`/metrics`).
    failures: Arc<diagnosis::FailureCounts>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("cfg", &self.inner.cfg)
            .finish()
    }
}

impl Engine {
    /// An engine over `store`; its tasks stop when `shutdown` is cancelled.
    pub fn new(store: Store, cfg: EngineConfig, shutdown: CancellationToken) -> Engine {
        let engine = Engine {
            inner: Arc::new(Inner {
                store,
                cfg,
                shutdown,
                tasks: TaskTracker::new(),
                sessions: Mutex::new(HashMap::new()),
                expiry_wake: Notify::new(),
                failures: Arc::default(),
            }),
        };
        if !engine.inner.cfg.send_max_age.is_zero() {
            let stop = engine.inner.shutdown.clone();
            engine
                .inner
                .tasks
                .spawn(settle::run_expiry(engine.clone(), stop));
        }
        if let Some(media) = engine.inner.cfg.received_media.clone() {
            let stop = engine.inner.shutdown.clone();
            engine.inner.tasks.spawn(tracing::Instrument::instrument(
                media::run_sweeper(media, stop),
                tracing::info_span!("media-sweeper"),
            ));
        }
        engine
    }

    /// Starts every session that has a paired account in the store (after a
    /// restart, without a QR). Returns how many it started.
    pub async fn resume(&self) -> Result<usize, EngineError> {
        let mut started = 0;
        for rec in self.inner.store.list_sessions().await? {
            let backend = RedbBackend::new(self.inner.store.clone(), rec.id.clone());
            let device = backend
                .load()
                .await
                .map_err(|e| EngineError::Backend(e.to_string()))?;
            if device.is_some_and(|d| d.pn.is_some()) {
                self.connect(&rec.id, None);
                started += 1;
            }
        }
        Ok(started)
    }

    /// Starts the session's connection (pairing by QR, or by pair code when
    /// `pair_phone` is given), unless it is already running.
    pub fn connect(&self, session: &str, pair_phone: Option<String>) -> SessionStatus {
        let mut sessions = match self.inner.sessions.lock() {
            Ok(s) => s,
            Err(p) => p.into_inner(),
        };
        if let Some(ctl) = sessions.get(session)
            && !ctl.cancel.is_cancelled()
        {
            return ctl.status.borrow().at(now_ms());
        }
        let previous = sessions.get(session).map(|c| c.status.borrow().clone());
        let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
        let initial = SessionStatus {
            state: State::Connecting,
            jid: previous.as_ref().and_then(|p| p.jid.clone()),
            lid: previous.as_ref().and_then(|p| p.lid.clone()),
            push_name: previous.as_ref().and_then(|p| p.push_name.clone()),
            last_message_at: previous.as_ref().and_then(|p| p.last_message_at),
            ..SessionStatus::default()
        };
        let ctl = Arc::new(SessionCtl {
            id: session.to_string(),
            status: watch::Sender::new(initial),
            commands: cmd_tx,
            wake: Notify::new(),
            cancel: self.inner.shutdown.child_token(),
            client: Mutex::new(None),
            acks: Default::default(),
        });
        sessions.insert(session.to_string(), ctl.clone());
        let status = ctl.status.borrow().clone();
        let engine = self.clone();
        let span = tracing::info_span!("session", id = %session);
        self.inner.tasks.spawn(tracing::Instrument::instrument(
            session::run(engine, ctl, pair_phone, cmd_rx),
            span,
        ));
        status
    }

    /// Closes the session's connection and keeps its keys.
    pub async fn disconnect(&self, session: &str) {
        if let Some(ctl) = self.ctl(session) {
            let _ = ctl.commands.send(Command::Disconnect);
            wait_until_stopped(&ctl).await;
        }
    }

    /// Logs the session out on WhatsApp (when connected) and wipes its keys.
    pub async fn logout(&self, session: &str) -> Result<(), EngineError> {
        match self.ctl(session) {
            Some(ctl) if !ctl.cancel.is_cancelled() => {
                let _ = ctl.commands.send(Command::Logout);
                wait_until_stopped(&ctl).await;
            }
            _ => {
                RedbBackend::new(self.inner.store.clone(), session)
                    .wipe()
                    .await
                    .map_err(|e| EngineError::Backend(e.to_string()))?;
                self.set_stopped_status(session, State::LoggedOut, None);
            }
        }
        Ok(())
    }

    /// The session's status now.
    pub fn status(&self, session: &str) -> SessionStatus {
        self.ctl(session)
            .map(|c| c.status.borrow().at(now_ms()))
            .unwrap_or_default()
    }

    /// Watches the session's status (for waiting on a pair code, the display…).
    pub fn watch(&self, session: &str) -> Option<watch::Receiver<SessionStatus>> {
        self.ctl(session).map(|c| c.status.subscribe())
    }

    /// Accepts a text message: stored and queued at once (state `pending`),
    /// sent in order when the session is connected. A repeated `client_id`
    /// returns the earlier message instead of sending again.
    pub async fn send_text(
        &self,
        session: &str,
        phone: &str,
        body: &str,
        client_id: Option<String>,
    ) -> Result<(MessageRecord, bool), EngineError> {
        let payload = crate::store::Payload::Text {
            body: body.to_string(),
            quote: None,
        };
        self.send(session, Outgoing::new(phone, payload, client_id))
            .await
    }

    /// Accepts any outbound message (see [`Outgoing`]): stored with its media
    /// and queued in one transaction, answered at once as `pending`, sent in
    /// order. Returns `(record, created)`; a repeated client id returns the
    /// earlier message with `created == false`.
    pub async fn send(
        &self,
        session: &str,
        out: Outgoing,
    ) -> Result<(MessageRecord, bool), EngineError> {
        let chat = jid::normalize(&out.phone)?;
        let now = now_ms();
        let me = self.status(session).jid.unwrap_or_default();
        let rec = MessageRecord {
            id: new_message_id(),
            seq: 0,
            chat,
            sender: me,
            from_me: true,
            kind: out.kind(),
            body: out.shown_text(),
            push_name: None,
            timestamp: now,
            state: MessageState::Pending,
            history: vec![crate::store::messages::StateChange {
                state: MessageState::Pending,
                at: now,
            }],
            client_id: out.client_id,
            error: None,
            attempts: 0,
            detail: None,
            payload: Some(out.payload),
        };
        let guard = self.inner.cfg.guard.clone();
        let (rec, created) = if guard.enabled() {
            let req = crate::guard::SendRequest {
                session: session.to_string(),
                recipient: crate::guard::recipient_key(&rec.chat),
                kind: rec.kind.clone(),
                purpose: out.purpose,
                purpose_required: out.purpose_required,
                text: rec.body.clone(),
            };
            let recipient = req.recipient.clone();
            let logged = serde_json::json!({
                "recipient": req.recipient,
                "kind": req.kind,
                "purpose": req.purpose,
            });
            let (store, decider) = (self.inner.store.clone(), guard.clone());
            let decided = store
                .enqueue_guarded(session, rec, out.media, recipient, move |facts| {
                    decider.decide(&req, facts)
                })
                .await?;
            match decided {
                Guarded::Queued { record, created } => (*record, created),
                Guarded::Refused(r) => {
                    self.log_refusal(session, &r, logged, guard.now_ms()).await;
                    return Err(EngineError::Refused(r));
                }
            }
        } else {
            self.inner
                .store
                .enqueue_outbound_media(session, rec, out.media)
                .await?
        };
        if created {
            self.inner.expiry_wake.notify_one();
            if let Some(ctl) = self.ctl(session) {
                ctl.wake.notify_one();
            }
        }
        Ok((rec, created))
    }

    /// Records a refusal in the session's policy log (best effort: a send
    /// refused is refused even when the log cannot be written).
    async fn log_refusal(
        &self,
        session: &str,
        r: &crate::guard::Refusal,
        mut entry: serde_json::Value,
        at: i64,
    ) {
        entry["at"] = at.into();
        entry["error"] = r.code().into();
        entry["details"] = r.details();
        if let Err(e) = self.inner.store.log_refusal(session, entry).await {
            tracing::warn!(error = %e, "the policy log could not be written");
        }
    }

    /// The responsible-messaging guard sends pass.
    pub fn guard(&self) -> &crate::guard::Guard {
        &self.inner.cfg.guard
    }

    /// The media cap (bytes) and the media URL fetch time limit.
    pub fn media_limits(&self) -> (u64, std::time::Duration) {
        (
            self.inner.cfg.media_max_bytes,
            self.inner.cfg.media_fetch_timeout,
        )
    }

    /// The running client of a connected session.
    fn connected_client(&self, session: &str) -> Result<Arc<Client>, EngineError> {
        let ctl = self.ctl(session).ok_or(EngineError::NotConnected)?;
        if ctl.status.borrow().state != State::Connected {
            return Err(EngineError::NotConnected);
        }
        let client = ctl.client.lock().ok().and_then(|c| c.clone());
        client.ok_or(EngineError::NotConnected)
    }

    /// Stops every session and waits for their tasks (bounded by the caller).
    pub async fn shutdown(&self) {
        self.inner.shutdown.cancel();
        self.inner.tasks.close();
        self.inner.tasks.wait().await;
    }

    /// Records `events` in the event log (and the webhook outbox); the store
    /// wakes delivery. For events that go with no other write.
    pub(crate) async fn publish(&self, events: Vec<Event>) {
        if let Err(e) = self.inner.store.append_events(events).await {
            tracing::error!(error = %e, "cannot record events");
        }
    }

    fn ctl(&self, session: &str) -> Option<Arc<SessionCtl>> {
        self.inner
            .sessions
            .lock()
            .ok()
            .and_then(|s| s.get(session).cloned())
    }

    /// Every started session's status now, by id.
    pub fn statuses(&self) -> Vec<(String, SessionStatus)> {
        let now = now_ms();
        let mut all: Vec<_> = match self.inner.sessions.lock() {
            Ok(s) => s
                .iter()
                .map(|(id, c)| (id.clone(), c.status.borrow().at(now)))
                .collect(),
            Err(_) => Vec::new(),
        };
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all
    }

    /// Failed connection attempts since start: (session, code, count).
    pub fn failure_counts(&self) -> Vec<(String, FailureCode, u64)> {
        self.inner.failures.snapshot()
    }

    fn set_stopped_status(&self, session: &str, state: State, error: Option<Diagnosis>) {
        if let Some(ctl) = self.ctl(session) {
            ctl.update(|s| {
                s.state = state;
                s.last_error = error;
                s.qr = None;
                s.pair_code = None;
                if state == State::LoggedOut {
                    s.jid = None;
                    s.lid = None;
                }
            });
        }
    }
}

impl SessionCtl {
    /// The account as webhook receivers see it (`me`).
    fn me(&self) -> Option<Me> {
        let s = self.status.borrow();
        s.jid.as_ref().map(|id| Me {
            id: id.clone(),
            push_name: s.push_name.clone().unwrap_or_default(),
        })
    }

    /// A gateway event of this session.
    fn event(&self, name: &str, chat: Option<String>, payload: serde_json::Value) -> Event {
        Event {
            session: self.id.clone(),
            event: name.to_string(),
            chat,
            timestamp: now_ms(),
            payload,
            me: self.me(),
        }
    }
}

/// The payload of a message event: the stored fields plus the
/// kind-specific details (`targetId`, `mimetype`, `senderLid`, …).
pub(crate) fn message_payload(m: &MessageRecord) -> serde_json::Value {
    let mut v = serde_json::json!({
        "id": m.id,
        "chat": m.chat,
        "sender": m.sender,
        "fromMe": m.from_me,
        "type": m.kind,
        "body": m.body,
        "pushName": m.push_name,
        "timestamp": m.timestamp,
        "state": m.state,
        "error": m.error,
    });
    if let (Some(obj), Some(detail)) = (v.as_object_mut(), &m.detail) {
        for (k, val) in detail {
            obj.entry(k.clone()).or_insert_with(|| val.clone());
        }
    }
    v
}

/// Waits until the session's supervisor has stopped (its token is cancelled
/// when it exits).
async fn wait_until_stopped(ctl: &SessionCtl) {
    let _ = tokio::time::timeout(std::time::Duration::from_secs(30), ctl.cancel.cancelled()).await;
}

/// A new message id in WhatsApp Web's shape: `3EB0` and 18 hex digits.
pub fn new_message_id() -> String {
    use rand::Rng;
    let mut b = [0u8; 9];
    rand::rng().fill_bytes(&mut b);
    format!("3EB0{}", hex::encode_upper(b))
}
