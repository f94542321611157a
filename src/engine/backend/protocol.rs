//! `ProtocolStore`: sender-key distribution status, base keys, device lists,
//! group metadata, and the trait surface of the parts that live in their own
//! files (LID mappings, tc tokens, sent and pending-inbound messages).
//!
//! Owns the `wa_sender_key_device` (`lp(group) ‖ device` → has-key byte),
//! `wa_base_key` (`lp(address) ‖ message id`), `wa_device_list` (user → JSON)
//! and `wa_group_metadata` (group → blob) rows.

use super::codec::{flag, from_json, to_json, utf8};
use super::keys::split_part;
use super::protocol_messages::{own_keys, own_rows};
use super::{RedbBackend, WaResult, get, remove_prefix, remove_where, scan};
use crate::store::keys::TableName;
use crate::store::tables::{
    WA_BASE_KEY, WA_DEVICE_LIST, WA_GROUP_METADATA, WA_PENDING_INBOUND, WA_SENDER_KEY_DEVICE,
    WA_SENT_MESSAGE,
};
use std::collections::HashSet;
use whatsapp_rust::async_trait;
use whatsapp_rust::wacore::store::traits::{
    DeviceListRecord, LidPnMappingEntry, PendingInboundKey, PendingInboundRow, ProtocolStore,
    TcTokenEntry,
};

impl RedbBackend {
    /// Writes device-list records in one transaction.
    async fn device_lists_put(&self, records: Vec<DeviceListRecord>) -> WaResult<()> {
        if records.is_empty() {
            return Ok(());
        }
        self.write(move |tx, p| {
            let mut table = tx.open_table(WA_DEVICE_LIST)?;
            for record in &records {
                let row = to_json(WA_DEVICE_LIST.name(), record)?;
                table.insert(
                    p.key().last(record.user.as_bytes()).as_slice(),
                    row.as_slice(),
                )?;
            }
            Ok(())
        })
        .await
    }

    /// The saved base key of `(address, message id)`.
    async fn base_key_get(&self, address: &str, message_id: &str) -> WaResult<Option<Vec<u8>>> {
        let (address, id) = (address.to_string(), message_id.to_string());
        self.read(move |tx, p| {
            let key = p.key().part(address.as_bytes())?.last(id.as_bytes());
            get(&tx.open_table(WA_BASE_KEY)?, &key)
        })
        .await
    }
}

#[async_trait]
impl ProtocolStore for RedbBackend {
    /// Rows that do not decode are skipped.
    async fn get_sender_key_devices(&self, group_jid: &str) -> WaResult<Vec<(String, bool)>> {
        let group = group_jid.to_string();
        self.read(move |tx, p| {
            let prefix = p.key().part(group.as_bytes())?.done();
            let rows = scan(&tx.open_table(WA_SENDER_KEY_DEVICE)?, prefix.clone())?;
            let name = WA_SENDER_KEY_DEVICE.name();
            Ok(rows
                .iter()
                .filter_map(|(key, value)| {
                    let device = utf8(name, key.strip_prefix(prefix.as_slice())?).ok()?;
                    Some((device, flag(name, value).ok()?))
                })
                .collect())
        })
        .await
    }

    async fn set_sender_key_status(
        &self,
        group_jid: &str,
        entries: &[(&str, bool)],
    ) -> WaResult<()> {
        let group = group_jid.to_string();
        let entries: Vec<(String, bool)> =
            entries.iter().map(|(d, k)| (d.to_string(), *k)).collect();
        self.write(move |tx, p| {
            let mut table = tx.open_table(WA_SENDER_KEY_DEVICE)?;
            for (device, has_key) in &entries {
                let key = p.key().part(group.as_bytes())?.last(device.as_bytes());
                table.insert(key.as_slice(), [u8::from(*has_key)].as_slice())?;
            }
            Ok(())
        })
        .await
    }

    async fn clear_sender_key_devices(&self, group_jid: &str) -> WaResult<()> {
        let group = group_jid.to_string();
        self.write(move |tx, p| {
            let prefix = p.key().part(group.as_bytes())?.done();
            remove_prefix(&mut tx.open_table(WA_SENDER_KEY_DEVICE)?, prefix)?;
            Ok(())
        })
        .await
    }

