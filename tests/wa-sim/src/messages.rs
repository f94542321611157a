//! Message traffic between the real client and the simulated phones:
//! decrypting what the client sends (and acking it), and encrypting what a
//! simulated phone sends to the client's companion device.

use crate::conn::ConnCtx;
use crate::nodes::{self, attr};
use crate::party::{Party, Sealed};
use crate::state::{DeviceId, ReceivedMessage, Shared};
use anyhow::anyhow;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use whatsapp_rust::wacore::libsignal::protocol::ProtocolAddress;
use whatsapp_rust::wacore::messages::{MessageUtils, decode_plaintext};
use whatsapp_rust::wacore_binary::builder::NodeBuilder;
use whatsapp_rust::wacore_binary::{Jid, Node, NodeRef};
use whatsapp_rust::waproto::whatsapp as wa;

/// The Signal address simulated phones use for a companion device.
pub(crate) fn companion_address(device: &DeviceId) -> ProtocolAddress {
    ProtocolAddress::new(
        &format!("{}:{}", device.user, device.device),
        u32::from(device.device).into(),
    )
}

/// Handles a `<message>` the client sends: every simulated recipient device
/// decrypts its copy, then the server acks the stanza.
pub(crate) async fn from_client(shared: &Arc<Shared>, ctx: &ConnCtx, node: &NodeRef<'_>) {
    let id = attr(node, "id").unwrap_or_default();
    let to = attr(node, "to").unwrap_or_default();
    if let Some(device) = &ctx.device {
        let from = device.jid();
        let sender = companion_address(device);
        let kind = attr(node, "type").unwrap_or_default();
        for (recipient, enc_type, ciphertext) in copies(node, &to) {
            let Ok(jid) = recipient.parse::<Jid>() else {
                continue;
            };
            let phone = shared
                .lock()
                .account_by_any(&jid.user)
                .map(|a| a.phone.clone());
            if let Some(phone) = phone {
                // A copy for an account's phone: the client's own phone
                // (DeviceSentMessage) or another simulated account. Decrypted
                // so the sessions stay in step; the content is not recorded.
                let _ = phone
                    .lock()
                    .await
                    .decrypt(&sender, &enc_type, &ciphertext)
                    .await;
                continue;
            }
            let contact = shared.lock().contacts.get(jid.user.as_str()).cloned();
            let Some(contact) = contact else { continue };
            let plain = contact
                .party
                .lock()
                .await
                .decrypt(&sender, &enc_type, &ciphertext)
                .await;
            let body = plain.ok().and_then(|p| decode_plaintext(&p, 2).ok());
            if let Some(message) = body {
                let received = ReceivedMessage {
                    id: id.clone(),
                    from: from.clone(),
                    kind: kind.clone(),
                    body: text_of(&message),
                    message: Arc::new(message),
                };
                if let Ok(mut list) = contact.received.lock() {
                    list.push(received);
                }
                shared.bump();
                if contact.auto_delivery.load(Ordering::SeqCst) {
                    delivered_later(ctx, &contact.user, &id);
                }
            }
        }
    }
    let ack = NodeBuilder::new("ack")
        .attr("class", "message")
        .attr("id", id.clone())
        .attr(
            "from",
            if to.is_empty() {
                nodes::SERVER.to_string()
            } else {
                to
            },
        )
        .attr("t", nodes::now_secs())
        .build();
    {
        let mut inner = shared.lock();
        if inner.hold_acks {
            inner.held_acks.push((ctx.tx.clone(), id, ack));
            return;
        }
    }
    send_ack(shared, &ctx.tx, &id, ack);
}

/// Sends the server's ack of the client's message `id` on a connection's
/// queue, noting when (before it goes out, so the client can never see it
/// earlier than noted).
pub(crate) fn send_ack(
    shared: &Shared,
    tx: &tokio::sync::mpsc::UnboundedSender<crate::state::Outbound>,
    id: &str,
    ack: Node,
) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let first = !shared.lock().message_acks.contains_key(id);
    if first {
        shared.lock().message_acks.insert(id.to_string(), now);
    }
    if tx.send(crate::state::Outbound::Node(ack)).is_err() && first {
        // The connection is gone: the ack never reaches the client.
        shared.lock().message_acks.remove(id);
    }
    shared.bump();
}

/// Queues the contact's delivery receipt behind the server's ack.
fn delivered_later(ctx: &ConnCtx, contact_user: &str, id: &str) {
    let tx = ctx.tx.clone();
    let receipt = NodeBuilder::new("receipt")
        .attr("from", format!("{contact_user}@s.whatsapp.net"))
        .attr("id", id.to_string())
        .attr("t", nodes::now_secs())
        .build();
    tokio::spawn(async move {
        // After the ack, like a phone that answers a moment later.
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        let _ = tx.send(crate::state::Outbound::Node(receipt));
    });
}

