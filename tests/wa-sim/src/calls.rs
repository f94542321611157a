//! Calls: a contact rings the account's companions (`<call><offer>`) and
//! hangs up (`<terminate>`); the client's own `<call>` stanzas (reject,
//! accept, …) are recorded so tests can check what the client answered.
//! No media: nobody ever talks.

use crate::Simulator;
use crate::conn::ConnCtx;
use crate::contact::Contact;
use crate::nodes::{self, attr};
use crate::state::Shared;
use anyhow::anyhow;
use std::sync::Arc;
use std::time::Duration;
use whatsapp_rust::wacore_binary::NodeRef;
use whatsapp_rust::wacore_binary::builder::NodeBuilder;

/// A `<call>` stanza the client sent (e.g. rejecting a call).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientCall {
    /// The `to` attribute: who the client answered.
    pub to: String,
    /// The action: `reject`, `accept`, `preaccept`, `terminate`, …
    pub action: String,
    /// The action's `call-id`.
    pub call_id: String,
}

impl Contact {
    /// Rings the account's companions (a voice call, or video with
    /// `video`). The client raises `IncomingCall`. Returns the call id.
    pub fn send_call_offer(&self, to_account_jid: &str, video: bool) -> anyhow::Result<String> {
        let call_id = nodes::new_id();
        let mut children = vec![
            NodeBuilder::new("audio")
                .attr("enc", "opus")
                .attr("rate", "16000")
                .build(),
        ];
        if video {
            children.push(NodeBuilder::new("video").attr("enc", "vp8").build());
        }
        let action = NodeBuilder::new("offer")
            .attr("call-id", call_id.clone())
            .attr("call-creator", self.jid())
            .children(children)
            .build();
        self.send_call(to_account_jid, action)?;
        Ok(call_id)
    }

    /// Hangs up call `call_id` before anyone answered; the client reports
    /// a missed call.
    pub fn send_call_terminate(&self, to_account_jid: &str, call_id: &str) -> anyhow::Result<()> {
        let action = NodeBuilder::new("terminate")
            .attr("call-id", call_id.to_string())
            .attr("call-creator", self.jid())
            .build();
        self.send_call(to_account_jid, action)
    }

    fn send_call(
        &self,
        to_account_jid: &str,
        action: whatsapp_rust::wacore_binary::Node,
    ) -> anyhow::Result<()> {
        let node = NodeBuilder::new("call")
            .attr("from", self.jid())
            .attr("id", nodes::new_id())
            .attr("t", nodes::now_secs())
            .attr("notify", format!("Contact {}", self.state.user))
            .children([action])
            .build();
        self.to_companions(to_account_jid, node)
    }
}

/// Records a `<call>` from the client and acks it like the server does.
pub(crate) fn from_client(shared: &Arc<Shared>, ctx: &ConnCtx, node: &NodeRef<'_>) {
    let to = attr(node, "to").unwrap_or_default();
    if let Some(action) = node.children().and_then(|c| c.first()) {
        shared.lock().client_calls.push(ClientCall {
            to: to.clone(),
            action: action.tag.as_ref().to_string(),
            call_id: attr(action, "call-id").unwrap_or_default(),
        });
        shared.bump();
    }
    if let Some(id) = attr(node, "id") {
        ctx.send(
            NodeBuilder::new("ack")
                .attr("class", "call")
                .attr("id", id)
                .attr("from", to)
                .build(),
        );
    }
}

impl Simulator {
    /// Every `<call>` stanza the client sent, oldest first.
    pub fn client_calls(&self) -> Vec<ClientCall> {
        self.shared.lock().client_calls.clone()
    }

    /// Waits until the client sent a call `action` (`reject`, …) for `call_id`.
    pub async fn wait_for_client_call(
        &self,
        call_id: &str,
        action: &str,
        timeout: Duration,
    ) -> anyhow::Result<ClientCall> {
        self.shared
            .wait_until(timeout, |s| {
                s.lock()
                    .client_calls
                    .iter()
                    .find(|c| c.call_id == call_id && c.action == action)
                    .cloned()
            })
            .await
            .ok_or_else(|| anyhow!("no {action} for call {call_id} within {timeout:?}"))
    }
}