    /// Scans every group of the session once.
    async fn delete_sender_key_device_rows(&self, device_jids: &[&str]) -> WaResult<()> {
        if device_jids.is_empty() {
            return Ok(());
        }
        let targets: HashSet<Vec<u8>> = device_jids.iter().map(|d| d.as_bytes().to_vec()).collect();
        self.write(move |tx, p| {
            let mut table = tx.open_table(WA_SENDER_KEY_DEVICE)?;
            remove_where(&mut table, p.as_bytes().to_vec(), |key, _| {
                p.strip(key)
                    .and_then(split_part)
                    .is_some_and(|(_, device)| targets.contains(device))
            })?;
            Ok(())
        })
        .await
    }

    async fn clear_all_sender_key_devices(&self) -> WaResult<()> {
        self.write(move |tx, p| {
            remove_prefix(
                &mut tx.open_table(WA_SENDER_KEY_DEVICE)?,
                p.as_bytes().to_vec(),
            )?;
            Ok(())
        })
        .await
    }

    async fn get_lid_mapping(&self, lid: &str) -> WaResult<Option<LidPnMappingEntry>> {
        self.lid_get(lid).await
    }

    async fn get_pn_mapping(&self, phone: &str) -> WaResult<Option<LidPnMappingEntry>> {
        self.lid_by_phone(phone).await
    }

    async fn put_lid_mapping(&self, entry: &LidPnMappingEntry) -> WaResult<()> {
        self.lid_put(vec![entry.clone()]).await
    }

    async fn put_lid_mappings(&self, entries: &[LidPnMappingEntry]) -> WaResult<()> {
        self.lid_put(entries.to_vec()).await
    }

    async fn get_all_lid_mappings(&self) -> WaResult<Vec<LidPnMappingEntry>> {
        self.lid_all().await
    }

    async fn save_base_key(
        &self,
        address: &str,
        message_id: &str,
        base_key: &[u8],
    ) -> WaResult<()> {
        let (address, id, base_key) = (
            address.to_string(),
            message_id.to_string(),
            base_key.to_vec(),
        );
        self.write(move |tx, p| {
            let key = p.key().part(address.as_bytes())?.last(id.as_bytes());
            tx.open_table(WA_BASE_KEY)?
                .insert(key.as_slice(), base_key.as_slice())?;
            Ok(())
        })
        .await
    }

    async fn has_same_base_key(
        &self,
        address: &str,
        message_id: &str,
        current_base_key: &[u8],
    ) -> WaResult<bool> {
        let stored = self.base_key_get(address, message_id).await?;
        Ok(stored.is_some_and(|s| s == current_base_key))
    }

    async fn delete_base_key(&self, address: &str, message_id: &str) -> WaResult<()> {
        let (address, id) = (address.to_string(), message_id.to_string());
        self.write(move |tx, p| {
            let key = p.key().part(address.as_bytes())?.last(id.as_bytes());
            tx.open_table(WA_BASE_KEY)?.remove(key.as_slice())?;
            Ok(())
        })
        .await
    }

    async fn update_device_list(&self, record: DeviceListRecord) -> WaResult<()> {
        self.device_lists_put(vec![record]).await
    }

    async fn update_device_lists(&self, records: Vec<DeviceListRecord>) -> WaResult<()> {
        self.device_lists_put(records).await
    }

    async fn get_devices(&self, user: &str) -> WaResult<Option<DeviceListRecord>> {
        let user = user.to_string();
        self.read(move |tx, p| {
            get(
                &tx.open_table(WA_DEVICE_LIST)?,
                &p.key().last(user.as_bytes()),
            )?
            .map(|row| from_json(WA_DEVICE_LIST.name(), &row))
            .transpose()
        })
        .await
    }

    async fn delete_devices(&self, user: &str) -> WaResult<()> {
        let user = user.to_string();
        self.write(move |tx, p| {
            tx.open_table(WA_DEVICE_LIST)?
                .remove(p.key().last(user.as_bytes()).as_slice())?;
            Ok(())
        })
        .await
    }

