//! Another WhatsApp user the client talks to. A contact has one phone; it
//! sends texts and receipts to the account's companion devices and reads
//! what the client sent it.

use crate::nodes;
use crate::state::{ClientReceipt, ContactState, DeviceId, ReceivedMessage, Shared};
use anyhow::{anyhow, bail};
use std::sync::Arc;
use std::time::Duration;
use whatsapp_rust::wacore_binary::Node;
use whatsapp_rust::wacore_binary::builder::NodeBuilder;
use whatsapp_rust::waproto::whatsapp as wa;

/// Which receipt a contact sends for a message it received.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReceiptKind {
    /// Delivered to the contact's phone (two grey ticks).
    Delivered,
    /// Read (two blue ticks).
    Read,
    /// A voice note was played.
    Played,
}

/// A simulated WhatsApp user, reachable as `<number>@s.whatsapp.net`.
#[derive(Clone)]
pub struct Contact {
    pub(crate) shared: Arc<Shared>,
    pub(crate) state: Arc<ContactState>,
}

impl Contact {
    /// The contact's JID, e.g. `15559870000@s.whatsapp.net`.
    pub fn jid(&self) -> String {
        format!("{}@s.whatsapp.net", self.state.user)
    }

    /// Sends a text to every linked companion of the account. A companion
    /// that is offline gets it when it next comes online. Returns the
    /// message id.
    pub async fn send_text(&self, to_account_jid: &str, body: &str) -> anyhow::Result<String> {
        let message = wa::Message {
            conversation: Some(body.to_string()),
            ..Default::default()
        };
        self.send_message(to_account_jid, &message, "text").await
    }

    /// Sends any message (reaction, quote, edit, …) as a stanza of type
    /// `kind` (`text`, `media`, `reaction`). Returns the message id.
    pub async fn send_message(
        &self,
        to_account_jid: &str,
        message: &wa::Message,
        kind: &str,
    ) -> anyhow::Result<String> {
        crate::media::send_from_contact(self, to_account_jid, message, kind).await
    }

    /// Companions of the account that can receive encrypted messages.
    pub(crate) fn target_devices(&self, to_account_jid: &str) -> anyhow::Result<Vec<DeviceId>> {
        let target_user = to_account_jid.split(['@', ':']).next().unwrap_or_default();
        let inner = self.shared.lock();
        let Some(account) = inner.accounts.get(target_user) else {
            bail!("{to_account_jid} is not a simulated account");
        };
        let devices = companions(account, true);
        if devices.is_empty() {
            bail!("no companion of {to_account_jid} has logged in yet");
        }
        Ok(devices)
    }

    /// Sends the account a message its client cannot decrypt: a well-formed
    /// `msg` from a Signal session the client never saw. The client raises
    /// `UndecryptableMessage` and asks for a retry. Returns the message id.
    pub async fn send_undecryptable(&self, to_account_jid: &str) -> anyhow::Result<String> {
        let id = nodes::new_id();
        for device in self.target_devices(to_account_jid)? {
            let ciphertext = crate::messages::foreign_session_msg(&self.shared, &device).await?;
            let node = NodeBuilder::new("message")
                .attr("from", self.jid())
                .attr("id", id.clone())
                .attr("t", nodes::now_secs())
                .attr("type", "text")
                .children([NodeBuilder::new("enc")
                    .attr("v", "2")
                    .attr("type", "msg")
                    .bytes(ciphertext)
                    .build()])
                .build();
            self.shared.deliver(&device, node);
        }
        Ok(id)
    }

    /// Tells the account's companions that this contact is online (`true`)
    /// or went offline; the client raises a `Presence` event.
    pub fn send_presence(&self, to_account_jid: &str, available: bool) -> anyhow::Result<()> {
        let mut b = NodeBuilder::new("presence").attr("from", self.jid());
        if !available {
            b = b
                .attr("type", "unavailable")
                .attr("last", nodes::now_secs());
        }
        self.to_companions(to_account_jid, b.build())
    }

    /// Shows this contact as typing (`true`) or stopped; the client raises
    /// a `ChatPresence` event.
    pub fn send_typing(&self, to_account_jid: &str, typing: bool) -> anyhow::Result<()> {
        let state = if typing { "composing" } else { "paused" };
        let node = NodeBuilder::new("chatstate")
            .attr("from", self.jid())
            .children([NodeBuilder::new(state).build()])
            .build();
        self.to_companions(to_account_jid, node)
    }