/// Every `(recipient jid, enc type, ciphertext)` in a message stanza, from
/// `<participants><to jid><enc/></to></participants>` or a bare `<enc>`.
fn copies(node: &NodeRef<'_>, to: &str) -> Vec<(String, String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut push = |recipient: String, enc: &NodeRef<'_>| {
        if let (Some(kind), Some(bytes)) = (attr(enc, "type"), enc.content_bytes()) {
            out.push((recipient, kind, bytes.to_vec()));
        }
    };
    if let Some(participants) = node.get_optional_child("participants") {
        for target in participants.get_children_by_tag("to") {
            let recipient = attr(target, "jid").unwrap_or_default();
            for enc in target.get_children_by_tag("enc") {
                push(recipient.clone(), enc);
            }
        }
    }
    for enc in node.get_children_by_tag("enc") {
        push(to.to_string(), enc);
    }
    out
}

/// The text of a message: `conversation`, or `extendedTextMessage.text`,
/// looking inside a `DeviceSentMessage` wrapper.
pub(crate) fn text_of(message: &wa::Message) -> String {
    if let Some(text) = &message.conversation {
        return text.clone();
    }
    if let Some(ext) = message.extended_text_message.as_option()
        && let Some(text) = &ext.text
    {
        return text.clone();
    }
    if let Some(dsm) = message.device_sent_message.as_option()
        && let Some(inner) = dsm.message.as_option()
    {
        return text_of(inner);
    }
    String::new()
}

/// Encrypts `message` from `party` to the companion `device` and wraps it in
/// a `<message>` stanza sent `from` the given JID.
pub(crate) async fn seal_to_companion(
    shared: &Arc<Shared>,
    party: &tokio::sync::Mutex<Party>,
    device: &DeviceId,
    message: &wa::Message,
) -> anyhow::Result<Sealed> {
    use whatsapp_rust::waproto::buffa::Message as _;
    let mut keys = shared
        .lock()
        .companion_mut(device)
        .and_then(|c| c.keys.clone())
        .ok_or_else(|| anyhow!("{} has not uploaded pre-keys yet", device.jid()))?;
    let address = companion_address(device);
    let padded = MessageUtils::pad_message_v2(message.encode_to_vec());
    let sealed = party
        .lock()
        .await
        .encrypt(&address, &mut keys, &padded)
        .await?;
    if let Some(companion) = shared.lock().companion_mut(device)
        && let Some(stored) = companion.keys.as_mut()
    {
        // A bundle consumed one of the client's one-time keys.
        stored.one_time.retain(|k| keys.one_time.contains(k));
    }
    Ok(sealed)
}

/// A valid Signal `msg` for `device` from a session it never established:
/// the inner message of a throwaway party's `pkmsg`, without the pre-key
/// part that would set the session up. Decrypting it must fail.
pub(crate) async fn foreign_session_msg(
    shared: &Arc<Shared>,
    device: &DeviceId,
) -> anyhow::Result<Vec<u8>> {
    use whatsapp_rust::wacore::libsignal::protocol::PreKeySignalMessage;
    let mut keys = shared
        .lock()
        .companion_mut(device)
        .and_then(|c| c.keys.clone())
        .ok_or_else(|| anyhow!("{} has not uploaded pre-keys yet", device.jid()))?;
    let mut stranger = Party::generate()?;
    let sealed = stranger
        .encrypt(&companion_address(device), &mut keys, &[1, 1])
        .await?;
    let pkmsg = PreKeySignalMessage::try_from(sealed.ciphertext.as_slice())?;
    Ok(pkmsg.message().serialized().to_vec())
}

/// `<message from id t type><enc v="2" type>…</enc></message>`.
pub(crate) fn message_node(
    from: &str,
    id: &str,
    kind: &str,
    sealed: Sealed,
    extra: &[(&'static str, String)],
) -> Node {
    let mut b = NodeBuilder::new("message")
        .attr("from", from.to_string())
        .attr("id", id.to_string())
        .attr("t", nodes::now_secs())
        .attr("type", kind.to_string());
    for (k, v) in extra {
        b = b.attr(k, v.clone());
    }
    b.children([NodeBuilder::new("enc")
        .attr("v", "2")
        .attr("type", sealed.enc_type)
        .bytes(sealed.ciphertext)
        .build()])
        .build()
}
