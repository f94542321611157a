//! The server's offline queue for unacknowledged messages: a message the
//! client never acked (its durability hook failed, or the process died
//! before the ack) comes back at the device's next login, marked offline;
//! an acked one does not.

mod common;

use common::{STEP, TestClient, init_logs, paired_client_hooked};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use wa_sim::Simulator;
use whatsapp_rust::types::durability_hook::InboundMessage;
use whatsapp_rust::types::events::Event;
use whatsapp_rust::{Client, InboundDurabilityHook};

/// How long the client's own reconnect backoff may take.
const RECONNECT: Duration = Duration::from_secs(10);

/// What the gateway would do in its hook: commit the batch, here into a
/// list. Refuses the first `refuse` batches that carry a text message (a
/// failed database write; the phone's key share, a protocol message that
/// also passes through the hook, is let through); with `hang`, never
/// returns (a process that dies before its commit finishes).
#[derive(Default)]
struct RecordingHook {
    refuse: AtomicUsize,
    hang: bool,
    /// Every message id the hook was offered, in order.
    offered: Mutex<Vec<String>>,
    /// Message ids committed (at-least-once: a test checks it is once).
    committed: Mutex<Vec<String>>,
}

impl RecordingHook {
    fn refusing(refuse: usize) -> Arc<Self> {
        Arc::new(Self {
            refuse: AtomicUsize::new(refuse),
            ..Self::default()
        })
    }

    fn hanging() -> Arc<Self> {
        Arc::new(Self {
            hang: true,
            ..Self::default()
        })
    }

    fn offered(&self, id: &str) -> usize {
        count(&self.offered, id)
    }

    fn committed(&self, id: &str) -> usize {
        count(&self.committed, id)
    }

