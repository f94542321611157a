//! Server side of WhatsApp's Noise handshake and the encrypted frame layer.
//!
//! Owns the simulator's static Noise key and its (unsigned) certificate chain,
//! answers a client's XX or IK `ClientHello`, and afterwards turns frames into
//! binary nodes and back. It knows nothing about stanzas or accounts.

use anyhow::{Context, anyhow, bail};
use whatsapp_rust::wacore::handshake::{NoiseCipher, NoiseHandshake};
use whatsapp_rust::wacore::libsignal::protocol::KeyPair;
use whatsapp_rust::wacore_binary::consts::{NOISE_PATTERN_IK, NOISE_PATTERN_XX, WA_CONN_HEADER};
use whatsapp_rust::wacore_binary::{Node, OwnedNodeRef};
use whatsapp_rust::waproto::buffa::{self, Message as _};
use whatsapp_rust::waproto::whatsapp as wa;

/// Largest frame the 3-byte length prefix can describe.
const MAX_FRAME_LEN: usize = (1 << 24) - 1;
/// Edge-routing preamble marker a client may put before `WA_CONN_HEADER`.
const EDGE_ROUTING_MARKER: &[u8; 2] = b"ED";

/// The simulator's long-lived Noise identity.
pub(crate) struct ServerIdentity {
    /// Static key pair; the client caches its public half for IK.
    key: KeyPair,
    /// Certificate chain whose leaf names `key`. Signatures are zero, which
    /// only a client built with `danger-skip-cert-chain-verify` accepts.
    cert_chain: Vec<u8>,
}

impl ServerIdentity {
    /// Generates a fresh static key and a matching zero-signed chain.
    pub(crate) fn generate() -> Self {
        let key = KeyPair::generate(&mut rand::rng());
        let cert_chain = build_cert_chain(key.public_key.public_key_bytes());
        Self { key, cert_chain }
    }

    fn static_pub(&self) -> &[u8] {
        self.key.public_key.public_key_bytes()
    }
}

/// Builds a two-level chain (intermediate → leaf) with zero signatures, with
/// validity windows that contain "now" for decades.
fn build_cert_chain(leaf_key: &[u8]) -> Vec<u8> {
    use wa::cert_chain::{NoiseCertificate, noise_certificate::Details};
    let intermediate = Details {
        serial: Some(1),
        issuer_serial: Some(0),
        key: Some(vec![0xCC; 32]),
        not_before: Some(1_700_000_000),
        not_after: Some(4_000_000_000),
    };
    let leaf = Details {
        serial: Some(2),
        issuer_serial: Some(1),
        key: Some(leaf_key.to_vec()),
        not_before: Some(1_700_000_000),
        not_after: Some(4_000_000_000),
    };
    wa::CertChain {
        leaf: buffa::MessageField::some(NoiseCertificate {
            details: Some(leaf.encode_to_vec()),
            signature: Some(vec![0; 64]),
        }),
        intermediate: buffa::MessageField::some(NoiseCertificate {
            details: Some(intermediate.encode_to_vec()),
            signature: Some(vec![0; 64]),
        }),
    }
    .encode_to_vec()
}

/// Splits a byte stream into 3-byte-length-prefixed frames, dropping the
/// connection header (and an optional edge-routing preamble) first.
#[derive(Default)]
pub(crate) struct FrameReader {
    buf: Vec<u8>,
    header_seen: bool,
}

impl FrameReader {
    /// Appends bytes received from the socket.
    pub(crate) fn feed(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// Returns the next complete frame, if one is buffered.
    pub(crate) fn next_frame(&mut self) -> anyhow::Result<Option<Vec<u8>>> {
        if !self.header_seen {
            if self.buf.starts_with(EDGE_ROUTING_MARKER) {
                // "ED" 0 1, then a 3-byte length and the routing bytes.
                if self.buf.len() < 7 {
                    return Ok(None);
                }
                let len = be24(&self.buf[4..7]);
                if self.buf.len() < 7 + len {
                    return Ok(None);
                }
                self.buf.drain(..7 + len);
            }
            if self.buf.len() < WA_CONN_HEADER.len() {
                return Ok(None);
            }
            if self.buf[..WA_CONN_HEADER.len()] != WA_CONN_HEADER {
                bail!("connection does not start with the WA header");
            }
            self.buf.drain(..WA_CONN_HEADER.len());
            self.header_seen = true;
        }
        if self.buf.len() < 3 {
            return Ok(None);
        }
        let len = be24(&self.buf[..3]);
        if self.buf.len() < 3 + len {
            return Ok(None);
        }
        let frame = self.buf[3..3 + len].to_vec();
        self.buf.drain(..3 + len);
        Ok(Some(frame))
    }
}

fn be24(b: &[u8]) -> usize {
    (usize::from(b[0]) << 16) | (usize::from(b[1]) << 8) | usize::from(b[2])
}

/// Prefixes `payload` with its 3-byte big-endian length.
pub(crate) fn frame(payload: &[u8]) -> anyhow::Result<Vec<u8>> {
    if payload.len() > MAX_FRAME_LEN {
        bail!("frame of {} bytes is too large", payload.len());
    }
    let len = payload.len();
    let mut out = Vec::with_capacity(3 + len);
    out.extend_from_slice(&[(len >> 16) as u8, (len >> 8) as u8, len as u8]);
    out.extend_from_slice(payload);
    Ok(out)
}

/// Which handshake the client chose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandshakeKind {
    /// Full handshake: a new device, or one without a cached server key.
    Xx,
    /// Resumed handshake with the cached server static key.
    Ik,
}

