//! A simulated Signal participant: the account's phone (device 0) or a
//! contact's phone. Owns its identity, pre-keys and sessions in memory, serves
//! its pre-key bundle, and encrypts to / decrypts from the real client.

use anyhow::{Context, anyhow};
use std::collections::HashMap;
use whatsapp_rust::async_trait;
use whatsapp_rust::wacore::libsignal::protocol::{
    CiphertextMessage, CiphertextMessageType, Direction, GenericSignedPreKey, IdentityChange,
    IdentityKey, IdentityKeyPair, IdentityKeyStore, KeyPair, PreKeyBundle, PreKeyId, PreKeyRecord,
    PreKeySignalMessage, PreKeyStore, ProtocolAddress, PublicKey, SessionRecord, SessionStore,
    SignalMessage, SignalProtocolError, SignedPreKeyId, SignedPreKeyRecord, SignedPreKeyStore,
    Timestamp, UsePQRatchet, message_decrypt, message_encrypt, process_prekey_bundle,
};

type SigResult<T> = Result<T, SignalProtocolError>;

/// How many one-time pre-keys a simulated phone publishes.
const ONE_TIME_PREKEYS: u32 = 50;
/// The id of a party's single signed pre-key.
const SIGNED_PREKEY_ID: u32 = 1;

/// The pre-keys a real client uploaded, from which a party builds a session.
#[derive(Clone, Debug)]
pub(crate) struct UploadedKeys {
    /// The client's registration id.
    pub(crate) registration_id: u32,
    /// The client's identity public key (32 raw bytes).
    pub(crate) identity: [u8; 32],
    /// Signed pre-key: id, public key (32 raw bytes), signature.
    pub(crate) signed: (u32, [u8; 32], Vec<u8>),
    /// One-time pre-keys not yet handed out: id and public key.
    pub(crate) one_time: Vec<(u32, [u8; 32])>,
}

/// An encrypted payload ready to go into an `<enc>` node.
pub(crate) struct Sealed {
    /// `pkmsg` for a session-creating message, `msg` afterwards.
    pub(crate) enc_type: &'static str,
    /// The Signal message bytes.
    pub(crate) ciphertext: Vec<u8>,
}

/// One simulated Signal device.
pub(crate) struct Party {
    identity: IdentityStore,
    sessions: SessionMap,
    prekeys: PreKeyMap,
    signed: SignedMap,
    /// One-time pre-key ids not yet handed out in a bundle.
    unserved: Vec<u32>,
}

impl Party {
    /// Creates a party with fresh keys.
    pub(crate) fn generate() -> anyhow::Result<Self> {
        let mut rng = rand::make_rng::<rand::rngs::StdRng>();
        let pair = IdentityKeyPair::generate(&mut rng);
        let registration_id = rand::random_range(1..16_380);
        let signed_kp = KeyPair::generate(&mut rng);
        let signature = pair
            .private_key()
            .calculate_signature(&signed_kp.public_key.serialize(), &mut rng)?;
        let signed_record = SignedPreKeyRecord::new(
            SignedPreKeyId::from(SIGNED_PREKEY_ID),
            Timestamp::from_epoch_millis(now_millis()),
            &signed_kp,
            &signature,
        );
        let mut prekeys = PreKeyMap::default();
        let mut unserved = Vec::new();
        for id in 1..=ONE_TIME_PREKEYS {
            let kp = KeyPair::generate(&mut rng);
            prekeys
                .0
                .insert(id, PreKeyRecord::new(PreKeyId::from(id), &kp));
            unserved.push(id);
        }
        let mut signed = SignedMap::default();
        signed.0.insert(SIGNED_PREKEY_ID, signed_record);
        Ok(Self {
            identity: IdentityStore {
                pair,
                registration_id,
                known: HashMap::new(),
            },
            sessions: SessionMap::default(),
            prekeys,
            signed,
            unserved,
        })
    }

