//! The phone's app-state key share. Right after a new companion logs in for
//! the first time, the primary phone sends it an `AppStateSyncKeyShare`
//! protocol message; without it the client waits a 10 s grace before its
//! first app-state sync.

use crate::conn::ConnCtx;
use crate::messages::{message_node, seal_to_companion};
use crate::nodes;
use crate::state::Shared;
use std::sync::Arc;
use whatsapp_rust::waproto::buffa::MessageField;
use whatsapp_rust::waproto::whatsapp as wa;

/// Sends the key share once per companion, after its first pre-key upload.
pub(crate) async fn after_upload(shared: &Arc<Shared>, ctx: &ConnCtx) {
    let Some(device) = &ctx.device else { return };
    let phone = {
        let mut inner = shared.lock();
        let first = match inner.companion_mut(device) {
            Some(c) if !c.key_shared => {
                c.key_shared = true;
                true
            }
            _ => false,
        };
        match inner.accounts.get(&device.user) {
            Some(account) if first => account.phone.clone(),
            _ => return,
        }
    };
    let message = key_share_message();
    let Ok(sealed) = seal_to_companion(shared, &phone, device, &message).await else {
        return;
    };
    let from = format!("{}@s.whatsapp.net", device.user);
    ctx.send(message_node(
        &from,
        &nodes::new_id(),
        "text",
        sealed,
        &[("category", "peer".to_string())],
    ));
}

fn key_share_message() -> wa::Message {
    use wa::message::{
        AppStateSyncKey, AppStateSyncKeyData, AppStateSyncKeyFingerprint, AppStateSyncKeyId,
        AppStateSyncKeyShare, ProtocolMessage, protocol_message::Type,
    };
    let key_id: [u8; 6] = rand::random();
    let key_data: [u8; 32] = rand::random();
    let key = AppStateSyncKey {
        key_id: MessageField::some(AppStateSyncKeyId {
            key_id: Some(key_id.to_vec()),
        }),
        key_data: MessageField::some(AppStateSyncKeyData {
            key_data: Some(key_data.to_vec()),
            fingerprint: MessageField::some(AppStateSyncKeyFingerprint {
                raw_id: Some(1),
                current_index: Some(0),
                device_indexes: vec![0],
            }),
            timestamp: Some(0),
        }),
    };
    wa::Message {
        protocol_message: MessageField::some(ProtocolMessage {
            r#type: Some(Type::APP_STATE_SYNC_KEY_SHARE),
            app_state_sync_key_share: MessageField::some(AppStateSyncKeyShare { keys: vec![key] }),
            ..Default::default()
        }),
        ..Default::default()
    }
}
