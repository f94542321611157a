//! The account owner's primary phone: "scans" the QR string the client shows
//! and links the client as a companion device. Builds the ADV device
//! identity signed with the account key and HMAC'd with the QR's ADV secret,
//! sends `pair-success`, waits for the client's `pair-device-sign`, then ends
//! the stream with code 515 so the client reconnects and logs in.

use crate::nodes::{self, SERVER};
use crate::party::Party;
use crate::state::{Companion, Outbound, Shared};
use anyhow::{Context, anyhow, bail};
use base64::Engine;
use hmac::{KeyInit, Mac};
use std::sync::Arc;
use std::time::Duration;
use whatsapp_rust::wacore_binary::builder::NodeBuilder;
use whatsapp_rust::waproto::buffa::Message as _;
use whatsapp_rust::waproto::whatsapp as wa;

/// How long the phone waits for the client's `pair-device-sign`.
const SIGN_TIMEOUT: Duration = Duration::from_secs(10);
/// ADV prefix of the account signature over a companion identity.
const ADV_ACCOUNT_SIGNATURE_PREFIX: [u8; 2] = [6, 0];
/// Business name announced in `pair-success`; the client uses it as its
/// push name, which spares it an app-state bootstrap on every restart.
pub(crate) const PHONE_PUSH_NAME: &str = "Sim Phone";

/// A companion device the phone linked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PairedDevice {
    /// The companion's phone-number JID, e.g. `15551230000:1@s.whatsapp.net`.
    pub jid: String,
    /// The companion's LID, e.g. `100000000000001:1@lid`.
    pub lid: String,
    /// The device number (the part after `:`).
    pub device: u16,
}

/// The account owner's primary phone.
#[derive(Clone)]
pub struct Phone {
    pub(crate) shared: Arc<Shared>,
    /// The account's phone number.
    pub(crate) user: String,
}

/// The fields of a QR code: `ref,noisePub,identityPub,advSecret,clientType`.
struct Qr {
    reference: String,
    identity_pub: Vec<u8>,
    adv_secret: Vec<u8>,
}

fn parse_qr(qr: &str) -> anyhow::Result<Qr> {
    let parts: Vec<&str> = qr.split(',').collect();
    if parts.len() < 4 {
        bail!("QR has {} fields, expected at least 4", parts.len());
    }
    let b64 = base64::engine::general_purpose::STANDARD;
    let identity_pub = b64.decode(parts[2]).context("identity key")?;
    let adv_secret = b64.decode(parts[3]).context("adv secret")?;
    if identity_pub.len() != 32 || adv_secret.len() != 32 {
        bail!("QR keys have the wrong length");
    }
    Ok(Qr {
        reference: parts[0].to_string(),
        identity_pub,
        adv_secret,
    })
}

impl Phone {
    /// The account's phone-number JID, e.g. `15551230000@s.whatsapp.net`.
    pub fn jid(&self) -> String {
        format!("{}@s.whatsapp.net", self.user)
    }

    /// "Scans" a QR string the client produced and completes pairing.
    /// Returns once the client counter-signed the device identity; the
    /// client then reconnects and logs in on its own.
    pub async fn scan_qr(&self, qr: &str) -> anyhow::Result<PairedDevice> {
        let qr = parse_qr(qr)?;
        let conn_id = *self
            .shared
            .lock()
            .pairing_refs
            .get(&qr.reference)
            .ok_or_else(|| anyhow!("no connection is showing QR ref {}", qr.reference))?;
        self.link(conn_id, &qr.identity_pub, &qr.adv_secret).await
    }