    /// The identity public key, 32 raw bytes.
    pub(crate) fn identity_public(&self) -> [u8; 32] {
        let mut out = [0u8; 32];
        out.copy_from_slice(self.identity.pair.public_key().public_key_bytes());
        out
    }

    /// Signs `message` with the identity key (XEdDSA), as the ADV account key.
    pub(crate) fn sign(&self, message: &[u8]) -> anyhow::Result<Vec<u8>> {
        let mut rng = rand::make_rng::<rand::rngs::StdRng>();
        Ok(self
            .identity
            .pair
            .private_key()
            .calculate_signature(message, &mut rng)?
            .to_vec())
    }

    /// X25519 agreement between this party's identity key and `their_public`.
    pub(crate) fn agree(&self, their_public: &[u8]) -> anyhow::Result<Vec<u8>> {
        let theirs = PublicKey::from_djb_public_key_bytes(their_public)?;
        Ok(self
            .identity
            .pair
            .private_key()
            .calculate_agreement(&theirs)?
            .to_vec())
    }

    /// A bundle for a client that wants to start a session with this party.
    /// Hands out a fresh one-time pre-key while any are left.
    pub(crate) fn serve_bundle(&mut self) -> anyhow::Result<PreKeyBundle> {
        let one_time = match self.unserved.pop() {
            Some(id) => {
                let record = self
                    .prekeys
                    .0
                    .get(&id)
                    .ok_or_else(|| anyhow!("pre-key {id} missing"))?;
                Some((PreKeyId::from(id), record.public_key()?))
            }
            None => None,
        };
        let signed = self
            .signed
            .0
            .get(&SIGNED_PREKEY_ID)
            .ok_or_else(|| anyhow!("signed pre-key missing"))?;
        Ok(PreKeyBundle::new(
            self.identity.registration_id,
            0u32.into(),
            one_time,
            SignedPreKeyId::from(SIGNED_PREKEY_ID),
            signed.public_key()?,
            signed.signature()?.to_vec(),
            *self.identity.pair.identity_key(),
        )?)
    }

    /// Encrypts `plaintext` for `remote`, building a session from `keys` (the
    /// client's uploaded pre-keys) first when there is none yet.
    pub(crate) async fn encrypt(
        &mut self,
        remote: &ProtocolAddress,
        keys: &mut UploadedKeys,
        plaintext: &[u8],
    ) -> anyhow::Result<Sealed> {
        if self.sessions.load_session(remote).await?.is_none() {
            let bundle = client_bundle(keys, remote)?;
            let mut rng = rand::make_rng::<rand::rngs::StdRng>();
            process_prekey_bundle(
                remote,
                &mut self.sessions,
                &mut self.identity,
                &bundle,
                &mut rng,
                UsePQRatchet::No,
            )
            .await
            .context("process_prekey_bundle")?;
        }
        let msg = message_encrypt(plaintext, remote, &mut self.sessions, &mut self.identity)
            .await
            .context("message_encrypt")?;
        let enc_type = match msg.message_type() {
            CiphertextMessageType::PreKey => "pkmsg",
            _ => "msg",
        };
        Ok(Sealed {
            enc_type,
            ciphertext: msg.serialize().to_vec(),
        })
    }

    /// Decrypts a `pkmsg` or `msg` the client sent to this party.
    pub(crate) async fn decrypt(
        &mut self,
        remote: &ProtocolAddress,
        enc_type: &str,
        ciphertext: &[u8],
    ) -> anyhow::Result<Vec<u8>> {
        let msg = match enc_type {
            "pkmsg" => {
                CiphertextMessage::PreKeySignalMessage(PreKeySignalMessage::try_from(ciphertext)?)
            }
            "msg" => CiphertextMessage::SignalMessage(SignalMessage::try_from(ciphertext)?),
            other => return Err(anyhow!("unsupported enc type {other}")),
        };
        let mut rng = rand::make_rng::<rand::rngs::StdRng>();
        let result = message_decrypt(
            &msg,
            remote,
            &mut self.sessions,
            &mut self.identity,
            &mut self.prekeys,
            &self.signed,
            &mut rng,
            UsePQRatchet::No,
        )
        .await
        .context("message_decrypt")?;
        if let Some(id) = result.consumed_prekey_id {
            self.prekeys.0.remove(&u32::from(id));
        }
        Ok(result.plaintext)
    }
}

