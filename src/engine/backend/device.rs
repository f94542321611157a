//! `DeviceStore`: the account's own `Device` (keys, JIDs, counters).
//!
//! Owns the one `wa_device` row of a session (`session ‖ 0x00` → JSON). A
//! session holds exactly one device, so `create` always answers
//! [`DEVICE_ID`].

use super::codec::{from_json, to_json};
use super::{RedbBackend, WaResult, get};
use crate::store::keys::TableName;
use crate::store::tables::WA_DEVICE;
use whatsapp_rust::async_trait;
use whatsapp_rust::wacore::store::Device;
use whatsapp_rust::wacore::store::traits::DeviceStore;

/// The device id `create` returns: one device per session.
pub const DEVICE_ID: i32 = 1;

#[async_trait]
impl DeviceStore for RedbBackend {
    async fn save(&self, device: &Device) -> WaResult<()> {
        let row = to_json(WA_DEVICE.name(), device)?;
        self.write(move |tx, p| {
            tx.open_table(WA_DEVICE)?
                .insert(p.key().done().as_slice(), row.as_slice())?;
            Ok(())
        })
        .await
    }

    async fn load(&self) -> WaResult<Option<Device>> {
        self.read(move |tx, p| {
            get(&tx.open_table(WA_DEVICE)?, &p.key().done())?
                .map(|row| from_json(WA_DEVICE.name(), &row))
                .transpose()
        })
        .await
    }

    async fn exists(&self) -> WaResult<bool> {
        self.read(move |tx, p| Ok(get(&tx.open_table(WA_DEVICE)?, &p.key().done())?.is_some()))
            .await
    }

    /// Stores a fresh `Device` (new keys) unless one exists; never replaces one.
    async fn create(&self) -> WaResult<i32> {
        self.write(move |tx, p| {
            let mut table = tx.open_table(WA_DEVICE)?;
            let key = p.key().done();
            if get(&table, &key)?.is_none() {
                let fresh = to_json(WA_DEVICE.name(), &Device::new())?;
                table.insert(key.as_slice(), fresh.as_slice())?;
            }
            Ok(DEVICE_ID)
        })
        .await
    }
}
