//! The key store under whatsapp-rust's own persistence code: the
//! `PersistenceManager` a client builds at startup (`exists`, `create`,
//! `load`) and flushes device changes through (`save`).

mod backend_support;

use backend_support::open_store;
use std::sync::Arc;
use wago::engine::backend::RedbBackend;
use whatsapp_rust::store::persistence_manager::PersistenceManager;
use whatsapp_rust::wacore::store::traits::Backend;

#[tokio::test]
async fn device_created_by_the_library_survives_a_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let identity = {
        let store = open_store(dir.path());
        let backend: Arc<dyn Backend> = Arc::new(RedbBackend::new(store, "till"));
        let pm = PersistenceManager::new(backend.clone())
            .await
            .expect("first start");
        assert!(
            backend.exists().await.expect("exists"),
            "startup creates the device row"
        );
        pm.modify_device(|d| {
            d.core.push_name = "Shop till".into();
            d.core.next_pre_key_id = 812;
        })
        .await;
        pm.flush().await.expect("flush");
        pm.get_device_snapshot()
            .core
            .identity_key
            .public_key
            .public_key_bytes()
            .to_vec()
    };

    let store = open_store(dir.path());
    let backend: Arc<dyn Backend> = Arc::new(RedbBackend::new(store.clone(), "till"));
    let pm = PersistenceManager::new(backend)
        .await
        .expect("second start");
    let device = pm.get_device_snapshot();
    assert_eq!(device.core.push_name, "Shop till");
    assert_eq!(device.core.next_pre_key_id, 812);
    assert_eq!(
        device.core.identity_key.public_key.public_key_bytes(),
        identity.as_slice(),
        "the identity key must not be regenerated on restart"
    );

    // Another session in the same file starts from scratch.
    let other: Arc<dyn Backend> = Arc::new(RedbBackend::new(store, "reception"));
    let pm = PersistenceManager::new(other).await.expect("other session");
    let fresh = pm.get_device_snapshot();
    assert_ne!(
        fresh.core.identity_key.public_key.public_key_bytes(),
        identity.as_slice()
    );
}