/// Builds the client's bundle, consuming one of its one-time pre-keys.
fn client_bundle(
    keys: &mut UploadedKeys,
    remote: &ProtocolAddress,
) -> anyhow::Result<PreKeyBundle> {
    let one_time = match keys.one_time.pop() {
        Some((id, key)) => Some((
            PreKeyId::from(id),
            PublicKey::from_djb_public_key_bytes(&key)?,
        )),
        None => None,
    };
    let (signed_id, signed_key, signature) = &keys.signed;
    Ok(PreKeyBundle::new(
        keys.registration_id,
        remote.device_id(),
        one_time,
        SignedPreKeyId::from(*signed_id),
        PublicKey::from_djb_public_key_bytes(signed_key)?,
        signature.clone(),
        IdentityKey::new(PublicKey::from_djb_public_key_bytes(&keys.identity)?),
    )?)
}

fn now_millis() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

struct IdentityStore {
    pair: IdentityKeyPair,
    registration_id: u32,
    known: HashMap<ProtocolAddress, IdentityKey>,
}

#[async_trait]
impl IdentityKeyStore for IdentityStore {
    async fn get_identity_key_pair(&self) -> SigResult<IdentityKeyPair> {
        Ok(self.pair.clone())
    }
    async fn get_local_registration_id(&self) -> SigResult<u32> {
        Ok(self.registration_id)
    }
    async fn save_identity(
        &mut self,
        address: &ProtocolAddress,
        identity: &IdentityKey,
    ) -> SigResult<IdentityChange> {
        let changed = self
            .known
            .insert(address.clone(), *identity)
            .is_some_and(|old| old != *identity);
        Ok(IdentityChange::from_changed(changed))
    }
    async fn is_trusted_identity(
        &self,
        _address: &ProtocolAddress,
        _identity: &IdentityKey,
        _direction: Direction,
    ) -> SigResult<bool> {
        // The simulated phones trust on every use: a re-paired client gets a
        // new identity and must still be reachable.
        Ok(true)
    }
    async fn get_identity(&self, address: &ProtocolAddress) -> SigResult<Option<IdentityKey>> {
        Ok(self.known.get(address).copied())
    }
}

#[derive(Default)]
struct SessionMap(HashMap<ProtocolAddress, SessionRecord>);

#[async_trait]
impl SessionStore for SessionMap {
    async fn load_session(&self, address: &ProtocolAddress) -> SigResult<Option<SessionRecord>> {
        Ok(self.0.get(address).cloned())
    }
    async fn has_session(&self, address: &ProtocolAddress) -> SigResult<bool> {
        Ok(self.0.contains_key(address))
    }
    async fn store_session(
        &mut self,
        address: &ProtocolAddress,
        record: SessionRecord,
    ) -> SigResult<()> {
        self.0.insert(address.clone(), record);
        Ok(())
    }
}

#[derive(Default)]
struct PreKeyMap(HashMap<u32, PreKeyRecord>);

#[async_trait]
impl PreKeyStore for PreKeyMap {
    async fn get_pre_key(&self, prekey_id: PreKeyId) -> SigResult<PreKeyRecord> {
        self.0
            .get(&u32::from(prekey_id))
            .cloned()
            .ok_or(SignalProtocolError::InvalidPreKeyId)
    }
    async fn save_pre_key(&mut self, prekey_id: PreKeyId, record: &PreKeyRecord) -> SigResult<()> {
        self.0.insert(u32::from(prekey_id), record.clone());
        Ok(())
    }
    async fn remove_pre_key(&mut self, prekey_id: PreKeyId) -> SigResult<()> {
        self.0.remove(&u32::from(prekey_id));
        Ok(())
    }
}

