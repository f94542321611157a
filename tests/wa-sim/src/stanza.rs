//! Routes each decrypted stanza from the client to its handler by tag.
//! Owns no state; handlers reply through the connection's queue.

use crate::conn::ConnCtx;
use crate::nodes::{self, SERVER};
use crate::state::{ClientChatState, ClientReceipt, Shared};
use crate::{iq, messages};
use std::sync::Arc;
use whatsapp_rust::wacore_binary::NodeRef;
use whatsapp_rust::wacore_binary::builder::NodeBuilder;

/// Handles one stanza from the client.
pub(crate) async fn dispatch(shared: &Arc<Shared>, ctx: &mut ConnCtx, node: &NodeRef<'_>) {
    match node.tag.as_ref() {
        "iq" => iq::handle(shared, ctx, node).await,
        "message" => messages::from_client(shared, ctx, node).await,
        "receipt" => on_receipt(shared, ctx, node),
        "ack" => on_ack(shared, ctx, node),
        "call" => crate::calls::from_client(shared, ctx, node),
        "presence" => on_presence(shared, node),
        // Chat state, unified-session telemetry: nothing to answer.
        "chatstate" => on_chatstate(shared, node),
        // Presence, unified-session telemetry: nothing to answer.
        _ => {}
    }
}

/// Records the client's typing / recording / paused state (no answer).
fn on_chatstate(shared: &Arc<Shared>, node: &NodeRef<'_>) {
    let to = nodes::attr(node, "to").unwrap_or_default();
    let state = if let Some(c) = node.get_optional_child("composing") {
        if nodes::attr(c, "media").as_deref() == Some("audio") {
            "recording"
        } else {
            "composing"
        }
    } else if node.get_optional_child("paused").is_some() {
        "paused"
    } else {
        return;
    };
    shared.lock().client_chat_states.push(ClientChatState {
        to,
        state: state.to_string(),
    });
    shared.bump();
}

/// Records a receipt and acks it like the server does.
fn on_receipt(shared: &Arc<Shared>, ctx: &ConnCtx, node: &NodeRef<'_>) {
    let Some(id) = nodes::attr(node, "id") else {
        return;
    };
    let to = nodes::attr(node, "to").unwrap_or_default();
    let kind = nodes::attr(node, "type").unwrap_or_default();
    let mut ids = vec![id.clone()];
    if let Some(list) = node.get_optional_child("list") {
        for item in list.get_children_by_tag("item") {
            if let Some(extra) = nodes::attr(item, "id") {
                ids.push(extra);
            }
        }
    }
    // Any receipt for a message (delivery, inactive, read, retry, …) takes
    // it off the device's unacknowledged list.
    if let Some(device) = &ctx.device {
        shared.acknowledge(device, &ids);
    }
    shared.lock().client_receipts.push(ClientReceipt {
        to: to.clone(),
        ids,
        kind: kind.clone(),
    });
    shared.bump();
    let mut ack = NodeBuilder::new("ack")
        .attr("class", "receipt")
        .attr("id", id)
        .attr(
            "from",
            if to.is_empty() {
                SERVER.to_string()
            } else {
                to
            },
        );
    if !kind.is_empty() {
        ack = ack.attr("type", kind);
    }
    ctx.send(ack.build());
}

/// The client's transport ack. `<ack class="message" id>` is how it
/// acknowledges a message it sends no delivery receipt for (its own
/// messages synced from the phone, undecryptable ones); other classes ack
/// receipts and notifications the server does not track.
fn on_ack(shared: &Arc<Shared>, ctx: &ConnCtx, node: &NodeRef<'_>) {
    if nodes::attr(node, "class").as_deref() != Some("message") {
        return;
    }
    if let (Some(device), Some(id)) = (&ctx.device, nodes::attr(node, "id")) {
        shared.acknowledge(device, &[id]);
    }
}

/// Records a presence subscription (`<presence type="subscribe" to>`);
/// the client's own availability is accepted and ignored.
fn on_presence(shared: &Arc<Shared>, node: &NodeRef<'_>) {
    if nodes::attr(node, "type").as_deref() == Some("subscribe")
        && let Some(to) = nodes::attr(node, "to")
    {
        shared.lock().presence_subscriptions.push(to);
        shared.bump();
    }
}
