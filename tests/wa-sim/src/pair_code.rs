//! Linking with an 8-character code instead of a QR. The client registers
//! a code-wrapped ephemeral key (`companion_hello`); when the test "types"
//! the code on the phone, the phone unwraps it, answers with its own wrapped
//! ephemeral (`primary_hello` notification), decrypts the client's key
//! bundle (`companion_finish`), derives the ADV secret from it and finishes
//! like a QR scan.

use crate::conn::ConnCtx;
use crate::nodes::{self, SERVER, attr, child_bytes, iq_error, iq_result};
use crate::pairing::{PairedDevice, Phone};
use crate::state::{Outbound, Shared};
use anyhow::{Context, anyhow, bail};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;
use whatsapp_rust::wacore::crypto::hkdf_sha256_into;
use whatsapp_rust::wacore::libsignal::crypto::aes_256_gcm_decrypt;
use whatsapp_rust::wacore::libsignal::protocol::{KeyPair, PublicKey};
use whatsapp_rust::wacore::pair_code::PairCodeUtils;
use whatsapp_rust::wacore_binary::builder::NodeBuilder;
use whatsapp_rust::wacore_binary::{Node, NodeRef};

/// How long the phone waits for the client's `companion_finish`.
const FINISH_TIMEOUT: Duration = Duration::from_secs(20);
/// HKDF info of the key-bundle encryption key.
const BUNDLE_KEY_INFO: &[u8] = b"link_code_pairing_key_bundle_encryption_key";
/// HKDF info of the ADV secret.
const ADV_SECRET_INFO: &[u8] = b"adv_secret";

/// What the client sends in `companion_finish`.
pub(crate) struct Finish {
    wrapped_bundle: Vec<u8>,
    identity_pub: Vec<u8>,
}

/// A client's outstanding `companion_hello`.
pub(crate) struct PendingCode {
    conn_id: u64,
    phone_user: String,
    pairing_ref: Vec<u8>,
    wrapped_companion_ephemeral: Vec<u8>,
    /// Set while the phone waits for `companion_finish`.
    finish: Option<oneshot::Sender<Finish>>,
}

/// Answers both pair-code iqs of the client.
pub(crate) fn on_iq(shared: &Arc<Shared>, ctx: &ConnCtx, id: &str, node: &NodeRef<'_>) -> Node {
    let Some(reg) = node.get_optional_child("link_code_companion_reg") else {
        return iq_error(id, 400, "bad-request");
    };
    let phone_user = attr(reg, "jid")
        .and_then(|j| j.split('@').next().map(str::to_string))
        .unwrap_or_default();
    match attr(reg, "stage").as_deref() {
        Some("companion_hello") => {
            let Some(wrapped) =
                child_bytes(reg, "link_code_pairing_wrapped_companion_ephemeral_pub")
            else {
                return iq_error(id, 400, "bad-request");
            };
            let pairing_ref = nodes::new_id().into_bytes();
            shared.lock().pair_codes.push(PendingCode {
                conn_id: ctx.id,
                phone_user,
                pairing_ref: pairing_ref.clone(),
                wrapped_companion_ephemeral: wrapped.to_vec(),
                finish: None,
            });
            shared.bump();
            iq_result(
                id,
                vec![
                    NodeBuilder::new("link_code_companion_reg")
                        .children([NodeBuilder::new("link_code_pairing_ref")
                            .bytes(pairing_ref)
                            .build()])
                        .build(),
                ],
            )
        }
        Some("companion_finish") => {
            let pairing_ref = child_bytes(reg, "link_code_pairing_ref").unwrap_or_default();
            let finish = Finish {
                wrapped_bundle: child_bytes(reg, "link_code_pairing_wrapped_key_bundle")
                    .unwrap_or_default()
                    .to_vec(),
                identity_pub: child_bytes(reg, "companion_identity_public")
                    .unwrap_or_default()
                    .to_vec(),
            };
            let waiter = shared
                .lock()
                .pair_codes
                .iter_mut()
                .find(|p| p.pairing_ref == pairing_ref)
                .and_then(|p| p.finish.take());
            match waiter {
                Some(tx) => {
                    let _ = tx.send(finish);
                    iq_result(id, vec![])
                }
                None => iq_error(id, 404, "item-not-found"),
            }
        }
        _ => iq_error(id, 400, "bad-request"),
    }
}