#[derive(Default)]
struct SignedMap(HashMap<u32, SignedPreKeyRecord>);

#[async_trait]
impl SignedPreKeyStore for SignedMap {
    async fn get_signed_pre_key(&self, id: SignedPreKeyId) -> SigResult<SignedPreKeyRecord> {
        self.0
            .get(&u32::from(id))
            .cloned()
            .ok_or(SignalProtocolError::InvalidSignedPreKeyId)
    }
    async fn save_signed_pre_key(
        &mut self,
        id: SignedPreKeyId,
        record: &SignedPreKeyRecord,
    ) -> SigResult<()> {
        self.0.insert(u32::from(id), record.clone());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a real client would upload, taken from another party's bundle.
    fn uploaded_from(bundle: &PreKeyBundle) -> UploadedKeys {
        let raw = |k: PublicKey| {
            let mut out = [0u8; 32];
            out.copy_from_slice(k.public_key_bytes());
            out
        };
        let one_time = match (
            bundle.pre_key_id().expect("id"),
            bundle.pre_key_public().expect("key"),
        ) {
            (Some(id), Some(key)) => vec![(u32::from(id), raw(key))],
            _ => Vec::new(),
        };
        UploadedKeys {
            registration_id: bundle.registration_id().expect("reg id"),
            identity: raw(*bundle.identity_key().expect("identity").public_key()),
            signed: (
                u32::from(bundle.signed_pre_key_id().expect("signed id")),
                raw(bundle.signed_pre_key_public().expect("signed key")),
                bundle.signed_pre_key_signature().expect("sig").to_vec(),
            ),
            one_time,
        }
    }

    #[tokio::test]
    async fn two_parties_exchange_messages_both_ways() {
        let mut alice = Party::generate().expect("alice");
        let mut bob = Party::generate().expect("bob");
        let mut bob_keys = uploaded_from(&bob.serve_bundle().expect("bundle"));
        let bob_addr = ProtocolAddress::new("bob", 1u32.into());
        let alice_addr = ProtocolAddress::new("alice", 0u32.into());

        let first = alice
            .encrypt(&bob_addr, &mut bob_keys, b"one")
            .await
            .expect("encrypt");
        assert_eq!(first.enc_type, "pkmsg");
        assert!(bob_keys.one_time.is_empty(), "the one-time key was used");
        let plain = bob
            .decrypt(&alice_addr, first.enc_type, &first.ciphertext)
            .await
            .expect("bob decrypts");
        assert_eq!(plain, b"one");

        // Bob answers on the session Alice's pkmsg created.
        let mut unused = bob_keys.clone();
        let reply = bob
            .encrypt(&alice_addr, &mut unused, b"two")
            .await
            .expect("reply");
        assert_eq!(reply.enc_type, "msg");
        let plain = alice
            .decrypt(&bob_addr, reply.enc_type, &reply.ciphertext)
            .await
            .expect("alice decrypts");
        assert_eq!(plain, b"two");
    }

    #[tokio::test]
    async fn tampered_ciphertext_is_rejected() {
        let mut alice = Party::generate().expect("alice");
        let mut bob = Party::generate().expect("bob");
        let mut bob_keys = uploaded_from(&bob.serve_bundle().expect("bundle"));
        let bob_addr = ProtocolAddress::new("bob", 1u32.into());
        let mut sealed = alice
            .encrypt(&bob_addr, &mut bob_keys, b"secret")
            .await
            .expect("encrypt");
        let last = sealed.ciphertext.len() - 1;
        sealed.ciphertext[last] ^= 1;
        let alice_addr = ProtocolAddress::new("alice", 0u32.into());
        assert!(
            bob.decrypt(&alice_addr, "pkmsg", &sealed.ciphertext)
                .await
                .is_err()
        );
    }
}
