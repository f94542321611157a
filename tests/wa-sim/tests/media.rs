//! Media through the simulator's in-memory CDN: the client's upload reaches
//! the contact intact, and a contact's image downloads in the client.

mod common;

use common::{STEP, init_logs, paired_client};
use wa_sim::Simulator;
use whatsapp_rust::Jid;
use whatsapp_rust::http::{HttpClient, HttpRequest};
use whatsapp_rust::media::{ImageOptions, image_message};
use whatsapp_rust::types::events::Event;
use whatsapp_rust::upload::UploadOptions;
use whatsapp_rust::wacore::download::MediaType;

const CONTACT: &str = "15559870000";

/// Bytes that are not all the same, so a wrong offset or key shows.
fn picture() -> Vec<u8> {
    (0..5000u32).map(|i| (i * 7 % 251) as u8).collect()
}

#[tokio::test]
async fn client_image_reaches_contact_intact() {
    init_logs();
    let sim = Simulator::start().await.expect("simulator starts");
    let contact = sim.contact(CONTACT);
    let (client, _backend, _device) = paired_client(&sim).await;

    let upload = client
        .client
        .upload(picture(), MediaType::Image, UploadOptions::default())
        .await
        .expect("upload succeeds");
    let message = image_message(
        upload,
        ImageOptions {
            caption: Some("a picture".to_string()),
            mimetype: Some("image/png".to_string()),
            ..Default::default()
        },
    );
    let to: Jid = contact.jid().parse().expect("valid JID");
    let sent = client
        .client
        .send_message(to, message)
        .await
        .expect("send succeeds");

    let got = contact.wait_for_text(STEP).await.expect("contact gets it");
    assert_eq!(got.id, sent.message_id);
    assert_eq!(got.kind, "media");
    let image = got.message.image_message.as_option().expect("an image");
    assert_eq!(image.caption.as_deref(), Some("a picture"));
    assert_eq!(
        contact
            .download_media(&got)
            .await
            .expect("contact downloads"),
        picture()
    );
    client.stop().await;
}

#[tokio::test]
async fn contact_image_downloads_in_client() {
    init_logs();
    let sim = Simulator::start().await.expect("simulator starts");
    let contact = sim.contact(CONTACT);
    let (mut client, _backend, _device) = paired_client(&sim).await;

    let id = contact
        .send_image(&sim.phone().jid(), &picture(), "image/png", Some("look"))
        .await
        .expect("contact sends an image");
    let image = client
        .wait_for("image Messages", STEP, |e| match e {
            Event::Messages(batch) => batch
                .iter()
                .find(|m| m.info.id == id)
                .and_then(|m| m.message.image_message.as_option().cloned()),
            _ => None,
        })
        .await;
    assert_eq!(image.caption.as_deref(), Some("look"));
    let bytes = client
        .client
        .download(&image)
        .await
        .expect("client downloads");
    assert_eq!(bytes, picture());
    client.stop().await;
}

/// The simulator's HTTP client refuses anything but its own media host.
#[tokio::test]
async fn http_client_refuses_other_hosts() {
    let sim = Simulator::start().await.expect("simulator starts");
    let http = sim.http_client();
    let refused = http
        .execute(HttpRequest::get("https://web.whatsapp.com/check-update"))
        .await;
    assert!(refused.is_err());
}