/// Server state after reading the `ClientHello`.
pub(crate) enum Responder {
    /// XX: waiting for the `ClientFinish`.
    AwaitFinish(Box<PendingXx>),
    /// IK: the handshake is complete once the `ServerHello` is sent.
    Done(Box<Established>),
}

/// An XX handshake between `ServerHello` and `ClientFinish`.
pub(crate) struct PendingXx {
    noise: NoiseHandshake,
    server_eph: KeyPair,
}

/// Result of a completed handshake.
pub(crate) struct Established {
    pub(crate) kind: HandshakeKind,
    pub(crate) payload: wa::ClientPayload,
    pub(crate) channel: SecureChannel,
}

/// Reads the `ClientHello` and returns the `ServerHello` frame to send.
pub(crate) fn respond_hello(
    server: &ServerIdentity,
    hello_frame: &[u8],
) -> anyhow::Result<(Vec<u8>, Responder)> {
    let msg = wa::HandshakeMessage::decode_from_slice(hello_frame).context("ClientHello")?;
    let hello = msg
        .client_hello
        .into_option()
        .ok_or_else(|| anyhow!("handshake message has no ClientHello"))?;
    let client_eph = hello
        .ephemeral
        .ok_or_else(|| anyhow!("ClientHello without ephemeral"))?;
    let server_eph = KeyPair::generate(&mut rand::rng());
    let server_eph_pub = server_eph.public_key.public_key_bytes().to_vec();
    let server_priv = server.key.private_key.serialize();

    match (hello.r#static, hello.payload) {
        (Some(enc_static), Some(enc_payload)) => {
            let mut noise = NoiseHandshake::new(NOISE_PATTERN_IK, &WA_CONN_HEADER)?;
            noise.authenticate(server.static_pub());
            noise.authenticate(&client_eph);
            noise.mix_shared_secret(server_priv, &client_eph)?;
            let client_static = noise.decrypt(&enc_static)?;
            noise.mix_shared_secret(server_priv, &client_static)?;
            let payload = noise.decrypt(&enc_payload)?;
            noise.authenticate(&server_eph_pub);
            noise.mix_shared_secret(server_eph.private_key.serialize(), &client_eph)?;
            noise.mix_shared_secret(server_eph.private_key.serialize(), &client_static)?;
            let enc_cert = noise.encrypt(&server.cert_chain)?;
            let reply = server_hello(server_eph_pub, None, enc_cert)?;
            let (client_write, client_read) = noise.finish()?;
            let payload =
                wa::ClientPayload::decode_from_slice(&payload).context("ClientPayload")?;
            let channel = SecureChannel::new(client_read, client_write);
            Ok((
                reply,
                Responder::Done(Box::new(Established {
                    kind: HandshakeKind::Ik,
                    payload,
                    channel,
                })),
            ))
        }
        _ => {
            let mut noise = NoiseHandshake::new(NOISE_PATTERN_XX, &WA_CONN_HEADER)?;
            noise.authenticate(&client_eph);
            noise.authenticate(&server_eph_pub);
            noise.mix_shared_secret(server_eph.private_key.serialize(), &client_eph)?;
            let enc_static = noise.encrypt(server.static_pub())?;
            noise.mix_shared_secret(server_priv, &client_eph)?;
            let enc_cert = noise.encrypt(&server.cert_chain)?;
            let reply = server_hello(server_eph_pub, Some(enc_static), enc_cert)?;
            Ok((
                reply,
                Responder::AwaitFinish(Box::new(PendingXx { noise, server_eph })),
            ))
        }
    }
}

/// Completes an XX handshake from the client's `ClientFinish`.
pub(crate) fn finish_xx(pending: PendingXx, finish_frame: &[u8]) -> anyhow::Result<Established> {
    let PendingXx {
        mut noise,
        server_eph,
    } = pending;
    let msg = wa::HandshakeMessage::decode_from_slice(finish_frame).context("ClientFinish")?;
    let finish = msg
        .client_finish
        .into_option()
        .ok_or_else(|| anyhow!("handshake message has no ClientFinish"))?;
    let enc_static = finish.r#static.ok_or_else(|| anyhow!("no static"))?;
    let enc_payload = finish.payload.ok_or_else(|| anyhow!("no payload"))?;
    let client_static = noise.decrypt(&enc_static)?;
    noise.mix_shared_secret(server_eph.private_key.serialize(), &client_static)?;
    let payload = noise.decrypt(&enc_payload)?;
    let (client_write, client_read) = noise.finish()?;
    let payload = wa::ClientPayload::decode_from_slice(&payload).context("ClientPayload")?;
    Ok(Established {
        kind: HandshakeKind::Xx,
        payload,
        channel: SecureChannel::new(client_read, client_write),
    })
}