impl Phone {
    /// "Types" the 8-character code the client shows into the phone and
    /// completes linking, like [`Phone::scan_qr`]. Fails when no client
    /// asked to link to this account or the code does not match.
    pub async fn enter_pair_code(&self, code: &str) -> anyhow::Result<PairedDevice> {
        let code = code.replace('-', "").to_uppercase();
        let (_, account_key) = self.keys()?;
        let (conn_id, pairing_ref, wrapped, conn_tx) = {
            let inner = self.shared.lock();
            let pending = inner
                .pair_codes
                .iter()
                .rev()
                .find(|p| p.phone_user == self.user)
                .ok_or_else(|| anyhow!("no client asked to link with a code"))?;
            let tx = inner
                .conns
                .get(&pending.conn_id)
                .map(|c| c.tx.clone())
                .ok_or_else(|| anyhow!("the client that asked for a code is gone"))?;
            (
                pending.conn_id,
                pending.pairing_ref.clone(),
                pending.wrapped_companion_ephemeral.clone(),
                tx,
            )
        };
        let primary_ephemeral = KeyPair::generate(&mut rand::rng());
        let mut primary_pub = [0u8; 32];
        primary_pub.copy_from_slice(primary_ephemeral.public_key.public_key_bytes());
        // PBKDF2 with 131 072 rounds: keep it off the async workers.
        let code_for_keys = code.clone();
        let (companion_ephemeral, wrapped_primary) = tokio::task::spawn_blocking(move || {
            let companion = PairCodeUtils::decrypt_primary_ephemeral_pub(&wrapped, &code_for_keys);
            let wrapped_primary =
                PairCodeUtils::encrypt_ephemeral_pub(&primary_pub, &code_for_keys);
            (companion, wrapped_primary)
        })
        .await?;
        let companion_ephemeral = companion_ephemeral.map_err(|e| anyhow!("{e}"))?;

        let (finish_tx, finish_rx) = oneshot::channel();
        if let Some(p) = self
            .shared
            .lock()
            .pair_codes
            .iter_mut()
            .find(|p| p.pairing_ref == pairing_ref)
        {
            p.finish = Some(finish_tx);
        }
        let notification = NodeBuilder::new("notification")
            .attr("from", SERVER)
            .attr("id", nodes::new_id())
            .attr("type", "link_code_companion_reg")
            .attr("t", nodes::now_secs())
            .children([NodeBuilder::new("link_code_companion_reg")
                .attr("stage", "primary_hello")
                .children([
                    NodeBuilder::new("link_code_pairing_ref")
                        .bytes(pairing_ref)
                        .build(),
                    NodeBuilder::new("link_code_pairing_wrapped_primary_ephemeral_pub")
                        .bytes(wrapped_primary.to_vec())
                        .build(),
                    NodeBuilder::new("primary_identity_pub")
                        .bytes(account_key.to_vec())
                        .build(),
                ])
                .build()])
            .build();
        conn_tx
            .send(Outbound::Node(notification))
            .map_err(|_| anyhow!("the client that asked for a code is gone"))?;
        let finish = tokio::time::timeout(FINISH_TIMEOUT, finish_rx)
            .await
            .context("client did not send companion_finish")?
            .context("pair-code request was dropped")?;

        let adv_secret = self
            .open_bundle(&primary_ephemeral, &companion_ephemeral, &finish)
            .await?;
        self.link(conn_id, &finish.identity_pub, &adv_secret).await
    }

    /// Decrypts the client's key bundle and derives the ADV secret.
    async fn open_bundle(
        &self,
        primary_ephemeral: &KeyPair,
        companion_ephemeral: &[u8; 32],
        finish: &Finish,
    ) -> anyhow::Result<[u8; 32]> {
        let wrapped = &finish.wrapped_bundle;
        if wrapped.len() < 32 + 12 + 16 {
            bail!("key bundle too short");
        }
        let ephemeral_shared = primary_ephemeral
            .private_key
            .calculate_agreement(&PublicKey::from_djb_public_key_bytes(companion_ephemeral)?)?;
        let mut key = [0u8; 32];
        hkdf_sha256_into(
            &ephemeral_shared,
            Some(&wrapped[..32]),
            BUNDLE_KEY_INFO,
            &mut key,
        )
        .map_err(|e| anyhow!("bundle key: {e:?}"))?;
        let mut iv = [0u8; 12];
        iv.copy_from_slice(&wrapped[32..44]);
        let mut bundle = Vec::new();
        aes_256_gcm_decrypt(&key, &iv, b"", &wrapped[44..], &mut bundle)
            .map_err(|_| anyhow!("key bundle does not decrypt: wrong pair code"))?;
        if bundle.len() != 96 {
            bail!("key bundle has the wrong size");
        }
        let (phone, account_key) = self.keys()?;
        if bundle[..32] != finish.identity_pub[..] || bundle[32..64] != account_key[..] {
            bail!("key bundle names the wrong keys");
        }
        let identity_shared = phone.lock().await.agree(&finish.identity_pub)?;
        let mut secret_input = Vec::with_capacity(96);
        secret_input.extend_from_slice(&ephemeral_shared);
        secret_input.extend_from_slice(&identity_shared);
        secret_input.extend_from_slice(&bundle[64..96]);
        let mut adv_secret = [0u8; 32];
        hkdf_sha256_into(&secret_input, None, ADV_SECRET_INFO, &mut adv_secret)
            .map_err(|e| anyhow!("adv secret: {e:?}"))?;
        Ok(adv_secret)
    }
}