    async fn get_group_metadata(&self, group_jid: &str) -> WaResult<Option<Vec<u8>>> {
        let group = group_jid.to_string();
        self.read(move |tx, p| {
            get(
                &tx.open_table(WA_GROUP_METADATA)?,
                &p.key().last(group.as_bytes()),
            )
        })
        .await
    }

    async fn put_group_metadata(&self, group_jid: &str, blob: &[u8]) -> WaResult<()> {
        let (group, blob) = (group_jid.to_string(), blob.to_vec());
        self.write(move |tx, p| {
            tx.open_table(WA_GROUP_METADATA)?
                .insert(p.key().last(group.as_bytes()).as_slice(), blob.as_slice())?;
            Ok(())
        })
        .await
    }

    async fn delete_group_metadata(&self, group_jid: &str) -> WaResult<()> {
        let group = group_jid.to_string();
        self.write(move |tx, p| {
            tx.open_table(WA_GROUP_METADATA)?
                .remove(p.key().last(group.as_bytes()).as_slice())?;
            Ok(())
        })
        .await
    }

    async fn get_tc_token(&self, jid: &str) -> WaResult<Option<TcTokenEntry>> {
        self.tc_get(jid).await
    }

    async fn put_tc_token(&self, jid: &str, entry: &TcTokenEntry) -> WaResult<()> {
        self.tc_put(jid, entry).await
    }

    async fn delete_tc_token(&self, jid: &str) -> WaResult<()> {
        self.tc_delete(jid).await
    }

    async fn get_all_tc_token_jids(&self) -> WaResult<Vec<String>> {
        self.tc_all_jids().await
    }

    async fn delete_expired_tc_tokens(
        &self,
        token_cutoff: i64,
        sender_cutoff: i64,
    ) -> WaResult<u32> {
        self.tc_delete_expired(token_cutoff, sender_cutoff).await
    }

    async fn touch_tc_token_sender_timestamp(
        &self,
        jid: &str,
        sender_timestamp: i64,
    ) -> WaResult<()> {
        self.tc_touch_sender(jid, sender_timestamp).await
    }

    async fn store_received_tc_token(
        &self,
        jid: &str,
        token: &[u8],
        token_timestamp: i64,
    ) -> WaResult<()> {
        self.tc_store_received(jid, token, token_timestamp).await
    }

    async fn store_sent_message(
        &self,
        chat_jid: &str,
        message_id: &str,
        payload: &[u8],
    ) -> WaResult<()> {
        self.sent_store(chat_jid, message_id, payload).await
    }

    async fn take_sent_message(
        &self,
        chat_jid: &str,
        message_id: &str,
    ) -> WaResult<Option<Vec<u8>>> {
        self.sent_take(chat_jid, message_id).await
    }

    async fn delete_expired_sent_messages(&self, cutoff_timestamp: i64) -> WaResult<u32> {
        self.sweep_before(WA_SENT_MESSAGE, cutoff_timestamp).await
    }

    async fn store_pending_inbound(
        &self,
        chat: &str,
        sender: &str,
        id: &str,
        message: &[u8],
    ) -> WaResult<()> {
        let row = PendingInboundRow {
            chat,
            sender,
            id,
            message,
        };
        self.inbound_store(own_rows(&[row])).await
    }

    async fn get_pending_inbound(
        &self,
        chat: &str,
        sender: &str,
        id: &str,
    ) -> WaResult<Option<Vec<u8>>> {
        self.inbound_get(chat, sender, id).await
    }

    async fn delete_pending_inbound(&self, chat: &str, sender: &str, id: &str) -> WaResult<()> {
        self.inbound_delete(own_keys(&[PendingInboundKey { chat, sender, id }]))
            .await
    }

    async fn delete_expired_pending_inbound(&self, cutoff_timestamp: i64) -> WaResult<u32> {
        self.sweep_before(WA_PENDING_INBOUND, cutoff_timestamp)
            .await
    }

    async fn store_pending_inbound_batch(&self, rows: &[PendingInboundRow<'_>]) -> WaResult<()> {
        self.inbound_store(own_rows(rows)).await
    }

    async fn delete_pending_inbound_batch(&self, keys: &[PendingInboundKey<'_>]) -> WaResult<()> {
        self.inbound_delete(own_keys(keys)).await
    }
}