fn server_hello(
    ephemeral: Vec<u8>,
    r#static: Option<Vec<u8>>,
    payload: Vec<u8>,
) -> anyhow::Result<Vec<u8>> {
    let msg = wa::HandshakeMessage {
        server_hello: buffa::MessageField::some(wa::handshake_message::ServerHello {
            ephemeral: Some(ephemeral),
            r#static,
            payload: Some(payload),
            ..Default::default()
        }),
        ..Default::default()
    };
    frame(&msg.encode_to_vec())
}

/// The post-handshake transport: AES-GCM with one counter per direction.
pub(crate) struct SecureChannel {
    /// Encrypts server → client frames (the client's read key).
    write: NoiseCipher,
    /// Decrypts client → server frames (the client's write key).
    read: NoiseCipher,
    write_counter: u32,
    read_counter: u32,
}

impl SecureChannel {
    fn new(write: NoiseCipher, read: NoiseCipher) -> Self {
        Self {
            write,
            read,
            write_counter: 0,
            read_counter: 0,
        }
    }

    /// Decrypts one frame and decodes the binary node inside.
    pub(crate) fn open(&mut self, ciphertext: Vec<u8>) -> anyhow::Result<OwnedNodeRef> {
        let mut buf = ciphertext;
        self.read
            .decrypt_in_place_with_counter(self.read_counter, &mut buf)
            .map_err(|e| anyhow!("frame decrypt: {e}"))?;
        self.read_counter = self.read_counter.wrapping_add(1);
        let plain = whatsapp_rust::wacore_binary::util::unpack(&buf)?;
        Ok(OwnedNodeRef::new(plain.into_owned())?)
    }

    /// Encodes a node and returns the encrypted, length-prefixed frame.
    pub(crate) fn seal(&mut self, node: &Node) -> anyhow::Result<Vec<u8>> {
        let plain = whatsapp_rust::wacore_binary::marshal(node)?;
        let ct = self
            .write
            .encrypt_with_counter(self.write_counter, &plain)
            .map_err(|e| anyhow!("frame encrypt: {e}"))?;
        self.write_counter = self.write_counter.wrapping_add(1);
        frame(&ct)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_reader_strips_header_and_splits_frames() {
        let mut reader = FrameReader::default();
        let mut wire = WA_CONN_HEADER.to_vec();
        wire.extend(frame(b"hello").expect("small frame"));
        wire.extend(frame(b"").expect("empty frame"));
        wire.extend(frame(b"world").expect("small frame"));
        // Feed byte by byte: frames must only come out once complete.
        let mut out = Vec::new();
        for b in wire {
            reader.feed(&[b]);
            while let Some(f) = reader.next_frame().expect("valid stream") {
                out.push(f);
            }
        }
        assert_eq!(out, vec![b"hello".to_vec(), Vec::new(), b"world".to_vec()]);
    }

    #[test]
    fn frame_reader_skips_edge_routing_preamble() {
        let mut reader = FrameReader::default();
        let mut wire = b"ED\x00\x01\x00\x00\x02\xAA\xBB".to_vec();
        wire.extend_from_slice(&WA_CONN_HEADER);
        wire.extend(frame(b"x").expect("small frame"));
        reader.feed(&wire);
        assert_eq!(
            reader.next_frame().expect("valid stream"),
            Some(b"x".to_vec())
        );
    }

    #[test]
    fn frame_reader_rejects_foreign_protocol() {
        let mut reader = FrameReader::default();
        reader.feed(b"GET / HTTP/1.1\r\n");
        assert!(reader.next_frame().is_err());
    }

    /// The simulator relies on the client skipping the chain's signature
    /// check; this fails if `danger-skip-cert-chain-verify` is not enabled.
    #[test]
    fn zero_signed_chain_is_accepted() {
        let server = ServerIdentity::generate();
        let mut leaf = [0u8; 32];
        leaf.copy_from_slice(server.static_pub());
        let verified = whatsapp_rust::wacore::handshake::HandshakeUtils::verify_server_cert(
            &server.cert_chain,
            &leaf,
        )
        .expect("zero-signed chain accepted under the danger feature");
        assert_eq!(verified.leaf_key, leaf);
    }

    #[test]
    fn frame_prefixes_big_endian_length() {
        let framed = frame(&[7u8; 300]).expect("small frame");
        assert_eq!(&framed[..3], &[0, 1, 44]);
        assert_eq!(framed.len(), 303);
    }
}
