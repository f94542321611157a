//! A real Signal exchange through whatsapp-rust's own store adapters and
//! write-back cache, with both accounts' key stores in one redb file: the
//! library's session, identity and prekey records must round-trip byte for
//! byte, survive a reopen, and keep the ratchet going afterwards.

mod backend_support;

use backend_support::open_store;
use std::sync::Arc;
use wago::engine::backend::RedbBackend;
use whatsapp_rust::store::persistence_manager::PersistenceManager;
use whatsapp_rust::store::signal_adapter::SignalProtocolStoreAdapter;
use whatsapp_rust::store::signal_cache::SignalStoreCache;
use whatsapp_rust::wacore::libsignal::protocol::{
    CiphertextMessage, IdentityKey, KeyPair, PreKeyBundle, PreKeyRecord, PreKeyStore,
    ProtocolAddress, UsePQRatchet, message_decrypt, message_encrypt, process_prekey_bundle,
};
use whatsapp_rust::wacore::store::traits::{Backend, SignalStore};

const BOB_PREKEY_ID: u32 = 31;

/// One account: its backend, the library's device manager, cache and adapter.
struct Account {
    backend: RedbBackend,
    cache: Arc<SignalStoreCache>,
    stores: SignalProtocolStoreAdapter,
    pm: PersistenceManager,
}

async fn account(store: &wago::store::Store, session: &str) -> Account {
    let backend = RedbBackend::new(store.clone(), session);
    let dynamic: Arc<dyn Backend> = Arc::new(backend.clone());
    let pm = PersistenceManager::new(dynamic).await.expect("device");
    let cache = Arc::new(SignalStoreCache::new());
    let stores = SignalProtocolStoreAdapter::new(pm.get_device_arc().await, cache.clone());
    Account {
        backend,
        cache,
        stores,
        pm,
    }
}

impl Account {
    async fn flush(&self) {
        self.cache
            .flush(&self.backend)
            .await
            .expect("flush to redb");
    }

    async fn encrypt(&mut self, to: &ProtocolAddress, text: &str) -> CiphertextMessage {
        let s = &mut self.stores;
        message_encrypt(
            text.as_bytes(),
            to,
            &mut s.session_store,
            &mut s.identity_store,
        )
        .await
        .expect("encrypt")
    }

    async fn decrypt(&mut self, from: &ProtocolAddress, msg: &CiphertextMessage) -> String {
        let mut rng = rand::make_rng::<rand::rngs::StdRng>();
        let s = &mut self.stores;
        let out = message_decrypt(
            msg,
            from,
            &mut s.session_store,
            &mut s.identity_store,
            &mut s.pre_key_store,
            &s.signed_pre_key_store,
            &mut rng,
            UsePQRatchet::No,
        )
        .await
        .expect("decrypt");
        if let Some(id) = out.consumed_prekey_id {
            s.pre_key_store.buffer_consumed_prekey(id, from).await;
        }
        String::from_utf8(out.plaintext).expect("utf8")
    }
}

#[tokio::test]
async fn a_signal_conversation_continues_after_reopening_the_store() {
    let dir = tempfile::tempdir().expect("tempdir");
    let alice_addr = ProtocolAddress::new("111", 0.into());
    let bob_addr = ProtocolAddress::new("222", 0.into());
    {
        let store = open_store(dir.path());
        let mut alice = account(&store, "alice").await;
        let mut bob = account(&store, "bob").await;

        // Bob publishes a one-time prekey (written straight to redb) and a bundle.
        let mut rng = rand::make_rng::<rand::rngs::StdRng>();
        let one_time = KeyPair::generate(&mut rng);
        bob.stores
            .pre_key_store
            .save_pre_key(
                BOB_PREKEY_ID.into(),
                &PreKeyRecord::new(BOB_PREKEY_ID.into(), &one_time),
            )
            .await
            .expect("save prekey");
        assert!(
            bob.backend
                .load_prekey(BOB_PREKEY_ID)
                .await
                .expect("load")
                .is_some()
        );
        let device = bob.pm.get_device_snapshot();
        let bundle = PreKeyBundle::new(
            device.core.registration_id,
            0.into(),
            Some((BOB_PREKEY_ID.into(), one_time.public_key)),
            device.core.signed_pre_key_id.into(),
            device.core.signed_pre_key.public_key,
            device.core.signed_pre_key_signature.to_vec(),
            IdentityKey::new(device.core.identity_key.public_key),
        )
        .expect("bundle");

        let s = &mut alice.stores;
        process_prekey_bundle(
            &bob_addr,
            &mut s.session_store,
            &mut s.identity_store,
            &bundle,
            &mut rng,
            UsePQRatchet::No,
        )
        .await
        .expect("x3dh");
        let first = alice.encrypt(&bob_addr, "hello bob").await;
        assert!(matches!(first, CiphertextMessage::PreKeySignalMessage(_)));
        alice.flush().await;
        assert!(
            alice
                .backend
                .has_session(bob_addr.as_str())
                .await
                .expect("has")
        );

        assert_eq!(bob.decrypt(&alice_addr, &first).await, "hello bob");
        bob.flush().await;
        assert!(
            bob.backend
                .has_session(alice_addr.as_str())
                .await
                .expect("has")
        );
        assert!(
            bob.backend
                .load_prekey(BOB_PREKEY_ID)
                .await
                .expect("load")
                .is_none(),
            "the consumed one-time prekey is deleted with the session flush"
        );
        assert!(
            bob.backend
                .load_identity(alice_addr.as_str())
                .await
                .expect("id")
                .is_some()
        );
    }

    // Restart: fresh caches, every record comes from the reopened file.
    let store = open_store(dir.path());
    let mut alice = account(&store, "alice").await;
    let mut bob = account(&store, "bob").await;
    let reply = bob.encrypt(&alice_addr, "hi alice").await;
    assert!(
        matches!(reply, CiphertextMessage::SignalMessage(_)),
        "no new X3DH needed"
    );
    bob.flush().await;
    assert_eq!(alice.decrypt(&bob_addr, &reply).await, "hi alice");
    alice.flush().await;
    let again = alice.encrypt(&bob_addr, "still here").await;
    alice.flush().await;
    assert_eq!(bob.decrypt(&alice_addr, &again).await, "still here");
}