    /// Sends `node` to every linked companion of the account, now or on
    /// its next login.
    pub(crate) fn to_companions(&self, to_account_jid: &str, node: Node) -> anyhow::Result<()> {
        let user = to_account_jid.split(['@', ':']).next().unwrap_or_default();
        let devices = {
            let inner = self.shared.lock();
            let Some(account) = inner.accounts.get(user) else {
                bail!("{to_account_jid} is not a simulated account");
            };
            companions(account, false)
        };
        for device in devices {
            self.shared.deliver(&device, node.clone());
        }
        Ok(())
    }

    /// With `true`, the contact answers every message the client sends it
    /// with a delivery receipt (two grey ticks), like a phone that is
    /// online. Off by default, so tests choose each receipt.
    pub fn set_auto_delivery(&self, on: bool) {
        self.state
            .auto_delivery
            .store(on, std::sync::atomic::Ordering::SeqCst);
    }

    /// Messages the client sent to this contact, decrypted, oldest first.
    pub async fn received(&self) -> Vec<ReceivedMessage> {
        self.state
            .received
            .lock()
            .map(|l| l.clone())
            .unwrap_or_default()
    }

    /// Waits for the next text the client sends this contact (one not yet
    /// returned by an earlier call).
    pub async fn wait_for_text(&self, timeout: Duration) -> anyhow::Result<ReceivedMessage> {
        let seen = self.state.seen();
        let state = self.state.clone();
        let got = self
            .shared
            .wait_until(timeout, |_| {
                state
                    .received
                    .lock()
                    .ok()
                    .and_then(|l| l.get(seen).cloned())
            })
            .await;
        match got {
            Some(msg) => {
                self.state.mark_seen(seen + 1);
                Ok(msg)
            }
            None => Err(anyhow!("no message from the client within {timeout:?}")),
        }
    }

    /// Sends the client a receipt for a message it sent this contact. It
    /// goes to every companion of the account that sent `msg_id` (of every
    /// account when this contact never got that id).
    pub async fn send_receipt(&self, msg_id: &str, kind: ReceiptKind) -> anyhow::Result<()> {
        let sender_user = self.state.received.lock().ok().and_then(|list| {
            list.iter()
                .find(|m| m.id == msg_id)
                .and_then(|m| m.from.split(['@', ':']).next().map(str::to_string))
        });
        let devices: Vec<DeviceId> = {
            let inner = self.shared.lock();
            inner
                .accounts
                .values()
                .filter(|a| sender_user.as_ref().is_none_or(|u| *u == a.user))
                .flat_map(|a| companions(a, false))
                .collect()
        };
        if devices.is_empty() {
            bail!("the account has no linked companion");
        }
        for device in devices {
            let mut b = NodeBuilder::new("receipt")
                .attr("from", self.jid())
                .attr("id", msg_id.to_string())
                .attr("t", nodes::now_secs());
            match kind {
                ReceiptKind::Delivered => {}
                ReceiptKind::Read => b = b.attr("type", "read"),
                ReceiptKind::Played => b = b.attr("type", "played"),
            }
            self.shared.deliver(&device, b.build());
        }
        Ok(())
    }

    /// Receipts the client sent for messages from this contact.
    pub fn receipts_from_client(&self) -> Vec<ClientReceipt> {
        let jid = self.jid();
        self.shared
            .lock()
            .client_receipts
            .iter()
            .filter(|r| r.to == jid)
            .cloned()
            .collect()
    }

    /// Waits until the client sent a receipt covering `msg_id`.
    pub async fn wait_for_client_receipt(
        &self,
        msg_id: &str,
        timeout: Duration,
    ) -> anyhow::Result<ClientReceipt> {
        let jid = self.jid();
        self.shared
            .wait_until(timeout, |s| {
                s.lock()
                    .client_receipts
                    .iter()
                    .find(|r| r.to == jid && r.ids.iter().any(|i| i == msg_id))
                    .cloned()
            })
            .await
            .ok_or_else(|| anyhow!("no receipt for {msg_id} within {timeout:?}"))
    }
}

/// The account's linked companions; with `with_keys`, only those that
/// uploaded pre-keys (and so can receive encrypted messages).
fn companions(account: &crate::state::Account, with_keys: bool) -> Vec<DeviceId> {
    account
        .devices
        .iter()
        .filter(|(_, c)| !c.logged_out && (!with_keys || c.keys.is_some()))
        .map(|(d, _)| DeviceId {
            user: account.user.clone(),
            device: *d,
        })
        .collect()
}