    /// Links the client on connection `conn_id` as a new companion:
    /// `pair-success` signed for `identity_pub` and HMAC'd with
    /// `adv_secret`, then (after `pair-device-sign`) stream error 515.
    pub(crate) async fn link(
        &self,
        conn_id: u64,
        identity_pub: &[u8],
        adv_secret: &[u8],
    ) -> anyhow::Result<PairedDevice> {
        let shared = &self.shared;
        let (conn_tx, device, user, lid) = {
            let mut inner = shared.lock();
            let tx = inner
                .conns
                .get(&conn_id)
                .map(|c| c.tx.clone())
                .ok_or_else(|| anyhow!("the connection being paired is gone"))?;
            let account = inner.ensure_account(&self.user)?;
            let device = account.next_device;
            account.next_device += 1;
            (tx, device, account.user.clone(), account.lid.clone())
        };
        let paired = PairedDevice {
            jid: format!("{user}:{device}@s.whatsapp.net"),
            lid: format!("{lid}:{device}@lid"),
            device,
        };
        let identity = self
            .device_identity(device, identity_pub, adv_secret)
            .await?;
        let iq_id = nodes::new_id();
        let (sign_tx, sign_rx) = tokio::sync::oneshot::channel();
        shared.lock().pending_signs.insert(iq_id.clone(), sign_tx);
        let node = NodeBuilder::new("iq")
            .attr("from", SERVER)
            .attr("type", "set")
            .attr("id", iq_id)
            .children([NodeBuilder::new("pair-success")
                .children([
                    NodeBuilder::new("device-identity").bytes(identity).build(),
                    NodeBuilder::new("device")
                        .attr("jid", paired.jid.clone())
                        .attr("lid", paired.lid.clone())
                        .build(),
                    NodeBuilder::new("biz")
                        .attr("name", PHONE_PUSH_NAME)
                        .build(),
                    NodeBuilder::new("platform").attr("name", "smbi").build(),
                ])
                .build()])
            .build();
        conn_tx
            .send(Outbound::Node(node))
            .map_err(|_| anyhow!("pairing connection closed"))?;
        let signed = tokio::time::timeout(SIGN_TIMEOUT, sign_rx)
            .await
            .context("client did not answer pair-success")?
            .context("pairing connection closed")?;
        if signed.is_empty() {
            bail!("client rejected pair-success");
        }
        shared.lock().ensure_account(&self.user)?.devices.insert(
            device,
            Companion {
                keys: None,
                logged_out: false,
                key_shared: false,
            },
        );
        // Like the real server: end this stream; the client logs in anew.
        let _ = conn_tx.send(Outbound::Node(
            NodeBuilder::new("stream:error").attr("code", "515").build(),
        ));
        let _ = conn_tx.send(Outbound::Close);
        shared.bump();
        Ok(paired)
    }

    /// The account's phone party and its identity (ADV account) key.
    pub(crate) fn keys(&self) -> anyhow::Result<(Arc<tokio::sync::Mutex<Party>>, [u8; 32])> {
        let mut inner = self.shared.lock();
        let account = inner.ensure_account(&self.user)?;
        Ok((account.phone.clone(), account.identity))
    }

    /// `ADVSignedDeviceIdentityHMAC` for companion `device`.
    async fn device_identity(
        &self,
        device: u16,
        identity_pub: &[u8],
        adv_secret: &[u8],
    ) -> anyhow::Result<Vec<u8>> {
        let details = wa::ADVDeviceIdentity {
            raw_id: Some(rand::random()),
            timestamp: Some(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or(0),
            ),
            key_index: Some(u32::from(device)),
            ..Default::default()
        }
        .encode_to_vec();
        let mut to_sign = ADV_ACCOUNT_SIGNATURE_PREFIX.to_vec();
        to_sign.extend_from_slice(&details);
        to_sign.extend_from_slice(identity_pub);
        let (phone, account_key) = self.keys()?;
        let signature = phone.lock().await.sign(&to_sign)?;
        let signed = wa::ADVSignedDeviceIdentity {
            details: Some(details),
            account_signature_key: Some(account_key.to_vec()),
            account_signature: Some(signature),
            device_signature: None,
        }
        .encode_to_vec();
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(adv_secret)
            .map_err(|e| anyhow!("hmac key: {e}"))?;
        mac.update(&signed);
        let tag = mac.finalize().into_bytes().to_vec();
        Ok(wa::ADVSignedDeviceIdentityHMAC {
            details: Some(signed),
            hmac: Some(tag),
            ..Default::default()
        }
        .encode_to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_qr_takes_ref_identity_and_secret() {
        let b64 = base64::engine::general_purpose::STANDARD;
        let qr = format!(
            "2@ref,{},{},{},1",
            b64.encode([1u8; 32]),
            b64.encode([2u8; 32]),
            b64.encode([3u8; 32])
        );
        let parsed = parse_qr(&qr).expect("valid QR");
        assert_eq!(parsed.reference, "2@ref");
        assert_eq!(parsed.identity_pub, vec![2u8; 32]);
        assert_eq!(parsed.adv_secret, vec![3u8; 32]);
    }

    #[test]
    fn parse_qr_rejects_short_or_bad_codes() {
        assert!(parse_qr("only,three,fields").is_err());
        assert!(parse_qr("r,AAAA,AAAA,AAAA,1").is_err(), "keys too short");
        assert!(parse_qr("r,!!,!!,!!,1").is_err(), "not base64");
    }
}
