//! Media without a CDN: the `media_conn` answer names a host that only
//! [`SimHttpClient`] serves, from an in-memory blob store. Give the client
//! `Simulator::http_client()` and its uploads and downloads land here; any
//! other URL is refused, so nothing leaves the machine. Contacts send and
//! download media through the same store.

use crate::contact::Contact;
use crate::messages::{message_node, seal_to_companion};
use crate::nodes::{self, iq_result};
use crate::state::{ReceivedMessage, Shared};
use anyhow::{anyhow, bail};
use std::sync::Arc;
use whatsapp_rust::http::{HttpClient, HttpRequest, HttpResponse};
use whatsapp_rust::wacore::download::{DownloadUtils, MediaType};
use whatsapp_rust::wacore::upload::encrypt_media;
use whatsapp_rust::wacore_binary::Node;
use whatsapp_rust::wacore_binary::builder::NodeBuilder;
use whatsapp_rust::waproto::buffa::MessageField;
use whatsapp_rust::waproto::whatsapp as wa;

/// The `auth` token handed out in `media_conn`.
const MEDIA_AUTH: &str = "sim-media-auth";

/// `<media_conn>` naming the simulator's media host.
pub(crate) fn media_conn(shared: &Shared, id: &str) -> Node {
    iq_result(
        id,
        vec![
            NodeBuilder::new("media_conn")
                .attr("auth", MEDIA_AUTH)
                .attr("ttl", "3600")
                .attr("auth_ttl", "3600")
                .attr("max_buckets", "12")
                .children([NodeBuilder::new("host")
                    .attr("hostname", shared.media_host.clone())
                    .build()])
                .build(),
        ],
    )
}

/// An `HttpClient` for the real client that serves the simulator's media
/// host from memory and refuses every other URL.
pub struct SimHttpClient {
    pub(crate) shared: Arc<Shared>,
}

#[whatsapp_rust::async_trait]
impl HttpClient for SimHttpClient {
    async fn execute(&self, request: HttpRequest) -> anyhow::Result<HttpResponse> {
        let prefix = format!("https://{}", self.shared.media_host);
        let Some(rest) = request.url.strip_prefix(&prefix) else {
            bail!("no network in the simulator (refused {})", request.url);
        };
        let body = request.body.map(|b| b.to_vec()).unwrap_or_default();
        Ok(serve(&self.shared, request.method.as_str(), rest, body))
    }
}

/// Answers one media-host request (`path_and_query` starts with `/`):
/// `POST /mms/…` stores an upload and returns its URL and direct path,
/// `GET <direct path>` returns the stored blob. Shared by [`SimHttpClient`]
/// and the loopback HTTP server ([`crate::media_http`]).
pub(crate) fn serve(
    shared: &Shared,
    method: &str,
    path_and_query: &str,
    body: Vec<u8>,
) -> HttpResponse {
    let prefix = format!("https://{}", shared.media_host);
    let (path, query) = path_and_query
        .split_once('?')
        .unwrap_or((path_and_query, ""));
    match method {
        "POST" if query.split('&').any(|p| p == "resume=1") => not_found(),
        "POST" if path.starts_with("/mms/") => {
            let direct_path = store_blob(shared, body);
            let json =
                format!(r#"{{"url":"{prefix}{direct_path}","direct_path":"{direct_path}"}}"#);
            HttpResponse {
                status_code: 200,
                body: json.into_bytes(),
            }
        }
        "GET" => match shared.lock().blobs.get(path) {
            Some(blob) => HttpResponse {
                status_code: 200,
                body: blob.clone(),
            },
            None => not_found(),
        },
        _ => not_found(),
    }
}

fn not_found() -> HttpResponse {
    HttpResponse {
        status_code: 404,
        body: Vec::new(),
    }
}

/// Stores an encrypted blob and returns its direct path.
fn store_blob(shared: &Shared, blob: Vec<u8>) -> String {
    let direct_path = format!("/v/t62.sim/{}", nodes::new_id());
    shared.lock().blobs.insert(direct_path.clone(), blob);
    shared.bump();
    direct_path
}

impl Contact {
    /// Sends the account an image (encrypted and stored like a real upload).
    /// Returns the message id.
    pub async fn send_image(
        &self,
        to_account_jid: &str,
        bytes: &[u8],
        mimetype: &str,
        caption: Option<&str>,
    ) -> anyhow::Result<String> {
        let enc = encrypt_media(bytes, MediaType::Image)?;
        let direct_path = store_blob(&self.shared, enc.data_to_upload);
        let message = wa::Message {
            image_message: MessageField::some(wa::message::ImageMessage {
                url: Some(format!("https://{}{direct_path}", self.shared.media_host)),
                direct_path: Some(direct_path),
                media_key: Some(enc.media_key.to_vec()),
                file_sha256: Some(enc.file_sha256.to_vec()),
                file_enc_sha256: Some(enc.file_enc_sha256.to_vec()),
                file_length: Some(bytes.len() as u64),
                mimetype: Some(mimetype.to_string()),
                caption: caption.map(str::to_string),
                ..Default::default()
            }),
            ..Default::default()
        };
        self.send_message(to_account_jid, &message, "media").await
    }

    /// Downloads and decrypts the media of a message the client sent this
    /// contact (image, video, audio, document or sticker).
    pub async fn download_media(&self, received: &ReceivedMessage) -> anyhow::Result<Vec<u8>> {
        let m = &received.message;
        let (direct_path, media_key, media_type) = if let Some(i) = m.image_message.as_option() {
            (&i.direct_path, &i.media_key, MediaType::Image)
        } else if let Some(v) = m.video_message.as_option() {
            (&v.direct_path, &v.media_key, MediaType::Video)
        } else if let Some(a) = m.audio_message.as_option() {
            (&a.direct_path, &a.media_key, MediaType::Audio)
        } else if let Some(d) = m.document_message.as_option() {
            (&d.direct_path, &d.media_key, MediaType::Document)
        } else if let Some(s) = m.sticker_message.as_option() {
            (&s.direct_path, &s.media_key, MediaType::Sticker)
        } else {
            bail!("message {} carries no media", received.id);
        };
        let path = direct_path
            .as_deref()
            .ok_or_else(|| anyhow!("no direct_path"))?;
        let key = media_key
            .as_deref()
            .ok_or_else(|| anyhow!("no media_key"))?;
        let blob = self
            .shared
            .lock()
            .blobs
            .get(path.split('?').next().unwrap_or(path))
            .cloned()
            .ok_or_else(|| anyhow!("no uploaded blob at {path}"))?;
        DownloadUtils::verify_and_decrypt(&blob, key, media_type).map_err(|e| anyhow!("{e}"))
    }
}

/// Encrypts `message` from `contact` for every companion of the account and
/// delivers it as a stanza of type `kind`.
pub(crate) async fn send_from_contact(
    contact: &Contact,
    to_account_jid: &str,
    message: &wa::Message,
    kind: &str,
) -> anyhow::Result<String> {
    let devices = contact.target_devices(to_account_jid)?;
    let id = nodes::new_id();
    for device in devices {
        let sealed =
            seal_to_companion(&contact.shared, &contact.state.party, &device, message).await?;
        let node = message_node(
            &contact.jid(),
            &id,
            kind,
            sealed,
            &[("notify", format!("Contact {}", contact.state.user))],
        );
        contact.shared.deliver(&device, node);
    }
    Ok(id)
}