    /// Waits until the hook was offered `id` at least `n` times.
    async fn wait_offered(&self, id: &str, n: usize) {
        let deadline = tokio::time::Instant::now() + STEP;
        while self.offered(id) < n {
            assert!(
                tokio::time::Instant::now() < deadline,
                "hook offered {id} {} times, wanted {n}",
                self.offered(id)
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn count(list: &Mutex<Vec<String>>, id: &str) -> usize {
    list.lock()
        .map(|l| l.iter().filter(|i| *i == id).count())
        .unwrap_or(0)
}

#[whatsapp_rust::async_trait]
impl InboundDurabilityHook for RecordingHook {
    async fn on_messages(
        &self,
        _client: Arc<Client>,
        batch: &[InboundMessage],
    ) -> anyhow::Result<()> {
        let ids: Vec<String> = batch.iter().map(|m| m.info.id.clone()).collect();
        if let Ok(mut offered) = self.offered.lock() {
            offered.extend(ids.iter().cloned());
        }
        if self.hang {
            std::future::pending::<()>().await;
        }
        let has_text = batch.iter().any(|m| m.message.conversation.is_some());
        let refused = has_text
            && self
                .refuse
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok();
        if refused {
            anyhow::bail!("simulated commit failure");
        }
        // Idempotent by id, as the hook contract asks.
        if let Ok(mut committed) = self.committed.lock() {
            for id in ids {
                if !committed.contains(&id) {
                    committed.push(id);
                }
            }
        }
        Ok(())
    }
}

/// Waits for the `Messages` event carrying `id`; returns its text and
/// whether it came through the offline path.
async fn message_event(client: &mut TestClient, id: &str, timeout: Duration) -> (String, bool) {
    client
        .wait_for("Messages", timeout, |e| match e {
            Event::Messages(batch) => batch.iter().find(|m| m.info.id == id).map(|m| {
                (
                    m.message.conversation.clone().unwrap_or_default(),
                    m.info.is_offline,
                )
            }),
            _ => None,
        })
        .await
}

/// Closes the client's socket (a network blip) and waits for it to log in
/// again and finish the offline backlog; returns the backlog's size.
async fn reconnect(sim: &Simulator, client: &mut TestClient) -> i32 {
    client.forget_past();
    sim.drop_connections().await;
    client
        .wait_for("Disconnected", STEP, |e| {
            matches!(e, Event::Disconnected(_)).then_some(())
        })
        .await;
    client
        .wait_for("OfflineSyncCompleted", RECONNECT, |e| match e {
            Event::OfflineSyncCompleted(done) => Some(done.count),
            _ => None,
        })
        .await
}

/// The hook fails the first time: the client sends no receipt and no ack,
/// the server keeps the message, and after a reconnect delivers it again
/// (offline). The client replays it from its pending-inbound buffer (its
/// Signal session already moved past the ciphertext), the hook commits it,
/// the `Messages` event fires once, and the server drops it.
#[tokio::test]
async fn failed_commit_is_redelivered_after_reconnect() {
    init_logs();
    let sim = Simulator::start().await.expect("simulator starts");
    let contact = sim.contact("15559870000");
    let hook = RecordingHook::refusing(1);
    let (mut client, _backend, device) =
        paired_client_hooked(&sim, &sim.phone(), Some(hook.clone())).await;

    let id = contact
        .send_text(&sim.phone().jid(), "commit me")
        .await
        .expect("contact sends");
    hook.wait_offered(&id, 1).await;
    // Give a (wrong) ack time to arrive before checking there was none.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(hook.committed(&id), 0);
    assert_eq!(
        sim.unacked_messages(&device.jid).expect("device jid"),
        vec![id.clone()],
        "a failed commit leaves the message unacknowledged"
    );
    assert!(
        !sim.client_receipts().iter().any(|r| r.ids.contains(&id)),
        "no receipt for a message the hook refused"
    );

    let backlog = reconnect(&sim, &mut client).await;
    assert_eq!(backlog, 1, "the unacked message is the offline backlog");
    let (text, offline) = message_event(&mut client, &id, STEP).await;
    assert_eq!(text, "commit me");
    assert!(offline, "redelivered through the offline path");
    assert_eq!(hook.offered(&id), 2, "offered again after the reconnect");
    assert_eq!(hook.committed(&id), 1, "committed exactly once");
    sim.wait_message_acked(&device.jid, &id, STEP)
        .await
        .expect("the client acks it once committed");

    // Acked now: a further reconnect brings nothing back.
    assert_eq!(reconnect(&sim, &mut client).await, 0);
    assert_eq!(hook.offered(&id), 2);
    client.stop().await;
}

/// A message the hook committed is acked (a delivery receipt) and is not
/// delivered again after the connection drops.
#[tokio::test]
async fn acked_message_is_not_redelivered() {
    init_logs();
    let sim = Simulator::start().await.expect("simulator starts");
    let contact = sim.contact("15559870000");
    let hook = RecordingHook::refusing(0);
    let (mut client, _backend, device) =
        paired_client_hooked(&sim, &sim.phone(), Some(hook.clone())).await;

    let id = contact
        .send_text(&sim.phone().jid(), "once only")
        .await
        .expect("contact sends");
    let (text, offline) = message_event(&mut client, &id, STEP).await;
    assert_eq!(text, "once only");
    assert!(!offline, "delivered live");
    sim.wait_message_acked(&device.jid, &id, STEP)
        .await
        .expect("the client acks a committed message");
    assert!(
        sim.client_receipts().iter().any(|r| r.ids.contains(&id)),
        "the ack is a receipt"
    );

    assert_eq!(reconnect(&sim, &mut client).await, 0, "nothing queued");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(hook.offered(&id), 1, "not offered again");
    assert_eq!(hook.committed(&id), 1);
    assert!(sim.unacked_messages(&device.jid).expect("jid").is_empty());
    client.stop().await;
}

/// The process dies between receiving a message and committing it (the
/// hook never returns; the client is aborted without a clean shutdown). A
/// new client on the same store logs in as the same device, gets the
/// message again from the server's offline queue and commits it.
#[tokio::test]
async fn message_survives_a_crash_before_commit() {
    init_logs();
    let sim = Simulator::start().await.expect("simulator starts");
    let contact = sim.contact("15559870000");
    let stuck = RecordingHook::hanging();
    let (first, backend, device) =
        paired_client_hooked(&sim, &sim.phone(), Some(stuck.clone())).await;

    let id = contact
        .send_text(&sim.phone().jid(), "survive the crash")
        .await
        .expect("contact sends");
    stuck.wait_offered(&id, 1).await;
    // "Crash": no shutdown, no flush. `abort` stops only the run loop: the
    // old socket stays open until the new login replaces it, and the
    // server hands what it held to that login's backlog.
    first.handle.abort();
    drop(first);
    // (The phone's key share, stuck in the same hook, is held too.)
    assert!(
        sim.unacked_messages(&device.jid)
            .expect("jid")
            .contains(&id),
        "the server still holds the message"
    );

    let hook = RecordingHook::refusing(0);
    let mut second = TestClient::start_hooked(&sim, backend, Some(hook.clone())).await;
    let (text, offline) = message_event(&mut second, &id, RECONNECT).await;
    assert_eq!(text, "survive the crash");
    assert!(offline, "redelivered through the offline path");
    assert_eq!(hook.committed(&id), 1, "committed once by the new process");
    sim.wait_message_acked(&device.jid, &id, STEP)
        .await
        .expect("the new process acks it");
    assert_eq!(stuck.committed(&id), 0);
    second.stop().await;
}
