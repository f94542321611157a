//! Test harness: runs the real whatsapp-rust client against a `Simulator`
//! and turns its events into a channel the test can wait on.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use wa_sim::Simulator;
use whatsapp_rust::bot::{Bot, BotHandle};
use whatsapp_rust::store::traits::Backend;
use whatsapp_rust::transport::TokioWebSocketTransportFactory;
use whatsapp_rust::types::durability_hook::InboundMessage;
use whatsapp_rust::types::events::Event;
use whatsapp_rust::wacore::store::InMemoryBackend;
use whatsapp_rust::{Client, InboundDurabilityHook, TokioRuntime};

/// WhatsApp Web version the client announces; pinned so it never fetches one.
pub const PINNED_VERSION: (u32, u32, u32) = (2, 3000, 1_027_000_000);
/// Default wait for one protocol step.
pub const STEP: Duration = Duration::from_secs(5);

/// A fresh in-memory store for one simulated gateway account.
pub fn new_backend() -> Arc<dyn Backend> {
    Arc::new(InMemoryBackend::new())
}

/// The real client, connected to the simulator, with its event stream.
pub struct TestClient {
    pub handle: BotHandle,
    pub client: Arc<Client>,
    events: mpsc::UnboundedReceiver<Arc<Event>>,
    /// Events received but not yet matched by a `wait_for`.
    backlog: Vec<Arc<Event>>,
}

impl TestClient {
    /// Builds and spawns a client on `backend` that talks to `sim`.
    pub async fn start(sim: &Simulator, backend: Arc<dyn Backend>) -> Self {
        Self::start_hooked(sim, backend, None).await
    }

    /// [`TestClient::start`] with an inbound durability hook registered.
    pub async fn start_hooked(
        sim: &Simulator,
        backend: Arc<dyn Backend>,
        hook: Option<Arc<dyn InboundDurabilityHook>>,
    ) -> Self {
        let (tx, events) = mpsc::unbounded_channel();
        let mut builder = Bot::builder();
        if let Some(hook) = hook {
            builder = builder.with_inbound_durability_hook(SharedHook(hook));
        }
        let bot = builder
            .with_backend_arc(backend)
            .with_transport_factory(TokioWebSocketTransportFactory::new().with_url(sim.ws_url()))
            .with_http_client(sim.http_client())
            .with_runtime(TokioRuntime)
            .with_version(PINNED_VERSION)
            .skip_history_sync()
            .on_event(move |event, _client| {
                let tx = tx.clone();
                async move {
                    let _ = tx.send(event);
                }
            })
            .build()
            .await
            .expect("bot builds");
        let handle = bot.spawn();
        let client = handle.client();
        Self {
            handle,
            client,
            events,
            backlog: Vec::new(),
        }
    }

    /// Waits for the oldest unmatched event for which `pick` returns `Some`
    /// and consumes it; events it skips stay for later waits. Panics with
    /// `what` after `timeout`.
    pub async fn wait_for<T>(
        &mut self,
        what: &str,
        timeout: Duration,
        mut pick: impl FnMut(&Event) -> Option<T>,
    ) -> T {
        for i in 0..self.backlog.len() {
            if let Some(v) = pick(&self.backlog[i]) {
                self.backlog.remove(i);
                return v;
            }
        }
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let next = tokio::time::timeout_at(deadline, self.events.recv()).await;
            match next {
                Ok(Some(event)) => {
                    if let Some(v) = pick(&event) {
                        return v;
                    }
                    self.backlog.push(event);
                }
                Ok(None) => panic!("event stream ended while waiting for {what}"),
                Err(_) => panic!("no {what} within {timeout:?}"),
            }
        }
    }

    /// Drops every event received so far, so the next wait only sees what
    /// happens after this call.
    pub fn forget_past(&mut self) {
        self.backlog.clear();
        while self.events.try_recv().is_ok() {}
    }

    /// Waits for `Connected`.
    pub async fn connected(&mut self, timeout: Duration) {
        self.wait_for("Connected", timeout, |e| {
            matches!(e, Event::Connected(_)).then_some(())
        })
        .await;
    }

    /// Stops the client.
    pub async fn stop(self) {
        self.handle.shutdown().await;
    }
}

/// Lets a test keep its own `Arc` to the hook it hands the builder.
struct SharedHook(Arc<dyn InboundDurabilityHook>);

#[whatsapp_rust::async_trait]
impl InboundDurabilityHook for SharedHook {
    async fn on_messages(
        &self,
        client: Arc<Client>,
        batch: &[InboundMessage],
    ) -> anyhow::Result<()> {
        self.0.on_messages(client, batch).await
    }
}

/// Pairs a new client on a fresh backend via QR and waits until it is
/// connected. Returns the client, its backend and the paired device.
pub async fn paired_client(
    sim: &Simulator,
) -> (TestClient, Arc<dyn Backend>, wa_sim::PairedDevice) {
    paired_client_of(sim, &sim.phone()).await
}

/// Like [`paired_client`], linked to the account of `phone`.
pub async fn paired_client_of(
    sim: &Simulator,
    phone: &wa_sim::Phone,
) -> (TestClient, Arc<dyn Backend>, wa_sim::PairedDevice) {
    paired_client_hooked(sim, phone, None).await
}

/// Like [`paired_client_of`], with an inbound durability hook registered.
pub async fn paired_client_hooked(
    sim: &Simulator,
    phone: &wa_sim::Phone,
    hook: Option<Arc<dyn InboundDurabilityHook>>,
) -> (TestClient, Arc<dyn Backend>, wa_sim::PairedDevice) {
    let backend = new_backend();
    let mut client = TestClient::start_hooked(sim, backend.clone(), hook).await;
    let qr = client
        .wait_for("PairingQrCode", STEP, |e| match e {
            Event::PairingQrCode(q) => Some(q.code.clone()),
            _ => None,
        })
        .await;
    let device = phone.scan_qr(&qr).await.expect("phone scans the QR");
    client.connected(STEP).await;
    (client, backend, device)
}

/// Turns on client logs when `RUST_LOG` is set.
pub fn init_logs() {
    let _ = env_logger::builder().is_test(true).try_init();
}
